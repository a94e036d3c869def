#include "item_table.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "aisle/core/check.h"

namespace aisle::vector {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'V', 'I', 'T'};
constexpr std::uint32_t kVersion = 1;

bool path_below(std::string_view path, std::string_view prefix) {
  if (path.size() < prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return false;
  if (path.size() == prefix.size()) return true;
  std::string_view rest = path.substr(prefix.size());
  return rest.starts_with(" > ");
}

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  std::uint8_t bytes[4];
  std::memcpy(bytes, &value, 4);
  out.insert(out.end(), bytes, bytes + 4);
}

void put_strings(std::vector<std::uint8_t>& out, const std::vector<std::string>& names) {
  put_u32(out, static_cast<std::uint32_t>(names.size()));
  for (const std::string& name : names) {
    put_u32(out, static_cast<std::uint32_t>(name.size()));
    out.insert(out.end(), name.begin(), name.end());
  }
}

struct Parser {
  std::span<const std::uint8_t> bytes;
  std::size_t at = 0;
  bool take(void* out, std::size_t n) {
    if (bytes.size() - at < n) return false;
    std::memcpy(out, bytes.data() + at, n);
    at += n;
    return true;
  }
  bool u32(std::uint32_t* out) { return take(out, 4); }
  bool strings(std::vector<std::string>* out) {
    std::uint32_t count;
    if (!u32(&count) || count > bytes.size() - at) return false;
    for (std::uint32_t i = 0; i < count; ++i) {
      std::uint32_t size;
      if (!u32(&size) || size > bytes.size() - at) return false;
      out->emplace_back(reinterpret_cast<const char*>(bytes.data() + at), size);
      at += size;
    }
    return true;
  }
};

}  // namespace

std::uint32_t ItemTable::intern(std::vector<std::string>& names, std::unordered_map<std::string, std::uint32_t>& ids,
                                std::string_view name) {
  auto [it, inserted] = ids.try_emplace(std::string(name), static_cast<std::uint32_t>(names.size()));
  if (inserted) names.emplace_back(name);
  return it->second;
}

void ItemTable::set(std::uint32_t slot, ProductId product, std::string_view locale, std::string_view category) {
  if (slot >= rows_.size()) rows_.resize(slot + 1);
  Row& row = rows_[slot];
  if (row.live) kill(slot);
  std::uint32_t locale_id = intern(locales_, locale_ids_, locale);
  AISLE_CHECK(locale_id <= std::numeric_limits<std::uint16_t>::max(), "too many locales in a vector index");
  row.product = product.value();
  row.locale = static_cast<std::uint16_t>(locale_id);
  row.category = intern(categories_, category_ids_, category);
  row.live = 1;
  ++counts_[key(row)];
  ++live_;
}

void ItemTable::kill(std::uint32_t slot) {
  Row& row = rows_[slot];
  if (!row.live) return;
  row.live = 0;
  auto it = counts_.find(key(row));
  if (--it->second == 0) counts_.erase(it);
  --live_;
}

void ItemTable::move(std::uint32_t from, std::uint32_t to) {
  AISLE_CHECK(!rows_[to].live, "moving onto a live slot");
  rows_[to] = rows_[from];
  rows_[from].live = 0;
  while (!rows_.empty() && !rows_.back().live) rows_.pop_back();
}

void ItemTable::pop_back() {
  kill(static_cast<std::uint32_t>(rows_.size() - 1));
  rows_.pop_back();
}

CompiledFilter ItemTable::compile(const VectorFilter& filter) const {
  CompiledFilter compiled;
  if (!filter.locale.empty()) {
    compiled.any_locale = false;
    auto it = locale_ids_.find(filter.locale);
    if (it == locale_ids_.end()) {
      compiled.matches_nothing = true;
    } else {
      compiled.locale = it->second;
    }
  }
  if (!filter.category_prefix.empty()) {
    compiled.any_category = false;
    compiled.category_allowed.assign(categories_.size(), 0);
    bool any = false;
    for (std::size_t i = 0; i < categories_.size(); ++i) {
      if (path_below(categories_[i], filter.category_prefix)) {
        compiled.category_allowed[i] = 1;
        any = true;
      }
    }
    if (!any) compiled.matches_nothing = true;
  }
  return compiled;
}

