#include "aisle/retrieve/vector_strategy.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace aisle::retrieve
