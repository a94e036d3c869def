// A two-tower text encoder trained from the catalog, judgments and engagement, on CPU.
//
// Both towers read hashed features (featurizer.h) through one shared embedding table, so a
// query word and the same word in a title start from the same vector; each tower then has its
// own layers:
//  - kPooled: a weighted mean of the feature embeddings, then a two-layer feed-forward stack
//    with a linear shortcut;
//  - kTransformer: one vector per token (the mean of its features), a learned position
//    embedding, transformer encoder layers, a masked mean over tokens, then a linear layer.
// The output is L2-normalized: the cosine of a query and a product vector is their match score.
//
// Training: each batch holds pairs (query, product) judged relevant, and pseudo-queries drawn
// from product titles (see TrainOptions). Every other product of the
// batch is a negative for a query (in-batch negatives), and so are the products judged poor
// for the batch's queries (hard negatives from graded labels). The loss is the softmax cross
// entropy over those candidates at a fixed temperature, both ways (query -> products and
// product -> queries), each pair weighted by its grade; products relevant to the same query
// are masked out of each other's negatives. Adam, fixed learning rate, gradient clipping.
//
// Determinism: the same data, config, seed and thread count give the same weights (the seed and
// thread count come from the Context; torch's intra-op threads are set from it).
//
// Files: save() writes a header ("AISLEENC", format version, the config as JSON) followed by
// the torch::save archive of the weights, atomically. load() checks the header and version.
//
// Thread safety: encode_* may be called from several threads (featurization is serialized
// inside); train() must not run concurrently with anything else on the same encoder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/featurizer.h"
#include "aisle/text/document.h"

namespace aisle::models {

enum class Architecture { kPooled, kTransformer };
const char* architecture_name(Architecture architecture);
Result<Architecture> parse_architecture(std::string_view name);

struct EncoderConfig {
  Architecture architecture = Architecture::kPooled;
  int dim = 64;            // output vector size
  int embedding_dim = 64;   // feature embedding size (and the transformer's width)
  int hidden = 256;         // feed-forward width
  int layers = 1;           // transformer encoder layers
  int heads = 4;
  FeatureOptions features;
};

// kBadInput naming the first field out of range.
Status check_config(const EncoderConfig& config);
nlohmann::json config_to_json(const EncoderConfig& config);
Result<EncoderConfig> config_from_json(const nlohmann::json& json);

// Training data: queries and products by position; pairs refer to them.
struct TrainingPair {
  std::uint32_t query = 0;
  std::uint32_t product = 0;
  float grade = 0;  // 0 (irrelevant) .. 1 (a perfect match)
};

struct TrainingSet {
  std::vector<std::string> queries;
  std::vector<std::string> query_locales;  // one per query
  std::vector<text::Document> products;
  std::vector<TrainingPair> pairs;
};

struct TrainOptions {
  int epochs = 5;
  int batch_size = 256;
  double learning_rate = 2e-3;
  double temperature = 0.05;
  // Pairs graded at or above `positive_grade` are positives, weighted by their grade; pairs
  // below are hard negatives of their query.
  float positive_grade = 0.5f;
  int hard_negatives_per_query = 2;
  // Self-supervision from the catalog text alone: each epoch, every product with a title of two
  // or more words also gets a pseudo-query, a random span of 1-4 words of its title, as a
  // positive of this grade (0 switches it off). Judged pairs are few; this teaches every word
  // of the catalog, including those of products no judgment mentions.
  float pseudo_query_grade = 0.5f;
  // Called after each epoch with (epoch, mean loss, seconds); may be empty.
  std::function<void(int, double, double)> on_epoch;
};

struct TrainReport {
  int epochs = 0;
  std::int64_t positives = 0;
  std::int64_t hard_negatives = 0;
  std::int64_t pseudo_queries_per_epoch = 0;
  std::vector<double> epoch_loss;
  std::vector<double> epoch_seconds;
};

class TextEncoder {
 public:
  // A randomly initialized encoder (seeded from the context). kBadInput on a bad config.
  static Result<std::unique_ptr<TextEncoder>> create(const EncoderConfig& config, const Context& context);
  // kNotFound for a missing file; kCorruption for a wrong header, version or archive.
  static Result<std::unique_ptr<TextEncoder>> load(const std::filesystem::path& path, const Context& context);
  ~TextEncoder();

  Status save(const std::filesystem::path& path) const;

  // kBadInput when a pair refers to a missing query or product or no pair is a positive.
  Result<TrainReport> train(const TrainingSet& data, const TrainOptions& options, const Context& context);

  // Row-major [n x dim()] unit vectors. kBadInput for a locale no analyzer knows. An empty text
  // (or one with no tokens) encodes to the tower's vector of nothing, still unit length.
  Result<std::vector<float>> encode_queries(std::span<const std::string> queries, std::string_view locale) const;
  Result<std::vector<float>> encode_products(std::span<const text::Document> products) const;

  // Sets the intra-op threads of every encoder in the process (torch's setting is global);
  // create, load and train set it from their Context.
  static void set_threads(int threads);

  int dim() const;
  const EncoderConfig& config() const;
  std::int64_t parameters() const;

  // The verdict of its validation gate (aisle::LayerVerdict as JSON), saved in the model file's
  // header; null for a model never validated. Not thread-safe with itself.
  const nlohmann::json& validation() const;
  void set_validation(nlohmann::json verdict);

  struct Impl;

 private:
  explicit TextEncoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::models
