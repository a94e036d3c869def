// The relevance classifier's torch code (see relevance_classifier.h for the model).
#include "aisle/models/relevance_classifier.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include "aisle/core/files.h"
#include "model_file.h"
#include "torch_layers.h"

namespace aisle::models {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'C', 'L', 'S'};
constexpr std::uint32_t kFormatVersion = 1;
// The text branch's own loss, added to the fused loss with this weight, keeps the text
// classifier good on its own: many evaluated queries have no neighbours in the graph.
constexpr double kTextLossWeight = 0.5;
// The share of training centres whose own text the GNN sees as empty (node dropout): a centre
// must be placed by its neighbours too, as a query with no known words is at prediction time.
constexpr double kCentreDropout = 0.5;
// The share of training pairs whose query the graph is made not to know (no node, no
// neighbours): a new query at prediction time has none, and without this the fused model only
// ever saw known queries and labels every pair of an unseen query Irrelevant (measured on the
// teaching sample: "running shoes" x a running shoe -> I 0.97).
constexpr double kUnseenQueryShare = 0.3;

int output_count(const ClassifierConfig& config) {
  return config.mode == LabelMode::kClasses ? static_cast<int>(config.class_names.size()) : 1;
}

Status check_classifier_config(const ClassifierConfig& config) {
  AISLE_RETURN_IF_ERROR(check_config(config.encoder));
  if (config.encoder.architecture != Architecture::kPooled) {
    return Status::bad_input("the relevance classifier supports the pooled encoder architecture only");
  }
  if (config.mode == LabelMode::kClasses && (config.class_names.size() < 2 || config.class_names.size() > 64)) {
    return Status::bad_input("a class label mode needs 2..64 class names");
  }
  if (config.head_hidden < 1 || config.head_hidden > 8192) return Status::bad_input("head_hidden must be in 1..8192");
  if (config.graph.hop1_cap < 1 || config.graph.hop1_cap > 1000 || config.graph.hop2_cap < 0 ||
      config.graph.hop2_cap > 1000) {
    return Status::bad_input("graph caps must be in 1..1000 (hop 1) and 0..1000 (hop 2)");
  }
  if (config.graph.hidden < 1 || config.graph.hidden > 8192) return Status::bad_input("graph hidden must be in 1..8192");
  return Status::ok();
}

// The encoders: one embedding table, a query and a product tower per language.
struct EncoderNetImpl : torch::nn::Module {
  EncoderNetImpl(const EncoderConfig& config, const std::vector<std::string>& languages) {
    embedding = register_module(
        "embedding", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(config.features.buckets, config.embedding_dim)
                                                 .mode(torch::kSum)));
    torch::NoGradGuard no_grad;
    embedding->weight.normal_(0, 0.1);
    for (const std::string& language : languages) {
      query_towers.emplace(language, register_module("query_" + language, Tower(config, config.features.max_query_tokens)));
      product_towers.emplace(language,
                             register_module("product_" + language, Tower(config, config.features.max_product_tokens)));
    }
    // Zero biases: with the default initialization the biases outweigh the small bag means,
    // and every text starts at nearly the same vector, which leaves the graph (whose node
    // inputs are these vectors) nothing to tell nodes apart by until the text loss separates
    // them.
    for (auto& item : named_parameters()) {
      if (item.key().find("bias") != std::string::npos) item.value().zero_();
    }
  }
  torch::nn::EmbeddingBag embedding{nullptr};
  std::map<std::string, Tower> query_towers, product_towers;
};
TORCH_MODULE(EncoderNet);

