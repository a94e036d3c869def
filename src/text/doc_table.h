// DocTable: the per-document columns of an index — product ids, external ids, locale, brand,
// color and category (dictionary-coded), price, prior, the live flag and the numeric
// attributes (sparse: per attribute name, the documents that have a number for it) — and the
// filters and facets computed from them. Global document numbers index it; segments cover ranges of them.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/ids.h"
#include "aisle/core/status.h"
#include "aisle/text/inverted_index.h"

namespace aisle::text {

// Strings coded as dense ids: `key` is the normalized form used for lookups, `display` the
// first spelling seen.
class Dictionary {
 public:
  std::uint32_t intern(const std::string& key, const std::string& display);
  std::optional<std::uint32_t> find(const std::string& key) const;
  std::size_t size() const { return keys_.size(); }
  const std::string& key(std::uint32_t id) const { return keys_[id]; }
  const std::string& display(std::uint32_t id) const { return displays_[id]; }

 private:
  std::vector<std::string> keys_;
  std::vector<std::string> displays_;
  std::unordered_map<std::string, std::uint32_t> ids_;
};

inline constexpr std::uint32_t kNoValue = 0xffffffffu;

struct DocRow {
  std::uint32_t product = kNoValue;  // ProductId value
  std::uint32_t brand = kNoValue;
  std::uint32_t color = kNoValue;
  std::uint32_t category = kNoValue;  // the node of the full path
  std::uint16_t locale = 0;
  std::uint8_t live = 1;
  std::uint8_t padding = 0;
  float price = std::nanf("");
  float prior = 0.0f;
  std::uint64_t version = 0;
};
static_assert(sizeof(DocRow) == 40);

class DocTable;

// A Filter resolved against a DocTable's dictionaries, checked per document in O(1).
class CompiledFilter {
 public:
  bool empty() const { return empty_; }
  bool accepts(std::uint32_t doc, const DocRow& row) const;

 private:
  friend class DocTable;
  bool empty_ = true;
  bool impossible_ = false;  // a named value that no document has
  std::vector<bool> locales_, brands_, colors_, categories_;
  std::optional<double> min_price_, max_price_;
  // With attribute ranges: the documents that pass all of them (one bit per document).
  std::vector<bool> attribute_docs_;
};

class DocTable {
 public:
  // Appends a row; returns its document number. `brand_key`, `color_key`: normalized.
  // `numeric`: (normalized attribute name, number) for the attributes that hold one.
  std::uint32_t add(const Document& document, const std::string& brand_key, const std::string& color_key,
                    const std::vector<std::string>& category_keys, float prior,
                    const std::vector<std::pair<std::string, float>>& numeric = {});
  std::size_t size() const { return rows_.size(); }
  const DocRow& row(std::uint32_t doc) const { return rows_[doc]; }
  const std::string& external_id(std::uint32_t doc) const { return external_ids_[doc]; }
  const std::string& locale(std::uint32_t doc) const { return locales_.key(rows_[doc].locale); }
  bool live(std::uint32_t doc) const { return rows_[doc].live != 0; }
  std::int64_t live_count() const { return live_count_; }
  // The live document of a product, or kNoValue.
  std::uint32_t find(ProductId product) const;
  void kill(std::uint32_t doc);
  // An upper bound of the prior over documents [block*128, block*128+128).
  float prior_block_max(std::uint32_t doc) const { return prior_block_max_[doc >> 7]; }
  float prior_max() const { return prior_max_; }
  // The prior of a live document, NaN for a dead one: what scoring reads for every candidate,
  // kept apart from the 40-byte rows so that a 1M-document search touches 4 MB, not 40 MB.
  float live_prior(std::uint32_t doc) const { return live_priors_[doc]; }
  // Starts loading live_prior(doc) into the cache (a search knows its next candidate early).
  void prefetch_prior(std::uint32_t doc) const { __builtin_prefetch(live_priors_.data() + doc); }

  // `normalize` turns user input into dictionary keys, `normalize_path` a category path
  // ("Shoes > Running", "shoes>running") into a category key.
  template <typename Normalize, typename NormalizePath>
  CompiledFilter compile(const Filter& filter, Normalize&& normalize, NormalizePath&& normalize_path) const;

