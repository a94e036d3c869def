#include "aisle/store/ingest.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle::store {
namespace {

using aisle::testing::TempDir;
using aisle::testing::test_data;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(Store::open(dir_ / "data")).value(); }

  Status ingest(const std::filesystem::path& file, io::RecordKind kind, IngestOptions options = {}) {
    options.kind = kind;
    return ingest_file(*store_, context_, file, options, &report_);
  }
  StoreStats stats() { return std::move(store_->stats()).value(); }

  TempDir dir_;
  Context context_ = Context::for_tests();
  std::unique_ptr<Store> store_;
  IngestReport report_;
};

TEST_F(IngestTest, IngestsEveryKindAndIsIdempotent) {
  ASSERT_TRUE(ingest(test_data("catalog_small.jsonl"), io::RecordKind::kProducts).is_ok());
  EXPECT_EQ(report_.format, io::Format::kCatalogJsonl);
  ASSERT_TRUE(ingest(test_data("esci_products_small.csv"), io::RecordKind::kProducts).is_ok());
  ASSERT_TRUE(ingest(test_data("homedepot_small.csv"), io::RecordKind::kJudgments).is_ok());
  EXPECT_EQ(report_.format, io::Format::kHomeDepot);
  ASSERT_TRUE(ingest(test_data("crowdflower_small.csv"), io::RecordKind::kJudgments).is_ok());
  EXPECT_EQ(report_.duplicate_judgments, 1);
  ASSERT_TRUE(ingest(test_data("judgments_small.jsonl"), io::RecordKind::kJudgments).is_ok());
  ASSERT_TRUE(ingest(test_data("events_small.jsonl"), io::RecordKind::kEvents).is_ok());
  StoreStats first = stats();
  // catalog 3 + ESCI 3 + Home Depot 3 distinct + CrowdFlower 2 distinct products
  EXPECT_EQ(first.products, 11);
  EXPECT_EQ(first.cross_listed_groups, 1);
  EXPECT_EQ(first.products_per_locale.at("ja"), 1);
  EXPECT_EQ(first.judgments, 4 + 2 + 2);
  EXPECT_EQ(first.judgments_per_label.at("E"), 1);
  EXPECT_EQ(first.judgments_without_product, 0);  // every judged product was ingested
  EXPECT_EQ(first.events, 3);

  for (const char* file : {"catalog_small.jsonl", "esci_products_small.csv"}) {
    ASSERT_TRUE(ingest(test_data(file), io::RecordKind::kProducts).is_ok());
  }
  ASSERT_TRUE(ingest(test_data("homedepot_small.csv"), io::RecordKind::kJudgments).is_ok());
  ASSERT_TRUE(ingest(test_data("events_small.jsonl"), io::RecordKind::kEvents).is_ok());
  StoreStats second = stats();
  EXPECT_EQ(second.products, first.products);
  EXPECT_EQ(second.judgments, first.judgments);
  EXPECT_EQ(second.events, first.events);
  EXPECT_EQ(second.queries, first.queries);
}

TEST_F(IngestTest, BadRowStopsAfterCommittingWhatCameBeforeAndKeepsTheStore) {
  ASSERT_TRUE(ingest(test_data("catalog_small.jsonl"), io::RecordKind::kProducts).is_ok());
  auto file = dir_.write("bad.jsonl",
                         "{\"id\": \"A\", \"title\": \"a\"}\n"
                         "{\"id\": \"B\", \"title\": \"b\"}\n"
                         "{\"id\": \"C\", \"title\": \"c\", \"price\": \"free\"}\n"
                         "{\"id\": \"D\", \"title\": \"d\"}\n");
  IngestOptions options;
  options.batch_size = 1;
  Status status = ingest(file, io::RecordKind::kProducts, options);
  ASSERT_FALSE(status.is_ok());
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_EQ(status.where().to_string(), file.string() + ":3:price");
  EXPECT_EQ(report_.rows_written, 2);
  StoreStats after = stats();
  EXPECT_EQ(after.products, 3 + 2);
  EXPECT_EQ(after.recent_runs.at(0).state, "failed");
  EXPECT_EQ(after.recent_runs.at(0).last_line, 2);
  EXPECT_TRUE(store_->find_product("en", "P1")->has_value());
  EXPECT_FALSE(store_->find_product("en", "D")->has_value());
}

TEST_F(IngestTest, MaxErrorsSkipsAndReportsBadRows) {
  auto file = dir_.write("bad.csv",
                         "id,product_uid,product_title,search_term,relevance\n"
                         "1,100,Hammer,hammer,3\n"
                         "2,101,Saw\n"
                         "3,102,Drill,drill,high\n"
                         "4,103,Level,level,2\n");
  IngestOptions options;
  options.max_errors = 2;
  ASSERT_TRUE(ingest(file, io::RecordKind::kJudgments, options).is_ok());
  EXPECT_EQ(report_.rows_written, 2);
  EXPECT_EQ(report_.bad_rows, 2);
  EXPECT_EQ(report_.skipped_rows, 2);
  ASSERT_EQ(report_.errors.size(), 2u);
  EXPECT_EQ(report_.errors[0].to_string(), file.string() + ":3: expected 5 fields (as in the header), found 3");
  EXPECT_EQ(report_.errors[1].to_string(), file.string() + ":4:relevance: expected a finite number, found \"high\"");
  options.max_errors = 1;
  EXPECT_FALSE(ingest(file, io::RecordKind::kJudgments, options).is_ok());
}

