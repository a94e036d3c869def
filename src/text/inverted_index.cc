#include "aisle/text/inverted_index.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aisle/core/check.h"
#include "aisle/core/config.h"
#include "aisle/core/locale.h"
#include "aisle/text/term_dictionary.h"
#include "doc_table.h"
#include "file_util.h"
#include "segment.h"
#include "stop_words.h"

namespace aisle::text {
namespace {

constexpr const char* kManifest = "MANIFEST";
constexpr const char* kManifestFormat = "aisle-index";
constexpr float kNegativeInfinity = -std::numeric_limits<float>::infinity();

// Upper bounds are sums of floats in another order than the scores they bound; the slack
// keeps rounding from pruning a document whose score equals its bound.
bool may_beat(float bound, float threshold) { return bound * 1.0001f + 1e-6f >= threshold; }

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Analyzers are not thread-safe; searches lease one per locale from this pool.
class AnalyzerPool {
 public:
  explicit AnalyzerPool(AnalyzerOptions options) : options_(std::move(options)) {}

  class Lease {
   public:
    Lease(AnalyzerPool* pool, std::unique_ptr<Analyzer> analyzer) : pool_(pool), analyzer_(std::move(analyzer)) {}
    Lease(Lease&&) = default;
    ~Lease() {
      if (analyzer_ == nullptr) return;
      std::lock_guard lock(pool_->mutex_);
      pool_->free_[analyzer_->locale()].push_back(std::move(analyzer_));
    }
    Analyzer* operator->() const { return analyzer_.get(); }
    Analyzer& operator*() const { return *analyzer_; }

   private:
    AnalyzerPool* pool_;
    std::unique_ptr<Analyzer> analyzer_;
  };

  Result<Lease> lease(std::string_view locale_code) {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(locale_code));
    {
      std::lock_guard lock(mutex_);
      auto& free = free_[locale.code()];
      if (!free.empty()) {
        std::unique_ptr<Analyzer> analyzer = std::move(free.back());
        free.pop_back();
        return Lease(this, std::move(analyzer));
      }
    }
    AISLE_ASSIGN_OR_RETURN(std::unique_ptr<Analyzer> analyzer, Analyzer::create(locale.code(), options_));
    return Lease(this, std::move(analyzer));
  }

 private:
  AnalyzerOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Analyzer>>> free_;
};

struct SegmentRef {
  std::unique_ptr<Segment> segment;
  std::uint32_t base = 0;  // global number of the segment's document 0
  std::string file;        // empty until committed
};

// A query term ready for evaluation: its score per impact value, in query-term order.
struct ScoringTerm {
  std::size_t term_index = 0;
  std::array<float, 256> score_of_impact{};
};

struct Candidate {
  float score;
  std::uint32_t doc;
};

// Keeps the k best (score desc, then doc asc). Documents arrive in increasing doc order, so
// a later document enters only with a strictly higher score than the current k-th.
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) {}
  float threshold() const { return heap_.size() < k_ ? kNegativeInfinity : heap_.front().score; }
  void offer(float score, std::uint32_t doc) {
    if (heap_.size() < k_) {
      heap_.push_back({score, doc});
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (score > heap_.front().score) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = {score, doc};
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }
  std::vector<Candidate> sorted() && {
    std::sort(heap_.begin(), heap_.end(), [](const Candidate& a, const Candidate& b) {
      return a.score != b.score ? a.score > b.score : a.doc < b.doc;
    });
    return std::move(heap_);
  }

 private:
  // std heaps keep the greatest element in front; "greater" here means worse (lower score,
  // then higher doc), so the front is the worst kept candidate.
  static bool worse_first(const Candidate& a, const Candidate& b) {
    return a.score != b.score ? a.score > b.score : a.doc < b.doc;
  }
  std::size_t k_;
  std::vector<Candidate> heap_;
};

}  // namespace

bool Filter::empty() const {
  return locales.empty() && brands.empty() && colors.empty() && categories.empty() && !min_price && !max_price &&
         attributes.empty();
}

class InvertedIndex::Impl {
 public:
  explicit Impl(IndexOptions index_options)
      : options(std::move(index_options)), analyzers(options.analyzer) {}

  IndexOptions options;
  mutable std::shared_mutex mutex;
  std::vector<SegmentRef> segments;
  DocTable docs;
  // Running sums for the average field lengths of BM25F.
  std::array<double, kNumFields> field_length_sum{};
  double documents_added = 0;
  std::int64_t next_file_number = 1;
  mutable AnalyzerPool analyzers;
  mutable std::mutex dictionary_mutex;
  mutable std::shared_ptr<const TermDictionary> dictionary;

  std::array<double, kNumFields> average_lengths() const {
    std::array<double, kNumFields> average{};
    for (int f = 0; f < kNumFields; ++f) {
      average[f] = documents_added > 0 ? field_length_sum[f] / documents_added : 0.0;
      if (average[f] <= 0) average[f] = 1.0;
    }
    return average;
  }

  std::string normalize(std::string_view text) const {
    auto lease = analyzers.lease("en");
    AISLE_CHECK(lease.is_ok(), "the English analyzer must always be available");
    return (*lease)->normalize(text);
  }

  // "Shoes > Running" / "shoes>running" -> "shoes > running".
  std::string category_key(std::string_view path) const {
    std::string key;
    std::size_t start = 0;
    while (start <= path.size()) {
      std::size_t end = path.find('>', start);
      if (end == std::string_view::npos) end = path.size();
      std::string part = normalize(path.substr(start, end - start));
      if (!part.empty()) {
        if (!key.empty()) key += " > ";
        key += part;
      }
      start = end + 1;
    }
    return key;
  }

  float prior_of(const Document& document) const {
    const Bm25fParams& p = options.bm25f;
    double popularity = document.popularity.value_or(0.0);
    if (p.popularity_weight <= 0 || popularity <= 0) return 0.0f;
    return static_cast<float>(p.popularity_weight * popularity / (popularity + p.popularity_k));
  }

