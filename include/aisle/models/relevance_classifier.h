// Query-product relevance classification: ESCI classes (Exact, Substitute, Complement,
// Irrelevant), any set of graded classes, a graded score, or a binary task.
//
// Two published systems in one model:
//  - Multilingual matching (per-language encoders in one space, one shared classifier):
//    every language has its own query tower and product tower (the pooled towers of
//    text_encoder.h); all towers read one hashed n-gram embedding table (featurizer.h), so
//    languages share subwords, brands and model numbers. The classifier sees
//    [q * p, |q - p|, q, p] (Hadamard product first, then difference and both encodings;
//    `rich_interaction = false` keeps only q * p) and is a feed-forward network shared by all
//    languages. Training alternates, every epoch, classification over all languages with an
//    output-alignment phase (in-batch softmax over cosines, both directions) that pulls
//    together the encodings of one product listed in two languages and of two queries in two
//    languages that led to the same product (or that are parallel translations). The first
//    epoch trains on one randomly chosen language only (warm start).
//  - SALAM (language model + GNN over the behavioural graph): the query-product engagement
//    graph (EngagementGraph) gives each query and product node a 2-layer GraphSAGE-style
//    embedding over its capped 2-hop neighbourhood (the `hop1_cap` heaviest neighbours, and
//    the `hop2_cap` heaviest neighbours of each of those; weighted means of neighbour vectors,
//    separate weights for query and product nodes, a log-degree input). Node inputs are the
//    text encodings of the nodes (no gradient flows from the graph into the towers). The graph
//    gives its own logits; a learned attention (softmax over two scores computed from both
//    pair representations and the two degrees) mixes text and graph logits. Training masks
//    the edge of the pair being classified, so the label never reaches the graph. Pre-trained
//    on all locales, then fine-tuned per locale: the classifier, GNN and attention of each
//    locale with enough examples are copies fine-tuned on that locale (encoders frozen), used
//    for queries of that locale.
//
// Outputs per pair: kClasses, `classes` probabilities (softmax); kGraded, one value in 0..1
// (sigmoid, trained with squared error); kBinary, one probability (sigmoid, log loss).
//
// Files: save() writes "AISLECLS", a format version, a JSON header (config, languages,
// fine-tuned locales) and torch archives of the weights, atomically; load() checks them.
// Thread safety: predict() and encode_queries() may be called from several threads (they
// serialize internally); train() must not run concurrently with anything else.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/text_encoder.h"
#include "aisle/text/document.h"

namespace aisle::models {

enum class LabelMode { kClasses, kGraded, kBinary };
const char* label_mode_name(LabelMode mode);
Result<LabelMode> parse_label_mode(std::string_view name);

struct GraphConfig {
  bool enabled = true;
  int hop1_cap = 10;  // heaviest neighbours of a centre node
  int hop2_cap = 5;   // heaviest neighbours of each of those
  int hidden = 64;    // GNN layer width
};

struct ClassifierConfig {
  LabelMode mode = LabelMode::kClasses;
  // kClasses: one name per class, in label order (ESCI: "E", "S", "C", "I"). Others: ignored.
  std::vector<std::string> class_names = {"E", "S", "C", "I"};
  // Languages with their own towers; a query or product in another language is an error.
  // Empty: train() takes the languages of its data.
  std::vector<std::string> languages;
  EncoderConfig encoder;  // the towers' shape and features (pooled architecture only)
  int head_hidden = 128;  // classifier width
  bool rich_interaction = true;
  GraphConfig graph;
};

nlohmann::json classifier_config_to_json(const ClassifierConfig& config);
Result<ClassifierConfig> classifier_config_from_json(const nlohmann::json& json);

// One labelled pair: kClasses, the class index; kGraded, a grade in 0..1; kBinary, 0 or 1.
struct RelevanceExample {
  std::uint32_t query = 0;
  std::uint32_t product = 0;
  float label = 0;
};

// One edge of the engagement graph and its weight (see engagement_weight()).
struct Engagement {
  std::uint32_t query = 0;
  std::uint32_t product = 0;
  float weight = 1;
};

struct RelevanceData {
  std::vector<std::string> queries;
  std::vector<std::string> query_locales;  // one per query
  std::vector<text::Document> products;    // each in its own locale; external_id identifies it
  std::vector<RelevanceExample> examples;
  // Alignment pairs (indices into products / queries), each in two different languages.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> product_alignments;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> query_alignments;
  // Engagement between queries and products. Never put an evaluated pair's label here.
  std::vector<Engagement> engagement;
};

// Weights of engagement edges: a click 1, an add-to-cart 2, a purchase 4; a judgment used as
// engagement (training data only): Exact 4, Substitute 2, Complement 1, Irrelevant none (0).
float engagement_weight(std::string_view event_or_label);

// The bipartite query-product graph of a RelevanceData, with neighbour lists sorted by weight
// (heaviest first; parallel edges summed). Queries are keyed by locale and their text, lower-
// cased with whitespace collapsed; products by external id. Immutable after build.
class EngagementGraph {
 public:
  explicit EngagementGraph(RelevanceData data);