  // Facet counts over `matched_docs`.
  std::map<std::string, std::vector<FacetValue>> facets(std::span<const std::uint32_t> matched_docs,
                                                        int max_values) const;

  // The table without dead rows; `remap[old]` is the new number or kNoValue.
  DocTable compacted(std::vector<std::uint32_t>* remap) const;

  // The numeric attributes' names (normalized keys), sorted.
  std::vector<std::string> numeric_attributes() const;
  bool has_numeric_attribute(const std::string& key) const { return attribute_names_.find(key).has_value(); }

  std::vector<std::uint8_t> serialize() const;
  // serialize().size(), computed without building the buffer.
  std::size_t serialized_bytes() const;
  static Result<DocTable> parse(std::span<const std::uint8_t> bytes, const std::string& name);

 private:
  void index_row(std::uint32_t doc);

  std::vector<DocRow> rows_;
  std::vector<float> live_priors_;  // parallel to rows_
  std::vector<std::string> external_ids_;
  Dictionary locales_, brands_, colors_, categories_;
  std::vector<std::uint32_t> category_parents_;  // per category node; kNoValue at the root
  std::unordered_map<std::uint32_t, std::uint32_t> by_product_;
  std::vector<float> prior_block_max_;
  float prior_max_ = 0.0f;
  std::int64_t live_count_ = 0;
  // Per name in attribute_names_: (document, value) in ascending document order.
  Dictionary attribute_names_;
  std::vector<std::vector<std::pair<std::uint32_t, float>>> numeric_;
};

template <typename Normalize, typename NormalizePath>
CompiledFilter DocTable::compile(const Filter& filter, Normalize&& normalize,
                                 NormalizePath&& normalize_path) const {
  CompiledFilter compiled;
  compiled.empty_ = filter.empty();
  if (compiled.empty_) return compiled;
  auto resolve = [&](const std::vector<std::string>& values, const Dictionary& dictionary,
                     std::vector<bool>* bits, bool normalized) {
    if (values.empty()) return;
    bits->assign(dictionary.size(), false);
    bool any = false;
    for (const std::string& value : values) {
      auto id = dictionary.find(normalized ? normalize(value) : value);
      if (id) {
        (*bits)[*id] = true;
        any = true;
      }
    }
    if (!any) compiled.impossible_ = true;
  };
  resolve(filter.locales, locales_, &compiled.locales_, false);
  resolve(filter.brands, brands_, &compiled.brands_, true);
  resolve(filter.colors, colors_, &compiled.colors_, true);
  if (!filter.categories.empty()) {
    std::vector<bool> chosen;
    std::vector<std::string> keys;
    for (const std::string& path : filter.categories) keys.push_back(normalize_path(path));
    resolve(keys, categories_, &chosen, false);
    // A node passes when it or an ancestor was chosen; parents precede children.
    compiled.categories_.assign(categories_.size(), false);
    for (std::uint32_t node = 0; node < categories_.size(); ++node) {
      std::uint32_t parent = category_parents_[node];
      compiled.categories_[node] = chosen[node] || (parent != kNoValue && compiled.categories_[parent]);
    }
  }
  compiled.min_price_ = filter.min_price;
  compiled.max_price_ = filter.max_price;
  if (!filter.attributes.empty()) {
    // A document passes when every range holds: count the ranges each document meets.
    std::vector<std::uint8_t> met(rows_.size(), 0);
    for (const AttributeRange& range : filter.attributes) {
      auto id = attribute_names_.find(normalize(range.name));
      if (!id) {
        compiled.impossible_ = true;
        continue;
      }
      for (const auto& [doc, value] : numeric_[*id]) {
        if ((range.min && value < *range.min) || (range.max && value > *range.max)) continue;
        ++met[doc];
      }
    }
    compiled.attribute_docs_.assign(rows_.size(), false);
    const std::size_t needed = filter.attributes.size();
    for (std::size_t doc = 0; doc < met.size(); ++doc) compiled.attribute_docs_[doc] = met[doc] == needed;
  }
  return compiled;
}

}  // namespace aisle::text
