// Ranking metrics over graded relevance. A ranking is a list of gains in rank order (0 for
// unjudged results); `ideal` holds the gains of every judged result of the query.
#pragma once

#include <span>
#include <vector>

namespace aisle::eval {

// nDCG@k with linear gains: DCG = sum_i gain_i / log2(i + 1) over the first k, divided by
// the DCG of `ideal` sorted descending (Jarvelin & Kekalainen 2002). 0 when the ideal is 0.
double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k);

// Reciprocal rank of the first relevant result within the first k; 0 when none.
double reciprocal_rank_at(std::span<const bool> ranked_relevant, int k);

// Fraction of the `total_relevant` found within the first k; 0 when total_relevant is 0.
double recall_at(std::span<const bool> ranked_relevant, int total_relevant, int k);

// Root mean squared error of predictions against truths (same length); 0 for none.
double rmse(std::span<const double> predicted, std::span<const double> truth);

// Quadratic weighted kappa (Cohen 1968) of two ratings on the classes 0..classes-1:
// 1 - sum w_ij O_ij / sum w_ij E_ij with w_ij = (i - j)^2 / (classes - 1)^2, O the observed
// confusion matrix, E the outer product of the two rating histograms scaled to O's total.
// 1 is perfect agreement, 0 chance. Ratings outside the range are clamped.
double quadratic_weighted_kappa(std::span<const int> rater_a, std::span<const int> rater_b, int classes);

// F1 of single-label classification over classes 0..classes-1 (labels outside are ignored).
// micro: over all decisions (equal to accuracy here); macro: the mean of the per-class F1 of
// the classes present in the truth or the predictions; per_class: one F1 per class (0 for a
// class never predicted nor true).
struct F1Scores {
  double micro = 0;
  double macro = 0;
  std::vector<double> per_class;
};
F1Scores classification_f1(std::span<const int> predicted, std::span<const int> truth, int classes);

}  // namespace aisle::eval

namespace aisle::eval {

// Area under the precision-recall curve as average precision: predictions sorted by score
// (descending; ties keep input order), AP = sum over correct predictions at rank i of
// precision@i, divided by `total_positives` (the positives that exist, found or not; 0 gives 0).
double average_precision(std::span<const double> scores, std::span<const bool> correct, std::size_t total_positives);

}  // namespace aisle::eval
