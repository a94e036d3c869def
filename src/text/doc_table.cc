#include "doc_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "file_util.h"

namespace aisle::text {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'D', 'O', 'C'};
// 2 added the numeric attribute columns; a version 1 table reads as one without them.
constexpr std::uint32_t kDocTableVersion = 2;

// Price facet buckets follow the prices counted: bounds near their quintiles, rounded to
// "nice" numbers (1, 2, 2.5 or 5 times a power of ten), so dollars and yen both get useful
// ranges (10-25 for socks, 2,000-5,000 for yen). Upper bounds are exclusive; the last bucket
// is open.
double nice_bound(double value) {
  const double scale = std::pow(10.0, std::floor(std::log10(value)));
  double best = scale;
  for (double step : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (std::abs(step * scale - value) < std::abs(best - value)) best = step * scale;
  }
  return best;
}

std::vector<double> price_bounds(std::vector<float> prices) {
  std::vector<double> bounds;
  if (prices.size() < 2) return bounds;
  std::sort(prices.begin(), prices.end());
  for (double quantile : {0.2, 0.4, 0.6, 0.8}) {
    const double value = prices[static_cast<std::size_t>(quantile * static_cast<double>(prices.size()))];
    if (value <= 0) continue;
    const double bound = nice_bound(value);
    if (bound > prices.front() && bound <= prices.back() && (bounds.empty() || bound > bounds.back())) bounds.push_back(bound);
  }
  return bounds;
}

std::string bound_label(double bound) {
  if (bound == std::floor(bound) && std::abs(bound) < 1e15) return std::to_string(static_cast<long long>(bound));
  char text[64];
  std::snprintf(text, sizeof(text), "%.2f", bound);
  std::string out = text;
  while (out.back() == '0') out.pop_back();
  if (out.back() == '.') out.pop_back();
  return out;
}

class Writer {
 public:
  template <typename T>
  void put(const T& value) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
    out.insert(out.end(), bytes, bytes + sizeof(T));
  }
  void put_string(const std::string& text) {
    put(static_cast<std::uint32_t>(text.size()));
    out.insert(out.end(), text.begin(), text.end());
  }
  std::vector<std::uint8_t> out;
};

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, std::size_t at) : bytes_(bytes), at_(at) {}
  template <typename T>
  bool get(T* value) {
    if (bytes_.size() - at_ < sizeof(T)) return false;
    std::memcpy(value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return true;
  }
  bool get_string(std::string* text) {
    std::uint32_t length = 0;
    if (!get(&length) || bytes_.size() - at_ < length) return false;
    text->assign(reinterpret_cast<const char*>(bytes_.data() + at_), length);
    at_ += length;
    return true;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_;
};

void write_dictionary(Writer* writer, const Dictionary& dictionary) {
  writer->put(static_cast<std::uint32_t>(dictionary.size()));
  for (std::uint32_t id = 0; id < dictionary.size(); ++id) {
    writer->put_string(dictionary.key(id));
    writer->put_string(dictionary.display(id));
  }
}

bool read_dictionary(Reader* reader, Dictionary* dictionary) {
  std::uint32_t count = 0;
  if (!reader->get(&count)) return false;
  for (std::uint32_t id = 0; id < count; ++id) {
    std::string key, display;
    if (!reader->get_string(&key) || !reader->get_string(&display)) return false;
    if (dictionary->intern(key, display) != id) return false;  // duplicate keys
  }
  return true;
}

}  // namespace

std::uint32_t Dictionary::intern(const std::string& key, const std::string& display) {
  auto [it, inserted] = ids_.try_emplace(key, static_cast<std::uint32_t>(keys_.size()));
  if (inserted) {
    keys_.push_back(key);
    displays_.push_back(display);
  }
  return it->second;
}

std::optional<std::uint32_t> Dictionary::find(const std::string& key) const {
  auto found = ids_.find(key);
  if (found == ids_.end()) return std::nullopt;
  return found->second;
}

std::optional<float> numeric_value(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.front() == '+') value.remove_prefix(1);
  double number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number, std::chars_format::fixed);
  if (error != std::errc() || end != value.data() + value.size() || !std::isfinite(number) ||
      std::abs(number) > 3.0e38) {
    return std::nullopt;
  }
  return static_cast<float>(number);
}

