#include "aisle/eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace aisle::eval {
namespace {

TEST(Metrics, Rmse) {
  std::vector<double> predicted = {1, 2, 3}, truth = {1, 2, 5};
  EXPECT_DOUBLE_EQ(rmse(predicted, truth), std::sqrt(4.0 / 3.0));
  EXPECT_DOUBLE_EQ(rmse(std::vector<double>{}, std::vector<double>{}), 0.0);
}

TEST(Metrics, QuadraticWeightedKappa) {
  std::vector<int> a = {0, 1, 2, 3, 3, 2};
  EXPECT_DOUBLE_EQ(quadratic_weighted_kappa(a, a, 4), 1.0);
  // Worked by hand: O = [[1,0],[1,2]] on 2 classes, w = [[0,1],[1,0]]; sum w O = 1;
  // histograms a (1,3) b (2,2), E = outer / 4 -> off-diagonal 0.5 + 1.5 = 2; kappa = 1 - 1/2.
  std::vector<int> x = {0, 1, 1, 1}, y = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(quadratic_weighted_kappa(x, y, 2), 0.5);
  // Reversed ratings disagree more than chance.
  std::vector<int> up = {0, 1, 2, 3}, down = {3, 2, 1, 0};
  EXPECT_LT(quadratic_weighted_kappa(up, down, 4), 0.0);
}

}  // namespace
}  // namespace aisle::eval

namespace aisle::eval {
namespace {

TEST(Metrics, AveragePrecisionCountsMissedPositives) {
  const std::vector<double> scores = {0.9, 0.8, 0.7, 0.6};
  const bool correct[] = {true, false, true, false};
  // Precision at the hits: 1/1 and 2/3; divided by the 3 positives that exist.
  EXPECT_NEAR(average_precision(scores, correct, 3), (1.0 + 2.0 / 3.0) / 3.0, 1e-12);
  EXPECT_NEAR(average_precision(scores, correct, 2), (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
  EXPECT_EQ(average_precision(scores, correct, 0), 0.0);
}

}  // namespace
}  // namespace aisle::eval
