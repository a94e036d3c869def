// InvertedIndex: Aisle's lexical retrieval — fielded BM25F with a popularity prior over
// compressed, block-max postings, top-k by block-max WAND, filters, facets, typo tolerance.
//
// Scoring (documented in docs/formats.md, "Lexical scoring"). For query terms t with query
// frequency qtf(t) and document d:
//   tf~(t,d)   = sum over fields f of  w_f * tf_f(t,d) / (1 - b_f + b_f * len_f(d) / avglen_f)
//   x(t,d)     = tf~ / (k1 + tf~)                     BM25F saturation (Robertson & Zaragoza 2009)
//   idf(t)     = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))   (Lucene's BM25 idf; never negative)
//   score(q,d) = sum_t qtf(t) * e(t) * idf(t) * Q(x(t,d))  +  prior(d)
//   prior(d)   = w_pop * pop(d) / (pop(d) + k_pop)    saturating query-independent evidence
//                                                     (Craswell et al., SIGIR 2005)
// Q() quantizes x to 8 bits (q/255, as PISA's quantized indexes): an impact is stored per
// posting and block maxima are exact. e(t) is 1 for a query term and a discount for a typo
// expansion. N and df count documents in all segments, deleted ones included until compaction
// (as Lucene). avglen_f is the collection's average when a segment is written: a segment's
// impacts do not change afterwards; rebuild() recomputes everything.
//
// Structure: a list of immutable segments (global document numbers in ascending ranges) plus a
// document table (product ids, filter columns, live flags). upsert() writes a new segment and
// marks replaced documents deleted, so changes are visible to the next search without a full
// rebuild; when there are more than max_segments segments they are merged. commit() persists
// new segments and the table crash-safely; open() maps segments read-only with mmap.
//
// Thread safety: search() may run concurrently from many threads; upsert(), remove(),
// compact(), rebuild() and commit() take an exclusive lock and wait for running searches.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/text/analyzer.h"
#include "aisle/text/document.h"
#include "aisle/text/synonyms.h"

