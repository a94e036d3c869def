// The search pipeline of a data directory: strategies -> union -> features -> ranker -> top-k.
//
// open() loads what the data directory has: the lexical index and query understanding
// (required; `aisle index`), the encoder and product vectors (optional; `aisle train encoder`
// + `aisle index`), the ESCI classifier (optional; `aisle train classifier`: its class
// probabilities are ranking features and are shown per hit), the ranker (optional; `aisle train ranker`, <data_dir>/models/ranker.bin)
// and the per-product engagement statistics behind the product_queries / product_grade
// features (judgments outside split "test", and feedback events).
//
// retrieve() runs the strategies of an action (retrieve::PolicyAction: which strategies, how
// many candidates each), fuses their lists (reciprocal rank fusion: the order when there is no
// ranker) and computes every candidate's features in one batch. The six strategies:
//   lexical     BM25F with the popularity prior (text::InvertedIndex)
//   structured  query understanding's slots as filters and boosts
//   vector      k-NN over the product vectors (when the data directory has them)
//   memory      the query's engagement memory (retrieve::MemoryIndex: <data_dir>/index/memory.bin
//               or the caller's live one)
//   graph       related products (BLADE, <data_dir>/models/related.bin) of the other
//               strategies' best candidates (the first graph_seeds of their fused list)
//   popularity  the locale's most popular products (newest first among equals)
// Filters apply to every strategy (memory, graph and popularity candidates are checked
// against the stored listing). search() then scores the candidates with the ranker and
// keeps the top k. Without a ranker, or with PipelineOptions::rank = false, the fused order
// stands.
//
// Thread safety: none. The store is one SQLite connection; use one pipeline per thread
// (open_sibling() makes more without loading the indexes and models again). A caller's memory
// index (PipelineOptions::memory) must not change during a call.
#pragma once

#include <cstdint>
#include <array>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/core/validation.h"
#include "aisle/rank/features.h"
#include "aisle/models/relevance_classifier.h"
#include "aisle/rank/ranker.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/memory.h"
#include "aisle/retrieve/policy.h"
#include "aisle/retrieve/related.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/store/store.h"