bool CompiledFilter::accepts(std::uint32_t doc, const DocRow& row) const {
  if (empty_) return true;
  if (impossible_) return false;
  if (!attribute_docs_.empty() && (doc >= attribute_docs_.size() || !attribute_docs_[doc])) return false;
  if (!locales_.empty() && !locales_[row.locale]) return false;
  if (!brands_.empty() && (row.brand == kNoValue || !brands_[row.brand])) return false;
  if (!colors_.empty() && (row.color == kNoValue || !colors_[row.color])) return false;
  if (!categories_.empty() && (row.category == kNoValue || !categories_[row.category])) return false;
  if (min_price_ || max_price_) {
    if (std::isnan(row.price)) return false;
    if (min_price_ && row.price < *min_price_) return false;
    if (max_price_ && row.price > *max_price_) return false;
  }
  return true;
}

std::uint32_t DocTable::add(const Document& document, const std::string& brand_key, const std::string& color_key,
                            const std::vector<std::string>& category_keys, float prior,
                            const std::vector<std::pair<std::string, float>>& numeric) {
  DocRow row;
  row.product = document.product.value();
  row.locale = static_cast<std::uint16_t>(locales_.intern(document.locale, document.locale));
  if (!brand_key.empty()) row.brand = brands_.intern(brand_key, document.brand);
  if (!color_key.empty()) row.color = colors_.intern(color_key, document.color);
  std::uint32_t parent = kNoValue;
  std::string display;
  for (std::size_t level = 0; level < category_keys.size(); ++level) {
    if (level > 0) display += " > ";
    display += document.category[level];
    std::uint32_t node = categories_.intern(category_keys[level], display);
    if (node == category_parents_.size()) category_parents_.push_back(parent);
    parent = node;
  }
  row.category = parent;
  if (document.price) row.price = static_cast<float>(*document.price);
  row.prior = prior;
  row.version = document.version;
  rows_.push_back(row);
  external_ids_.push_back(document.external_id);
  auto doc = static_cast<std::uint32_t>(rows_.size() - 1);
  for (const auto& [name, value] : numeric) {
    const std::uint32_t id = attribute_names_.intern(name, name);
    if (id == numeric_.size()) numeric_.emplace_back();
    // One value per name and document: the first.
    if (numeric_[id].empty() || numeric_[id].back().first != doc) numeric_[id].emplace_back(doc, value);
  }
  index_row(doc);
  return doc;
}

void DocTable::index_row(std::uint32_t doc) {
  const DocRow& row = rows_[doc];
  if (prior_block_max_.size() <= (doc >> 7)) prior_block_max_.resize((doc >> 7) + 1, 0.0f);
  prior_block_max_[doc >> 7] = std::max(prior_block_max_[doc >> 7], row.prior);
  prior_max_ = std::max(prior_max_, row.prior);
  if (live_priors_.size() <= doc) live_priors_.resize(doc + 1, std::nanf(""));
  live_priors_[doc] = row.live ? row.prior : std::nanf("");
  if (row.live) {
    by_product_[row.product] = doc;
    ++live_count_;
  }
}

std::uint32_t DocTable::find(ProductId product) const {
  auto found = by_product_.find(product.value());
  return found == by_product_.end() ? kNoValue : found->second;
}

void DocTable::kill(std::uint32_t doc) {
  if (!rows_[doc].live) return;
  rows_[doc].live = 0;
  live_priors_[doc] = std::nanf("");
  --live_count_;
  auto found = by_product_.find(rows_[doc].product);
  if (found != by_product_.end() && found->second == doc) by_product_.erase(found);
}

