#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "aisle/eval/bandit.h"
#include "aisle/io/bandit_log.h"

namespace aisle::eval {
namespace {

using io::BanditLog;
using io::BanditRound;

// q(a, k): click rate of item a in slot k, shrunk towards the slot's rate.
struct RewardModel {
  int actions = 0, positions = 0;
  double shrinkage = 0;
  std::vector<double> clicks, impressions;  // [a * positions + (k - 1)]
  std::vector<double> slot_rate;            // [k - 1]

  RewardModel(int a, int k, double m, const std::vector<const BanditRound*>& rounds)
      : actions(a), positions(k), shrinkage(m), clicks(static_cast<std::size_t>(a * k)), impressions(static_cast<std::size_t>(a * k)),
        slot_rate(static_cast<std::size_t>(k)) {
    std::vector<double> slot_clicks(static_cast<std::size_t>(k)), slot_impressions(static_cast<std::size_t>(k));
    for (const BanditRound* r : rounds) {
      const auto cell = static_cast<std::size_t>(r->action * positions + r->position - 1);
      clicks[cell] += r->reward;
      impressions[cell] += 1;
      slot_clicks[static_cast<std::size_t>(r->position - 1)] += r->reward;
      slot_impressions[static_cast<std::size_t>(r->position - 1)] += 1;
    }
    for (int s = 0; s < k; ++s) {
      const auto i = static_cast<std::size_t>(s);
      slot_rate[i] = slot_impressions[i] > 0 ? slot_clicks[i] / slot_impressions[i] : 0.0;
    }
  }
  double q(int action, int position) const {
    const auto cell = static_cast<std::size_t>(action * positions + position - 1);
    return (clicks[cell] + shrinkage * slot_rate[static_cast<std::size_t>(position - 1)]) / (impressions[cell] + shrinkage);
  }
};

// pi_e(. | k) of the header for every slot: [k - 1][a].
std::vector<std::vector<double>> learned_policy(const RewardModel& model, int top_m, double epsilon) {
  std::vector<std::vector<double>> pi(static_cast<std::size_t>(model.positions));
  for (int k = 1; k <= model.positions; ++k) {
    std::vector<int> order(static_cast<std::size_t>(model.actions));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return model.q(a, k) > model.q(b, k); });
    std::vector<double>& p = pi[static_cast<std::size_t>(k - 1)];
    p.assign(static_cast<std::size_t>(model.actions), epsilon / model.actions);
    const int m = std::min(top_m, model.actions);
    for (int i = 0; i < m; ++i) p[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] += (1 - epsilon) / m;
  }
  return pi;
}

// Per-round terms of the estimators.
struct Terms {
  std::vector<double> w, wr, dr;
};

struct Estimate {
  double value = 0, low = 0, high = 0;
};

struct Estimates {
  Estimate ips, snips, dr;
  double mean_weight = 0, max_weight = 0;
};

Estimates estimate(const Terms& t, int bootstrap, double confidence, std::uint64_t seed) {
  const std::size_t n = t.w.size();
  auto stats = [&](const std::vector<std::size_t>* sample) {
    double w = 0, wr = 0, dr = 0;
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t i = sample ? (*sample)[j] : j;
      w += t.w[i], wr += t.wr[i], dr += t.dr[i];
    }
    return std::array<double, 3>{wr / static_cast<double>(n), w > 0 ? wr / w : 0.0, dr / static_cast<double>(n)};
  };
  Estimates out;
  const std::array<double, 3> point = stats(nullptr);
  std::array<std::vector<double>, 3> draws;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  std::vector<std::size_t> sample(n);
  for (int b = 0; b < bootstrap; ++b) {
    for (std::size_t& i : sample) i = pick(rng);
    const std::array<double, 3> s = stats(&sample);
    for (int e = 0; e < 3; ++e) draws[static_cast<std::size_t>(e)].push_back(s[static_cast<std::size_t>(e)]);
  }
  Estimate* targets[3] = {&out.ips, &out.snips, &out.dr};
  for (int e = 0; e < 3; ++e) {
    std::vector<double>& d = draws[static_cast<std::size_t>(e)];
    std::sort(d.begin(), d.end());
    targets[e]->value = point[static_cast<std::size_t>(e)];
    if (!d.empty()) {
      const double tail = (1 - confidence) / 2;
      targets[e]->low = d[static_cast<std::size_t>(std::floor(tail * static_cast<double>(d.size() - 1)))];
      targets[e]->high = d[static_cast<std::size_t>(std::ceil((1 - tail) * static_cast<double>(d.size() - 1)))];
    }
  }
  for (double w : t.w) out.mean_weight += w / static_cast<double>(n), out.max_weight = std::max(out.max_weight, w);
  return out;
}