// Classifier, GNN and attention: the part fine-tuned per locale.
struct HeadImpl : torch::nn::Module {
  explicit HeadImpl(const ClassifierConfig& config) : rich(config.rich_interaction) {
    const int d = config.encoder.dim, h = config.head_hidden, g = config.graph.hidden, out = output_count(config);
    text_hidden = register_module("text_hidden", torch::nn::Linear((rich ? 4 : 1) * d, h));
    text_out = register_module("text_out", torch::nn::Linear(h, out));
    query_layer1 = register_module("query_layer1", torch::nn::Linear(2 * d + 1, g));
    product_layer1 = register_module("product_layer1", torch::nn::Linear(2 * d + 1, g));
    query_layer2 = register_module("query_layer2", torch::nn::Linear(2 * g, g));
    product_layer2 = register_module("product_layer2", torch::nn::Linear(2 * g, g));
    graph_hidden = register_module("graph_hidden", torch::nn::Linear(4 * g, g));
    graph_out = register_module("graph_out", torch::nn::Linear(g, out));
    gate = register_module("gate", torch::nn::Linear(h + g + 2, 2));
    dropout = register_module("dropout", torch::nn::Dropout(0.1));
  }
  bool rich;
  torch::nn::Linear text_hidden{nullptr}, text_out{nullptr}, query_layer1{nullptr}, product_layer1{nullptr},
      query_layer2{nullptr}, product_layer2{nullptr}, graph_hidden{nullptr}, graph_out{nullptr}, gate{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Head);

// The 2-hop neighbourhoods of a batch's centre nodes, as index tensors over a local table of
// node vectors: rows 0..C-1 are the centres' own (live) vectors, rows C.. the graph nodes in
// `fetch` order.
struct Neighbourhoods {
  std::vector<std::pair<bool, std::uint32_t>> fetch;  // (is_query, graph index)
  // Layer 1, one request per node whose h1 is needed (the centres first, in order).
  std::vector<std::int64_t> self_row;
  std::vector<std::uint8_t> is_query;
  std::vector<float> log_degree;
  std::vector<std::int64_t> agg1_request, agg1_row;
  std::vector<float> agg1_weight;
  // Layer 2, centres only: weighted means of their neighbours' h1 (request indices).
  std::vector<std::int64_t> agg2_centre, agg2_request;
  std::vector<float> agg2_weight;
};

struct Centre {
  bool is_query = true;
  std::optional<std::uint32_t> node;    // graph index when the graph has the node
  std::optional<std::uint32_t> masked;  // a neighbour to leave out (the pair's own edge)
};

// Fills the neighbourhoods of `centres` (heaviest neighbours first, capped).
Neighbourhoods build_neighbourhoods(const EngagementGraph& graph, const GraphConfig& config,
                                    const std::vector<Centre>& centres) {
  Neighbourhoods out;
  const std::int64_t c = static_cast<std::int64_t>(centres.size());
  std::map<std::pair<bool, std::uint32_t>, std::int64_t> rows;
  auto row_of = [&](bool is_query, std::uint32_t node) {
    auto [it, inserted] = rows.try_emplace({is_query, node}, c + static_cast<std::int64_t>(out.fetch.size()));
    if (inserted) out.fetch.emplace_back(is_query, node);
    return it->second;
  };
  auto neighbours = [&](bool is_query, std::uint32_t node) -> const std::vector<std::pair<std::uint32_t, float>>& {
    return is_query ? graph.query_neighbours(node) : graph.product_neighbours(node);
  };
  // Adds a layer-1 request for a node: its own row and its capped neighbours (weights sum to 1).
  auto add_request = [&](std::int64_t self, bool is_query, std::optional<std::uint32_t> node,
                         std::optional<std::uint32_t> masked, int cap) {
    const std::int64_t request = static_cast<std::int64_t>(out.self_row.size());
    out.self_row.push_back(self);
    out.is_query.push_back(is_query ? 1 : 0);
    std::vector<std::pair<std::uint32_t, float>> kept;
    // The degree after the mask. Training masks one edge of every centre that has any (the
    // pair's own, or a random one; see train()), so the masked degree says nothing about the
    // label; the full degree would (a product whose only edge is the labelled pair).
    std::size_t degree = 0;
    if (node) {
      for (const auto& [neighbour, weight] : neighbours(is_query, *node)) {
        if (masked && neighbour == *masked) continue;
        ++degree;
        if (static_cast<int>(kept.size()) < cap) kept.emplace_back(neighbour, weight);
      }
    }
    out.log_degree.push_back(static_cast<float>(std::log1p(static_cast<double>(degree))));
    float total = 0;
    for (const auto& edge : kept) total += edge.second;
    for (const auto& [neighbour, weight] : kept) {
      out.agg1_request.push_back(request);
      out.agg1_row.push_back(row_of(!is_query, neighbour));
      out.agg1_weight.push_back(weight / total);
    }
    return std::make_pair(request, kept);
  };
  std::vector<std::vector<std::pair<std::uint32_t, float>>> centre_neighbours(centres.size());
  for (std::size_t i = 0; i < centres.size(); ++i) {
    auto [request, kept] = add_request(static_cast<std::int64_t>(i), centres[i].is_query, centres[i].node,
                                       centres[i].masked, config.hop1_cap);
    centre_neighbours[i] = std::move(kept);
  }
  for (std::size_t i = 0; i < centres.size(); ++i) {
    float total = 0;
    for (const auto& edge : centre_neighbours[i]) total += edge.second;
    for (const auto& [neighbour, weight] : centre_neighbours[i]) {
      // The neighbour's own neighbourhood leaves out the centre's masked edge too.
      std::optional<std::uint32_t> masked;
      if (centres[i].masked && centres[i].node && neighbour == *centres[i].masked) masked = centres[i].node;
      auto [request, kept] = add_request(row_of(!centres[i].is_query, neighbour), !centres[i].is_query, neighbour,
                                         masked, config.hop2_cap);
      out.agg2_centre.push_back(static_cast<std::int64_t>(i));
      out.agg2_request.push_back(request);
      out.agg2_weight.push_back(weight / total);
    }
  }
  return out;
}

torch::Tensor long_tensor(const std::vector<std::int64_t>& values) { return torch::tensor(values, torch::kLong); }
torch::Tensor float_tensor(const std::vector<float>& values) { return torch::tensor(values, torch::kFloat); }

// h2 of the centres [C, g] and their log-degrees [C, 1] from the local node table [T, d].
std::pair<torch::Tensor, torch::Tensor> graph_forward(Head& head, const Neighbourhoods& n, const torch::Tensor& table,
                                                      std::int64_t centres) {
  const std::int64_t requests = static_cast<std::int64_t>(n.self_row.size());
  const std::int64_t d = table.size(1);
  torch::Tensor agg1 = torch::zeros({requests, d});
  if (!n.agg1_row.empty()) {
    agg1 = agg1.index_add(0, long_tensor(n.agg1_request),
                          table.index_select(0, long_tensor(n.agg1_row)) * float_tensor(n.agg1_weight).unsqueeze(1));
  }
  torch::Tensor log_degree = float_tensor(n.log_degree).unsqueeze(1);
  torch::Tensor input1 = torch::cat({table.index_select(0, long_tensor(n.self_row)), agg1, log_degree}, 1);
  torch::Tensor query_mask =
      torch::tensor(std::vector<std::int64_t>(n.is_query.begin(), n.is_query.end()), torch::kLong).to(torch::kBool).unsqueeze(1);
  torch::Tensor h1 = torch::where(query_mask, torch::relu(head->query_layer1(input1)), torch::relu(head->product_layer1(input1)));
  const std::int64_t g = h1.size(1);
  torch::Tensor agg2 = torch::zeros({centres, g});
  if (!n.agg2_request.empty()) {
    agg2 = agg2.index_add(0, long_tensor(n.agg2_centre),
                          h1.index_select(0, long_tensor(n.agg2_request)) * float_tensor(n.agg2_weight).unsqueeze(1));
  }
  torch::Tensor input2 = torch::cat({h1.slice(0, 0, centres), agg2}, 1);
  torch::Tensor centre_mask = query_mask.slice(0, 0, centres);
  torch::Tensor h2 = torch::where(centre_mask, torch::relu(head->query_layer2(input2)), torch::relu(head->product_layer2(input2)));
  return {h2, log_degree.slice(0, 0, centres)};
}

std::atomic<std::uint64_t> next_graph_serial{1};

std::string to_lower_collapsed(std::string_view text) {
  std::string out;
  bool space = false;
  for (char ch : text) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ', space = false;
    out += (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  }
  return out;
}

}  // namespace

