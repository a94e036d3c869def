// Ranking features: one row of numbers per (query, candidate), computed once per candidate
// and in batch for a query's whole candidate set.
//
// The schema (feature names in order, and a version) is saved with every ranker model; a model
// refuses to score rows of another schema (Ranker::check_schema). Features that have no value
// for a candidate are NaN ("missing"), which the ranker's trees route explicitly: a product
// no vector strategy found has no vector rank; a query without query-understanding slots has no
// brand agreement; the memory index and the ESCI classifier's probabilities are missing until
// those components exist and fill Candidate::memory_score / Candidate::esci.
//
// The lexical features recompute BM25F per field from the candidate's text with the index's
// statistics (text::InvertedIndex::match): per-field scores use each field's saturated share
// w_f tf_f / norm_f alone, the total is the index's BM25F without the popularity prior and
// without quantization.
//
// Feature groups (docs/formats.md, "Ranking features", lists every name):
//  - lexical: bm25f, bm25_<field> x 7, coverage_<field> x 7, coverage_any, coverage_idf,
//    phrase_title, bigrams_title, phrase_description, first_match_title, last_term_title,
//    char3_title_containment, char3_title_dice (character trigrams shared by query and title),
//    char3_word_min (the query word whose trigrams the title holds least of), uncovered_idf_max
//    (the idf of the rarest query term the product lacks), title_precision (the share of the
//    title's terms that are query terms), last_match_title (where the title's last query term
//    stands, as a fraction of its length)
//  - query: query_terms, query_chars, query_has_number, query_mean_idf, qu_slots
//  - product: title_terms, description_terms, log_popularity, log_price
//  - agreement with query understanding: qu_brand, qu_color, qu_category (+1 the candidate has
//    the slot's value, -1 it has another value, 0 it has none; missing without the slot)
//  - retrieval: found_lexical, found_structured, rank_lexical, rank_structured, lexical_score
//  - learned text (left out by FeatureOptions::learned_text = false, the ablation):
//    vector_cosine, found_vector, rank_vector, esci_exact, esci_substitute, esci_complement,
//    esci_irrelevant
//  - engagement: memory_score (the query's engagement with the product, from the memory
//    index), product_queries (log(1 + how many other queries engaged with or judged the
//    product), product_grade (their mean grade, scaled to 0..1)
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aisle/core/status.h"
#include "aisle/retrieve/query_understanding.h"
#include "aisle/text/inverted_index.h"

namespace aisle::rank {

struct FeatureSchema {
  static constexpr int kVersion = 3;  // 2: char3_title_containment, char3_title_dice, last_term_title;
                                      // 3: uncovered_idf_max, title_precision, last_match_title, char3_word_min
  int version = kVersion;
  std::vector<std::string> names;

  std::size_t size() const { return names.size(); }
  bool operator==(const FeatureSchema&) const = default;
  nlohmann::json to_json() const;
  // kCorruption when the JSON is not a schema.
  static Result<FeatureSchema> from_json(const nlohmann::json& json);
};

struct FeatureOptions {
  // Vector cosine, vector rank and the ESCI probabilities: the features learned from text by a
  // trained model. false gives the ablation's schema.
  bool learned_text = true;
  // memory_score, product_queries, product_grade: what shoppers (or judges) did with the
  // product for other queries. false gives the second ablation's schema.
  bool engagement = true;
};

// The query, analyzed once for all its candidates.
struct QueryContext {
  std::string text;
  std::string locale;
  // The terms the lexical strategy evaluated (text::SearchResult::terms), with idf; typo
  // expansions count as matches of the term they replace.
  std::vector<text::QueryTerm> terms;
  // Query understanding's best interpretation, when there is one.
  std::optional<retrieve::Interpretation> interpretation;
  // The query's vector (unit length) when an encoder exists; empty otherwise.
  std::vector<float> vector;
};

// Which strategies found the candidate, at what rank (1-based, 0 = not found) and score.
struct Provenance {
  std::uint32_t found_by = 0;  // retrieve::StrategyBit
  int lexical_rank = 0, structured_rank = 0, vector_rank = 0;
  float lexical_score = 0;  // the index's score (with the prior) when found lexically
};

struct Candidate {
  const text::Document* document = nullptr;  // required
  Provenance provenance;
  // The product's vector (unit length), for the cosine with QueryContext::vector; empty when
  // unknown.
  std::span<const float> vector;
  std::optional<float> memory_score;
  // The product's record with other queries (never the current one: for a training row that
  // would leak its own label): how many engaged with or judged it, and their mean grade 0..1.
  std::optional<float> product_queries;
  std::optional<float> product_grade;
  std::optional<std::array<float, 4>> esci;  // P(E), P(S), P(C), P(I)
};

class FeatureExtractor {
 public:
  // `index` supplies the analyzers and the BM25F statistics; it must outlive the extractor.
  FeatureExtractor(const text::InvertedIndex& index, FeatureOptions options = {});

  const FeatureSchema& schema() const { return schema_; }

  // Appends one row of schema().size() values per candidate to `rows` (row-major).
  // kBadInput when a candidate has no document or its vector's length differs from the
  // query's. Thread-safe.
  Status extract(const QueryContext& query, std::span<const Candidate> candidates, std::vector<float>* rows) const;

 private:
  const text::InvertedIndex& index_;
  FeatureOptions options_;
  FeatureSchema schema_;
  std::vector<int> columns_;  // the features kept, as indexes into the full list
};

// The schema extract() writes for these options.
FeatureSchema feature_schema(const FeatureOptions& options);

}  // namespace aisle::rank
