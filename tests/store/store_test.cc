#include "aisle/store/store.h"

#include <sqlite3.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::store {
namespace {

using aisle::testing::TempDir;

io::ProductRecord product(std::string id, std::string locale, std::string title) {
  io::ProductRecord record;
  record.id = std::move(id);
  record.locale = std::move(locale);
  record.title = std::move(title);
  record.where = Where("test.jsonl", 1);
  return record;
}

void exec_sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(handle);
  sqlite3_close(handle);
}

TEST(StoreTest, UpsertsKeepIdsAndReplaceFields) {
  TempDir dir;
  auto store = std::move(Store::open(dir.path())).value();
  auto run = store->begin_run("test.jsonl", "catalog", "catalog-jsonl");
  ASSERT_TRUE(run.is_ok());
  io::ProductRecord shoe = product("P1", "en", "Red Shoe");
  shoe.bullets = {"light", "fast"};
  shoe.category = {"Shoes", "Running"};
  shoe.attributes = {{"size", "9"}};
  shoe.price = 10.5;
  shoe.group = "G1";
  std::vector<io::ProductRecord> batch = {shoe, product("P1", "es", "Zapato rojo")};
  ASSERT_TRUE(store->write_products(*run, batch, 2).is_ok());

  auto found = store->find_product("en", "P1");
  ASSERT_TRUE(found.is_ok() && found->has_value());
  ProductId first_id = (*found)->id;
  EXPECT_EQ((*found)->record.bullets, shoe.bullets);
  EXPECT_EQ((*found)->record.category, shoe.category);
  EXPECT_EQ((*found)->record.attributes, shoe.attributes);
  EXPECT_EQ((*found)->record.price, 10.5);
  EXPECT_FALSE((*found)->record.popularity);

  batch[0].title = "Red Running Shoe";
  ASSERT_TRUE(store->write_products(*run, batch, 4).is_ok());
  found = store->find_product("en", "P1");
  EXPECT_EQ((*found)->id, first_id);
  EXPECT_EQ((*found)->record.title, "Red Running Shoe");
  EXPECT_FALSE(store->find_product("fr", "P1")->has_value());

  auto stats = store->stats();
  ASSERT_TRUE(stats.is_ok());
  EXPECT_EQ(stats->products, 2);
  EXPECT_EQ(stats->cross_listed_groups, 0);  // P1/es has no group
  EXPECT_EQ(stats->recent_runs.at(0).rows_committed, 4);
  EXPECT_EQ(stats->recent_runs.at(0).last_line, 4);
  EXPECT_EQ(stats->recent_runs.at(0).state, "running");
  ASSERT_TRUE(store->finish_run(*run, true, "4 rows").is_ok());
  EXPECT_EQ(store->stats()->recent_runs.at(0).state, "done");
}

TEST(StoreTest, JudgmentsAndEventsUpsertByNaturalKey) {
  TempDir dir;
  auto store = std::move(Store::open(dir.path())).value();
  std::int64_t run = *store->begin_run("j", "judgments", "judgments-jsonl");
  io::JudgmentRecord judgment;
  judgment.query = "shoes";
  judgment.locale = "en";
  judgment.product_id = "P9";
  judgment.label = io::EsciLabel::kSubstitute;
  judgment.grade = 0.1;
  std::vector<io::JudgmentRecord> judgments = {judgment, judgment};
  ASSERT_TRUE(store->write_judgments(run, judgments, 2).is_ok());
  io::EventRecord event;
  event.ts_ms = 1000;
  event.session = "s";
  event.query = "shoes";
  event.locale = "en";
  event.product_id = "P9";
  event.type = io::EventType::kClick;
  std::vector<io::EventRecord> events = {event, event};
  events[1].type = io::EventType::kPurchase;
  ASSERT_TRUE(store->write_events(run, events, 2).is_ok());
  ASSERT_TRUE(store->write_events(run, events, 2).is_ok());
  auto stats = store->stats();
  EXPECT_EQ(stats->judgments, 1);
  EXPECT_EQ(stats->judgments_without_product, 1);
  EXPECT_EQ(stats->judgments_per_label.at("S"), 1);
  EXPECT_EQ(stats->queries, 1);
  EXPECT_EQ(stats->events, 2);
  EXPECT_EQ(stats->events_per_type.at("click"), 1);
  EXPECT_EQ(stats->events_per_type.at("purchase"), 1);
}

