#include "aisle/retrieve/policy.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <numbers>
#include <sstream>

#include "aisle/core/files.h"

namespace aisle::retrieve {
namespace {

constexpr std::array<std::string_view, kNumStrategies> kNames = {"lexical", "structured", "vector", "memory", "graph", "popularity"};
constexpr int kD = Policy::kFeatures;
constexpr int kFrequencyBuckets = 4;

int frequency_bucket(std::int64_t frequency) {
  if (frequency <= 0) return 0;
  if (frequency < 10) return 1;
  if (frequency < 100) return 2;
  return 3;
}

// One arm's ridge regression: A^-1 and b.
struct Arm {
  std::vector<double> a_inv;  // kD x kD, row-major
  std::array<double, kD> b{};
  std::int64_t pulls = 0;

  explicit Arm(double ridge) : a_inv(static_cast<std::size_t>(kD * kD), 0.0) {
    for (int i = 0; i < kD; ++i) a_inv[static_cast<std::size_t>(i * kD + i)] = 1.0 / ridge;
  }
  std::array<double, kD> theta() const {
    std::array<double, kD> t{};
    for (int i = 0; i < kD; ++i) {
      double sum = 0;
      for (int j = 0; j < kD; ++j) sum += a_inv[static_cast<std::size_t>(i * kD + j)] * b[static_cast<std::size_t>(j)];
      t[static_cast<std::size_t>(i)] = sum;
    }
    return t;
  }
  double width(const std::array<double, kD>& x) const {  // sqrt(x^T A^-1 x)
    double sum = 0;
    for (int i = 0; i < kD; ++i) {
      double row = 0;
      for (int j = 0; j < kD; ++j) row += a_inv[static_cast<std::size_t>(i * kD + j)] * x[static_cast<std::size_t>(j)];
      sum += x[static_cast<std::size_t>(i)] * row;
    }
    return std::sqrt(std::max(sum, 0.0));
  }
  // A += x x^T by Sherman-Morrison; b += r x.
  void learn(const std::array<double, kD>& x, double reward) {
    std::array<double, kD> ax{};
    for (int i = 0; i < kD; ++i) {
      double row = 0;
      for (int j = 0; j < kD; ++j) row += a_inv[static_cast<std::size_t>(i * kD + j)] * x[static_cast<std::size_t>(j)];
      ax[static_cast<std::size_t>(i)] = row;
    }
    double denominator = 1.0;
    for (int i = 0; i < kD; ++i) denominator += x[static_cast<std::size_t>(i)] * ax[static_cast<std::size_t>(i)];
    for (int i = 0; i < kD; ++i) {
      for (int j = 0; j < kD; ++j) {
        a_inv[static_cast<std::size_t>(i * kD + j)] -= ax[static_cast<std::size_t>(i)] * ax[static_cast<std::size_t>(j)] / denominator;
      }
    }
    for (int i = 0; i < kD; ++i) b[static_cast<std::size_t>(i)] += reward * x[static_cast<std::size_t>(i)];
    ++pulls;
  }
  // theta + scale * L z, L L^T = A^-1 (Cholesky; A^-1 is symmetric positive definite).
  std::array<double, kD> sample(double scale, std::mt19937_64& rng) const {
    std::vector<double> l(static_cast<std::size_t>(kD * kD), 0.0);
    for (int i = 0; i < kD; ++i) {
      for (int j = 0; j <= i; ++j) {
        double sum = 0.5 * (a_inv[static_cast<std::size_t>(i * kD + j)] + a_inv[static_cast<std::size_t>(j * kD + i)]);
        for (int k = 0; k < j; ++k) sum -= l[static_cast<std::size_t>(i * kD + k)] * l[static_cast<std::size_t>(j * kD + k)];
        if (i == j) {
          l[static_cast<std::size_t>(i * kD + i)] = std::sqrt(std::max(sum, 1e-12));
        } else {
          l[static_cast<std::size_t>(i * kD + j)] = sum / l[static_cast<std::size_t>(j * kD + j)];
        }
      }
    }
    std::normal_distribution<double> normal;
    std::array<double, kD> z{};
    for (double& v : z) v = normal(rng);
    std::array<double, kD> t = theta();
    for (int i = 0; i < kD; ++i) {
      double sum = 0;
      for (int k = 0; k <= i; ++k) sum += l[static_cast<std::size_t>(i * kD + k)] * z[static_cast<std::size_t>(k)];
      t[static_cast<std::size_t>(i)] += scale * sum;
    }
    return t;
  }
};

double dot(const std::array<double, kD>& a, const std::array<double, kD>& b) {
  double sum = 0;
  for (int i = 0; i < kD; ++i) sum += a[static_cast<std::size_t>(i)] * b[static_cast<std::size_t>(i)];
  return sum;
}

Status check_config(const PolicyConfig& c) {
  auto bad = [](const std::string& field, const std::string& why) { return Status::bad_input("policy config: " + field + " " + why); };
  if (c.algorithm != "linucb" && c.algorithm != "thompson" && c.algorithm != "epsilon") {
    return bad("algorithm", "must be linucb, thompson or epsilon (found " + c.algorithm + ")");
  }
  if (c.depths.empty() || c.depths.size() > 6) return bad("depths", "must list 1 to 6 depths");
  for (std::size_t i = 0; i < c.depths.size(); ++i) {
    if (c.depths[i] < 1 || c.depths[i] > 100000) return bad("depths", "must be in 1..100000");
    if (i > 0 && c.depths[i] <= c.depths[i - 1]) return bad("depths", "must be increasing");
  }
  if (c.budget < c.depths.front() || c.budget > 1000000) return bad("budget", "must be at least the smallest depth (and at most 1e6)");
  if (!(c.alpha >= 0) || c.alpha > 100) return bad("alpha", "must be in [0, 100]");
  if (!(c.noise >= 0) || c.noise > 100) return bad("noise", "must be in [0, 100]");
  if (!(c.epsilon >= 0) || c.epsilon > 1) return bad("epsilon", "must be in [0, 1]");
  if (!(c.ridge > 0) || c.ridge > 1e6) return bad("ridge", "must be in (0, 1e6]");
  return Status::ok();
}

}  // namespace

std::string_view strategy_name(int strategy) {
  return strategy >= 0 && strategy < kNumStrategies ? kNames[static_cast<std::size_t>(strategy)] : "unknown";
}

Result<int> strategy_from_name(std::string_view name) {
  for (int s = 0; s < kNumStrategies; ++s) {
    if (kNames[static_cast<std::size_t>(s)] == name) return s;
  }
  return Status::bad_input("unknown strategy " + std::string(name) +
                           " (expected lexical, structured, vector, memory, graph or popularity)");
}

int PolicyAction::candidates() const {
  int sum = 0;
  for (int d : depth) sum += d;
  return sum;
}

std::uint32_t PolicyAction::mask() const {
  std::uint32_t bits = 0;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (uses(s)) bits |= 1u << s;
  }
  return bits;
}

