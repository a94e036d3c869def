// The only translation unit of the encoders that includes torch.
#include "aisle/models/text_encoder.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "aisle/core/files.h"
#include "model_file.h"
#include "torch_layers.h"

namespace aisle::models {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'E', 'N', 'C'};
constexpr std::uint32_t kFormatVersion = 1;

struct NetImpl : torch::nn::Module {
  explicit NetImpl(const EncoderConfig& config) {
    embedding = register_module(
        "embedding", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(config.features.buckets, config.embedding_dim)
                                                 .mode(torch::kSum)));
    torch::NoGradGuard no_grad;
    embedding->weight.normal_(0, 0.1);
    query = register_module("query", Tower(config, config.features.max_query_tokens));
    product = register_module("product", Tower(config, config.features.max_product_tokens));
  }
  torch::nn::EmbeddingBag embedding{nullptr};
  Tower query{nullptr}, product{nullptr};
};
TORCH_MODULE(Net);

}  // namespace

Status check_config(const EncoderConfig& config) {
  if (config.dim < 2 || config.dim > 4096) return Status::bad_input("encoder dim must be in 2..4096");
  if (config.embedding_dim < 2 || config.embedding_dim > 4096) return Status::bad_input("embedding_dim must be in 2..4096");
  if (config.hidden < 1 || config.hidden > 16384) return Status::bad_input("hidden must be in 1..16384");
  if (config.features.buckets < 16 || config.features.buckets > (1 << 26)) {
    return Status::bad_input("feature buckets must be in 16..2^26");
  }
  if (config.features.max_query_tokens < 1 || config.features.max_product_tokens < 1 ||
      config.features.max_query_tokens > 512 || config.features.max_product_tokens > 512) {
    return Status::bad_input("max tokens must be in 1..512");
  }
  if (config.architecture == Architecture::kTransformer) {
    if (config.layers < 1 || config.layers > 12) return Status::bad_input("transformer layers must be in 1..12");
    if (config.heads < 1 || config.embedding_dim % config.heads != 0) {
      return Status::bad_input("embedding_dim must be a multiple of heads");
    }
  }
  return Status::ok();
}

struct TextEncoder::Impl {
  EncoderConfig config;
  nlohmann::json validation;
  Net net{nullptr};
  mutable std::mutex featurizer_mutex;
  mutable std::unique_ptr<Featurizer> featurizer;
  mutable std::mutex forward_mutex;  // train() vs encode(): modules switch train/eval mode

  torch::Tensor forward(Tower& tower, const std::vector<const Features*>& texts) {
    return encode_texts(tower, net->embedding, texts, config);
  }

  // Unit vectors of featurized texts, row-major [n x dim], in chunks.
  std::vector<float> encode(Tower& tower, const std::vector<Features>& features) {
    std::vector<float> out(features.size() * static_cast<std::size_t>(config.dim));
    torch::InferenceMode inference;
    std::lock_guard lock(forward_mutex);
    constexpr std::size_t kChunk = 512;
    for (std::size_t begin = 0; begin < features.size(); begin += kChunk) {
      std::vector<const Features*> chunk;
      for (std::size_t i = begin; i < std::min(features.size(), begin + kChunk); ++i) chunk.push_back(&features[i]);
      torch::Tensor vectors = forward(tower, chunk).contiguous();
      std::memcpy(out.data() + begin * config.dim, vectors.data_ptr<float>(),
                  static_cast<std::size_t>(vectors.numel()) * sizeof(float));
    }
    return out;
  }

  Featurizer& features() const {
    if (!featurizer) featurizer = std::make_unique<Featurizer>(config.features);
    return *featurizer;
  }
};

const char* architecture_name(Architecture architecture) {
  return architecture == Architecture::kPooled ? "pooled" : "transformer";
}

Result<Architecture> parse_architecture(std::string_view name) {
  if (name == "pooled") return Architecture::kPooled;
  if (name == "transformer") return Architecture::kTransformer;
  return Status::bad_input("unknown encoder architecture '" + std::string(name) + "' (pooled, transformer)");
}

