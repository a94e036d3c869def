// `aisle bench serve`: the HTTP server under load, over loopback.
//
// Opens the engine on a data directory, starts the server in this process on a free port,
// and drives it with `clients` concurrent keep-alive clients, each sending GET /search for
// queries drawn uniformly from the query mix (the store's judged queries, or a file with one
// query a line or JSON lines with a "query" field, as `aisle bench lexical --dump` writes)
// for `seconds`, after a warm-up. Reported per run: requests, QPS, latency p50/p90/p99/max
// (client side, milliseconds), replies by status, and the mean number of candidates the
// ranker scored (read from every 16th reply). One run per entry of
// `cores`: the server's threads are pinned to that many cores (sched_setaffinity); the
// clients run beside them on the same machine, so they take a share of the same CPUs.
// With route "suggest" each request is GET /suggest for a prefix of a query of the mix (1 to
// all of its characters, drawn uniformly: the keystrokes of a shopper typing it).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::server {

struct ServeBenchOptions {
  std::filesystem::path data_dir;
  std::filesystem::path queries;  // one query a line; empty: the store's judged queries
  std::string locale = "en";
  std::string route = "search";  // or "suggest"
  std::string strategy;  // empty: the default pipeline; e.g. "lexical" for lexical + rank
  bool highlight = true;  // searches ask for highlighting (the API's default)
  int depth = 100;       // candidates per strategy, with `strategy`
  int k = 10;
  int clients = 8;
  double seconds = 10;
  double warmup_seconds = 2;
  std::vector<int> cores = {1, 2};
  int max_queries = 5000;
};

Result<nlohmann::json> run_serve_bench(const Context& context, const ServeBenchOptions& options);

}  // namespace aisle::server
