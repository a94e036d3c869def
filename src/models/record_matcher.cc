#include "aisle/models/record_matcher.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>
#include <random>
#include <unordered_set>

#include "aisle/models/featurizer.h"

namespace aisle::models {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kExactFeatures = 8;

// Words: runs of ASCII alphanumerics and non-ASCII bytes, ASCII-lowercased; a '.' between two
// digits stays inside the word ("7.0", "129.95").
std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::string word;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    const bool keep = c >= 0x80 || std::isalnum(c) ||
                      (c == '.' && !word.empty() && std::isdigit(static_cast<unsigned char>(word.back())) &&
                       i + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[i + 1])));
    if (keep) {
      word.push_back(c < 0x80 ? static_cast<char>(std::tolower(c)) : text[i]);
    } else if (!word.empty()) {
      out.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) out.push_back(std::move(word));
  return out;
}

bool has_digit(const std::string& w) {
  return std::any_of(w.begin(), w.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
}

std::optional<double> as_number(const std::string& value) {
  std::string trimmed;
  for (char c : value) {
    if (c != '$' && c != ',' && c != ' ') trimmed.push_back(c);
  }
  if (trimmed.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(trimmed.c_str(), &end);
  if (end != trimmed.c_str() + trimmed.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// The exact features of one field (see the header).
void exact_features(const std::vector<std::string>& a, const std::vector<std::string>& b, const std::string& va,
                    const std::string& vb, float* out) {
  std::unordered_set<std::string> sa(a.begin(), a.end()), sb(b.begin(), b.end());
  std::size_t common = 0;
  for (const auto& w : sa) common += sb.count(w);
  const std::size_t unite = sa.size() + sb.size() - common;
  out[0] = unite > 0 ? static_cast<float>(common) / static_cast<float>(unite) : 0.0f;
  out[1] = !a.empty() && a == b ? 1.0f : 0.0f;
  out[2] = a.empty() && b.empty() ? 1.0f : 0.0f;
  out[3] = a.empty() != b.empty() ? 1.0f : 0.0f;
  auto digit_share = [](const std::vector<std::string>& x, const std::unordered_set<std::string>& other) {
    std::size_t with = 0, found = 0;
    for (const auto& w : x) {
      if (!has_digit(w)) continue;
      ++with;
      found += other.count(w);
    }
    return with > 0 ? static_cast<float>(found) / static_cast<float>(with) : 0.0f;
  };
  out[4] = digit_share(a, sb);
  out[5] = digit_share(b, sa);
  auto na = as_number(va), nb = as_number(vb);
  if (na && nb && std::max(std::fabs(*na), std::fabs(*nb)) > 0) {
    out[6] = static_cast<float>(std::fabs(*na - *nb) / std::max(std::fabs(*na), std::fabs(*nb)));
    out[7] = 1.0f;
  } else {
    out[6] = 0.0f;
    out[7] = 0.0f;
  }
}

// One pair, tokenized: per field and side, its tokens' id bags; plus the exact features.
struct EncodedPair {
  std::vector<std::vector<std::vector<std::int64_t>>> tokens[2];  // per side: [field][token] -> ids
  std::vector<float> exact;                            // fields * kExactFeatures
  float label = 0;
};

struct MatchNetImpl : torch::nn::Module {
  MatchNetImpl(const MatcherConfig& config, int field_count) : fields(field_count), hidden(config.hidden) {
    embedding = register_module("embedding", torch::nn::EmbeddingBag(
        torch::nn::EmbeddingBagOptions(config.buckets, config.embedding_dim).mode(torch::kSum)));
    project = register_module("project", torch::nn::Linear(config.embedding_dim, config.hidden));
    compare = register_module("compare", torch::nn::Linear(2 * config.hidden, config.hidden));
    importance = register_module("importance", torch::nn::Linear(config.hidden, 1));
    const int per_field = 2 * config.hidden + 2 + kExactFeatures;
    combine = register_module("combine", torch::nn::Linear(field_count * per_field, config.hidden));
    out = register_module("out", torch::nn::Linear(config.hidden, 1));
  }

  // a, b: [FB, T, H]; ma, mb: [FB, T] (1 = token). Returns (vA [FB, H], sA [FB]).
  std::pair<torch::Tensor, torch::Tensor> attend(const torch::Tensor& a, const torch::Tensor& ma, const torch::Tensor& b,
                                                 const torch::Tensor& mb) {
    auto unit = [](const torch::Tensor& x) {
      return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(2).eps(1e-8));
    };
    torch::Tensor s = torch::bmm(unit(a), unit(b).transpose(1, 2));  // [FB, Ta, Tb]
    torch::Tensor bmask = mb.unsqueeze(1) > 0;
    torch::Tensor att = torch::softmax((s / 0.1).masked_fill(~bmask, -1e9), 2);
    torch::Tensor aligned = torch::bmm(att, b);
    torch::Tensor best = std::get<0>(s.masked_fill(~bmask, -1.0).max(2));  // [FB, Ta]
    torch::Tensor c = torch::relu(compare(torch::cat({a * aligned, (a - aligned).abs()}, 2)));
    torch::Tensor w = torch::softmax(importance(a).squeeze(2).masked_fill(ma <= 0, -1e9), 1);  // [FB, Ta]
    return {(w.unsqueeze(2) * c).sum(1), (w * best).sum(1)};
  }

  // tokens: [2, F, B, T, E] bag means gathered; masks [2, F, B, T]; exact [B, F * X].
  torch::Tensor forward(const torch::Tensor& token_vectors, const torch::Tensor& masks, const torch::Tensor& exact) {
    const std::int64_t f = token_vectors.size(1), b = token_vectors.size(2), t = token_vectors.size(3);
    torch::Tensor x = torch::tanh(project(token_vectors));  // [2, F, B, T, H]
    torch::Tensor a = x[0].reshape({f * b, t, hidden}), bb = x[1].reshape({f * b, t, hidden});
    torch::Tensor ma = masks[0].reshape({f * b, t}), mb = masks[1].reshape({f * b, t});
    auto [va, sa] = attend(a, ma, bb, mb);
    auto [vb, sb] = attend(bb, mb, a, ma);
    torch::Tensor field = torch::cat({va + vb, (va - vb).abs(), sa.unsqueeze(1), sb.unsqueeze(1)}, 1);  // [FB, 2H+2]
    field = field.view({f, b, -1}).permute({1, 0, 2});  // [B, F, 2H+2]
    torch::Tensor all = torch::cat({field, exact.view({b, f, kExactFeatures})}, 2).reshape({b, -1});
    return out(torch::relu(combine(all))).squeeze(1);
  }

  int fields, hidden;
  torch::nn::EmbeddingBag embedding{nullptr};
  torch::nn::Linear project{nullptr}, compare{nullptr}, importance{nullptr}, combine{nullptr}, out{nullptr};
};
TORCH_MODULE(MatchNet);

}  // namespace

nlohmann::json matcher_config_to_json(const MatcherConfig& c) {
  return {{"embedding_dim", c.embedding_dim}, {"hidden", c.hidden}, {"buckets", c.buckets},
          {"max_tokens", c.max_tokens}, {"max_fields", c.max_fields}};
}

double f1_at(std::span<const float> scores, std::span<const int> labels, double threshold) {
  std::size_t tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] >= threshold;
    if (predicted && labels[i] == 1) ++tp;
    if (predicted && labels[i] != 1) ++fp;
    if (!predicted && labels[i] == 1) ++fn;
  }
  return tp == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
}

