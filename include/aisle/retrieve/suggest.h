// Suggester: autocomplete for the search box, per locale, fast enough for every keystroke.
//
// Two kinds of suggestion, each ranked by its weight:
//   queries   the queries shoppers engaged with (feedback events: clicks, add-to-carts and
//             purchases; impressions break ties), weight = engaged events;
//   products  listing titles, weight = the listing's popularity.
// A suggestion matches a prefix typed by the shopper when the prefix, normalized as the index
// normalizes dictionary keys (NFKC case fold, accents folded, spaces collapsed), starts one of
// its words: "run" finds "running shoes" and "Stridex Max Running Shoes". Words start at the
// beginning and after a space or ASCII punctuation, within the first kMaxKeyOffset bytes.
// Suggestions that start with the prefix come before those where a later word does. A query is
// suggested only when the caller's check keeps it (the engine's: every word is in the
// catalog's vocabulary and the query finds something), so a shopper's typo ("rain jackte")
// is never offered however often it was clicked.
//
// Structure: one array of (entry, word offset) keys sorted by the normalized text from that
// offset; a prefix is a binary-searched range of it. Every prefix whose range holds more than
// kScanLimit keys ("r", "ru", "running sh" in a catalog of running shoes) has its best
// entries per locale and kind precomputed, so no keystroke reads more than kScanLimit keys.
// Listings added after build() go into a small unsorted delta scanned on every call; past
// kScanLimit keys it is folded in (a re-sort). suggest() is thread-safe; add_products() takes
// an exclusive lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/store/store.h"

namespace aisle::retrieve {

struct Suggestion {
  std::string text;        // the query, or the listing's title
  std::string locale;
  std::string product_id;  // products: the listing's external id
  std::optional<double> price;
  double weight = 0;
};

struct Suggestions {
  std::vector<Suggestion> queries;
  std::vector<Suggestion> products;
};

class Suggester {
 public:
  using Normalize = std::function<std::string(std::string_view)>;
  static constexpr std::size_t kMaxKeyOffset = 96;
  static constexpr std::size_t kScanLimit = 2048;
  static constexpr std::size_t kMaxK = 20;  // suggestions per kind; what the cache keeps

  using KeepQuery = std::function<bool(const std::string& query, const std::string& locale)>;
  // Reads every listing and the engaged queries of `store` (those `keep` accepts).
  static Result<std::unique_ptr<Suggester>> build(store::Store& store, Normalize normalize, const KeepQuery& keep);
  // The same from lists (tests, and build()).
  static std::unique_ptr<Suggester> from(std::span<const store::Product> products, std::span<const Suggestion> queries,
                                         Normalize normalize);

  // At most k of each kind for `prefix` in `locale`, best first (weight, then the shorter
  // text, then the text). An empty or blank prefix has no suggestions.
  Suggestions suggest(std::string_view prefix, std::string_view locale, std::size_t k) const;

  // Listings written after build(): suggested from now on (a listing already known is
  // replaced).
  void add_products(std::span<const store::Product> products);

  // Engagement with queries after build(): each query's weight grows by its Suggestion::weight
  // (clicks, add-to-carts and purchases); a query not suggested yet is from now on, when
  // `keep` accepts it (as build() does).
  void add_query_engagement(std::span<const Suggestion> engaged, const KeepQuery& keep);

  // A deleted listing is no longer suggested.
  void remove_product(const std::string& locale, const std::string& external_id);

  std::size_t size() const;  // entries, both kinds

 private:
  struct Entry {
    Suggestion suggestion;
    std::string normalized;
    std::uint16_t locale = 0;
    bool is_query = false;
    bool live = true;
  };
  struct Key {
    std::uint32_t entry;
    std::uint32_t offset;
  };
  explicit Suggester(Normalize normalize) : normalize_(std::move(normalize)) {}
  std::uint16_t locale_id(const std::string& locale);
  void add_entry(Entry entry, std::vector<Key>* keys);
  void add_product(const io::ProductRecord& record, std::vector<Key>* keys);
  // Keys into `keys` (keys_ before finish(), delta_keys_ after). With `replace`, the entry of
  // the same query and locale stops being suggested (the new one carries its weight).
  void add_query(const Suggestion& query, std::vector<Key>* keys, bool replace);
  std::string_view key_text(const Key& key) const;
  // The order of suggestions for `prefix`: starting with it first, then weight, the shorter
  // text, the text.
  bool better(std::uint32_t a, std::uint32_t b, std::string_view prefix) const;
  void finish();

  Normalize normalize_;
  mutable std::shared_mutex mutex_;
  std::vector<Entry> entries_;
  std::vector<Key> keys_;        // sorted by key_text
  std::vector<Key> delta_keys_;  // added after build, unsorted
  std::unordered_map<std::string, std::uint16_t> locales_;
  std::unordered_map<std::string, std::uint32_t> product_entry_;  // "locale|external id" -> entry
  std::unordered_map<std::string, std::uint32_t> query_entry_;    // "locale|query" -> entry
  // (normalized prefix) -> per (locale, kind) the best kMaxK entries with a key starting with
  // it, best first: for every prefix of more than kScanLimit keys.
  struct CachedList {
    std::uint16_t locale;
    bool is_query;
    std::vector<std::uint32_t> entries;
  };
  std::unordered_map<std::string, std::vector<CachedList>> cached_;
  // The live entries of `keys` (any order) that start with `prefix`, of the locale and kind.
  void collect(std::span<const Key> keys, std::string_view prefix, std::uint16_t locale, bool is_query,
               std::vector<std::uint32_t>* out) const;
};

}  // namespace aisle::retrieve
