#include "aisle/io/utf8.h"

#include <gtest/gtest.h>

namespace aisle::io {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_FALSE(find_invalid_utf8(""));
  EXPECT_FALSE(find_invalid_utf8("plain ascii that is longer than eight bytes"));
  EXPECT_FALSE(find_invalid_utf8("caf\xC3\xA9 \xE3\x83\xA8\xE3\x82\xAC \xF0\x9F\x91\x9F"));
}

TEST(Utf8Test, FindsTheFirstBadByte) {
  auto problem = find_invalid_utf8("abc\xE9 def");
  ASSERT_TRUE(problem);
  EXPECT_EQ(problem->offset, 3u);
  EXPECT_EQ(problem->reason, "byte 0xE9 starts a 3-byte sequence but 0x20 follows");
  EXPECT_EQ(find_invalid_utf8("\x80")->reason, "byte 0x80 cannot start a UTF-8 sequence");
  EXPECT_EQ(find_invalid_utf8("ab\xC3")->reason, "byte 0xC3 starts a 2-byte sequence cut short by the end");
}

TEST(Utf8Test, RefusesOverlongSurrogatesAndOutOfRange) {
  EXPECT_TRUE(find_invalid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_TRUE(find_invalid_utf8("\xE0\x80\xAF"));      // overlong
  EXPECT_TRUE(find_invalid_utf8("\xED\xA0\x80"));      // U+D800 surrogate
  EXPECT_TRUE(find_invalid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(find_invalid_utf8("\xF5\x80\x80\x80"));
}

TEST(Utf8Test, ReplacesEachInvalidRunOnce) {
  std::string out;
  EXPECT_EQ(append_replacing_invalid_utf8("a\xE9" "b\x80\x80" "c\xC3\xA9", &out), 2u);
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xC3\xA9");
}

TEST(Utf8Test, TranscodesLatin1) {
  std::string out;
  append_latin1_as_utf8("caf\xE9 \xFF", &out);
  EXPECT_EQ(out, "caf\xC3\xA9 \xC3\xBF");
  EXPECT_FALSE(find_invalid_utf8(out));
}

TEST(Utf8Test, EnforcePolicy) {
  std::size_t replacements = 0;
  std::string value = "bad \xE9";
  Status error = enforce_utf8(&value, InvalidUtf8::kError, {"f.csv", 2, "title"}, &replacements);
  ASSERT_FALSE(error.is_ok());
  EXPECT_EQ(error.where().to_string(), "f.csv:2:title");
  EXPECT_NE(error.message().find("invalid UTF-8 at byte 5"), std::string::npos);
  EXPECT_TRUE(enforce_utf8(&value, InvalidUtf8::kReplace, {}, &replacements).is_ok());
  EXPECT_EQ(value, "bad \xEF\xBF\xBD");
  EXPECT_EQ(replacements, 1u);
}

TEST(Utf8Test, ParsesOptionNames) {
  EXPECT_EQ(*parse_encoding("latin-1"), Encoding::kLatin1);
  EXPECT_EQ(*parse_encoding("utf-8"), Encoding::kUtf8);
  EXPECT_FALSE(parse_encoding("ebcdic").is_ok());
  EXPECT_EQ(*parse_invalid_utf8("replace"), InvalidUtf8::kReplace);
  EXPECT_FALSE(parse_invalid_utf8("ignore").is_ok());
}

}  // namespace
}  // namespace aisle::io
