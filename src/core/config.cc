#include "aisle/core/config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "aisle/core/locale.h"

namespace aisle {

namespace {

constexpr std::array<std::string_view, 7> kFieldNames = {"title",       "brand",   "color",     "category",
                                                         "description", "bullets", "attributes"};
// The retrieval strategies (retrieve::strategy_name) and the pipeline's shorthands.
constexpr std::array<std::string_view, 6> kStrategies = {"lexical", "structured", "vector",
                                                         "memory",  "graph",      "popularity"};
constexpr std::array<std::string_view, 3> kShorthands = {"auto", "hybrid", "policy"};

struct Currency {
  std::string_view locale, code;
};
constexpr std::array<Currency, 16> kCurrencies = {{{"en", "USD"}, {"es", "EUR"}, {"ja", "JPY"}, {"fr", "EUR"},
                                                   {"de", "EUR"}, {"it", "EUR"}, {"pt", "EUR"}, {"nl", "EUR"},
                                                   {"pl", "PLN"}, {"ko", "KRW"}, {"ar", "SAR"}, {"zh", "CNY"},
                                                   {"sv", "SEK"}, {"tr", "TRY"}, {"ru", "RUB"}, {"da", "DKK"}}};

// Words longer than this, or more words than this in a list, are surely not settings.
constexpr std::size_t kMaxText = 200;
constexpr std::size_t kMaxList = 10000;

class Parser {
 public:
  explicit Parser(std::string name) : name_(std::move(name)) {}

  Status error(const toml::source_region& where, const std::string& key, const std::string& message) const {
    return Status::bad_input(message, Where(name_, where.begin.line, key));
  }

  Result<std::string> text(const toml::node& node, const std::string& key) const {
    const auto* value = node.as_string();
    if (value == nullptr) return error(node.source(), key, "expected a string");
    const std::string& out = value->get();
    if (out.size() > kMaxText) return error(node.source(), key, fmt::format("longer than {} bytes", kMaxText));
    return out;
  }

  Result<std::vector<std::string>> text_list(const toml::node& node, const std::string& key) const {
    const auto* array = node.as_array();
    if (array == nullptr) return error(node.source(), key, "expected an array of strings");
    if (array->size() > kMaxList) return error(node.source(), key, fmt::format("more than {} entries", kMaxList));
    std::vector<std::string> out;
    for (const toml::node& element : *array) {
      AISLE_ASSIGN_OR_RETURN(std::string value, text(element, key));
      out.push_back(std::move(value));
    }
    return out;
  }

  Status strategy(const toml::node& node, DataConfig* config) const {
    const std::string key = "default_strategy";
    AISLE_ASSIGN_OR_RETURN(std::string value, text(node, key));
    const std::string expected =
        "expected auto, hybrid, policy, or lexical, structured, vector, memory, graph, popularity joined by +";
    if (std::find(kShorthands.begin(), kShorthands.end(), value) == kShorthands.end()) {
      std::size_t begin = 0;
      while (begin <= value.size()) {
        std::size_t end = value.find('+', begin);
        if (end == std::string::npos) end = value.size();
        const std::string name = value.substr(begin, end - begin);
        if (std::find(kStrategies.begin(), kStrategies.end(), name) == kStrategies.end()) {
          return error(node.source(), key, fmt::format("unknown strategy \"{}\"; {}", name, expected));
        }
        begin = end + 1;
      }
    }
    config->default_strategy = std::move(value);
    return Status::ok();
  }

  Status fields(const toml::node& node, DataConfig* config) const {
    const auto* table = node.as_table();
    if (table == nullptr) return error(node.source(), "fields", "expected a table of field = weight");
    for (const auto& [name, weight] : *table) {
      const std::string key = "fields." + std::string(name.str());
      if (std::find(kFieldNames.begin(), kFieldNames.end(), name.str()) == kFieldNames.end()) {
        return error(name.source(), key,
                     fmt::format("unknown field; expected one of {}", fmt::join(kFieldNames, ", ")));
      }
      std::optional<double> value = weight.value<double>();  // integers too
      if (!value || !std::isfinite(*value) || *value < 0 || *value > 100) {
        return error(weight.source(), key, "expected a number from 0 to 100");
      }
      config->field_weights[std::string(name.str())] = static_cast<float>(*value);
    }
    return Status::ok();
  }

  Status facets(const toml::node& node, DataConfig* config) const {
    const auto* table = node.as_table();
    if (table == nullptr) return error(node.source(), "facets", "expected a table");
    for (const auto& [name, value] : *table) {
      const std::string key = "facets." + std::string(name.str());
      if (name.str() != "attributes") return error(name.source(), key, "unknown key; expected attributes");
      AISLE_ASSIGN_OR_RETURN(config->facet_attributes, text_list(value, key));
      for (const std::string& attribute : config->facet_attributes) {
        if (attribute.empty()) return error(value.source(), key, "an empty attribute name");
        // Facets of the listing's own fields and filters already take these names.
        for (std::string_view taken : {"brand", "color", "category", "locale", "price"}) {
          if (attribute == taken) {
            return error(value.source(), key, fmt::format("\"{}\" is a facet of its own already", attribute));
          }
        }
      }
    }
    return Status::ok();
  }