namespace aisle::rank {

std::filesystem::path ranker_path(const std::filesystem::path& data_dir);

// A learned layer of the pipeline and whether it changes what searches show. A layer is active
// only when its model file carries a validation verdict (core/validation.h) that beat the
// no-model baseline on held-out queries, and it was trained for this data directory's feature
// schema and layers; otherwise the search runs without it and `reason` says why.
struct LayerState {
  std::string name;      // "vector", "classifier", "ranker", "related"
  bool present = false;  // a model file exists
  bool active = false;
  std::string reason;
  std::optional<LayerVerdict> verdict;
};

// The order of a result set. Relevance is the pipeline's order (the ranker's when active);
// the others re-order the relevant set (every result a strategy that read the query found,
// after filters), relevance breaking ties: a price sort of "jacket" lists jackets by price,
// not every product of the catalog.
enum class SortOrder { kRelevance, kPriceAscending, kPriceDescending, kPopularity, kNewest };
// "relevance", "price_asc", "price_desc", "popularity", "newest"; kBadInput otherwise.
Result<SortOrder> parse_sort(std::string_view text);
std::string_view sort_name(SortOrder sort);

struct PipelineOptions {
  std::string locale = "en";
  // Results come from the query's locale. With all_locales (or a locale filter), from those
  // asked for. Without either, a listing of another locale is added after the query locale's
  // results, when those are fewer than k, only if its cross-listing group has no listing in
  // the query's locale (the product is sold elsewhere, not here); one listing per group.
  bool all_locales = false;
  int k = 10;
  text::Filter filter;
  // "auto" (the default pipeline: lexical, plus vector when the encoder passed its gate),
  // "hybrid" (lexical+vector), or
  // strategy names joined by '+' ("lexical+memory"), each run at `depth`; empty: the settings
  // file's default_strategy ("auto" without one). "policy" (the bandit chooses) is resolved by
  // the caller, the server or `aisle search`, into `action`. Ignored when `action` is set.
  std::string strategy;
  int depth = 100;  // candidates per strategy (at least k)
  // The strategies and depths to run (a policy's choice); unused strategies have depth 0.
  std::optional<retrieve::PolicyAction> action;
  // The memory index the memory strategy reads (a server's live one); null: the data
  // directory's, when it has one.
  const retrieve::MemoryIndex* memory = nullptr;
  std::int64_t now_ms = 0;  // the time memory scores decay to; 0: now
  int graph_seeds = 5;
  int ef = 128;     // HNSW beam width
  bool typos = true;
  // Facet counts over the result set (PipelineResult::facets) and the keyword matches counted.
  bool facets = false;
  SortOrder sort = SortOrder::kRelevance;
  bool rank = true;      // re-rank with the ranker when there is one
  bool explain = false;  // per-hit feature values and the ranker's per-feature contributions
  // The reply (search_result_json) marks the query's words in each hit's title and a snippet
  // of its description.
  bool highlight = false;
};

struct PipelineHit {
  ProductId product;
  double score = 0;     // the ranker's score, or the fused / strategy score without a ranker
  Provenance provenance;
  float vector_score = 0;
  float prior = 0;      // the popularity part of the lexical score
  int fused_rank = 0;   // 1-based rank before the ranker
  // Agreement with the query's confident slots (brand, color, category, attributes): +1 per
  // slot the listing has, -1 per slot it contradicts (intent()).
  int slot_agreements = 0, slot_conflicts = 0;
  bool other_locale = false;  // added by the cross-listing fallback (PipelineOptions::all_locales)
  std::optional<float> ranker_score;
  // P(E), P(S), P(C), P(I) from the ESCI classifier, when the data directory has one.
  std::optional<std::array<float, 4>> esci;
  // With explain: the ranker's largest per-feature contributions (SHAP values, Lundberg et al.
  // 2020), largest magnitude first, and the bias; and the feature values.
  std::vector<std::pair<std::string, float>> contributions;
  float contribution_bias = 0;
  std::vector<std::pair<std::string, float>> features;
};

struct PipelineResult {
  std::string strategy;  // the strategies actually run, with depths: "lexical:100+vector:100"
  retrieve::PolicyAction action;  // the same as an action
  // Candidates each strategy returned (after filters), by retrieve::StrategyIndex.
  std::array<int, retrieve::kNumStrategies> result_counts{};
  bool ranked = false;   // the ranker ordered the hits
  std::vector<PipelineHit> hits;  // the first k of the result set
  // The result set's size: every result a page could show (bounded by the strategies' depth).
  std::size_t total = 0;
  // With PipelineOptions::facets: brand, color, category, locale and price counts over the
  // whole result set (not only the k shown, nor every keyword match), and the values of the
  // attributes the settings file declares ([facets] attributes), by attribute name.
  std::map<std::string, std::vector<text::FacetValue>> facets;
  text::SearchResult lexical;  // terms and matched: the keyword matches (empty for vector alone)
  retrieve::QueryAnalysis analysis;
  text::Filter slot_filter;  // structured: filters taken from slots
  bool relaxed = false;
  std::size_t candidates = 0;
  // The confident slots the order honours (intent()), e.g. "color=black".
  std::vector<std::string> intent;
  // Why there are no results, or what was left out: "nothing in the catalog matches ...".
  std::string notice;
};

// A query's candidates with their documents and feature rows (schema of features()).
struct CandidateSet {
  PipelineResult result;  // hits in fused order, every candidate
  std::vector<text::Document> documents;
  std::vector<float> features;
};

// Per-product statistics from judgments and engagement, grades scaled to 0..1 as
// retrieve::training_set_from_store does.
struct ProductStats {
  float queries = 0;
  float grade_sum = 0;
};

class SearchPipeline {
 public:
  // kNotFound when the data directory has no index; kBadInput naming the difference when the
  // ranker's feature schema is not the extractor's.
  // load_ranker = false ignores <data_dir>/models/ranker.bin (training a new one).
  // enforce_gates = false uses every layer that loads and fits, whatever its verdict: for
  // evaluations that need a layer as an instrument (`aisle eval bandit-sim` scores pooled
  // candidates with the ranker), never for what shoppers see. layers() still reports the
  // verdicts.
  static Result<std::unique_ptr<SearchPipeline>> open(const std::filesystem::path& data_dir, const Context& context,
                                                      bool load_ranker = true, bool enforce_gates = true);
  // Another pipeline over the same data directory for another thread: its own store
  // connection, this one's indexes, models and statistics (read-only, shared: a 1M-product
  // catalog's vectors are loaded once, not once per thread).
  Result<std::unique_ptr<SearchPipeline>> open_sibling() const;
  ~SearchPipeline();

