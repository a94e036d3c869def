// What a vector index knows of each slot besides its vector: the product, its locale and
// category path (as dictionary ids), and whether the slot is live. Shared by both indexes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/vector/vector_index.h"

namespace aisle::vector {

// A filter resolved against the dictionaries: which locale id and which category ids pass.
struct CompiledFilter {
  bool any_locale = true;
  std::uint32_t locale = 0;
  bool any_category = true;
  std::vector<std::uint8_t> category_allowed;  // by category id
  bool matches_nothing = false;                // the filter names a locale or path never seen
};

class ItemTable {
 public:
  std::uint32_t slots() const { return static_cast<std::uint32_t>(rows_.size()); }
  std::uint64_t live() const { return live_; }
  bool is_live(std::uint32_t slot) const { return slot < rows_.size() && rows_[slot].live; }
  ProductId product(std::uint32_t slot) const { return ProductId(rows_[slot].product); }

  // Writes slot `slot` (growing the table) as a live item.
  void set(std::uint32_t slot, ProductId product, std::string_view locale, std::string_view category);
  // Marks a live slot deleted.
  void kill(std::uint32_t slot);
  // Moves slot `from` to slot `to` (which must be dead) and shrinks the table when `from` is last.
  void move(std::uint32_t from, std::uint32_t to);
  void pop_back();

  CompiledFilter compile(const VectorFilter& filter) const;
  bool passes(const CompiledFilter& filter, std::uint32_t slot) const {
    const Row& row = rows_[slot];
    return row.live && (filter.any_locale || row.locale == filter.locale) &&
           (filter.any_category || filter.category_allowed[row.category] != 0);
  }
  // Live items that pass `filter`, exactly (from per locale x category counts).
  std::uint64_t count(const CompiledFilter& filter) const;

  std::uint64_t memory_bytes() const;
  std::vector<std::uint8_t> serialize() const;
  // kCorruption naming `file` when `bytes` are not what serialize() wrote.
  static Result<ItemTable> parse(std::span<const std::uint8_t> bytes, const std::string& file);

 private:
  struct Row {
    std::uint32_t product = 0;
    std::uint32_t category = 0;
    std::uint16_t locale = 0;
    std::uint8_t live = 0;
    std::uint8_t pad = 0;
  };
  static std::uint64_t key(const Row& row) { return (std::uint64_t{row.locale} << 32) | row.category; }
  std::uint32_t intern(std::vector<std::string>& names, std::unordered_map<std::string, std::uint32_t>& ids,
                       std::string_view name);

  std::vector<Row> rows_;
  std::uint64_t live_ = 0;
  std::vector<std::string> locales_, categories_;
  std::unordered_map<std::string, std::uint32_t> locale_ids_, category_ids_;
  std::unordered_map<std::uint64_t, std::uint64_t> counts_;  // live items per locale x category
};

// The best k (score, product) pairs, nearest first; ties by smaller product id.
class TopK {
 public:
  explicit TopK(std::size_t k) : k_(k) {}
  void offer(float score, ProductId product);
  // Worst score kept once full; -infinity before.
  float threshold() const;
  std::vector<Neighbor> take();

 private:
  std::size_t k_;
  std::vector<Neighbor> heap_;  // a min-heap by (score, then larger product id first)
};

}  // namespace aisle::vector
