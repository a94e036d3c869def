#include "aisle/retrieve/vector_strategy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "test_util.h"

namespace aisle::retrieve {
namespace {

TEST(Fusion, ReciprocalRankFusionWithProvenance) {
  RankedList lexical{kFoundLexical, {ProductId(1), ProductId(2), ProductId(3)}, {9.0f, 8.0f, 7.0f}};
  RankedList vector{kFoundVector, {ProductId(3), ProductId(4), ProductId(1)}, {0.9f, 0.8f, 0.7f}};
  std::vector<RankedList> lists = {lexical, vector};
  std::vector<FusedHit> hits = fuse(lists, 10, 60);
  ASSERT_EQ(hits.size(), 4u);
  // 1: 1/61 + 1/63; 3: 1/63 + 1/61 (a tie, broken by product id); 2: 1/62; 4: 1/62.
  EXPECT_EQ(hits[0].product, ProductId(1));
  EXPECT_EQ(hits[1].product, ProductId(3));
  EXPECT_DOUBLE_EQ(hits[0].score, 1.0 / 61 + 1.0 / 63);
  EXPECT_DOUBLE_EQ(hits[0].score, hits[1].score);
  EXPECT_EQ(hits[2].product, ProductId(2));
  EXPECT_EQ(hits[3].product, ProductId(4));
  EXPECT_EQ(hits[0].found_by, kFoundLexical | kFoundVector);
  EXPECT_EQ(hits[2].found_by, static_cast<std::uint32_t>(kFoundLexical));
  EXPECT_EQ(hits[3].found_by, static_cast<std::uint32_t>(kFoundVector));
  EXPECT_EQ(hits[1].ranks[0], 3);
  EXPECT_EQ(hits[1].ranks[2], 1);
  EXPECT_FLOAT_EQ(hits[1].scores[2], 0.9f);
  EXPECT_EQ(strategy_names(hits[0].found_by), "lexical+vector");
  EXPECT_EQ(fuse(lists, 2, 60).size(), 2u);
}

TEST(TrainingSet, MapsLabelsGradesAndEngagementAndHoldsOutTheTestSplit) {
  testing::TempDir dir;
  auto store = store::Store::open(dir.path());
  ASSERT_TRUE(store.is_ok());
  std::vector<io::ProductRecord> products;
  for (int i = 0; i < 4; ++i) {
    io::ProductRecord p;
    p.id = "P" + std::to_string(i);
    p.locale = "en";
    p.title = "product " + std::to_string(i);
    products.push_back(p);
  }
  auto run = (*store)->begin_run("catalog", "catalog", "catalog-jsonl");
  ASSERT_TRUE((*store)->write_products(*run, products, 4).is_ok());
  auto judgment = [](std::string query, std::string product, std::optional<io::EsciLabel> label, double grade,
                     std::string split) {
    io::JudgmentRecord j;
    j.query = std::move(query);
    j.locale = "en";
    j.product_id = std::move(product);
    j.label = label;
    j.grade = grade;
    j.split = std::move(split);
    return j;
  };
  std::vector<io::JudgmentRecord> judgments = {
      judgment("mat", "P0", io::EsciLabel::kExact, 1.0, "train"),
      judgment("mat", "P1", io::EsciLabel::kSubstitute, 0.1, "train"),
      judgment("mat", "P2", io::EsciLabel::kIrrelevant, 0.0, "train"),
      judgment("mat", "P3", io::EsciLabel::kExact, 1.0, "test"),      // held out
      judgment("hose", "P9", io::EsciLabel::kExact, 1.0, "train"),    // not in the catalog
  };
  run = (*store)->begin_run("judgments", "judgments", "esci-examples");
  ASSERT_TRUE((*store)->write_judgments(*run, judgments, 5).is_ok());
  io::EventRecord click;
  click.session = "s";
  click.query = "lamp";
  click.locale = "en";
  click.product_id = "P3";
  click.type = io::EventType::kClick;
  io::EventRecord cart = click;
  cart.type = io::EventType::kAddToCart;
  cart.ts_ms = 5;
  io::EventRecord view = click;
  view.type = io::EventType::kImpression;
  view.product_id = "P2";
  std::vector<io::EventRecord> events = {click, cart, view};
  run = (*store)->begin_run("events", "events", "events-jsonl");
  ASSERT_TRUE((*store)->write_events(*run, events, 3).is_ok());

  TrainingSetReport report;
  auto set = training_set_from_store(**store, &report);
  ASSERT_TRUE(set.is_ok()) << set.status().to_string();
  EXPECT_EQ(report.held_out, 1);
  EXPECT_EQ(report.engagement_pairs, 1);  // the impression alone is no engagement
  EXPECT_EQ(set->products.size(), 4u);
  std::map<std::pair<std::string, std::string>, float> grades;
  for (const auto& pair : set->pairs) {
    grades[{set->queries[pair.query], set->products[pair.product].external_id}] = pair.grade;
  }
  std::map<std::pair<std::string, std::string>, float> expected = {
      {{"mat", "P0"}, 1.0f}, {{"mat", "P1"}, 0.6f}, {{"mat", "P2"}, 0.0f}, {{"lamp", "P3"}, 0.85f}};
  EXPECT_EQ(grades, expected);
}

// The vectors of a process killed before it saved them: found stale by version and embedded
// again from the store on the next open.
TEST(VectorStrategy, CatchesUpWithListingsAddedOrChangedSinceTheVectorsWereSaved) {
  testing::TempDir dir;
  auto store = store::Store::open(dir.path());
  ASSERT_TRUE(store.is_ok());
  auto write = [&](const std::vector<std::pair<std::string, std::string>>& listings) {
    std::vector<io::ProductRecord> products;
    for (const auto& [id, title] : listings) {
      io::ProductRecord p;
      p.id = id;
      p.locale = "en";
      p.title = title;
      products.push_back(p);
    }
    auto run = (*store)->begin_run("catalog", "catalog", "catalog-jsonl");
    ASSERT_TRUE((*store)->write_products(*run, products, static_cast<std::int64_t>(products.size())).is_ok());
  };
  write({{"P0", "desk lamp"}, {"P1", "garden hose"}, {"P2", "yoga mat"}});
  models::EncoderConfig config;
  config.dim = 8;
  config.embedding_dim = 8;
  config.hidden = 16;
  config.features.buckets = 1 << 10;
  auto encoder = models::TextEncoder::create(config, Context::for_tests());
  ASSERT_TRUE(encoder.is_ok());
  std::filesystem::create_directories(dir.path() / "models");
  ASSERT_TRUE((*encoder)->save(encoder_path(dir.path())).is_ok());
  VectorIndexReport report;
  ASSERT_TRUE(build_vector_index(**store, **encoder, Context::for_tests(), dir.path(), &report).is_ok());
  ASSERT_TRUE(std::filesystem::exists(vector_versions_path(dir.path())));

  auto opened = VectorStrategy::open(dir.path(), Context::for_tests());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  auto caught_up = (*opened)->catch_up(**store, Context::for_tests());
  ASSERT_TRUE(caught_up.is_ok());
  EXPECT_EQ(*caught_up, 0u);  // nothing changed

  // A new listing and a changed one, stored but never embedded (the process died).
  write({{"P3", "running shoes"}, {"P1", "garden hose reel"}});
  opened = VectorStrategy::open(dir.path(), Context::for_tests());
  ASSERT_TRUE(opened.is_ok());
  auto p3 = (*store)->find_product("en", "P3");
  ASSERT_TRUE(p3.is_ok() && p3->has_value());
  EXPECT_FALSE((*opened)->index().contains((*p3)->id));
  caught_up = (*opened)->catch_up(**store, Context::for_tests());
  ASSERT_TRUE(caught_up.is_ok());
  EXPECT_EQ(*caught_up, 2u);
  EXPECT_TRUE((*opened)->index().contains((*p3)->id));
  ASSERT_TRUE((*opened)->save(dir.path()).is_ok());
  opened = VectorStrategy::open(dir.path(), Context::for_tests());
  ASSERT_TRUE(opened.is_ok());
  EXPECT_EQ(*(*opened)->catch_up(**store, Context::for_tests()), 0u);

  // A damaged versions file is an error naming it, not a silent re-embedding or a crash.
  {
    std::fstream file(vector_versions_path(dir.path()), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(20);
    file.put('\x7f');
  }
  auto damaged = VectorStrategy::open(dir.path(), Context::for_tests());
  ASSERT_FALSE(damaged.is_ok());
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find("vectors.versions"), std::string::npos);
}

}  // namespace
}  // namespace aisle::retrieve
