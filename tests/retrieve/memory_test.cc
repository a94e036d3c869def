#include "aisle/retrieve/memory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "test_util.h"

namespace aisle::retrieve {
namespace {

constexpr std::int64_t kDay = 86400000;
constexpr std::int64_t kT0 = 1767225600000;  // 2026-01-01

TEST(MemoryIndex, ScoresAreWeightedPositionCorrectedAndDecayed) {
  MemoryConfig config;
  config.half_life_days = 30;
  MemoryIndex index(config);
  index.set_propensities({1.0, 0.5, 0.25});
  const std::string key = "en|red shoe";
  index.add(key, ProductId(1), io::EventType::kClick, 1, kT0);                 // 1 / 1
  index.add(key, ProductId(1), io::EventType::kPurchase, 3, kT0 + 30 * kDay);  // 5 / 0.25
  index.add(key, ProductId(2), io::EventType::kAddToCart, 10, kT0);            // 3 / 0.25 (beyond: the last)
  index.add(key, ProductId(3), io::EventType::kClick, 0, kT0);                 // no position: 1 / 1
  index.add(key, ProductId(4), io::EventType::kImpression, 1, kT0);
  index.add(key, ProductId(4), io::EventType::kImpression, 2, kT0);
  const auto hits = index.lookup(key, 10, kT0 + 30 * kDay);
  ASSERT_EQ(hits.size(), 3u);  // impressions add no score
  EXPECT_EQ(hits[0].product, ProductId(1));
  EXPECT_NEAR(hits[0].score, 1.0 * 0.5 + 20.0, 1e-9);
  EXPECT_EQ(hits[1].product, ProductId(2));
  EXPECT_NEAR(hits[1].score, 12.0 * 0.5, 1e-9);
  EXPECT_NEAR(hits[2].score, 0.5, 1e-9);
  EXPECT_FALSE(hits[0].predicted);
  EXPECT_EQ(index.frequency(key), 1);  // impressions at position 1
  EXPECT_EQ(index.lookup(key, 1, kT0).size(), 1u);
  EXPECT_TRUE(index.lookup("en|blue shoe", 10, kT0).empty());

  // The position-bias clip.
  MemoryIndex clipped(config);
  clipped.set_propensities({1.0, 0.01});
  clipped.add(key, ProductId(1), io::EventType::kClick, 2, kT0);
  EXPECT_NEAR(clipped.lookup(key, 1, kT0)[0].score, 1.0 / config.min_propensity, 1e-9);
}

TEST(MemoryIndex, FarApartEventsKeepTheirExactDecay) {
  MemoryConfig config;
  config.half_life_days = 1;
  MemoryIndex index(config);
  index.add("en|a", ProductId(1), io::EventType::kClick, 0, kT0);
  index.add("en|a", ProductId(2), io::EventType::kClick, 0, kT0 + 700 * kDay);  // forces a rescale
  index.add("en|a", ProductId(1), io::EventType::kClick, 0, kT0 + 700 * kDay);
  const auto hits = index.lookup("en|a", 2, kT0 + 701 * kDay);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].product, ProductId(1));
  EXPECT_NEAR(hits[0].score, 0.5 + std::exp2(-701.0), 1e-12);
  EXPECT_NEAR(hits[1].score, 0.5, 1e-12);
}

TEST(MemoryIndex, PredictedEntriesAnswerUntilTheProductIsEngaged) {
  MemoryIndex index;
  index.add_predicted("en|garden hose", ProductId(7), 0.8);
  index.add_predicted("en|hose", ProductId(7), 0.4);
  auto hits = index.lookup("en|garden hose", 5, kT0);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].predicted);
  EXPECT_DOUBLE_EQ(hits[0].score, 0.5 * 0.8);
  // First engagement (under another query): from now on only real statistics count.
  index.add("en|water hose", ProductId(7), io::EventType::kClick, 1, kT0);
  EXPECT_TRUE(index.lookup("en|garden hose", 5, kT0).empty());
  hits = index.lookup("en|water hose", 5, kT0);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_FALSE(hits[0].predicted);
}

