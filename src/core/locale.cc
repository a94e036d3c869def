#include "aisle/core/locale.h"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "aisle/core/errors.h"

namespace aisle {

namespace {
// Languages with analyzers planned (Snowball stemmers, MeCab for ja) and those of the
// multilingual evaluation sets.
constexpr std::array<std::string_view, 16> kCodes = {"en", "es", "ja", "fr", "de", "it",
                                                     "pt", "nl", "pl", "ko", "ar", "zh",
                                                     "sv", "tr", "ru", "da"};

struct Alias {
  std::string_view alias;
  std::string_view code;
};
// Region codes used as locales by public datasets (ESCI: us, es, jp).
constexpr std::array<Alias, 4> kAliases = {{{"us", "en"}, {"uk", "en"}, {"jp", "ja"},
                                            {"br", "pt"}}};
}  // namespace

std::span<const std::string_view> locale_codes() { return kCodes; }

Result<Locale> Locale::parse(std::string_view text) {
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // "en_US", "pt-BR": keep the language part.
  if (auto cut = lower.find_first_of("-_"); cut != std::string::npos) lower.resize(cut);
  for (const Alias& alias : kAliases) {
    if (lower == alias.alias) return Locale(std::string(alias.code));
  }
  if (std::find(kCodes.begin(), kCodes.end(), lower) != kCodes.end()) return Locale(lower);
  return Status::bad_input(errors::expected_found(
      fmt::format("a locale, one of {} (or us, uk, jp, br)", fmt::join(kCodes, ", ")),
      errors::quote(text)));
}

}  // namespace aisle
