#include "aisle/retrieve/vector_strategy.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "aisle/core/files.h"
#include "aisle/retrieve/lexical.h"

namespace aisle::retrieve {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

float esci_grade(const std::string& label) {
  if (label == "E") return 1.0f;
  if (label == "S") return 0.6f;
  if (label == "C") return 0.2f;
  return 0.0f;
}

}  // namespace

std::filesystem::path encoder_path(const std::filesystem::path& data_dir) { return data_dir / "models" / "encoder.bin"; }
std::filesystem::path vector_index_path(const std::filesystem::path& data_dir) { return data_dir / "index" / "vectors"; }
std::filesystem::path vector_versions_path(const std::filesystem::path& data_dir) { return data_dir / "index" / "vectors.versions"; }

Result<std::vector<GradedPair>> graded_pairs_from_store(store::Store& store, TrainingSetReport* report) {
  std::vector<store::StoredJudgment> judgments;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  AISLE_RETURN_IF_ERROR(store.for_each_judgment([&](store::StoredJudgment&& judgment) {
    if (judgment.split == "test") {
      ++report->held_out;
      return Status::ok();
    }
    if (judgment.label.empty()) {
      low = std::min(low, judgment.grade);
      high = std::max(high, judgment.grade);
    }
    judgments.push_back(std::move(judgment));
    return Status::ok();
  }));
  // Queries numbered in order of first appearance (judgments, then engagement); per (query,
  // product) the larger grade. The pairs come out by query number, then product id.
  std::map<std::pair<std::string, std::string>, std::uint32_t> query_index;  // (locale, text)
  std::vector<const std::pair<const std::pair<std::string, std::string>, std::uint32_t>*> queries;
  std::map<std::pair<std::uint32_t, std::uint32_t>, float> grades;
  auto add = [&](const std::string& query, const std::string& locale, ProductId product, float grade) {
    auto [it, inserted] = query_index.try_emplace({locale, query}, static_cast<std::uint32_t>(queries.size()));
    if (inserted) queries.push_back(&*it);
    float& kept = grades.try_emplace({it->second, product.value()}, grade).first->second;
    kept = std::max(kept, grade);
  };
  for (const store::StoredJudgment& judgment : judgments) {
    float grade = !judgment.label.empty() ? esci_grade(judgment.label)
                  : high > low            ? static_cast<float>((judgment.grade - low) / (high - low))
                                          : 1.0f;
    add(judgment.query, judgment.locale, judgment.product, grade);
    ++report->judgments;
  }
  AISLE_RETURN_IF_ERROR(store.for_each_engagement([&](store::Engagement&& engagement) {
    float grade = engagement.purchases > 0 ? 1.0f : engagement.add_to_carts > 0 ? 0.85f : engagement.clicks > 0 ? 0.6f : -1.0f;
    if (grade < 0) return Status::ok();
    add(engagement.query, engagement.locale, engagement.product, grade);
    ++report->engagement_pairs;
    return Status::ok();
  }));
  std::vector<GradedPair> pairs;
  pairs.reserve(grades.size());
  for (const auto& [key, grade] : grades) {
    const auto& [locale, query] = queries[key.first]->first;
    pairs.push_back(GradedPair{query, locale, ProductId(key.second), grade});
  }
  return pairs;
}

Result<models::TrainingSet> training_set_from_store(store::Store& store, TrainingSetReport* report) {
  models::TrainingSet set;
  std::unordered_map<std::uint32_t, std::uint32_t> product_index;
  AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) {
    product_index[product.id.value()] = static_cast<std::uint32_t>(set.products.size());
    set.products.push_back(to_document(product));
    return Status::ok();
  }));
  AISLE_ASSIGN_OR_RETURN(const std::vector<GradedPair> pairs, graded_pairs_from_store(store, report));
  std::map<std::pair<std::string, std::string>, std::uint32_t> query_index;  // (locale, text)
  std::map<std::pair<std::uint32_t, std::uint32_t>, float> grades;
  for (const GradedPair& pair : pairs) {
    auto found = product_index.find(pair.product.value());
    if (found == product_index.end()) continue;
    auto [it, inserted] = query_index.try_emplace({pair.locale, pair.query}, static_cast<std::uint32_t>(set.queries.size()));
    if (inserted) {
      set.queries.push_back(pair.query);
      set.query_locales.push_back(pair.locale);
    }
    grades.emplace(std::make_pair(it->second, found->second), pair.grade);
  }
  for (const auto& [key, grade] : grades) set.pairs.push_back(models::TrainingPair{key.first, key.second, grade});
  report->queries = static_cast<std::int64_t>(set.queries.size());
  report->products = static_cast<std::int64_t>(set.products.size());
  return set;
}