std::string PolicyAction::describe() const {
  std::string out;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (!uses(s)) continue;
    if (!out.empty()) out += '+';
    out += std::string(strategy_name(s)) + ":" + std::to_string(depth[static_cast<std::size_t>(s)]);
  }
  return out.empty() ? "none" : out;
}

std::array<double, kNumStrategies> share_credit(const PolicyAction& action, std::span<const std::uint32_t> found_by,
                                                std::span<const double> weights) {
  std::array<double, kNumStrategies> reward{};
  const std::uint32_t used = action.mask();
  for (std::size_t i = 0; i < found_by.size() && i < weights.size(); ++i) {
    const std::uint32_t bits = found_by[i] & used;
    const int finders = std::popcount(bits);
    if (finders == 0) continue;
    for (int s = 0; s < kNumStrategies; ++s) {
      if (bits & (1u << s)) reward[static_cast<std::size_t>(s)] += weights[i] / finders;
    }
  }
  return reward;
}

QuerySignals query_signals(const QueryAnalysis& analysis, std::string_view locale) {
  QuerySignals signals;
  signals.locale = std::string(locale);
  signals.terms = static_cast<int>(analysis.terms.size());
  for (const Interpretation& interpretation : analysis.interpretations) {
    if (interpretation.slots.empty()) continue;
    signals.slot_confidence = interpretation.likelihood;
    for (const Slot& slot : interpretation.slots) {
      signals.brand |= slot.type == "brand";
      signals.color |= slot.type == "color";
      signals.category |= slot.type == "category";
    }
    break;
  }
  return signals;
}

