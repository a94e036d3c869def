#include "aisle/models/entity_aligner.h"

#include <torch/torch.h>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "aisle/models/featurizer.h"

namespace aisle::models {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A sparse, unit-length bag of hashed name features, sorted by id.
using SparseVector = std::vector<std::pair<std::int64_t, float>>;

// Words (ASCII-lowercased, split on ASCII non-alphanumerics; other bytes belong to words) and
// the code-point trigrams of each word with boundary marks.
std::vector<std::int64_t> name_features(std::string_view name, std::int64_t buckets) {
  std::vector<std::int64_t> ids;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    append_word_ids(word, buckets, &ids);
    word.clear();
  };
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80 && !std::isalnum(u)) {
      flush();
    } else {
      word.push_back(u < 0x80 ? static_cast<char>(std::tolower(u)) : c);
    }
  }
  flush();
  return ids;
}

// A deterministic N(0, 1) value for (feature, dimension): the fixed random projection.
float projection(std::int64_t feature, int dimension) {
  std::uint64_t x = static_cast<std::uint64_t>(feature) * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(dimension) * 0xBF58476D1CE4E5B9ULL;
  auto next = [&x] {
    x += 0x9E3779B97F4A7C15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  const double u1 = (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0;
  const double u2 = (static_cast<double>(next() >> 11) + 0.5) / 9007199254740992.0;
  return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

// Sampled edges (centre <- neighbour over relation), as tensors.
struct EdgeSample {
  torch::Tensor centre, neighbour, relation, count;  // count: [N] float, sampled entries per centre (>= 1)
  std::vector<std::uint64_t> offsets;               // CSR of the sample (by centre)
  std::vector<std::uint32_t> neighbours;
};

struct AlignNetImpl : torch::nn::Module {
  AlignNetImpl(std::int64_t entities, std::int64_t relations, const AlignerConfig& config, bool names)
      : dim(config.dim), self_attention(config.self_attention), use_names(names) {
    entity = register_module("entity", torch::nn::Embedding(entities, dim));
    relation = register_module("relation", torch::nn::Embedding(relations, dim));
    torch::NoGradGuard no_grad;
    entity->weight.normal_(0, 1.0 / std::sqrt(dim));
    relation->weight.normal_(0, 1.0 / std::sqrt(dim));
    for (int l = 0; l < 2; ++l) {
      reflect.push_back(register_module("reflect" + std::to_string(l), torch::nn::Embedding(relations, dim)));
      relation_logit.push_back(register_module("relation_logit" + std::to_string(l), torch::nn::Embedding(relations, 1)));
      neighbour_logit.push_back(register_module("neighbour_logit" + std::to_string(l), torch::nn::Linear(torch::nn::LinearOptions(dim, 1).bias(false))));
      relation_logit.back()->weight.zero_();
    }
    if (use_names) name_projection = register_module("name_projection", torch::nn::Linear(config.name_features_dim, dim));
  }

  // z [N, 3 dim], unit rows.
  torch::Tensor forward(const EdgeSample& sample, const torch::Tensor& entity_mean, const torch::Tensor& relation_mean,
                        const torch::Tensor& name_vectors, double dropout) {
    torch::Tensor h = torch::mm(entity_mean, entity->weight) + torch::mm(relation_mean, relation->weight);
    if (use_names) h = h + name_projection(name_vectors);
    if (dropout > 0 && is_training()) h = torch::dropout(h, dropout, true);
    std::vector<torch::Tensor> parts{unit(h)};
    const std::int64_t n = h.size(0);
    for (int l = 0; l < 2; ++l) {
      torch::Tensor hj = h.index_select(0, sample.neighbour);
      torch::Tensor r = unit(reflect[static_cast<std::size_t>(l)]->weight).index_select(0, sample.relation);
      torch::Tensor m = hj - 2 * (hj * r).sum(1, true) * r;
      torch::Tensor a;
      if (self_attention) {
        torch::Tensor logit = relation_logit[static_cast<std::size_t>(l)](sample.relation).squeeze(1) +
                              neighbour_logit[static_cast<std::size_t>(l)](hj).squeeze(1);
        torch::Tensor maximum = torch::full({n}, -1e9).index_reduce(0, sample.centre, logit.detach(), "amax", true);
        torch::Tensor e = torch::exp(logit - maximum.index_select(0, sample.centre));
        torch::Tensor total = torch::zeros({n}).index_add(0, sample.centre, e);
        a = e / total.index_select(0, sample.centre).clamp_min(1e-12);
      } else {
        a = 1.0 / sample.count.index_select(0, sample.centre);
      }
      h = torch::tanh(torch::zeros({n, dim}).index_add(0, sample.centre, m * a.unsqueeze(1)));
      parts.push_back(unit(h));
    }
    return unit(torch::cat(parts, 1));
  }

  static torch::Tensor unit(const torch::Tensor& x) {
    return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-8));
  }

  int dim;
  bool self_attention, use_names;
  torch::nn::Embedding entity{nullptr}, relation{nullptr};
  std::vector<torch::nn::Embedding> reflect, relation_logit;
  std::vector<torch::nn::Linear> neighbour_logit;
  torch::nn::Linear name_projection{nullptr};
};
TORCH_MODULE(AlignNet);

}  // namespace