namespace {

// The index items of `documents` and their vectors (rows of `dim`); `categories` holds the
// path strings the items point into.
std::vector<vector::VectorItem> vector_items(std::span<const text::Document> documents, std::span<const float> vectors,
                                             std::size_t dim, std::vector<std::string>* categories) {
  categories->assign(documents.size(), std::string());
  std::vector<vector::VectorItem> items;
  items.reserve(documents.size());
  for (std::size_t i = 0; i < documents.size(); ++i) {
    (*categories)[i] = text::category_path_string(documents[i].category);
    items.push_back(vector::VectorItem{documents[i].product, documents[i].locale, (*categories)[i],
                                       vectors.subspan(i * dim, dim)});
  }
  return items;
}

// The versions file: "AISLEVV1", u64 count, count x (u32 product, u64 version) in product
// order, u64 checksum64 of everything before it; little-endian.
constexpr char kVersionsMagic[8] = {'A', 'I', 'S', 'L', 'E', 'V', 'V', '1'};

template <typename T>
void put(std::vector<std::uint8_t>* out, T value) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
  out->insert(out->end(), bytes, bytes + sizeof(T));
}

Status save_versions(const std::filesystem::path& path, const std::unordered_map<std::uint32_t, std::uint64_t>& versions) {
  std::vector<std::pair<std::uint32_t, std::uint64_t>> sorted(versions.begin(), versions.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::uint8_t> bytes(kVersionsMagic, kVersionsMagic + 8);
  put<std::uint64_t>(&bytes, sorted.size());
  for (const auto& [product, version] : sorted) {
    put<std::uint32_t>(&bytes, product);
    put<std::uint64_t>(&bytes, version);
  }
  put<std::uint64_t>(&bytes, checksum64(bytes));
  return write_file_atomically(path, bytes);
}

// kNotFound when there is no file; kCorruption naming it when it is damaged.
Result<std::unordered_map<std::uint32_t, std::uint64_t>> load_versions(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("no " + path.string());
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&](const std::string& why) {
    return Status::corruption(path.string() + ": " + why + " (run `aisle index` to rebuild the vectors)");
  };
  if (bytes.size() < 24 || !std::equal(kVersionsMagic, kVersionsMagic + 8, bytes.begin())) return corrupt("not a versions file");
  std::uint64_t count = 0, stored = 0;
  std::memcpy(&count, bytes.data() + 8, 8);
  if (count > (bytes.size() - 24) / 12 || bytes.size() != 24 + count * 12) return corrupt("truncated or of the wrong size");
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != checksum64(std::span<const std::uint8_t>(bytes.data(), bytes.size() - 8))) return corrupt("checksum mismatch");
  std::unordered_map<std::uint32_t, std::uint64_t> versions;
  versions.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint32_t product = 0;
    std::uint64_t version = 0;
    std::memcpy(&product, bytes.data() + 16 + i * 12, 4);
    std::memcpy(&version, bytes.data() + 20 + i * 12, 8);
    versions[product] = version;
  }
  return versions;
}

}  // namespace

Status build_vector_index(store::Store& store, const models::TextEncoder& encoder, const Context& context,
                          const std::filesystem::path& data_dir, VectorIndexReport* report) {
  std::vector<text::Document> documents;
  AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) {
    documents.push_back(to_document(product));
    return Status::ok();
  }));
  auto start = std::chrono::steady_clock::now();
  AISLE_ASSIGN_OR_RETURN(std::vector<float> vectors, encoder.encode_products(documents));
  report->encode_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  vector::VectorIndexOptions options;
  options.dim = encoder.dim();
  options.seed = context.seed();
  AISLE_ASSIGN_OR_RETURN(auto index, vector::VectorIndex::create(options));
  std::vector<std::string> categories;
  const std::vector<vector::VectorItem> items =
      vector_items(documents, vectors, static_cast<std::size_t>(encoder.dim()), &categories);
  AISLE_RETURN_IF_ERROR(index->add(items, context));
  AISLE_RETURN_IF_ERROR(index->save(vector_index_path(data_dir)));
  std::unordered_map<std::uint32_t, std::uint64_t> versions;
  for (const text::Document& document : documents) versions[document.product.value()] = document.version;
  AISLE_RETURN_IF_ERROR(save_versions(vector_versions_path(data_dir), versions));
  report->build_seconds = seconds_since(start);
  report->products = static_cast<std::int64_t>(documents.size());
  return Status::ok();
}

Result<std::unique_ptr<VectorStrategy>> VectorStrategy::open(const std::filesystem::path& data_dir, const Context& context) {
  if (!std::filesystem::exists(encoder_path(data_dir))) {
    return Status::not_found("no encoder in " + data_dir.string() + " (run `aisle train encoder`, then `aisle index`)");
  }
  if (!std::filesystem::exists(vector_index_path(data_dir) / "MANIFEST.json")) {
    return Status::not_found("no product vectors in " + data_dir.string() + " (run `aisle index` after `aisle train encoder`)");
  }
  AISLE_ASSIGN_OR_RETURN(auto encoder, models::TextEncoder::load(encoder_path(data_dir), context));
  AISLE_ASSIGN_OR_RETURN(auto index, vector::VectorIndex::open(vector_index_path(data_dir)));
  if (index->dim() != encoder->dim()) {
    return Status::corruption("the product vectors (dimension " + std::to_string(index->dim()) +
                              ") do not come from this encoder (dimension " + std::to_string(encoder->dim()) +
                              "); run `aisle index`");
  }
  auto strategy = std::make_unique<VectorStrategy>(std::move(encoder), std::move(index));
  auto versions = load_versions(vector_versions_path(data_dir));
  if (versions.is_ok()) {
    strategy->versions_ = std::move(*versions);
    strategy->versions_known_ = true;
  } else if (versions.status().code() != StatusCode::kNotFound) {
    return versions.status();
  }
  return strategy;
}

