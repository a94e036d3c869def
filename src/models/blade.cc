#include "aisle/models/blade.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <sstream>

#include "model_file.h"
#include "torch_layers.h"

namespace aisle::models {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'B', 'L', 'D', '1'};
constexpr std::uint32_t kFormatVersion = 2;  // 2: the target base is the source base plus an offset

using graph::Direction;
using graph::NodeId;

Status check_blade_config(const BladeConfig& c) {
  auto bad = [](const std::string& field, const std::string& why) { return Status::bad_input("blade config: " + field + " " + why); };
  if (c.dim < 2 || c.dim > 4096) return bad("dim", "must be in 2..4096");
  if (c.fixed_size < 1 || c.fixed_size > 1024) return bad("fixed_size", "must be in 1..1024");
  if (c.limits.min_size < 1 || c.limits.max_size < c.limits.min_size || c.limits.max_size > 1024) {
    return bad("limits", "need 1 <= min_size <= max_size <= 1024");
  }
  if (!std::isfinite(c.beta) || std::abs(c.beta) > 8) return bad("beta", "must be finite, |beta| <= 8");
  if (!(c.temperature > 0) || c.temperature > 10) return bad("temperature", "must be in (0, 10]");
  if (c.inference_draws < 1 || c.inference_draws > 64) return bad("inference_draws", "must be in 1..64");
  if (c.features.buckets < 16) return bad("features.buckets", "must be at least 16");
  if (c.text_embedding_dim < 2 || c.text_embedding_dim > 4096) return bad("text_embedding_dim", "must be in 2..4096");
  return Status::ok();
}

// The network: base features per side, one aggregation layer per side.
struct NetImpl : torch::nn::Module {
  NetImpl(const BladeConfig& config, std::int64_t nodes, bool with_text) : dual(config.dual), text(with_text) {
    const std::int64_t d = config.dim;
    a = register_module("a", torch::nn::Embedding(nodes, d));
    torch::nn::init::normal_(a->weight, 0.0, 0.1);
    ws = register_module("ws", torch::nn::Linear((dual ? 4 : 3) * d, d));
    if (dual) {
      b = register_module("b", torch::nn::Embedding(nodes, d));
      torch::nn::init::normal_(b->weight, 0.0, 0.01);
    }
    if (text) {
      bag = register_module("bag", torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(config.features.buckets,
                                                                                           config.text_embedding_dim)
                                                               .mode(torch::kSum)));
      torch::nn::init::normal_(bag->weight, 0.0, 0.1);
      text_a = register_module("text_a", torch::nn::Linear(config.text_embedding_dim, d));
      if (dual) text_b = register_module("text_b", torch::nn::Linear(config.text_embedding_dim, d));
    }
  }

  // Base features of every node: [n, d] for the source side (a) and the target side (b).
  std::pair<torch::Tensor, torch::Tensor> bases(const Batch* texts) {
    torch::Tensor base_a = a->weight, base_b = dual ? a->weight + b->weight : torch::Tensor();
    if (text && texts != nullptr) {
      torch::Tensor words = bag_means(bag, *texts, static_cast<int>(bag->weight.size(1)));
      base_a = base_a + text_a(words);
      if (dual) base_b = base_b + text_b(words);
    }
    return {base_a, base_b};
  }

  bool dual, text;
  torch::nn::Embedding a{nullptr}, b{nullptr};
  torch::nn::Linear ws{nullptr}, text_a{nullptr}, text_b{nullptr};
  torch::nn::EmbeddingBag bag{nullptr};
};
TORCH_MODULE(Net);

// One draw of every node's neighbourhoods in one direction: per node, hop-1 and hop-2 ids.
struct Draw {
  std::vector<std::uint64_t> hop1_offsets, hop2_offsets;
  std::vector<NodeId> hop1, hop2;
};

Draw draw_all(const graph::DirectedGraph& g, const graph::NeighbourSampler& sampler, Direction dir,
              const std::vector<int>& sizes, std::mt19937_64& rng) {
  Draw draw;
  draw.hop1_offsets.push_back(0);
  draw.hop2_offsets.push_back(0);
  graph::SampledNeighbourhood hood;
  for (NodeId v = 0; v < g.num_nodes(); ++v) {
    graph::sample_neighbourhood(sampler, g, v, dir, sizes[v], rng, &hood);
    draw.hop1.insert(draw.hop1.end(), hood.hop1.begin(), hood.hop1.end());
    draw.hop2.insert(draw.hop2.end(), hood.hop2.begin(), hood.hop2.end());
    draw.hop1_offsets.push_back(draw.hop1.size());
    draw.hop2_offsets.push_back(draw.hop2.size());
  }
  return draw;
}

