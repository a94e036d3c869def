#include "aisle/retrieve/memory.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <fstream>
#include <iterator>

#include "aisle/core/files.h"
#include "aisle/retrieve/lexical.h"

namespace aisle::retrieve {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'M', 'E', 'M', '1'};
constexpr double kMsPerDay = 86400000.0;
// Scores are kept as multiples of 2^((ts - reference) / half_life); past this exponent the
// reference moves forward and every score is rescaled.
constexpr double kMaxExponent = 500.0;

// Little-endian binary writer / reader of the file.
struct Writer {
  std::string out;
  void u32(std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
  void i64(std::int64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
  void f64(double v) { out.append(reinterpret_cast<const char*>(&v), 8); }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out += s;
  }
};

struct Reader {
  const std::string& in;
  std::size_t at = 0;
  bool ok = true;
  template <typename T>
  T pod() {
    T v{};
    if (at + sizeof(T) > in.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, in.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string str() {
    const auto n = pod<std::uint32_t>();
    if (!ok || at + n > in.size()) {
      ok = false;
      return {};
    }
    std::string s = in.substr(at, n);
    at += n;
    return s;
  }
};

}  // namespace

std::filesystem::path memory_path(const std::filesystem::path& data_dir) { return index_path(data_dir) / "memory.bin"; }

std::string memory_key(std::string_view locale, std::span<const std::string> terms) {
  if (terms.empty()) return {};
  std::string key(locale);
  key += '|';
  for (std::size_t i = 0; i < terms.size(); ++i) {
    if (i > 0) key += ' ';
    key += terms[i];
  }
  return key;
}

MemoryIndex::MemoryIndex(const MemoryConfig& config) : config_(config) {}

void MemoryIndex::set_propensities(std::vector<double> by_position) { propensities_ = std::move(by_position); }

double MemoryIndex::weight(io::EventType type) const {
  switch (type) {
    case io::EventType::kClick: return config_.click_weight;
    case io::EventType::kAddToCart: return config_.add_to_cart_weight;
    case io::EventType::kPurchase: return config_.purchase_weight;
    case io::EventType::kImpression: return 0.0;
  }
  return 0.0;
}

void MemoryIndex::rescale(std::int64_t ts_ms) {
  const double factor = std::exp2(-static_cast<double>(ts_ms - reference_ms_) / (config_.half_life_days * kMsPerDay));
  for (auto& [key, products] : entries_) {
    for (auto& [product, entry] : products) entry.score *= factor;
  }
  reference_ms_ = ts_ms;
}

void MemoryIndex::add(const std::string& key, ProductId product, io::EventType type, int position, std::int64_t ts_ms) {
  if (key.empty()) return;
  ++events_;
  if (type == io::EventType::kImpression) {
    if (position == 1) ++frequency_[key];
    return;
  }
  if (!has_reference_) reference_ms_ = ts_ms, has_reference_ = true;
  double exponent = static_cast<double>(ts_ms - reference_ms_) / (config_.half_life_days * kMsPerDay);
  if (exponent > kMaxExponent) {
    rescale(ts_ms);
    exponent = 0;
  }
  double propensity = 1.0;
  if (position >= 1 && !propensities_.empty()) {
    propensity = propensities_[std::min(static_cast<std::size_t>(position), propensities_.size()) - 1];
  }
  propensity = std::max(propensity, config_.min_propensity);
  entries_[key][product.value()].score += weight(type) / propensity * std::exp2(exponent);
  engaged_.insert(product.value());
}

void MemoryIndex::add_predicted(const std::string& key, ProductId product, double probability) {
  if (key.empty()) return;
  predicted_.insert(product.value());
  Entry& entry = entries_[key][product.value()];
  entry.predicted = std::max(entry.predicted, config_.predicted_weight * std::clamp(probability, 0.0, 1.0));
}

std::vector<MemoryHit> MemoryIndex::lookup(const std::string& key, int k, std::int64_t now_ms) const {
  std::vector<MemoryHit> hits;
  auto found = entries_.find(key);
  if (found == entries_.end() || k <= 0) return hits;
  const double decay = has_reference_ ? std::exp2(-static_cast<double>(now_ms - reference_ms_) / (config_.half_life_days * kMsPerDay)) : 1.0;
  for (const auto& [product, entry] : found->second) {
    if (engaged_.contains(product)) {
      if (entry.score > 0) hits.push_back({ProductId(product), entry.score * decay, false});
    } else if (entry.predicted > 0) {
      hits.push_back({ProductId(product), entry.predicted, true});
    }
  }
  auto better = [](const MemoryHit& a, const MemoryHit& b) {
    return a.score != b.score ? a.score > b.score : a.product.value() < b.product.value();
  };
  if (hits.size() > static_cast<std::size_t>(k)) {
    std::partial_sort(hits.begin(), hits.begin() + k, hits.end(), better);
    hits.resize(static_cast<std::size_t>(k));
  } else {
    std::sort(hits.begin(), hits.end(), better);
  }
  return hits;
}

std::int64_t MemoryIndex::frequency(const std::string& key) const {
  auto found = frequency_.find(key);
  return found == frequency_.end() ? 0 : found->second;
}

std::size_t MemoryIndex::num_entries() const {
  std::size_t n = 0;
  for (const auto& [key, products] : entries_) n += products.size();
  return n;
}

Status MemoryIndex::save(const std::filesystem::path& path) const {
  Writer w;
  w.out.append(kMagic, sizeof(kMagic));
  w.u32(kFormatVersion);
  w.f64(config_.click_weight), w.f64(config_.add_to_cart_weight), w.f64(config_.purchase_weight);
  w.f64(config_.half_life_days), w.f64(config_.min_propensity), w.f64(config_.predicted_weight);
  w.u32(static_cast<std::uint32_t>(propensities_.size()));
  for (double p : propensities_) w.f64(p);
  w.i64(reference_ms_), w.u32(has_reference_), w.i64(events_), w.i64(last_event_id_);
  // Keys in sorted order, so the same index writes the same bytes.
  std::vector<const std::string*> keys;
  for (const auto& [key, products] : entries_) keys.push_back(&key);
  for (const auto& [key, count] : frequency_) {
    if (!entries_.contains(key)) keys.push_back(&key);
  }
  std::sort(keys.begin(), keys.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  w.u32(static_cast<std::uint32_t>(keys.size()));
  for (const std::string* key : keys) {
    w.str(*key);
    w.i64(frequency(*key));
    std::vector<std::pair<std::uint32_t, Entry>> products;
    if (auto found = entries_.find(*key); found != entries_.end()) products.assign(found->second.begin(), found->second.end());
    std::sort(products.begin(), products.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    w.u32(static_cast<std::uint32_t>(products.size()));
    for (const auto& [product, entry] : products) w.u32(product), w.f64(entry.score), w.f64(entry.predicted);
  }
  std::vector<std::uint32_t> engaged(engaged_.begin(), engaged_.end());
  std::sort(engaged.begin(), engaged.end());
  w.u32(static_cast<std::uint32_t>(engaged.size()));
  for (std::uint32_t p : engaged) w.u32(p);
  const std::uint64_t sum = checksum64(std::span(reinterpret_cast<const std::uint8_t*>(w.out.data()), w.out.size()));
  w.out.append(reinterpret_cast<const char*>(&sum), 8);
  return write_file_atomically(path, w.out);
}

Result<std::unique_ptr<MemoryIndex>> MemoryIndex::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(path.string() + ": no memory index (run `aisle index` after ingesting events)");
  const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& why) { return Status::corruption(path.string() + ": " + why); };
  if (data.size() < sizeof(kMagic) + 12 || std::memcmp(data.data(), kMagic, sizeof(kMagic)) != 0) return corrupt("not an Aisle memory index");
  std::uint64_t stored = 0;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != checksum64(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size() - 8))) return corrupt("checksum mismatch");
  Reader r{data, sizeof(kMagic)};
  if (r.pod<std::uint32_t>() != kFormatVersion) return corrupt("unknown format version");
  MemoryConfig config;
  config.click_weight = r.pod<double>(), config.add_to_cart_weight = r.pod<double>(), config.purchase_weight = r.pod<double>();
  config.half_life_days = r.pod<double>(), config.min_propensity = r.pod<double>(), config.predicted_weight = r.pod<double>();
  auto index = std::make_unique<MemoryIndex>(config);
  const auto positions = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < positions && r.ok; ++i) index->propensities_.push_back(r.pod<double>());
  index->reference_ms_ = r.pod<std::int64_t>();
  index->has_reference_ = r.pod<std::uint32_t>() != 0;
  index->events_ = r.pod<std::int64_t>();
  index->last_event_id_ = r.pod<std::int64_t>();
  const auto keys = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < keys && r.ok; ++i) {
    std::string key = r.str();
    const auto frequency = r.pod<std::int64_t>();
    if (frequency > 0) index->frequency_[key] = frequency;
    const auto products = r.pod<std::uint32_t>();
    if (products > 0 && r.ok) {
      auto& map = index->entries_[key];
      for (std::uint32_t j = 0; j < products && r.ok; ++j) {
        const auto product = r.pod<std::uint32_t>();
        Entry entry;
        entry.score = r.pod<double>();
        entry.predicted = r.pod<double>();
        if (entry.predicted > 0) index->predicted_.insert(product);
        map[product] = entry;
      }
    }
  }
  const auto engaged = r.pod<std::uint32_t>();
  for (std::uint32_t i = 0; i < engaged && r.ok; ++i) index->engaged_.insert(r.pod<std::uint32_t>());
  if (!r.ok || r.at != data.size() - 8) return corrupt("truncated or malformed");
  return index;
}