  // x = tf~ / (k1 + tf~) quantized to 1..255.
  std::uint8_t impact(const std::array<int, kNumFields>& tf, const std::array<std::uint16_t, kNumFields>& lengths,
                      const std::array<double, kNumFields>& average) const {
    const Bm25fParams& p = options.bm25f;
    double tf_tilde = 0;
    for (int f = 0; f < kNumFields; ++f) {
      if (tf[f] == 0) continue;
      double norm = 1.0 - p.b[f] + p.b[f] * lengths[f] / average[f];
      tf_tilde += p.weights[f] * tf[f] / norm;
    }
    double x = tf_tilde / (p.k1 + tf_tilde);
    long quantized = std::lround(x * 255.0);
    return static_cast<std::uint8_t>(std::clamp(quantized, 1L, 255L));
  }

  static void field_texts(const Document& document, std::array<std::string, kNumFields>* texts) {
    (*texts)[static_cast<int>(Field::kTitle)] = document.title;
    (*texts)[static_cast<int>(Field::kBrand)] = document.brand;
    (*texts)[static_cast<int>(Field::kColor)] = document.color;
    std::string joined;
    for (const std::string& part : document.category) (joined += part) += '\n';
    (*texts)[static_cast<int>(Field::kCategory)] = joined;
    (*texts)[static_cast<int>(Field::kDescription)] = document.description;
    joined.clear();
    for (const std::string& bullet : document.bullets) (joined += bullet) += '\n';
    (*texts)[static_cast<int>(Field::kBullets)] = joined;
    joined.clear();
    for (const auto& [name, value] : document.attributes) {
      joined += name;
      joined += ' ';
      joined += value;
      joined += '\n';
    }
    (*texts)[static_cast<int>(Field::kAttributes)] = joined;
  }

  Status add_batch(std::span<const Document> batch) {
    if (batch.empty()) return Status::ok();
    {
      std::unordered_set<std::uint32_t> seen;
      for (const Document& document : batch) {
        if (!document.product.valid()) {
          return Status::bad_input("document " + document.external_id + " has no product id");
        }
        if (!seen.insert(document.product.value()).second) {
          return Status::bad_input("product " + std::to_string(document.product.value()) + " (" +
                                   document.external_id + ") appears twice in one batch");
        }
      }
    }
    // Pass 1: analysis. occurrences[...] = term id * 8 + field, per document in a range.
    SegmentBuilder builder;
    std::vector<std::uint32_t> occurrences;
    std::vector<std::size_t> starts;
    std::vector<std::array<std::uint16_t, kNumFields>> lengths(batch.size());
    starts.reserve(batch.size() + 1);
    std::array<std::string, kNumFields> texts;
    std::vector<Token> tokens;
    std::string lease_locale;
    std::optional<AnalyzerPool::Lease> lease;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Document& document = batch[i];
      if (!lease || lease_locale != document.locale) {
        lease.reset();
        auto leased = analyzers.lease(document.locale);
        if (!leased.is_ok()) {
          return Status::bad_input("product " + document.external_id + ": " + leased.status().message(),
                                   Where("", 0, "locale"));
        }
        lease.emplace(std::move(*leased));
        lease_locale = document.locale;
      }
      starts.push_back(occurrences.size());
      field_texts(document, &texts);
      for (int f = 0; f < kNumFields; ++f) {
        if (texts[f].empty()) continue;
        tokens.clear();
        (*lease)->analyze(texts[f], &tokens);
        lengths[i][f] = static_cast<std::uint16_t>(std::min<std::size_t>(tokens.size(), 65535));
        for (const Token& token : tokens) {
          occurrences.push_back(builder.term_id(token.term) * 8 + static_cast<std::uint32_t>(f));
        }
      }
    }
    starts.push_back(occurrences.size());
    lease.reset();