std::map<std::string, std::vector<FacetValue>> DocTable::facets(std::span<const std::uint32_t> matched_docs,
                                                                int max_values) const {
  std::vector<std::int64_t> locale_counts(locales_.size()), brand_counts(brands_.size()),
      color_counts(colors_.size()), category_counts(categories_.size());
  std::vector<float> prices;
  for (std::uint32_t doc : matched_docs) {
    const DocRow& row = rows_[doc];
    ++locale_counts[row.locale];
    if (row.brand != kNoValue) ++brand_counts[row.brand];
    if (row.color != kNoValue) ++color_counts[row.color];
    for (std::uint32_t node = row.category; node != kNoValue; node = category_parents_[node]) {
      ++category_counts[node];
    }
    if (!std::isnan(row.price)) prices.push_back(row.price);
  }
  auto top = [max_values](const std::vector<std::int64_t>& counts, const Dictionary& dictionary) {
    std::vector<FacetValue> values;
    for (std::uint32_t id = 0; id < counts.size(); ++id) {
      if (counts[id] > 0) values.push_back({dictionary.display(id), counts[id]});
    }
    std::sort(values.begin(), values.end(), [](const FacetValue& a, const FacetValue& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    });
    if (values.size() > static_cast<std::size_t>(max_values)) values.resize(static_cast<std::size_t>(max_values));
    return values;
  };
  std::map<std::string, std::vector<FacetValue>> out;
  out["locale"] = top(locale_counts, locales_);
  out["brand"] = top(brand_counts, brands_);
  out["color"] = top(color_counts, colors_);
  out["category"] = top(category_counts, categories_);
  const std::vector<double> bounds = price_bounds(prices);
  std::vector<std::int64_t> price_counts(bounds.size() + 1);
  for (float price : prices) {
    std::size_t bucket = 0;
    while (bucket < bounds.size() && price >= bounds[bucket]) ++bucket;
    ++price_counts[bucket];
  }
  std::vector<FacetValue> price_values;
  for (std::size_t bucket = 0; bucket < price_counts.size(); ++bucket) {
    if (price_counts[bucket] == 0) continue;
    const auto [low, high] = std::minmax_element(prices.begin(), prices.end());
    (void)high;
    // One bucket (too few distinct prices for bounds): every price from the lowest on.
    std::string label = bounds.empty()              ? bound_label(*low) + "+"
                        : bucket == 0               ? "<" + bound_label(bounds[0])
                        : bucket == bounds.size()   ? bound_label(bounds[bucket - 1]) + "+"
                                                    : bound_label(bounds[bucket - 1]) + "-" + bound_label(bounds[bucket]);
    price_values.push_back({label, price_counts[bucket]});
  }
  out["price"] = price_values;
  return out;
}

DocTable DocTable::compacted(std::vector<std::uint32_t>* remap) const {
  DocTable out;
  out.locales_ = locales_;
  out.brands_ = brands_;
  out.colors_ = colors_;
  out.categories_ = categories_;
  out.category_parents_ = category_parents_;
  remap->assign(rows_.size(), kNoValue);
  for (std::uint32_t doc = 0; doc < rows_.size(); ++doc) {
    if (!rows_[doc].live) continue;
    (*remap)[doc] = static_cast<std::uint32_t>(out.rows_.size());
    out.rows_.push_back(rows_[doc]);
    out.external_ids_.push_back(external_ids_[doc]);
    out.index_row(static_cast<std::uint32_t>(out.rows_.size() - 1));
  }
  out.attribute_names_ = attribute_names_;
  out.numeric_.resize(numeric_.size());
  for (std::size_t id = 0; id < numeric_.size(); ++id) {
    for (const auto& [doc, value] : numeric_[id]) {
      if ((*remap)[doc] != kNoValue) out.numeric_[id].emplace_back((*remap)[doc], value);
    }
  }
  return out;
}