// Row-normalized sparse [rows.size(), n] matrix: row i averages the sampled neighbours of
// rows[i] (an empty neighbourhood is a zero row).
torch::Tensor mean_matrix(const std::vector<std::uint64_t>& offsets, const std::vector<NodeId>& ids,
                          std::span<const std::int64_t> rows, std::int64_t n) {
  std::vector<std::int64_t> r, c;
  std::vector<float> v;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto node = static_cast<std::size_t>(rows[i]);
    const std::uint64_t begin = offsets[node], end = offsets[node + 1];
    if (begin == end) continue;
    const float w = 1.0f / static_cast<float>(end - begin);
    for (std::uint64_t k = begin; k < end; ++k) {
      r.push_back(static_cast<std::int64_t>(i));
      c.push_back(ids[k]);
      v.push_back(w);
    }
  }
  const auto nnz = static_cast<std::int64_t>(v.size());
  torch::Tensor indices = torch::stack({torch::tensor(r, torch::kLong), torch::tensor(c, torch::kLong)});
  if (nnz == 0) indices = torch::zeros({2, 0}, torch::kLong);
  return torch::sparse_coo_tensor(indices, torch::tensor(v, torch::kFloat), {static_cast<std::int64_t>(rows.size()), n})
      .coalesce();
}

torch::Tensor unit(const torch::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-6));
}

}  // namespace

nlohmann::json blade_config_to_json(const BladeConfig& c) {
  return {{"dim", c.dim},
          {"dual", c.dual},
          {"adaptive", c.adaptive},
          {"beta", c.beta},
          {"fixed_size", c.fixed_size},
          {"min_size", c.limits.min_size},
          {"max_size", c.limits.max_size},
          {"direction_loss", c.direction_loss},
          {"temperature", c.temperature},
          {"inference_draws", c.inference_draws},
          {"features", feature_options_to_json(c.features)},
          {"text_embedding_dim", c.text_embedding_dim}};
}

Result<BladeConfig> blade_config_from_json(const nlohmann::json& json) {
  BladeConfig c;
  try {
    c.dim = json.at("dim").get<int>();
    c.dual = json.at("dual").get<bool>();
    c.adaptive = json.at("adaptive").get<bool>();
    c.beta = json.at("beta").get<double>();
    c.fixed_size = json.at("fixed_size").get<int>();
    c.limits.min_size = json.at("min_size").get<int>();
    c.limits.max_size = json.at("max_size").get<int>();
    c.direction_loss = json.at("direction_loss").get<bool>();
    c.temperature = json.at("temperature").get<double>();
    c.inference_draws = json.at("inference_draws").get<int>();
    AISLE_ASSIGN_OR_RETURN(c.features, feature_options_from_json(json.at("features")));
    c.text_embedding_dim = json.at("text_embedding_dim").get<int>();
  } catch (const nlohmann::json::exception& error) {
    return Status::bad_input(std::string("blade config: ") + error.what());
  }
  AISLE_RETURN_IF_ERROR(check_blade_config(c));
  return c;
}

struct Blade::Impl {
  BladeConfig config;
  Net net{nullptr};
  bool with_text = false;
  std::int64_t nodes = 0;
  std::vector<std::string> names;
  std::vector<float> sources, targets;

  // Builds the network for `n` nodes (a fresh one, or checks a loaded one matches).
  Status ensure_net(std::int64_t n, bool text) {
    if (net) {
      if (n != nodes || text != with_text) {
        return Status::bad_input("the model has " + std::to_string(nodes) + " nodes" + (with_text ? " with text" : "") +
                                 "; the graph has " + std::to_string(n) + (text ? " with text" : ""));
      }
      return Status::ok();
    }
    nodes = n;
    with_text = text;
    net = Net(config, n, text);
    return Status::ok();
  }

