// `eval related` on graphs small enough to rank by hand.
#include "aisle/eval/related.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::eval {
namespace {

using aisle::testing::TempDir;

// Train: a, b, c -> H; a -> X. Test: d -> H, d -> X, e -> b. By popularity (train in-degree)
// H scores 3, X 1, the rest 0.
TEST(RelatedEval, PopularityRanksAndTiesAreExact) {
  TempDir dir;
  RelatedEvalOptions options;
  options.train = dir.write("train.csv", "source,target\na,H\nb,H\nc,H\na,X\n");
  options.test = dir.write("test.csv", "src,dst\nd,H\nd,X\ne,b\n");
  options.methods = {"popularity"};
  Context context = Context::for_tests();
  std::string svg;
  auto report = evaluate_related(context, options, &svg);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  const nlohmann::json& m = (*report)["metrics"];
  EXPECT_EQ(m["method"], "popularity");
  // d -> H: rank 1. d -> X: rank 1 too, as H, d's other test target, is filtered out.
  // e -> b: H and X above, tied with a, c, d: rank 3..6 equally likely.
  EXPECT_NEAR(m["hr@5"].get<double>(), (1 + 1 + 0.75) / 3, 1e-12);
  EXPECT_NEAR(m["mrr@5"].get<double>(), (1 + 1 + (1.0 / 3 + 1.0 / 4 + 1.0 / 5) / 4) / 3, 1e-12);
  EXPECT_NEAR(m["direction_accuracy"].get<double>(), 2.5 / 3, 1e-12);
  EXPECT_EQ((*report)["config"]["nodes"], 7);
  EXPECT_EQ((*report)["config"]["test_edges"], 3);
  // By the query's train in-degree: d and e have none.
  EXPECT_EQ((*report)["by_in_degree"]["popularity"]["0"]["edges"], 3);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("popularity"), std::string::npos);
}

TEST(RelatedEval, SplitsOneFileAndComparesEveryMethodInOneReport) {
  TempDir dir;
  std::string edges = "source,target\n";
  for (int u = 0; u < 40; ++u) {
    for (int k = 1; k <= 3; ++k) edges += "n" + std::to_string(u) + ",n" + std::to_string((u + k * 7) % 40) + "\n";
  }
  RelatedEvalOptions options;
  options.edges = dir.write("edges.csv", edges);
  options.test_fraction = 0.2;
  options.blade.dim = 8;
  options.training.epochs = 2;
  options.training.batch_size = 32;
  options.training.negatives = 16;
  Context context = Context::for_tests();
  auto report = evaluate_related(context, options, nullptr);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ((*report)["metrics"]["method"], "blade");
  for (const std::string& method : related_methods()) {
    if (method == "blade") continue;
    ASSERT_TRUE((*report)["baselines"].contains(method)) << method;
  }
  EXPECT_EQ((*report)["config"]["train_edges"].get<int>() + (*report)["config"]["test_edges"].get<int>(), 120);
  // The symmetric model cannot tell u -> v from v -> u.
  EXPECT_DOUBLE_EQ((*report)["baselines"]["graphsage"]["direction_accuracy"].get<double>(), 0.5);

  options.methods = {"blade", "nonsense"};
  EXPECT_EQ(evaluate_related(context, options, nullptr).status().code(), StatusCode::kBadInput);
  options.methods.clear();
  options.edges = dir / "absent.csv";
  EXPECT_EQ(evaluate_related(context, options, nullptr).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace aisle::eval