nlohmann::json policy_config_to_json(const PolicyConfig& c) {
  return {{"algorithm", c.algorithm}, {"depths", c.depths}, {"budget", c.budget}, {"alpha", c.alpha},
          {"noise", c.noise},         {"epsilon", c.epsilon}, {"ridge", c.ridge}};
}

Result<PolicyConfig> policy_config_from_json(const nlohmann::json& json) {
  PolicyConfig c;
  try {
    c.algorithm = json.at("algorithm").get<std::string>();
    c.depths = json.at("depths").get<std::vector<int>>();
    c.budget = json.at("budget").get<int>();
    c.alpha = json.at("alpha").get<double>();
    c.noise = json.at("noise").get<double>();
    c.epsilon = json.at("epsilon").get<double>();
    c.ridge = json.at("ridge").get<double>();
  } catch (const nlohmann::json::exception& error) {
    return Status::bad_input(std::string("policy config: ") + error.what());
  }
  AISLE_RETURN_IF_ERROR(check_config(c));
  return c;
}

struct Policy::Impl {
  PolicyConfig config;
  std::vector<Arm> arms;  // strategy * depths.size() + depth index
  // Mean reward so far per strategy and query frequency bucket.
  std::array<std::array<double, kFrequencyBuckets>, kNumStrategies> history_sum{};
  std::array<std::array<std::int64_t, kFrequencyBuckets>, kNumStrategies> history_count{};
  std::mt19937_64 rng;
  std::int64_t updates = 0;

  int depth_index(int depth) const {
    for (std::size_t i = 0; i < config.depths.size(); ++i) {
      if (config.depths[i] == depth) return static_cast<int>(i);
    }
    return -1;
  }
  Arm& arm(int strategy, int depth_idx) { return arms[static_cast<std::size_t>(strategy) * config.depths.size() + static_cast<std::size_t>(depth_idx)]; }
  const Arm& arm(int strategy, int depth_idx) const {
    return arms[static_cast<std::size_t>(strategy) * config.depths.size() + static_cast<std::size_t>(depth_idx)];
  }
};

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

Result<std::unique_ptr<Policy>> Policy::create(const PolicyConfig& config, std::uint64_t seed) {
  AISLE_RETURN_IF_ERROR(check_config(config));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->arms.assign(static_cast<std::size_t>(kNumStrategies) * config.depths.size(), Arm(config.ridge));
  impl->rng.seed(seed);
  return std::unique_ptr<Policy>(new Policy(std::move(impl)));
}

const PolicyConfig& Policy::config() const { return impl_->config; }
std::int64_t Policy::updates() const { return impl_->updates; }

std::array<double, Policy::kFeatures> Policy::features(const QuerySignals& q, int strategy) const {
  std::array<double, kD> x{};
  x[0] = 1;
  const std::string_view language = std::string_view(q.locale).substr(0, 2);
  x[language == "en" ? 1 : language == "ja" ? 2 : 3] = 1;
  if (q.terms > 0) x[static_cast<std::size_t>(3 + std::min(q.terms, 4))] = 1;  // 4..7
  x[8] = q.brand;
  x[9] = q.color;
  x[10] = q.category;
  x[11] = std::clamp(q.slot_confidence, 0.0, 1.0);
  const int bucket = frequency_bucket(q.frequency);
  x[static_cast<std::size_t>(12 + bucket)] = 1;  // 12..15
  if (q.time_ms > 0) {
    const std::int64_t seconds = q.time_ms / 1000;
    const double hour = static_cast<double>(seconds % 86400) / 3600.0;
    x[16] = std::sin(2 * std::numbers::pi * hour / 24);
    x[17] = std::cos(2 * std::numbers::pi * hour / 24);
    const std::int64_t weekday = (seconds / 86400 + 4) % 7;  // 1970-01-01 was a Thursday (4); 0 = Sunday
    x[18] = weekday == 0 || weekday == 6;
  }
  if (q.user_events >= 0) {
    x[19] = 1;
    x[20] = std::min(std::log1p(static_cast<double>(q.user_events)) / 5.0, 2.0);
  }
  const int count = strategy >= 0 && strategy < kNumStrategies ? q.result_counts[static_cast<std::size_t>(strategy)] : -1;
  if (count >= 0) {
    x[21] = 1;
    x[22] = std::min(std::log1p(static_cast<double>(count)) / std::log(1000.0), 1.0);
    x[23] = count == 0;
  }
  if (strategy >= 0 && strategy < kNumStrategies) {
    const auto s = static_cast<std::size_t>(strategy);
    const auto b = static_cast<std::size_t>(bucket);
    const std::int64_t n = impl_->history_count[s][b];
    x[24] = n > 0 ? impl_->history_sum[s][b] / static_cast<double>(n) : 0.0;
    x[25] = std::min(std::log1p(static_cast<double>(n)) / 10.0, 2.0);
  }
  return x;
}

