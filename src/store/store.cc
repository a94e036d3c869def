#include "aisle/store/store.h"

#include <chrono>
#include <system_error>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aisle/core/errors.h"
#include "sqlite.h"

namespace aisle::store {

namespace {

// Version 1. Layout documented in docs/formats.md ("The store").
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS products(
  product_id INTEGER PRIMARY KEY,
  locale TEXT NOT NULL,
  external_id TEXT NOT NULL,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  bullets TEXT NOT NULL DEFAULT '[]',
  brand TEXT NOT NULL DEFAULT '',
  color TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT '{}',
  price REAL,
  popularity REAL,
  group_key TEXT,
  source_file TEXT,
  source_line INTEGER,
  image TEXT NOT NULL DEFAULT '',
  UNIQUE(locale, external_id));
CREATE INDEX IF NOT EXISTS products_by_group ON products(group_key) WHERE group_key IS NOT NULL;
-- Deleted listings: their ids are never given to another listing (ids key the index's
-- documents, the vectors and the memory index, which forget a deleted id only when they
-- catch up).
CREATE TABLE IF NOT EXISTS deleted_products(
  product_id INTEGER PRIMARY KEY,
  locale TEXT NOT NULL,
  external_id TEXT NOT NULL,
  deleted_ms INTEGER NOT NULL);
-- Stores written before the search index existed kept an FTS5 copy of the catalog; the
-- inverted index (aisle index) replaced it.
DROP TRIGGER IF EXISTS products_fts_insert;
DROP TRIGGER IF EXISTS products_fts_delete;
DROP TRIGGER IF EXISTS products_fts_update;
DROP TABLE IF EXISTS products_fts;
CREATE TABLE IF NOT EXISTS queries(
  query_id INTEGER PRIMARY KEY,
  locale TEXT NOT NULL,
  text TEXT NOT NULL,
  external_id TEXT,
  UNIQUE(locale, text));
CREATE TABLE IF NOT EXISTS judgments(
  query_id INTEGER NOT NULL REFERENCES queries(query_id),
  locale TEXT NOT NULL,
  product_external_id TEXT NOT NULL,
  label TEXT,
  grade REAL NOT NULL,
  split TEXT NOT NULL DEFAULT '',
  source_file TEXT,
  source_line INTEGER,
  PRIMARY KEY(query_id, locale, product_external_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events(
  event_id INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  session TEXT NOT NULL,
  locale TEXT NOT NULL,
  query_id INTEGER NOT NULL DEFAULT 0,
  product_external_id TEXT NOT NULL,
  type TEXT NOT NULL,
  position INTEGER NOT NULL DEFAULT 0,
  UNIQUE(session, ts_ms, type, locale, product_external_id, query_id, position));
CREATE TABLE IF NOT EXISTS ingest_runs(
  run_id INTEGER PRIMARY KEY,
  file TEXT NOT NULL,
  kind TEXT NOT NULL,
  format TEXT NOT NULL,
  state TEXT NOT NULL,
  rows_committed INTEGER NOT NULL DEFAULT 0,
  last_line INTEGER NOT NULL DEFAULT 0,
  started_ms INTEGER NOT NULL,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '');
)sql";

// The columns read_product() reads; a store written before the image column (opened read-only,
// so not migrated) reads an empty image.
std::string product_columns(bool has_image) {
  return std::string("SELECT product_id, locale, external_id, title, description, bullets, brand, color, category, "
                     "attributes, price, popularity, group_key, source_file, source_line, ") +
         (has_image ? "image" : "''") + " FROM products ";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string join_category(const std::vector<std::string>& path) {
  return fmt::format("{}", fmt::join(path, " > "));
}

}  // namespace

class Store::Impl {
 public:
  explicit Impl(Database db) : db_(std::move(db)) {}

  // The point lookups of every search (get_product, find_product), prepared once: preparing
  // per call was half the cost of a lookup.
  Status prepare_reads() {
    AISLE_ASSIGN_OR_RETURN(Statement by_id, db_.prepare(product_columns_ + "WHERE product_id = ?1"));
    AISLE_ASSIGN_OR_RETURN(Statement by_key,
                           db_.prepare(product_columns_ + "WHERE locale = ?1 AND external_id = ?2"));
    AISLE_ASSIGN_OR_RETURN(Statement group_locale,
                           db_.prepare("SELECT 1 FROM products WHERE group_key = ?1 AND locale = ?2 LIMIT 1"));
    get_product_.emplace(std::move(by_id));
    find_product_.emplace(std::move(by_key));
    group_has_locale_.emplace(std::move(group_locale));
    return Status::ok();
  }

  Status prepare_writes() {
    AISLE_ASSIGN_OR_RETURN(Statement product, db_.prepare(R"sql(
      INSERT INTO products(product_id, locale, external_id, title, description, bullets, brand, color,
                           category, attributes, price, popularity, group_key, source_file,
                           source_line, image)
      VALUES (1 + max(COALESCE((SELECT max(product_id) FROM products), 0),
                      COALESCE((SELECT max(product_id) FROM deleted_products), 0)),
              ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
      ON CONFLICT(locale, external_id) DO UPDATE SET
        title = excluded.title, description = excluded.description, bullets = excluded.bullets,
        brand = excluded.brand, color = excluded.color, category = excluded.category,
        attributes = excluded.attributes, price = excluded.price,
        popularity = excluded.popularity, group_key = excluded.group_key,
        source_file = excluded.source_file, source_line = excluded.source_line,
        image = excluded.image)sql"));
    AISLE_ASSIGN_OR_RETURN(Statement query, db_.prepare(R"sql(
      INSERT INTO queries(locale, text, external_id) VALUES (?1, ?2, ?3)
      ON CONFLICT(locale, text) DO UPDATE SET external_id = COALESCE(excluded.external_id, external_id)
      RETURNING query_id)sql"));
    AISLE_ASSIGN_OR_RETURN(Statement judgment, db_.prepare(R"sql(
      INSERT INTO judgments(query_id, locale, product_external_id, label, grade, split,
                            source_file, source_line)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
      ON CONFLICT(query_id, locale, product_external_id) DO UPDATE SET
        label = excluded.label, grade = excluded.grade, split = excluded.split,
        source_file = excluded.source_file, source_line = excluded.source_line)sql"));
    AISLE_ASSIGN_OR_RETURN(Statement event, db_.prepare(R"sql(
      INSERT OR IGNORE INTO events(ts_ms, session, locale, query_id, product_external_id, type, position)
      VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
    AISLE_ASSIGN_OR_RETURN(Statement advance, db_.prepare(R"sql(
      UPDATE ingest_runs SET rows_committed = rows_committed + ?2, last_line = ?3 WHERE run_id = ?1)sql"));
    upsert_product_.emplace(std::move(product));
    upsert_query_.emplace(std::move(query));
    upsert_judgment_.emplace(std::move(judgment));
    insert_event_.emplace(std::move(event));
    advance_run_.emplace(std::move(advance));
    return Status::ok();
  }

  Status write_product(const io::ProductRecord& record) {
    nlohmann::json bullets = record.bullets;
    nlohmann::json attributes = nlohmann::json::object();
    for (const auto& [name, value] : record.attributes) attributes[name] = value;
    // Judgment files repeat their product on every row (Home Depot: 51,851 rows, 41,235
    // products); an upsert of unchanged fields would rewrite the row and its FTS entry.
    std::string key = record.locale + '\x1f' + record.id;
    std::size_t content = std::hash<std::string>()(fmt::format(
        "{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", record.title, record.description,
        bullets.dump(), record.brand, record.color, join_category(record.category), attributes.dump(),
        record.price ? fmt::format("{}", *record.price) : "-",
        record.popularity ? fmt::format("{}", *record.popularity) : "-", record.group + '\x1f' + record.image));
    auto [cached, inserted] = product_cache_.try_emplace(key, content);
    if (!inserted && cached->second == content) return Status::ok();
    cached->second = content;
    Statement& s = *upsert_product_;
    s.bind(1, record.locale);
    s.bind(2, record.id);
    s.bind(3, record.title);
    s.bind(4, record.description);
    s.bind(5, bullets.dump());
    s.bind(6, record.brand);
    s.bind(7, record.color);
    s.bind(8, join_category(record.category));
    s.bind(9, attributes.dump());
    s.bind(10, record.price);
    s.bind(11, record.popularity);
    s.bind_text_or_null(12, record.group);
    s.bind(13, record.where.file);
    s.bind(14, static_cast<std::int64_t>(record.where.line));
    s.bind(15, record.image);
    return s.run();
  }

  // The id of query (locale, text), created when new.
  Result<std::int64_t> query_id(const std::string& locale, const std::string& text,
                                const std::string& external_id) {
    std::string key = locale + '\x1f' + text + '\x1f' + external_id;
    if (auto cached = query_cache_.find(key); cached != query_cache_.end()) return cached->second;
    Statement& s = *upsert_query_;
    s.bind(1, locale);
    s.bind(2, text);
    s.bind_text_or_null(3, external_id);
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    AISLE_CHECK(row, "an upsert ... RETURNING returns a row");
    std::int64_t id = s.column_int(0);
    AISLE_RETURN_IF_ERROR(s.run());
    query_cache_.emplace(std::move(key), id);
    return id;
  }

  Status write_judgment(const io::JudgmentRecord& record) {
    if (record.product) AISLE_RETURN_IF_ERROR(write_product(*record.product));
    AISLE_ASSIGN_OR_RETURN(std::int64_t query, query_id(record.locale, record.query, record.query_id));
    Statement& s = *upsert_judgment_;
    s.bind(1, query);
    s.bind(2, record.locale);
    s.bind(3, record.product_id);
    if (record.label) s.bind(4, std::string(1, io::esci_label_letter(*record.label)));
    else s.bind_null(4);
    s.bind(5, record.grade);
    s.bind(6, record.split);
    s.bind(7, record.where.file);
    s.bind(8, static_cast<std::int64_t>(record.where.line));
    return s.run();
  }

  Status write_event(const io::EventRecord& record) {
    std::int64_t query = 0;
    if (!record.query.empty()) {
      AISLE_ASSIGN_OR_RETURN(query, query_id(record.locale, record.query, ""));
    }
    Statement& s = *insert_event_;
    s.bind(1, record.ts_ms);
    s.bind(2, record.session);
    s.bind(3, record.locale);
    s.bind(4, query);
    s.bind(5, record.product_id);
    s.bind(6, io::event_type_name(record.type));
    s.bind(7, static_cast<std::int64_t>(record.position.value_or(0)));
    return s.run();
  }

  template <typename Record, typename Write>
  Status write_batch(std::int64_t run_id, std::span<const Record> batch, std::int64_t last_line,
                     Write write) {
    Status status = write_batch_once(run_id, batch, last_line, write);
    // A rolled-back batch may have put rows in the caches that are not in the store.
    if (!status.is_ok()) clear_caches();
    return status;
  }

  template <typename Record, typename Write>
  Status write_batch_once(std::int64_t run_id, std::span<const Record> batch, std::int64_t last_line,
                          Write write) {
    AISLE_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(db_));
    for (const Record& record : batch) {
      Status status = write(record);
      if (!status.is_ok()) return status.with_context(record.where.to_string());
    }
    Statement& s = *advance_run_;
    s.bind(1, run_id);
    s.bind(2, static_cast<std::int64_t>(batch.size()));
    s.bind(3, last_line);
    AISLE_RETURN_IF_ERROR(s.run());
    return transaction.commit();
  }

  void clear_caches() {
    query_cache_.clear();
    product_cache_.clear();
  }

  Result<std::int64_t> count(std::string_view sql) {
    AISLE_ASSIGN_OR_RETURN(Statement s, db_.prepare(sql));
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    return row ? s.column_int(0) : 0;
  }

  Result<std::map<std::string, std::int64_t>> grouped(std::string_view sql) {
    std::map<std::string, std::int64_t> counts;
    AISLE_ASSIGN_OR_RETURN(Statement s, db_.prepare(sql));
    while (true) {
      AISLE_ASSIGN_OR_RETURN(bool row, s.step());
      if (!row) break;
      counts[s.column_text(0)] = s.column_int(1);
    }
    return counts;
  }

  Database db_;
  std::optional<Statement> get_product_;
  std::optional<Statement> find_product_;
  std::optional<Statement> group_has_locale_;
  std::optional<Statement> upsert_product_;
  std::optional<Statement> upsert_query_;
  std::optional<Statement> upsert_judgment_;
  std::optional<Statement> insert_event_;
  std::optional<Statement> advance_run_;
  // Within one ingest run (cleared at each begin_run and after a failed batch, so another
  // process's writes between runs are never hidden): query ids, and a hash of the fields last
  // written for each product.
  std::unordered_map<std::string, std::int64_t> query_cache_;
  std::unordered_map<std::string, std::size_t> product_cache_;
  std::string product_columns_ = product_columns(true);
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& data_dir, StoreOptions options) {
  std::error_code error;
  if (!options.read_only) {
    std::filesystem::create_directories(data_dir, error);
    if (error) {
      return Status::io_error(fmt::format("cannot create the data directory: {}", error.message()),
                              {data_dir.string()});
    }
  }
  std::string path = (data_dir / "aisle.db").string();
  AISLE_ASSIGN_OR_RETURN(Database db, Database::open(path, options.read_only, options.busy_timeout_ms));
  auto impl = std::make_unique<Impl>(std::move(db));
  Database& database = impl->db_;
  if (!options.read_only) {
    AISLE_RETURN_IF_ERROR(database.exec("PRAGMA journal_mode=WAL"));
    AISLE_RETURN_IF_ERROR(database.exec("PRAGMA synchronous=FULL"));
    AISLE_RETURN_IF_ERROR(database.exec("PRAGMA foreign_keys=ON"));
  }
  // Refuse a file that is not ours before touching it.
  Result<std::int64_t> tables = impl->count(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT IN ('meta')");
  if (!tables.is_ok()) return tables.status();
  Result<std::int64_t> has_meta =
      impl->count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (!has_meta.is_ok()) return has_meta.status();
  if (*has_meta == 0 && *tables > 0) {
    return Status::corruption("expected an Aisle store, found an SQLite file with other tables",
                              {path});
  }
  if (*has_meta == 1) {
    AISLE_ASSIGN_OR_RETURN(Statement version,
                           database.prepare("SELECT value FROM meta WHERE key = 'schema_version'"));
    AISLE_ASSIGN_OR_RETURN(bool row, version.step());
    std::string found = row ? version.column_text(0) : "none";
    if (found != std::to_string(kSchemaVersion)) {
      return Status::corruption(
          errors::expected_found(fmt::format("store schema version {}", kSchemaVersion), found),
          {path});
    }
  } else if (options.read_only) {
    return Status::not_found("the store is empty (run aisle ingest first)", {path});
  }
  // The image column came after schema version 1's first stores: added when missing (a
  // read-only open reads an empty image instead).
  AISLE_ASSIGN_OR_RETURN(const std::int64_t products_table, impl->count(
      "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'products'"));
  AISLE_ASSIGN_OR_RETURN(const std::int64_t image_column, impl->count(
      "SELECT count(*) FROM pragma_table_info('products') WHERE name = 'image'"));
  impl->product_columns_ = product_columns(image_column > 0 || (products_table == 0 && !options.read_only));
  if (!options.read_only) {
    AISLE_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(database));
    if (products_table > 0 && image_column == 0) {
      AISLE_RETURN_IF_ERROR(database.exec("ALTER TABLE products ADD COLUMN image TEXT NOT NULL DEFAULT ''"));
    }
    impl->product_columns_ = product_columns(true);
    AISLE_RETURN_IF_ERROR(database.exec(kSchema));
    AISLE_RETURN_IF_ERROR(database.exec(fmt::format(
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '{}')", kSchemaVersion)));
    AISLE_RETURN_IF_ERROR(transaction.commit());
    AISLE_RETURN_IF_ERROR(impl->prepare_writes());
  }
  AISLE_RETURN_IF_ERROR(impl->prepare_reads());
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<std::int64_t> Store::begin_run(const std::string& file, const std::string& kind,
                                      const std::string& format) {
  impl_->clear_caches();
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "INSERT INTO ingest_runs(file, kind, format, state, started_ms) VALUES (?1, ?2, ?3, 'running', ?4) "
      "RETURNING run_id"));
  s.bind(1, file);
  s.bind(2, kind);
  s.bind(3, format);
  s.bind(4, now_ms());
  AISLE_ASSIGN_OR_RETURN(bool row, s.step());
  AISLE_CHECK(row, "INSERT ... RETURNING returns a row");
  std::int64_t id = s.column_int(0);
  AISLE_RETURN_IF_ERROR(s.run());
  return id;
}

Status Store::write_products(std::int64_t run_id, std::span<const io::ProductRecord> batch,
                             std::int64_t last_line) {
  return impl_->write_batch(run_id, batch, last_line,
                            [this](const io::ProductRecord& r) { return impl_->write_product(r); });
}

Status Store::write_judgments(std::int64_t run_id, std::span<const io::JudgmentRecord> batch,
                              std::int64_t last_line) {
  return impl_->write_batch(run_id, batch, last_line,
                            [this](const io::JudgmentRecord& r) { return impl_->write_judgment(r); });
}

Status Store::write_events(std::int64_t run_id, std::span<const io::EventRecord> batch,
                           std::int64_t last_line) {
  return impl_->write_batch(run_id, batch, last_line,
                            [this](const io::EventRecord& r) { return impl_->write_event(r); });
}

Status Store::finish_run(std::int64_t run_id, bool ok, const std::string& message) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "UPDATE ingest_runs SET state = ?2, finished_ms = ?3, message = ?4 WHERE run_id = ?1"));
  s.bind(1, run_id);
  s.bind(2, std::string_view(ok ? "done" : "failed"));
  s.bind(3, now_ms());
  s.bind(4, message);
  return s.run();
}

Result<StoreStats> Store::stats() {
  StoreStats stats;
  Impl& impl = *impl_;
  AISLE_ASSIGN_OR_RETURN(stats.products, impl.count("SELECT count(*) FROM products"));
  AISLE_ASSIGN_OR_RETURN(stats.cross_listed_groups, impl.count(
      "SELECT count(*) FROM (SELECT group_key FROM products WHERE group_key IS NOT NULL "
      "GROUP BY group_key HAVING count(DISTINCT locale) > 1)"));
  AISLE_ASSIGN_OR_RETURN(stats.queries, impl.count("SELECT count(*) FROM queries"));
  AISLE_ASSIGN_OR_RETURN(stats.judgments, impl.count("SELECT count(*) FROM judgments"));
  AISLE_ASSIGN_OR_RETURN(stats.judgments_without_product, impl.count(
      "SELECT count(*) FROM judgments j WHERE NOT EXISTS (SELECT 1 FROM products p "
      "WHERE p.locale = j.locale AND p.external_id = j.product_external_id)"));
  AISLE_ASSIGN_OR_RETURN(stats.events, impl.count("SELECT count(*) FROM events"));
  AISLE_ASSIGN_OR_RETURN(stats.products_per_locale,
                         impl.grouped("SELECT locale, count(*) FROM products GROUP BY locale"));
  AISLE_ASSIGN_OR_RETURN(stats.queries_per_locale,
                         impl.grouped("SELECT locale, count(*) FROM queries GROUP BY locale"));
  AISLE_ASSIGN_OR_RETURN(stats.judgments_per_label, impl.grouped(
      "SELECT COALESCE(label, 'graded'), count(*) FROM judgments GROUP BY 1"));
  AISLE_ASSIGN_OR_RETURN(stats.judgments_per_split,
                         impl.grouped("SELECT split, count(*) FROM judgments GROUP BY split"));
  AISLE_ASSIGN_OR_RETURN(stats.events_per_type,
                         impl.grouped("SELECT type, count(*) FROM events GROUP BY type"));
  AISLE_ASSIGN_OR_RETURN(Statement runs, impl.db_.prepare(
      "SELECT run_id, file, kind, format, state, rows_committed, last_line, started_ms, "
      "finished_ms, message FROM ingest_runs ORDER BY run_id DESC LIMIT 20"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, runs.step());
    if (!row) break;
    stats.recent_runs.push_back(IngestRun{runs.column_int(0), runs.column_text(1),
                                          runs.column_text(2), runs.column_text(3),
                                          runs.column_text(4), runs.column_int(5),
                                          runs.column_int(6), runs.column_int(7),
                                          runs.column_int(8), runs.column_text(9)});
  }
  return stats;
}

namespace {

// Reads a row selected with product_columns().
Result<Product> read_product(const Statement& s, const std::string& db_path) {
  Product product;
  product.id = ProductId(static_cast<std::uint32_t>(s.column_int(0)));
  io::ProductRecord& record = product.record;
  record.locale = s.column_text(1);
  record.id = s.column_text(2);
  record.title = s.column_text(3);
  record.description = s.column_text(4);
  nlohmann::json bullets = nlohmann::json::parse(s.column_text(5), nullptr, false);
  nlohmann::json attributes = nlohmann::json::parse(s.column_text(9), nullptr, false);
  if (!bullets.is_array() || !attributes.is_object()) {
    return Status::corruption("expected JSON bullets and attributes in the products table",
                              {db_path, 0, record.id});
  }
  for (const auto& bullet : bullets) record.bullets.push_back(bullet.is_string() ? bullet.get<std::string>() : bullet.dump());
  record.brand = s.column_text(6);
  record.color = s.column_text(7);
  std::string category = s.column_text(8);
  for (std::size_t start = 0; !category.empty() && start <= category.size();) {
    std::size_t end = category.find(" > ", start);
    if (end == std::string::npos) end = category.size();
    record.category.push_back(category.substr(start, end - start));
    start = end + 3;
  }
  for (const auto& [name, value] : attributes.items()) {
    record.attributes.emplace_back(name, value.is_string() ? value.get<std::string>() : value.dump());
  }
  if (!s.column_is_null(10)) record.price = s.column_double(10);
  if (!s.column_is_null(11)) record.popularity = s.column_double(11);
  record.group = s.column_text(12);
  record.where = Where{s.column_text(13), static_cast<std::uint64_t>(s.column_int(14))};
  record.image = s.column_text(15);
  return product;
}

}  // namespace

namespace {

// Resets a kept statement (and clears its bindings) when a lookup returns.
class ResetOnExit {
 public:
  explicit ResetOnExit(Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  Statement& statement_;
};

Result<std::optional<Product>> read_one(Statement& s, const std::string& path) {
  AISLE_ASSIGN_OR_RETURN(bool row, s.step());
  if (!row) return std::optional<Product>();
  AISLE_ASSIGN_OR_RETURN(Product product, read_product(s, path));
  return std::optional<Product>(std::move(product));
}

}  // namespace

Result<std::optional<Product>> Store::find_product(const std::string& locale,
                                                   const std::string& external_id) {
  Statement& s = *impl_->find_product_;
  ResetOnExit reset(s);
  s.bind(1, locale);
  s.bind(2, external_id);
  return read_one(s, impl_->db_.path());
}

Result<bool> Store::has_locale(const std::string& locale) {
  AISLE_ASSIGN_OR_RETURN(Statement find, impl_->db_.prepare("SELECT 1 FROM products WHERE locale = ?1 LIMIT 1"));
  find.bind(1, locale);
  return find.step();
}

Result<std::optional<ProductId>> Store::delete_product(const std::string& locale, const std::string& external_id) {
  Impl& impl = *impl_;
  auto run = [&]() -> Result<std::optional<ProductId>> {
    AISLE_ASSIGN_OR_RETURN(Transaction transaction, Transaction::begin(impl.db_));
    AISLE_ASSIGN_OR_RETURN(Statement find, impl.db_.prepare("SELECT product_id FROM products WHERE locale = ?1 AND external_id = ?2"));
    find.bind(1, locale);
    find.bind(2, external_id);
    AISLE_ASSIGN_OR_RETURN(const bool found, find.step());
    if (!found) return std::optional<ProductId>();
    const std::int64_t id = find.column_int(0);
    AISLE_ASSIGN_OR_RETURN(Statement tombstone, impl.db_.prepare(
        "INSERT OR REPLACE INTO deleted_products(product_id, locale, external_id, deleted_ms) VALUES (?1, ?2, ?3, ?4)"));
    tombstone.bind(1, id);
    tombstone.bind(2, locale);
    tombstone.bind(3, external_id);
    tombstone.bind(4, now_ms());
    AISLE_RETURN_IF_ERROR(tombstone.run());
    AISLE_ASSIGN_OR_RETURN(Statement remove, impl.db_.prepare("DELETE FROM products WHERE product_id = ?1"));
    remove.bind(1, id);
    AISLE_RETURN_IF_ERROR(remove.run());
    AISLE_RETURN_IF_ERROR(transaction.commit());
    return std::optional<ProductId>(ProductId(static_cast<std::uint32_t>(id)));
  };
  auto out = run();
  impl.clear_caches();  // a listing written again later must not look unchanged
  return out;
}

Result<std::optional<Product>> Store::get_product(ProductId id) {
  Statement& s = *impl_->get_product_;
  ResetOnExit reset(s);
  s.bind(1, static_cast<std::int64_t>(id.value()));
  return read_one(s, impl_->db_.path());
}

Result<bool> Store::group_has_locale(const std::string& group, const std::string& locale) {
  if (group.empty()) return false;
  Statement& s = *impl_->group_has_locale_;
  ResetOnExit reset(s);
  s.bind(1, group);
  s.bind(2, locale);
  return s.step();
}

Result<Store::ReadScope> Store::read_scope() {
  if (sqlite3_get_autocommit(impl_->db_.handle()) == 0) return ReadScope(nullptr);
  AISLE_RETURN_IF_ERROR(impl_->db_.exec("BEGIN"));
  return ReadScope(this);
}

Store::ReadScope::~ReadScope() {
  // A read transaction has nothing to lose: a failed COMMIT still ends it (or the next BEGIN
  // reports the problem).
  if (store_ != nullptr && sqlite3_get_autocommit(store_->impl_->db_.handle()) == 0) {
    (void)store_->impl_->db_.exec("COMMIT");
  }
}

Status Store::for_each_product(const std::function<Status(Product&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(impl_->product_columns_ + "ORDER BY product_id"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    AISLE_ASSIGN_OR_RETURN(Product product, read_product(s, impl_->db_.path()));
    AISLE_RETURN_IF_ERROR(visit(std::move(product)));
  }
}

Status Store::for_each_popularity(
    const std::function<Status(ProductId, const std::string& locale, std::optional<double> popularity)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare("SELECT product_id, locale, popularity FROM products ORDER BY product_id"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    const std::optional<double> popularity = s.column_is_null(2) ? std::nullopt : std::optional<double>(s.column_double(2));
    AISLE_RETURN_IF_ERROR(visit(ProductId(static_cast<std::uint32_t>(s.column_int(0))), s.column_text(1), popularity));
  }
}

Status Store::for_each_judgment(const std::function<Status(StoredJudgment&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "SELECT q.text, j.locale, p.product_id, coalesce(j.label, ''), j.grade, j.split FROM judgments j "
      "JOIN queries q ON q.query_id = j.query_id "
      "JOIN products p ON p.locale = j.locale AND p.external_id = j.product_external_id "
      "ORDER BY j.query_id, p.product_id"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    StoredJudgment judgment;
    judgment.query = s.column_text(0);
    judgment.locale = s.column_text(1);
    judgment.product = ProductId(static_cast<std::uint32_t>(s.column_int(2)));
    judgment.label = s.column_text(3);
    judgment.grade = s.column_double(4);
    judgment.split = s.column_text(5);
    AISLE_RETURN_IF_ERROR(visit(std::move(judgment)));
  }
}

Status Store::for_each_engagement(const std::function<Status(Engagement&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "SELECT q.text, e.locale, p.product_id, "
      "sum(e.type = 'impression'), sum(e.type = 'click'), sum(e.type = 'add_to_cart'), sum(e.type = 'purchase') "
      "FROM events e JOIN queries q ON q.query_id = e.query_id "
      "JOIN products p ON p.locale = e.locale AND p.external_id = e.product_external_id "
      "GROUP BY e.query_id, e.locale, p.product_id ORDER BY e.query_id, p.product_id"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    Engagement engagement;
    engagement.query = s.column_text(0);
    engagement.locale = s.column_text(1);
    engagement.product = ProductId(static_cast<std::uint32_t>(s.column_int(2)));
    engagement.impressions = s.column_int(3);
    engagement.clicks = s.column_int(4);
    engagement.add_to_carts = s.column_int(5);
    engagement.purchases = s.column_int(6);
    AISLE_RETURN_IF_ERROR(visit(std::move(engagement)));
  }
}

Status Store::for_each_positioned_engagement(const std::function<Status(PositionedEngagement&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "SELECT q.text, e.locale, p.product_id, e.position, max(sum(e.type = 'impression'), sum(e.type = 'click')), "
      "sum(e.type = 'click') FROM events e JOIN queries q ON q.query_id = e.query_id "
      "JOIN products p ON p.locale = e.locale AND p.external_id = e.product_external_id "
      "WHERE e.position IS NOT NULL AND e.type IN ('impression', 'click') "
      "GROUP BY e.query_id, e.locale, p.product_id, e.position "
      "ORDER BY e.query_id, p.product_id, e.position"));
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    PositionedEngagement engagement;
    engagement.query = s.column_text(0);
    engagement.locale = s.column_text(1);
    engagement.product = ProductId(static_cast<std::uint32_t>(s.column_int(2)));
    engagement.position = static_cast<int>(s.column_int(3));
    engagement.impressions = s.column_int(4);
    engagement.clicks = s.column_int(5);
    AISLE_RETURN_IF_ERROR(visit(std::move(engagement)));
  }
}

Status Store::for_each_event(std::int64_t after_id, const std::function<Status(StoredEvent&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(Statement s, impl_->db_.prepare(
      "SELECT e.event_id, e.ts_ms, e.session, q.text, e.locale, e.product_external_id, p.product_id, e.type, e.position "
      "FROM events e LEFT JOIN queries q ON q.query_id = e.query_id "
      "LEFT JOIN products p ON p.locale = e.locale AND p.external_id = e.product_external_id "
      "WHERE e.event_id > ?1 ORDER BY e.event_id"));
  s.bind(1, after_id);
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) return Status::ok();
    StoredEvent event;
    event.event_id = s.column_int(0);
    event.ts_ms = s.column_int(1);
    event.session = s.column_text(2);
    if (!s.column_is_null(3)) event.query = s.column_text(3);
    event.locale = s.column_text(4);
    event.product_external_id = s.column_text(5);
    if (!s.column_is_null(6)) event.product = ProductId(static_cast<std::uint32_t>(s.column_int(6)));
    const std::string type = s.column_text(7);
    auto parsed = io::parse_event_type(type);
    if (!parsed) return Status::corruption("event " + std::to_string(event.event_id) + ": unknown type " + type);
    event.type = *parsed;
    if (!s.column_is_null(8)) event.position = static_cast<int>(s.column_int(8));
    AISLE_RETURN_IF_ERROR(visit(std::move(event)));
  }
}

}  // namespace aisle::store
