// RelationalIndex: the labels of a pair's neighbours, never its own, by exact similarity.
#include "aisle/rank/relational.h"

#include <gtest/gtest.h>

#include <cmath>

namespace aisle::rank {
namespace {

text::Document product(std::uint32_t id, std::string title, std::string description = "") {
  text::Document d;
  d.product = ProductId(id);
  d.external_id = "P" + std::to_string(id);
  d.locale = "en";
  d.title = std::move(title);
  d.description = std::move(description);
  return d;
}

class RelationalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    products_ = {product(0, "red rain jacket"), product(1, "blue rain jacket"), product(2, "phone case"),
                 product(3, "red rain jacket hooded"), product(4, "garden hose")};
    auto index = RelationalIndex::create(products_, 4);
    ASSERT_TRUE(index.is_ok()) << index.status().to_string();
    index_ = std::move(*index);
    // Query "rain jacket": the jackets are class 3 (best), the phone case class 0. Fold 1 holds
    // the blue jacket.
    std::vector<JudgedPair> pairs = {{"en|rain jacket", 0, 3, 3.0, 0}, {"en|rain jacket", 1, 3, 3.0, 1},
                                     {"en|rain jacket", 2, 0, 0.0, 0}, {"en|phone case", 2, 3, 3.0, 0}};
    ASSERT_TRUE(index_->add(pairs).is_ok());
  }
  std::vector<float> features(std::string_view query, std::uint32_t product, int skip_fold) {
    std::vector<float> out;
    index_->features(query, product, skip_fold, &out);
    EXPECT_EQ(out.size(), index_->names().size());
    return out;
  }
  float named(const std::vector<float>& values, const std::string& name) {
    const auto names = index_->names();
    const auto at = std::find(names.begin(), names.end(), name) - names.begin();
    EXPECT_LT(static_cast<std::size_t>(at), names.size()) << name;
    return values[static_cast<std::size_t>(at)];
  }

  std::vector<text::Document> products_;
  std::unique_ptr<RelationalIndex> index_;
};

TEST_F(RelationalTest, SimilarityIsTheCosineOfTfIdfVectors) {
  EXPECT_NEAR(index_->similarity(0, 0), 1.0, 1e-6);
  EXPECT_NEAR(index_->similarity(0, 4), 0.0, 1e-9);  // no shared term
  EXPECT_GT(index_->similarity(0, 3), index_->similarity(0, 1));  // "red" is shared too
  EXPECT_GT(index_->similarity(0, 1), 0.0);
  EXPECT_NEAR(index_->similarity(1, 3), index_->similarity(3, 1), 1e-9);
}

TEST_F(RelationalTest, APairNeverSeesItsOwnLabelNorItsFold) {
  // The red jacket for "rain jacket": its own label is left out; the blue jacket (3) and the
  // phone case (0) remain.
  const std::vector<float> own = features("en|rain jacket", 0, -1);
  EXPECT_EQ(named(own, "rel_query_judged"), static_cast<float>(std::log1p(2.0)));
  EXPECT_FLOAT_EQ(named(own, "rel_query_mean"), 1.5f);
  EXPECT_FLOAT_EQ(named(own, "rel_query_share_3"), 0.5f);
  EXPECT_FLOAT_EQ(named(own, "rel_query_top_value"), 3.0f);  // the blue jacket is the closest
  EXPECT_NEAR(named(own, "rel_query_max_similarity_3"), index_->similarity(0, 1), 1e-6);
  // Leaving fold 1 out drops the blue jacket: only the phone case is left.
  const std::vector<float> out_of_fold = features("en|rain jacket", 0, 1);
  EXPECT_FLOAT_EQ(named(out_of_fold, "rel_query_mean"), 0.0f);
  EXPECT_TRUE(std::isnan(named(out_of_fold, "rel_query_max_similarity_3")));
  // The hooded red jacket, not judged: every judgment of the query counts, the red one most.
  const std::vector<float> unseen = features("en|rain jacket", 3, -1);
  EXPECT_FLOAT_EQ(named(unseen, "rel_query_mean"), 2.0f);
  EXPECT_NEAR(named(unseen, "rel_query_top_similarity"), index_->similarity(3, 0), 1e-6);
  EXPECT_GT(named(unseen, "rel_query_knn"), 2.9f);  // the jackets outweigh the phone case
}

TEST_F(RelationalTest, AProductCarriesItsLabelsForOtherQueriesOnly) {
  const std::vector<float> f = features("en|rain jacket", 2, -1);
  EXPECT_FLOAT_EQ(named(f, "rel_product_judged"), static_cast<float>(std::log1p(1.0)));
  EXPECT_FLOAT_EQ(named(f, "rel_product_mean"), 3.0f);  // "phone case" called it class 3
  const std::vector<float> g = features("en|phone case", 2, -1);
  EXPECT_FLOAT_EQ(named(g, "rel_product_mean"), 0.0f);  // "rain jacket" called it class 0
  // A query never judged has no query evidence.
  const std::vector<float> h = features("en|tent", 4, -1);
  EXPECT_EQ(named(h, "rel_query_judged"), 0.0f);
  EXPECT_TRUE(std::isnan(named(h, "rel_query_mean")));
  EXPECT_TRUE(std::isnan(named(h, "rel_product_mean")));
}

TEST_F(RelationalTest, BadPairsAreRefused) {
  std::vector<JudgedPair> bad = {{"en|x", 9, 0, 0.0, 0}};
  EXPECT_FALSE(index_->add(bad).is_ok());
  bad = {{"en|x", 0, 4, 0.0, 0}};
  EXPECT_FALSE(index_->add(bad).is_ok());
  bad = {{"en|x", 0, 1, std::nan(""), 0}};
  EXPECT_FALSE(index_->add(bad).is_ok());
}

}  // namespace
}  // namespace aisle::rank
