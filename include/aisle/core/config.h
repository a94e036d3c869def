// The settings file of a data directory: <data_dir>/aisle.toml (TOML, read with toml++).
//
//   default_strategy = "auto"        # a search without "strategy": auto | hybrid | policy |
//                                    # strategy names joined by '+' ("lexical+memory")
//   [fields]                         # BM25F field weights (index time: `aisle index` applies them)
//   title = 3.0
//   brand = 2.0
//   [facets]
//   attributes = ["material", "size"]  # attribute fields counted as facets of a result set
//   [locales.en]
//   currency = "USD"                 # ISO 4217 code: how the page and replies show prices
//   stop_words = ["_default_", "inch"]  # replaces the built-in list; "_default_" keeps it
//                                    # (index time); [] turns stop words off
//   synonyms = [
//     "sneakers, trainers, running shoes",  # equivalent: each finds the others
//     "tee => t shirt, tshirt",             # one-way: "tee" also finds the right side
//   ]
//
// Every key is optional; a missing file means the defaults. load_config() validates the whole
// file and refuses it at the first problem with a kBadInput naming aisle.toml, the line and the
// key ("aisle.toml:7:fields.titel: unknown field; expected one of title, brand, ..."). Unknown
// keys are errors, not ignored: a misspelt setting must not silently do nothing.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/status.h"

namespace aisle {

// A synonym rule: a query containing one of `from` (a phrase: its words in a row) also finds
// every phrase of `to`. An equivalent rule has from == to.
struct SynonymRule {
  std::vector<std::string> from;
  std::vector<std::string> to;
  bool equivalent = false;
  int line = 0;  // in the settings file
};

struct LocaleSettings {
  std::optional<std::string> currency;                 // ISO 4217, upper case
  std::optional<std::vector<std::string>> stop_words;  // nullopt: the built-in list
  std::vector<SynonymRule> synonyms;
};

struct DataConfig {
  std::filesystem::path file;  // the file read; empty when there was none
  std::string default_strategy = "auto";
  // BM25F weights by field name (config_field_names()); fields not named keep the index's
  // defaults.
  std::map<std::string, float> field_weights;
  std::vector<std::string> facet_attributes;  // attribute names, as written
  std::map<std::string, LocaleSettings> locales;  // by locale code

  // The currency of a locale: the file's, else the usual one of the language's main market
  // (en USD, ja JPY, es/de/fr/it/pt/nl EUR, pl PLN, ...; USD for the rest).
  std::string currency(std::string_view locale) const;
  const LocaleSettings* locale(std::string_view code) const;
};

std::filesystem::path config_path(const std::filesystem::path& data_dir);

// The field names [fields] accepts, in the index's field order: title, brand, color,
// category, description, bullets, attributes.
std::span<const std::string_view> config_field_names();

// The marker inside stop_words that stands for the built-in list.
inline constexpr std::string_view kDefaultStopWords = "_default_";

// Reads <data_dir>/aisle.toml (defaults when there is no such file).
Result<DataConfig> load_config(const std::filesystem::path& data_dir);
// Parses settings text; `name` is the file name errors report.
Result<DataConfig> parse_config(std::string_view text, const std::string& name);

}  // namespace aisle