Result<std::vector<vector::Neighbor>> VectorStrategy::search(std::string_view query, std::string_view locale,
                                                             const vector::VectorSearchOptions& options) const {
  std::string text(query);
  AISLE_ASSIGN_OR_RETURN(std::vector<float> vector, encoder_->encode_queries(std::span<const std::string>(&text, 1), locale));
  return index_->search(vector, options);
}

Status VectorStrategy::upsert(std::span<const text::Document> documents, const Context& context) {
  if (documents.empty()) return Status::ok();
  AISLE_ASSIGN_OR_RETURN(std::vector<float> vectors, encoder_->encode_products(documents));
  std::vector<std::string> categories;
  const std::vector<vector::VectorItem> items =
      vector_items(documents, vectors, static_cast<std::size_t>(encoder_->dim()), &categories);
  // In chunks: each add() holds the index's writer lock and searches wait for it; one add()
  // of a whole 10,000-product batch would hold them off for all of its graph insertions.
  constexpr std::size_t kChunk = 256;
  for (std::size_t at = 0; at < items.size(); at += kChunk) {
    AISLE_RETURN_IF_ERROR(index_->add(std::span<const vector::VectorItem>(items).subspan(at, std::min(kChunk, items.size() - at)), context));
  }
  std::lock_guard lock(versions_mutex_);
  for (const text::Document& document : documents) versions_[document.product.value()] = document.version;
  return Status::ok();
}

void VectorStrategy::remove(std::span<const ProductId> products) {
  index_->remove(products);
  std::lock_guard lock(versions_mutex_);
  for (ProductId product : products) versions_.erase(product.value());
}

Status VectorStrategy::save(const std::filesystem::path& data_dir) const {
  AISLE_RETURN_IF_ERROR(index_->save(vector_index_path(data_dir)));
  std::lock_guard lock(versions_mutex_);
  return save_versions(vector_versions_path(data_dir), versions_);
}

Result<std::size_t> VectorStrategy::catch_up(store::Store& store, const Context& context) {
  std::vector<text::Document> stale;
  std::vector<ProductId> gone;
  {
    std::lock_guard lock(versions_mutex_);
    std::unordered_set<std::uint32_t> stored;
    AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) {
      stored.insert(product.id.value());
      text::Document document = to_document(product);
      bool current = index_->contains(product.id);
      if (current && versions_known_) {
        auto found = versions_.find(product.id.value());
        current = found != versions_.end() && found->second == document.version;
      } else if (current) {
        versions_[product.id.value()] = document.version;  // no versions file yet: taken as current
      }
      if (!current) stale.push_back(std::move(document));
      return Status::ok();
    }));
    if (versions_known_) {
      for (const auto& [product, version] : versions_) {
        if (!stored.contains(product)) gone.emplace_back(product);
      }
    }
    versions_known_ = true;
  }
  if (!gone.empty()) remove(gone);
  AISLE_RETURN_IF_ERROR(upsert(stale, context));
  return stale.size();
}

std::string strategy_names(std::uint32_t found_by) {
  std::string names;
  const char* all[kStrategyBits] = {"lexical", "structured", "vector", "memory", "graph", "popularity"};
  for (int bit = 0; bit < kStrategyBits; ++bit) {
    if ((found_by & (1u << bit)) == 0) continue;
    if (!names.empty()) names += "+";
    names += all[bit];
  }
  return names;
}

std::vector<FusedHit> fuse(std::span<const RankedList> lists, std::size_t k, double rrf_k) {
  std::unordered_map<std::uint32_t, FusedHit> by_product;
  for (const RankedList& list : lists) {
    const int bit = std::countr_zero(list.strategy);
    for (std::size_t rank = 0; rank < list.products.size(); ++rank) {
      FusedHit& hit = by_product[list.products[rank].value()];
      hit.product = list.products[rank];
      if (hit.found_by & list.strategy) continue;  // a product listed twice by one strategy counts once
      hit.found_by |= list.strategy;
      hit.score += 1.0 / (rrf_k + static_cast<double>(rank + 1));
      if (bit < kStrategyBits) {
        hit.ranks[bit] = static_cast<int>(rank + 1);
        hit.scores[bit] = rank < list.scores.size() ? list.scores[rank] : 0.0f;
      }
    }
  }
  std::vector<FusedHit> hits;
  hits.reserve(by_product.size());
  for (auto& [id, hit] : by_product) hits.push_back(hit);
  std::sort(hits.begin(), hits.end(), [](const FusedHit& a, const FusedHit& b) {
    return a.score != b.score ? a.score > b.score : a.product < b.product;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

}  // namespace aisle::retrieve
