#include "aisle/io/csv_reader.h"

#include <gtest/gtest.h>

namespace aisle::io {
namespace {

std::unique_ptr<CsvReader> open_csv(std::string_view bytes, CsvOptions options = {}) {
  auto reader = CsvReader::open(memory_source("t.csv", bytes), options);
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  return reader.is_ok() ? std::move(reader).value() : nullptr;
}

TEST(CsvReaderTest, ReadsQuotedFieldsWithNewlinesAndQuotes) {
  auto csv = open_csv("id,text,n\n1,\"a, \"\"quoted\"\"\nsecond line\",3\r\n\n2,plain,4\n");
  ASSERT_TRUE(csv);
  EXPECT_EQ(csv->header(), (std::vector<std::string>{"id", "text", "n"}));
  EXPECT_EQ(csv->column("n"), 2u);
  EXPECT_FALSE(csv->column("missing"));
  CsvRecord record;
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.line, 2u);
  EXPECT_EQ(record.fields, (std::vector<std::string>{"1", "a, \"quoted\"\nsecond line", "3"}));
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.line, 5u);  // the blank line 4 is skipped
  EXPECT_EQ(record.fields, (std::vector<std::string>{"2", "plain", "4"}));
  EXPECT_FALSE(*csv->next(&record));
}

TEST(CsvReaderTest, EmptyFieldsAndTrailingDelimiter) {
  auto csv = open_csv("a,b,c\n,,\n\"\",x,\n");
  CsvRecord record;
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields, (std::vector<std::string>{"", "", ""}));
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields, (std::vector<std::string>{"", "x", ""}));
}

TEST(CsvReaderTest, WrongFieldCountNamesTheLineAndGoesOn) {
  auto csv = open_csv("a,b,c\n1,2\n4,5,6\n");
  CsvRecord record;
  Result<bool> bad = csv->next(&record);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().to_string(), "t.csv:2: expected 3 fields (as in the header), found 2");
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields[2], "6");
}

TEST(CsvReaderTest, UnterminatedQuoteAtTheEnd) {
  auto csv = open_csv("a,b\n1,\"never closed\n2,3\n");
  CsvRecord record;
  Result<bool> bad = csv->next(&record);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().where().to_string(), "t.csv:2:b");
  EXPECT_NE(bad.status().message().find("unterminated quoted field"), std::string::npos);
}

TEST(CsvReaderTest, HugeFieldNamesItsColumn) {
  std::string big(10 << 20, 'x');
  auto csv = open_csv("id,description\n1,\"" + big + "\"\n2,small\n");
  CsvRecord record;
  Result<bool> bad = csv->next(&record);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().to_string(),
            "t.csv:2:description: the field is 10485760 bytes, over the limit of 1048576 bytes "
            "(--max-field-bytes raises it)");
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields[1], "small");
}

TEST(CsvReaderTest, InvalidUtf8NamesTheColumnOrIsReplaced) {
  std::string bytes = "id,title\n1,caf\xE9\n2,ok\n";
  auto csv = open_csv(bytes);
  CsvRecord record;
  Result<bool> bad = csv->next(&record);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().where().to_string(), "t.csv:2:title");

  CsvOptions replace;
  replace.text.invalid_utf8 = InvalidUtf8::kReplace;
  csv = open_csv(bytes, replace);
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields[1], "caf\xEF\xBF\xBD");
  EXPECT_EQ(csv->utf8_replacements(), 1u);

  CsvOptions latin1;
  latin1.text.encoding = Encoding::kLatin1;
  csv = open_csv(bytes, latin1);
  ASSERT_TRUE(*csv->next(&record));
  EXPECT_EQ(record.fields[1], "caf\xC3\xA9");
}

TEST(CsvReaderTest, BadHeaders) {
  auto empty = CsvReader::open(memory_source("e.csv", ""), {});
  ASSERT_FALSE(empty.is_ok());
  EXPECT_EQ(empty.status().to_string(), "e.csv:1: expected a CSV header line, found an empty file");
  auto duplicate = CsvReader::open(memory_source("d.csv", "a,b,a\n"), {});
  ASSERT_FALSE(duplicate.is_ok());
  EXPECT_EQ(duplicate.status().to_string(), "d.csv:1:column 3: duplicate column name \"a\" (also column 1)");
  auto blank = CsvReader::open(memory_source("b.csv", "a,,c\n"), {});
  ASSERT_FALSE(blank.is_ok());
  EXPECT_EQ(blank.status().where().field, "column 2");
}

}  // namespace
}  // namespace aisle::io