double Policy::mean_reward(const QuerySignals& signals, int strategy, int depth) const {
  const int d = impl_->depth_index(depth);
  if (strategy < 0 || strategy >= kNumStrategies || d < 0) return 0;
  return dot(impl_->arm(strategy, d).theta(), features(signals, strategy));
}

PolicyAction Policy::choose(const QuerySignals& signals, const std::array<bool, kNumStrategies>& available) {
  Impl& m = *impl_;
  const std::size_t depths = m.config.depths.size();
  // value[s][d]: the arm's value under the algorithm.
  std::array<std::vector<double>, kNumStrategies> value;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (!available[static_cast<std::size_t>(s)]) continue;
    const std::array<double, kD> x = features(signals, s);
    for (std::size_t d = 0; d < depths; ++d) {
      const Arm& arm = m.arm(s, static_cast<int>(d));
      double v = 0;
      if (m.config.algorithm == "linucb") {
        v = dot(arm.theta(), x) + m.config.alpha * arm.width(x);
      } else if (m.config.algorithm == "thompson") {
        v = dot(arm.sample(m.config.noise, m.rng), x);
      } else {
        v = dot(arm.theta(), x);
      }
      value[static_cast<std::size_t>(s)].push_back(v);
    }
  }
  // Every feasible action: per available strategy, no depth or one of the depths.
  std::vector<int> strategies;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (available[static_cast<std::size_t>(s)]) strategies.push_back(s);
  }
  std::vector<PolicyAction> feasible;
  std::vector<double> totals;
  std::vector<std::size_t> choice(strategies.size(), 0);  // 0: none, i: depths[i - 1]
  while (true) {
    PolicyAction action;
    double total = 0;
    for (std::size_t i = 0; i < strategies.size(); ++i) {
      if (choice[i] == 0) continue;
      action.depth[static_cast<std::size_t>(strategies[i])] = m.config.depths[choice[i] - 1];
      total += value[static_cast<std::size_t>(strategies[i])][choice[i] - 1];
    }
    if (action.candidates() > 0 && action.candidates() <= m.config.budget) {
      feasible.push_back(action);
      totals.push_back(total);
    }
    std::size_t i = 0;
    while (i < choice.size() && ++choice[i] > depths) choice[i++] = 0;
    if (i == choice.size()) break;
  }
  if (feasible.empty()) return PolicyAction{};
  if (m.config.algorithm == "epsilon") {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    if (unit(m.rng) < m.config.epsilon) {
      std::uniform_int_distribution<std::size_t> pick(0, feasible.size() - 1);
      return feasible[pick(m.rng)];
    }
  }
  // The highest value; ties go to fewer candidates, then to the first enumerated.
  std::size_t best = 0;
  for (std::size_t i = 1; i < feasible.size(); ++i) {
    if (totals[i] > totals[best] + 1e-12 ||
        (std::abs(totals[i] - totals[best]) <= 1e-12 && feasible[i].candidates() < feasible[best].candidates())) {
      best = i;
    }
  }
  return feasible[best];
}

