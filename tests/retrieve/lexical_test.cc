#include "aisle/retrieve/lexical.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::retrieve {
namespace {

io::ProductRecord record(std::string id, std::string title, std::string brand, std::string color,
                         std::vector<std::string> category) {
  io::ProductRecord r;
  r.id = std::move(id);
  r.locale = "en";
  r.title = std::move(title);
  r.brand = std::move(brand);
  r.color = std::move(color);
  r.category = std::move(category);
  return r;
}

std::vector<io::ProductRecord> catalog() {
  return {
      record("1", "Nike Pegasus running shoes red", "Nike", "Red", {"Shoes", "Running Shoes"}),
      record("2", "Nike Air running shoes", "Nike", "Black", {"Shoes", "Running Shoes"}),
      record("3", "Adidas Boston running shoes", "Adidas", "Red", {"Shoes", "Running Shoes"}),
      record("4", "Adidas Samba shoes", "Adidas", "White", {"Shoes", "Casual Shoes"}),
      record("5", "Red wine glasses", "Libbey", "Clear", {"Kitchen", "Glassware"}),
      record("6", "Nike running socks", "Nike", "Red", {"Clothing", "Socks"}),
  };
}

class LexicalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::Store::open(dir_.path());
    ASSERT_TRUE(opened.is_ok());
    store_ = std::move(*opened);
    write(catalog());
  }
  void write(const std::vector<io::ProductRecord>& records) {
    auto run = store_->begin_run("test", "catalog", "catalog-jsonl");
    ASSERT_TRUE(run.is_ok());
    ASSERT_TRUE(store_->write_products(*run, records, 1).is_ok());
  }
  IndexUpdateReport update() {
    IndexUpdateReport report;
    Status status = update_index(*store_, Context::for_tests(), dir_.path(), {}, &report);
    EXPECT_TRUE(status.is_ok()) << status.to_string();
    return report;
  }
  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(LexicalTest, UnderstandsBrandColorAndCategory) {
  update();
  auto catalog = open_lexical(dir_.path());
  ASSERT_TRUE(catalog.is_ok()) << catalog.status().to_string();
  auto analysis = catalog->understanding->understand("red nike running shoes", "en");
  ASSERT_TRUE(analysis.is_ok());
  ASSERT_FALSE(analysis->interpretations.empty());
  const Interpretation& best = analysis->interpretations.front();
  std::map<std::string, std::string> slots;
  for (const Slot& slot : best.slots) slots[slot.type] = slot.value;
  EXPECT_EQ(slots["brand"], "Nike");
  EXPECT_EQ(slots["color"], "Red");
  EXPECT_EQ(slots["category"], "Shoes > Running Shoes");
  EXPECT_TRUE(best.remainder.empty());
  double total = 0;
  for (const auto& interpretation : analysis->interpretations) total += interpretation.likelihood;
  EXPECT_NEAR(total, 1.0, 1e-9);
  // "red" is a color less surely than "nike" is a brand: red wine glasses mention it too.
  double red = 0, nike = 0;
  for (const Slot& slot : best.slots) (slot.type == "color" ? red : slot.type == "brand" ? nike : total) = slot.likelihood;
  EXPECT_LT(red, nike);
}

TEST_F(LexicalTest, StructuredSearchFiltersByConfidentSlotsAndKeepsRemainder) {
  update();
  auto catalog = open_lexical(dir_.path());
  ASSERT_TRUE(catalog.is_ok());
  text::SearchOptions options;
  options.k = 2;
  auto result = structured_search(*catalog->index, *catalog->understanding, "nike pegasus", options);
  ASSERT_TRUE(result.is_ok()) << result.status().to_string();
  EXPECT_THAT(result->filter.brands, ::testing::ElementsAre("Nike"));
  EXPECT_THAT(result->remainder, ::testing::ElementsAre("pegasus"));
  ASSERT_FALSE(result->result.hits.empty());
  EXPECT_EQ(result->result.hits[0].external_id, "1");
  // Only one Nike product says "pegasus": the second result comes from the relaxed search.
  EXPECT_TRUE(result->relaxed);
}

TEST_F(LexicalTest, UpdateAppliesAdditionsAndChangesWithoutRebuilding) {
  IndexUpdateReport first = update();
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.added, 6);
  IndexUpdateReport same = update();
  EXPECT_FALSE(same.created);
  EXPECT_EQ(same.unchanged, 6);
  EXPECT_EQ(same.added + same.updated + same.removed, 0);
  std::vector<io::ProductRecord> change = {record("4", "Adidas Gazelle shoes", "Adidas", "Green", {"Shoes", "Casual Shoes"}),
                                           record("7", "Puma trail running shoes", "Puma", "Blue", {"Shoes", "Running Shoes"})};
  write(change);
  IndexUpdateReport next = update();
  EXPECT_EQ(next.added, 1);
  EXPECT_EQ(next.updated, 1);
  EXPECT_EQ(next.unchanged, 5);
  EXPECT_EQ(next.documents, 7);
  auto catalog = open_lexical(dir_.path());
  ASSERT_TRUE(catalog.is_ok());
  auto gazelle = catalog->index->search("gazelle", {});
  ASSERT_TRUE(gazelle.is_ok());
  ASSERT_EQ(gazelle->hits.size(), 1u);
  EXPECT_TRUE(catalog->index->search("samba", {})->hits.empty());
}

TEST_F(LexicalTest, SearchWithoutIndexSaysToRunIndex) {
  auto catalog = open_lexical(dir_.path());
  ASSERT_FALSE(catalog.is_ok());
  EXPECT_EQ(catalog.status().code(), StatusCode::kNotFound);
  EXPECT_NE(catalog.status().to_string().find("aisle index"), std::string::npos);
}

}  // namespace
}  // namespace aisle::retrieve
