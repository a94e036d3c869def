// Analyzer: turns text in one language into the terms the inverted index stores and queries.
//
// The chain, the same for documents and queries:
//   1. Unicode NFKC + case folding (ICU's NFKC_Casefold): full-width forms, ligatures and
//      compatibility characters fold to their plain form, "ß" to "ss", "Ⅳ" to "iv".
//   2. Word segmentation: ICU's word break iterator (UAX #29, with ICU's dictionaries for
//      Thai, Chinese, ...); MeCab with the IPA dictionary for Japanese, dropping particles,
//      auxiliary verbs and symbols by part of speech.
//   3. Product-search token rules (Latin-script and numeric tokens):
//        "3/4"           -> "3/4"                  fractions stay one token
//        "3/4 in", "3/4-in.", "3/4in" -> "3/4in" (+ "3/4")   a number with a unit also gives a
//                                                   measure token with a canonical unit
//        "12-gauge"      -> "12gauge", "12", "gauge"
//        "1tb"           -> "1tb", "1", "tb"
//        "SC-141", "rtx3080" -> "sc141", "sc", "141" / "rtx3080", "rtx", "3080"
//                                                   model numbers: kept whole and also split
//   4. Stop words per language (plain word tokens only; never numbers, units or model parts).
//   5. Snowball stemming (libstemmer) for the languages it has: da de en es fi fr hu it nl no
//      pt ro ru sv tr (plain word tokens only).
//   6. Accent folding for Latin-script letters after stemming ("canción" -> "cancion",
//      "müller" -> "muller"): users type without accents; Japanese dakuten are never touched.
//
// An Analyzer is not thread-safe (it caches stems and owns ICU iterators): use one per
// thread. Creating one costs about a millisecond (ICU and MeCab set-up); reuse it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::text {

enum class TokenKind : std::uint8_t {
  kWord,     // a plain word, stemmed
  kNumber,   // "12", "1.5", "3/4"
  kMeasure,  // number + canonical unit: "3/4in", "12gauge", "1tb"
  kModel,    // a model number kept whole: "sc141", "rtx3080"
  kPart,     // a part of a split model number or compound: "sc", "141"
};

struct Token {
  std::string term;
  TokenKind kind = TokenKind::kWord;
  std::uint32_t position = 0;  // index of the source word; parts share their whole's position
};

struct AnalyzerOptions {
  bool stem = true;
  bool stop_words = true;
  // Per locale code: the stop words that replace the built-in list (stop_words(locale)); the
  // words are case-folded (NFKC) as text is. Locales not named keep the built-in list.
  std::map<std::string, std::vector<std::string>> stop_word_lists;
  bool fold_accents = true;
  // Directory of the MeCab dictionary for Japanese; empty: MeCab's configured default
  // (mecab-ipadic-utf8 on Debian).
  std::string mecab_dictionary;
};

class Analyzer {
 public:
  // An analyzer for a locale code ("en", "ja", ...; see aisle::Locale). kBadInput for an
  // unknown code; kInternal when ICU or MeCab cannot be initialised (missing dictionary).
  static Result<std::unique_ptr<Analyzer>> create(std::string_view locale,
                                                  AnalyzerOptions options = {});
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  const std::string& locale() const;

  // Appends the tokens of `text` (UTF-8) to `out`. Invalid UTF-8 is replaced by U+FFFD
  // (the readers have already checked it). Empty or punctuation-only text gives no tokens.
  void analyze(std::string_view text, std::vector<Token>* out);

  // Convenience: the terms of analyze(), in order.
  std::vector<std::string> terms(std::string_view text);

  // The words of `text` as byte ranges [begin, end) of `text` itself, before any
  // normalization (ICU word boundaries, letters and numbers only; MeCab's morphemes for
  // Japanese): what a highlighter marks after analyzing each with terms(). Invalid UTF-8
  // bytes are never inside a word.
  std::vector<std::pair<std::size_t, std::size_t>> word_spans(std::string_view text);

  // The normalization of step 1 and 6 only, for dictionary keys (brands, colors): NFKC case
  // fold, accents folded, whitespace runs collapsed to one space, trimmed.
  std::string normalize(std::string_view text);

 private:
  class Impl;
  explicit Analyzer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Whether libstemmer has a stemmer for the locale.
bool has_stemmer(std::string_view locale);

}  // namespace aisle::text
