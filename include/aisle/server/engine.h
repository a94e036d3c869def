// Engine: a data directory served, behind the HTTP API (server/http.h) and testable without it.
//
// Every request is JSON in, (status, JSON) out; the HTTP layer only moves bytes. The engine
// holds:
//   - a pool of search pipelines (rank::SearchPipeline, one per concurrent search: a pipeline
//     is single-threaded), each with its own read-only store connection, all sharing one
//     load of the indexes and models (SearchPipeline::open_sibling);
//   - one writable store for product upserts and feedback events (writes are serialized);
//   - the live memory index (retrieve::MemoryIndex, caught up from the store after every
//     event batch; searches read it under a shared lock);
//   - the bandit (rank::OnlinePolicy): every search without an explicit strategy runs the
//     strategies it chooses, and events naming the search's id reward it.
// Product upserts are written to the store and the lexical index is brought up to date
// (retrieve::update_index) before the reply, so they are searchable right after; pipelines
// reopen the index on their next search. The upserted listings also take their place in the
// shared popularity lists and, when the data directory has product vectors, are embedded into
// the shared vectors (saved to the data directory at close(); after a kill, open() embeds them
// again from the store).
//
// Errors: a Reply with status 400 (bad input: {"error": {"code": "bad_input", "message",
// "field"}}; field is the offending request field, or "body:LINE:field" for a record of a
// batch), 404 (unknown product or a missing model), 500 only for failures of the machine
// (I/O, a damaged file). close() settles the bandit and saves the policy and the memory index.
// Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/config.h"
#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/rank/online.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/memory.h"
#include "aisle/retrieve/suggest.h"
#include "aisle/store/store.h"

namespace aisle::server {

struct EngineOptions {
  std::filesystem::path data_dir;
  int pipelines = 2;         // concurrent searches
  int max_k = 100;           // largest k a search may ask for
  int max_depth = 1000;      // most candidates per strategy a search with "strategy" may ask for
  std::size_t max_batch = 10000;  // records per write request
  std::size_t max_query_bytes = 1000;
  rank::OnlineOptions online;
};

struct Reply {
  int status = 200;
  nlohmann::json body;
};

// The reply for a failed Status: 400 for kBadInput (with "field" when the Status names one),
// 404 for kNotFound, 500 otherwise.
Reply error_reply(const Status& status);
Reply error_reply(int http_status, std::string_view code, std::string_view message, std::string_view field = {});

class Engine {
 public:
  // kNotFound when the data directory has no store or no index (`aisle ingest`, `aisle index`).
  // Catches every derived index up with the store first, so that a process killed with -9
  // loses nothing it acknowledged: the lexical index (retrieve::update_index: listings stored
  // but not indexed), the product vectors (listings whose vectors were upserted but not saved:
  // re-embedded, then saved), the memory index (events after its last event id) and the
  // policy (rank::OnlinePolicy replays its journal). On a catalog already indexed this reads
  // every listing twice (0.9 s each for Home Depot's 46,002).
  static Result<std::unique_ptr<Engine>> open(const EngineOptions& options, const Context& context);
  ~Engine();