  // The side vectors of `rows` given the neighbour draws, through one shared map W:
  //   s_u = W [a_u ; out1(b) ; out2(b) ; in1(a)]      t_v = W [b_v ; out1(b) ; in2(a) ; in1(a)]
  // (outK/inK: the mean over the K-th hop of the draws along out-/in-edges). Slots line up so
  // that a shared out-neighbour or in-neighbour of u and v meets itself; the own features and
  // the second hop (out for sources, in for targets) carry the direction. A symmetric model
  // reads [a_u ; hop1(a) ; hop2(a)] of the undirected draws (`in` is null).
  torch::Tensor side(bool source, std::span<const std::int64_t> rows, const Draw& out, const Draw* in,
                     const torch::Tensor& base_a, const torch::Tensor& base_b) {
    torch::Tensor index = torch::tensor(std::vector<std::int64_t>(rows.begin(), rows.end()), torch::kLong);
    auto mean = [&](const std::vector<std::uint64_t>& offsets, const std::vector<NodeId>& ids, const torch::Tensor& base) {
      return torch::mm(mean_matrix(offsets, ids, rows, nodes), base);
    };
    if (in == nullptr) {
      return unit(net->ws(torch::cat({base_a.index_select(0, index), mean(out.hop1_offsets, out.hop1, base_a),
                                      mean(out.hop2_offsets, out.hop2, base_a)},
                                     1)));
    }
    torch::Tensor own = (source ? base_a : base_b).index_select(0, index);
    torch::Tensor second = source ? mean(out.hop2_offsets, out.hop2, base_b) : mean(in->hop2_offsets, in->hop2, base_a);
    return unit(net->ws(torch::cat({own, mean(out.hop1_offsets, out.hop1, base_b), second,
                                    mean(in->hop1_offsets, in->hop1, base_a)},
                                   1)));
  }

  // Every node's vectors, averaged over config.inference_draws seeded draws.
  void compute_vectors(const graph::DirectedGraph& g, const graph::NeighbourSampler& sampler,
                       const std::vector<int>& sizes, const Batch* texts, std::uint64_t seed) {
    torch::NoGradGuard no_grad;
    net->eval();
    auto [base_a, base_b] = net->bases(texts);
    const std::int64_t d = config.dim;
    torch::Tensor sum_s = torch::zeros({nodes, d}), sum_t = torch::zeros({nodes, d});
    std::vector<std::int64_t> all(static_cast<std::size_t>(nodes));
    std::iota(all.begin(), all.end(), 0);
    for (int k = 0; k < config.inference_draws; ++k) {
      std::mt19937_64 rng(seed + 7919u * static_cast<std::uint64_t>(k + 1));
      Draw out = draw_all(g, sampler, Direction::kOut, sizes, rng);
      if (!config.dual) {
        sum_s += side(true, all, out, nullptr, base_a, base_a);
        continue;
      }
      Draw in = draw_all(g, sampler, Direction::kIn, sizes, rng);
      sum_s += side(true, all, out, &in, base_a, base_b);
      sum_t += side(false, all, out, &in, base_a, base_b);
    }
    torch::Tensor s = unit(sum_s).contiguous();
    torch::Tensor t = config.dual ? unit(sum_t).contiguous() : s;
    sources.assign(s.data_ptr<float>(), s.data_ptr<float>() + s.numel());
    targets.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
  }
};