namespace aisle::text {

struct Bm25fParams {
  // k1 = 1.2, b = 0.75: the defaults of Robertson & Zaragoza, "The Probabilistic Relevance
  // Framework: BM25 and Beyond" (2009). Short fields (brand, color) get a small b: their
  // length says little (Zaragoza et al., "Microsoft Cambridge at TREC-13", 2004, tune b per
  // field). Field weights favour the fields a shopper names: title, brand, color, category.
  float k1 = 1.2f;
  // title, brand, color, category, description, bullets, attributes
  std::array<float, kNumFields> weights = {3.0f, 2.0f, 1.5f, 1.5f, 0.5f, 0.8f, 1.0f};
  std::array<float, kNumFields> b = {0.75f, 0.3f, 0.3f, 0.5f, 0.75f, 0.75f, 0.6f};
  // Popularity prior: at most popularity_weight; half of it at pop = popularity_k.
  // 0 disables the prior.
  float popularity_weight = 0.5f;
  float popularity_k = 100.0f;
};

struct TypoOptions {
  bool enabled = true;
  // A query term is expanded when it occurs in at most this many documents (0: unknown only).
  std::int64_t rare_df = 0;
  // Edits allowed by term length in bytes: none below 3, one from 3, two from 8 (stricter than
  // Elasticsearch's AUTO:3,6: at 6-7 bytes two edits reach too many unrelated words; on the
  // bundled sample "campaña" (tent) -> "tamaño" (size) returned coffee filters). Only ASCII
  // terms are expanded (the analyzer folds Latin-script accents, so this covers Latin-script
  // languages).
  int one_edit_min_length = 3;
  int two_edits_min_length = 8;
  int max_expansions = 3;      // per query term, the most frequent candidates first
  float one_edit_weight = 0.8f;  // e(t) of an expansion at one edit
  float two_edits_weight = 0.6f;
};

struct IndexOptions {
  Bm25fParams bm25f;
  AnalyzerOptions analyzer;
  // More segments than this after an upsert: they are merged into one.
  int max_segments = 8;
};

// The options a data directory's settings ask for: the defaults with the file's field weights
// and stop-word lists ("_default_" in a list stands for the built-in words).
IndexOptions index_options(const DataConfig& config);
// What differs between the index-time settings an index was built with and `wanted`, as
// "fields.title: 3 in the index, 2 in the settings"; empty when nothing does.
std::vector<std::string> index_settings_changes(const IndexOptions& built, const IndexOptions& wanted);

// A range over a numeric attribute (an attribute whose value is a number, e.g. "size": "9").
struct AttributeRange {
  std::string name;            // the attribute's name, compared after normalization
  std::optional<double> min;   // inclusive
  std::optional<double> max;   // inclusive
};

// The number an attribute value holds ("9", " 12.5 ", "-3"), if the whole value is one finite
// number; units and text ("9 mm", "large") are not numbers.
std::optional<float> numeric_value(std::string_view value);

// Filters: a document passes when it passes every non-empty one.
struct Filter {
  std::vector<std::string> locales;     // any of these locale codes
  std::vector<std::string> brands;      // any of these (compared after normalization)
  std::vector<std::string> colors;      // any of these
  std::vector<std::string> categories;  // paths "A > B": the category or any below it
  std::optional<double> min_price;      // inclusive; documents without a price fail
  std::optional<double> max_price;      // inclusive
  // Every range must hold; documents without the attribute (or with a value that is not a
  // number) fail.
  std::vector<AttributeRange> attributes;
  // Attribute values (name -> any of these values, compared without case): the index does not
  // hold them, so it does not apply them; the search pipeline checks them on the stored
  // listings of its result set (rank::passes), as their facets are counted.
  std::map<std::string, std::vector<std::string>> attribute_values;
  bool empty() const;  // of what the index applies (attribute_values aside)
};

enum class TopKAlgorithm {
  kBlockMaxWand,  // Ding & Suel, "Faster top-k document retrieval using block-max indexes", SIGIR 2011
  kExhaustive,    // scores every matching document; the exact twin
};

// An extra scoring term: documents containing `term` (an analyzed term, in any field) get
// `weight` * idf * impact added, as a query term would. The structured strategy boosts slots.
struct TermBoost {
  std::string term;
  float weight = 1.0f;
};

struct SearchOptions {
  std::string locale = "en";  // the query's language: chooses the analyzer
  int k = 10;
  Filter filter;
  TopKAlgorithm algorithm = TopKAlgorithm::kBlockMaxWand;
  TypoOptions typo;
  bool facets = false;  // count brand, color, category, locale and price facets over all matches
  int max_facet_values = 20;
  std::vector<TermBoost> boosts;
  // The query is already analyzed: whitespace-separated terms, used as they are.
  bool analyzed_query = false;
  // Synonym rules (the data directory's settings); null: none. A query word with a synonym
  // the catalog has is not typo-corrected.
  const Synonyms* synonyms = nullptr;
};

// A term the query was evaluated with.
struct QueryTerm {
  std::string term;
  float weight = 0.0f;  // qtf * e(t)
  float idf = 0.0f;
  std::int64_t df = 0;
  std::string expanded_from;  // the misspelled query term this expansion replaces, or empty
  int edits = 0;
  std::string synonym_of;  // the query's phrase (terms joined by spaces) this synonym stands for
  // The synonym phrase the term belongs to (terms joined by spaces): it stands for synonym_of
  // where all of that phrase's terms match.
  std::string synonym_phrase;
};

// The query words (analyzed terms) a term stands for: the misspelled word it corrects, the
// words of the phrase it is a synonym of, or itself.
std::vector<std::string> query_words(const QueryTerm& term);
// The words of a document a term stands for, given the terms the document contains: as
// query_words(), except that a synonym counts only when every term of its synonym_phrase is
// among `present` ("sneakers => running shoes": a running sock is no sneaker).
std::vector<std::string> matched_query_words(const QueryTerm& term, std::span<const std::string> present);

struct Hit {
  ProductId product;
  std::string external_id;
  std::string locale;
  Score score = 0.0f;
  Score prior = 0.0f;  // the popularity part of score
};

struct FacetValue {
  std::string value;
  std::int64_t count = 0;
  bool operator==(const FacetValue&) const = default;
};

struct SearchResult {
  std::vector<Hit> hits;  // best first; ties by insertion order
  std::vector<QueryTerm> terms;
  // Documents matching any term and the filter; counted when facets were asked for or the
  // algorithm is exhaustive, else -1.
  std::int64_t matched = -1;
  // "brand", "color", "category" (every level of the path), "locale", "price"; most frequent
  // first.
  std::map<std::string, std::vector<FacetValue>> facets;
  std::int64_t documents_scored = 0;  // work done: documents fully scored
};

// The per-field anatomy of one document's score for one term (explain).
struct TermExplanation {
  std::string term;
  float idf = 0.0f;
  float weight = 0.0f;
  std::array<int, kNumFields> tf{};                   // occurrences per field
  std::array<float, kNumFields> field_contribution{};  // w_f * tf_f / norm_f: tf~'s parts
  float tf_tilde = 0.0f;
  float score = 0.0f;  // weight * idf * x, unquantized
};

// explain() plus what ranking features need (rank::FeatureExtractor).
struct DocumentMatch {
  std::vector<TermExplanation> terms;      // parallel to the query terms given
  std::array<int, kNumFields> length{};    // analyzed terms per field
  // Per field, for each analyzed term in order: the index of the query term it equals, or -1.
  std::array<std::vector<std::int16_t>, kNumFields> sequence;
};

struct IndexStats {
  std::int64_t documents = 0;  // live
  std::int64_t deleted = 0;    // awaiting compaction
  std::int64_t segments = 0;
  std::int64_t terms = 0;      // distinct, over all segments
  std::int64_t postings = 0;
  std::int64_t postings_bytes = 0;  // compressed postings and block headers
  std::int64_t total_bytes = 0;     // segments + document table
  std::array<double, kNumFields> average_field_length{};
};

class InvertedIndex {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  // An empty in-memory index.
  static std::unique_ptr<InvertedIndex> create(IndexOptions options = {});
  // Loads the index committed in `dir` (segments mapped with mmap). kNotFound when there is
  // none; kCorruption naming the file when a file is damaged or of another version.
  static Result<std::unique_ptr<InvertedIndex>> open(const std::filesystem::path& dir,
                                                     IndexOptions options = {});
  ~InvertedIndex();
  InvertedIndex(const InvertedIndex&) = delete;
  InvertedIndex& operator=(const InvertedIndex&) = delete;