std::uint64_t ItemTable::count(const CompiledFilter& filter) const {
  if (filter.matches_nothing) return 0;
  if (filter.any_locale && filter.any_category) return live_;
  std::uint64_t total = 0;
  for (const auto& [packed, count] : counts_) {
    auto locale = static_cast<std::uint32_t>(packed >> 32);
    auto category = static_cast<std::uint32_t>(packed & 0xffffffffu);
    if ((filter.any_locale || locale == filter.locale) &&
        (filter.any_category || filter.category_allowed[category] != 0)) {
      total += count;
    }
  }
  return total;
}

std::uint64_t ItemTable::memory_bytes() const {
  std::uint64_t bytes = rows_.capacity() * sizeof(Row) + counts_.size() * 32;
  for (const std::string& name : categories_) bytes += name.capacity() + 48;
  for (const std::string& name : locales_) bytes += name.capacity() + 48;
  return bytes;
}

std::vector<std::uint8_t> ItemTable::serialize() const {
  std::vector<std::uint8_t> out(kMagic, kMagic + 8);
  put_u32(out, kVersion);
  put_u32(out, slots());
  put_strings(out, locales_);
  put_strings(out, categories_);
  for (const Row& row : rows_) {
    put_u32(out, row.product);
    put_u32(out, row.category);
    put_u32(out, std::uint32_t{row.locale} | (std::uint32_t{row.live} << 16));
  }
  return out;
}

Result<ItemTable> ItemTable::parse(std::span<const std::uint8_t> bytes, const std::string& file) {
  auto corrupt = [&](const std::string& what) { return Status::corruption(file + ": " + what); };
  Parser parser{bytes};
  char magic[8];
  std::uint32_t version = 0, slots = 0;
  if (!parser.take(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) return corrupt("not a vector item table");
  if (!parser.u32(&version) || version != kVersion) {
    return corrupt("item table version " + std::to_string(version) + ", this build reads " + std::to_string(kVersion));
  }
  ItemTable table;
  if (!parser.u32(&slots) || !parser.strings(&table.locales_) || !parser.strings(&table.categories_)) {
    return corrupt("truncated dictionaries");
  }
  if ((bytes.size() - parser.at) != std::uint64_t{slots} * 12) return corrupt("item rows do not match the slot count");
  for (std::size_t i = 0; i < table.locales_.size(); ++i) table.locale_ids_[table.locales_[i]] = static_cast<std::uint32_t>(i);
  for (std::size_t i = 0; i < table.categories_.size(); ++i) {
    table.category_ids_[table.categories_[i]] = static_cast<std::uint32_t>(i);
  }
  table.rows_.resize(slots);
  for (Row& row : table.rows_) {
    std::uint32_t packed = 0;
    parser.u32(&row.product);
    parser.u32(&row.category);
    parser.u32(&packed);
    row.locale = static_cast<std::uint16_t>(packed & 0xffffu);
    row.live = static_cast<std::uint8_t>((packed >> 16) & 1u);
    if (row.live && (row.locale >= table.locales_.size() || row.category >= table.categories_.size())) {
      return corrupt("item row names an unknown locale or category");
    }
    if (row.live) {
      ++table.counts_[key(row)];
      ++table.live_;
    }
  }
  return table;
}

void TopK::offer(float score, ProductId product) {
  // The heap's front is the worst kept: lowest score, then the largest product id.
  auto worse = [](const Neighbor& a, const Neighbor& b) {
    return a.score != b.score ? a.score > b.score : a.product < b.product;
  };
  if (k_ == 0) return;
  if (heap_.size() < k_) {
    heap_.push_back(Neighbor{product, score});
    std::push_heap(heap_.begin(), heap_.end(), worse);
    return;
  }
  const Neighbor& front = heap_.front();
  if (score < front.score || (score == front.score && product > front.product)) return;
  std::pop_heap(heap_.begin(), heap_.end(), worse);
  heap_.back() = Neighbor{product, score};
  std::push_heap(heap_.begin(), heap_.end(), worse);
}

float TopK::threshold() const {
  return heap_.size() < k_ ? -std::numeric_limits<float>::infinity() : heap_.front().score;
}

std::vector<Neighbor> TopK::take() {
  std::vector<Neighbor> out = std::move(heap_);
  std::sort(out.begin(), out.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.score != b.score ? a.score > b.score : a.product < b.product;
  });
  return out;
}

}  // namespace aisle::vector
