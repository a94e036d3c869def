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