nlohmann::json aligner_config_to_json(const AlignerConfig& c) {
  return {{"dim", c.dim},
          {"cap", c.cap},
          {"inverse_multiplicity", c.inverse_multiplicity},
          {"self_attention", c.self_attention},
          {"cross_attention", c.cross_attention},
          {"use_names", c.use_names},
          {"name_features_dim", c.name_features_dim},
          {"name_buckets", c.name_buckets},
          {"inference_draws", c.inference_draws},
          {"rerank", c.rerank}};
}

void csls(std::vector<float>* scores, std::size_t rows, std::size_t cols, int k) {
  if (rows == 0 || cols == 0) return;
  torch::Tensor s = torch::from_blob(scores->data(), {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)});
  const std::int64_t kr = std::min<std::int64_t>(k, static_cast<std::int64_t>(cols));
  const std::int64_t kc = std::min<std::int64_t>(k, static_cast<std::int64_t>(rows));
  torch::Tensor rx = std::get<0>(s.topk(kr, 1)).mean(1, true);
  torch::Tensor ry = std::get<0>(s.topk(kc, 0)).mean(0, true);
  s.mul_(2).sub_(rx).sub_(ry);
}

void sinkhorn(std::vector<float>* scores, std::size_t rows, std::size_t cols, double temperature, int iterations) {
  if (rows == 0 || cols == 0) return;
  torch::Tensor s = torch::from_blob(scores->data(), {static_cast<std::int64_t>(rows), static_cast<std::int64_t>(cols)});
  s.sub_(std::get<0>(s.max(1, true))).div_(temperature).exp_();
  for (int i = 0; i < iterations; ++i) {
    s.div_(s.sum(1, true).clamp_min(1e-30));
    s.div_(s.sum(0, true).clamp_min(1e-30));
  }
}

struct EntityAligner::Impl {
  AlignerConfig config;
  bool trained = false;
  bool names = false;
  std::size_t nl = 0, nr = 0;
  std::int64_t relations = 0;
  // Full neighbour lists over the merged entities (right ids offset by nl), with sampling weights.
  std::vector<std::uint64_t> offsets;
  std::vector<std::uint32_t> adjacent;
  std::vector<std::uint32_t> adjacent_relation;
  std::vector<float> adjacent_weight;
  std::vector<SparseVector> name_bags;
  torch::Tensor entity_mean, relation_mean, name_vectors;
  AlignNet net{nullptr};
  torch::Tensor z;                   // [N, D] after training
  std::vector<float> z_flat;         // the same, for the cross-attention loops
  std::int64_t zdim = 0;
  std::vector<std::uint64_t> cross_offsets;  // level-1 neighbours for cross-attention (first draw)
  std::vector<std::uint32_t> cross_neighbours;
  double name_weight = 0, cross_weight = 0, validated_cross_weight = 0;

  std::size_t n() const { return nl + nr; }

  void build(const graph::KnowledgeGraph& left, const graph::KnowledgeGraph& right);
  EdgeSample sample(std::uint64_t seed) const;
  torch::Tensor infer(std::uint64_t seed);
  // cos(z_q, z_c) + name_weight * namecos, [queries x candidates]; ids are merged ids.
  std::vector<float> similarity(std::span<const std::uint32_t> queries, std::span<const std::uint32_t> candidates,
                                double weight) const;
  std::vector<float> name_similarity(std::span<const std::uint32_t> queries, std::span<const std::uint32_t> candidates) const;
  float cross_score(std::uint32_t a, std::uint32_t b) const;
  // Adds cross_weight * cross to each row's top `rerank` entries.
  void rerank(std::vector<float>* scores, std::span<const std::uint32_t> queries, std::span<const std::uint32_t> candidates,
              double weight, std::span<const std::size_t> rows) const;
};

