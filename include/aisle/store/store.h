// Store: the source of truth for the catalog, queries, judgments and feedback events.
//
// The embedded backend is SQLite in WAL mode with synchronous=FULL, in <data_dir>/aisle.db:
// a write reported as committed survives a crash of the process (kill -9) and of the machine.
// Writes are upserts by natural key, so writing the same records twice changes nothing:
//   products   (locale, external id)     a later write replaces the listing's fields
//   queries    (locale, text)
//   judgments  (query, locale, product external id)  a later write replaces the grade
//   events     (session, ts, type, locale, product, query, position)  duplicates are dropped
// Judgments and events name products by external id, so they may be ingested before the
// catalog; stats() counts the ones whose product is not (yet) stored.
//
// A Store is one SQLite connection: use it from one thread at a time. Several processes may
// open the same data directory; SQLite's locks serialise their writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/io/records.h"

namespace aisle::store {

struct StoreOptions {
  // Open an existing store for reading only; kNotFound when there is none.
  bool read_only = false;
  // How long a write waits for another process's write lock before kIoError.
  int busy_timeout_ms = 10000;
};

// One row of the ingest log: every ingest run and how far it got. A run whose state is still
// "running" after its process is gone was interrupted; its rows up to last_line are stored.
struct IngestRun {
  std::int64_t run_id = 0;
  std::string file;
  std::string kind;    // catalog, judgments, events
  std::string format;  // catalog-jsonl, homedepot, ...
  std::string state;   // running, done, failed
  std::int64_t rows_committed = 0;
  std::int64_t last_line = 0;  // last input line of the last committed batch
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;  // 0 while running
  std::string message;
};

struct StoreStats {
  std::int64_t products = 0;
  std::int64_t cross_listed_groups = 0;  // groups with listings in two or more locales
  std::int64_t queries = 0;
  std::int64_t judgments = 0;
  std::int64_t judgments_without_product = 0;
  std::int64_t events = 0;
  std::map<std::string, std::int64_t> products_per_locale;
  std::map<std::string, std::int64_t> queries_per_locale;
  std::map<std::string, std::int64_t> judgments_per_label;  // E, S, C, I; "graded" for grades
  std::map<std::string, std::int64_t> judgments_per_split;  // "" when none
  std::map<std::string, std::int64_t> events_per_type;
  std::vector<IngestRun> recent_runs;  // newest first, at most 20
};

// A stored product listing.
struct Product {
  ProductId id;
  io::ProductRecord record;  // where.file / where.line: the input it was last written from
};

// A judgment whose product is in the catalog (judgments of unknown products are left out).
struct StoredJudgment {
  std::string query;
  std::string locale;
  ProductId product;
  std::string label;  // "E", "S", "C", "I" or empty for a numeric grade
  double grade = 0;
  std::string split;
};

// Feedback events of one (query, locale, product), counted by type.
struct Engagement {
  std::string query;
  std::string locale;
  ProductId product;
  std::int64_t impressions = 0, clicks = 0, add_to_carts = 0, purchases = 0;
};

// Impressions and clicks of one (query, locale, product) at one position (1-based).
struct PositionedEngagement {
  std::string query;
  std::string locale;
  ProductId product;
  int position = 0;
  std::int64_t impressions = 0, clicks = 0;
};

// One stored feedback event.
struct StoredEvent {
  std::int64_t event_id = 0;  // increasing in the order events were stored
  std::int64_t ts_ms = 0;
  std::string session;
  std::string query;  // empty when the event has none
  std::string locale;
  std::string product_external_id;
  std::optional<ProductId> product;  // when the catalog has the listing
  io::EventType type = io::EventType::kImpression;
  int position = 0;  // 1-based; 0 when unknown
};

class Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens <data_dir>/aisle.db, creating the directory and the schema when missing.
  // kCorruption when the file is not an Aisle store or has a newer schema version.
  static Result<std::unique_ptr<Store>> open(const std::filesystem::path& data_dir,
                                             StoreOptions options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Starts a run in the ingest log; returns its id.
  Result<std::int64_t> begin_run(const std::string& file, const std::string& kind,
                                 const std::string& format);
  // Each writes the whole batch and advances run `run_id` to `last_line` in one transaction:
  // afterwards either all of it is stored or none of it. Records must be valid (the readers
  // validate); a SQLite failure is kIoError / kInternal and leaves the store as it was.
  Status write_products(std::int64_t run_id, std::span<const io::ProductRecord> batch,
                        std::int64_t last_line);
  Status write_judgments(std::int64_t run_id, std::span<const io::JudgmentRecord> batch,
                         std::int64_t last_line);
  Status write_events(std::int64_t run_id, std::span<const io::EventRecord> batch,
                      std::int64_t last_line);
  // Marks a run done or failed (with a message).
  Status finish_run(std::int64_t run_id, bool ok, const std::string& message);

  Result<StoreStats> stats();

  // The listing (locale, external_id), or nullopt when absent.
  Result<std::optional<Product>> find_product(const std::string& locale,
                                              const std::string& external_id);

  // Whether cross-listing group `group` has a listing in `locale` (false for an empty group).
  // One indexed lookup.
  Result<bool> group_has_locale(const std::string& group, const std::string& locale);

  // Deletes a listing; returns its id, or nullopt when there is none. Its id is never given to
  // another listing (a tombstone keeps it): the derived indexes drop it when they catch up
  // (retrieve::update_index removes documents no longer stored; searches skip candidates the
  // store no longer has). One transaction. Writing the listing again later gives it a new id.
  Result<std::optional<ProductId>> delete_product(const std::string& locale, const std::string& external_id);
  // Whether the catalog holds a listing in `locale` (one indexed lookup).
  Result<bool> has_locale(const std::string& locale);

  // The listing with store id `id`, or nullopt when absent.
  Result<std::optional<Product>> get_product(ProductId id);

  // A read transaction held until the scope ends: the lookups made inside it share one
  // snapshot and take the database lock once (a search's dozens of get_product calls). A
  // no-op when the connection is already inside a transaction. Must not outlive the store.
  class ReadScope {
   public:
    ReadScope(ReadScope&& other) noexcept : store_(other.store_) { other.store_ = nullptr; }
    ReadScope& operator=(ReadScope&&) = delete;
    ReadScope(const ReadScope&) = delete;
    ~ReadScope();

   private:
    friend class Store;
    explicit ReadScope(Store* store) : store_(store) {}
    Store* store_;  // null: nothing to end
  };
  Result<ReadScope> read_scope();
  // Calls `visit` for every stored listing in id order; stops at and returns the first error
  // `visit` returns. One read transaction: writes by other processes are not seen midway.
  Status for_each_product(const std::function<Status(Product&&)>& visit);
  // (id, locale, popularity) of every listing in id order, without reading the rest of the
  // row (the popularity lists of a 1M-product catalog); same contract as above.
  Status for_each_popularity(
      const std::function<Status(ProductId, const std::string& locale, std::optional<double> popularity)>& visit);
  // Every judgment of a catalog product, by query then product; same contract as above.
  Status for_each_judgment(const std::function<Status(StoredJudgment&&)>& visit);
  // Events with a query, aggregated per (query, locale, product); same contract as above.
  Status for_each_engagement(const std::function<Status(Engagement&&)>& visit);
  // Impression and click events that carry a position, aggregated per (query, locale,
  // product, position), for position-bias estimation; same contract as above. A click shows
  // the product was there: impressions are at least the clicks (a page that logs clicks but
  // not impressions, or lost an impression, still gives a consistent count).
  Status for_each_positioned_engagement(const std::function<Status(PositionedEngagement&&)>& visit);
  // Every event stored after event id `after_id`, in id order; same contract as above.
  Status for_each_event(std::int64_t after_id, const std::function<Status(StoredEvent&&)>& visit);


 private:
  class Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::store
