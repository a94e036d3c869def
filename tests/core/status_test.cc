#include "aisle/core/status.h"

#include <gtest/gtest.h>

#include "aisle/core/context.h"
#include "aisle/core/errors.h"
#include "aisle/core/ids.h"
#include "aisle/core/locale.h"

namespace aisle {
namespace {

TEST(WhereTest, PrintsOnlyTheKnownParts) {
  EXPECT_EQ(Where("catalog.jsonl", 17, "price").to_string(), "catalog.jsonl:17:price");
  EXPECT_EQ(Where("catalog.jsonl", 17).to_string(), "catalog.jsonl:17");
  EXPECT_EQ(Where("catalog.jsonl").to_string(), "catalog.jsonl");
  EXPECT_EQ(Where("", 0, "threads").to_string(), "threads");
  EXPECT_TRUE(Where().empty());
}

TEST(StatusTest, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.is_ok());
  EXPECT_EQ(status.to_string(), "OK");
}

TEST(StatusTest, ErrorNamesWhereAndMessage) {
  Status status = Status::bad_input("expected a number, found \"abc\"", {"a.csv", 3, "price"});
  EXPECT_FALSE(status.is_ok());
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_EQ(status.to_string(), "a.csv:3:price: expected a number, found \"abc\"");
  EXPECT_EQ(status.with_context("ingest").to_string(),
            "a.csv:3:price: ingest: expected a number, found \"abc\"");
}

Result<int> parse_positive(int value) {
  if (value <= 0) return Status::bad_input(errors::expected_found("a positive number", std::to_string(value)));
  return value;
}

Result<int> doubled(int value) {
  AISLE_ASSIGN_OR_RETURN(int parsed, parse_positive(value));
  return parsed * 2;
}

Status check_both(int a, int b) {
  AISLE_RETURN_IF_ERROR(parse_positive(a));
  AISLE_RETURN_IF_ERROR(parse_positive(b));
  return Status::ok();
}

TEST(ResultTest, CarriesValueOrStatus) {
  EXPECT_EQ(doubled(21).value(), 42);
  Result<int> bad = doubled(-1);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(), "expected a positive number, found -1");
  EXPECT_TRUE(check_both(1, 2).is_ok());
  EXPECT_EQ(check_both(1, 0).message(), "expected a positive number, found 0");
}

TEST(ResultDeathTest, ValueOfAnErrorAborts) {
  Result<int> bad = doubled(-1);
  EXPECT_DEATH((void)bad.value(), "check failed");
}

TEST(ErrorsTest, QuoteEscapesAndCuts) {
  EXPECT_EQ(errors::quote("abc"), "\"abc\"");
  EXPECT_EQ(errors::quote("a\"b\n\x01"), "\"a\\\"b\\n\\x01\"");
  EXPECT_EQ(errors::quote("\xE9t\xC3\xA9"), "\"\\xE9t\xC3\xA9\"");
  EXPECT_EQ(errors::quote("abcdef", 3), "\"abc...\"");
}

TEST(IdsTest, TypedIdsCompareAndHash) {
  ProductId a(3), b(4);
  EXPECT_LT(a, b);
  EXPECT_TRUE(a.valid());
  EXPECT_FALSE(ProductId().valid());
  EXPECT_EQ(ProductId::invalid(), ProductId());
  EXPECT_EQ(std::hash<ProductId>()(a), std::hash<std::uint32_t>()(3));
  static_assert(!std::is_convertible_v<ProductId, QueryId>);
}

TEST(LocaleTest, ParsesCodesAndDatasetAliases) {
  EXPECT_EQ(Locale::parse("en")->code(), "en");
  EXPECT_EQ(Locale::parse("US")->code(), "en");
  EXPECT_EQ(Locale::parse("jp")->code(), "ja");
  EXPECT_EQ(Locale::parse("es")->code(), "es");
  EXPECT_EQ(Locale::parse("pt-BR")->code(), "pt");
  EXPECT_EQ(Locale::parse("de_DE")->code(), "de");
  Result<Locale> unknown = Locale::parse("xx");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kBadInput);
  EXPECT_NE(unknown.status().message().find("found \"xx\""), std::string::npos);
  EXPECT_FALSE(Locale::parse("").is_ok());
}

TEST(ContextTest, RejectsBadOptions) {
  ContextOptions options;
  options.log_level = "loud";
  Result<Context> context = Context::create(options);
  ASSERT_FALSE(context.is_ok());
  EXPECT_EQ(context.status().where().field, "log-level");
  options.log_level = "info";
  options.num_threads = -1;
  EXPECT_FALSE(Context::create(options).is_ok());
}

TEST(ContextTest, CarriesThreadsSeedAndQuietProgress) {
  ContextOptions options;
  options.num_threads = 3;
  options.seed = 7;
  options.progress = ProgressMode::kNever;
  Result<Context> context = Context::create(options);
  ASSERT_TRUE(context.is_ok());
  EXPECT_EQ(context->num_threads(), 3);
  EXPECT_EQ(context->seed(), 7u);
  auto progress = context->progress("job", 10);
  EXPECT_FALSE(progress->enabled());
  progress->advance(4);
  progress->advance(6);
  EXPECT_EQ(progress->done(), 10u);
  options.num_threads = 0;
  EXPECT_GE(Context::create(options)->num_threads(), 1);
}

}  // namespace
}  // namespace aisle