const char* label_mode_name(LabelMode mode) {
  switch (mode) {
    case LabelMode::kClasses: return "classes";
    case LabelMode::kGraded: return "graded";
    case LabelMode::kBinary: return "binary";
  }
  return "classes";
}

Result<LabelMode> parse_label_mode(std::string_view name) {
  if (name == "classes") return LabelMode::kClasses;
  if (name == "graded") return LabelMode::kGraded;
  if (name == "binary") return LabelMode::kBinary;
  return Status::bad_input("unknown label mode '" + std::string(name) + "' (classes, graded, binary)");
}

float engagement_weight(std::string_view kind) {
  if (kind == "click") return 1;
  if (kind == "add_to_cart") return 2;
  if (kind == "purchase") return 4;
  if (kind == "E") return 4;
  if (kind == "S") return 2;
  if (kind == "C") return 1;
  return 0;
}

std::string query_key(std::string_view text, std::string_view locale) {
  return std::string(locale) + '\t' + to_lower_collapsed(text);
}

EngagementGraph::EngagementGraph(RelevanceData data) : data_(std::move(data)) {
  query_neighbours_.resize(data_.queries.size());
  product_neighbours_.resize(data_.products.size());
  std::map<std::pair<std::uint32_t, std::uint32_t>, float> weights;
  for (const Engagement& e : data_.engagement) {
    if (e.query >= data_.queries.size() || e.product >= data_.products.size() || !(e.weight > 0)) continue;
    weights[{e.query, e.product}] += e.weight;
  }
  for (const auto& [edge, weight] : weights) {
    query_neighbours_[edge.first].emplace_back(edge.second, weight);
    product_neighbours_[edge.second].emplace_back(edge.first, weight);
  }
  auto heaviest_first = [](auto& lists) {
    for (auto& list : lists) {
      std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    }
  };
  heaviest_first(query_neighbours_);
  heaviest_first(product_neighbours_);
  edges_ = weights.size();
  for (std::uint32_t q = 0; q < data_.queries.size(); ++q) {
    const std::string& locale = q < data_.query_locales.size() ? data_.query_locales[q] : std::string();
    query_keys_.try_emplace(query_key(data_.queries[q], locale), q);
  }
  for (std::uint32_t p = 0; p < data_.products.size(); ++p) product_keys_.try_emplace(data_.products[p].external_id, p);
  serial_ = next_graph_serial++;
}