nlohmann::json config_to_json(const EncoderConfig& config) {
  return {{"architecture", architecture_name(config.architecture)},
          {"dim", config.dim},
          {"embedding_dim", config.embedding_dim},
          {"hidden", config.hidden},
          {"layers", config.layers},
          {"heads", config.heads},
          {"features", feature_options_to_json(config.features)}};
}

Result<EncoderConfig> config_from_json(const nlohmann::json& json) {
  EncoderConfig config;
  try {
    AISLE_ASSIGN_OR_RETURN(config.architecture, parse_architecture(json.at("architecture").get<std::string>()));
    config.dim = json.at("dim").get<int>();
    config.embedding_dim = json.at("embedding_dim").get<int>();
    config.hidden = json.at("hidden").get<int>();
    config.layers = json.at("layers").get<int>();
    config.heads = json.at("heads").get<int>();
    AISLE_ASSIGN_OR_RETURN(config.features, feature_options_from_json(json.at("features")));
  } catch (const nlohmann::json::exception& error) {
    return Status::bad_input(std::string("encoder config: ") + error.what());
  }
  AISLE_RETURN_IF_ERROR(check_config(config));
  return config;
}

TextEncoder::TextEncoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TextEncoder::~TextEncoder() = default;

Result<std::unique_ptr<TextEncoder>> TextEncoder::create(const EncoderConfig& config, const Context& context) {
  AISLE_RETURN_IF_ERROR(check_config(config));
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->net = Net(config);
  impl->net->eval();
  return std::unique_ptr<TextEncoder>(new TextEncoder(std::move(impl)));
}

Status TextEncoder::save(const std::filesystem::path& path) const {
  std::lock_guard lock(impl_->forward_mutex);
  std::ostringstream archive_bytes;
  try {
    torch::serialize::OutputArchive archive;
    impl_->net->save(archive);
    archive.save_to(archive_bytes);
  } catch (const std::exception& error) {
    return Status::internal(std::string("cannot serialize the encoder: ") + error.what());
  }
  nlohmann::json header = config_to_json(impl_->config);
  if (!impl_->validation.is_null()) header["validation"] = impl_->validation;
  return write_model_file(path, kMagic, kFormatVersion, header, archive_bytes.str());
}

const nlohmann::json& TextEncoder::validation() const { return impl_->validation; }
void TextEncoder::set_validation(nlohmann::json verdict) { impl_->validation = std::move(verdict); }

Result<std::unique_ptr<TextEncoder>> TextEncoder::load(const std::filesystem::path& path, const Context& context) {
  AISLE_ASSIGN_OR_RETURN(ModelFile file, read_model_file(path, kMagic, kFormatVersion, "encoder"));
  auto corrupt = [&](const std::string& what) { return Status::corruption(path.string() + ": " + what); };
  auto config = config_from_json(file.header);
  if (!config.is_ok()) return corrupt(config.status().message());
  AISLE_ASSIGN_OR_RETURN(auto encoder, create(*config, context));
  try {
    std::istringstream archive_bytes(file.weights);
    torch::serialize::InputArchive archive;
    archive.load_from(archive_bytes);
    encoder->impl_->net->load(archive);
  } catch (const std::exception& error) {
    return corrupt(std::string("weights do not load: ") + error.what());
  }
  encoder->impl_->net->eval();
  if (file.header.is_object() && file.header.contains("validation")) encoder->impl_->validation = file.header["validation"];
  return encoder;
}

