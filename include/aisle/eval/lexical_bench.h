// `aisle bench lexical`: the lexical index at catalog scale, side by side with Xapian.
//
// Workload (seeded, reproducible with the same --seed and standard library): a synthetic
// catalog of --documents products built by recombining real product-title tokens from the
// Home Depot train file with their observed frequencies (so term frequencies stay Zipfian as
// in real titles): title length drawn from the real length distribution, brand from real
// first tokens, color from the color words that occur in titles, a two-level category from
// frequent title words, price log-normal, popularity Pareto. Queries are the real Home Depot
// search terms (train and dev files), replayed in a fixed shuffled order.
//
// Measured, single thread: Aisle index build (analysis + indexing + merge to one segment) in
// documents/s, index bytes, peak RSS after build and queries (before Xapian runs), and query
// latency (mean, p50, p99) for top-10 and top-100 with block-max WAND; the exact twin checks
// that the top-k equals the exhaustive scorer's on the first queries. Xapian (glass, BM25)
// indexes the same documents as Aisle's analyzer output and answers the same analyzed queries
// as OR queries; its build time excludes analysis (reported separately).
#pragma once

#include <cstdint>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::eval {

struct LexicalBenchOptions {
  // Folder with Home Depot's train.csv (titles, queries) and dev.csv (queries).
  std::filesystem::path source_dir = "../shared/data/relevance/homedepot";
  std::int64_t documents = 1000000;
  std::uint64_t seed = 42;
  int max_queries = 5000;
  int exact_check_queries = 300;
  bool xapian = true;
  std::filesystem::path dump_dir;  // when set: catalog.jsonl and queries.jsonl are written here
  std::filesystem::path work_dir;  // Xapian's database; a temporary directory if empty
};

// The report {"bench", "config", "results", "peers"}. kNotFound naming the missing source.
Result<nlohmann::json> run_lexical_bench(const Context& context, const LexicalBenchOptions& options);

}  // namespace aisle::eval