    // The batch is valid: from here on nothing fails.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      for (int f = 0; f < kNumFields; ++f) field_length_sum[f] += lengths[i][f];
    }
    documents_added += static_cast<double>(batch.size());
    const std::array<double, kNumFields> average = average_lengths();
    const auto base = static_cast<std::uint32_t>(docs.size());
    // One lease for the whole batch: dictionary keys are normalized several times a document.
    auto normalizer = analyzers.lease("en");
    AISLE_CHECK(normalizer.is_ok(), "the English analyzer must always be available");
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const Document& document = batch[i];
      std::uint32_t old = docs.find(document.product);
      if (old != kNoValue) docs.kill(old);
      std::vector<std::string> category_keys;
      std::string path;
      for (const std::string& part : document.category) {
        if (!path.empty()) path += " > ";
        path += (*normalizer)->normalize(part);
        category_keys.push_back(path);
      }
      std::vector<std::pair<std::string, float>> numeric;
      for (const auto& [name, value] : document.attributes) {
        if (auto number = numeric_value(value)) numeric.emplace_back((*normalizer)->normalize(name), *number);
      }
      docs.add(document, (*normalizer)->normalize(document.brand), (*normalizer)->normalize(document.color),
               category_keys, prior_of(document), numeric);
    }
    // Pass 2: forward entries (the occurrences in text order), then impacts.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto begin = occurrences.begin() + static_cast<std::ptrdiff_t>(starts[i]);
      auto end = occurrences.begin() + static_cast<std::ptrdiff_t>(starts[i + 1]);
      builder.add_forward(static_cast<std::uint32_t>(i), std::span<const std::uint32_t>(&*begin, static_cast<std::size_t>(end - begin)));
      std::sort(begin, end);
      for (auto at = begin; at != end;) {
        const std::uint32_t term = *at / 8;
        std::array<int, kNumFields> tf{};
        std::uint8_t mask = 0;
        for (; at != end && *at / 8 == term; ++at) {
          ++tf[*at % 8];
          mask = static_cast<std::uint8_t>(mask | (1u << (*at % 8)));
        }
        builder.add(term, static_cast<std::uint32_t>(i), impact(tf, lengths[i], average), mask);
      }
    }
    occurrences.clear();
    occurrences.shrink_to_fit();
    auto segment = Segment::load(owned_bytes(builder.finish(static_cast<std::uint32_t>(batch.size()))), "memory");
    AISLE_CHECK(segment.is_ok(), "a freshly built segment must load");
    segments.push_back(SegmentRef{std::move(*segment), base, ""});
    if (segments.size() > static_cast<std::size_t>(std::max(1, options.max_segments))) merge_all();
    invalidate_dictionary();
    return Status::ok();
  }

  void merge_all() {
    std::vector<std::uint32_t> remap;
    DocTable merged_docs = docs.compacted(&remap);
    SegmentBuilder builder;
    std::vector<std::uint32_t> occurrences;
    for (const SegmentRef& ref : segments) {
      const Segment& segment = *ref.segment;
      std::vector<std::uint32_t> id_of(segment.num_terms());  // this segment's term numbers -> builder ids
      for (std::uint32_t t = 0; t < segment.num_terms(); ++t) {
        const std::uint32_t id = builder.term_id(segment.term_string(t));
        id_of[t] = id;
        for (PostingCursor cursor(segment, segment.term(t)); cursor.doc() != kEndOfList; cursor.next()) {
          std::uint32_t doc = remap[ref.base + cursor.doc()];
          if (doc != kNoValue) builder.add(id, doc, cursor.impact(), cursor.field_mask());
        }
      }
      // Forward entries follow their documents (a version 1 segment has none to carry).
      for (std::uint32_t local = 0; local < segment.num_docs(); ++local) {
        const std::uint32_t doc = remap[ref.base + local];
        if (doc == kNoValue || !segment.has_forward(local)) continue;
        occurrences.clear();
        segment.forward(local, [&](int field, std::uint32_t term) {
          occurrences.push_back(id_of[term] * 8 + static_cast<std::uint32_t>(field));
        });
        builder.add_forward(doc, occurrences);
      }
    }
    segments.clear();
    docs = std::move(merged_docs);
    if (docs.size() > 0) {
      auto segment = Segment::load(owned_bytes(builder.finish(static_cast<std::uint32_t>(docs.size()))), "memory");
      AISLE_CHECK(segment.is_ok(), segment.status().to_string());
      segments.push_back(SegmentRef{std::move(*segment), 0, ""});
    }
    invalidate_dictionary();
  }

  void invalidate_dictionary() {
    std::lock_guard lock(dictionary_mutex);
    dictionary.reset();
  }

  std::shared_ptr<const TermDictionary> term_dictionary() const {
    std::lock_guard lock(dictionary_mutex);
    if (dictionary) return dictionary;
    std::vector<TermDictionary::Entry> entries;
    for (const SegmentRef& ref : segments) {
      for (std::uint32_t t = 0; t < ref.segment->num_terms(); ++t) {
        entries.push_back({ref.segment->term_string(t), ref.segment->term(t).df});
      }
    }
    std::sort(entries.begin(), entries.end(),
              [](const TermDictionary::Entry& a, const TermDictionary::Entry& b) { return a.term < b.term; });
    std::vector<TermDictionary::Entry> merged;
    for (const TermDictionary::Entry& entry : entries) {
      if (!merged.empty() && merged.back().term == entry.term) {
        merged.back().df += entry.df;
      } else {
        merged.push_back(entry);
      }
    }
    dictionary = std::make_shared<const TermDictionary>(std::move(merged));
    return dictionary;
  }

  std::int64_t document_frequency(std::string_view term) const {
    std::int64_t df = 0;
    for (const SegmentRef& ref : segments) {
      if (const TermEntry* entry = ref.segment->find(term)) df += entry->df;
    }
    return df;
  }

  float idf(std::int64_t df) const {
    const auto n = static_cast<double>(docs.size());
    return static_cast<float>(std::log(1.0 + (n - static_cast<double>(df) + 0.5) / (static_cast<double>(df) + 0.5)));
  }

  Result<std::vector<QueryTerm>> query_terms(std::string_view query, const SearchOptions& search) const {
    AISLE_ASSIGN_OR_RETURN(auto lease, analyzers.lease(search.locale));
    std::vector<Token> tokens;
    if (search.analyzed_query) {
      std::size_t start = 0;
      while (start < query.size()) {
        std::size_t end = query.find(' ', start);
        if (end == std::string_view::npos) end = query.size();
        if (end > start) tokens.push_back(Token{std::string(query.substr(start, end - start)), TokenKind::kWord, 0});
        start = end + 1;
      }
    } else {
      lease->analyze(query, &tokens);
    }
    std::vector<QueryTerm> terms;
    std::vector<TokenKind> kinds;
    for (const Token& token : tokens) {
      auto found = std::find_if(terms.begin(), terms.end(), [&](const QueryTerm& t) { return t.term == token.term; });
      if (found != terms.end()) {
        found->weight += 1.0f;
      } else {
        terms.push_back(QueryTerm{token.term, 1.0f, 0.0f, 0, "", 0, "", ""});
        kinds.push_back(token.kind);
      }
    }
    const std::size_t original = terms.size();
    for (std::size_t i = 0; i < original; ++i) terms[i].df = document_frequency(terms[i].term);
    std::vector<std::string> has_synonym;  // query terms a synonym the catalog has stands for
    if (search.synonyms != nullptr && !search.synonyms->empty()) {
      std::vector<std::string> sequence;
      for (const Token& token : tokens) sequence.push_back(token.term);
      for (const Synonyms::Expansion& expansion : search.synonyms->expand(search.locale, sequence)) {
        std::string phrase;
        for (const std::string& word : expansion.phrase) phrase += (phrase.empty() ? "" : " ") + word;
        for (const std::vector<std::string>& target : expansion.targets) {
          std::string target_text;
          for (const std::string& word : target) target_text += (target_text.empty() ? "" : " ") + word;
          bool present = true;  // every term of the target phrase is in the catalog
          for (const std::string& term : target) {
            auto known = std::find_if(terms.begin(), terms.end(), [&](const QueryTerm& t) { return t.term == term; });
            if (known != terms.end()) {
              present = present && known->df > 0;
              continue;
            }
            const std::int64_t df = document_frequency(term);
            present = present && df > 0;
            terms.push_back(QueryTerm{term, kSynonymWeight, 0.0f, df, "", 0, phrase, target_text});
          }
          if (present) has_synonym.insert(has_synonym.end(), expansion.phrase.begin(), expansion.phrase.end());
        }
      }
    }
    const TypoOptions& typo = search.typo;
    if (typo.enabled) {
      for (std::size_t i = 0; i < original; ++i) {
        const std::string source = terms[i].term;
        const std::int64_t source_df = terms[i].df;
        const float source_weight = terms[i].weight;
        if (source_df > typo.rare_df || !(kinds[i] == TokenKind::kWord || kinds[i] == TokenKind::kPart)) continue;
        if (std::find(has_synonym.begin(), has_synonym.end(), source) != has_synonym.end()) continue;
        if (!is_ascii(source) || static_cast<int>(source.size()) < typo.one_edit_min_length) continue;
        int max_edits = static_cast<int>(source.size()) >= typo.two_edits_min_length ? 2 : 1;
        int added = 0;
        for (const TermCandidate& candidate : term_dictionary()->fuzzy(source, max_edits)) {
          if (added >= typo.max_expansions) break;
          if (candidate.df <= source_df) continue;
          float discount = candidate.edits == 1 ? typo.one_edit_weight : typo.two_edits_weight;
          terms.push_back(QueryTerm{std::string(candidate.term), source_weight * discount, 0.0f, candidate.df,
                                    source, candidate.edits, "", ""});
          ++added;
        }
      }
    }
    for (const TermBoost& boost : search.boosts) {
      terms.push_back(QueryTerm{boost.term, boost.weight, 0.0f, document_frequency(boost.term), "", 0, "", ""});
    }
    for (QueryTerm& term : terms) term.idf = term.df > 0 ? idf(term.df) : 0.0f;
    return terms;
  }

  std::vector<ScoringTerm> scoring_terms(const std::vector<QueryTerm>& terms) const {
    std::vector<ScoringTerm> out;
    for (std::size_t i = 0; i < terms.size(); ++i) {
      if (terms[i].df == 0 || terms[i].weight <= 0) continue;
      ScoringTerm scoring;
      scoring.term_index = i;
      const float scale = terms[i].weight * terms[i].idf;
      for (int q = 0; q < 256; ++q) scoring.score_of_impact[q] = scale * (static_cast<float>(q) / 255.0f);
      out.push_back(scoring);
    }
    return out;
  }

  bool admissible(std::uint32_t doc, const CompiledFilter& filter) const {
    const DocRow& row = docs.row(doc);
    return row.live != 0 && filter.accepts(doc, row);
  }

  // Scores every matching document into `all`; the caller sorts. Deliberately shares nothing
  // with block-max WAND but the postings and the scoring tables, to be its exact twin.
  void exhaustive(const SegmentRef& ref, const std::vector<QueryTerm>& terms, const std::vector<ScoringTerm>& scoring,
                  const CompiledFilter& filter, std::vector<Candidate>* all, std::int64_t* matched,
                  std::int64_t* scored) const {
    const Segment& segment = *ref.segment;
    std::vector<float> sums(segment.num_docs(), 0.0f);
    std::vector<std::uint8_t> seen(segment.num_docs(), 0);
    for (const ScoringTerm& term : scoring) {
      const TermEntry* entry = segment.find(terms[term.term_index].term);
      if (entry == nullptr) continue;
      for (PostingCursor cursor(segment, *entry); cursor.doc() != kEndOfList; cursor.next()) {
        sums[cursor.doc()] += term.score_of_impact[cursor.impact()];
        seen[cursor.doc()] = 1;
      }
    }
    for (std::uint32_t local = 0; local < segment.num_docs(); ++local) {
      if (!seen[local] || !admissible(ref.base + local, filter)) continue;
      ++*matched;
      ++*scored;
      all->push_back(Candidate{sums[local] + docs.row(ref.base + local).prior, ref.base + local});
    }
  }

  void block_max_wand(const SegmentRef& ref, const std::vector<QueryTerm>& terms,
                      const std::vector<ScoringTerm>& scoring, const CompiledFilter& filter, TopK* top,
                      std::int64_t* scored) const {
    const Segment& segment = *ref.segment;
    struct Active {
      PostingCursor cursor;
      const ScoringTerm* term;
      float list_bound;
    };
    std::vector<Active> active;
    active.reserve(scoring.size());
    for (const ScoringTerm& term : scoring) {
      const TermEntry* entry = segment.find(terms[term.term_index].term);
      if (entry == nullptr) continue;
      active.push_back(Active{PostingCursor(segment, *entry), &term, term.score_of_impact[entry->max_impact]});
    }
    if (active.empty()) return;
    std::vector<Active*> order;
    for (Active& a : active) order.push_back(&a);
    const float prior_bound = docs.prior_max();
    const std::size_t n = order.size();
    while (true) {
      // Insertion sort by current document: the order changes little between steps.
      for (std::size_t i = 1; i < n; ++i) {
        Active* moving = order[i];
        std::size_t j = i;
        for (; j > 0 && order[j - 1]->cursor.doc() > moving->cursor.doc(); --j) order[j] = order[j - 1];
        order[j] = moving;
      }
      const float threshold = top->threshold();
      float bound = prior_bound;
      std::size_t pivot = n;
      for (std::size_t i = 0; i < n; ++i) {
        if (order[i]->cursor.doc() == kEndOfList) break;
        bound += order[i]->list_bound;
        if (may_beat(bound, threshold)) {
          pivot = i;
          break;
        }
      }
      if (pivot == n) return;
      const std::uint32_t pivot_doc = order[pivot]->cursor.doc();
      docs.prefetch_prior(ref.base + pivot_doc);  // read below if the pivot gets scored
      while (pivot + 1 < n && order[pivot + 1]->cursor.doc() == pivot_doc) ++pivot;
      float block_bound = docs.prior_block_max(ref.base + pivot_doc);
      for (std::size_t i = 0; i <= pivot; ++i) {
        order[i]->cursor.shallow(pivot_doc);
        block_bound += order[i]->term->score_of_impact[order[i]->cursor.shallow_block_max()];
      }
      if (may_beat(block_bound, threshold)) {
        if (order[0]->cursor.doc() == pivot_doc) {
          const std::uint32_t doc = ref.base + pivot_doc;
          // The compact prior column tells live from dead; the row only when there is a filter.
          const float prior = docs.live_prior(doc);
          if (!std::isnan(prior) && (filter.empty() || filter.accepts(doc, docs.row(doc)))) {
            // Summed in query-term order, as the exhaustive scorer does, so scores are equal.
            float score = 0.0f;
            for (const Active& a : active) {
              if (a.cursor.doc() == pivot_doc) score += a.term->score_of_impact[a.cursor.impact()];
            }
            ++*scored;
            top->offer(score + prior, doc);
          }
          for (std::size_t i = 0; i <= pivot; ++i) order[i]->cursor.next();
        } else {
          for (std::size_t i = 0; i < pivot && order[i]->cursor.doc() < pivot_doc; ++i) {
            order[i]->cursor.next_geq(pivot_doc);
          }
        }
      } else {
        // No document up to the end of the smallest block can beat the threshold.
        std::uint64_t next = kEndOfList;
        for (std::size_t i = 0; i <= pivot; ++i) {
          next = std::min<std::uint64_t>(next, std::uint64_t{order[i]->cursor.shallow_block_last()} + 1);
        }
        if (pivot + 1 < n) next = std::min<std::uint64_t>(next, order[pivot + 1]->cursor.doc());
        // The prior's bound held for the pivot's run of 128 documents only.
        const std::uint64_t prior_run_end = ((std::uint64_t{ref.base} + pivot_doc) | 127u) + 1 - ref.base;
        next = std::min(next, prior_run_end);
        if (next <= pivot_doc) next = std::uint64_t{pivot_doc} + 1;
        const auto target = static_cast<std::uint32_t>(std::min<std::uint64_t>(next, kEndOfList));
        for (std::size_t i = 0; i <= pivot; ++i) order[i]->cursor.next_geq(target);
      }
    }
  }

  std::vector<std::uint32_t> matching_docs(const std::vector<QueryTerm>& terms, const std::vector<ScoringTerm>& scoring,
                                           const CompiledFilter& filter) const {
    std::vector<std::uint32_t> out;
    for (const SegmentRef& ref : segments) {
      std::vector<std::uint8_t> seen(ref.segment->num_docs(), 0);
      for (const ScoringTerm& term : scoring) {
        const TermEntry* entry = ref.segment->find(terms[term.term_index].term);
        if (entry == nullptr) continue;
        for (PostingCursor cursor(*ref.segment, *entry); cursor.doc() != kEndOfList; cursor.next()) {
          seen[cursor.doc()] = 1;
        }
      }
      for (std::uint32_t local = 0; local < seen.size(); ++local) {
        if (seen[local] && admissible(ref.base + local, filter)) out.push_back(ref.base + local);
      }
    }
    return out;
  }

  Result<SearchResult> search(std::string_view query, const SearchOptions& search) const {
    if (search.k < 1) return Status::bad_input("k must be at least 1", Where("", 0, "k"));
    std::shared_lock lock(mutex);
    SearchResult result;
    AISLE_ASSIGN_OR_RETURN(result.terms, query_terms(query, search));
    const std::vector<ScoringTerm> scoring = scoring_terms(result.terms);
    CompiledFilter filter = docs.compile(
        search.filter, [this](const std::string& value) { return normalize(value); },
        [this](const std::string& path) { return category_key(path); });
    std::vector<Candidate> best;
    if (search.algorithm == TopKAlgorithm::kExhaustive) {
      std::int64_t matched = 0;
      for (const SegmentRef& ref : segments) {
        exhaustive(ref, result.terms, scoring, filter, &best, &matched, &result.documents_scored);
      }
      std::sort(best.begin(), best.end(), [](const Candidate& a, const Candidate& b) {
        return a.score != b.score ? a.score > b.score : a.doc < b.doc;
      });
      if (best.size() > static_cast<std::size_t>(search.k)) best.resize(static_cast<std::size_t>(search.k));
      result.matched = matched;
    } else {
      TopK top(static_cast<std::size_t>(search.k));
      for (const SegmentRef& ref : segments) {
        block_max_wand(ref, result.terms, scoring, filter, &top, &result.documents_scored);
      }
      best = std::move(top).sorted();
    }
    if (search.facets) {
      std::vector<std::uint32_t> matching = matching_docs(result.terms, scoring, filter);
      result.matched = static_cast<std::int64_t>(matching.size());
      result.facets = docs.facets(matching, search.max_facet_values);
    }
    for (const Candidate& candidate : best) {
      const DocRow& row = docs.row(candidate.doc);
      result.hits.push_back(Hit{ProductId(row.product), docs.external_id(candidate.doc), docs.locale(candidate.doc),
                                candidate.score, row.prior});
    }
    return result;
  }

  // The document's analyzed occurrences from its segment's forward entry, when the index holds
  // this version of it: count(field, query term index or -1) per occurrence, in field then
  // text order, as analyzing the text would give. False (nothing counted) otherwise. The
  // caller holds the lock.
  template <typename Count>
  bool match_forward(const Document& document, std::span<const QueryTerm> terms, Count&& count) const {
    const std::uint32_t doc = docs.find(document.product);
    if (doc == kNoValue || docs.row(doc).version != document.version) return false;
    const SegmentRef* ref = nullptr;
    for (const SegmentRef& candidate : segments) {
      if (doc >= candidate.base && doc - candidate.base < candidate.segment->num_docs()) ref = &candidate;
    }
    if (ref == nullptr || !ref->segment->has_forward(doc - ref->base)) return false;
    const Segment& segment = *ref->segment;
    // Each query term's number in this segment; the first of equal terms takes the match.
    std::vector<std::pair<std::uint32_t, std::int16_t>> numbers;
    for (std::size_t t = 0; t < terms.size() && t < 32767; ++t) {
      const TermEntry* entry = segment.find(terms[t].term);
      if (entry == nullptr) continue;
      const std::uint32_t number = segment.term_number(entry);
      if (std::none_of(numbers.begin(), numbers.end(), [&](const auto& n) { return n.first == number; })) {
        numbers.emplace_back(number, static_cast<std::int16_t>(t));
      }
    }
    segment.forward(doc - ref->base, [&](int field, std::uint32_t number) {
      std::int16_t which = -1;
      for (const auto& [n, t] : numbers) {
        if (n == number) {
          which = t;
          break;
        }
      }
      count(field, which);
    });
    return true;
  }

  DocumentMatch match(const Document& document, std::span<const QueryTerm> terms) const {
    std::shared_lock lock(mutex);
    DocumentMatch out;
    out.terms.resize(terms.size());
    for (std::size_t t = 0; t < terms.size(); ++t) {
      out.terms[t].term = terms[t].term;
      out.terms[t].idf = terms[t].idf;
      out.terms[t].weight = terms[t].weight;
    }
    auto count = [&](int field, std::int16_t which) {
      out.sequence[field].push_back(which);
      if (which >= 0) ++out.terms[static_cast<std::size_t>(which)].tf[field];
      ++out.length[field];
    };
    if (!match_forward(document, terms, count)) {
      // Not indexed in this version (or a version 1 segment): analyze the text.
      auto lease = analyzers.lease(document.locale);
      if (!lease.is_ok()) return out;
      std::array<std::string, kNumFields> texts;
      field_texts(document, &texts);
      // Query terms are few: a linear scan per token beats hashing every token.
      for (int f = 0; f < kNumFields; ++f) {
        for (const std::string& token : (*lease)->terms(texts[f])) {
          std::int16_t which = -1;
          for (std::size_t t = 0; t < terms.size() && t < 32767; ++t) {
            if (terms[t].term == token) {
              which = static_cast<std::int16_t>(t);
              break;
            }
          }
          count(f, which);
        }
      }
    }
    const auto average = average_lengths();
    const Bm25fParams& p = options.bm25f;
    for (TermExplanation& explanation : out.terms) {
      for (int f = 0; f < kNumFields; ++f) {
        if (explanation.tf[f] == 0) continue;
        double norm = 1.0 - p.b[f] + p.b[f] * out.length[f] / average[f];
        explanation.field_contribution[f] = static_cast<float>(p.weights[f] * explanation.tf[f] / norm);
        explanation.tf_tilde += explanation.field_contribution[f];
      }
      explanation.score = explanation.weight * explanation.idf * explanation.tf_tilde / (p.k1 + explanation.tf_tilde);
    }
    return out;
  }

  Status commit(const std::filesystem::path& dir) {
    std::unique_lock lock(mutex);
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    if (error) return Status::io_error("cannot create index directory " + dir.string() + ": " + error.message());
    char name[32];
    nlohmann::json manifest;
    manifest["format"] = kManifestFormat;
    manifest["version"] = kFormatVersion;
    nlohmann::json segment_list = nlohmann::json::array();
    for (SegmentRef& ref : segments) {
      if (ref.file.empty()) {
        std::snprintf(name, sizeof(name), "seg-%06lld.bin", static_cast<long long>(next_file_number++));
        AISLE_RETURN_IF_ERROR(write_file_atomically(dir / name, ref.segment->bytes()));
        ref.file = name;
      }
      segment_list.push_back({{"file", ref.file}, {"base", ref.base}, {"documents", ref.segment->num_docs()}});
    }
    std::snprintf(name, sizeof(name), "docs-%06lld.bin", static_cast<long long>(next_file_number++));
    const std::string docs_file = name;
    std::vector<std::uint8_t> table = docs.serialize();
    AISLE_RETURN_IF_ERROR(write_file_atomically(dir / docs_file, table));
    manifest["segments"] = segment_list;
    manifest["documents_file"] = docs_file;
    manifest["next_file_number"] = next_file_number;
    manifest["documents_added"] = documents_added;
    manifest["field_length_sum"] = field_length_sum;
    const Bm25fParams& p = options.bm25f;
    manifest["bm25f"] = {{"k1", p.k1}, {"weights", p.weights}, {"b", p.b},
                         {"popularity_weight", p.popularity_weight}, {"popularity_k", p.popularity_k}};
    // Index-time analysis settings: queries must be analyzed as the documents were.
    if (!options.analyzer.stop_word_lists.empty()) manifest["stop_words"] = options.analyzer.stop_word_lists;
    AISLE_RETURN_IF_ERROR(write_file_atomically(dir / kManifest, manifest.dump(2) + "\n"));
    // The new MANIFEST is durable: files it does not name are garbage.
    std::unordered_set<std::string> keep = {kManifest, docs_file};
    for (const SegmentRef& ref : segments) keep.insert(ref.file);
    for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
      const std::string file = entry.path().filename().string();
      bool ours = file.rfind("seg-", 0) == 0 || file.rfind("docs-", 0) == 0 || file.ends_with(".tmp");
      if (ours && !keep.contains(file)) std::filesystem::remove(entry.path(), error);
    }
    return Status::ok();
  }
};

