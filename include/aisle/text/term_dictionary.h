// TermDictionary: the sorted distinct terms of an index with their document frequencies, and
// the candidate generation for typo tolerance.
//
// fuzzy() walks the sorted terms as a trie (terms sharing a prefix share the rows of the
// edit-distance table; a prefix whose best row entry exceeds the limit prunes every term below
// it). Distance is optimal string alignment (Levenshtein plus adjacent transpositions) over
// bytes. fuzzy_exhaustive() computes the same by scanning every term: the exact twin.
//
// Immutable after construction; safe to share between threads. The string views point into
// storage the caller keeps alive (the index's segments).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace aisle::text {

struct TermCandidate {
  std::string_view term;
  int edits = 0;
  std::int64_t df = 0;
};

class TermDictionary {
 public:
  struct Entry {
    std::string_view term;
    std::int64_t df = 0;
  };
  // `entries` must be sorted by term (bytewise) without duplicates.
  explicit TermDictionary(std::vector<Entry> entries);

  std::size_t size() const { return entries_.size(); }
  // The document frequency of `term`, 0 when absent.
  std::int64_t df(std::string_view term) const;

  // Every term within `max_edits` (0-2) of `term`, other than `term` itself, sorted by
  // (edits, -df, term).
  std::vector<TermCandidate> fuzzy(std::string_view term, int max_edits) const;
  std::vector<TermCandidate> fuzzy_exhaustive(std::string_view term, int max_edits) const;

 private:
  std::vector<Entry> entries_;
};

// Optimal string alignment distance between two byte strings.
int osa_distance(std::string_view a, std::string_view b);

}  // namespace aisle::text