std::optional<std::uint32_t> EngagementGraph::find_query(std::string_view text, std::string_view locale) const {
  auto it = query_keys_.find(query_key(text, locale));
  if (it == query_keys_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint32_t> EngagementGraph::find_product(std::string_view external_id) const {
  auto it = product_keys_.find(std::string(external_id));
  if (it == product_keys_.end()) return std::nullopt;
  return it->second;
}

nlohmann::json classifier_config_to_json(const ClassifierConfig& config) {
  return {{"mode", label_mode_name(config.mode)},
          {"class_names", config.class_names},
          {"languages", config.languages},
          {"encoder", config_to_json(config.encoder)},
          {"head_hidden", config.head_hidden},
          {"rich_interaction", config.rich_interaction},
          {"graph",
           {{"enabled", config.graph.enabled},
            {"hop1_cap", config.graph.hop1_cap},
            {"hop2_cap", config.graph.hop2_cap},
            {"hidden", config.graph.hidden}}}};
}

Result<ClassifierConfig> classifier_config_from_json(const nlohmann::json& json) {
  ClassifierConfig config;
  try {
    AISLE_ASSIGN_OR_RETURN(config.mode, parse_label_mode(json.at("mode").get<std::string>()));
    config.class_names = json.at("class_names").get<std::vector<std::string>>();
    config.languages = json.at("languages").get<std::vector<std::string>>();
    AISLE_ASSIGN_OR_RETURN(config.encoder, config_from_json(json.at("encoder")));
    config.head_hidden = json.at("head_hidden").get<int>();
    config.rich_interaction = json.at("rich_interaction").get<bool>();
    const nlohmann::json& graph = json.at("graph");
    config.graph.enabled = graph.at("enabled").get<bool>();
    config.graph.hop1_cap = graph.at("hop1_cap").get<int>();
    config.graph.hop2_cap = graph.at("hop2_cap").get<int>();
    config.graph.hidden = graph.at("hidden").get<int>();
  } catch (const nlohmann::json::exception& error) {
    return Status::bad_input(std::string("classifier config: ") + error.what());
  }
  AISLE_RETURN_IF_ERROR(check_classifier_config(config));
  return config;
}

struct RelevanceClassifier::Impl {
  ClassifierConfig config;
  nlohmann::json validation;
  EncoderNet encoder{nullptr};
  Head head{nullptr};
  std::map<std::string, Head> finetuned;  // locale -> head
  std::vector<std::string> finetuned_locales;
  mutable std::mutex mutex;  // featurizer, train/eval modes, the node cache
  mutable std::unique_ptr<Featurizer> featurizer;
  // Text vectors of graph nodes, for predict(); valid for one graph (by serial).
  mutable std::uint64_t cache_serial = 0;
  mutable std::map<std::pair<bool, std::uint32_t>, std::vector<float>> node_cache;

  Featurizer& features() const {
    if (!featurizer) featurizer = std::make_unique<Featurizer>(config.encoder.features);
    return *featurizer;
  }

  Status check_language(std::string_view language) const {
    if (encoder->query_towers.count(std::string(language)) == 0) {
      std::string known;
      for (const auto& [name, tower] : encoder->query_towers) known += (known.empty() ? "" : ", ") + name;
      return Status::bad_input("the classifier has no encoders for locale '" + std::string(language) +
                               "' (it knows: " + known + ")");
    }
    return Status::ok();
  }

  // Encodes texts grouped by language, in input order: [n, d].
  torch::Tensor encode(bool queries, const std::vector<const Features*>& texts, const std::vector<std::string_view>& languages) {
    const std::int64_t n = static_cast<std::int64_t>(texts.size());
    if (n == 0) return torch::zeros({0, config.encoder.dim});
    std::map<std::string_view, std::vector<std::int64_t>> by_language;
    for (std::int64_t i = 0; i < n; ++i) by_language[languages[static_cast<std::size_t>(i)]].push_back(i);
    if (by_language.size() == 1) {
      Tower& tower = (queries ? encoder->query_towers : encoder->product_towers).at(std::string(by_language.begin()->first));
      return encode_texts(tower, encoder->embedding, texts, config.encoder);
    }
    torch::Tensor out = torch::zeros({n, config.encoder.dim});
    for (const auto& [language, rows] : by_language) {
      std::vector<const Features*> group;
      for (std::int64_t i : rows) group.push_back(texts[static_cast<std::size_t>(i)]);
      Tower& tower = (queries ? encoder->query_towers : encoder->product_towers).at(std::string(language));
      out = out.index_copy(0, long_tensor(rows), encode_texts(tower, encoder->embedding, group, config.encoder));
    }
    return out;
  }

  // Fused logits [B, outputs], the text branch's logits and the graph branch's (undefined
  // without a graph).
  // graph_q / graph_p: the centres' vectors as the GNN sees them (undefined: q and p).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> logits(Head& h, const torch::Tensor& q, const torch::Tensor& p,
                                                                 const torch::Tensor& graph_q, const torch::Tensor& graph_p,
                                                 const EngagementGraph* graph, const std::vector<Centre>& query_centres,
                                                 const std::vector<Centre>& product_centres,
                                                 const std::function<torch::Tensor(const Neighbourhoods&)>& table_rows) {
    torch::Tensor z = h->rich ? torch::cat({q * p, (q - p).abs(), q, p}, 1) : q * p;
    torch::Tensor text_hidden = h->dropout(torch::gelu(h->text_hidden(z)));
    torch::Tensor text_logits = h->text_out(text_hidden);
    if (graph == nullptr || !config.graph.enabled) return {text_logits, text_logits, torch::Tensor()};
    const std::int64_t b = q.size(0);
    std::vector<Centre> centres = query_centres;
    centres.insert(centres.end(), product_centres.begin(), product_centres.end());
    Neighbourhoods n = build_neighbourhoods(*graph, config.graph, centres);
    torch::Tensor centre_rows = torch::cat({graph_q.defined() ? graph_q : q, graph_p.defined() ? graph_p : p}, 0);
    torch::Tensor table = torch::cat({centre_rows, table_rows(n)}, 0);
    auto [h2, log_degree] = graph_forward(h, n, table, 2 * b);
    // Unit-length node embeddings; the Hadamard product is scaled by the width so that its
    // entries are of order one (unscaled, they are of order 1/width and learn slowly).
    namespace F = torch::nn::functional;
    torch::Tensor hq = F::normalize(h2.slice(0, 0, b), F::NormalizeFuncOptions().dim(1).eps(1e-6));
    torch::Tensor hp = F::normalize(h2.slice(0, b, 2 * b), F::NormalizeFuncOptions().dim(1).eps(1e-6));
    const double width = static_cast<double>(hq.size(1));
    torch::Tensor graph_hidden =
        h->dropout(torch::gelu(h->graph_hidden(torch::cat({hq * hp * width, (hq - hp).abs(), hq, hp}, 1))));
    torch::Tensor graph_logits = h->graph_out(graph_hidden);
    torch::Tensor attention = torch::softmax(
        h->gate(torch::cat({text_hidden, graph_hidden, log_degree.slice(0, 0, b), log_degree.slice(0, b, 2 * b)}, 1)), 1);
    torch::Tensor fused = attention.slice(1, 0, 1) * text_logits + attention.slice(1, 1, 2) * graph_logits;
    return {fused, text_logits, graph_logits};
  }

  torch::Tensor loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& class_weights) {
    namespace F = torch::nn::functional;
    switch (config.mode) {
      case LabelMode::kClasses: {
        F::CrossEntropyFuncOptions options;
        if (class_weights.defined()) options.weight(class_weights);
        return F::cross_entropy(logits, labels.to(torch::kLong), options);
      }
      case LabelMode::kGraded: return F::mse_loss(torch::sigmoid(logits.squeeze(1)), labels);
      case LabelMode::kBinary: return F::binary_cross_entropy_with_logits(logits.squeeze(1), labels);
    }
    return logits.sum();
  }

  torch::Tensor outputs(const torch::Tensor& logits) {
    return config.mode == LabelMode::kClasses ? torch::softmax(logits, 1) : torch::sigmoid(logits);
  }

  Head& head_for(std::string_view locale) {
    auto it = finetuned.find(std::string(locale));
    return it == finetuned.end() ? head : it->second;
  }

  Result<Head> clone_head(const Head& from) {
    std::stringstream bytes;
    try {
      torch::serialize::OutputArchive archive;
      from->save(archive);
      archive.save_to(bytes);
      Head copy(config);
      torch::serialize::InputArchive in;
      in.load_from(bytes);
      copy->load(in);
      return copy;
    } catch (const std::exception& error) {
      return Status::internal(std::string("cannot copy the classifier head: ") + error.what());
    }
  }
};

RelevanceClassifier::RelevanceClassifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RelevanceClassifier::~RelevanceClassifier() = default;

Result<std::unique_ptr<RelevanceClassifier>> RelevanceClassifier::create(const ClassifierConfig& config,
                                                                         const Context& context) {
  AISLE_RETURN_IF_ERROR(check_classifier_config(config));
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->encoder = EncoderNet(config.encoder, config.languages);
  impl->head = Head(config);
  impl->encoder->eval();
  impl->head->eval();
  return std::unique_ptr<RelevanceClassifier>(new RelevanceClassifier(std::move(impl)));
}

Status RelevanceClassifier::save(const std::filesystem::path& path) const {
  std::lock_guard lock(impl_->mutex);
  std::ostringstream archive_bytes;
  try {
    torch::serialize::OutputArchive archive, encoder, head;
    impl_->encoder->save(encoder);
    impl_->head->save(head);
    archive.write("encoder", encoder);
    archive.write("head", head);
    for (auto& [locale, tuned] : impl_->finetuned) {
      torch::serialize::OutputArchive tuned_archive;
      tuned->save(tuned_archive);
      archive.write("head_" + locale, tuned_archive);
    }
    archive.save_to(archive_bytes);
  } catch (const std::exception& error) {
    return Status::internal(std::string("cannot serialize the classifier: ") + error.what());
  }
  nlohmann::json header = {{"config", classifier_config_to_json(impl_->config)},
                           {"finetuned_locales", impl_->finetuned_locales}};
  if (!impl_->validation.is_null()) header["validation"] = impl_->validation;
  return write_model_file(path, kMagic, kFormatVersion, header, archive_bytes.str());
}

