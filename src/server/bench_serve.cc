#include "aisle/server/bench_serve.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aisle/server/engine.h"
#include "aisle/server/http.h"

#include <httplib.h>

namespace aisle::server {

namespace {

using Clock = std::chrono::steady_clock;

Result<std::vector<std::string>> query_mix(const ServeBenchOptions& options) {
  std::vector<std::string> queries;
  if (!options.queries.empty()) {
    std::ifstream in(options.queries);
    if (!in) return Status::not_found("cannot read " + options.queries.string());
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line) && static_cast<int>(queries.size()) < options.max_queries) {
      ++number;
      if (line.empty()) continue;
      if (line.front() != '{') {
        queries.push_back(line);
        continue;
      }
      const nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
      if (row.is_discarded() || !row.is_object() || !row.contains("query") || !row["query"].is_string()) {
        return Status::bad_input("a JSON line without a string \"query\"", Where(options.queries.string(), number, "query"));
      }
      queries.push_back(row["query"].get<std::string>());
    }
  } else {
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(options.data_dir, store::StoreOptions{.read_only = true}));
    std::set<std::string> seen;
    AISLE_RETURN_IF_ERROR(store->for_each_judgment([&](store::StoredJudgment&& j) {
      if (j.locale == options.locale && static_cast<int>(seen.size()) < options.max_queries) seen.insert(j.query);
      return Status::ok();
    }));
    queries.assign(seen.begin(), seen.end());
  }
  if (queries.empty()) return Status::bad_input("the query mix is empty (no judged queries in the store; pass --queries FILE)");
  return queries;
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t i = std::min(sorted.size() - 1, static_cast<std::size_t>(p * static_cast<double>(sorted.size())));
  return sorted[i];
}

}  // namespace