Blade::Blade(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Blade::~Blade() = default;

Result<std::unique_ptr<Blade>> Blade::create(const BladeConfig& config, const Context& context) {
  AISLE_RETURN_IF_ERROR(check_blade_config(config));
  torch::set_num_threads(std::max(context.num_threads(), 1));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  return std::unique_ptr<Blade>(new Blade(std::move(impl)));
}

const BladeConfig& Blade::config() const { return impl_->config; }
std::size_t Blade::num_nodes() const { return static_cast<std::size_t>(impl_->nodes); }
const std::vector<std::string>& Blade::names() const { return impl_->names; }
const std::vector<float>& Blade::sources() const { return impl_->sources; }
const std::vector<float>& Blade::targets() const { return impl_->targets; }

float Blade::score(NodeId source, NodeId target) const {
  const std::size_t d = static_cast<std::size_t>(impl_->config.dim);
  const float* s = impl_->sources.data() + source * d;
  const float* t = impl_->targets.data() + target * d;
  float dot = 0;
  for (std::size_t k = 0; k < d; ++k) dot += s[k] * t[k];
  return dot / static_cast<float>(impl_->config.temperature);
}

Result<BladeTrainReport> Blade::train(const graph::DirectedGraph& input, std::span<const text::Document> texts,
                                      std::span<const std::string> names, const BladeTrainOptions& options,
                                      const Context& context) {
  Impl& impl = *impl_;
  const BladeConfig& config = impl.config;
  const auto start = std::chrono::steady_clock::now();
  const auto n = static_cast<std::int64_t>(input.num_nodes());
  if (n < 2) return Status::bad_input("the graph needs at least 2 nodes");
  if (input.num_edges() == 0) return Status::bad_input("the graph has no edges");
  if (!texts.empty() && static_cast<std::int64_t>(texts.size()) != n) {
    return Status::bad_input("texts: expected one per node (" + std::to_string(n) + "), found " + std::to_string(texts.size()));
  }
  if (!names.empty() && static_cast<std::int64_t>(names.size()) != n) {
    return Status::bad_input("names: expected one per node (" + std::to_string(n) + "), found " + std::to_string(names.size()));
  }
  if (options.epochs < 0 || options.batch_size < 2 || options.negatives < 0 || !(options.learning_rate > 0)) {
    return Status::bad_input("training options: epochs >= 0, batch_size >= 2, negatives >= 0, learning_rate > 0");
  }
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());
  AISLE_RETURN_IF_ERROR(impl.ensure_net(n, !texts.empty()));
  impl.names.assign(names.begin(), names.end());

  // A symmetric model reads the graph as undirected.
  graph::DirectedGraph undirected;
  if (!config.dual) {
    std::vector<graph::Edge> both;
    both.reserve(input.num_edges() * 2);
    for (NodeId u = 0; u < n; ++u) {
      for (NodeId v : input.out(u)) both.push_back({u, v, 1}), both.push_back({v, u, 1});
    }
    AISLE_ASSIGN_OR_RETURN(undirected, graph::DirectedGraph::from_edges(static_cast<std::size_t>(n), both));
  }
  const graph::DirectedGraph& g = config.dual ? input : undirected;
  graph::NeighbourSampler sampler(g, config.beta);
  BladeTrainReport report;
  const std::vector<std::uint32_t> in_degrees = input.in_degrees();
  report.in_degree_law = graph::fit_power_law(in_degrees);
  std::vector<int> sizes(static_cast<std::size_t>(n), config.fixed_size);
  if (config.adaptive) {
    for (NodeId v = 0; v < n; ++v) sizes[v] = graph::neighbourhood_size(in_degrees[v], report.in_degree_law, config.limits);
  }
  report.mean_neighbourhood = std::accumulate(sizes.begin(), sizes.end(), 0.0) / static_cast<double>(n);

  // Node texts, featurized once.
  std::vector<Features> features;
  Batch text_batch;
  if (!texts.empty()) {
    Featurizer featurizer(config.features);
    features.resize(texts.size());
    std::vector<const Features*> pointers;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (!texts[i].title.empty()) {
        Status status = featurizer.product(texts[i], &features[i]);
        if (!status.is_ok()) features[i].clear();  // a locale no analyzer knows: free embedding only
      }
      if (features[i].ids.empty()) features[i].ids = {0}, features[i].weights = {0.0f};
      pointers.push_back(&features[i]);
    }
    text_batch = to_batch(pointers, false);
  }
  const Batch* text_input = texts.empty() ? nullptr : &text_batch;

  // The train edges, with whether each is one-way.
  struct TrainEdge {
    NodeId u, v;
    bool one_way;
  };
  std::vector<TrainEdge> edges;
  edges.reserve(input.num_edges());
  for (NodeId u = 0; u < n; ++u) {
    for (NodeId v : input.out(u)) edges.push_back({u, v, !input.has_edge(v, u)});
  }

  torch::optim::Adam optimizer(impl.net->parameters(), torch::optim::AdamOptions(options.learning_rate));
  std::mt19937_64 rng(context.seed());
  const double inv_temperature = 1.0 / config.temperature;
  // log q per node for the correction: q(v) = (b/(b+N)) in(v)/E + (N/(b+N)) / n, for the full
  // batch size b and N negatives (the last, shorter batch uses the same q).
  torch::Tensor log_q;
  if (options.logq_correction) {
    const double in_batch = static_cast<double>(std::min<std::size_t>(edges.size(), static_cast<std::size_t>(options.batch_size)));
    const double share = in_batch / (in_batch + options.negatives);
    std::vector<float> values(static_cast<std::size_t>(n));
    for (NodeId v = 0; v < n; ++v) {
      values[v] = static_cast<float>(std::log(share * in_degrees[v] / std::max<double>(1.0, static_cast<double>(edges.size())) +
                                              (1.0 - share) / static_cast<double>(n)));
    }
    log_q = torch::tensor(values);
  }
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    impl.net->train();
    std::shuffle(edges.begin(), edges.end(), rng);
    Draw out = draw_all(g, sampler, Direction::kOut, sizes, rng);
    Draw in = config.dual ? draw_all(g, sampler, Direction::kIn, sizes, rng) : Draw{};
    double loss_sum = 0;
    std::size_t batches = 0;
    std::uniform_int_distribution<std::int64_t> any_node(0, n - 1);
    for (std::size_t begin = 0; begin < edges.size(); begin += static_cast<std::size_t>(options.batch_size)) {
      const std::size_t end = std::min(edges.size(), begin + static_cast<std::size_t>(options.batch_size));
      const auto b = static_cast<std::int64_t>(end - begin);
      // Rows: sources need s (and t for the reversed score); targets and negatives need t
      // (and s for the reversed score of targets).
      std::vector<std::int64_t> source_rows, target_rows;
      for (std::size_t i = begin; i < end; ++i) source_rows.push_back(edges[i].u);
      for (std::size_t i = begin; i < end; ++i) target_rows.push_back(edges[i].v);
      std::vector<std::int64_t> negative_rows;
      for (int k = 0; k < options.negatives; ++k) negative_rows.push_back(any_node(rng));

      auto [base_a, base_b] = impl.net->bases(text_input);
      std::vector<std::int64_t> t_rows = target_rows;
      t_rows.insert(t_rows.end(), negative_rows.begin(), negative_rows.end());
      torch::Tensor s_u, t_all, s_v, t_u;
      if (config.dual) {
        s_u = impl.side(true, source_rows, out, &in, base_a, base_b);
        t_all = impl.side(false, t_rows, out, &in, base_a, base_b);
      } else {
        s_u = impl.side(true, source_rows, out, nullptr, base_a, base_a);
        t_all = impl.side(true, t_rows, out, nullptr, base_a, base_a);
      }
      torch::Tensor logits = torch::mm(s_u, t_all.t()) * inv_temperature;  // [b, b + negatives]
      torch::Tensor candidate_ids = torch::tensor(t_rows, torch::kLong);
      if (options.logq_correction) logits = logits - log_q.index_select(0, candidate_ids).unsqueeze(0);
      // Mask candidates that are the row's own target under another column.
      torch::Tensor own = torch::tensor(target_rows, torch::kLong);
      torch::Tensor same = candidate_ids.unsqueeze(0).eq(own.unsqueeze(1));
      same.narrow(1, 0, b).fill_diagonal_(0);
      logits = logits.masked_fill(same, -1e9);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, torch::arange(b, torch::kLong));
      if (config.dual && config.direction_loss) {
        std::vector<std::int64_t> one_way;
        for (std::int64_t i = 0; i < b; ++i) {
          if (edges[begin + static_cast<std::size_t>(i)].one_way) one_way.push_back(i);
        }
        if (!one_way.empty()) {
          torch::Tensor idx = torch::tensor(one_way, torch::kLong);
          std::vector<std::int64_t> us, vs;
          for (std::int64_t i : one_way) us.push_back(source_rows[static_cast<std::size_t>(i)]), vs.push_back(target_rows[static_cast<std::size_t>(i)]);
          s_v = impl.side(true, vs, out, &in, base_a, base_b);
          t_u = impl.side(false, us, out, &in, base_a, base_b);
          torch::Tensor forward = (s_u.index_select(0, idx) * t_all.narrow(0, 0, b).index_select(0, idx)).sum(1);
          torch::Tensor backward = (s_v * t_u).sum(1);
          loss = loss + torch::nn::functional::softplus((backward - forward) * inv_temperature).mean();
        }
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    report.final_loss = batches ? loss_sum / static_cast<double>(batches) : 0.0;
    report.epochs = epoch + 1;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (options.on_epoch) options.on_epoch(epoch + 1, report.final_loss, seconds);
    if (!options.checkpoint.empty()) {
      impl.compute_vectors(g, sampler, sizes, text_input, context.seed());
      AISLE_RETURN_IF_ERROR(save(options.checkpoint));
    }
  }
  impl.compute_vectors(g, sampler, sizes, text_input, context.seed());
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Status Blade::save(const std::filesystem::path& path) const {
  const Impl& impl = *impl_;
  if (!impl.net) return Status::bad_input("the model is not trained");
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive archive;
    impl.net->save(archive);
    archive.save_to(bytes);
  } catch (const std::exception& error) {
    return Status::internal(std::string("cannot serialize the related-products model: ") + error.what());
  }
  const nlohmann::json header = {{"config", blade_config_to_json(impl.config)},
                                 {"nodes", impl.nodes},
                                 {"with_text", impl.with_text},
                                 {"names", impl.names}};
  // The vectors travel with the weights: serving reads them without recomputing.
  std::string weights = bytes.str();
  std::string payload;
  const std::uint64_t size = weights.size();
  payload.append(reinterpret_cast<const char*>(&size), 8);
  payload += weights;
  payload.append(reinterpret_cast<const char*>(impl.sources.data()), impl.sources.size() * sizeof(float));
  if (impl.config.dual) payload.append(reinterpret_cast<const char*>(impl.targets.data()), impl.targets.size() * sizeof(float));
  return write_model_file(path, kMagic, kFormatVersion, header, payload);
}