void EntityAligner::Impl::build(const graph::KnowledgeGraph& left, const graph::KnowledgeGraph& right) {
  nl = left.num_entities();
  nr = right.num_entities();
  const std::int64_t left_relations = static_cast<std::int64_t>(left.num_relations());
  relations = 2 * (left_relations + static_cast<std::int64_t>(right.num_relations())) + 1;
  offsets.assign(1, 0);
  adjacent.clear();
  adjacent_relation.clear();
  adjacent_weight.clear();
  std::vector<std::int64_t> rm_rows, rm_cols, em_rows, em_cols;
  std::vector<float> rm_values, em_values;
  for (int side = 0; side < 2; ++side) {
    const graph::KnowledgeGraph& g = side == 0 ? left : right;
    const std::uint32_t entity_offset = side == 0 ? 0 : static_cast<std::uint32_t>(nl);
    const std::uint32_t relation_offset = side == 0 ? 0 : static_cast<std::uint32_t>(2 * left_relations);
    for (graph::EntityId e = 0; e < g.num_entities(); ++e) {
      auto list = g.neighbours(e);
      const std::int64_t row = static_cast<std::int64_t>(e + entity_offset);
      for (std::size_t i = 0; i < list.size(); ++i) {
        adjacent.push_back(list[i].entity + entity_offset);
        const std::uint32_t r = relation_offset + 2 * list[i].relation + (list[i].incoming ? 1 : 0);
        adjacent_relation.push_back(r);
        adjacent_weight.push_back(config.inverse_multiplicity ? 1.0f / static_cast<float>(g.multiplicity(e, i)) : 1.0f);
        rm_rows.push_back(row);
        rm_cols.push_back(r);
        rm_values.push_back(1.0f / static_cast<float>(list.size()));
      }
      // The entity's input: the mean of its own and its neighbours' free vectors (Dual-AMN's
      // initial features), so an entity without a seed is still made of trained vectors.
      em_rows.push_back(row);
      em_cols.push_back(row);
      em_values.push_back(1.0f / static_cast<float>(list.size() + 1));
      for (const auto& neighbour : list) {
        em_rows.push_back(row);
        em_cols.push_back(neighbour.entity + entity_offset);
        em_values.push_back(1.0f / static_cast<float>(list.size() + 1));
      }
      if (list.empty()) {  // the isolated entity's relation signature: a shared "no relation" vector
        rm_rows.push_back(row);
        rm_cols.push_back(relations - 1);
        rm_values.push_back(1.0f);
      }
      offsets.push_back(adjacent.size());
    }
  }
  torch::Tensor indices = torch::stack({torch::tensor(rm_rows, torch::kLong), torch::tensor(rm_cols, torch::kLong)});
  relation_mean = torch::sparse_coo_tensor(indices, torch::tensor(rm_values, torch::kFloat),
                                           {static_cast<std::int64_t>(n()), relations})
                      .coalesce();

  entity_mean = torch::sparse_coo_tensor(torch::stack({torch::tensor(em_rows, torch::kLong), torch::tensor(em_cols, torch::kLong)}),
                                        torch::tensor(em_values, torch::kFloat), {static_cast<std::int64_t>(n()), static_cast<std::int64_t>(n())})
                    .coalesce();
  names = config.use_names && (left.has_names() || right.has_names());
  name_bags.assign(n(), {});
  if (!names) return;
  std::unordered_map<std::int64_t, std::uint32_t> document_frequency;
  std::vector<std::vector<std::int64_t>> raw(n());
  for (std::size_t i = 0; i < n(); ++i) {
    const std::string& name = i < nl ? left.name(static_cast<graph::EntityId>(i)) : right.name(static_cast<graph::EntityId>(i - nl));
    raw[i] = name_features(name, config.name_buckets);
    std::vector<std::int64_t> unique = raw[i];
    std::sort(unique.begin(), unique.end());
    unique.erase(std::unique(unique.begin(), unique.end()), unique.end());
    for (std::int64_t f : unique) ++document_frequency[f];
  }
  const double total = static_cast<double>(n());
  std::vector<float> projected(n() * static_cast<std::size_t>(config.name_features_dim), 0.0f);
  for (std::size_t i = 0; i < n(); ++i) {
    std::unordered_map<std::int64_t, float> bag;
    for (std::int64_t f : raw[i]) bag[f] += static_cast<float>(std::log(total / document_frequency[f]));
    SparseVector v(bag.begin(), bag.end());
    std::sort(v.begin(), v.end());
    double norm = 0;
    for (auto& [f, w] : v) norm += static_cast<double>(w) * w;
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    for (auto& [f, w] : v) w = static_cast<float>(w / norm);
    float* row = projected.data() + i * static_cast<std::size_t>(config.name_features_dim);
    for (auto& [f, w] : v) {
      for (int d = 0; d < config.name_features_dim; ++d) row[d] += w * projection(f, d);
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(config.name_features_dim));
    for (int d = 0; d < config.name_features_dim; ++d) row[d] *= scale;
    name_bags[i] = std::move(v);
  }
  name_vectors = torch::tensor(projected, torch::kFloat).view({static_cast<std::int64_t>(n()), config.name_features_dim});
}

EdgeSample EntityAligner::Impl::sample(std::uint64_t seed) const {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(1e-12, 1.0);
  std::vector<std::int64_t> centre, neighbour, relation;
  std::vector<float> count(n(), 1.0f);
  EdgeSample out;
  out.offsets.assign(1, 0);
  std::vector<std::pair<double, std::uint64_t>> keys;
  for (std::size_t e = 0; e < n(); ++e) {
    const std::uint64_t begin = offsets[e], end = offsets[e + 1];
    const std::uint64_t degree = end - begin;
    auto take = [&](std::uint64_t at) {
      centre.push_back(static_cast<std::int64_t>(e));
      neighbour.push_back(adjacent[at]);
      relation.push_back(adjacent_relation[at]);
      out.neighbours.push_back(adjacent[at]);
    };
    if (degree <= static_cast<std::uint64_t>(config.cap)) {
      for (std::uint64_t at = begin; at < end; ++at) take(at);
    } else {
      // Efraimidis-Spirakis: the cap largest keys log(u) / w are a weighted draw without replacement.
      keys.clear();
      for (std::uint64_t at = begin; at < end; ++at) keys.emplace_back(std::log(uniform(rng)) / adjacent_weight[at], at);
      std::nth_element(keys.begin(), keys.begin() + config.cap, keys.end(), std::greater<>());
      std::vector<std::uint64_t> chosen;
      for (int i = 0; i < config.cap; ++i) chosen.push_back(keys[static_cast<std::size_t>(i)].second);
      std::sort(chosen.begin(), chosen.end());
      for (std::uint64_t at : chosen) take(at);
    }
    count[e] = static_cast<float>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(degree, static_cast<std::uint64_t>(config.cap))));
    out.offsets.push_back(out.neighbours.size());
  }
  out.centre = torch::tensor(centre, torch::kLong);
  out.neighbour = torch::tensor(neighbour, torch::kLong);
  out.relation = torch::tensor(relation, torch::kLong);
  out.count = torch::tensor(count, torch::kFloat);
  return out;
}