  // Adds documents, replacing those with the same product id (the old version is deleted).
  // Visible to the next search. kBadInput names the product of a document with an unknown
  // locale or a duplicate product id in the batch; the index is then unchanged.
  // Cost: analysis and one new segment for the batch.
  Status upsert(std::span<const Document> documents, const Context& context);
  // Deletes documents by product id; unknown ids are ignored. Returns how many were deleted.
  std::int64_t remove(std::span<const ProductId> products);
  // Merges all segments into one, dropping deleted documents. Impacts are kept.
  void compact();
  // Replaces the whole index with `documents`, recomputing every statistic.
  Status rebuild(std::span<const Document> documents, const Context& context);

  // Writes what changed since the last commit to `dir` (created if missing): new segment
  // files, the document table and last a MANIFEST, each fsynced and renamed into place. A
  // crash at any point leaves the previous commit readable. Unreferenced files are removed.
  Status commit(const std::filesystem::path& dir);

  // Top-k documents for a free-text query. kBadInput for an unknown locale or k < 1.
  Result<SearchResult> search(std::string_view query, const SearchOptions& options) const;

  // The per-field breakdown of `document`'s score for `terms` (from a SearchResult),
  // recomputed from its text with this index's statistics.
  std::vector<TermExplanation> explain(const Document& document,
                                       std::span<const QueryTerm> terms) const;

  // explain()'s analysis with field lengths and where the query terms occur; the document
  // is analyzed with its locale's analyzer (empty for an unknown locale). Thread-safe.
  DocumentMatch match(const Document& document, std::span<const QueryTerm> terms) const;

  // Facet counts (as SearchResult::facets) over the live documents of `products` (a result
  // set); unknown products are not counted.
  std::map<std::string, std::vector<FacetValue>> facets(std::span<const ProductId> products, int max_values = 20) const;
  // The names (normalized) of the attributes that some document holds a number for: what
  // Filter::attributes can range over.
  std::vector<std::string> numeric_attributes() const;
  // Whether some document holds a number for attribute `name` (normalized as the index does).
  bool has_numeric_attribute(const std::string& name) const;

  // The words of `text` as byte ranges with the terms each gives (segmented and analyzed as
  // `locale`'s analyzer does, one word at a time; Analyzer::word_spans). Empty for an unknown
  // locale. Thread-safe.
  struct Word {
    std::size_t begin = 0, end = 0;
    std::vector<std::string> terms;
  };
  std::vector<Word> analyze_words(std::string_view text, std::string_view locale) const;
  // The words of `text` (segmented and analyzed as `locale`'s analyzer does, one word at a
  // time) whose terms include one of `terms` (a SearchResult's: typo corrections included),
  // as byte ranges of `text`, in order. Empty for an unknown locale. Thread-safe.
  std::vector<std::pair<std::size_t, std::size_t>> highlight(std::string_view text, std::string_view locale,
                                                             std::span<const QueryTerm> terms) const;

  // Text normalized as dictionary keys are (Analyzer::normalize: NFKC case fold, accents
  // folded, spaces collapsed). Thread-safe.
  std::string normalize(std::string_view text) const;
  // A category path ("Shoes > Running", or its parts) as the index keys it: each part
  // normalized, joined by " > ". What a category filter is compared on. Thread-safe.
  std::string category_key(std::string_view path) const;

  // Whether a live document has this product id.
  bool contains(ProductId product) const;
  // The Document::version of the live document of `product`, or nullopt.
  std::optional<std::uint64_t> version(ProductId product) const;
  // The product ids of all live documents, ascending.
  std::vector<ProductId> products() const;
  IndexStats stats() const;
  const IndexOptions& options() const;

 private:
  class Impl;
  explicit InvertedIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::text