  // {"query" (required), "locale" ("en"), "k" (10), "filters": ["brand=Nike", ...] or one
  // string, "explain" (false), "facets" (true), "strategy" (optional: the default pipeline
  // when absent, as `aisle search`; "policy" lets the bandit choose; or strategy names,
  // docs/api.md), "depth" (candidates per strategy: 100), "all_locales" (false: results in the
  // query's locale), "rank" (true: the ranker orders results when it is active)}. Numbers and
  // booleans may be strings (a GET's parameters). The reply is rank::search_result_json(), plus
  // "search_id" and "policy" when the bandit chose.
  Reply search(const nlohmann::json& request);
  // The k (1..max_k) related products of a product (its external id) with titles: those with
  // a listing in `locale`, unless all_locales (then any, with the listing when there is one).
  Reply related(const std::string& product_id, const std::string& locale, int k, bool all_locales = false);
  // {"prefix" (required), "locale" ("en"), "k" (8; 1..20)} -> {"prefix", "queries": [{"text"}],
  // "products": [{"product_id", "title", "price"}]}: autocomplete (retrieve::Suggester), built
  // at open() from the catalog and the engaged queries; upserted listings join at once.
  Reply suggest(const nlohmann::json& request);
  // {"query", "product_id", "locale"} -> the ESCI label and probabilities.
  Reply classify(const nlohmann::json& request);
  Reply product(const std::string& product_id, const std::string& locale);
  // A batch of products: a JSON array of catalog objects (docs/formats.md), or
  // {"products": [...]}. All or nothing; the reply counts them, the index update and the
  // vectors embedded.
  Reply upsert_products(const nlohmann::json& request);
  // Deletes the listing (external id, locale): the store deletes it (its id is never reused),
  // the lexical index drops it, and the vectors, the popularity lists and the suggestions
  // forget it; the next search cannot show it (a strategy's candidate the store no longer has
  // is skipped, the memory index's included). 404 when there is no such listing. Reply:
  // {"deleted": id, "locale", "documents"}.
  Reply delete_product(const std::string& product_id, const std::string& locale);
  // A batch of feedback events: an array (or {"events": [...]}) of event objects
  // (docs/formats.md) with an optional "search_id" from a /search reply. All or nothing: the
  // reply (200) comes after the store has committed them: {"stored", "duplicates" (events the
  // store already had, ignored), "rewarded" (events credited to their search)}.
  Reply add_events(const nlohmann::json& request);
  // {"status": "ok", "documents", "events", "locales" (the catalog's, sorted: what the page's
  // language menu offers), "currencies" (locale -> ISO 4217 code, from the settings file or the
  // language's usual one), "settings" ({"file", "default_strategy", "pending_reindex": the
  // file's index-time settings the index was not built with}), "layers"}.
  Reply health();
  // Gauges for /metrics: (name, help, value).
  std::vector<std::tuple<std::string, std::string, double>> gauges();

  // Settles every pending search, saves the policy and the memory index. Idempotent.
  Status close();

 private:
  struct Slot {
    std::unique_ptr<rank::SearchPipeline> pipeline;
    std::int64_t generation = 0;
  };
  class Lease;
  explicit Engine(const EngineOptions& options, const Context& context);
  Result<Lease> acquire();
  void release(Slot slot);
  Result<nlohmann::json> run_search(const nlohmann::json& request);
  retrieve::IndexUpdateOptions index_update_options() const;

  EngineOptions options_;
  const Context& context_;
  DataConfig config_;  // the data directory's settings file, read at open()
  std::vector<std::string> settings_pending_;  // its index-time settings the index lacks
  std::mutex pool_mutex_;
  std::condition_variable pool_ready_;
  std::vector<Slot> free_;
  std::atomic<std::int64_t> generation_{0};  // bumped by every index update

  std::mutex write_mutex_;  // the writable store and index updates
  std::unique_ptr<store::Store> store_;
  // The catalog's locales, sorted. Its own lock: /health must not wait behind a long write.
  std::mutex locales_mutex_;
  std::vector<std::string> locales_;  // guarded by locales_mutex_
  std::shared_mutex memory_mutex_;
  std::unique_ptr<retrieve::MemoryIndex> memory_;
  std::unique_ptr<rank::OnlinePolicy> policy_;
  std::unique_ptr<retrieve::Suggester> suggester_;  // thread-safe itself
  retrieve::Suggester::KeepQuery keep_query_;       // which engaged queries are suggested
  nlohmann::json layers_;  // rank::layers_json at open, plus the policy; read-only after open
  std::atomic<std::int64_t> documents_{0};
  std::atomic<std::int64_t> events_stored_{0};
  std::atomic<std::int64_t> products_written_{0};
  std::atomic<std::int64_t> vectors_upserted_{0};
  std::atomic<bool> vectors_changed_{false};  // by upserts or deletes: saved at close()
  // true until open() has built every part: close() then has nothing to settle or save.
  bool closed_ = true;
};

}  // namespace aisle::server
