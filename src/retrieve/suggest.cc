#include "aisle/retrieve/suggest.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

namespace aisle::retrieve {
namespace {

bool separator(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte < 0x80 && !((byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z'));
}

// What an engaged query weighs: its clicks, add-to-carts and purchases; impressions only break
// ties.
double query_weight(std::int64_t engaged, std::int64_t impressions) {
  return static_cast<double>(engaged) + 0.001 * static_cast<double>(std::min<std::int64_t>(impressions, 999));
}

}  // namespace

std::uint16_t Suggester::locale_id(const std::string& locale) {
  auto [it, inserted] = locales_.try_emplace(locale, static_cast<std::uint16_t>(locales_.size()));
  return it->second;
}

std::string_view Suggester::key_text(const Key& key) const {
  return std::string_view(entries_[key.entry].normalized).substr(key.offset);
}

bool Suggester::better(std::uint32_t a, std::uint32_t b, std::string_view prefix) const {
  const bool x_starts = entries_[a].normalized.starts_with(prefix), y_starts = entries_[b].normalized.starts_with(prefix);
  if (x_starts != y_starts) return x_starts;
  const Suggestion& x = entries_[a].suggestion;
  const Suggestion& y = entries_[b].suggestion;
  if (x.weight != y.weight) return x.weight > y.weight;
  if (x.text.size() != y.text.size()) return x.text.size() < y.text.size();
  if (x.text != y.text) return x.text < y.text;
  return a < b;
}

void Suggester::add_entry(Entry entry, std::vector<Key>* keys) {
  if (entry.normalized.empty()) return;
  const auto id = static_cast<std::uint32_t>(entries_.size());
  const std::string& text = entry.normalized;
  for (std::size_t at = 0; at < text.size() && at < kMaxKeyOffset; ++at) {
    if (separator(text[at]) || (at > 0 && !separator(text[at - 1]))) continue;
    keys->push_back(Key{id, static_cast<std::uint32_t>(at)});
  }
  entries_.push_back(std::move(entry));
}

void Suggester::add_product(const io::ProductRecord& record, std::vector<Key>* keys) {
  const std::string product_key = record.locale + "|" + record.id;
  if (auto old = product_entry_.find(product_key); old != product_entry_.end()) entries_[old->second].live = false;
  Entry entry;
  entry.suggestion.text = record.title;
  entry.suggestion.locale = record.locale;
  entry.suggestion.product_id = record.id;
  entry.suggestion.price = record.price;
  entry.suggestion.weight = record.popularity.value_or(0.0);
  entry.normalized = normalize_(record.title);
  entry.locale = locale_id(record.locale);
  const auto id = static_cast<std::uint32_t>(entries_.size());
  const std::size_t before = entries_.size();
  add_entry(std::move(entry), keys);
  if (entries_.size() > before) product_entry_[product_key] = id;
}

void Suggester::add_query(const Suggestion& query, std::vector<Key>* keys, bool replace) {
  const std::string query_key = query.locale + "|" + query.text;
  const auto old = query_entry_.find(query_key);
  if (old != query_entry_.end() && replace) entries_[old->second].live = false;
  // A query listed twice (from()): both stay, the heavier one is the query's entry.
  const bool is_the_entry = old == query_entry_.end() || replace || query.weight > entries_[old->second].suggestion.weight;
  Entry entry;
  entry.suggestion = query;
  entry.normalized = normalize_(query.text);
  entry.locale = locale_id(query.locale);
  entry.is_query = true;
  const auto id = static_cast<std::uint32_t>(entries_.size());
  add_entry(std::move(entry), keys);
  if (is_the_entry && entries_.size() > id) query_entry_[query_key] = id;
}

void Suggester::add_query_engagement(std::span<const Suggestion> engaged, const KeepQuery& keep) {
  std::unique_lock lock(mutex_);
  for (const Suggestion& added : engaged) {
    if (added.weight <= 0) continue;
    Suggestion query = added;
    if (auto old = query_entry_.find(added.locale + "|" + added.text); old != query_entry_.end()) {
      // The same query with its new weight replaces the old entry (whose keys may sit in a
      // prefix's cached best list with the old weight).
      query.weight += entries_[old->second].suggestion.weight;
    } else if (!keep(added.text, added.locale)) {
      continue;
    }
    add_query(query, &delta_keys_, true);
  }
  if (delta_keys_.size() > kScanLimit) {
    keys_.insert(keys_.end(), delta_keys_.begin(), delta_keys_.end());
    delta_keys_.clear();
    finish();
  }
}

Result<std::unique_ptr<Suggester>> Suggester::build(store::Store& store, Normalize normalize, const KeepQuery& keep) {
  std::unique_ptr<Suggester> out(new Suggester(std::move(normalize)));
  AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) {
    out->add_product(product.record, &out->keys_);
    return Status::ok();
  }));
  struct Counts {
    std::int64_t engaged = 0, impressions = 0;
  };
  std::map<std::pair<std::string, std::string>, Counts> queries;  // (locale, query)
  AISLE_RETURN_IF_ERROR(store.for_each_engagement([&](store::Engagement&& engagement) {
    Counts& counts = queries[{engagement.locale, engagement.query}];
    counts.engaged += engagement.clicks + engagement.add_to_carts + engagement.purchases;
    counts.impressions += engagement.impressions;
    return Status::ok();
  }));
  for (const auto& [key, counts] : queries) {
    if (counts.engaged == 0) continue;  // shown, never chosen: no suggestion
    if (!keep(key.second, key.first)) continue;
    Suggestion query;
    query.text = key.second;
    query.locale = key.first;
    query.weight = query_weight(counts.engaged, counts.impressions);
    out->add_query(query, &out->keys_, false);
  }
  out->finish();
  return out;
}

