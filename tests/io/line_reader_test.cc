#include "aisle/io/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aisle::io {
namespace {

std::vector<std::string> read_all(std::string_view bytes, TextOptions options = {},
                                  std::vector<std::string>* errors = nullptr) {
  LineReader reader(memory_source("mem.txt", bytes), options);
  std::vector<std::string> lines;
  std::string_view line;
  while (true) {
    Result<bool> next = reader.next(&line);
    if (!next.is_ok()) {
      if (errors) errors->push_back(next.status().to_string());
      continue;
    }
    if (!*next) break;
    lines.emplace_back(line);
  }
  return lines;
}

TEST(LineReaderTest, SplitsLinesAndDropsCarriageReturnsAndBom) {
  EXPECT_EQ(read_all("\xEF\xBB\xBF" "a\r\nb\n\nc"), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(read_all("a\n"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(read_all("").empty());
}

TEST(LineReaderTest, CountsLines) {
  LineReader reader(memory_source("mem.txt", "x\ny\n"), {});
  std::string_view line;
  ASSERT_TRUE(*reader.next(&line));
  EXPECT_EQ(reader.line_number(), 1u);
  ASSERT_TRUE(*reader.next(&line));
  EXPECT_EQ(reader.line_number(), 2u);
  EXPECT_FALSE(*reader.next(&line));
  EXPECT_EQ(reader.bytes_read(), 4u);
}

TEST(LineReaderTest, LinesLongerThanTheBufferArriveWhole) {
  std::string long_line(700'000, 'x');
  long_line[350'000] = 'y';
  auto lines = read_all(long_line + "\nshort\n" + long_line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], long_line);
  EXPECT_EQ(lines[1], "short");
  EXPECT_EQ(lines[2], long_line);
}

TEST(LineReaderTest, TooLongLineIsAnErrorAndReadingGoesOn) {
  TextOptions options;
  options.max_line_bytes = 10;
  std::vector<std::string> errors;
  auto lines = read_all("short\n" + std::string(400'000, 'z') + "\nafter\n", options, &errors);
  EXPECT_EQ(lines, (std::vector<std::string>{"short", "after"}));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "mem.txt:2: the line is 400000 bytes, over the limit of 10 bytes (--max-line-bytes raises it)");
}

TEST(LineReaderTest, TranscodesLatin1) {
  TextOptions options;
  options.encoding = Encoding::kLatin1;
  EXPECT_EQ(read_all("caf\xE9\n", options), (std::vector<std::string>{"caf\xC3\xA9"}));
}

TEST(ByteSourceTest, MissingFileIsNotFound) {
  auto source = open_file("/nonexistent/aisle/file.csv");
  ASSERT_FALSE(source.is_ok());
  EXPECT_EQ(source.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(source.status().to_string(), "/nonexistent/aisle/file.csv: no such file");
  auto directory = open_file("/");
  ASSERT_FALSE(directory.is_ok());
  EXPECT_EQ(directory.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace aisle::io
