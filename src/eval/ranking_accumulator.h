// Accumulates nDCG@10, MRR@10 and recall@depth of ranked lists over test queries (relevance
// and rank evaluations). Gains are grade - min_grade; unjudged results gain 0.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/eval/metrics.h"
#include "judgment_corpus.h"

namespace aisle::eval {

// What a relevant result is, and how deep recall looks.
struct RankingCutoffs {
  double relevant_min_grade = 0;
  int depth = 100;
};

struct Accumulator {
  double ndcg = 0, mrr = 0, recall = 0, seconds = 0;
  int ndcg_queries = 0, relevant_queries = 0, queries = 0;

  void add(const TestQuery& query, const std::vector<std::uint32_t>& ranked, double min_grade,
           const RankingCutoffs& options, double elapsed) {
    std::vector<double> gains, ideal;
    std::vector<std::uint8_t> relevant_bytes;
    int total_relevant = 0;
    for (const auto& [product, grade] : query.grades) {
      ideal.push_back(grade - min_grade);
      if (grade >= options.relevant_min_grade) ++total_relevant;
    }
    for (std::uint32_t product : ranked) {
      auto found = query.grades.find(product);
      double grade = found == query.grades.end() ? min_grade : found->second;
      gains.push_back(grade - min_grade);
      relevant_bytes.push_back(found != query.grades.end() && grade >= options.relevant_min_grade ? 1 : 0);
    }
    std::unique_ptr<bool[]> relevant_storage(new bool[relevant_bytes.size() + 1]);
    for (std::size_t i = 0; i < relevant_bytes.size(); ++i) relevant_storage[i] = relevant_bytes[i] != 0;
    std::span<const bool> relevant(relevant_storage.get(), relevant_bytes.size());
    ++queries;
    seconds += elapsed;
    if (std::any_of(ideal.begin(), ideal.end(), [](double g) { return g > 0; })) {
      ndcg += ndcg_at(gains, ideal, 10);
      ++ndcg_queries;
    }
    if (total_relevant > 0) {
      mrr += reciprocal_rank_at(relevant, 10);
      recall += recall_at(relevant, total_relevant, options.depth);
      ++relevant_queries;
    }
  }

  nlohmann::json report(int depth) const {
    return {{"ndcg@10", ndcg_queries ? ndcg / ndcg_queries : 0.0},
            {"mrr@10", relevant_queries ? mrr / relevant_queries : 0.0},
            {"recall@" + std::to_string(depth), relevant_queries ? recall / relevant_queries : 0.0},
            {"queries", queries},
            {"queries_with_relevant", relevant_queries},
            {"mean_query_ms", queries ? 1000.0 * seconds / queries : 0.0}};
  }
};


}  // namespace aisle::eval
