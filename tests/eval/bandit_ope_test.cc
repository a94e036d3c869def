// `eval bandit-ope` on logs small enough to compute by hand.
#include "aisle/eval/bandit.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::eval {
namespace {

using aisle::testing::TempDir;

std::string log_csv(const std::vector<std::array<double, 3>>& rows) {  // item, click, propensity
  std::string out = ",timestamp,item_id,position,click,propensity_score,user_feature_0,user-item_affinity_0\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    out += std::to_string(i) + ",2019-11-24 00:0" + std::to_string(i) + ":00.5+00:00," + std::to_string(static_cast<int>(rows[i][0])) +
           ",1," + std::to_string(static_cast<int>(rows[i][1])) + "," + std::to_string(rows[i][2]) + ",abc,0.0\n";
  }
  return out;
}

// Two items, one slot, uniform logging (p = 1/2). Train (first half by time): item 0 clicked
// 2/2, item 1 0/2, so with no shrinkage q(0) = 1, q(1) = 0, and with top_m 1, epsilon 0.2 the
// learned policy is pi(0) = 0.9, pi(1) = 0.1. Test rows (item, click): (0,1) (0,0) (0,1) (1,1):
// w = 1.8, 1.8, 1.8, 0.2.
TEST(BanditOpe, EstimatorsMatchTheirFormulas) {
  TempDir dir;
  BanditOpeOptions options;
  options.random_log = dir.write("random.csv", log_csv({{0, 1, 0.5}, {1, 0, 0.5}, {0, 1, 0.5}, {1, 0, 0.5},
                                                        {0, 1, 0.5}, {0, 0, 0.5}, {0, 1, 0.5}, {1, 1, 0.5}}));
  // The BTS policy shows item 0 with probability 0.75 and item 1 with 0.25.
  options.bts_log = dir.write("bts.csv", log_csv({{0, 1, 0.75}, {1, 0, 0.25}, {0, 0, 0.75}, {0, 1, 0.75}}));
  options.shrinkage = 0;
  options.top_m = 1;
  options.epsilon = 0.2;
  options.bootstrap = 200;
  Context context = Context::for_tests();
  auto report = evaluate_bandit_ope(context, options);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  const nlohmann::json& m = (*report)["metrics"];
  EXPECT_NEAR(m["learned_ips"].get<double>(), (1.8 + 1.8 + 0.2) / 4, 1e-12);
  EXPECT_NEAR(m["learned_snips"].get<double>(), 3.8 / 5.6, 1e-12);
  // DR: direct 0.9 each, plus w (r - q): 0, -1.8, 0, 0.2.
  EXPECT_NEAR(m["learned_dr"].get<double>(), (0.9 + -0.9 + 0.9 + 1.1) / 4, 1e-12);
  EXPECT_NEAR(m["random_on_policy"].get<double>(), 0.75, 1e-12);
  // The uniform policy's IPS is its own click rate (every weight is 1).
  EXPECT_NEAR((*report)["baselines"]["uniform_random"]["ips"]["value"].get<double>(), 0.75, 1e-12);
  const nlohmann::json& ips = (*report)["learned_policy"]["ips"];
  EXPECT_LE(ips["low"].get<double>(), ips["value"].get<double>());
  EXPECT_GE(ips["high"].get<double>(), ips["value"].get<double>());
  // BTS over the whole random log: w = 1.5 for item 0, 0.5 for item 1; clicks on item 0 four
  // times, on item 1 once: IPS = (4 * 1.5 + 0.5) / 8. On-policy: 2 clicks in 4 rounds.
  EXPECT_NEAR(m["bts_ips"].get<double>(), 6.5 / 8, 1e-12);
  EXPECT_NEAR(m["bts_on_policy"].get<double>(), 0.5, 1e-12);
  EXPECT_NEAR(m["bts_ips_relative_error"].get<double>(), (6.5 / 8 - 0.5) / 0.5, 1e-12);
  EXPECT_EQ((*report)["config"]["train_rounds"], 4);
}

TEST(BanditOpe, BadRowsNameTheFileLineAndColumn) {
  TempDir dir;
  BanditOpeOptions options;
  options.random_log = dir.write("random.csv", log_csv({{0, 1, 0.5}, {1, 2, 0.5}}));
  Context context = Context::for_tests();
  auto report = evaluate_bandit_ope(context, options);
  ASSERT_FALSE(report.is_ok());
  EXPECT_NE(report.status().to_string().find("random.csv:3:click"), std::string::npos) << report.status().to_string();
  options.random_log = dir.write("zero.csv", log_csv({{0, 1, 0.0}, {1, 0, 0.5}}));
  report = evaluate_bandit_ope(context, options);
  ASSERT_FALSE(report.is_ok());
  EXPECT_NE(report.status().to_string().find("zero.csv:2:propensity_score"), std::string::npos) << report.status().to_string();
  options.random_log = dir.path() / "missing.csv";
  EXPECT_EQ(evaluate_bandit_ope(context, options).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace aisle::eval