Result<TrainReport> TextEncoder::train(const TrainingSet& data, const TrainOptions& options, const Context& context) {
  if (data.query_locales.size() != data.queries.size()) return Status::bad_input("one locale per training query is needed");
  if (options.batch_size < 2) return Status::bad_input("batch_size must be at least 2");
  if (!(options.positive_grade > 0 && options.positive_grade <= 1)) {
    return Status::bad_input("positive_grade must be in (0, 1]");
  }
  for (const TrainingPair& pair : data.pairs) {
    if (pair.query >= data.queries.size() || pair.product >= data.products.size()) {
      return Status::bad_input("a training pair refers to a query or product that is not in the set");
    }
  }
  std::lock_guard lock(impl_->forward_mutex);
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());

  // Featurize every text once.
  std::vector<Features> query_features(data.queries.size()), product_features(data.products.size());
  {
    std::lock_guard features_lock(impl_->featurizer_mutex);
    Featurizer& featurizer = impl_->features();
    for (std::size_t i = 0; i < data.queries.size(); ++i) {
      AISLE_RETURN_IF_ERROR(featurizer.query(data.queries[i], data.query_locales[i], &query_features[i]));
    }
    for (std::size_t i = 0; i < data.products.size(); ++i) {
      AISLE_RETURN_IF_ERROR(featurizer.product(data.products[i], &product_features[i]));
    }
  }

  struct Positive {
    std::uint32_t query, product;
    float weight;
  };
  std::vector<Positive> positives;
  std::unordered_set<std::uint64_t> positive_pairs;
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> poor;  // query -> poorly graded products
  TrainReport report;
  for (const TrainingPair& pair : data.pairs) {
    if (pair.grade >= options.positive_grade) {
      positives.push_back(Positive{pair.query, pair.product, std::clamp(pair.grade, 0.05f, 1.0f)});
      positive_pairs.insert((std::uint64_t{pair.query} << 32) | pair.product);
    } else {
      poor[pair.query].push_back(pair.product);
      ++report.hard_negatives;
    }
  }
  report.positives = static_cast<std::int64_t>(positives.size());
  if (positives.empty()) return Status::bad_input("no training pair is graded at or above the positive grade");

  Net& net = impl_->net;
  net->train();
  torch::optim::Adam optimizer(net->parameters(), torch::optim::AdamOptions(options.learning_rate));
  std::mt19937_64 rng(context.seed());
  const float inverse_temperature = static_cast<float>(1.0 / options.temperature);
  const std::size_t batch_size = static_cast<std::size_t>(options.batch_size);

  // Titles split into words, for pseudo-queries.
  std::vector<std::vector<std::string>> title_words;
  if (options.pseudo_query_grade > 0) {
    title_words.resize(data.products.size());
    for (std::size_t i = 0; i < data.products.size(); ++i) {
      std::istringstream words(data.products[i].title);
      for (std::string word; words >> word;) title_words[i].push_back(word);
    }
  }
  const std::size_t judged_queries = query_features.size();
  const std::size_t judged_positives = positives.size();

  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    // This epoch's pseudo-queries replace the last epoch's.
    query_features.resize(judged_queries);
    positives.erase(std::remove_if(positives.begin(), positives.end(),
                                   [&](const Positive& p) { return p.query >= judged_queries; }),
                    positives.end());
    if (!title_words.empty()) {
      std::lock_guard features_lock(impl_->featurizer_mutex);
      Featurizer& featurizer = impl_->features();
      Features features;
      for (std::size_t i = 0; i < title_words.size(); ++i) {
        const auto& words = title_words[i];
        if (words.size() < 2) continue;
        const std::size_t length = 1 + rng() % std::min<std::size_t>(4, words.size());
        const std::size_t first = rng() % (words.size() - length + 1);
        std::string pseudo = words[first];
        for (std::size_t w = first + 1; w < first + length; ++w) pseudo += " " + words[w];
        AISLE_RETURN_IF_ERROR(featurizer.query(pseudo, data.products[i].locale, &features));
        if (features.tokens() == 0) continue;
        positives.push_back(Positive{static_cast<std::uint32_t>(query_features.size()), static_cast<std::uint32_t>(i),
                                     options.pseudo_query_grade});
        query_features.push_back(features);
      }
      report.pseudo_queries_per_epoch = static_cast<std::int64_t>(positives.size() - judged_positives);
    }
    std::shuffle(positives.begin(), positives.end(), rng);
    double loss_sum = 0;
    int batches = 0;
    for (std::size_t begin = 0; begin < positives.size(); begin += batch_size) {
      const std::size_t end = std::min(positives.size(), begin + batch_size);
      if (end - begin < 2) break;
      std::vector<const Features*> queries, products;
      std::vector<std::uint32_t> query_ids, product_ids;
      std::vector<float> weights;
      for (std::size_t i = begin; i < end; ++i) {
        queries.push_back(&query_features[positives[i].query]);
        products.push_back(&product_features[positives[i].product]);
        query_ids.push_back(positives[i].query);
        product_ids.push_back(positives[i].product);
        weights.push_back(positives[i].weight);
      }
      const std::size_t b = end - begin;
      for (std::size_t i = 0; i < b && options.hard_negatives_per_query > 0; ++i) {
        auto it = poor.find(query_ids[i]);
        if (it == poor.end()) continue;
        for (int h = 0; h < options.hard_negatives_per_query && h < static_cast<int>(it->second.size()); ++h) {
          std::uint32_t product = it->second[rng() % it->second.size()];
          products.push_back(&product_features[product]);
          product_ids.push_back(product);
        }
      }
      const std::size_t m = products.size();
      // A candidate is not a negative for a query it is relevant to, nor the same product as
      // the query's own positive.
      std::vector<float> mask(b * m, 0.0f);
      for (std::size_t i = 0; i < b; ++i) {
        for (std::size_t j = 0; j < m; ++j) {
          if (j == i) continue;
          if (product_ids[j] == product_ids[i] ||
              positive_pairs.contains((std::uint64_t{query_ids[i]} << 32) | product_ids[j])) {
            mask[i * m + j] = -1e4f;
          }
        }
      }
      torch::Tensor q = impl_->forward(net->query, queries);
      torch::Tensor p = impl_->forward(net->product, products);
      torch::Tensor mask_tensor = torch::tensor(mask).view({static_cast<long>(b), static_cast<long>(m)});
      torch::Tensor logits = torch::mm(q, p.t()) * inverse_temperature + mask_tensor;
      torch::Tensor targets = torch::arange(static_cast<long>(b), torch::kLong);
      torch::Tensor w = torch::tensor(weights);
      torch::Tensor forward_loss = torch::nn::functional::cross_entropy(
          logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      torch::Tensor backward_logits = logits.slice(1, 0, static_cast<long>(b)).t();
      torch::Tensor backward_loss = torch::nn::functional::cross_entropy(
          backward_logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
      torch::Tensor loss = ((forward_loss + backward_loss) * w).sum() / (2 * w.sum());
      optimizer.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), 5.0);
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    const double mean_loss = batches > 0 ? loss_sum / batches : 0.0;
    report.epoch_loss.push_back(mean_loss);
    report.epoch_seconds.push_back(seconds);
    ++report.epochs;
    if (options.on_epoch) options.on_epoch(epoch + 1, mean_loss, seconds);
  }
  net->eval();
  return report;
}