TEST_F(IngestTest, DuplicateCatalogIdsAreBadInput) {
  auto file = dir_.write("dup.jsonl",
                         "{\"id\": \"A\", \"title\": \"a\"}\n{\"id\": \"A\", \"locale\": \"es\", \"title\": \"a\"}\n"
                         "{\"id\": \"A\", \"title\": \"again\"}\n");
  Status status = ingest(file, io::RecordKind::kProducts);
  ASSERT_FALSE(status.is_ok());
  EXPECT_EQ(status.to_string(), file.string() + ":3:id: duplicate product id \"A\" in locale en: first listed at line 1");
  EXPECT_EQ(stats().products, 2);
}

TEST_F(IngestTest, FileLevelErrorsKeepTheStore) {
  ASSERT_TRUE(ingest(test_data("catalog_small.jsonl"), io::RecordKind::kProducts).is_ok());
  auto empty = dir_.write("empty.jsonl", "");
  EXPECT_EQ(ingest(empty, io::RecordKind::kProducts).to_string(),
            empty.string() + ": expected at least one record, found an empty file");
  auto empty_csv = dir_.write("empty.csv", "");
  EXPECT_EQ(ingest(empty_csv, io::RecordKind::kJudgments).code(), StatusCode::kBadInput);
  EXPECT_EQ(ingest(dir_ / "missing.jsonl", io::RecordKind::kProducts).code(), StatusCode::kNotFound);
  auto locale = dir_.write("locale.jsonl", "{\"id\": \"A\", \"title\": \"a\", \"locale\": \"klingon\"}\n");
  EXPECT_EQ(ingest(locale, io::RecordKind::kProducts).where().to_string(), locale.string() + ":1:locale");
  IngestOptions wrong_kind;
  wrong_kind.reader.format = io::Format::kHomeDepot;
  EXPECT_EQ(ingest(test_data("homedepot_small.csv"), io::RecordKind::kProducts, wrong_kind).code(),
            StatusCode::kBadInput);
  auto truncated = dir_.write("truncated.csv", "id,product_uid,product_title,search_term,relevance\n1,100,\"Ham");
  EXPECT_EQ(ingest(truncated, io::RecordKind::kJudgments).where().to_string(), truncated.string() + ":2:product_title");
  auto huge = dir_.write("huge.jsonl", "{\"id\": \"Z\", \"title\": \"" + std::string(10 << 20, 'x') + "\"}\n");
  EXPECT_EQ(ingest(huge, io::RecordKind::kProducts).where().to_string(), huge.string() + ":1:title");
  StoreStats after = stats();
  EXPECT_EQ(after.products, 3);
  EXPECT_EQ(after.judgments, 0);
  EXPECT_TRUE(store_->find_product("es", "P1")->has_value());
}

TEST_F(IngestTest, ReportsEachCommittedBatch) {
  std::vector<BatchCommitted> batches;
  IngestOptions options;
  options.batch_size = 2;
  options.on_commit = [&](const BatchCommitted& batch) { batches.push_back(batch); };
  ASSERT_TRUE(ingest(test_data("homedepot_small.csv"), io::RecordKind::kJudgments, options).is_ok());
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].rows_committed, 2);
  EXPECT_EQ(batches[0].last_line, 3);
  EXPECT_EQ(batches[1].rows_committed, 4);
  EXPECT_EQ(batches[1].last_line, 5);
}

TEST_F(IngestTest, Latin1AndReplacementPolicies) {
  auto file = dir_.write("latin1.jsonl", "{\"id\": \"A\", \"title\": \"caf\xE9\"}\n");
  EXPECT_EQ(ingest(file, io::RecordKind::kProducts).where().to_string(), file.string() + ":1:title");
  IngestOptions latin1;
  latin1.reader.text.encoding = io::Encoding::kLatin1;
  ASSERT_TRUE(ingest(file, io::RecordKind::kProducts, latin1).is_ok());
  EXPECT_EQ((*store_->find_product("en", "A"))->record.title, "caf\xC3\xA9");
  IngestOptions replace;
  replace.reader.text.invalid_utf8 = io::InvalidUtf8::kReplace;
  ASSERT_TRUE(ingest(file, io::RecordKind::kProducts, replace).is_ok());
  EXPECT_EQ(report_.utf8_replacements, 1u);
  EXPECT_EQ((*store_->find_product("en", "A"))->record.title, "caf\xEF\xBF\xBD");
}

}  // namespace
}  // namespace aisle::store