std::vector<std::string> candidate_queries(text::Analyzer& analyzer, const text::Document& document) {
  std::vector<std::string> out;
  auto add = [&](const std::vector<std::string>& terms) {
    std::string key = memory_key(analyzer.locale(), terms);
    if (!key.empty() && std::find(out.begin(), out.end(), key) == out.end()) out.push_back(std::move(key));
  };
  const std::vector<std::string> title = analyzer.terms(document.title);
  for (std::size_t n : {2, 3}) {
    if (title.size() >= n) add(std::vector<std::string>(title.begin(), title.begin() + static_cast<long>(n)));
  }
  const std::vector<std::string> category =
      document.category.empty() ? std::vector<std::string>{} : analyzer.terms(document.category.back());
  const std::vector<std::string> brand = analyzer.terms(document.brand);
  if (!brand.empty() && !category.empty()) {
    std::vector<std::string> terms = brand;
    terms.insert(terms.end(), category.begin(), category.end());
    add(terms);
  }
  if (!category.empty() && !title.empty()) {
    std::vector<std::string> terms = category;
    if (std::find(terms.begin(), terms.end(), title.front()) == terms.end()) terms.insert(terms.begin(), title.front());
    add(terms);
  }
  return out;
}

Status add_stored_events(store::Store& store, MemoryIndex* index, MemoryBuildReport* report) {
  std::unordered_map<std::string, std::unique_ptr<text::Analyzer>> analyzers;
  std::unordered_map<std::string, std::string> keys;  // "locale\tquery" -> memory key
  // Stores written before the readers refused far-future times may hold some: one such event
  // would rescale every other score to zero, so the index leaves them out.
  const std::int64_t latest = io::latest_event_ts_ms();
  return store.for_each_event(index->last_event_id(), [&](store::StoredEvent&& event) -> Status {
    ++report->events_read;
    index->set_last_event_id(event.event_id);
    if (event.query.empty() || !event.product || event.ts_ms > latest) {
      ++report->events_skipped;
      return Status::ok();
    }
    const std::string cache_key = event.locale + '\t' + event.query;
    auto cached = keys.find(cache_key);
    if (cached == keys.end()) {
      auto& analyzer = analyzers[event.locale];
      if (!analyzer) {
        auto created = text::Analyzer::create(event.locale);
        if (!created.is_ok()) {  // a locale no analyzer knows: the event cannot be keyed
          ++report->events_skipped;
          return Status::ok();
        }
        analyzer = std::move(*created);
      }
      cached = keys.emplace(cache_key, memory_key(event.locale, analyzer->terms(event.query))).first;
    }
    index->add(cached->second, *event.product, event.type, event.position, event.ts_ms);
    return Status::ok();
  });
}