InvertedIndex::InvertedIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
InvertedIndex::~InvertedIndex() = default;

IndexOptions index_options(const DataConfig& config) {
  IndexOptions options;
  const auto names = config_field_names();
  static_assert(kNumFields == 7, "config_field_names() lists the fields in Field order");
  for (std::size_t f = 0; f < names.size(); ++f) {
    if (auto weight = config.field_weights.find(std::string(names[f])); weight != config.field_weights.end()) {
      options.bm25f.weights[f] = weight->second;
    }
  }
  for (const auto& [locale, settings] : config.locales) {
    if (!settings.stop_words) continue;
    std::vector<std::string>& words = options.analyzer.stop_word_lists[locale];
    for (const std::string& word : *settings.stop_words) {
      if (word == kDefaultStopWords) {
        for (std::string_view builtin : stop_words(locale)) words.emplace_back(builtin);
      } else {
        words.push_back(word);
      }
    }
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
  }
  return options;
}

std::vector<std::string> index_settings_changes(const IndexOptions& built, const IndexOptions& wanted) {
  std::vector<std::string> out;
  const auto names = config_field_names();
  for (std::size_t f = 0; f < names.size(); ++f) {
    if (built.bm25f.weights[f] != wanted.bm25f.weights[f]) {
      out.push_back(fmt::format("fields.{}: {} in the index, {} in the settings", names[f], built.bm25f.weights[f],
                                wanted.bm25f.weights[f]));
    }
  }
  std::set<std::string> locales;
  for (const auto& entry : built.analyzer.stop_word_lists) locales.insert(entry.first);
  for (const auto& entry : wanted.analyzer.stop_word_lists) locales.insert(entry.first);
  for (const std::string& locale : locales) {
    auto list = [&](const IndexOptions& options) {
      auto found = options.analyzer.stop_word_lists.find(locale);
      if (found != options.analyzer.stop_word_lists.end()) return found->second;
      std::vector<std::string> words;
      for (std::string_view word : stop_words(locale)) words.emplace_back(word);
      std::sort(words.begin(), words.end());
      return words;
    };
    const std::vector<std::string> a = list(built), b = list(wanted);
    if (a != b) {
      out.push_back(fmt::format("locales.{}.stop_words: {} words in the index, {} in the settings", locale, a.size(),
                                b.size()));
    }
  }
  return out;
}

