#include "aisle/text/term_dictionary.h"

#include <algorithm>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace aisle::text {
namespace {

TEST(OsaDistanceTest, CountsEditsAndTranspositions) {
  EXPECT_EQ(osa_distance("drill", "drill"), 0);
  EXPECT_EQ(osa_distance("drill", "dril"), 1);
  EXPECT_EQ(osa_distance("drill", "drlil"), 1);  // adjacent transposition
  EXPECT_EQ(osa_distance("drill", "grille"), 2);
  EXPECT_EQ(osa_distance("", "abc"), 3);
}

TEST(TermDictionaryTest, FindsNeighboursSortedByEditsThenFrequency) {
  std::vector<std::string> storage = {"dill", "drawer", "drill", "drills", "grill", "trill"};
  std::vector<TermDictionary::Entry> entries;
  std::int64_t df = 10;
  for (const std::string& term : storage) entries.push_back({term, df++});
  TermDictionary dictionary(entries);
  auto candidates = dictionary.fuzzy("drlil", 1);
  ASSERT_EQ(candidates.size(), 1u);
  EXPECT_EQ(candidates[0].term, "drill");
  candidates = dictionary.fuzzy("drill", 1);
  std::vector<std::string> found;
  for (const auto& c : candidates) found.emplace_back(c.term);
  // One edit each; more frequent first; the term itself is not a candidate.
  EXPECT_EQ(found, (std::vector<std::string>{"trill", "grill", "drills", "dill"}));
  EXPECT_EQ(dictionary.df("grill"), 14);
  EXPECT_EQ(dictionary.df("absent"), 0);
}

// The trie walk must return exactly what scanning every term returns.
TEST(TermDictionaryTest, FuzzyEqualsExhaustiveOnRandomTerms) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> letter(0, 5);  // a small alphabet makes many neighbours
  std::uniform_int_distribution<int> length(1, 9);
  std::set<std::string> unique;
  while (unique.size() < 3000) {
    std::string term;
    for (int i = length(random); i > 0; --i) term.push_back(static_cast<char>('a' + letter(random)));
    unique.insert(term);
  }
  std::vector<std::string> storage(unique.begin(), unique.end());
  std::vector<TermDictionary::Entry> entries;
  for (std::size_t i = 0; i < storage.size(); ++i) entries.push_back({storage[i], static_cast<std::int64_t>(i % 17)});
  TermDictionary dictionary(entries);
  for (int query = 0; query < 300; ++query) {
    std::string term;
    for (int i = length(random); i > 0; --i) term.push_back(static_cast<char>('a' + letter(random)));
    for (int edits = 0; edits <= 2; ++edits) {
      auto fast = dictionary.fuzzy(term, edits);
      auto exact = dictionary.fuzzy_exhaustive(term, edits);
      ASSERT_EQ(fast.size(), exact.size()) << term << " edits " << edits;
      for (std::size_t i = 0; i < fast.size(); ++i) {
        EXPECT_EQ(fast[i].term, exact[i].term);
        EXPECT_EQ(fast[i].edits, exact[i].edits);
      }
    }
  }
}

}  // namespace
}  // namespace aisle::text