std::pair<double, double> best_f1_threshold(std::span<const float> scores, std::span<const int> labels) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::size_t positives = 0;
  for (int l : labels) positives += l == 1 ? 1 : 0;
  double best = 0, threshold = 0.5;
  std::size_t tp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]] == 1 ? 1 : 0;
    // Only at the end of a run of equal scores is "score >= this" a real decision.
    if (i + 1 < order.size() && scores[order[i + 1]] == scores[order[i]]) continue;
    const std::size_t fp = i + 1 - tp, fn = positives - tp;
    const double f1 = tp == 0 ? 0.0 : 2.0 * static_cast<double>(tp) / static_cast<double>(2 * tp + fp + fn);
    if (f1 > best) {
      best = f1;
      threshold = scores[order[i]];
    }
  }
  return {best, threshold};
}

struct RecordMatcher::Impl {
  MatcherConfig config;
  std::vector<std::string> attributes;
  mutable MatchNet net{nullptr};
  double threshold = 0.5;
  bool trained = false;

  EncodedPair encode(const MatchExample& example) const {
    EncodedPair pair;
    pair.label = static_cast<float>(example.label);
    const std::size_t f = attributes.size();
    pair.exact.assign(f * kExactFeatures, 0.0f);
    std::vector<std::string> side_words[2];
    for (int side = 0; side < 2; ++side) pair.tokens[side].resize(f);
    for (std::size_t i = 0; i < f; ++i) {
      const std::string* values[2] = {nullptr, nullptr};
      for (int side = 0; side < 2; ++side) {
        const FieldRecord& record = side == 0 ? example.left : example.right;
        static const std::string empty;
        values[side] = &empty;
        for (const auto& [name, value] : record) {
          if (name == attributes[i]) values[side] = &value;
        }
        side_words[side] = words(*values[side]);
        if (static_cast<int>(side_words[side].size()) > config.max_tokens) side_words[side].resize(static_cast<std::size_t>(config.max_tokens));
        auto& tokens = pair.tokens[side][i];
        for (const std::string& w : side_words[side]) {
          tokens.emplace_back();
          append_word_ids(w, config.buckets, &tokens.back());
        }
        if (tokens.empty()) tokens.push_back({feature_id('e', attributes[i], config.buckets)});  // the empty field's token
      }
      exact_features(side_words[0], side_words[1], *values[0], *values[1], pair.exact.data() + i * kExactFeatures);
    }
    return pair;
  }

