// `aisle bench vector`: the vector strategy at catalog scale.
//
// Workload (seeded): the encoder is trained on Home Depot train judgments for --epochs epochs
// (the time per epoch is reported); it then encodes --vectors synthetic catalog products (the
// generator of `aisle bench lexical`) and the real Home Depot queries. Measured:
//  - encoder throughput, one thread: queries encoded per second at batch 1 and batch 64;
//    products encoded per second with every thread;
//  - HNSW (M, ef_construction as given) build time with every thread, memory (the index's own
//    accounting and the process's peak RSS);
//  - per ef: recall@10 against the exact index (the twin, a full scan) and single-thread
//    queries per second; the recall/QPS curve is also written as an SVG next to the report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/text_encoder.h"

namespace aisle::eval {

struct VectorBenchOptions {
  std::filesystem::path source_dir = "../shared/data/relevance/homedepot";  // train.csv, dev.csv
  std::int64_t vectors = 1000000;
  int queries = 1000;
  std::vector<int> ef = {16, 32, 64, 128, 256};
  int hnsw_m = 16;
  int hnsw_ef_construction = 100;
  int epochs = 1;
  models::EncoderConfig encoder;
  std::uint64_t seed = 42;
  std::filesystem::path svg;  // the recall/QPS plot; not written when empty
};

// The report {"bench", "config", "results", "peers"}. kNotFound naming the missing source.
Result<nlohmann::json> run_vector_bench(const Context& context, const VectorBenchOptions& options);

}  // namespace aisle::eval