void Policy::update(const QuerySignals& signals, const PolicyAction& action, const std::array<double, kNumStrategies>& reward) {
  Impl& m = *impl_;
  // Features before the history moves, as choose() saw them.
  std::array<std::array<double, kD>, kNumStrategies> xs{};
  for (int s = 0; s < kNumStrategies; ++s) {
    if (action.uses(s)) xs[static_cast<std::size_t>(s)] = features(signals, s);
  }
  const auto bucket = static_cast<std::size_t>(frequency_bucket(signals.frequency));
  for (int s = 0; s < kNumStrategies; ++s) {
    if (!action.uses(s)) continue;
    const int d = m.depth_index(action.depth[static_cast<std::size_t>(s)]);
    if (d < 0) continue;  // a depth this policy does not know (a forced action): no arm to learn
    const double r = reward[static_cast<std::size_t>(s)];
    m.arm(s, d).learn(xs[static_cast<std::size_t>(s)], r);
    m.history_sum[static_cast<std::size_t>(s)][bucket] += r;
    ++m.history_count[static_cast<std::size_t>(s)][bucket];
  }
  ++m.updates;
}

Status Policy::save(const std::filesystem::path& path) const {
  const Impl& m = *impl_;
  nlohmann::json arms = nlohmann::json::array();
  for (const Arm& arm : m.arms) arms.push_back({{"a_inv", arm.a_inv}, {"b", arm.b}, {"pulls", arm.pulls}});
  std::ostringstream rng;
  rng << m.rng;
  nlohmann::json state = {{"format", "aisle-policy"},
                          {"version", kFormatVersion},
                          {"features", kD},
                          {"config", policy_config_to_json(m.config)},
                          {"updates", m.updates},
                          {"history_sum", m.history_sum},
                          {"history_count", m.history_count},
                          {"rng", rng.str()},
                          {"arms", std::move(arms)}};
  return write_file_atomically(path, state.dump());
}

Result<std::unique_ptr<Policy>> Policy::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(path.string() + ": no policy file (it is written by the first policy update)");
  nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  auto corrupt = [&](const std::string& why) { return Status::corruption(path.string() + ": " + why); };
  if (state.is_discarded() || !state.is_object()) return corrupt("not JSON");
  try {
    if (state.at("format") != "aisle-policy") return corrupt("not an Aisle policy file");
    if (state.at("version").get<int>() != kFormatVersion) return corrupt("policy format version " + state.at("version").dump() + ", this build reads " + std::to_string(kFormatVersion));
    if (state.at("features").get<int>() != kD) return corrupt("written with " + state.at("features").dump() + " features");
    auto config = policy_config_from_json(state.at("config"));
    if (!config.is_ok()) return corrupt(config.status().message());
    AISLE_ASSIGN_OR_RETURN(auto policy, create(*config, 0));
    Impl& m = *policy->impl_;
    m.updates = state.at("updates").get<std::int64_t>();
    m.history_sum = state.at("history_sum").get<decltype(m.history_sum)>();
    m.history_count = state.at("history_count").get<decltype(m.history_count)>();
    std::istringstream rng(state.at("rng").get<std::string>());
    rng >> m.rng;
    if (!rng) return corrupt("bad random state");
    const nlohmann::json& arms = state.at("arms");
    if (!arms.is_array() || arms.size() != m.arms.size()) return corrupt("expected " + std::to_string(m.arms.size()) + " arms");
    for (std::size_t i = 0; i < m.arms.size(); ++i) {
      std::vector<double> a_inv = arms[i].at("a_inv").get<std::vector<double>>();
      if (a_inv.size() != m.arms[i].a_inv.size()) return corrupt("arm " + std::to_string(i) + ": bad matrix size");
      for (double v : a_inv) {
        if (!std::isfinite(v)) return corrupt("arm " + std::to_string(i) + ": non-finite value");
      }
      m.arms[i].a_inv = std::move(a_inv);
      m.arms[i].b = arms[i].at("b").get<std::array<double, kD>>();
      m.arms[i].pulls = arms[i].at("pulls").get<std::int64_t>();
    }
    return policy;
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
}

}  // namespace aisle::retrieve