const nlohmann::json& RelevanceClassifier::validation() const { return impl_->validation; }
void RelevanceClassifier::set_validation(nlohmann::json verdict) { impl_->validation = std::move(verdict); }

Result<std::unique_ptr<RelevanceClassifier>> RelevanceClassifier::load(const std::filesystem::path& path,
                                                                       const Context& context) {
  AISLE_ASSIGN_OR_RETURN(ModelFile file, read_model_file(path, kMagic, kFormatVersion, "classifier"));
  auto corrupt = [&](const std::string& what) { return Status::corruption(path.string() + ": " + what); };
  const nlohmann::json& header = file.header;
  if (!header.is_object() || !header.contains("config")) return corrupt("header has no classifier config");
  auto config = classifier_config_from_json(header["config"]);
  if (!config.is_ok()) return corrupt(config.status().message());
  AISLE_ASSIGN_OR_RETURN(auto classifier, create(*config, context));
  Impl& impl = *classifier->impl_;
  try {
    impl.finetuned_locales = header.value("finetuned_locales", std::vector<std::string>{});
    if (header.contains("validation")) impl.validation = header["validation"];
    std::istringstream archive_bytes(file.weights);
    torch::serialize::InputArchive archive, encoder, head;
    archive.load_from(archive_bytes);
    archive.read("encoder", encoder);
    archive.read("head", head);
    impl.encoder->load(encoder);
    impl.head->load(head);
    for (const std::string& locale : impl.finetuned_locales) {
      torch::serialize::InputArchive tuned_archive;
      archive.read("head_" + locale, tuned_archive);
      Head tuned(impl.config);
      tuned->load(tuned_archive);
      tuned->eval();
      impl.finetuned.emplace(locale, tuned);
    }
  } catch (const std::exception& error) {
    return corrupt(std::string("weights do not load: ") + error.what());
  }
  impl.encoder->eval();
  impl.head->eval();
  return classifier;
}

