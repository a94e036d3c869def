#include "aisle/retrieve/policy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "test_util.h"

namespace aisle::retrieve {
namespace {

constexpr std::array<bool, kNumStrategies> kAll = {true, true, true, true, true, true};

TEST(Policy, SharesCreditAmongTheUsedStrategiesThatFoundAProduct) {
  PolicyAction action;
  action.depth[kLexicalStrategy] = 50;
  action.depth[kVectorStrategy] = 50;
  EXPECT_EQ(action.candidates(), 100);
  EXPECT_EQ(action.describe(), "lexical:50+vector:50");
  // Found by both (1/2 each), by lexical alone, by memory alone (not used: no one's credit).
  const std::vector<std::uint32_t> found = {1u | 4u, 1u, 8u};
  const std::vector<double> weights = {1.0, 3.0, 5.0};
  const auto reward = share_credit(action, found, weights);
  EXPECT_DOUBLE_EQ(reward[kLexicalStrategy], 3.5);
  EXPECT_DOUBLE_EQ(reward[kVectorStrategy], 0.5);
  EXPECT_DOUBLE_EQ(reward[kMemoryStrategy], 0.0);
}

// Solves (ridge I + X^T X) theta = X^T r by Gaussian elimination: the exact twin of the
// Sherman-Morrison updates.
std::vector<double> ridge_solution(const std::vector<std::array<double, Policy::kFeatures>>& xs, const std::vector<double>& rs,
                                   double ridge) {
  const int d = Policy::kFeatures;
  std::vector<std::vector<double>> a(d, std::vector<double>(d + 1, 0.0));
  for (int i = 0; i < d; ++i) a[i][i] = ridge;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    for (int i = 0; i < d; ++i) {
      for (int j = 0; j < d; ++j) a[i][j] += xs[k][i] * xs[k][j];
      a[i][d] += rs[k] * xs[k][i];
    }
  }
  for (int c = 0; c < d; ++c) {
    int pivot = c;
    for (int r = c + 1; r < d; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    }
    std::swap(a[c], a[pivot]);
    for (int r = 0; r < d; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (int j = c; j <= d; ++j) a[r][j] -= f * a[c][j];
    }
  }
  std::vector<double> theta(d);
  for (int i = 0; i < d; ++i) theta[i] = a[i][d] / a[i][i];
  return theta;
}

QuerySignals random_query(std::mt19937_64& rng) {
  QuerySignals q;
  q.locale = rng() % 3 == 0 ? "ja" : "en";
  q.terms = 1 + static_cast<int>(rng() % 5);
  q.brand = rng() % 2 == 0;
  q.slot_confidence = q.brand ? 0.9 : 0.0;
  q.frequency = static_cast<std::int64_t>(rng() % 200);
  q.time_ms = 1700000000000 + static_cast<std::int64_t>(rng() % 1000000000);
  return q;
}

TEST(Policy, ArmEstimatesEqualTheRidgeRegressionSolution) {
  PolicyConfig config;
  config.depths = {50};
  config.budget = 50;
  config.ridge = 0.5;
  auto policy = Policy::create(config, 1);
  ASSERT_TRUE(policy.is_ok()) << policy.status().to_string();
  std::mt19937_64 rng(3);
  std::vector<std::array<double, Policy::kFeatures>> xs;
  std::vector<double> rs;
  PolicyAction action;
  action.depth[kLexicalStrategy] = 50;
  for (int i = 0; i < 40; ++i) {
    QuerySignals q = random_query(rng);
    xs.push_back((*policy)->features(q, kLexicalStrategy));
    rs.push_back(static_cast<double>(rng() % 100) / 100.0);
    std::array<double, kNumStrategies> reward{};
    reward[kLexicalStrategy] = rs.back();
    (*policy)->update(q, action, reward);
  }
  EXPECT_EQ((*policy)->updates(), 40);
  const std::vector<double> theta = ridge_solution(xs, rs, config.ridge);
  for (int i = 0; i < 5; ++i) {
    QuerySignals q = random_query(rng);
    const auto x = (*policy)->features(q, kLexicalStrategy);
    double expected = 0;
    for (int f = 0; f < Policy::kFeatures; ++f) expected += theta[f] * x[f];
    EXPECT_NEAR((*policy)->mean_reward(q, kLexicalStrategy, 50), expected, 1e-9);
  }
}

// A world linear in the features (the arms' models are well specified): click probabilities
// of the strategies at depth 100 by (brand, long = 4+ terms); 0.6 times that at depth 50.
//               lexical  structured  vector
// short          0.70     0.10        0.15
// brand short    0.40     0.80        0.05
// long           0.40     0.10        0.75
// brand long     0.10     0.80        0.65
// Others: 0.05.
std::array<double, kNumStrategies> world_probabilities(const QuerySignals& q, const PolicyAction& action) {
  const double brand = q.brand, long_query = q.terms >= 4;
  std::array<double, kNumStrategies> p = {0.7 - 0.3 * brand - 0.3 * long_query, 0.1 + 0.7 * brand, 0.15 + 0.6 * long_query - 0.1 * brand,
                                          0.05, 0.05, 0.05};
  for (int s = 0; s < kNumStrategies; ++s) p[s] = action.uses(s) ? p[s] * (action.depth[s] >= 100 ? 1.0 : 0.6) : 0.0;
  return p;
}

double expected_reward(const QuerySignals& q, const PolicyAction& action) {
  double sum = 0;
  for (double p : world_probabilities(q, action)) sum += p;
  return sum;
}

std::array<double, kNumStrategies> world_reward(const QuerySignals& q, const PolicyAction& action, std::mt19937_64& rng) {
  const auto p = world_probabilities(q, action);
  std::array<double, kNumStrategies> reward{};
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int s = 0; s < kNumStrategies; ++s) reward[s] = action.uses(s) && unit(rng) < p[s] ? 1.0 : 0.0;
  return reward;
}