Result<std::vector<float>> TextEncoder::encode_queries(std::span<const std::string> queries, std::string_view locale) const {
  std::vector<Features> features(queries.size());
  {
    std::lock_guard lock(impl_->featurizer_mutex);
    for (std::size_t i = 0; i < queries.size(); ++i) {
      AISLE_RETURN_IF_ERROR(impl_->features().query(queries[i], locale, &features[i]));
    }
  }
  return impl_->encode(impl_->net->query, features);
}

Result<std::vector<float>> TextEncoder::encode_products(std::span<const text::Document> products) const {
  std::vector<Features> features(products.size());
  {
    std::lock_guard lock(impl_->featurizer_mutex);
    for (std::size_t i = 0; i < products.size(); ++i) {
      AISLE_RETURN_IF_ERROR(impl_->features().product(products[i], &features[i]));
    }
  }
  return impl_->encode(impl_->net->product, features);
}

void TextEncoder::set_threads(int threads) { torch::set_num_threads(std::max(threads, 1)); }

int TextEncoder::dim() const { return impl_->config.dim; }
const EncoderConfig& TextEncoder::config() const { return impl_->config; }

std::int64_t TextEncoder::parameters() const {
  std::int64_t total = 0;
  for (const torch::Tensor& parameter : impl_->net->parameters()) total += parameter.numel();
  return total;
}

}  // namespace aisle::models