std::vector<std::string> query_words(const QueryTerm& term) {
  if (!term.expanded_from.empty()) return {term.expanded_from};
  if (term.synonym_of.empty()) return {term.term};
  std::vector<std::string> words;
  std::size_t begin = 0;
  while (begin <= term.synonym_of.size()) {
    std::size_t end = term.synonym_of.find(' ', begin);
    if (end == std::string::npos) end = term.synonym_of.size();
    if (end > begin) words.push_back(term.synonym_of.substr(begin, end - begin));
    begin = end + 1;
  }
  return words;
}

std::vector<std::string> matched_query_words(const QueryTerm& term, std::span<const std::string> present) {
  if (!term.synonym_phrase.empty()) {
    std::size_t begin = 0;
    const std::string& phrase = term.synonym_phrase;
    while (begin <= phrase.size()) {
      std::size_t end = phrase.find(' ', begin);
      if (end == std::string::npos) end = phrase.size();
      if (end > begin && std::find(present.begin(), present.end(), phrase.substr(begin, end - begin)) == present.end()) return {};
      begin = end + 1;
    }
  }
  return query_words(term);
}

std::unique_ptr<InvertedIndex> InvertedIndex::create(IndexOptions options) {
  return std::unique_ptr<InvertedIndex>(new InvertedIndex(std::make_unique<Impl>(std::move(options))));
}