std::vector<std::string> DocTable::numeric_attributes() const {
  std::vector<std::string> names;
  for (std::uint32_t id = 0; id < attribute_names_.size(); ++id) names.push_back(attribute_names_.key(id));
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::uint8_t> DocTable::serialize() const {
  Writer writer;
  writer.out.insert(writer.out.end(), kMagic, kMagic + sizeof(kMagic));
  writer.put(kDocTableVersion);
  writer.put(std::uint32_t{0});
  writer.put(std::uint64_t{0});  // checksum, filled below
  writer.put(static_cast<std::uint64_t>(rows_.size()));
  write_dictionary(&writer, locales_);
  write_dictionary(&writer, brands_);
  write_dictionary(&writer, colors_);
  write_dictionary(&writer, categories_);
  for (std::uint32_t parent : category_parents_) writer.put(parent);
  for (const DocRow& row : rows_) writer.put(row);
  for (const std::string& id : external_ids_) writer.put_string(id);
  write_dictionary(&writer, attribute_names_);
  for (const auto& column : numeric_) {
    writer.put(static_cast<std::uint64_t>(column.size()));
    for (const auto& [doc, value] : column) {
      writer.put(doc);
      writer.put(value);
    }
  }
  std::uint64_t checksum = checksum64(std::span<const std::uint8_t>(writer.out).subspan(24));
  std::memcpy(writer.out.data() + 16, &checksum, sizeof(checksum));
  return std::move(writer.out);
}

std::size_t DocTable::serialized_bytes() const {
  auto dictionary_bytes = [](const Dictionary& dictionary) {
    std::size_t bytes = sizeof(std::uint32_t);
    for (std::uint32_t id = 0; id < dictionary.size(); ++id) {
      bytes += 2 * sizeof(std::uint32_t) + dictionary.key(id).size() + dictionary.display(id).size();
    }
    return bytes;
  };
  std::size_t bytes = 32 + dictionary_bytes(locales_) + dictionary_bytes(brands_) + dictionary_bytes(colors_) +
                      dictionary_bytes(categories_) + category_parents_.size() * sizeof(std::uint32_t) +
                      rows_.size() * sizeof(DocRow);
  for (const std::string& id : external_ids_) bytes += sizeof(std::uint32_t) + id.size();
  bytes += dictionary_bytes(attribute_names_);
  for (const auto& column : numeric_) bytes += sizeof(std::uint64_t) + column.size() * 2 * sizeof(std::uint32_t);
  return bytes;
}

Result<DocTable> DocTable::parse(std::span<const std::uint8_t> bytes, const std::string& name) {
  auto corrupt = [&](const std::string& what) {
    return Status::corruption("index document table " + name + ": " + what);
  };
  if (bytes.size() < 32 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt("not an Aisle document table (bad magic)");
  }
  std::uint32_t version = 0;
  std::memcpy(&version, bytes.data() + 8, sizeof(version));
  if (version != kDocTableVersion && version != 1) {
    return corrupt("format version " + std::to_string(version) + ", expected " + std::to_string(kDocTableVersion));
  }
  std::uint64_t checksum = 0;
  std::memcpy(&checksum, bytes.data() + 16, sizeof(checksum));
  if (checksum64(bytes.subspan(24)) != checksum) return corrupt("checksum mismatch");
  Reader reader(bytes, 24);
  std::uint64_t num_rows = 0;
  DocTable table;
  if (!reader.get(&num_rows) || !read_dictionary(&reader, &table.locales_) ||
      !read_dictionary(&reader, &table.brands_) || !read_dictionary(&reader, &table.colors_) ||
      !read_dictionary(&reader, &table.categories_)) {
    return corrupt("truncated dictionaries");
  }
  table.category_parents_.resize(table.categories_.size());
  for (std::uint32_t node = 0; node < table.category_parents_.size(); ++node) {
    std::uint32_t& parent = table.category_parents_[node];
    if (!reader.get(&parent)) return corrupt("truncated category tree");
    if (parent != kNoValue && parent >= node) return corrupt("category tree is not ordered parent first");
  }
  if (num_rows > bytes.size() / sizeof(DocRow)) return corrupt("row count larger than the file");
  table.rows_.resize(num_rows);
  table.external_ids_.resize(num_rows);
  for (DocRow& row : table.rows_) {
    if (!reader.get(&row)) return corrupt("truncated rows");
    if (row.locale >= table.locales_.size() || (row.brand != kNoValue && row.brand >= table.brands_.size()) ||
        (row.color != kNoValue && row.color >= table.colors_.size()) ||
        (row.category != kNoValue && row.category >= table.categories_.size())) {
      return corrupt("row refers to a dictionary entry that does not exist");
    }
  }
  for (std::string& id : table.external_ids_) {
    if (!reader.get_string(&id)) return corrupt("truncated external ids");
  }
  if (version >= 2) {
    if (!read_dictionary(&reader, &table.attribute_names_)) return corrupt("truncated attribute names");
    table.numeric_.resize(table.attribute_names_.size());
    for (auto& column : table.numeric_) {
      std::uint64_t count = 0;
      if (!reader.get(&count) || count > num_rows) return corrupt("truncated or oversized attribute column");
      column.resize(count);
      std::uint32_t previous = 0;
      for (std::size_t i = 0; i < count; ++i) {
        auto& [doc, value] = column[i];
        if (!reader.get(&doc) || !reader.get(&value)) return corrupt("truncated attribute column");
        if (doc >= num_rows || (i > 0 && doc <= previous) || !std::isfinite(value)) {
          return corrupt("attribute column out of order or out of range");
        }
        previous = doc;
      }
    }
  }
  if (!reader.done()) return corrupt("trailing bytes");
  for (std::uint32_t doc = 0; doc < num_rows; ++doc) table.index_row(doc);
  return table;
}

}  // namespace aisle::text
