// MemoryIndex: the query -> product engagement memory (Q2E) behind the memory strategy.
//
// Keys are normalized queries: the locale and the analyzed terms ("en|red running shoe"), so
// "Red Running Shoes" and "red running shoes" share one entry (memory_key()). For every key
// and product the index keeps an engagement score
//   score(q, p, now) = sum over engagement events e of (q, p)
//                        weight(type_e) / max(propensity(position_e), min_propensity)
//                        * 2^(-(now - ts_e) / half_life)
// with weight click 1, add_to_cart 3, purchase 5 (configurable), propensity(k) the examination
// probability of position k relative to position 1 (set_propensities(), from the
// position-based click model that rank::estimate_position_bias fits on the same log; 1 for
// events without a position), so a click at position 8 counts more than one at position 1,
// and older engagement fades. Impressions count the query's searches (frequency(): the
// impressions at position 1) and add no score. add() is incremental: scores are kept relative
// to a reference time, so no pass over old entries is needed (except a rare rescale).
//
// Cold start: a product with no engagement yet can carry predicted entries (add_predicted():
// queries it is likely to answer, generated from its text by candidate_queries() and scored
// by a relevance model, score = predicted_weight * P(relevant)). They answer lookups until
// the product gets its first engagement event, from then on only real statistics count.
//
// The index is derived from the store's events (build_memory_index() reads the events after
// the saved watermark, so updating is incremental too) and saved crash-safely as one file,
// <data_dir>/index/memory.bin. Not thread-safe for writes; lookups are const.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/io/records.h"
#include "aisle/store/store.h"
#include "aisle/text/analyzer.h"
#include "aisle/text/document.h"

namespace aisle::retrieve {

std::filesystem::path memory_path(const std::filesystem::path& data_dir);

struct MemoryConfig {
  double click_weight = 1.0;
  double add_to_cart_weight = 3.0;
  double purchase_weight = 5.0;
  double half_life_days = 30.0;
  double min_propensity = 0.1;   // clip of the position-bias correction
  double predicted_weight = 0.5;  // predicted entries: this times the model's probability
};

// "locale|term term ..." of an analyzed query; empty for a query without terms.
std::string memory_key(std::string_view locale, std::span<const std::string> terms);

struct MemoryHit {
  ProductId product;
  double score = 0;
  bool predicted = false;
};

class MemoryIndex {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  explicit MemoryIndex(const MemoryConfig& config = {});

  // Examination probability of positions 1, 2, ... relative to position 1 (positions beyond
  // the last share the last). Applies to events added afterwards.
  void set_propensities(std::vector<double> by_position);

  // One feedback event of query `key` (memory_key) and `product` at Unix time ts_ms.
  // position: 1-based, or 0 when unknown.
  void add(const std::string& key, ProductId product, io::EventType type, int position, std::int64_t ts_ms);
  // A predicted entry (ignored once the product has engagement). probability in [0, 1].
  void add_predicted(const std::string& key, ProductId product, double probability);

  // The k best products for `key` at time now_ms, best first (ties by product id).
  std::vector<MemoryHit> lookup(const std::string& key, int k, std::int64_t now_ms) const;
  // Searches of `key` seen so far (impressions at position 1).
  std::int64_t frequency(const std::string& key) const;
  bool has_engagement(ProductId product) const { return engaged_.contains(product.value()); }
  bool has_predictions(ProductId product) const { return predicted_.contains(product.value()); }

  std::size_t num_keys() const { return entries_.size(); }
  std::size_t num_entries() const;
  std::int64_t events() const { return events_; }
  std::int64_t last_event_id() const { return last_event_id_; }
  void set_last_event_id(std::int64_t id) { last_event_id_ = id; }
  const MemoryConfig& config() const { return config_; }

  // Crash-safe write; load(): kNotFound / kCorruption naming the file.
  Status save(const std::filesystem::path& path) const;
  static Result<std::unique_ptr<MemoryIndex>> load(const std::filesystem::path& path);

 private:
  struct Entry {
    double score = 0;      // relative to reference_ms_
    double predicted = 0;  // the predicted score (not decayed)
  };
  double weight(io::EventType type) const;
  void rescale(std::int64_t ts_ms);

  MemoryConfig config_;
  std::vector<double> propensities_;
  std::unordered_map<std::string, std::unordered_map<std::uint32_t, Entry>> entries_;
  std::unordered_map<std::string, std::int64_t> frequency_;
  std::unordered_set<std::uint32_t> engaged_;
  std::unordered_set<std::uint32_t> predicted_;  // products with predicted entries (not saved: derived)
  std::int64_t reference_ms_ = 0;
  bool has_reference_ = false;
  std::int64_t events_ = 0;
  std::int64_t last_event_id_ = 0;
};

// Queries a product is likely to answer, from its text: the title's first two and three
// terms, the brand with the last category level, and the last category level with the
// title's first term (analyzed; duplicates and empty ones left out), as memory keys.
std::vector<std::string> candidate_queries(text::Analyzer& analyzer, const text::Document& document);

struct MemoryBuildReport {
  std::int64_t events_read = 0;
  std::int64_t events_skipped = 0;  // no query, a product not in the catalog, or a time more than a day ahead
  std::int64_t predicted = 0;       // predicted entries added
  bool created = false;
  double seconds = 0;
};

// Scores candidate queries of one product: P(relevant) per query key, in [0, 1].
using RelevanceScorer = std::function<Result<std::vector<double>>(const text::Document& product,
                                                                  std::span<const std::string> queries)>;

// Adds the store's events after index->last_event_id() to `index` (in memory; nothing is
// saved) and advances the watermark. Counts go to report->events_read / events_skipped.
Status add_stored_events(store::Store& store, MemoryIndex* index, MemoryBuildReport* report);

// Brings <data_dir>/index/memory.bin up to date with the store's events (only those after
// its watermark; all of them with rebuild), with position propensities `propensities` (empty:
// none). With a scorer, products without engagement get predicted entries, once per product
// (a rebuild predicts again, e.g. after the product texts changed). Saves the index.
Result<std::unique_ptr<MemoryIndex>> update_memory_index(store::Store& store, const std::filesystem::path& data_dir,
                                                         const MemoryConfig& config, std::vector<double> propensities,
                                                         const RelevanceScorer* scorer, bool rebuild,
                                                         const Context& context, MemoryBuildReport* report);

}  // namespace aisle::retrieve