TEST(MemoryIndex, SavesAndLoadsExactlyAndDetectsDamage) {
  testing::TempDir dir;
  MemoryIndex index;
  index.set_propensities({1.0, 0.6});
  index.add("en|lamp", ProductId(3), io::EventType::kPurchase, 2, kT0);
  index.add("en|lamp", ProductId(4), io::EventType::kImpression, 1, kT0);
  index.add_predicted("en|desk lamp", ProductId(9), 0.9);
  index.set_last_event_id(42);
  const auto path = dir.path() / "memory.bin";
  ASSERT_TRUE(index.save(path).is_ok());
  auto loaded = MemoryIndex::load(path);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ((*loaded)->last_event_id(), 42);
  EXPECT_EQ((*loaded)->frequency("en|lamp"), 1);
  EXPECT_EQ((*loaded)->num_entries(), index.num_entries());
  for (const char* key : {"en|lamp", "en|desk lamp"}) {
    const auto a = index.lookup(key, 5, kT0 + kDay), b = (*loaded)->lookup(key, 5, kT0 + kDay);
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].product, b[i].product);
      EXPECT_DOUBLE_EQ(a[i].score, b[i].score);
      EXPECT_EQ(a[i].predicted, b[i].predicted);
    }
  }
  // Same index, same bytes.
  ASSERT_TRUE((*loaded)->save(dir.path() / "again.bin").is_ok());
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  EXPECT_EQ(read(path), read(dir.path() / "again.bin"));
  std::string bytes = read(path);
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(dir.path() / "bad.bin", std::ios::binary) << bytes;
  auto bad = MemoryIndex::load(dir.path() / "bad.bin");
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(MemoryIndex::load(dir.path() / "none.bin").status().code(), StatusCode::kNotFound);
}

TEST(MemoryIndex, CandidateQueriesComeFromTheProductText) {
  auto analyzer = text::Analyzer::create("en");
  ASSERT_TRUE(analyzer.is_ok());
  text::Document d;
  d.locale = "en";
  d.title = "Flexible Garden Hose 50 ft";
  d.brand = "AquaFlow";
  d.category = {"Garden", "Hoses"};
  const auto keys = candidate_queries(**analyzer, d);
  const auto key = [&](std::string_view text) { return memory_key("en", (*analyzer)->terms(text)); };
  EXPECT_EQ(keys, (std::vector<std::string>{key("flexible garden"), key("flexible garden hose"), key("aquaflow hoses"),
                                            key("flexible hoses")}));
}