Result<nlohmann::json> run_serve_bench(const Context& context, const ServeBenchOptions& options) {
  AISLE_ASSIGN_OR_RETURN(std::vector<std::string> queries, query_mix(options));
  nlohmann::json report;
  report["bench"] = "serve";
  if (options.route != "search" && options.route != "suggest") {
    return Status::bad_input("route must be search or suggest, found " + options.route, Where("", 0, "--route"));
  }
  report["config"] = {{"data_dir", options.data_dir.string()}, {"queries", queries.size()}, {"locale", options.locale},
                      {"route", options.route}, {"highlight", options.highlight},
                      {"strategy", options.strategy.empty() ? "default" : options.strategy}, {"k", options.k},
                    {"depth", options.strategy.empty() ? nlohmann::json("default") : nlohmann::json(options.depth)},
                      {"clients", options.clients}, {"seconds", options.seconds},
                      {"machine_cores", std::thread::hardware_concurrency()}};
  nlohmann::json runs = nlohmann::json::array();
  const bool suggest = options.route == "suggest";
  for (const int cores : options.cores) {
    EngineOptions engine_options;
    engine_options.data_dir = options.data_dir;
    engine_options.pipelines = std::max(1, cores * 2);
    engine_options.online.persist = false;  // a benchmark must not change the data directory
    AISLE_ASSIGN_OR_RETURN(auto engine, Engine::open(engine_options, context));
    ServeOptions serve_options;
    serve_options.port = 0;
    serve_options.threads = std::max(options.clients, engine_options.pipelines);
    serve_options.queue_wait_ms = 60000;  // measure latency, do not shed
    HttpServer server(*engine, serve_options);
    AISLE_ASSIGN_OR_RETURN(const int port, server.bind());
    Status served;
    std::thread serving([&] {
      // The server's threads (created from this one) inherit the affinity.
      cpu_set_t set;
      CPU_ZERO(&set);
      for (int c = 0; c < cores; ++c) CPU_SET(c, &set);
      pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
      served = server.serve();
    });

    std::atomic<bool> measuring{false}, done{false};
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(options.clients));
    std::vector<std::map<int, std::int64_t>> statuses(static_cast<std::size_t>(options.clients));
    // Candidates the ranker scored, from a sample of the replies (parsing each would take the
    // server's CPU).
    std::vector<std::pair<double, std::int64_t>> candidates(static_cast<std::size_t>(options.clients));
    std::vector<std::thread> clients;
    for (int c = 0; c < options.clients; ++c) {
      clients.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", port);
        client.set_keep_alive(true);
        client.set_tcp_nodelay(true);
        client.set_read_timeout(30, 0);
        std::mt19937_64 rng(context.seed() + static_cast<std::uint64_t>(c));
        std::uniform_int_distribution<std::size_t> pick(0, queries.size() - 1);
        while (!done.load()) {
          const std::string& query = queries[pick(rng)];
          httplib::Params params{{"locale", options.locale}, {"k", std::to_string(options.k)}};
          if (suggest) {
            // A keystroke: the first 1..n characters (UTF-8 lead bytes) of the query.
            std::vector<std::size_t> ends;
            for (std::size_t at = 1; at <= query.size(); ++at) {
              if (at == query.size() || (static_cast<unsigned char>(query[at]) & 0xC0) != 0x80) ends.push_back(at);
            }
            params.emplace("prefix", query.substr(0, ends[std::uniform_int_distribution<std::size_t>(0, ends.size() - 1)(rng)]));
          } else {
            params.emplace("query", query);
            params.emplace("facets", "false");
            params.emplace("highlight", options.highlight ? "true" : "false");
            if (!options.strategy.empty()) {
              params.emplace("strategy", options.strategy);
              params.emplace("depth", std::to_string(options.depth));
            }
          }
          const auto start = Clock::now();
          auto reply = client.Get(suggest ? "/suggest" : "/search", params, httplib::Headers{});
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
          if (!measuring.load()) continue;
          latencies[static_cast<std::size_t>(c)].push_back(ms);
          ++statuses[static_cast<std::size_t>(c)][reply ? reply->status : 0];
          if (reply && reply->status == 200 && latencies[static_cast<std::size_t>(c)].size() % 16 == 1) {
            const nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
            if (body.is_object() && body.contains("candidates")) {
              candidates[static_cast<std::size_t>(c)].first += body["candidates"].get<double>();
              ++candidates[static_cast<std::size_t>(c)].second;
            }
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_seconds));
    measuring = true;
    const auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
    measuring = false;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    done = true;
    for (std::thread& t : clients) t.join();
    server.stop();
    serving.join();
    AISLE_RETURN_IF_ERROR(served);
    std::vector<double> all;
    std::map<int, std::int64_t> by_status;
    double candidate_sum = 0;
    std::int64_t candidate_replies = 0;
    for (const auto& [sum, count] : candidates) candidate_sum += sum, candidate_replies += count;
    for (std::size_t c = 0; c < latencies.size(); ++c) {
      all.insert(all.end(), latencies[c].begin(), latencies[c].end());
      for (const auto& [status, count] : statuses[c]) by_status[status] += count;
    }
    std::sort(all.begin(), all.end());
    nlohmann::json status_json = nlohmann::json::object();
    for (const auto& [status, count] : by_status) status_json[std::to_string(status)] = count;
    runs.push_back({{"cores", cores},
                    {"requests", all.size()},
                    {"qps", static_cast<double>(all.size()) / elapsed},
                    {"p50_ms", percentile(all, 0.50)},
                    {"p90_ms", percentile(all, 0.90)},
                    {"p99_ms", percentile(all, 0.99)},
                    {"max_ms", all.empty() ? 0.0 : all.back()},
                    {"mean_candidates", candidate_replies ? candidate_sum / static_cast<double>(candidate_replies) : 0.0},
                    {"status", status_json}});
    context.logger().info("serve bench, {} core(s): {} requests, {:.0f} QPS, p50 {:.2f} ms, p99 {:.2f} ms", cores, all.size(),
                          static_cast<double>(all.size()) / elapsed, percentile(all, 0.5), percentile(all, 0.99));
  }
  report["results"] = runs;
  return report;
}

}  // namespace aisle::server
