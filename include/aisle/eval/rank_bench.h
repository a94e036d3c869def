// `aisle bench rank`: the ranking stage's latency, features + model, single thread, for 100,
// 200 and 1,000 candidates per query.
//
// The corpus is the Home Depot train file's products; a LambdaMART ranker of a fixed number
// of rounds (no early stopping, so the model has its full size) is trained on the lexical
// candidates of the first `train_queries` train queries. Each measured query (from dev.csv)
// takes the lexical top-N as its candidates; their documents are in memory (as the pipeline's
// are after the store lookup, which is not measured), each has a 64-dimensional vector, and the
// timer covers FeatureExtractor::extract + Ranker::score. Retrieval is not measured here.
#pragma once

#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::eval {

struct RankBenchOptions {
  std::filesystem::path source_dir = "../shared/data/relevance/homedepot";  // train.csv, dev.csv
  std::vector<int> candidates = {100, 200, 1000};
  int queries = 300;
  int train_queries = 2000;
  int rounds = 300;
  int max_depth = 6;
};

Result<nlohmann::json> run_rank_bench(const Context& context, const RankBenchOptions& options);

}  // namespace aisle::eval
