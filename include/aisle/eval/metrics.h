// Ranking metrics over graded relevance. A ranking is a list of gains in rank order (0 for
// unjudged results); `ideal` holds the gains of every judged result of the query.
#pragma once

#include <span>

namespace aisle::eval {

// nDCG@k with linear gains: DCG = sum_i gain_i / log2(i + 1) over the first k, divided by
// the DCG of `ideal` sorted descending (Jarvelin & Kekalainen 2002). 0 when the ideal is 0.
double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k);

// Reciprocal rank of the first relevant result within the first k; 0 when none.
double reciprocal_rank_at(std::span<const bool> ranked_relevant, int k);

// Fraction of the `total_relevant` found within the first k; 0 when total_relevant is 0.
double recall_at(std::span<const bool> ranked_relevant, int total_relevant, int k);

}  // namespace aisle::eval