  // The network's logits for a batch of encoded pairs.
  torch::Tensor logits(const std::vector<const EncodedPair*>& batch) const {
    const std::int64_t f = static_cast<std::int64_t>(attributes.size()), b = static_cast<std::int64_t>(batch.size());
    std::int64_t t = 1;
    for (const EncodedPair* p : batch) {
      for (int side = 0; side < 2; ++side) {
        for (const auto& tokens : p->tokens[side]) t = std::max<std::int64_t>(t, static_cast<std::int64_t>(tokens.size()));
      }
    }
    std::vector<std::int64_t> ids, offsets;
    std::vector<float> weights;
    const std::int64_t slots = 2 * f * b * t;
    std::vector<std::int64_t> gather(static_cast<std::size_t>(slots), -1);
    std::vector<float> mask(static_cast<std::size_t>(slots), 0.0f);
    std::int64_t row = 0;
    for (int side = 0; side < 2; ++side) {
      for (std::int64_t fi = 0; fi < f; ++fi) {
        for (std::int64_t bi = 0; bi < b; ++bi) {
          const auto& tokens = batch[static_cast<std::size_t>(bi)]->tokens[side][static_cast<std::size_t>(fi)];
          for (std::size_t ti = 0; ti < tokens.size(); ++ti) {
            offsets.push_back(static_cast<std::int64_t>(ids.size()));
            ids.insert(ids.end(), tokens[ti].begin(), tokens[ti].end());
            const float w = 1.0f / static_cast<float>(tokens[ti].size());
            weights.insert(weights.end(), tokens[ti].size(), w);
            const std::int64_t slot = ((side * f + fi) * b + bi) * t + static_cast<std::int64_t>(ti);
            gather[static_cast<std::size_t>(slot)] = row++;
            mask[static_cast<std::size_t>(slot)] = 1.0f;
          }
        }
      }
    }
    for (auto& g : gather) {
      if (g < 0) g = row;  // the zero row
    }
    torch::Tensor bags = net->embedding->forward(torch::tensor(ids, torch::kLong), torch::tensor(offsets, torch::kLong),
                                        torch::tensor(weights, torch::kFloat));
    torch::Tensor table = torch::cat({bags, torch::zeros({1, bags.size(1)})});
    torch::Tensor tokens = table.index_select(0, torch::tensor(gather, torch::kLong)).view({2, f, b, t, -1});
    torch::Tensor masks = torch::tensor(mask, torch::kFloat).view({2, f, b, t});
    std::vector<float> exact;
    for (const EncodedPair* p : batch) exact.insert(exact.end(), p->exact.begin(), p->exact.end());
    return net->forward(tokens, masks, torch::tensor(exact, torch::kFloat).view({b, -1}));
  }

  std::vector<float> scores(const std::vector<EncodedPair>& pairs) const {
    torch::NoGradGuard no_grad;
    net->eval();
    std::vector<float> out;
    for (std::size_t begin = 0; begin < pairs.size(); begin += 256) {
      std::vector<const EncodedPair*> batch;
      for (std::size_t i = begin; i < std::min(pairs.size(), begin + 256); ++i) batch.push_back(&pairs[i]);
      torch::Tensor p = torch::sigmoid(logits(batch)).contiguous();
      out.insert(out.end(), p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    }
    net->train();
    return out;
  }
};

Result<std::unique_ptr<RecordMatcher>> RecordMatcher::create(const MatcherConfig& config, const Context&) {
  if (config.embedding_dim < 2 || config.hidden < 2 || config.buckets < 16 || config.max_tokens < 1 || config.max_fields < 1) {
    return Status::bad_input("matcher config out of range: embedding_dim, hidden >= 2, buckets >= 16, max_tokens, max_fields >= 1");
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  return std::unique_ptr<RecordMatcher>(new RecordMatcher(std::move(impl)));
}

RecordMatcher::RecordMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RecordMatcher::~RecordMatcher() = default;
double RecordMatcher::threshold() const { return impl_->threshold; }

namespace {

double average_precision_of(const std::vector<float>& scores, const std::vector<int>& labels) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::size_t positives = 0, hits = 0;
  for (int l : labels) positives += l == 1 ? 1 : 0;
  double sum = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (labels[order[i]] != 1) continue;
    ++hits;
    sum += static_cast<double>(hits) / static_cast<double>(i + 1);
  }
  return positives > 0 ? sum / static_cast<double>(positives) : 0.0;
}

}  // namespace

