#include "aisle/text/term_dictionary.h"

#include <algorithm>
#include <array>

#include "aisle/core/check.h"

namespace aisle::text {
namespace {

constexpr int kMaxTermBytes = 64;  // longer query terms are not expanded

void sort_candidates(std::vector<TermCandidate>* candidates) {
  std::sort(candidates->begin(), candidates->end(), [](const TermCandidate& a, const TermCandidate& b) {
    if (a.edits != b.edits) return a.edits < b.edits;
    if (a.df != b.df) return a.df > b.df;
    return a.term < b.term;
  });
}

}  // namespace

TermDictionary::TermDictionary(std::vector<Entry> entries) : entries_(std::move(entries)) {}

std::int64_t TermDictionary::df(std::string_view term) const {
  auto found = std::lower_bound(entries_.begin(), entries_.end(), term,
                                [](const Entry& entry, std::string_view key) { return entry.term < key; });
  return found != entries_.end() && found->term == term ? found->df : 0;
}

int osa_distance(std::string_view a, std::string_view b) {
  std::vector<int> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = static_cast<int>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<int>(i);
    for (std::size_t j = 1; j <= b.size(); ++j) {
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        current[j] = std::min(current[j], before[j - 2] + 1);
      }
    }
    std::swap(before, previous);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::vector<TermCandidate> TermDictionary::fuzzy_exhaustive(std::string_view term, int max_edits) const {
  std::vector<TermCandidate> out;
  for (const Entry& entry : entries_) {
    if (entry.term == term) continue;
    std::size_t longer = std::max(entry.term.size(), term.size());
    std::size_t shorter = std::min(entry.term.size(), term.size());
    if (longer - shorter > static_cast<std::size_t>(max_edits)) continue;
    int edits = osa_distance(term, entry.term);
    if (edits <= max_edits) out.push_back({entry.term, edits, entry.df});
  }
  sort_candidates(&out);
  return out;
}

std::vector<TermCandidate> TermDictionary::fuzzy(std::string_view term, int max_edits) const {
  AISLE_CHECK(max_edits >= 0 && max_edits <= 2, "fuzzy: max_edits must be 0, 1 or 2");
  std::vector<TermCandidate> out;
  if (term.size() > static_cast<std::size_t>(kMaxTermBytes) || entries_.empty()) return out;
  const std::size_t columns = term.size() + 1;
  // rows[depth] is the edit-distance row after the first `depth` bytes of the trie path:
  // rows[depth][j] = distance(prefix[0, depth), term[0, j)).
  std::vector<std::array<int, kMaxTermBytes + 1>> rows(kMaxTermBytes + 3);
  for (std::size_t j = 0; j < columns; ++j) rows[0][j] = static_cast<int>(j);

  // Depth-first over [lo, hi): entries sharing their first `depth` bytes (the prefix).
  auto walk = [&](auto&& self, std::size_t lo, std::size_t hi, std::size_t depth) -> void {
    const auto& row = rows[depth];
    if (entries_[lo].term.size() == depth) {  // the prefix is itself a term
      int edits = row[term.size()];
      if (edits <= max_edits && entries_[lo].term != term) {
        out.push_back({entries_[lo].term, edits, entries_[lo].df});
      }
      ++lo;
    }
    if (depth + 1 > term.size() + static_cast<std::size_t>(max_edits) || depth + 1 > kMaxTermBytes + 1) return;
    while (lo < hi) {
      const unsigned char byte = static_cast<unsigned char>(entries_[lo].term[depth]);
      // The end of the group of entries with this byte at `depth`.
      std::size_t group_end = lo + 1;
      {
        std::size_t step = 1;
        while (group_end < hi && static_cast<unsigned char>(entries_[group_end].term[depth]) == byte) {
          // Galloping: groups can be long near the root.
          std::size_t probe = std::min(hi, group_end + step);
          if (static_cast<unsigned char>(entries_[probe - 1].term[depth]) == byte) {
            group_end = probe;
            step *= 2;
          } else {
            step = 1;
            ++group_end;
          }
        }
      }
      auto& next = rows[depth + 1];
      next[0] = static_cast<int>(depth + 1);
      int best = next[0];
      for (std::size_t j = 1; j < columns; ++j) {
        int cost = static_cast<unsigned char>(term[j - 1]) == byte ? 0 : 1;
        int value = std::min({row[j] + 1, next[j - 1] + 1, row[j - 1] + cost});
        if (depth >= 1 && j > 1 && static_cast<unsigned char>(term[j - 2]) == byte &&
            static_cast<unsigned char>(entries_[lo].term[depth - 1]) ==
                static_cast<unsigned char>(term[j - 1])) {
          value = std::min(value, rows[depth - 1][j - 2] + 1);
        }
        next[j] = value;
        best = std::min(best, value);
      }
      // A transposition can lower a later row by one below the row minimum; keep a margin of
      // one so that no term within the limit is pruned.
      if (best <= max_edits + 1) self(self, lo, group_end, depth + 1);
      lo = group_end;
    }
  };
  walk(walk, 0, entries_.size(), 0);
  sort_candidates(&out);
  return out;
}

}  // namespace aisle::text