Result<std::unique_ptr<Blade>> Blade::load(const std::filesystem::path& path, const Context& context) {
  AISLE_ASSIGN_OR_RETURN(ModelFile file, read_model_file(path, kMagic, kFormatVersion, "related-products model"));
  auto corrupt = [&](const std::string& what) { return Status::corruption(path.string() + ": " + what); };
  const nlohmann::json& header = file.header;
  if (!header.is_object() || !header.contains("config")) return corrupt("header has no config");
  auto config = blade_config_from_json(header["config"]);
  if (!config.is_ok()) return corrupt(config.status().message());
  AISLE_ASSIGN_OR_RETURN(auto model, create(*config, context));
  Impl& impl = *model->impl_;
  try {
    const auto nodes = header.at("nodes").get<std::int64_t>();
    if (nodes < 0 || nodes > (std::int64_t{1} << 31)) return corrupt("node count out of range");
    AISLE_RETURN_IF_ERROR(impl.ensure_net(nodes, header.at("with_text").get<bool>()));
    impl.names = header.at("names").get<std::vector<std::string>>();
    if (!impl.names.empty() && static_cast<std::int64_t>(impl.names.size()) != nodes) return corrupt("names do not match the node count");
    const std::string& payload = file.weights;
    std::uint64_t size = 0;
    if (payload.size() < 8) return corrupt("truncated weights");
    std::memcpy(&size, payload.data(), 8);
    const std::size_t vector_bytes = static_cast<std::size_t>(nodes) * static_cast<std::size_t>(config->dim) * sizeof(float);
    const std::size_t expected = 8 + size + vector_bytes * (config->dual ? 2 : 1);
    if (size > payload.size() || payload.size() != expected) return corrupt("truncated or oversized payload");
    std::istringstream bytes(payload.substr(8, size));
    torch::serialize::InputArchive archive;
    archive.load_from(bytes);
    impl.net->load(archive);
    impl.sources.resize(vector_bytes / sizeof(float));
    std::memcpy(impl.sources.data(), payload.data() + 8 + size, vector_bytes);
    if (config->dual) {
      impl.targets.resize(vector_bytes / sizeof(float));
      std::memcpy(impl.targets.data(), payload.data() + 8 + size + vector_bytes, vector_bytes);
    } else {
      impl.targets = impl.sources;
    }
  } catch (const std::exception& error) {
    return corrupt(std::string("weights do not load: ") + error.what());
  }
  impl.net->eval();
  return model;
}

}  // namespace aisle::models