Result<std::unique_ptr<MemoryIndex>> update_memory_index(store::Store& store, const std::filesystem::path& data_dir,
                                                         const MemoryConfig& config, std::vector<double> propensities,
                                                         const RelevanceScorer* scorer, bool rebuild,
                                                         const Context& context, MemoryBuildReport* report) {
  (void)context;
  const auto start = std::chrono::steady_clock::now();
  MemoryBuildReport local;
  MemoryBuildReport& r = report ? *report : local;
  r = MemoryBuildReport{};
  const std::filesystem::path path = memory_path(data_dir);
  std::unique_ptr<MemoryIndex> index;
  if (!rebuild) {
    auto loaded = MemoryIndex::load(path);
    if (loaded.is_ok()) {
      index = std::move(*loaded);
    } else if (loaded.status().code() != StatusCode::kNotFound) {
      return loaded.status();
    }
  }
  if (!index) {
    index = std::make_unique<MemoryIndex>(config);
    r.created = true;
  }
  index->set_propensities(std::move(propensities));
  // Analyzers per locale, made on first use.
  std::unordered_map<std::string, std::unique_ptr<text::Analyzer>> analyzers;
  auto analyzer_for = [&](const std::string& locale) -> Result<text::Analyzer*> {
    auto& slot = analyzers[locale];
    if (!slot) {
      AISLE_ASSIGN_OR_RETURN(slot, text::Analyzer::create(locale));
    }
    return slot.get();
  };
  AISLE_RETURN_IF_ERROR(add_stored_events(store, index.get(), &r));
  if (scorer != nullptr) {
    AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) -> Status {
      if (index->has_engagement(product.id) || index->has_predictions(product.id)) return Status::ok();
      const text::Document document = to_document(product);
      auto analyzer = analyzer_for(document.locale);
      if (!analyzer.is_ok()) return Status::ok();
      const std::vector<std::string> queries = candidate_queries(**analyzer, document);
      if (queries.empty()) return Status::ok();
      AISLE_ASSIGN_OR_RETURN(std::vector<double> probabilities, (*scorer)(document, queries));
      if (probabilities.size() != queries.size()) return Status::internal("relevance scorer: one probability per query expected");
      for (std::size_t i = 0; i < queries.size(); ++i) {
        index->add_predicted(queries[i], product.id, probabilities[i]);
        ++r.predicted;
      }
      return Status::ok();
    }));
  }
  std::error_code error;
  std::filesystem::create_directories(path.parent_path(), error);
  if (error) return Status::io_error("cannot create " + path.parent_path().string() + ": " + error.message());
  AISLE_RETURN_IF_ERROR(index->save(path));
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return index;
}

}  // namespace aisle::retrieve