  const RelevanceData& data() const { return data_; }
  std::optional<std::uint32_t> find_query(std::string_view text, std::string_view locale) const;
  std::optional<std::uint32_t> find_product(std::string_view external_id) const;
  // (neighbour, weight), heaviest first.
  const std::vector<std::pair<std::uint32_t, float>>& query_neighbours(std::uint32_t query) const {
    return query_neighbours_[query];
  }
  const std::vector<std::pair<std::uint32_t, float>>& product_neighbours(std::uint32_t product) const {
    return product_neighbours_[product];
  }
  std::size_t edges() const { return edges_; }
  // Unique per graph object in the process (the classifier caches node vectors by it).
  std::uint64_t serial() const { return serial_; }

 private:
  RelevanceData data_;
  std::vector<std::vector<std::pair<std::uint32_t, float>>> query_neighbours_, product_neighbours_;
  std::unordered_map<std::string, std::uint32_t> query_keys_, product_keys_;
  std::size_t edges_ = 0;
  std::uint64_t serial_ = 0;
};

std::string query_key(std::string_view text, std::string_view locale);

struct ClassifierTrainOptions {
  int epochs = 6;
  int finetune_epochs = 2;  // per locale; 0: no fine-tuning
  // A locale is fine-tuned when it has at least this many examples.
  int finetune_min_examples = 50;
  int batch_size = 128;
  double learning_rate = 2e-3;
  double finetune_learning_rate = 5e-4;
  bool alignment = true;  // the alignment phase (when the data has alignment pairs)
  double alignment_temperature = 0.05;
  bool warm_start_language = true;  // first epoch: one random language
  // With a graph, the share of training pairs whose query text is replaced by an empty text,
  // so that the model learns to lean on the graph where the text says little.
  double text_dropout = 0.25;
  // Class weights for kClasses (empty: uniform); one per class.
  std::vector<float> class_weights;
  // Called after each phase of an epoch with (phase, epoch, mean loss, seconds); phase is
  // "classify", "align" or "finetune:<locale>". May be empty.
  std::function<void(const std::string&, int, double, double)> on_epoch;
};

struct ClassifierTrainReport {
  std::vector<std::string> languages;
  std::vector<std::string> finetuned_locales;
  std::string warm_start_language;
  std::int64_t examples = 0, product_alignments = 0, query_alignments = 0, graph_edges = 0;
  double seconds = 0;
};

// One pair to classify: a query (text + locale) and a product.
struct PairInput {
  std::string_view query;
  std::string_view locale;
  const text::Document* product = nullptr;
};

class RelevanceClassifier {
 public:
  // kBadInput on a bad config (or a transformer architecture, not supported here).
  static Result<std::unique_ptr<RelevanceClassifier>> create(const ClassifierConfig& config, const Context& context);
  // kNotFound for a missing file; kCorruption for a wrong header, version or archive.
  static Result<std::unique_ptr<RelevanceClassifier>> load(const std::filesystem::path& path, const Context& context);
  ~RelevanceClassifier();

  Status save(const std::filesystem::path& path) const;

  // Trains on data.examples (and its alignment pairs), with `graph` as the engagement graph
  // (nullptr or config.graph.enabled = false: text only). The graph must be built from the
  // same data (same query and product indices). kBadInput for labels out of range, indices
  // out of range, a language with no analyzer, or no examples.
  Result<ClassifierTrainReport> train(const RelevanceData& data, const EngagementGraph* graph,
                                      const ClassifierTrainOptions& options, const Context& context);

  // Row-major [pairs x outputs()] predictions. Queries and products are looked up in `graph`
  // (may be nullptr) for their neighbourhoods. kBadInput for a language without towers.
  Result<std::vector<float>> predict(std::span<const PairInput> pairs, const EngagementGraph* graph) const;

  // Unit vectors [n x dim] of queries in one language, in the shared space.
  Result<std::vector<float>> encode_queries(std::span<const std::string> queries, std::string_view locale) const;

  int outputs() const;  // kClasses: the class count; otherwise 1
  const ClassifierConfig& config() const;
  const std::vector<std::string>& finetuned_locales() const;
  std::int64_t parameters() const;

  // The verdict of its validation gate (aisle::LayerVerdict as JSON), saved in the model file's
  // header; null for a model never validated. Not thread-safe with itself.
  const nlohmann::json& validation() const;
  void set_validation(nlohmann::json verdict);

  struct Impl;

 private:
  explicit RelevanceClassifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::models