torch::Tensor EntityAligner::Impl::infer(std::uint64_t seed) {
  torch::NoGradGuard no_grad;
  net->eval();
  torch::Tensor sum;
  for (int d = 0; d < std::max(1, config.inference_draws); ++d) {
    EdgeSample s = sample(seed + 7919 * static_cast<std::uint64_t>(d));
    torch::Tensor out = net->forward(s, entity_mean, relation_mean, name_vectors, 0.0);
    sum = d == 0 ? out : sum + out;
    if (d == 0) {
      cross_offsets = s.offsets;
      cross_neighbours = s.neighbours;
    }
  }
  net->train();
  return AlignNetImpl::unit(sum);
}

std::vector<float> EntityAligner::Impl::name_similarity(std::span<const std::uint32_t> queries,
                                                        std::span<const std::uint32_t> candidates) const {
  std::vector<float> out(queries.size() * candidates.size(), 0.0f);
  if (!names) return out;
  std::unordered_map<std::int64_t, std::vector<std::pair<std::uint32_t, float>>> postings;
  for (std::size_t c = 0; c < candidates.size(); ++c) {
    for (const auto& [f, w] : name_bags[candidates[c]]) postings[f].emplace_back(static_cast<std::uint32_t>(c), w);
  }
  for (std::size_t q = 0; q < queries.size(); ++q) {
    float* row = out.data() + q * candidates.size();
    for (const auto& [f, w] : name_bags[queries[q]]) {
      auto it = postings.find(f);
      if (it == postings.end()) continue;
      for (const auto& [c, wc] : it->second) row[c] += w * wc;
    }
  }
  return out;
}

std::vector<float> EntityAligner::Impl::similarity(std::span<const std::uint32_t> queries,
                                                   std::span<const std::uint32_t> candidates, double weight) const {
  std::vector<float> out(queries.size() * candidates.size());
  if (out.empty()) return out;
  torch::NoGradGuard no_grad;
  auto index = [](std::span<const std::uint32_t> ids) {
    return torch::tensor(std::vector<std::int64_t>(ids.begin(), ids.end()), torch::kLong);
  };
  torch::Tensor result = torch::from_blob(out.data(), {static_cast<std::int64_t>(queries.size()), static_cast<std::int64_t>(candidates.size())});
  torch::mm_out(result, z.index_select(0, index(queries)), z.index_select(0, index(candidates)).t());
  if (names && weight != 0) {
    std::vector<float> name = name_similarity(queries, candidates);
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += static_cast<float>(weight) * name[i];
  }
  return out;
}

float EntityAligner::Impl::cross_score(std::uint32_t a, std::uint32_t b) const {
  const std::uint64_t ab = cross_offsets[a], ae = cross_offsets[a + 1];
  const std::uint64_t bb = cross_offsets[b], be = cross_offsets[b + 1];
  if (ab == ae || bb == be) return 0.0f;
  const std::size_t ca = ae - ab, cb = be - bb;
  const std::size_t d = static_cast<std::size_t>(zdim);
  std::vector<float> m(ca * cb);
  for (std::size_t i = 0; i < ca; ++i) {
    const float* x = z_flat.data() + cross_neighbours[ab + i] * d;
    for (std::size_t j = 0; j < cb; ++j) {
      const float* y = z_flat.data() + cross_neighbours[bb + j] * d;
      float dot = 0;
      for (std::size_t t = 0; t < d; ++t) dot += x[t] * y[t];
      m[i * cb + j] = dot;
    }
  }
  // Each neighbour's weight: softmax over its side of (its best match on the other side) / 0.1.
  auto weighted_mean = [&](bool rows, std::vector<float>* mean) {
    const std::size_t count = rows ? ca : cb;
    std::vector<double> logits(count, -1e30);
    for (std::size_t i = 0; i < ca; ++i) {
      for (std::size_t j = 0; j < cb; ++j) {
        double& best = logits[rows ? i : j];
        best = std::max(best, static_cast<double>(m[i * cb + j]) / 0.1);
      }
    }
    const double top = *std::max_element(logits.begin(), logits.end());
    double total = 0;
    for (double& l : logits) total += (l = std::exp(l - top));
    mean->assign(d, 0.0f);
    for (std::size_t i = 0; i < count; ++i) {
      const float* x = z_flat.data() + cross_neighbours[(rows ? ab : bb) + i] * d;
      const float w = static_cast<float>(logits[i] / total);
      for (std::size_t t = 0; t < d; ++t) (*mean)[t] += w * x[t];
    }
  };
  std::vector<float> ma, mb;
  weighted_mean(true, &ma);
  weighted_mean(false, &mb);
  double dot = 0, na = 0, nb = 0;
  for (std::size_t t = 0; t < d; ++t) {
    dot += static_cast<double>(ma[t]) * mb[t];
    na += static_cast<double>(ma[t]) * ma[t];
    nb += static_cast<double>(mb[t]) * mb[t];
  }
  return na > 0 && nb > 0 ? static_cast<float>(dot / std::sqrt(na * nb)) : 0.0f;
}

void EntityAligner::Impl::rerank(std::vector<float>* scores, std::span<const std::uint32_t> queries,
                                 std::span<const std::uint32_t> candidates, double weight,
                                 std::span<const std::size_t> rows) const {
  if (weight == 0 || candidates.empty()) return;
  const std::size_t cols = candidates.size();
  const std::size_t top = std::min<std::size_t>(static_cast<std::size_t>(std::max(config.rerank, 1)), cols);
  std::vector<std::size_t> order(cols);
  for (std::size_t q : rows) {
    float* row = scores->data() + q * cols;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      [&](std::size_t a, std::size_t b) { return row[a] > row[b]; });
    std::vector<float> add(top);
    for (std::size_t i = 0; i < top; ++i) add[i] = static_cast<float>(weight) * cross_score(queries[q], candidates[order[i]]);
    for (std::size_t i = 0; i < top; ++i) row[order[i]] += add[i];
  }
}