Result<ClassifierTrainReport> RelevanceClassifier::train(const RelevanceData& data, const EngagementGraph* graph,
                                                         const ClassifierTrainOptions& options, const Context& context) {
  Impl& impl = *impl_;
  const ClassifierConfig& config = impl.config;
  if (data.query_locales.size() != data.queries.size()) return Status::bad_input("one locale per query is needed");
  if (data.examples.empty()) return Status::bad_input("no training examples");
  if (options.batch_size < 2) return Status::bad_input("batch_size must be at least 2");
  const int classes = output_count(config);
  for (std::size_t i = 0; i < data.examples.size(); ++i) {
    const RelevanceExample& e = data.examples[i];
    if (e.query >= data.queries.size() || e.product >= data.products.size()) {
      return Status::bad_input("training example " + std::to_string(i) + " refers to a missing query or product");
    }
    const bool ok = config.mode == LabelMode::kClasses ? (e.label >= 0 && e.label < classes && e.label == std::floor(e.label))
                    : config.mode == LabelMode::kBinary ? (e.label == 0 || e.label == 1)
                                                        : (e.label >= 0 && e.label <= 1);
    if (!ok) {
      return Status::bad_input("training example " + std::to_string(i) + " has label " + std::to_string(e.label) +
                               ", out of range for the " + label_mode_name(config.mode) + " mode");
    }
  }
  if (!options.class_weights.empty() && static_cast<int>(options.class_weights.size()) != classes) {
    return Status::bad_input("one class weight per class is needed");
  }
  for (const auto& [a, b] : data.product_alignments) {
    if (a >= data.products.size() || b >= data.products.size()) return Status::bad_input("a product alignment pair is out of range");
  }
  for (const auto& [a, b] : data.query_alignments) {
    if (a >= data.queries.size() || b >= data.queries.size()) return Status::bad_input("a query alignment pair is out of range");
  }
  if (graph != nullptr && (graph->data().queries.size() != data.queries.size() ||
                           graph->data().products.size() != data.products.size())) {
    return Status::bad_input("the engagement graph must be built from the training data");
  }
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard lock(impl.mutex);
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());

  // Languages: the data's, when the config names none; the towers are rebuilt for them.
  if (impl.config.languages.empty()) {
    std::set<std::string> languages(data.query_locales.begin(), data.query_locales.end());
    for (const text::Document& product : data.products) languages.insert(product.locale);
    impl.config.languages.assign(languages.begin(), languages.end());
    impl.encoder = EncoderNet(impl.config.encoder, impl.config.languages);
  }
  for (const std::string& locale : data.query_locales) AISLE_RETURN_IF_ERROR(impl.check_language(locale));
  for (const text::Document& product : data.products) AISLE_RETURN_IF_ERROR(impl.check_language(product.locale));
  impl.node_cache.clear();
  impl.cache_serial = 0;

  std::vector<Features> query_features(data.queries.size()), product_features(data.products.size());
  for (std::size_t i = 0; i < data.queries.size(); ++i) {
    AISLE_RETURN_IF_ERROR(impl.features().query(data.queries[i], data.query_locales[i], &query_features[i]));
  }
  for (std::size_t i = 0; i < data.products.size(); ++i) {
    AISLE_RETURN_IF_ERROR(impl.features().product(data.products[i], &product_features[i]));
  }
  const EngagementGraph* used_graph = config.graph.enabled ? graph : nullptr;
  ClassifierTrainReport report;
  report.languages = impl.config.languages;
  report.examples = static_cast<std::int64_t>(data.examples.size());
  report.product_alignments = static_cast<std::int64_t>(data.product_alignments.size());
  report.query_alignments = static_cast<std::int64_t>(data.query_alignments.size());
  report.graph_edges = used_graph != nullptr ? static_cast<std::int64_t>(used_graph->edges()) : 0;

  std::mt19937_64 rng(context.seed());
  torch::Tensor class_weights;
  if (!options.class_weights.empty()) class_weights = float_tensor(options.class_weights);
  std::vector<std::string_view> query_language(data.queries.size()), product_language(data.products.size());
  for (std::size_t i = 0; i < data.queries.size(); ++i) query_language[i] = data.query_locales[i];
  for (std::size_t i = 0; i < data.products.size(); ++i) product_language[i] = data.products[i].locale;

  // Text vectors of every graph node, refreshed per epoch (no gradient: the graph reads them).
  // Rows: every query, then every product.
  torch::Tensor node_table;
  auto refresh_tables = [&] {
    if (used_graph == nullptr) return;
    torch::NoGradGuard no_grad;
    impl.encoder->eval();
    auto all = [&](bool queries) {
      const auto& features = queries ? query_features : product_features;
      const auto& languages = queries ? query_language : product_language;
      std::vector<torch::Tensor> chunks;
      for (std::size_t begin = 0; begin < features.size(); begin += 1024) {
        std::vector<const Features*> texts;
        std::vector<std::string_view> chunk_languages;
        for (std::size_t i = begin; i < std::min(features.size(), begin + 1024); ++i) {
          texts.push_back(&features[i]);
          chunk_languages.push_back(languages[i]);
        }
        chunks.push_back(impl.encode(queries, texts, chunk_languages));
      }
      return chunks.empty() ? torch::zeros({0, config.encoder.dim}) : torch::cat(chunks, 0);
    };
    node_table = torch::cat({all(true), all(false)}, 0);
  };
  auto table_rows = [&](const Neighbourhoods& n) {
    if (n.fetch.empty()) return torch::zeros({0, config.encoder.dim});
    std::vector<std::int64_t> rows(n.fetch.size());
    const auto queries = static_cast<std::int64_t>(data.queries.size());
    for (std::size_t i = 0; i < n.fetch.size(); ++i) {
      rows[i] = n.fetch[i].first ? n.fetch[i].second : queries + n.fetch[i].second;
    }
    return node_table.index_select(0, long_tensor(rows));
  };

  const Features empty_features;
  // The neighbour a training centre leaves out: the pair's own edge when it is one (the label
  // must not reach the graph), otherwise a random neighbour, so that "one edge is missing"
  // happens to every training pair alike and says nothing about the label.
  auto training_mask = [&](bool is_query, std::uint32_t node, std::uint32_t other) -> std::optional<std::uint32_t> {
    if (used_graph == nullptr) return std::nullopt;
    const auto& list = is_query ? used_graph->query_neighbours(node) : used_graph->product_neighbours(node);
    if (list.empty()) return std::nullopt;
    for (const auto& edge : list) {
      if (edge.first == other) return other;
    }
    return list[rng() % list.size()].first;
  };

  std::bernoulli_distribution unseen_query(kUnseenQueryShare);
  // One pass of classification over `examples` with `head`; `train_encoder` false freezes the
  // encoders (fine-tuning).
  auto classify_epoch = [&](Head& head, std::vector<RelevanceExample> examples, torch::optim::Optimizer& optimizer,
                            bool train_encoder) {
    std::shuffle(examples.begin(), examples.end(), rng);
    head->train();
    if (train_encoder) impl.encoder->train();
    double total = 0;
    int batches = 0;
    const std::size_t batch = static_cast<std::size_t>(options.batch_size);
    for (std::size_t begin = 0; begin < examples.size(); begin += batch) {
      const std::size_t end = std::min(examples.size(), begin + batch);
      std::vector<const Features*> queries, products;
      std::vector<std::string_view> query_languages, product_languages;
      std::vector<float> labels;
      std::vector<Centre> query_centres, product_centres;
      for (std::size_t i = begin; i < end; ++i) {
        const RelevanceExample& e = examples[i];
        queries.push_back(&query_features[e.query]);
        products.push_back(&product_features[e.product]);
        query_languages.push_back(query_language[e.query]);
        product_languages.push_back(product_language[e.product]);
        labels.push_back(e.label);
        if (used_graph != nullptr && unseen_query(rng)) {
          query_centres.push_back(Centre{true, std::nullopt, std::nullopt});
        } else {
          query_centres.push_back(Centre{true, e.query, training_mask(true, e.query, e.product)});
        }
        product_centres.push_back(Centre{false, e.product, training_mask(false, e.product, e.query)});
      }
      if (used_graph != nullptr && options.text_dropout > 0) {
        // Query-text dropout: some pairs are classified with an empty query, so the model
        // learns to lean on the graph when the text says little.
        std::bernoulli_distribution drop(options.text_dropout);
        for (auto& f : queries) f = drop(rng) ? &empty_features : f;
      }
      torch::Tensor q, p;
      if (train_encoder) {
        q = impl.encode(true, queries, query_languages);
        p = impl.encode(false, products, product_languages);
      } else {
        torch::NoGradGuard no_grad;
        q = impl.encode(true, queries, query_languages);
        p = impl.encode(false, products, product_languages);
      }
      torch::Tensor graph_q, graph_p;
      if (used_graph != nullptr) {
        std::vector<const Features*> dropped_queries = queries, dropped_products = products;
        std::bernoulli_distribution drop(kCentreDropout);
        for (auto& f : dropped_queries) f = drop(rng) ? &empty_features : f;
        for (auto& f : dropped_products) f = drop(rng) ? &empty_features : f;
        torch::NoGradGuard no_grad;
        graph_q = impl.encode(true, dropped_queries, query_languages);
        graph_p = impl.encode(false, dropped_products, product_languages);
      }
      auto [fused, text_logits, graph_logits] =
          impl.logits(head, q, p, graph_q, graph_p, used_graph, query_centres, product_centres, table_rows);
      torch::Tensor label_tensor = float_tensor(labels);
      torch::Tensor loss = impl.loss(fused, label_tensor, class_weights);
      if (used_graph != nullptr) loss = loss + kTextLossWeight * impl.loss(text_logits, label_tensor, class_weights);
      optimizer.zero_grad();
      loss.backward();
      for (auto& group : optimizer.param_groups()) torch::nn::utils::clip_grad_norm_(group.params(), 5.0);
      optimizer.step();
      total += loss.item<double>();
      ++batches;
    }
    return batches > 0 ? total / batches : 0.0;
  };

  // In-batch softmax over cosines, both directions, for pairs of texts in two languages.
  auto align_epoch = [&](std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs, bool queries,
                         torch::optim::Optimizer& optimizer) {
    std::shuffle(pairs.begin(), pairs.end(), rng);
    impl.encoder->train();
    const auto& features = queries ? query_features : product_features;
    const auto& languages = queries ? query_language : product_language;
    double total = 0;
    int batches = 0;
    const std::size_t batch = static_cast<std::size_t>(options.batch_size);
    const float inverse_temperature = static_cast<float>(1.0 / options.alignment_temperature);
    for (std::size_t begin = 0; begin < pairs.size(); begin += batch) {
      const std::size_t end = std::min(pairs.size(), begin + batch);
      if (end - begin < 2) break;
      std::vector<const Features*> left, right;
      std::vector<std::string_view> left_languages, right_languages;
      for (std::size_t i = begin; i < end; ++i) {
        left.push_back(&features[pairs[i].first]);
        right.push_back(&features[pairs[i].second]);
        left_languages.push_back(languages[pairs[i].first]);
        right_languages.push_back(languages[pairs[i].second]);
      }
      torch::Tensor a = impl.encode(queries, left, left_languages);
      torch::Tensor b = impl.encode(queries, right, right_languages);
      torch::Tensor similarity = torch::mm(a, b.t()) * inverse_temperature;
      torch::Tensor targets = torch::arange(similarity.size(0), torch::kLong);
      torch::Tensor loss = 0.5 * (torch::nn::functional::cross_entropy(similarity, targets) +
                                  torch::nn::functional::cross_entropy(similarity.t(), targets));
      optimizer.zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(impl.encoder->parameters(), 5.0);
      optimizer.step();
      total += loss.item<double>();
      ++batches;
    }
    return batches > 0 ? total / batches : 0.0;
  };

  std::vector<torch::Tensor> parameters = impl.encoder->parameters();
  for (const torch::Tensor& parameter : impl.head->parameters()) parameters.push_back(parameter);
  torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(options.learning_rate));
  torch::optim::Adam align_optimizer(impl.encoder->parameters(), torch::optim::AdamOptions(options.learning_rate));

  // The warm-start language: one of those with examples, chosen by the seed.
  std::vector<std::string> example_languages;
  {
    std::set<std::string> seen;
    for (const RelevanceExample& e : data.examples) seen.insert(data.query_locales[e.query]);
    example_languages.assign(seen.begin(), seen.end());
  }
  auto report_phase = [&](const std::string& phase, int epoch, double loss, std::chrono::steady_clock::time_point since) {
    if (options.on_epoch) {
      options.on_epoch(phase, epoch, loss, std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
    }
  };
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    auto phase_start = std::chrono::steady_clock::now();
    refresh_tables();
    std::vector<RelevanceExample> examples = data.examples;
    if (epoch == 0 && options.warm_start_language && example_languages.size() > 1) {
      report.warm_start_language = example_languages[rng() % example_languages.size()];
      std::erase_if(examples, [&](const RelevanceExample& e) { return data.query_locales[e.query] != report.warm_start_language; });
    }
    report_phase("classify", epoch + 1, classify_epoch(impl.head, std::move(examples), optimizer, true), phase_start);
    if (options.alignment && (!data.product_alignments.empty() || !data.query_alignments.empty())) {
      phase_start = std::chrono::steady_clock::now();
      double loss = 0;
      int phases = 0;
      if (data.product_alignments.size() >= 2) loss += align_epoch(data.product_alignments, false, align_optimizer), ++phases;
      if (data.query_alignments.size() >= 2) loss += align_epoch(data.query_alignments, true, align_optimizer), ++phases;
      report_phase("align", epoch + 1, phases > 0 ? loss / phases : 0.0, phase_start);
    }
  }

  // Fine-tuning per locale: copies of the head, encoders frozen.
  impl.finetuned.clear();
  impl.finetuned_locales.clear();
  if (options.finetune_epochs > 0 && example_languages.size() > 1) {
    refresh_tables();
    for (const std::string& locale : example_languages) {
      std::vector<RelevanceExample> examples;
      for (const RelevanceExample& e : data.examples) {
        if (data.query_locales[e.query] == locale) examples.push_back(e);
      }
      if (static_cast<int>(examples.size()) < options.finetune_min_examples) continue;
      AISLE_ASSIGN_OR_RETURN(Head tuned, impl.clone_head(impl.head));
      torch::optim::Adam tune_optimizer(tuned->parameters(), torch::optim::AdamOptions(options.finetune_learning_rate));
      for (int epoch = 0; epoch < options.finetune_epochs; ++epoch) {
        auto phase_start = std::chrono::steady_clock::now();
        report_phase("finetune:" + locale, epoch + 1, classify_epoch(tuned, examples, tune_optimizer, false), phase_start);
      }
      tuned->eval();
      impl.finetuned.emplace(locale, tuned);
      impl.finetuned_locales.push_back(locale);
    }
  }
  impl.encoder->eval();
  impl.head->eval();
  report.finetuned_locales = impl.finetuned_locales;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<std::vector<float>> RelevanceClassifier::predict(std::span<const PairInput> pairs, const EngagementGraph* graph) const {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  const int out_width = output_count(impl.config);
  std::vector<float> out(pairs.size() * static_cast<std::size_t>(out_width));
  if (pairs.empty()) return out;
  for (const PairInput& pair : pairs) {
    if (pair.product == nullptr) return Status::bad_input("a pair to classify has no product");
    AISLE_RETURN_IF_ERROR(impl.check_language(pair.locale));
    AISLE_RETURN_IF_ERROR(impl.check_language(pair.product->locale));
  }
  if (!impl.config.graph.enabled) graph = nullptr;
  if (graph != nullptr && impl.cache_serial != graph->serial()) {
    impl.node_cache.clear();
    impl.cache_serial = graph->serial();
  }
  torch::InferenceMode inference;
  // Pairs are grouped by the head that classifies them (the query's locale).
  std::map<std::string_view, std::vector<std::size_t>> by_head;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    by_head[impl.finetuned.count(std::string(pairs[i].locale)) ? pairs[i].locale : std::string_view()].push_back(i);
  }
  for (const auto& [locale, indices] : by_head) {
    for (std::size_t begin = 0; begin < indices.size(); begin += 512) {
      const std::size_t end = std::min(indices.size(), begin + 512);
      std::vector<Features> query_features(end - begin), product_features(end - begin);
      std::vector<const Features*> queries, products;
      std::vector<std::string_view> query_languages, product_languages;
      std::vector<Centre> query_centres, product_centres;
      for (std::size_t k = begin; k < end; ++k) {
        const PairInput& pair = pairs[indices[k]];
        AISLE_RETURN_IF_ERROR(impl.features().query(pair.query, pair.locale, &query_features[k - begin]));
        AISLE_RETURN_IF_ERROR(impl.features().product(*pair.product, &product_features[k - begin]));
        queries.push_back(&query_features[k - begin]);
        products.push_back(&product_features[k - begin]);
        query_languages.push_back(pair.locale);
        product_languages.push_back(pair.product->locale);
        if (graph != nullptr) {
          query_centres.push_back(Centre{true, graph->find_query(pair.query, pair.locale), std::nullopt});
          product_centres.push_back(Centre{false, graph->find_product(pair.product->external_id), std::nullopt});
        }
      }
      torch::Tensor q = impl.encode(true, queries, query_languages);
      torch::Tensor p = impl.encode(false, products, product_languages);
      // Graph nodes' text vectors, from the cache or encoded now.
      auto table_rows = [&](const Neighbourhoods& n) -> torch::Tensor {
        const RelevanceData& data = graph->data();
        std::vector<Features> missing_features;
        std::vector<std::pair<bool, std::uint32_t>> missing;
        for (const auto& node : n.fetch) {
          if (impl.node_cache.count(node) == 0) missing.push_back(node);
        }
        for (bool queries_side : {true, false}) {
          std::vector<Features> features;
          std::vector<std::pair<bool, std::uint32_t>> nodes;
          std::vector<std::string_view> languages;
          for (const auto& node : missing) {
            if (node.first != queries_side) continue;
            Features f;
            Status status = queries_side ? impl.features().query(data.queries[node.second], data.query_locales[node.second], &f)
                                         : impl.features().product(data.products[node.second], &f);
            const std::string_view language =
                queries_side ? std::string_view(data.query_locales[node.second]) : std::string_view(data.products[node.second].locale);
            if (!status.is_ok() || !impl.check_language(language).is_ok()) f.clear();
            features.push_back(std::move(f));
            nodes.push_back(node);
            languages.push_back(impl.check_language(language).is_ok() ? language : std::string_view(impl.config.languages.front()));
          }
          std::vector<const Features*> pointers;
          for (const Features& f : features) pointers.push_back(&f);
          torch::Tensor vectors = impl.encode(queries_side, pointers, languages).contiguous();
          const auto d = static_cast<std::size_t>(impl.config.encoder.dim);
          for (std::size_t i = 0; i < nodes.size(); ++i) {
            const float* row = vectors.data_ptr<float>() + i * d;
            impl.node_cache[nodes[i]] = std::vector<float>(row, row + d);
          }
        }
        std::vector<float> rows;
        for (const auto& node : n.fetch) {
          const std::vector<float>& v = impl.node_cache.at(node);
          rows.insert(rows.end(), v.begin(), v.end());
        }
        return float_tensor(rows).view({static_cast<std::int64_t>(n.fetch.size()), impl.config.encoder.dim});
      };
      Head& head = impl.head_for(locale);
      auto [fused, text_logits, graph_logits] =
          impl.logits(head, q, p, torch::Tensor(), torch::Tensor(), graph, query_centres, product_centres, table_rows);
      torch::Tensor values = impl.outputs(fused).contiguous();
      const float* data = values.data_ptr<float>();
      for (std::size_t k = begin; k < end; ++k) {
        std::memcpy(out.data() + indices[k] * out_width, data + (k - begin) * out_width, sizeof(float) * out_width);
      }
    }
  }
  return out;
}

