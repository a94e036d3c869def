// Synonyms: query-time expansion from the rules of the settings file (core/config.h).
//
// Each rule's phrases are analyzed with the index's analyzer for their locale, so a rule
// matches the query however it is inflected or cased ("Sneakers" and "sneaker" both match a
// rule written "sneakers"). A query whose analyzed terms contain a rule's phrase (its terms
// in a row) is searched with the terms of the phrases the rule leads to as well, each weighing
// kSynonymWeight of a query term (InvertedIndex::search; QueryTerm::synonym_of names the
// phrase). Expansion is one step: the added terms are not expanded again. Documents need no
// re-indexing when the rules change.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/config.h"
#include "aisle/core/status.h"
#include "aisle/text/analyzer.h"

namespace aisle::text {

inline constexpr float kSynonymWeight = 0.9f;

class Synonyms {
 public:
  // A phrase found in the query and the phrases it leads to (their terms are searched as
  // well; a target phrase stands for the query's phrase only where all its terms match).
  struct Expansion {
    std::vector<std::string> phrase;                // the query's terms the rule matched
    std::vector<std::vector<std::string>> targets;  // analyzed, the phrase itself excluded
  };

  // Compiles the rules of every locale of `config` (analyzed with `analyzer`, the index's
  // options). kBadInput naming the settings file, the rule's line and its key when a phrase
  // has no searchable term (stop words only, punctuation).
  static Result<Synonyms> compile(const DataConfig& config, const AnalyzerOptions& analyzer);

  bool empty() const { return rules_.empty(); }
  std::size_t size() const;  // compiled (phrase -> targets) entries, all locales

  // The expansions of a query's analyzed terms (in query order), longest phrase first at each
  // position; a term inside a matched phrase is not matched again.
  std::vector<Expansion> expand(const std::string& locale, std::span<const std::string> terms) const;

 private:
  struct Entry {
    std::vector<std::string> phrase;
    std::vector<std::vector<std::string>> targets;
  };
  // locale -> first term of a phrase -> entries, longest phrase first
  std::map<std::string, std::map<std::string, std::vector<Entry>, std::less<>>> rules_;
};

}  // namespace aisle::text
