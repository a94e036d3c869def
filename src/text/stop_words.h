// Stop-word lists per language: function words that carry no product meaning. Short on
// purpose (articles, prepositions, conjunctions, pronouns); product words such as "set",
// "top" or "back" are never on them. Sources: the Snowball project's lists, trimmed.
#pragma once

#include <span>
#include <string_view>

namespace aisle::text {

// The stop words of a locale, case-folded, with their accents; empty for locales without a
// list (Japanese drops function words by part of speech instead).
std::span<const std::string_view> stop_words(std::string_view locale);

}  // namespace aisle::text