// Adds round r's terms for a target policy `pi` (over actions, for r's slot) and reward model.
void add_terms(const BanditRound& r, const std::vector<double>& pi, const RewardModel& model, Terms* t) {
  const double w = pi[static_cast<std::size_t>(r.action)] / r.propensity;
  double direct = 0;
  for (int a = 0; a < model.actions; ++a) direct += pi[static_cast<std::size_t>(a)] * model.q(a, r.position);
  t->w.push_back(w);
  t->wr.push_back(w * r.reward);
  t->dr.push_back(direct + w * (r.reward - model.q(r.action, r.position)));
}

// The BTS policy's slot distribution over time, read off its log.
class LoggedPolicy {
 public:
  LoggedPolicy(const BanditLog& log, int actions, int positions) : actions_(actions), positions_(positions) {
    series_.resize(static_cast<std::size_t>(actions * positions));
    floor_.assign(static_cast<std::size_t>(positions), 1.0);
    for (const BanditRound& r : log.rounds) {
      if (r.action >= actions || r.position > positions) continue;
      series_[cell(r.action, r.position)].push_back({r.ts_ms, r.propensity});
      floor_[static_cast<std::size_t>(r.position - 1)] = std::min(floor_[static_cast<std::size_t>(r.position - 1)], r.propensity / 2);
    }
    for (auto& s : series_) std::sort(s.begin(), s.end());
  }
  // pi(. | k, t), normalized.
  std::vector<double> at(int position, std::int64_t ts_ms) const {
    std::vector<double> p(static_cast<std::size_t>(actions_));
    double total = 0;
    for (int a = 0; a < actions_; ++a) {
      const auto& s = series_[cell(a, position)];
      double value = floor_[static_cast<std::size_t>(position - 1)];
      if (!s.empty()) {
        auto it = std::lower_bound(s.begin(), s.end(), std::pair<std::int64_t, double>{ts_ms, -1.0});
        if (it == s.end()) {
          value = s.back().second;
        } else if (it == s.begin()) {
          value = it->second;
        } else {
          auto before = std::prev(it);
          value = (ts_ms - before->first <= it->first - ts_ms) ? before->second : it->second;
        }
      }
      p[static_cast<std::size_t>(a)] = value;
      total += value;
    }
    for (double& v : p) v /= total;
    return p;
  }

 private:
  std::size_t cell(int a, int k) const { return static_cast<std::size_t>(a * positions_ + k - 1); }
  int actions_, positions_;
  std::vector<std::vector<std::pair<std::int64_t, double>>> series_;
  std::vector<double> floor_;
};

nlohmann::json to_json(const Estimates& e, double truth) {
  auto one = [&](const Estimate& x) {
    nlohmann::json j = {{"value", x.value}, {"low", x.low}, {"high", x.high}};
    if (truth > 0) j["relative_error"] = std::abs(x.value - truth) / truth;
    return j;
  };
  return {{"ips", one(e.ips)}, {"snips", one(e.snips)}, {"dr", one(e.dr)}, {"mean_weight", e.mean_weight}, {"max_weight", e.max_weight}};
}

double click_rate(const std::vector<const BanditRound*>& rounds) {
  double clicks = 0;
  for (const BanditRound* r : rounds) clicks += r->reward;
  return rounds.empty() ? 0.0 : clicks / static_cast<double>(rounds.size());
}

}  // namespace

