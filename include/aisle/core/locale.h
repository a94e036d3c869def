// Locales: the language a product listing or a query is written in.
//
// A Locale is a validated lower-case ISO 639-1 code from the supported set (locale_codes()).
// Region codes used by public datasets are accepted as aliases: ESCI's "us" is English and
// "jp" Japanese; "en_US", "pt-BR" and the like are reduced to their language.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "aisle/core/status.h"

namespace aisle {

class Locale {
 public:
  // Parses a code or alias, case-insensitively. Unknown codes are kBadInput naming the
  // supported set.
  static Result<Locale> parse(std::string_view text);

  const std::string& code() const { return code_; }
  auto operator<=>(const Locale&) const = default;

 private:
  explicit Locale(std::string code) : code_(std::move(code)) {}
  std::string code_;
};

// The supported language codes, in a fixed order.
std::span<const std::string_view> locale_codes();

}  // namespace aisle