TEST(MemoryIndex, UpdatesFromTheStoreIncrementallyAsARebuildWould) {
  testing::TempDir dir;
  auto store = store::Store::open(dir.path());
  ASSERT_TRUE(store.is_ok());
  std::vector<io::ProductRecord> products;
  for (int i = 0; i < 3; ++i) {
    io::ProductRecord p;
    p.id = "P" + std::to_string(i);
    p.locale = "en";
    p.title = i == 2 ? "Garden Hose Reel" : "Desk Lamp " + std::to_string(i);
    products.push_back(p);
  }
  auto run = (*store)->begin_run("catalog", "catalog", "catalog-jsonl");
  ASSERT_TRUE((*store)->write_products(*run, products, 3).is_ok());
  auto event = [](std::string query, std::string product, io::EventType type, int position, std::int64_t ts) {
    io::EventRecord e;
    e.session = "s" + std::to_string(ts);
    e.query = std::move(query);
    e.locale = "en";
    e.product_id = std::move(product);
    e.type = type;
    if (position > 0) e.position = position;
    e.ts_ms = ts;
    return e;
  };
  std::vector<io::EventRecord> first = {event("Desk Lamps", "P0", io::EventType::kClick, 2, kT0),
                                        event("desk lamp", "P1", io::EventType::kPurchase, 1, kT0 + 1000),
                                        event("desk lamp", "P9", io::EventType::kClick, 1, kT0 + 2000),  // not in the catalog
                                        event("", "P0", io::EventType::kClick, 1, kT0 + 3000),          // no query
                                        // In year 9999 (a store written before the readers refused such
                                        // times): left out, or it would rescale every other score to 0.
                                        event("desk lamp", "P0", io::EventType::kClick, 1, 253402214400000)};
  run = (*store)->begin_run("events", "events", "events-jsonl");
  ASSERT_TRUE((*store)->write_events(*run, first, 5).is_ok());
  const std::vector<double> propensities = {1.0, 0.5};
  // Predicted entries: every candidate query scores 0.6.
  RelevanceScorer scorer = [](const text::Document&, std::span<const std::string> queries) -> Result<std::vector<double>> {
    return std::vector<double>(queries.size(), 0.6);
  };
  MemoryBuildReport report;
  auto built = update_memory_index(**store, dir.path(), MemoryConfig{}, propensities, &scorer, false, Context::for_tests(), &report);
  ASSERT_TRUE(built.is_ok()) << built.status().to_string();
  EXPECT_TRUE(report.created);
  EXPECT_EQ(report.events_read, 5);
  EXPECT_EQ(report.events_skipped, 3);
  EXPECT_GT(report.predicted, 0);  // P2 has no engagement
  auto analyzer = text::Analyzer::create("en");
  const std::string lamp = memory_key("en", (*analyzer)->terms("desk lamp"));
  auto hits = (*built)->lookup(lamp, 5, kT0 + 1000);
  ASSERT_EQ(hits.size(), 2u);  // "Desk Lamps" and "desk lamp" share the key
  auto p1 = (*store)->find_product("en", "P1");
  ASSERT_TRUE(p1.is_ok() && p1->has_value());
  EXPECT_EQ(hits[0].product, (*p1)->id);  // purchase 5 / 1 beats click 1 / 0.5
  EXPECT_NEAR(hits[0].score, 5.0, 1e-5);
  EXPECT_NEAR(hits[1].score, 2.0, 1e-5);
  const std::string hose = memory_key("en", (*analyzer)->terms("garden hose"));
  hits = (*built)->lookup(hose, 5, kT0);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0].predicted);

  // More events: the update reads only those, and ends where a rebuild ends.
  std::vector<io::EventRecord> second = {event("garden hose", "P2", io::EventType::kClick, 2, kT0 + 5000),
                                         event("desk lamp", "P0", io::EventType::kImpression, 1, kT0 + 6000)};
  run = (*store)->begin_run("events", "events", "events-jsonl");
  ASSERT_TRUE((*store)->write_events(*run, second, 2).is_ok());
  auto updated = update_memory_index(**store, dir.path(), MemoryConfig{}, propensities, &scorer, false, Context::for_tests(), &report);
  ASSERT_TRUE(updated.is_ok());
  EXPECT_FALSE(report.created);
  EXPECT_EQ(report.events_read, 2);
  auto rebuilt = update_memory_index(**store, dir.path(), MemoryConfig{}, propensities, &scorer, true, Context::for_tests(), &report);
  ASSERT_TRUE(rebuilt.is_ok());
  EXPECT_EQ(report.events_read, 7);
  for (const std::string& key : {lamp, hose}) {
    const auto a = (*updated)->lookup(key, 5, kT0 + 9000), b = (*rebuilt)->lookup(key, 5, kT0 + 9000);
    ASSERT_EQ(a.size(), b.size()) << key;
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].product, b[i].product);
      EXPECT_NEAR(a[i].score, b[i].score, 1e-9);
      EXPECT_EQ(a[i].predicted, b[i].predicted);
    }
  }
  hits = (*updated)->lookup(hose, 5, kT0 + 5000);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_FALSE(hits[0].predicted);  // the real click replaced the prediction
  EXPECT_NEAR(hits[0].score, 1.0 / 0.5, 1e-9);
  EXPECT_EQ((*updated)->frequency(lamp), 1);
}

}  // namespace
}  // namespace aisle::retrieve
