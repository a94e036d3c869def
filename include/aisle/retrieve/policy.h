// Policy: a contextual bandit that chooses, per query, which retrieval strategies run and how
// many candidates each returns, under a candidate budget, and learns from feedback.
//
// Arms are (strategy, depth) pairs: the strategies of retrieve (lexical, structured, vector,
// memory, graph, popularity) times PolicyConfig::depths. An action gives each strategy one
// depth or none, with the depths summing to at most the budget. Every arm has its own linear
// reward model over a feature vector x(query, strategy) (the disjoint model of Li et al., "A
// Contextual-Bandit Approach to Personalized News Article Recommendation", WWW 2010):
//   A_a = ridge I + sum x x^T,   b_a = sum r x,   theta_a = A_a^-1 b_a
// and an action's value is the sum of its arms' values, maximized exactly over every feasible
// action (at most (|depths|+1)^6 of them). The arm values are, by algorithm:
//   linucb:   theta_a . x + alpha sqrt(x^T A_a^-1 x)
//   thompson: theta~ . x with theta~ ~ N(theta_a, noise^2 A_a^-1) (Agrawal & Goyal, ICML 2013)
//   epsilon:  theta_a . x, and with probability epsilon a uniformly random feasible action
// x(query, strategy) (features(), kFeatures values) holds the context (locale, query length,
// query-understanding slots and their confidence, the query's frequency bucket, hour of day
// and weekend, the user's history when known) and the action's own features (the strategy's
// last result count for the query, and its mean reward so far on queries of the same frequency
// bucket, which the policy keeps).
//
// Reward: each engaged product of a search gives its weight (share_credit) to the strategies
// of the action that found it, split equally when several did; update() adds each used arm's
// reward. A_a^-1 is kept by Sherman-Morrison updates. The state (config, arms, history, random
// state) is saved to and loaded from a JSON file; a loaded policy continues exactly.
//
// Not thread-safe: callers serialize choose() and update().
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"
#include "aisle/retrieve/query_understanding.h"

namespace aisle::retrieve {

inline constexpr int kNumStrategies = 6;
// Index of each strategy in actions and rewards; bit (1 << index) in provenance masks.
enum StrategyIndex : int { kLexicalStrategy, kStructuredStrategy, kVectorStrategy, kMemoryStrategy, kGraphStrategy, kPopularityStrategy };
std::string_view strategy_name(int strategy);  // "lexical", "structured", ...
// kBadInput naming the unknown strategy.
Result<int> strategy_from_name(std::string_view name);

// What is known about a query before retrieval.
struct QuerySignals {
  std::string locale;
  int terms = 0;  // analyzed query terms
  bool brand = false, color = false, category = false;  // slots of the best interpretation
  double slot_confidence = 0;  // likelihood of the best interpretation that has a slot
  std::int64_t frequency = 0;  // earlier searches of the normalized query
  std::int64_t time_ms = 0;    // Unix ms (UTC); 0 when unknown
  std::int64_t user_events = -1;  // the user's earlier engagement events; -1 without a user
  std::array<int, kNumStrategies> result_counts{-1, -1, -1, -1, -1, -1};  // last known; -1 unknown
};

// The signals query understanding gives (locale, terms, the slots of the best interpretation
// that has any, and its likelihood); frequency, time, user and result counts are left unknown.
QuerySignals query_signals(const QueryAnalysis& analysis, std::string_view locale);

struct PolicyConfig {
  std::string algorithm = "linucb";  // linucb, thompson, epsilon
  std::vector<int> depths = {25, 50, 100};
  int budget = 150;       // most candidates over the chosen strategies
  double alpha = 1.0;     // linucb: width of the confidence bound
  double noise = 0.25;    // thompson: posterior scale
  double epsilon = 0.1;   // epsilon: exploration rate
  double ridge = 1.0;     // A starts at ridge * I
};
nlohmann::json policy_config_to_json(const PolicyConfig& config);
// kBadInput naming the field.
Result<PolicyConfig> policy_config_from_json(const nlohmann::json& json);

struct PolicyAction {
  std::array<int, kNumStrategies> depth{};  // 0: the strategy does not run
  bool uses(int strategy) const { return depth[static_cast<std::size_t>(strategy)] > 0; }
  int candidates() const;                    // sum of the depths
  std::uint32_t mask() const;                // bit (1 << s) for each strategy used
  std::string describe() const;              // "lexical:50+vector:100"
};

// Rewards of one search: for every engaged product, `weight` split equally among the used
// strategies whose bit is in `found_by`. found_by and weights are parallel.
std::array<double, kNumStrategies> share_credit(const PolicyAction& action, std::span<const std::uint32_t> found_by,
                                                std::span<const double> weights);

class Policy {
 public:
  static constexpr int kFeatures = 26;
  static constexpr int kFormatVersion = 1;

  // kBadInput naming the field of a bad config.
  static Result<std::unique_ptr<Policy>> create(const PolicyConfig& config, std::uint64_t seed);
  // kNotFound / kCorruption naming the file.
  static Result<std::unique_ptr<Policy>> load(const std::filesystem::path& path);
  ~Policy();

  // The best feasible action for `signals` among the `available` strategies (a strategy the
  // data directory cannot run is never chosen). The empty action when none is available.
  PolicyAction choose(const QuerySignals& signals, const std::array<bool, kNumStrategies>& available);
  // Learns one search's rewards (reward[s] for each strategy the action used).
  void update(const QuerySignals& signals, const PolicyAction& action, const std::array<double, kNumStrategies>& reward);

  // x(query, strategy) of the header.
  std::array<double, kFeatures> features(const QuerySignals& signals, int strategy) const;
  // The arm's current mean estimate theta_a . x (no exploration).
  double mean_reward(const QuerySignals& signals, int strategy, int depth) const;

  const PolicyConfig& config() const;
  std::int64_t updates() const;
  // Crash-safe write of the whole state.
  Status save(const std::filesystem::path& path) const;

 private:
  struct Impl;
  explicit Policy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::retrieve