Result<std::unique_ptr<InvertedIndex>> InvertedIndex::open(const std::filesystem::path& dir, IndexOptions options) {
  const std::filesystem::path manifest_path = dir / kManifest;
  std::ifstream in(manifest_path);
  if (!in) return Status::not_found("no index in " + dir.string() + " (missing " + manifest_path.string() + ")");
  auto corrupt = [&](const std::string& what) {
    return Status::corruption("index manifest " + manifest_path.string() + ": " + what);
  };
  nlohmann::json manifest;
  try {
    manifest = nlohmann::json::parse(in);
    if (manifest.value("format", "") != kManifestFormat) return corrupt("not an Aisle index manifest");
    if (manifest.at("version").get<std::uint32_t>() != kFormatVersion) {
      return corrupt("format version " + manifest.at("version").dump() + ", expected " + std::to_string(kFormatVersion));
    }
    const auto& bm25f = manifest.at("bm25f");
    options.bm25f.k1 = bm25f.at("k1").get<float>();
    options.bm25f.weights = bm25f.at("weights").get<std::array<float, kNumFields>>();
    options.bm25f.b = bm25f.at("b").get<std::array<float, kNumFields>>();
    options.bm25f.popularity_weight = bm25f.at("popularity_weight").get<float>();
    options.bm25f.popularity_k = bm25f.at("popularity_k").get<float>();
    options.analyzer.stop_word_lists =
        manifest.value("stop_words", std::map<std::string, std::vector<std::string>>{});
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  try {
    impl->documents_added = manifest.at("documents_added").get<double>();
    impl->field_length_sum = manifest.at("field_length_sum").get<std::array<double, kNumFields>>();
    impl->next_file_number = manifest.at("next_file_number").get<std::int64_t>();
    std::uint64_t expected_base = 0;
    for (const auto& entry : manifest.at("segments")) {
      const std::string file = entry.at("file").get<std::string>();
      if (file.find('/') != std::string::npos) return corrupt("segment file name " + file);
      AISLE_ASSIGN_OR_RETURN(auto bytes, map_file(dir / file));
      AISLE_ASSIGN_OR_RETURN(auto segment, Segment::load(std::move(bytes), (dir / file).string()));
      const auto base = entry.at("base").get<std::uint32_t>();
      if (base != expected_base || segment->num_docs() != entry.at("documents").get<std::uint32_t>()) {
        return corrupt("segment " + file + " does not continue the document numbering");
      }
      expected_base += segment->num_docs();
      impl->segments.push_back(SegmentRef{std::move(segment), base, file});
    }
    const std::string docs_file = manifest.at("documents_file").get<std::string>();
    if (docs_file.find('/') != std::string::npos) return corrupt("document table file name " + docs_file);
    AISLE_ASSIGN_OR_RETURN(auto bytes, map_file(dir / docs_file));
    AISLE_ASSIGN_OR_RETURN(impl->docs, DocTable::parse(bytes->data(), (dir / docs_file).string()));
    if (impl->docs.size() != expected_base) {
      return corrupt("document table has " + std::to_string(impl->docs.size()) + " rows, segments " +
                     std::to_string(expected_base));
    }
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
  return std::unique_ptr<InvertedIndex>(new InvertedIndex(std::move(impl)));
}

Status InvertedIndex::upsert(std::span<const Document> documents, const Context& context) {
  (void)context;
  std::unique_lock lock(impl_->mutex);
  return impl_->add_batch(documents);
}

std::int64_t InvertedIndex::remove(std::span<const ProductId> products) {
  std::unique_lock lock(impl_->mutex);
  std::int64_t removed = 0;
  for (ProductId product : products) {
    std::uint32_t doc = impl_->docs.find(product);
    if (doc == kNoValue) continue;
    impl_->docs.kill(doc);
    ++removed;
  }
  return removed;
}

void InvertedIndex::compact() {
  std::unique_lock lock(impl_->mutex);
  impl_->merge_all();
}

Status InvertedIndex::rebuild(std::span<const Document> documents, const Context& context) {
  (void)context;
  std::unique_lock lock(impl_->mutex);
  auto fresh = std::make_unique<Impl>(impl_->options);
  fresh->next_file_number = impl_->next_file_number;
  AISLE_RETURN_IF_ERROR(fresh->add_batch(documents));
  impl_->segments = std::move(fresh->segments);
  impl_->docs = std::move(fresh->docs);
  impl_->field_length_sum = fresh->field_length_sum;
  impl_->documents_added = fresh->documents_added;
  impl_->invalidate_dictionary();
  return Status::ok();
}

Status InvertedIndex::commit(const std::filesystem::path& dir) { return impl_->commit(dir); }

Result<SearchResult> InvertedIndex::search(std::string_view query, const SearchOptions& options) const {
  return impl_->search(query, options);
}

std::map<std::string, std::vector<FacetValue>> InvertedIndex::facets(std::span<const ProductId> products,
                                                                     int max_values) const {
  std::shared_lock lock(impl_->mutex);
  std::vector<std::uint32_t> docs;
  for (ProductId product : products) {
    const std::uint32_t doc = impl_->docs.find(product);
    if (doc != kNoValue) docs.push_back(doc);
  }
  return impl_->docs.facets(docs, max_values);
}

std::vector<std::string> InvertedIndex::numeric_attributes() const {
  std::shared_lock lock(impl_->mutex);
  return impl_->docs.numeric_attributes();
}

std::vector<InvertedIndex::Word> InvertedIndex::analyze_words(std::string_view text, std::string_view locale) const {
  std::vector<Word> words;
  if (text.empty()) return words;
  auto analyzer = impl_->analyzers.lease(locale);
  if (!analyzer.is_ok()) return words;
  for (const auto& [begin, end] : (*analyzer)->word_spans(text)) {
    Word word{begin, end, (*analyzer)->terms(text.substr(begin, end - begin))};
    if (!word.terms.empty()) words.push_back(std::move(word));
  }
  return words;
}

std::vector<std::pair<std::size_t, std::size_t>> InvertedIndex::highlight(std::string_view text, std::string_view locale,
                                                                          std::span<const QueryTerm> terms) const {
  std::vector<std::pair<std::size_t, std::size_t>> marked;
  if (terms.empty()) return marked;
  for (const Word& word : analyze_words(text, locale)) {
    const bool hit = std::any_of(word.terms.begin(), word.terms.end(), [&](const std::string& term) {
      return std::any_of(terms.begin(), terms.end(), [&](const QueryTerm& query_term) { return query_term.term == term; });
    });
    if (hit) marked.emplace_back(word.begin, word.end);
  }
  return marked;
}

std::string InvertedIndex::normalize(std::string_view text) const { return impl_->normalize(text); }
std::string InvertedIndex::category_key(std::string_view path) const { return impl_->category_key(path); }

bool InvertedIndex::has_numeric_attribute(const std::string& name) const {
  const std::string key = impl_->normalize(name);
  std::shared_lock lock(impl_->mutex);
  return impl_->docs.has_numeric_attribute(key);
}

std::vector<TermExplanation> InvertedIndex::explain(const Document& document, std::span<const QueryTerm> terms) const {
  return impl_->match(document, terms).terms;
}

DocumentMatch InvertedIndex::match(const Document& document, std::span<const QueryTerm> terms) const {
  return impl_->match(document, terms);
}

bool InvertedIndex::contains(ProductId product) const {
  std::shared_lock lock(impl_->mutex);
  return impl_->docs.find(product) != kNoValue;
}

std::optional<std::uint64_t> InvertedIndex::version(ProductId product) const {
  std::shared_lock lock(impl_->mutex);
  std::uint32_t doc = impl_->docs.find(product);
  if (doc == kNoValue) return std::nullopt;
  return impl_->docs.row(doc).version;
}

std::vector<ProductId> InvertedIndex::products() const {
  std::shared_lock lock(impl_->mutex);
  std::vector<ProductId> out;
  for (std::uint32_t doc = 0; doc < impl_->docs.size(); ++doc) {
    if (impl_->docs.live(doc)) out.push_back(ProductId(impl_->docs.row(doc).product));
  }
  std::sort(out.begin(), out.end());
  return out;
}

IndexStats InvertedIndex::stats() const {
  std::shared_lock lock(impl_->mutex);
  IndexStats stats;
  stats.documents = impl_->docs.live_count();
  stats.deleted = static_cast<std::int64_t>(impl_->docs.size()) - stats.documents;
  stats.segments = static_cast<std::int64_t>(impl_->segments.size());
  stats.terms = static_cast<std::int64_t>(impl_->term_dictionary()->size());
  for (const SegmentRef& ref : impl_->segments) {
    stats.postings += static_cast<std::int64_t>(ref.segment->num_postings());
    stats.postings_bytes += static_cast<std::int64_t>(ref.segment->postings_bytes());
    stats.total_bytes += static_cast<std::int64_t>(ref.segment->total_bytes());
  }
  stats.total_bytes += static_cast<std::int64_t>(impl_->docs.serialized_bytes());
  stats.average_field_length = impl_->average_lengths();
  return stats;
}

const IndexOptions& InvertedIndex::options() const { return impl_->options; }

}  // namespace aisle::text