  // "a, b, c" (equivalent) or "a, b => c, d" (one-way).
  Result<SynonymRule> synonym(const toml::node& node, const std::string& key) const {
    AISLE_ASSIGN_OR_RETURN(std::string rule, text(node, key));
    auto phrases = [](std::string_view part) {
      std::vector<std::string> out;
      std::size_t begin = 0;
      while (begin <= part.size()) {
        std::size_t end = part.find(',', begin);
        if (end == std::string_view::npos) end = part.size();
        std::string_view phrase = part.substr(begin, end - begin);
        while (!phrase.empty() && std::isspace(static_cast<unsigned char>(phrase.front()))) phrase.remove_prefix(1);
        while (!phrase.empty() && std::isspace(static_cast<unsigned char>(phrase.back()))) phrase.remove_suffix(1);
        out.emplace_back(phrase);
        begin = end + 1;
      }
      return out;
    };
    SynonymRule out;
    out.line = static_cast<int>(node.source().begin.line);
    const std::size_t arrow = rule.find("=>");
    if (arrow == std::string::npos) {
      out.equivalent = true;
      out.from = phrases(rule);
      out.to = out.from;
      if (out.from.size() < 2) {
        return error(node.source(), key, fmt::format("\"{}\": an equivalent rule needs two phrases or more, "
                                                     "separated by commas (or \"a => b\" for one-way)", rule));
      }
    } else {
      if (rule.find("=>", arrow + 2) != std::string::npos) {
        return error(node.source(), key, fmt::format("\"{}\": more than one =>", rule));
      }
      out.from = phrases(std::string_view(rule).substr(0, arrow));
      out.to = phrases(std::string_view(rule).substr(arrow + 2));
    }
    for (const auto* side : {&out.from, &out.to}) {
      if (std::any_of(side->begin(), side->end(), [](const std::string& phrase) { return phrase.empty(); })) {
        return error(node.source(), key, fmt::format("\"{}\": an empty phrase", rule));
      }
    }
    return out;
  }

  Status locale(const toml::node& node, const std::string& code_key, const toml::source_region& key_source,
                DataConfig* config) const {
    const std::string prefix = "locales." + code_key;
    auto parsed = Locale::parse(code_key);
    if (!parsed.is_ok() || parsed->code() != code_key) {
      return error(key_source, prefix,
                   fmt::format("unknown locale; expected one of {}", fmt::join(locale_codes(), ", ")));
    }
    const auto* table = node.as_table();
    if (table == nullptr) return error(node.source(), prefix, "expected a table");
    LocaleSettings& settings = config->locales[code_key];
    for (const auto& [name, value] : *table) {
      const std::string key = prefix + "." + std::string(name.str());
      if (name.str() == "currency") {
        AISLE_ASSIGN_OR_RETURN(std::string code, text(value, key));
        if (code.size() != 3 || !std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
          return error(value.source(), key, fmt::format("\"{}\": expected an ISO 4217 code such as USD, EUR, JPY", code));
        }
        settings.currency = std::move(code);
      } else if (name.str() == "stop_words") {
        AISLE_ASSIGN_OR_RETURN(settings.stop_words, text_list(value, key));
        for (const std::string& word : *settings.stop_words) {
          if (word.empty() || word.find_first_of(" \t") != std::string::npos) {
            return error(value.source(), key, fmt::format("\"{}\": a stop word is one word", word));
          }
        }
      } else if (name.str() == "synonyms") {
        const auto* array = value.as_array();
        if (array == nullptr) return error(value.source(), key, "expected an array of rules (\"a, b\" or \"a => b\")");
        if (array->size() > kMaxList) return error(value.source(), key, fmt::format("more than {} rules", kMaxList));
        for (const toml::node& element : *array) {
          AISLE_ASSIGN_OR_RETURN(SynonymRule rule, synonym(element, key));
          settings.synonyms.push_back(std::move(rule));
        }
      } else {
        return error(name.source(), key, "unknown key; expected currency, stop_words or synonyms");
      }
    }
    return Status::ok();
  }

  Result<DataConfig> parse(std::string_view text_in) const {
    DataConfig config;
    toml::table root;
    try {
      root = toml::parse(text_in, name_);
    } catch (const toml::parse_error& failure) {
      return error(failure.source(), "", std::string(failure.description()));
    }
    for (const auto& [name, value] : root) {
      const std::string key(name.str());
      if (key == "default_strategy") {
        AISLE_RETURN_IF_ERROR(strategy(value, &config));
      } else if (key == "fields") {
        AISLE_RETURN_IF_ERROR(fields(value, &config));
      } else if (key == "facets") {
        AISLE_RETURN_IF_ERROR(facets(value, &config));
      } else if (key == "locales") {
        const auto* table = value.as_table();
        if (table == nullptr) return error(value.source(), key, "expected tables [locales.CODE]");
        for (const auto& [code, settings] : *table) {
          AISLE_RETURN_IF_ERROR(locale(settings, std::string(code.str()), code.source(), &config));
        }
      } else {
        return error(name.source(), key, "unknown key; expected default_strategy, fields, facets or locales");
      }
    }
    return config;
  }

 private:
  std::string name_;
};

}  // namespace

std::string DataConfig::currency(std::string_view code) const {
  if (const LocaleSettings* settings = locale(code); settings != nullptr && settings->currency) return *settings->currency;
  for (const Currency& entry : kCurrencies) {
    if (entry.locale == code) return std::string(entry.code);
  }
  return "USD";
}

const LocaleSettings* DataConfig::locale(std::string_view code) const {
  auto found = locales.find(std::string(code));
  return found == locales.end() ? nullptr : &found->second;
}

std::filesystem::path config_path(const std::filesystem::path& data_dir) { return data_dir / "aisle.toml"; }

std::span<const std::string_view> config_field_names() { return kFieldNames; }

Result<DataConfig> parse_config(std::string_view text, const std::string& name) { return Parser(name).parse(text); }

Result<DataConfig> load_config(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = config_path(data_dir);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return DataConfig{};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::io_error("cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > (1u << 24)) return Status::bad_input("larger than 16 MiB", Where(path.string()));
  AISLE_ASSIGN_OR_RETURN(DataConfig config, parse_config(text.str(), path.string()));
  config.file = path;
  return config;
}

}  // namespace aisle