std::unique_ptr<Suggester> Suggester::from(std::span<const store::Product> products, std::span<const Suggestion> queries,
                                           Normalize normalize) {
  std::unique_ptr<Suggester> out(new Suggester(std::move(normalize)));
  for (const store::Product& product : products) out->add_product(product.record, &out->keys_);
  for (const Suggestion& query : queries) out->add_query(query, &out->keys_, false);
  out->finish();
  return out;
}

void Suggester::finish() {
  std::sort(keys_.begin(), keys_.end(), [this](const Key& a, const Key& b) {
    const std::string_view x = key_text(a), y = key_text(b);
    return x != y ? x < y : a.entry < b.entry;
  });
  // Every prefix with more than kScanLimit keys, level by level: the groups of prefix length
  // L + 1 lie inside the large groups of length L.
  cached_.clear();
  std::vector<std::pair<std::size_t, std::size_t>> large = {{0, keys_.size()}};
  for (std::size_t length = 1; !large.empty(); ++length) {
    std::vector<std::pair<std::size_t, std::size_t>> next;
    for (const auto& [begin, end] : large) {
      for (std::size_t i = begin; i < end;) {
        const std::string_view text = key_text(keys_[i]);
        if (text.size() < length) {  // sorts before every longer key with its start
          ++i;
          continue;
        }
        const std::string_view prefix = text.substr(0, length);
        std::size_t j = i + 1;
        while (j < end && key_text(keys_[j]).starts_with(prefix)) ++j;
        if (j - i > kScanLimit) {
          next.emplace_back(i, j);
          // The best kMaxK per (locale, kind).
          std::map<std::pair<std::uint16_t, bool>, std::vector<std::uint32_t>> buckets;
          for (std::size_t at = i; at < j; ++at) {
            const Entry& entry = entries_[keys_[at].entry];
            if (entry.live) buckets[{entry.locale, entry.is_query}].push_back(keys_[at].entry);
          }
          std::vector<CachedList>& lists = cached_[std::string(prefix)];
          for (auto& [bucket, ids] : buckets) {
            std::sort(ids.begin(), ids.end());
            ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
            const std::size_t kept = std::min(ids.size(), kMaxK);
            std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(kept), ids.end(),
                              [&](std::uint32_t a, std::uint32_t b) { return better(a, b, prefix); });
            ids.resize(kept);
            lists.push_back(CachedList{bucket.first, bucket.second, std::move(ids)});
          }
        }
        i = j;
      }
    }
    large = std::move(next);
  }
}

void Suggester::collect(std::span<const Key> keys, std::string_view prefix, std::uint16_t locale, bool is_query,
                        std::vector<std::uint32_t>* out) const {
  for (const Key& key : keys) {
    const Entry& entry = entries_[key.entry];
    if (entry.live && entry.locale == locale && entry.is_query == is_query && key_text(key).starts_with(prefix)) {
      out->push_back(key.entry);
    }
  }
}

Suggestions Suggester::suggest(std::string_view prefix, std::string_view locale, std::size_t k) const {
  Suggestions out;
  const std::string normalized = normalize_(prefix);
  if (normalized.empty() || k == 0) return out;
  k = std::min(k, kMaxK);
  std::shared_lock lock(mutex_);
  const auto found_locale = locales_.find(std::string(locale));
  if (found_locale == locales_.end()) return out;
  const std::uint16_t locale_code = found_locale->second;
  // The sorted keys that start with the prefix.
  const auto lo = std::lower_bound(keys_.begin(), keys_.end(), std::string_view(normalized),
                                   [this](const Key& key, std::string_view p) { return key_text(key) < p; });
  const auto hi = std::partition_point(lo, keys_.end(), [&](const Key& key) { return key_text(key).starts_with(normalized); });
  const auto cached = cached_.find(normalized);
  for (const bool is_query : {true, false}) {
    std::vector<std::uint32_t> ids;
    if (cached != cached_.end()) {
      for (const CachedList& list : cached->second) {
        if (list.locale != locale_code || list.is_query != is_query) continue;
        for (std::uint32_t id : list.entries) {
          if (entries_[id].live) ids.push_back(id);
        }
      }
    } else {
      collect(std::span<const Key>(lo, hi), normalized, locale_code, is_query, &ids);
    }
    collect(delta_keys_, normalized, locale_code, is_query, &ids);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::sort(ids.begin(), ids.end(), [&](std::uint32_t a, std::uint32_t b) { return better(a, b, normalized); });
    std::vector<Suggestion>& list = is_query ? out.queries : out.products;
    std::vector<std::string_view> taken;  // queries that differ only in case or accents: one
    for (std::uint32_t id : ids) {
      if (list.size() == k) break;
      if (is_query) {
        if (std::find(taken.begin(), taken.end(), entries_[id].normalized) != taken.end()) continue;
        taken.push_back(entries_[id].normalized);
      }
      list.push_back(entries_[id].suggestion);
    }
  }
  return out;
}

void Suggester::add_products(std::span<const store::Product> products) {
  std::unique_lock lock(mutex_);
  for (const store::Product& product : products) add_product(product.record, &delta_keys_);
  if (delta_keys_.size() > kScanLimit) {
    keys_.insert(keys_.end(), delta_keys_.begin(), delta_keys_.end());
    delta_keys_.clear();
    finish();
  }
}

void Suggester::remove_product(const std::string& locale, const std::string& external_id) {
  std::unique_lock lock(mutex_);
  if (auto found = product_entry_.find(locale + "|" + external_id); found != product_entry_.end()) {
    entries_[found->second].live = false;
    product_entry_.erase(found);
  }
}

std::size_t Suggester::size() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

}  // namespace aisle::retrieve