Result<std::unique_ptr<EntityAligner>> EntityAligner::create(const AlignerConfig& config, const Context&) {
  if (config.dim < 4 || config.cap < 1 || config.name_features_dim < 8 || config.name_buckets < 16 || config.rerank < 1) {
    return Status::bad_input("aligner config out of range: dim >= 4, cap >= 1, name_features_dim >= 8, rerank >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  return std::unique_ptr<EntityAligner>(new EntityAligner(std::move(impl)));
}

EntityAligner::EntityAligner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EntityAligner::~EntityAligner() = default;
const AlignerConfig& EntityAligner::config() const { return impl_->config; }
void EntityAligner::set_cross_attention(bool on) { impl_->cross_weight = on ? impl_->validated_cross_weight : 0.0; }

namespace {

// Hits@1 of `rows` (query index -> the candidate index of its partner) in a scored matrix.
double hits_at_1(const std::vector<float>& scores, std::size_t cols, const std::vector<std::pair<std::size_t, std::size_t>>& truth) {
  if (truth.empty()) return 0;
  std::size_t hits = 0;
  for (auto [q, c] : truth) {
    const float* row = scores.data() + q * cols;
    const float target = row[c];
    bool best = true;
    for (std::size_t j = 0; j < cols && best; ++j) best = !(row[j] > target);
    hits += best ? 1 : 0;
  }
  return static_cast<double>(hits) / static_cast<double>(truth.size());
}

}  // namespace

Result<AlignerTrainReport> EntityAligner::train(const graph::KnowledgeGraph& left, const graph::KnowledgeGraph& right,
                                                const graph::EntityLinks& seeds, const AlignerTrainOptions& options,
                                                const Context& context) {
  if (seeds.empty()) return Status::bad_input("no seed links to train on");
  for (const auto& [a, b] : seeds) {
    if (a >= left.num_entities() || b >= right.num_entities()) return Status::bad_input("a seed link refers to an entity out of range");
  }
  if (options.epochs < 0 || options.batch_size < 1 || options.hard_negatives < 0) {
    return Status::bad_input("train options out of range: epochs >= 0, batch_size >= 1, hard_negatives >= 0");
  }
  const auto start = Clock::now();
  // Training allocates and frees edge-sized tensors (100+ MB) many times a second; glibc maps
  // and unmaps each, and the page faults cost more than the arithmetic (27 s an epoch on DBP15K
  // instead of 5). Keep them on the heap while training.
  struct HeapForLargeBlocks {
    HeapForLargeBlocks() {
      mallopt(M_MMAP_MAX, 0);
      mallopt(M_TRIM_THRESHOLD, 1 << 30);
      mallopt(M_TOP_PAD, 256 << 20);
    }
    ~HeapForLargeBlocks() {
      mallopt(M_MMAP_MAX, 65536);
      mallopt(M_TRIM_THRESHOLD, 128 * 1024);
      mallopt(M_TOP_PAD, 0);
      malloc_trim(0);
    }
  } heap_for_large_blocks;
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());
  Impl& m = *impl_;
  m.build(left, right);
  m.net = AlignNet(static_cast<std::int64_t>(m.n()), m.relations, m.config, m.names);
  const std::uint32_t nl = static_cast<std::uint32_t>(m.nl);

  // Seeds -> train and validation (seeded shuffle); pairs as merged ids.
  std::mt19937_64 rng(context.seed() ^ 0xA11CEULL);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> all;
  for (const auto& [a, b] : seeds) all.emplace_back(a, b + nl);
  std::shuffle(all.begin(), all.end(), rng);
  std::size_t validation = static_cast<std::size_t>(std::floor(options.validation_fraction * static_cast<double>(all.size())));
  if (validation >= all.size()) validation = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> valid(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(validation));
  std::vector<std::pair<std::uint32_t, std::uint32_t>> train(all.begin() + static_cast<std::ptrdiff_t>(validation), all.end());
  AlignerTrainReport report;
  report.train_links = train.size();
  report.validation_links = valid.size();

  torch::optim::Adam optimizer(m.net->parameters(), torch::optim::AdamOptions(options.learning_rate));
  int hard = options.hard_negatives;
  const int negatives = std::max(1, 2 * hard);
  int epoch_counter = 0;

  // Hard negatives of `from` (merged ids) among the merged ids [pool_begin, pool_begin + pool_size),
  // the partner excluded, from embeddings zall.
  auto nearest = [&](const torch::Tensor& zall, const std::vector<std::int64_t>& from, const std::vector<std::int64_t>& partner,
                     std::int64_t pool_begin, std::int64_t pool_size) {
    torch::NoGradGuard no_grad;
    std::vector<std::int64_t> out(from.size() * static_cast<std::size_t>(hard));
    if (hard == 0) return out;
    torch::Tensor pool_z = zall.slice(0, pool_begin, pool_begin + pool_size);
    const std::int64_t k = std::min<std::int64_t>(hard + 1, pool_size);
    for (std::size_t begin = 0; begin < from.size(); begin += 2048) {
      const std::size_t end = std::min(from.size(), begin + 2048);
      torch::Tensor q = zall.index_select(0, torch::tensor(std::vector<std::int64_t>(from.begin() + static_cast<std::ptrdiff_t>(begin), from.begin() + static_cast<std::ptrdiff_t>(end)), torch::kLong));
      torch::Tensor top = std::get<1>(torch::mm(q, pool_z.t()).topk(k, 1)).contiguous();
      auto acc = top.accessor<std::int64_t, 2>();
      for (std::size_t i = begin; i < end; ++i) {
        int written = 0;
        for (std::int64_t j = 0; j < k && written < hard; ++j) {
          const std::int64_t id = pool_begin + acc[static_cast<std::int64_t>(i - begin)][j];
          if (id == partner[i]) continue;
          out[i * static_cast<std::size_t>(hard) + static_cast<std::size_t>(written++)] = id;
        }
        // A pool smaller than hard + 1: repeat the last negative found (or any non-partner).
        const std::int64_t filler = written > 0 ? out[i * static_cast<std::size_t>(hard) + static_cast<std::size_t>(written - 1)]
                                                : (partner[i] == pool_begin ? pool_begin + pool_size - 1 : pool_begin);
        while (written < hard) out[i * static_cast<std::size_t>(hard) + static_cast<std::size_t>(written++)] = filler;
      }
    }
    return out;
  };

  auto run_epochs = [&](int epochs) {
    std::vector<std::int64_t> ls, rs;
    for (auto [a, b] : train) {
      ls.push_back(a);
      rs.push_back(b);
    }
    std::uniform_int_distribution<std::int64_t> pick_left(0, static_cast<std::int64_t>(m.nl) - 1), pick_right(0, static_cast<std::int64_t>(m.nr) - 1);
    for (int epoch = 0; epoch < epochs; ++epoch) {
      const auto epoch_start = Clock::now();
      const std::uint64_t epoch_seed = context.seed() * 1000003ULL + static_cast<std::uint64_t>(epoch_counter);
      EdgeSample edges = m.sample(epoch_seed);
      torch::Tensor zcur;
      {
        torch::NoGradGuard no_grad;
        m.net->eval();
        zcur = m.net->forward(edges, m.entity_mean, m.relation_mean, m.name_vectors, 0.0);
        m.net->train();
      }
      if (options.all_negatives) hard = 0;
      std::vector<std::int64_t> hard_right = nearest(zcur, ls, rs, static_cast<std::int64_t>(nl), static_cast<std::int64_t>(m.nr));
      std::vector<std::int64_t> hard_left = nearest(zcur, rs, ls, 0, static_cast<std::int64_t>(m.nl));
      std::vector<std::size_t> order(train.size());
      std::iota(order.begin(), order.end(), 0);
      std::shuffle(order.begin(), order.end(), rng);
      double loss_sum = 0;
      int batches = 0;
      for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(options.batch_size)) {
        const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(options.batch_size));
        const std::int64_t b = static_cast<std::int64_t>(end - begin);
        std::vector<std::int64_t> bl, br, nl_ids, nr_ids;
        for (std::size_t i = begin; i < end; ++i) {
          const std::size_t p = order[i];
          bl.push_back(ls[p]);
          br.push_back(rs[p]);
          for (int h = 0; h < hard; ++h) {
            nr_ids.push_back(hard_right[p * static_cast<std::size_t>(hard) + static_cast<std::size_t>(h)]);
            nl_ids.push_back(hard_left[p * static_cast<std::size_t>(hard) + static_cast<std::size_t>(h)]);
          }
          for (int h = hard; h < negatives; ++h) {
            std::int64_t r = pick_right(rng) + static_cast<std::int64_t>(nl);
            std::int64_t l = pick_left(rng);
            nr_ids.push_back(r == rs[p] ? (r + 1 - static_cast<std::int64_t>(nl)) % static_cast<std::int64_t>(m.nr) + static_cast<std::int64_t>(nl) : r);
            nl_ids.push_back(l == ls[p] ? (l + 1) % static_cast<std::int64_t>(m.nl) : l);
          }
        }
        torch::Tensor zall = m.net->forward(edges, m.entity_mean, m.relation_mean, m.name_vectors, options.dropout);
        torch::Tensor zl = zall.index_select(0, torch::tensor(bl, torch::kLong));
        torch::Tensor zr = zall.index_select(0, torch::tensor(br, torch::kLong));
        torch::Tensor pos = (zl * zr).sum(1, true);  // [B, 1]
        torch::Tensor loss;
        if (options.all_negatives) {
          // Every entity of the other graph is a negative; each row's margins are standardized
          // (mean and deviation without gradient) before the soft maximum, so the hardest
          // negatives of every link weigh alike whatever the spread of its scores.
          torch::Tensor bl_t = torch::tensor(bl, torch::kLong), br_t = torch::tensor(br, torch::kLong);
          auto side = [&](const torch::Tensor& query, const torch::Tensor& pool, const torch::Tensor& partner, std::int64_t offset) {
            torch::Tensor margins = options.margin - pos + torch::mm(query, pool.t());  // [B, pool]
            torch::Tensor mask = torch::ones_like(margins).scatter_(1, (partner - offset).unsqueeze(1), 0.0);
            margins = margins * mask;
            torch::Tensor mean = margins.mean(1, true).detach(), deviation = margins.std(1, true, true).detach();
            return torch::logsumexp(options.scale * (margins - mean) / deviation.clamp_min(1e-6), 1);
          };
          torch::Tensor zleft = zall.slice(0, 0, static_cast<std::int64_t>(m.nl));
          torch::Tensor zright = zall.slice(0, static_cast<std::int64_t>(m.nl), static_cast<std::int64_t>(m.n()));
          loss = (side(zl, zright, br_t, static_cast<std::int64_t>(nl)) + side(zr, zleft, bl_t, 0)).mean();
        } else {
          torch::Tensor neg_r = zall.index_select(0, torch::tensor(nr_ids, torch::kLong)).view({b, negatives, -1});
          torch::Tensor neg_l = zall.index_select(0, torch::tensor(nl_ids, torch::kLong)).view({b, negatives, -1});
          torch::Tensor sl = torch::bmm(neg_r, zl.unsqueeze(2)).squeeze(2);  // [B, negatives]
          torch::Tensor sr = torch::bmm(neg_l, zr.unsqueeze(2)).squeeze(2);
          auto soft_margin = [&](const torch::Tensor& s) {
            torch::Tensor logits = options.scale * (options.margin - pos + s);
            return torch::logsumexp(torch::cat({torch::zeros({b, 1}), logits}, 1), 1);
          };
          loss = (soft_margin(sl) + soft_margin(sr)).mean();
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        loss_sum += loss.item<double>();
        ++batches;
      }
      report.final_loss = batches > 0 ? loss_sum / batches : 0;
      ++epoch_counter;
      report.epochs = epoch_counter;
      if (options.on_epoch) options.on_epoch(epoch_counter, report.final_loss, seconds_since(epoch_start));
    }
  };

  // Chooses name_weight and cross_weight by validation Hits@1 among the non-train entities.
  auto choose_weights = [&]() {
    m.z = m.infer(context.seed());
    m.zdim = m.z.size(1);
    m.z_flat.assign(m.z.data_ptr<float>(), m.z.data_ptr<float>() + m.z.numel());
    std::unordered_set<std::uint32_t> trained;
    for (auto [a, b] : train) {
      trained.insert(a);
      trained.insert(b);
    }
    std::vector<std::uint32_t> queries, candidates;
    for (std::uint32_t i = 0; i < nl; ++i) {
      if (!trained.count(i)) queries.push_back(i);
    }
    for (std::uint32_t i = nl; i < m.n(); ++i) {
      if (!trained.count(i)) candidates.push_back(i);
    }
    std::unordered_map<std::uint32_t, std::size_t> query_row, candidate_col;
    for (std::size_t i = 0; i < queries.size(); ++i) query_row[queries[i]] = i;
    for (std::size_t i = 0; i < candidates.size(); ++i) candidate_col[candidates[i]] = i;
    std::vector<std::pair<std::size_t, std::size_t>> truth;
    std::vector<std::size_t> rows;
    for (auto [a, b] : valid) {
      truth.emplace_back(query_row[a], candidate_col[b]);
      rows.push_back(query_row[a]);
    }
    std::vector<double> name_grid = m.names ? std::vector<double>{0.0, 0.5, 1.0, 2.0, 4.0} : std::vector<double>{0.0};
    std::vector<double> cross_grid = m.config.cross_attention ? std::vector<double>{0.0, 0.25, 0.5, 1.0} : std::vector<double>{0.0};
    double best = -1;
    m.name_weight = name_grid.back() > 0 ? 1.0 : 0.0;
    m.cross_weight = 0;
    if (truth.empty()) return std::vector<float>{};
    std::vector<float> best_scores;
    for (double w : name_grid) {
      std::vector<float> base = m.similarity(queries, candidates, w);
      csls(&base, queries.size(), candidates.size(), 10);
      for (double c : cross_grid) {
        std::vector<float> scores = base;
        m.rerank(&scores, queries, candidates, c, rows);
        double h1 = hits_at_1(scores, candidates.size(), truth);
        if (h1 > best) {
          best = h1;
          m.name_weight = w;
          m.cross_weight = c;
          best_scores = std::move(scores);
        }
      }
    }
    report.validation_hits1 = best;
    // The top-1 score threshold reaching the target precision on the validation rows.
    std::vector<std::pair<float, bool>> predictions;
    for (auto [q, c] : truth) {
      const float* row = best_scores.data() + q * candidates.size();
      std::size_t arg = static_cast<std::size_t>(std::max_element(row, row + candidates.size()) - row);
      predictions.emplace_back(row[arg], arg == c);
    }
    std::sort(predictions.begin(), predictions.end(), [](auto& a, auto& b) { return a.first > b.first; });
    report.threshold = std::numeric_limits<double>::infinity();
    std::size_t correct = 0;
    for (std::size_t i = 0; i < predictions.size(); ++i) {
      correct += predictions[i].second ? 1 : 0;
      if (static_cast<double>(correct) / static_cast<double>(i + 1) >= options.target_precision) report.threshold = predictions[i].first;
    }
    return std::vector<float>{};
  };

  run_epochs(options.epochs);
  choose_weights();
  for (int round = 0; round < options.bootstrap_rounds && options.bootstrap_epochs > 0; ++round) {
    // Mutual nearest neighbours among entities in no seed (train or validation).
    std::unordered_set<std::uint32_t> used;
    for (auto [a, b] : all) {
      used.insert(a);
      used.insert(b);
    }
    std::vector<std::uint32_t> queries, candidates;
    for (std::uint32_t i = 0; i < nl; ++i) {
      if (!used.count(i)) queries.push_back(i);
    }
    for (std::uint32_t i = nl; i < m.n(); ++i) {
      if (!used.count(i)) candidates.push_back(i);
    }
    if (queries.empty() || candidates.empty()) break;
    std::vector<float> scores = m.similarity(queries, candidates, m.name_weight);
    csls(&scores, queries.size(), candidates.size(), 10);
    torch::Tensor s = torch::from_blob(scores.data(), {static_cast<std::int64_t>(queries.size()), static_cast<std::int64_t>(candidates.size())});
    auto [row_best, row_arg] = s.max(1);
    torch::Tensor col_arg = std::get<1>(s.max(0));
    auto ra = row_arg.accessor<std::int64_t, 1>();
    auto rb = row_best.accessor<float, 1>();
    auto ca = col_arg.accessor<std::int64_t, 1>();
    std::size_t added = 0;
    for (std::size_t q = 0; q < queries.size(); ++q) {
      const std::int64_t c = ra[static_cast<std::int64_t>(q)];
      if (ca[c] == static_cast<std::int64_t>(q) && rb[static_cast<std::int64_t>(q)] >= options.bootstrap_min_score) {
        train.emplace_back(queries[q], candidates[static_cast<std::size_t>(c)]);
        all.emplace_back(queries[q], candidates[static_cast<std::size_t>(c)]);
        ++added;
      }
    }
    report.bootstrapped_links += added;
    context.logger().info("align: bootstrapping round {} added {} pairs", round + 1, added);
    run_epochs(options.bootstrap_epochs);
    choose_weights();
  }
  report.name_weight = m.name_weight;
  report.cross_weight = m.cross_weight;
  m.validated_cross_weight = m.cross_weight;
  report.seconds = seconds_since(start);
  m.trained = true;
  return report;
}

