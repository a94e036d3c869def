// Off-policy evaluation of bandit policies on logged feedback (`aisle eval bandit-ope`), on
// the Open Bandit Dataset layout (io/bandit_log.h).
//
// The random log (uniform logging) is split by time: the first train_fraction of its rounds
// train, the rest test. From the train rounds:
//   reward model   q(a, k) = (clicks(a,k) + m c_k) / (impressions(a,k) + m), the click rate of
//                  item a in slot k shrunk towards the slot's rate c_k with strength m;
//   learned policy pi_e(a | k) = (1 - epsilon) / top_m for the top_m items by q(., k), plus
//                  epsilon / actions for every item (stochastic, so every logged action has a
//                  weight).
// Its value (click rate) is estimated on the test rounds by
//   IPS   (1/n) sum w_i r_i                       w_i = pi_e(a_i | k_i) / p_i
//   SNIPS sum w_i r_i / sum w_i
//   DR    (1/n) sum [ sum_a pi_e(a | k_i) q(a, k_i) + w_i (r_i - q(a_i, k_i)) ]
// (Dudik et al., ICML 2011), each with a percentile bootstrap confidence interval over rounds.
//
// The estimators are checked on a policy whose true value is known: the Bernoulli Thompson
// sampling policy that logged the second file. Its probability of item a in slot k at time t
// is read off its own log (the logged propensity of the nearest round in time that showed a in
// k; items never logged in a slot share half the slot's smallest propensity; normalized per
// slot and time), its value is estimated from the whole random log (DR with a reward model
// cross-fitted on the two halves by time), and compared with its on-policy click rate (the
// mean click of its log): relative_error = |estimate - on_policy| / on_policy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::eval {

struct BanditOpeOptions {
  std::filesystem::path random_log;  // uniform logging policy (train and test)
  std::filesystem::path bts_log;     // optional: the BTS policy's own log, for the check
  double train_fraction = 0.5;
  double shrinkage = 20;   // m of the reward model
  int top_m = 5;
  double epsilon = 0.1;
  int bootstrap = 1000;
  double confidence = 0.95;
};

// The report of `aisle eval bandit-ope` (DESIGN.md contract). kBadInput / kNotFound naming
// the file, line and column of bad input.
Result<nlohmann::json> evaluate_bandit_ope(const Context& context, const BanditOpeOptions& options);

}  // namespace aisle::eval

namespace aisle::eval {

// `aisle eval bandit-sim`: the retrieval policy learning online against simulated shoppers.
//
// The engine is a prepared data directory (catalog, index, encoder vectors, ranker; trained on
// train judgments only, see docs/benchmarks.md). Searches replay the --test file's queries
// (drawn uniformly, seeded). Each search: the policy chooses strategies and depths (arms:
// lexical, structured, vector from the engine; memory, learned during the simulation from its
// own clicks; graph and popularity when the data directory has them is future work), the union
// of the candidates is ordered by the engine's ranker (scores computed once per query and
// product over the full candidate pool of every strategy at the largest depth), the top 10 are
// shown, and the shopper clicks position k with probability theta_k * gamma(grade) (the
// position-based model: theta_k = 1 / k, gamma = the judged grade scaled to 0..1, 0 for
// unjudged products). The reward is the number of clicks; the policy learns each strategy's
// share of them (retrieve::share_credit) and the memory index the clicks.
// Reported per policy (linucb, thompson, epsilon) over `searches` searches: cumulative reward
// and its expectation, cumulative regret against the best feasible action for each search
// (same budget, current memory), candidates per search and recall of relevant products (grade
// >= relevant_min_grade) among the candidates; the same for every fixed subset of the
// strategies (depth min(largest, budget / size) each) and for all strategies at the largest
// depth. An SVG plots cumulative expected reward and regret.
struct BanditSimOptions {
  std::filesystem::path data_dir;
  std::filesystem::path test;  // judgments (Home Depot layout, or any judgment layout)
  std::string locale = "en";
  int searches = 20000;
  std::vector<std::string> policies = {"linucb", "thompson", "epsilon"};
  std::vector<int> depths = {25, 50, 100};
  int budget = 200;
  // NaN: low + 0.75 (high - low) of the test grades (2.5 on Home Depot's 1-3), as eval rank.
  double relevant_min_grade = std::numeric_limits<double>::quiet_NaN();
  int shown = 10;
};

Result<nlohmann::json> evaluate_bandit_sim(const Context& context, const BanditSimOptions& options, std::string* svg);

}  // namespace aisle::eval