  // `exclude`: (product -> scaled grade) judgments of this query to leave out of the product
  // statistics (training rows must not see their own label).
  Result<CandidateSet> retrieve(std::string_view query, const PipelineOptions& options,
                                const std::unordered_map<std::uint32_t, float>* exclude = nullptr) const;
  Result<PipelineResult> search(std::string_view query, const PipelineOptions& options) const;

  // The action `options` asks for (options.action, or options.strategy at options.depth).
  // kBadInput naming an unknown strategy, kNotFound for one the data directory cannot run.
  Result<retrieve::PolicyAction> action_for(const PipelineOptions& options) const;
  // The strategies this data directory can run (memory: with `memory`, or its own index).
  std::array<bool, retrieve::kNumStrategies> available(const retrieve::MemoryIndex* memory = nullptr) const;
  // The layers a ranker trained now learns from (saved in its metadata as "inputs"; a ranker
  // trained with other inputs is off).
  nlohmann::json ranker_inputs() const;
  // The memory key of a query ("locale|terms", the analyzer's terms; memory_key()).
  Result<std::string> memory_key(std::string_view query, std::string_view locale) const;

  // The feature groups candidates get (for training a ranker without some of them). open()
  // takes them from the ranker's schema when it has one.
  void use_features(const FeatureOptions& features);

  // For training the ranker: the classifier reads a graph of engagement events only, without
  // the gate slice's queries (RelevanceDataOptions), so a training row's ESCI features never
  // see its own label and the gate's queries are as new as a shopper's unseen query. No-op
  // without an active classifier. Not for a pipeline that serves.
  Status use_training_graph(std::uint64_t gate_seed);

  // Reopens the lexical index and query understanding (after update_index() committed new
  // products). The feature extractor follows the new index.
  Status reload_lexical();

  // Brings what this pipeline shares with its siblings up to date with listings just written
  // to the store (the lexical index has its own update_index() + reload_lexical()): their
  // vectors, embedded and upserted (when the data directory has vectors), and their place in
  // the popularity lists. The siblings' next search sees both; safe while they search.
  // save_vectors() writes the vectors to the data directory.
  Status upserted(std::span<const store::Product> products, const Context& context);
  // Deleted listings leave what the pipelines share: the popularity lists and the vectors
  // (save_vectors() writes them). Searches already skip them (the store no longer has them).
  void removed(std::span<const ProductId> products);
  Status save_vectors() const;
  // Embeds the stored listings whose vectors are missing or stale (VectorStrategy::catch_up);
  // 0 without vectors. Every sibling sees them.
  Result<std::size_t> catch_up_vectors(const Context& context);

  const FeatureExtractor& features() const { return *extractor_; }
  // The ranker when it is active (LayerState), else null.
  const Ranker* ranker() const { return ranker_.get(); }
  // The ESCI classifier when it is active (four classes E, S, C, I), else null.
  const models::RelevanceClassifier* classifier() const { return classifier_.get(); }
  // The learned layers, in order vector, classifier, ranker, related; what each does or why not.
  const std::vector<LayerState>& layers() const { return *layers_; }
  // Whether the default ("auto") strategies include the vector strategy (its gate passed).
  bool vector_default() const { return vector_default_; }
  // The vector strategy's calibrated cosine floor (neighbours below it are no candidates).
  std::optional<float> vector_floor() const { return vector_floor_; }
  const models::EngagementGraph* engagement_graph() const { return graph_.get(); }
  bool has_vectors() const { return vectors_ != nullptr; }
  const retrieve::RelatedProducts* related() const { return related_.get(); }
  const retrieve::MemoryIndex* memory() const { return memory_.get(); }
  store::Store& store() const { return *store_; }
  const retrieve::LexicalCatalog& catalog() const { return *catalog_; }

