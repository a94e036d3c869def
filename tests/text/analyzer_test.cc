#include "aisle/text/analyzer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace aisle::text {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsSupersetOf;
using ::testing::Not;

std::vector<std::string> terms(std::string_view locale, std::string_view text) {
  auto analyzer = Analyzer::create(locale);
  EXPECT_TRUE(analyzer.is_ok()) << analyzer.status().to_string();
  return (*analyzer)->terms(text);
}

TEST(AnalyzerTest, EnglishStemsDropsStopWordsAndFoldsCase) {
  EXPECT_THAT(terms("en", "The Running Shoes for Women"), ElementsAre("run", "shoe", "women"));
}

TEST(AnalyzerTest, NfkcFoldsFullWidthAndLigatures) {
  EXPECT_THAT(terms("en", "ＮＩＫＥ ﬁlter"), ElementsAre("nike", "filter"));
}

TEST(AnalyzerTest, FractionWithUnitGivesMeasureToken) {
  EXPECT_THAT(terms("en", "3/4 in. x 3 in. MDF"), ElementsAre("3/4", "3/4in", "x", "3", "3in", "mdf"));
  EXPECT_THAT(terms("en", "3/4in"), Contains("3/4in"));
  EXPECT_THAT(terms("en", "3/4-in"), Contains("3/4in"));
  EXPECT_THAT(terms("en", "1-1/2 in pipe"), IsSupersetOf({"1-1/2", "1-1/2in", "pipe"}));
}

TEST(AnalyzerTest, HyphenatedGaugeAndJoinedUnits) {
  EXPECT_THAT(terms("en", "12-gauge wire"), ElementsAre("12gauge", "12", "gauge", "wire"));
  EXPECT_THAT(terms("en", "12 gauge wire"), IsSupersetOf({"12gauge", "12", "wire"}));
  EXPECT_THAT(terms("en", "1tb SSD"), ElementsAre("1tb", "1", "tb", "ssd"));
  EXPECT_THAT(terms("en", "2 Gallons"), ElementsAre("2", "2gal", "gallon"));
  EXPECT_THAT(terms("en", "24\" monitor"), IsSupersetOf({"24", "24in", "monitor"}));
}

TEST(AnalyzerTest, ModelNumbersKeptWholeAndSplit) {
  EXPECT_THAT(terms("en", "#SC-141"), ElementsAre("sc141", "sc", "141"));
  EXPECT_THAT(terms("en", "RTX3080"), ElementsAre("rtx3080", "rtx", "3080"));
  // Letter-only compounds too, so "t-shirt" finds "tshirt".
  EXPECT_THAT(terms("en", "t-shirt"), ElementsAre("tshirt", "t", "shirt"));
}

TEST(AnalyzerTest, SpanishStemsAndFoldsAccents) {
  EXPECT_THAT(terms("es", "Zapatillas de correr para niños"), ElementsAre("zapatill", "corr", "nin"));
  EXPECT_EQ(terms("es", "canción"), terms("es", "cancion"));
}

TEST(AnalyzerTest, FrenchGermanItalianPortuguese) {
  EXPECT_THAT(terms("fr", "Chaussures de course pour hommes"), ElementsAre("chaussur", "cours", "homm"));
  EXPECT_THAT(terms("de", "Laufschuhe für Männer"), ElementsAre("laufschuh", "mann"));
  EXPECT_EQ(terms("de", "Größe"), terms("de", "GROSSE"));
  EXPECT_THAT(terms("it", "Scarpe da corsa per uomo"), ElementsAre("scarp", "cors", "uom"));
  EXPECT_THAT(terms("pt", "Sapatos de corrida para homens"), ElementsAre("sapat", "corr", "homens"));
}

TEST(AnalyzerTest, JapaneseUsesMecabAndDropsParticles) {
  std::vector<std::string> result = terms("ja", "赤いランニングシューズの靴");
  EXPECT_THAT(result, IsSupersetOf({"赤い", "ランニング", "シューズ", "靴"}));
  EXPECT_THAT(result, Not(Contains("の")));
  // Half-width katakana fold to full width, so both spellings match.
  EXPECT_EQ(terms("ja", "ｼｭｰｽﾞ"), terms("ja", "シューズ"));
  // Dakuten are not accents: ブ and フ stay distinct.
  EXPECT_NE(terms("ja", "ブーツ"), terms("ja", "フーツ"));
}

TEST(AnalyzerTest, ChineseIsSegmentedByIcuDictionary) {
  std::vector<std::string> result = terms("zh", "红色跑鞋");
  EXPECT_GE(result.size(), 2u);
}

TEST(AnalyzerTest, EmptyAndPunctuationOnlyGiveNothing) {
  EXPECT_TRUE(terms("en", "").empty());
  EXPECT_TRUE(terms("en", " -- !! ").empty());
  EXPECT_TRUE(terms("ja", "").empty());
}

TEST(AnalyzerTest, OptionsSwitchStagesOff) {
  AnalyzerOptions options;
  options.stem = false;
  options.stop_words = false;
  auto analyzer = Analyzer::create("en", options);
  ASSERT_TRUE(analyzer.is_ok());
  EXPECT_THAT((*analyzer)->terms("the running shoes"), ElementsAre("the", "running", "shoes"));
}

TEST(AnalyzerTest, UnknownLocaleIsBadInput) {
  auto analyzer = Analyzer::create("xx");
  ASSERT_FALSE(analyzer.is_ok());
  EXPECT_EQ(analyzer.status().code(), StatusCode::kBadInput);
}

TEST(AnalyzerTest, NormalizeForDictionaryKeys) {
  auto analyzer = Analyzer::create("en");
  ASSERT_TRUE(analyzer.is_ok());
  EXPECT_EQ((*analyzer)->normalize("  Crème   BRÛLÉE "), "creme brulee");
}

}  // namespace
}  // namespace aisle::text
