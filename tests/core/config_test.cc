#include "aisle/core/config.h"

#include <fstream>

#include <gtest/gtest.h>

#include "test_util.h"

namespace aisle {
namespace {

constexpr const char* kFull = R"(# a data directory's settings
default_strategy = "lexical+memory"

[fields]
title = 4
description = 0.25

[facets]
attributes = ["material", "Size"]

[locales.en]
currency = "GBP"
stop_words = ["_default_", "inch"]
synonyms = [
  "sneakers, trainers, running shoes",
  "tee => t shirt, tshirt",
]

[locales.ja]
stop_words = []
)";

TEST(ConfigTest, ParsesEverySetting) {
  auto parsed = parse_config(kFull, "aisle.toml");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  const DataConfig& config = *parsed;
  EXPECT_EQ(config.default_strategy, "lexical+memory");
  EXPECT_EQ(config.field_weights.at("title"), 4.0f);
  EXPECT_EQ(config.field_weights.at("description"), 0.25f);
  EXPECT_EQ(config.field_weights.size(), 2u);
  EXPECT_EQ(config.facet_attributes, (std::vector<std::string>{"material", "Size"}));
  const LocaleSettings* en = config.locale("en");
  ASSERT_NE(en, nullptr);
  EXPECT_EQ(config.currency("en"), "GBP");
  EXPECT_EQ(*en->stop_words, (std::vector<std::string>{"_default_", "inch"}));
  ASSERT_EQ(en->synonyms.size(), 2u);
  EXPECT_TRUE(en->synonyms[0].equivalent);
  EXPECT_EQ(en->synonyms[0].from, (std::vector<std::string>{"sneakers", "trainers", "running shoes"}));
  EXPECT_EQ(en->synonyms[0].to, en->synonyms[0].from);
  EXPECT_EQ(en->synonyms[0].line, 15);
  EXPECT_FALSE(en->synonyms[1].equivalent);
  EXPECT_EQ(en->synonyms[1].from, (std::vector<std::string>{"tee"}));
  EXPECT_EQ(en->synonyms[1].to, (std::vector<std::string>{"t shirt", "tshirt"}));
  EXPECT_EQ(en->synonyms[1].line, 16);
  ASSERT_NE(config.locale("ja"), nullptr);
  EXPECT_TRUE(config.locale("ja")->stop_words->empty());
  // Currencies the file does not set: the language's usual one.
  EXPECT_EQ(config.currency("ja"), "JPY");
  EXPECT_EQ(config.currency("es"), "EUR");
  EXPECT_EQ(config.currency("ko"), "KRW");
}

TEST(ConfigTest, EmptyTextAndMissingFileAreTheDefaults) {
  auto parsed = parse_config("", "aisle.toml");
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ(parsed->default_strategy, "auto");
  EXPECT_TRUE(parsed->field_weights.empty());
  EXPECT_EQ(parsed->currency("en"), "USD");
  testing::TempDir dir;
  auto loaded = load_config(dir.path());
  ASSERT_TRUE(loaded.is_ok());
  EXPECT_TRUE(loaded->file.empty());
  std::ofstream(config_path(dir.path())) << "[fields]\nbrand = 5\n";
  loaded = load_config(dir.path());
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
  EXPECT_EQ(loaded->file, config_path(dir.path()));
  EXPECT_EQ(loaded->field_weights.at("brand"), 5.0f);
}

// Each bad file is refused with the file, the line and the key of its first problem.
TEST(ConfigTest, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* text;
    const char* expected;  // the start of Status::to_string() after "bad input: "
  };
  const Case cases[] = {
      {"colour = 1\n", "aisle.toml:1:colour: unknown key; expected default_strategy, fields, facets or locales"},
      {"\n[fields]\ntitel = 2\n", "aisle.toml:3:fields.titel: unknown field; expected one of title, brand, color"},
      {"[fields]\ntitle = \"heavy\"\n", "aisle.toml:2:fields.title: expected a number from 0 to 100"},
      {"[fields]\ntitle = -1\n", "aisle.toml:2:fields.title: expected a number from 0 to 100"},
      {"[fields]\ntitle = inf\n", "aisle.toml:2:fields.title: expected a number from 0 to 100"},
      {"default_strategy = \"lexcial\"\n", "aisle.toml:1:default_strategy: unknown strategy \"lexcial\""},
      {"default_strategy = \"lexical+\"\n", "aisle.toml:1:default_strategy: unknown strategy \"\""},
      {"default_strategy = 3\n", "aisle.toml:1:default_strategy: expected a string"},
      {"[locales.xx]\ncurrency = \"USD\"\n", "aisle.toml:1:locales.xx: unknown locale"},
      {"[locales.en]\ncurrency = \"dollars\"\n", "aisle.toml:2:locales.en.currency: \"dollars\": expected an ISO 4217 code"},
      {"[locales.en]\nsynonyms = [\n  \"a, b\",\n  \"sneakers\",\n]\n",
       "aisle.toml:4:locales.en.synonyms: \"sneakers\": an equivalent rule needs two phrases or more"},
      {"[locales.en]\nsynonyms = [\"a, , b\"]\n", "aisle.toml:2:locales.en.synonyms: \"a, , b\": an empty phrase"},
      {"[locales.en]\nsynonyms = [\"a => b => c\"]\n", "aisle.toml:2:locales.en.synonyms: \"a => b => c\": more than one =>"},
      {"[locales.en]\nsynonyms = [\"a =>\"]\n", "aisle.toml:2:locales.en.synonyms: \"a =>\": an empty phrase"},
      {"[locales.en]\nstop_words = [\"two words\"]\n", "aisle.toml:2:locales.en.stop_words: \"two words\": a stop word is one word"},
      {"[locales.en]\nspelling = true\n", "aisle.toml:2:locales.en.spelling: unknown key; expected currency"},
      {"[facets]\nattributes = [\"brand\"]\n", "aisle.toml:2:facets.attributes: \"brand\" is a facet of its own already"},
      {"[facets]\nattributes = \"size\"\n", "aisle.toml:2:facets.attributes: expected an array of strings"},
      // TOML syntax errors: the parser's line.
      {"[fields\ntitle = 2\n", "aisle.toml:1:"},
      {"title = 2\ntitle = 3\n", "aisle.toml:2:"},
      {"a = \"\xff\"\n", "aisle.toml:1:"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_config(c.text, "aisle.toml");
    ASSERT_FALSE(parsed.is_ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), StatusCode::kBadInput) << c.text;
    const std::string message = parsed.status().to_string();
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.text << "\n-> " << message;
  }
}

}  // namespace
}  // namespace aisle