Result<nlohmann::json> evaluate_bandit_ope(const Context& context, const BanditOpeOptions& options) {
  if (!(options.train_fraction > 0 && options.train_fraction < 1)) return Status::bad_input("train_fraction must be in (0, 1)");
  if (options.top_m < 1 || !(options.epsilon >= 0 && options.epsilon <= 1) || !(options.shrinkage >= 0)) {
    return Status::bad_input("top_m >= 1, epsilon in [0, 1] and shrinkage >= 0 are required");
  }
  if (options.bootstrap < 0 || !(options.confidence > 0 && options.confidence < 1)) {
    return Status::bad_input("bootstrap >= 0 and confidence in (0, 1) are required");
  }
  const auto start = std::chrono::steady_clock::now();
  AISLE_ASSIGN_OR_RETURN(BanditLog random, io::read_bandit_log(options.random_log));
  std::vector<const BanditRound*> rounds;
  for (const BanditRound& r : random.rounds) rounds.push_back(&r);
  std::stable_sort(rounds.begin(), rounds.end(), [](const BanditRound* a, const BanditRound* b) { return a->ts_ms < b->ts_ms; });
  const auto cut = static_cast<std::size_t>(std::llround(options.train_fraction * static_cast<double>(rounds.size())));
  if (cut == 0 || cut >= rounds.size()) return Status::bad_input(options.random_log.string() + ": too few rounds to split");
  const std::vector<const BanditRound*> train(rounds.begin(), rounds.begin() + static_cast<long>(cut));
  const std::vector<const BanditRound*> test(rounds.begin() + static_cast<long>(cut), rounds.end());
  const int actions = random.actions, positions = random.positions;

  // The learned policy (train rounds only).
  const RewardModel model(actions, positions, options.shrinkage, train);
  const auto pi = learned_policy(model, options.top_m, options.epsilon);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  Terms learned, uniform;
  const std::vector<double> uniform_pi(static_cast<std::size_t>(actions), 1.0 / actions);
  for (const BanditRound* r : test) {
    add_terms(*r, pi[static_cast<std::size_t>(r->position - 1)], model, &learned);
    add_terms(*r, uniform_pi, model, &uniform);
  }
  const std::uint64_t seed = context.seed();
  const double random_test_rate = click_rate(test);
  nlohmann::json metrics, baselines, check;
  const Estimates learned_estimates = estimate(learned, options.bootstrap, options.confidence, seed);
  metrics["learned_ips"] = learned_estimates.ips.value;
  metrics["learned_snips"] = learned_estimates.snips.value;
  metrics["learned_dr"] = learned_estimates.dr.value;
  metrics["random_on_policy"] = random_test_rate;
  baselines["uniform_random"] = to_json(estimate(uniform, options.bootstrap, options.confidence, seed + 1), random_test_rate);
  baselines["uniform_random"]["on_policy"] = random_test_rate;

  if (!options.bts_log.empty()) {
    AISLE_ASSIGN_OR_RETURN(BanditLog bts, io::read_bandit_log(options.bts_log));
    std::vector<const BanditRound*> bts_rounds;
    for (const BanditRound& r : bts.rounds) bts_rounds.push_back(&r);
    const double on_policy = click_rate(bts_rounds);
    const LoggedPolicy policy(bts, actions, positions);
    // Cross-fitted reward models: each half by time is scored with the other half's model.
    const RewardModel first(actions, positions, options.shrinkage, train), second(actions, positions, options.shrinkage, test);
    Terms terms;
    for (std::size_t i = 0; i < rounds.size(); ++i) {
      const BanditRound& r = *rounds[i];
      if (r.action >= actions || r.position > positions) continue;
      add_terms(r, policy.at(r.position, r.ts_ms), i < cut ? second : first, &terms);
    }
    const Estimates e = estimate(terms, options.bootstrap, options.confidence, seed + 2);
    check = to_json(e, on_policy);
    check["on_policy"] = on_policy;
    check["rounds"] = bts.rounds.size();
    metrics["bts_on_policy"] = on_policy;
    metrics["bts_ips"] = e.ips.value;
    metrics["bts_snips"] = e.snips.value;
    metrics["bts_dr"] = e.dr.value;
    metrics["bts_ips_relative_error"] = std::abs(e.ips.value - on_policy) / on_policy;
    metrics["bts_snips_relative_error"] = std::abs(e.snips.value - on_policy) / on_policy;
    metrics["bts_dr_relative_error"] = std::abs(e.dr.value - on_policy) / on_policy;
  }
  const double eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() - train_seconds;
  nlohmann::json report = {{"task", "bandit-ope"},
                           {"dataset", options.random_log.parent_path().filename().string()},
                           {"metrics", metrics},
                           {"learned_policy", to_json(learned_estimates, 0)},
                           {"baselines", baselines},
                           {"train_seconds", train_seconds},
                           {"eval_seconds", eval_seconds},
                           {"config",
                            {{"random_log", options.random_log.string()},
                             {"bts_log", options.bts_log.string()},
                             {"train_rounds", train.size()},
                             {"test_rounds", test.size()},
                             {"actions", actions},
                             {"positions", positions},
                             {"train_fraction", options.train_fraction},
                             {"shrinkage", options.shrinkage},
                             {"top_m", options.top_m},
                             {"epsilon", options.epsilon},
                             {"bootstrap", options.bootstrap},
                             {"confidence", options.confidence},
                             {"seed", seed}}}};
  if (!check.is_null()) report["bts_check"] = check;
  return report;
}

}  // namespace aisle::eval