TEST(StoreTest, ReadsProductsByIdAndInIdOrder) {
  TempDir dir;
  auto store = std::move(Store::open(dir.path())).value();
  std::int64_t run = *store->begin_run("t", "catalog", "catalog-jsonl");
  std::vector<io::ProductRecord> batch = {product("1", "en", "red running shoes"),
                                          product("2", "en", "blue socks"),
                                          product("3", "es", "zapatillas rojas")};
  batch[0].brand = "Nimbus";
  batch[0].category = {"Shoes", "Running"};
  ASSERT_TRUE(store->write_products(run, batch, 3).is_ok());
  std::vector<std::string> seen;
  Status status = store->for_each_product([&](Product&& p) {
    seen.push_back(p.record.locale + "/" + p.record.id);
    return Status::ok();
  });
  ASSERT_TRUE(status.is_ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"en/1", "en/2", "es/3"}));
  auto first = store->find_product("en", "1");
  ASSERT_TRUE(first.is_ok() && first->has_value());
  auto by_id = store->get_product((*first)->id);
  ASSERT_TRUE(by_id.is_ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->record.brand, "Nimbus");
  EXPECT_EQ((*by_id)->record.category, (std::vector<std::string>{"Shoes", "Running"}));
  EXPECT_FALSE(store->get_product(ProductId(999))->has_value());
  // Repeated lookups on the kept statements, inside and outside one read snapshot.
  {
    auto snapshot = store->read_scope();
    ASSERT_TRUE(snapshot.is_ok());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ((*store->find_product("es", "3"))->record.title, "zapatillas rojas");
      EXPECT_FALSE(store->find_product("en", "3")->has_value());
      EXPECT_EQ((*store->get_product((*first)->id))->record.id, "1");
    }
  }
  batch[1].popularity = 7.5;
  ASSERT_TRUE(store->write_products(run, batch, 3).is_ok());  // visible: the snapshot ended
  std::vector<std::string> popularity;
  ASSERT_TRUE(store->for_each_popularity([&](ProductId id, const std::string& locale, std::optional<double> value) {
    popularity.push_back(std::to_string(id.value()) + locale + (value ? std::to_string(*value) : "-"));
    return Status::ok();
  }).is_ok());
  const std::string first_id = std::to_string((*first)->id.value());
  EXPECT_EQ(popularity.size(), 3u);
  EXPECT_EQ(popularity[0], first_id + "en-");
  EXPECT_NE(popularity[1].find("en7.5"), std::string::npos);
  // A visitor's error stops the walk and is returned.
  int calls = 0;
  Status stop = store->for_each_product([&](Product&&) {
    ++calls;
    return Status::bad_input("stop");
  });
  EXPECT_EQ(stop.code(), StatusCode::kBadInput);
  EXPECT_EQ(calls, 1);
}

TEST(StoreTest, RefusesForeignOrNewerFiles) {
  TempDir dir;
  exec_sql(dir / "aisle.db", "CREATE TABLE other(x)");
  auto foreign = Store::open(dir.path());
  ASSERT_FALSE(foreign.is_ok());
  EXPECT_EQ(foreign.status().code(), StatusCode::kCorruption);

  TempDir newer;
  ASSERT_TRUE(Store::open(newer.path()).is_ok());
  exec_sql(newer / "aisle.db", "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto future = Store::open(newer.path());
  ASSERT_FALSE(future.is_ok());
  EXPECT_EQ(future.status().message(), "expected store schema version 1, found 99");

  TempDir empty;
  StoreOptions read_only;
  read_only.read_only = true;
  EXPECT_EQ(Store::open(empty.path(), read_only).status().code(), StatusCode::kNotFound);

  TempDir garbage;
  garbage.write("aisle.db", std::string(8192, 'g'));
  auto not_db = Store::open(garbage.path());
  ASSERT_FALSE(not_db.is_ok());
  EXPECT_EQ(not_db.status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace aisle::store