Result<std::vector<float>> RelevanceClassifier::encode_queries(std::span<const std::string> queries,
                                                               std::string_view locale) const {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  AISLE_RETURN_IF_ERROR(impl.check_language(locale));
  std::vector<Features> features(queries.size());
  std::vector<const Features*> pointers;
  std::vector<std::string_view> languages(queries.size(), locale);
  for (std::size_t i = 0; i < queries.size(); ++i) {
    AISLE_RETURN_IF_ERROR(impl.features().query(queries[i], locale, &features[i]));
    pointers.push_back(&features[i]);
  }
  torch::InferenceMode inference;
  std::vector<float> out(queries.size() * static_cast<std::size_t>(impl.config.encoder.dim));
  for (std::size_t begin = 0; begin < pointers.size(); begin += 1024) {
    std::vector<const Features*> chunk(pointers.begin() + static_cast<long>(begin),
                                       pointers.begin() + static_cast<long>(std::min(pointers.size(), begin + 1024)));
    std::vector<std::string_view> chunk_languages(chunk.size(), locale);
    torch::Tensor vectors = impl.encode(true, chunk, chunk_languages).contiguous();
    std::memcpy(out.data() + begin * impl.config.encoder.dim, vectors.data_ptr<float>(),
                sizeof(float) * static_cast<std::size_t>(vectors.numel()));
  }
  return out;
}

int RelevanceClassifier::outputs() const { return output_count(impl_->config); }
const ClassifierConfig& RelevanceClassifier::config() const { return impl_->config; }
const std::vector<std::string>& RelevanceClassifier::finetuned_locales() const { return impl_->finetuned_locales; }

std::int64_t RelevanceClassifier::parameters() const {
  std::int64_t total = 0;
  for (const torch::Tensor& parameter : impl_->encoder->parameters()) total += parameter.numel();
  for (const torch::Tensor& parameter : impl_->head->parameters()) total += parameter.numel();
  return total;
}

}  // namespace aisle::models