Result<std::vector<std::vector<AlignedPair>>> EntityAligner::rank(std::span<const graph::EntityId> queries,
                                                                  std::span<const graph::EntityId> candidates, int k,
                                                                  OneToOne one_to_one, const Context& context,
                                                                  std::span<const graph::EntityId> truth,
                                                                  std::vector<std::size_t>* truth_ranks) const {
  const Impl& m = *impl_;
  if (!m.trained) return Status::bad_input("the aligner is not trained");
  torch::set_num_threads(std::max(context.num_threads(), 1));
  std::vector<std::uint32_t> q, c;
  for (graph::EntityId e : queries) {
    if (e >= m.nl) return Status::bad_input("query entity " + std::to_string(e) + " is not in the left graph");
    q.push_back(e);
  }
  if (candidates.empty()) {
    for (std::size_t i = 0; i < m.nr; ++i) c.push_back(static_cast<std::uint32_t>(m.nl + i));
  } else {
    for (graph::EntityId e : candidates) {
      if (e >= m.nr) return Status::bad_input("candidate entity " + std::to_string(e) + " is not in the right graph");
      c.push_back(static_cast<std::uint32_t>(e + m.nl));
    }
  }
  std::vector<float> scores = m.similarity(q, c, m.name_weight);
  csls(&scores, q.size(), c.size(), 10);
  std::vector<std::size_t> rows(q.size());
  std::iota(rows.begin(), rows.end(), 0);
  m.rerank(&scores, q, c, m.cross_weight, rows);
  if (one_to_one == OneToOne::kSinkhorn) {
    sinkhorn(&scores, q.size(), c.size(), 0.05, 10);
  } else if (one_to_one == OneToOne::kMutual && !q.empty() && !c.empty()) {
    torch::Tensor s = torch::from_blob(scores.data(), {static_cast<std::int64_t>(q.size()), static_cast<std::int64_t>(c.size())});
    torch::Tensor row_arg = std::get<1>(s.max(1)), col_arg = std::get<1>(s.max(0));
    auto ra = row_arg.accessor<std::int64_t, 1>();
    auto ca = col_arg.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(q.size()); ++i) {
      if (ca[ra[i]] == i) scores[static_cast<std::size_t>(i) * c.size() + static_cast<std::size_t>(ra[i])] += 10.0f;
    }
  }
  if (truth_ranks != nullptr) {
    if (truth.size() != q.size()) return Status::bad_input("truth must hold one candidate per query");
    std::unordered_map<std::uint32_t, std::size_t> column;
    for (std::size_t j = 0; j < c.size(); ++j) column.emplace(c[j], j);
    truth_ranks->assign(q.size(), c.size() + 1);
    for (std::size_t i = 0; i < q.size(); ++i) {
      auto it = column.find(static_cast<std::uint32_t>(truth[i] + m.nl));
      if (it == column.end()) continue;
      const float* row = scores.data() + i * c.size();
      const float target = row[it->second];
      std::size_t above = 0;
      for (std::size_t j = 0; j < c.size(); ++j) above += row[j] > target ? 1 : 0;
      (*truth_ranks)[i] = above + 1;
    }
  }
  std::vector<std::vector<AlignedPair>> out(q.size());
  const std::size_t top = std::min<std::size_t>(static_cast<std::size_t>(std::max(k, 0)), c.size());
  std::vector<std::size_t> order(c.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    const float* row = scores.data() + i * c.size();
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(), [&](std::size_t a, std::size_t b) {
      return row[a] != row[b] ? row[a] > row[b] : a < b;
    });
    for (std::size_t j = 0; j < top; ++j) {
      out[i].push_back(AlignedPair{q[i], static_cast<graph::EntityId>(c[order[j]] - m.nl), row[order[j]]});
    }
  }
  return out;
}

}  // namespace aisle::models