Result<MatcherTrainReport> RecordMatcher::train(std::span<const MatchExample> train, std::span<const MatchExample> validation,
                                                const MatcherTrainOptions& options, const Context& context) {
  std::size_t positives = 0;
  for (const auto& e : train) positives += e.label == 1 ? 1 : 0;
  if (positives == 0 || positives == train.size()) return Status::bad_input("the training pairs need both matches and non-matches");
  if (validation.empty()) return Status::bad_input("no validation pairs");
  if (options.epochs < 1 || options.batch_size < 1) return Status::bad_input("epochs and batch_size must be >= 1");
  const auto start = Clock::now();
  torch::set_num_threads(std::max(context.num_threads(), 1));
  torch::manual_seed(context.seed());
  Impl& m = *impl_;
  m.attributes.clear();
  for (const auto& e : train) {
    for (const FieldRecord* r : {&e.left, &e.right}) {
      for (const auto& [name, value] : *r) {
        if (std::find(m.attributes.begin(), m.attributes.end(), name) == m.attributes.end() &&
            static_cast<int>(m.attributes.size()) < m.config.max_fields) {
          m.attributes.push_back(name);
        }
      }
    }
  }
  if (m.attributes.empty()) return Status::bad_input("the training records have no fields");
  m.net = MatchNet(m.config, static_cast<int>(m.attributes.size()));
  std::vector<EncodedPair> train_pairs, valid_pairs;
  for (const auto& e : train) train_pairs.push_back(m.encode(e));
  std::vector<int> valid_labels;
  for (const auto& e : validation) {
    valid_pairs.push_back(m.encode(e));
    valid_labels.push_back(e.label);
  }
  torch::optim::Adam optimizer(m.net->parameters(), torch::optim::AdamOptions(options.learning_rate));
  const torch::Tensor positive_weight =
      torch::tensor({static_cast<float>(train.size() - positives) / static_cast<float>(positives)});
  std::mt19937_64 rng(context.seed());
  std::vector<std::size_t> order(train_pairs.size());
  std::iota(order.begin(), order.end(), 0);
  MatcherTrainReport report;
  report.attributes = m.attributes;
  std::vector<torch::Tensor> best_state;
  double best_ap = -1;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0;
    int batches = 0;
    for (std::size_t begin = 0; begin < order.size(); begin += static_cast<std::size_t>(options.batch_size)) {
      std::vector<const EncodedPair*> batch;
      std::vector<float> labels;
      for (std::size_t i = begin; i < std::min(order.size(), begin + static_cast<std::size_t>(options.batch_size)); ++i) {
        batch.push_back(&train_pairs[order[i]]);
        labels.push_back(train_pairs[order[i]].label);
      }
      torch::Tensor loss = torch::nn::functional::binary_cross_entropy_with_logits(
          m.logits(batch), torch::tensor(labels, torch::kFloat),
          torch::nn::functional::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(positive_weight));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.item<double>();
      ++batches;
    }
    std::vector<float> scores = m.scores(valid_pairs);
    const double ap = average_precision_of(scores, valid_labels);
    if (ap > best_ap) {
      best_ap = ap;
      best_state.clear();
      for (const auto& p : m.net->parameters()) best_state.push_back(p.detach().clone());
      report.best_epoch = epoch;
    }
    report.epochs = epoch;
    if (options.on_epoch) {
      options.on_epoch(epoch, loss_sum / std::max(batches, 1), ap, std::chrono::duration<double>(Clock::now() - epoch_start).count());
    }
  }
  {
    torch::NoGradGuard no_grad;
    auto parameters = m.net->parameters();
    for (std::size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(best_state[i]);
  }
  std::vector<float> scores = m.scores(valid_pairs);
  auto [f1, threshold] = best_f1_threshold(scores, valid_labels);
  m.threshold = threshold;
  m.trained = true;
  report.validation_ap = best_ap;
  report.validation_f1 = f1;
  report.threshold = threshold;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

Result<std::vector<float>> RecordMatcher::predict(std::span<const MatchExample> pairs) const {
  if (!impl_->trained) return Status::bad_input("the matcher is not trained");
  std::vector<EncodedPair> encoded;
  for (const auto& e : pairs) encoded.push_back(impl_->encode(e));
  return impl_->scores(encoded);
}

}  // namespace aisle::models