 private:
  SearchPipeline() = default;
  // The steps of search() after retrieve(), each on the candidate set:
  //  rank_candidates  the ranker's order (when active); the documents follow their hits;
  //  drop_typo_matches  a hit found only by the text strategies that matches a typo
  //                 correction must match every corrected word ("dog food" -> "hood" alone
  //                 is no answer; "runing shoos" -> run + shoe is);
  //  intent()       the query's confident slots (the free function above);
  //  respond        no answer without a strategy that read the query; the top k; the
  //                 cross-listing fallback; the notice.
  Status rank_candidates(CandidateSet& set, const PipelineOptions& options, PipelineResult* result) const;
  void attach_features(std::span<const float> features, std::size_t width, std::vector<PipelineHit>* hits) const;
  Status drop_typo_matches(std::vector<text::Document>& documents, PipelineResult* result) const;
  //  sort_results  a sort order other than relevance: the relevant set re-ordered;
  //  respond        ... the total and facets of the result set, then the top k ...
  Status respond(std::string_view query, const PipelineOptions& options, std::span<const text::Document> documents,
                 PipelineResult* result) const;
  void sort_results(std::vector<text::Document>& documents, const PipelineOptions& options, PipelineResult* result) const;
  std::filesystem::path data_dir_;
  // Owned: the store connection (one per thread) and the per-locale analyzers below.
  std::unique_ptr<store::Store> store_;
  // Read-only after open, shared with the pipelines of open_sibling().
  std::shared_ptr<const retrieve::LexicalCatalog> catalog_;
  std::shared_ptr<retrieve::VectorStrategy> vectors_;  // upsert_vectors() adds to it
  std::shared_ptr<const FeatureExtractor> extractor_;
  FeatureOptions feature_options_;
  std::shared_ptr<const Ranker> ranker_;
  std::shared_ptr<const std::unordered_map<std::uint32_t, ProductStats>> product_stats_;
  // The ESCI classifier (<data_dir>/models/classifier.bin) and its engagement graph.
  std::shared_ptr<const models::RelevanceClassifier> classifier_;
  std::shared_ptr<const models::EngagementGraph> graph_;
  std::shared_ptr<const retrieve::RelatedProducts> related_;  // <data_dir>/models/related.bin
  std::shared_ptr<const retrieve::MemoryIndex> memory_;       // <data_dir>/index/memory.bin
  std::shared_ptr<const std::vector<LayerState>> layers_;
  bool vector_default_ = false;
  std::optional<float> vector_floor_;
  // Per locale: the most popular products, best first (popularity, then newest).
  class PopularLists;
  std::shared_ptr<PopularLists> popular_;
  // Memory keys need the analyzer's terms; analyzers are made per locale on first use.
  mutable std::unordered_map<std::string, std::unique_ptr<text::Analyzer>> analyzers_;
};

// The query-intent step of search(): with query understanding's confident slots (brand, color,
// category, attribute; likelihood >= min_likelihood), each hit's agreements and conflicts with
// them are counted from its listing (`documents`, parallel to hits), and the hits that match the
// rest of the query (every remainder term in their title, brand or category, read from the
// index's forward entries) are re-ordered among the positions they hold: fewer conflicts
// first, then more agreements, ties in the order they had. Other hits keep their positions, so
// a black phone case is not lifted above a blue running shoe for "black running shoes".
// Afterwards `documents` is no longer parallel to `hits`. Returns the honoured slots.
std::vector<std::string> intent(const retrieve::QueryAnalysis& analysis, std::span<const text::Document> documents,
                                const text::InvertedIndex& index, std::vector<PipelineHit>* hits,
                                double min_likelihood = 0.8);

// Whether a stored listing passes a filter, compared as `index` compares (brands and colors
// without case, the listing's category path by InvertedIndex::category_key against the
// filter's categories, which the caller has keyed already; attribute names and values without
// case): a filter keeps the same listings whichever strategy found them.
bool passes(const text::Filter& filter, const io::ProductRecord& record, const text::InvertedIndex& index);

}  // namespace aisle::rank