// The best expected reward over every action of one strategy at 100 or two at 50.
double best_reward(const QuerySignals& q, const std::array<bool, kNumStrategies>& available) {
  double best = 0;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (!available[s]) continue;
    PolicyAction one;
    one.depth[s] = 100;
    best = std::max(best, expected_reward(q, one));
    for (int t = s + 1; t < kNumStrategies; ++t) {
      if (!available[t]) continue;
      PolicyAction two;
      two.depth[s] = two.depth[t] = 50;
      best = std::max(best, expected_reward(q, two));
    }
  }
  return best;
}

class PolicyLearning : public ::testing::TestWithParam<std::string> {};

TEST_P(PolicyLearning, LearnsWhichStrategiesAnswerWhichQueriesWithinTheBudget) {
  PolicyConfig config;
  config.algorithm = GetParam();
  config.depths = {50, 100};
  config.budget = 100;
  config.epsilon = 0.02;  // every random action costs about 0.5 here
  auto policy = Policy::create(config, 11);
  ASSERT_TRUE(policy.is_ok());
  std::array<bool, kNumStrategies> available = kAll;
  available[kGraphStrategy] = false;
  std::mt19937_64 rng(5), world(6);
  double early_regret = 0, late_regret = 0, late_best = 0;
  for (int round = 0; round < 4000; ++round) {
    QuerySignals q = random_query(rng);
    PolicyAction action = (*policy)->choose(q, available);
    ASSERT_GT(action.candidates(), 0);
    ASSERT_LE(action.candidates(), config.budget);
    ASSERT_FALSE(action.uses(kGraphStrategy));
    const double regret = best_reward(q, available) - expected_reward(q, action);
    if (round < 500) early_regret += regret;
    if (round >= 3500) late_regret += regret, late_best += best_reward(q, available);
    (*policy)->update(q, action, world_reward(q, action, world));
  }
  // Regret per round falls as the policy learns, and ends within 10 % of the best.
  EXPECT_LT(late_regret, early_regret / 3) << config.algorithm;
  EXPECT_LT(late_regret, 0.1 * late_best) << config.algorithm;
}

INSTANTIATE_TEST_SUITE_P(Algorithms, PolicyLearning, ::testing::Values("linucb", "thompson", "epsilon"));

TEST(Policy, SavedStateContinuesExactly) {
  testing::TempDir dir;
  PolicyConfig config;
  config.algorithm = "thompson";
  auto a = Policy::create(config, 21);
  auto b = Policy::create(config, 21);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  std::mt19937_64 rng(8), world_a(9), world_b(9);
  for (int round = 0; round < 200; ++round) {
    QuerySignals q = random_query(rng);
    PolicyAction x = (*a)->choose(q, kAll), y = (*b)->choose(q, kAll);
    ASSERT_EQ(x.depth, y.depth);
    (*a)->update(q, x, world_reward(q, x, world_a));
    (*b)->update(q, y, world_reward(q, y, world_b));
  }
  const auto path = dir.path() / "policy.json";
  ASSERT_TRUE((*a)->save(path).is_ok());
  auto loaded = Policy::load(path);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->updates(), 200);
  for (int round = 0; round < 50; ++round) {
    QuerySignals q = random_query(rng);
    PolicyAction x = (*loaded)->choose(q, kAll), y = (*b)->choose(q, kAll);
    ASSERT_EQ(x.depth, y.depth) << round;
    EXPECT_DOUBLE_EQ((*loaded)->mean_reward(q, kVectorStrategy, 100), (*b)->mean_reward(q, kVectorStrategy, 100));
    (*loaded)->update(q, x, world_reward(q, x, world_a));
    (*b)->update(q, y, world_reward(q, y, world_b));
  }
}

TEST(Policy, RejectsBadConfigsAndFiles) {
  PolicyConfig config;
  config.algorithm = "greedy";
  auto bad = Policy::create(config, 1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("algorithm"), std::string::npos);
  config = PolicyConfig{};
  config.depths = {100, 50};
  EXPECT_FALSE(Policy::create(config, 1).is_ok());
  config = PolicyConfig{};
  config.budget = 10;
  EXPECT_FALSE(Policy::create(config, 1).is_ok());

  testing::TempDir dir;
  auto missing = Policy::load(dir.path() / "none.json");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  std::ofstream(dir.path() / "bad.json") << "{\"format\": \"aisle-policy\", \"version\": 1}";
  auto corrupt = Policy::load(dir.path() / "bad.json");
  EXPECT_EQ(corrupt.status().code(), StatusCode::kCorruption);
  EXPECT_NE(corrupt.status().message().find("bad.json"), std::string::npos);
  EXPECT_FALSE(strategy_from_name("sparkles").is_ok());
  EXPECT_EQ(*strategy_from_name("memory"), kMemoryStrategy);
}

TEST(Policy, NothingAvailableMeansTheEmptyAction) {
  auto policy = Policy::create(PolicyConfig{}, 1);
  ASSERT_TRUE(policy.is_ok());
  std::array<bool, kNumStrategies> none{};
  QuerySignals q;
  EXPECT_EQ((*policy)->choose(q, none).candidates(), 0);
}

}  // namespace
}  // namespace aisle::retrieve
