#include "aisle/eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace aisle::eval {
namespace {

double dcg(std::span<const double> gains, int k) {
  double total = 0;
  const auto n = std::min<std::size_t>(gains.size(), static_cast<std::size_t>(std::max(k, 0)));
  for (std::size_t i = 0; i < n; ++i) total += gains[i] / std::log2(static_cast<double>(i) + 2.0);
  return total;
}

}  // namespace

double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k) {
  std::vector<double> ideal(ideal_gains.begin(), ideal_gains.end());
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  const double best = dcg(ideal, k);
  return best > 0 ? dcg(ranked_gains, k) / best : 0.0;
}

double reciprocal_rank_at(std::span<const bool> ranked_relevant, int k) {
  const auto n = std::min<std::size_t>(ranked_relevant.size(), static_cast<std::size_t>(std::max(k, 0)));
  for (std::size_t i = 0; i < n; ++i) {
    if (ranked_relevant[i]) return 1.0 / static_cast<double>(i + 1);
  }
  return 0.0;
}

double recall_at(std::span<const bool> ranked_relevant, int total_relevant, int k) {
  if (total_relevant <= 0) return 0.0;
  const auto n = std::min<std::size_t>(ranked_relevant.size(), static_cast<std::size_t>(std::max(k, 0)));
  const auto found = std::count(ranked_relevant.begin(), ranked_relevant.begin() + static_cast<std::ptrdiff_t>(n), true);
  return static_cast<double>(found) / total_relevant;
}

}  // namespace aisle::eval
