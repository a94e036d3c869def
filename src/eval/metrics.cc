#include "aisle/eval/metrics.h"

#include "aisle/core/validation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

namespace aisle::eval {
double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k) {
  return aisle::ndcg_at(ranked_gains, ideal_gains, k);
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

double rmse(std::span<const double> predicted, std::span<const double> truth) {
  const std::size_t n = std::min(predicted.size(), truth.size());
  if (n == 0) return 0.0;
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += (predicted[i] - truth[i]) * (predicted[i] - truth[i]);
  return std::sqrt(sum / static_cast<double>(n));
}

double quadratic_weighted_kappa(std::span<const int> rater_a, std::span<const int> rater_b, int classes) {
  const std::size_t n = std::min(rater_a.size(), rater_b.size());
  if (n == 0 || classes < 2) return 0.0;
  const auto c = static_cast<std::size_t>(classes);
  std::vector<double> observed(c * c), hist_a(c), hist_b(c);
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = static_cast<std::size_t>(std::clamp(rater_a[i], 0, classes - 1));
    const auto b = static_cast<std::size_t>(std::clamp(rater_b[i], 0, classes - 1));
    observed[a * c + b] += 1;
    hist_a[a] += 1;
    hist_b[b] += 1;
  }
  double numerator = 0, denominator = 0;
  for (std::size_t i = 0; i < c; ++i) {
    for (std::size_t j = 0; j < c; ++j) {
      const double d = static_cast<double>(i) - static_cast<double>(j);
      const double w = d * d / ((classes - 1.0) * (classes - 1.0));
      numerator += w * observed[i * c + j];
      denominator += w * hist_a[i] * hist_b[j] / static_cast<double>(n);
    }
  }
  return denominator > 0 ? 1.0 - numerator / denominator : 1.0;
}

F1Scores classification_f1(std::span<const int> predicted, std::span<const int> truth, int classes) {
  F1Scores out;
  if (classes < 1) return out;
  const auto c = static_cast<std::size_t>(classes);
  std::vector<double> true_positive(c), predicted_count(c), truth_count(c);
  double correct = 0, total = 0;
  for (std::size_t i = 0; i < std::min(predicted.size(), truth.size()); ++i) {
    if (predicted[i] < 0 || predicted[i] >= classes || truth[i] < 0 || truth[i] >= classes) continue;
    const auto p = static_cast<std::size_t>(predicted[i]), t = static_cast<std::size_t>(truth[i]);
    predicted_count[p] += 1;
    truth_count[t] += 1;
    total += 1;
    if (p == t) true_positive[p] += 1, correct += 1;
  }
  out.micro = total > 0 ? correct / total : 0.0;
  out.per_class.assign(c, 0.0);
  double sum = 0;
  int present = 0;
  for (std::size_t k = 0; k < c; ++k) {
    const double denominator = predicted_count[k] + truth_count[k];
    if (denominator == 0) continue;
    out.per_class[k] = 2 * true_positive[k] / denominator;
    sum += out.per_class[k];
    ++present;
  }
  out.macro = present > 0 ? sum / present : 0.0;
  return out;
}

}  // namespace aisle::eval

namespace aisle::eval {

double average_precision(std::span<const double> scores, std::span<const bool> correct, std::size_t total_positives) {
  if (total_positives == 0) return 0;
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  double sum = 0;
  std::size_t hits = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (!correct[order[i]]) continue;
    ++hits;
    sum += static_cast<double>(hits) / static_cast<double>(i + 1);
  }
  return sum / static_cast<double>(total_positives);
}

}  // namespace aisle::eval
