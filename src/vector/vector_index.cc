#include "aisle/vector/vector_index.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "aisle/core/check.h"
#include "aisle/core/files.h"
#include "item_table.h"

namespace aisle::vector {
namespace {

// A whole number of the manifest in [low, high]; nullopt for anything else (a float, a string,
// out of range: a cast of those would be undefined).
std::optional<std::uint64_t> whole(const nlohmann::json& json, const char* key, std::uint64_t low, std::uint64_t high) {
  if (!json.is_object() || !json.contains(key)) return std::nullopt;
  const nlohmann::json& value = json[key];
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v >= low && v <= high) return v;
  } else if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    if (v >= 0 && static_cast<std::uint64_t>(v) >= low && static_cast<std::uint64_t>(v) <= high) return static_cast<std::uint64_t>(v);
  }
  return std::nullopt;
}


constexpr int kFormatVersion = 1;
constexpr const char* kFormatName = "aisle-vector-index";

// A plain dot product with independent accumulators, so the compiler vectorizes it; the exact
// index uses it instead of hnswlib's kernels so that the twin shares no search code.
float dot(const float* a, const float* b, int dim) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= dim; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float total = 0;
  for (; i < dim; ++i) total += a[i] * b[i];
  for (float value : acc) total += value;
  return total;
}

Result<std::vector<std::uint8_t>> read_whole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found("cannot open " + path.string());
  in.seekg(0, std::ios::end);
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!in) return Status::io_error("cannot read " + path.string());
  return bytes;
}

// Checks a batch before anything of it is applied; returns the prepared (normalized) vectors,
// one row per item, keeping only the last occurrence of a product repeated in the batch.
Result<std::vector<std::size_t>> validate(std::span<const VectorItem> items, const VectorIndexOptions& options,
                                          std::vector<float>* prepared) {
  std::unordered_map<std::uint32_t, std::size_t> last;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const VectorItem& item = items[i];
    auto name = [&] { return "vector item " + std::to_string(i) + " (product " + std::to_string(item.product.value()) + ")"; };
    if (!item.product.valid()) return Status::bad_input(name() + ": invalid product id");
    if (static_cast<int>(item.vector.size()) != options.dim) {
      return Status::bad_input(name() + ": " + std::to_string(item.vector.size()) + " values, the index has dimension " +
                               std::to_string(options.dim));
    }
    for (float value : item.vector) {
      if (!std::isfinite(value)) return Status::bad_input(name() + ": a value is not finite");
    }
    last[item.product.value()] = i;
  }
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (last[items[i].product.value()] == i) order.push_back(i);
  }
  prepared->resize(order.size() * static_cast<std::size_t>(options.dim));
  for (std::size_t row = 0; row < order.size(); ++row) {
    const VectorItem& item = items[order[row]];
    std::span<float> out(prepared->data() + row * options.dim, static_cast<std::size_t>(options.dim));
    std::copy(item.vector.begin(), item.vector.end(), out.begin());
    if (options.metric == Metric::kCosine && !normalize(out)) {
      return Status::bad_input("vector item " + std::to_string(order[row]) + " (product " +
                               std::to_string(item.product.value()) + "): a zero vector has no direction (cosine)");
    }
  }
  return order;
}

Result<std::vector<float>> prepare_query(std::span<const float> query, const VectorIndexOptions& options,
                                         const VectorSearchOptions& search) {
  if (static_cast<int>(query.size()) != options.dim) {
    return Status::bad_input("query vector has " + std::to_string(query.size()) + " values, the index has dimension " +
                             std::to_string(options.dim));
  }
  if (search.k <= 0) return Status::bad_input("k must be positive");
  std::vector<float> prepared(query.begin(), query.end());
  for (float value : prepared) {
    if (!std::isfinite(value)) return Status::bad_input("query vector has a value that is not finite");
  }
  if (options.metric == Metric::kCosine) normalize(prepared);
  return prepared;
}

// Files of one saved generation and the MANIFEST that commits them.
class Saver {
 public:
  explicit Saver(const std::filesystem::path& directory) : directory_(directory) {}

  Status begin(const VectorIndexOptions& options) {
    std::error_code error;
    std::filesystem::create_directories(directory_, error);
    if (error) return Status::io_error("cannot create " + directory_.string() + ": " + error.message());
    generation_ = 1;
    auto previous = read_whole(directory_ / "MANIFEST.json");
    if (previous.is_ok()) {
      auto json = nlohmann::json::parse(previous->begin(), previous->end(), nullptr, false);
      if (json.is_object() && json.contains("generation") && json["generation"].is_number_unsigned()) {
        generation_ = whole(json, "generation", 0, UINT64_MAX - 1).value_or(0) + 1;
      }
    }
    manifest_ = {{"format", kFormatName},
                 {"version", kFormatVersion},
                 {"kind", index_kind_name(options.kind)},
                 {"metric", metric_name(options.metric)},
                 {"dim", options.dim},
                 {"hnsw_m", options.hnsw_m},
                 {"hnsw_ef_construction", options.hnsw_ef_construction},
                 {"seed", options.seed},
                 {"generation", generation_},
                 {"files", nlohmann::json::object()}};
    return Status::ok();
  }

  std::filesystem::path path(const std::string& role, const std::string& extension) const {
    return directory_ / (role + "." + std::to_string(generation_) + extension);
  }

  Status write(const std::string& role, const std::string& extension, std::span<const std::uint8_t> bytes) {
    std::filesystem::path file = path(role, extension);
    AISLE_RETURN_IF_ERROR(write_file_atomically(file, bytes));
    record(role, file, bytes);
    return Status::ok();
  }

  // For a file another library wrote to `temporary`: checksum it, then commit it.
  Status adopt(const std::string& role, const std::string& extension, const std::filesystem::path& temporary) {
    AISLE_ASSIGN_OR_RETURN(auto bytes, read_whole(temporary));
    std::filesystem::path file = path(role, extension);
    AISLE_RETURN_IF_ERROR(commit_file(temporary, file));
    record(role, file, bytes);
    return Status::ok();
  }

  Status commit() {
    AISLE_RETURN_IF_ERROR(write_file_atomically(directory_ / "MANIFEST.json", manifest_.dump(2) + "\n"));
    // Files of older generations are garbage now.
    std::string suffix = "." + std::to_string(generation_) + ".";
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(directory_, error)) {
      std::string name = entry.path().filename().string();
      if (name == "MANIFEST.json" || name.find(suffix) != std::string::npos) continue;
      if (name.starts_with("items.") || name.starts_with("hnsw.") || name.starts_with("vectors.")) {
        std::filesystem::remove(entry.path(), error);
      }
    }
    return Status::ok();
  }

 private:
  void record(const std::string& role, const std::filesystem::path& file, std::span<const std::uint8_t> bytes) {
    manifest_["files"][role] = {{"name", file.filename().string()},
                                {"bytes", bytes.size()},
                                {"checksum", checksum64(bytes)}};
  }

  std::filesystem::path directory_;
  std::uint64_t generation_ = 1;
  nlohmann::json manifest_;
};

// Reads a file the manifest names and checks its size and checksum.
Result<std::vector<std::uint8_t>> read_checked(const std::filesystem::path& directory, const nlohmann::json& manifest,
                                               const std::string& role, std::filesystem::path* path_out = nullptr) {
  if (!manifest["files"].contains(role)) return Status::corruption(directory.string() + "/MANIFEST.json names no " + role + " file");
  const nlohmann::json& entry = manifest["files"][role];
  const std::string name = entry.at("name").get<std::string>();
  if (name.empty() || name.find('/') != std::string::npos || name == "..") {
    return Status::corruption(directory.string() + "/MANIFEST.json: file name " + name + " is not a file of this directory");
  }
  std::filesystem::path path = directory / name;
  AISLE_ASSIGN_OR_RETURN(auto bytes, read_whole(path));
  const auto size = whole(entry, "bytes", 0, UINT64_MAX), checksum = whole(entry, "checksum", 0, UINT64_MAX);
  if (!size || !checksum || bytes.size() != *size || checksum64(bytes) != *checksum) {
    return Status::corruption(path.string() + ": size or checksum does not match MANIFEST.json");
  }
  if (path_out != nullptr) *path_out = path;
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// Exact: every vector in one row-major array; a search scores them all.

class ExactIndex final : public VectorIndex {
 public:
  explicit ExactIndex(const VectorIndexOptions& options) : options_(options) {}

  Status add(std::span<const VectorItem> items, const Context&) override {
    std::vector<float> prepared;
    AISLE_ASSIGN_OR_RETURN(std::vector<std::size_t> order, validate(items, options_, &prepared));
    std::unique_lock lock(mutex_);
    const std::size_t dim = static_cast<std::size_t>(options_.dim);
    for (std::size_t row = 0; row < order.size(); ++row) {
      const VectorItem& item = items[order[row]];
      auto [it, inserted] = slot_of_.try_emplace(item.product.value(), items_.slots());
      if (inserted) vectors_.resize(vectors_.size() + dim);
      std::copy_n(prepared.data() + row * dim, dim, vectors_.data() + std::size_t{it->second} * dim);
      items_.set(it->second, item.product, item.locale, item.category);
    }
    return Status::ok();
  }

  std::size_t remove(std::span<const ProductId> products) override {
    std::unique_lock lock(mutex_);
    const std::size_t dim = static_cast<std::size_t>(options_.dim);
    std::size_t removed = 0;
    for (ProductId product : products) {
      auto it = slot_of_.find(product.value());
      if (it == slot_of_.end()) continue;
      std::uint32_t hole = it->second;
      slot_of_.erase(it);
      std::uint32_t last = items_.slots() - 1;
      items_.kill(hole);
      if (hole != last) {
        std::copy_n(vectors_.data() + std::size_t{last} * dim, dim, vectors_.data() + std::size_t{hole} * dim);
        slot_of_[items_.product(last).value()] = hole;
        items_.move(last, hole);
      } else {
        items_.pop_back();
      }
      vectors_.resize(std::size_t{items_.slots()} * dim);
      ++removed;
    }
    return removed;
  }

  Result<std::vector<Neighbor>> search(std::span<const float> query, const VectorSearchOptions& options) const override {
    AISLE_ASSIGN_OR_RETURN(std::vector<float> q, prepare_query(query, options_, options));
    std::shared_lock lock(mutex_);
    CompiledFilter filter = items_.compile(options.filter);
    TopK top(static_cast<std::size_t>(options.k));
    if (filter.matches_nothing) return top.take();
    const int dim = options_.dim;
    for (std::uint32_t slot = 0; slot < items_.slots(); ++slot) {
      if (!items_.passes(filter, slot)) continue;
      top.offer(dot(q.data(), vectors_.data() + std::size_t{slot} * dim, dim), items_.product(slot));
    }
    return top.take();
  }

  Status save(const std::filesystem::path& directory) const override {
    std::shared_lock lock(mutex_);
    Saver saver(directory);
    AISLE_RETURN_IF_ERROR(saver.begin(options_));
    AISLE_RETURN_IF_ERROR(saver.write("items", ".bin", items_.serialize()));
    AISLE_RETURN_IF_ERROR(saver.write(
        "vectors", ".f32",
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(vectors_.data()), vectors_.size() * sizeof(float))));
    return saver.commit();
  }

  Status load(const std::filesystem::path& directory, const nlohmann::json& manifest) {
    AISLE_ASSIGN_OR_RETURN(auto item_bytes, read_checked(directory, manifest, "items"));
    AISLE_ASSIGN_OR_RETURN(items_, ItemTable::parse(item_bytes, (directory / "items").string()));
    std::filesystem::path vector_path;
    AISLE_ASSIGN_OR_RETURN(auto vector_bytes, read_checked(directory, manifest, "vectors", &vector_path));
    if (vector_bytes.size() != std::uint64_t{items_.slots()} * options_.dim * sizeof(float)) {
      return Status::corruption(vector_path.string() + ": size does not match the item table");
    }
    vectors_.resize(vector_bytes.size() / sizeof(float));
    std::memcpy(vectors_.data(), vector_bytes.data(), vector_bytes.size());
    for (std::uint32_t slot = 0; slot < items_.slots(); ++slot) {
      if (!items_.is_live(slot)) return Status::corruption(vector_path.string() + ": a dead slot in an exact index");
      slot_of_[items_.product(slot).value()] = slot;
    }
    return Status::ok();
  }

  bool contains(ProductId product) const override {
    std::shared_lock lock(mutex_);
    return slot_of_.contains(product.value());
  }

  bool vector(ProductId product, std::span<float> out) const override {
    std::shared_lock lock(mutex_);
    auto it = slot_of_.find(product.value());
    const auto dim = static_cast<std::size_t>(options_.dim);
    if (it == slot_of_.end() || out.size() != dim) return false;
    std::copy_n(vectors_.data() + std::size_t{it->second} * dim, dim, out.data());
    return true;
  }

  VectorIndexStats stats() const override {
    std::shared_lock lock(mutex_);
    VectorIndexStats stats;
    stats.items = items_.live();
    stats.memory_bytes = vectors_.capacity() * sizeof(float) + items_.memory_bytes() + slot_of_.size() * 24;
    return stats;
  }

  const VectorIndexOptions& options() const override { return options_; }

 private:
  VectorIndexOptions options_;
  mutable std::shared_mutex mutex_;
  std::vector<float> vectors_;
  ItemTable items_;
  std::unordered_map<std::uint32_t, std::uint32_t> slot_of_;
};

// ---------------------------------------------------------------------------------------------
// HNSW: hnswlib builds, stores and persists the graph; the walk below is ours so that ef is a
// per-query value and the filter applies inside the walk.

using Graph = hnswlib::HierarchicalNSW<float>;
using hnswlib::tableint;

class HnswIndex final : public VectorIndex {
 public:
  explicit HnswIndex(const VectorIndexOptions& options)
      : options_(options), space_(static_cast<std::size_t>(options.dim)) {}

  Status init(std::size_t capacity) {
    try {
      graph_ = std::make_unique<Graph>(&space_, std::max<std::size_t>(capacity, 1024),
                                       static_cast<std::size_t>(options_.hnsw_m),
                                       static_cast<std::size_t>(options_.hnsw_ef_construction), options_.seed);
    } catch (const std::exception& error) {
      return Status::internal(std::string("hnswlib: ") + error.what());
    }
    return Status::ok();
  }

  Status add(std::span<const VectorItem> items, const Context& context) override {
    std::vector<float> prepared;
    AISLE_ASSIGN_OR_RETURN(std::vector<std::size_t> order, validate(items, options_, &prepared));
    std::unique_lock lock(mutex_);
    std::size_t needed = graph_->cur_element_count + order.size();
    if (needed > graph_->max_elements_) {
      try {
        graph_->resizeIndex(std::max(needed, graph_->max_elements_ * 2));
      } catch (const std::exception& error) {
        return Status::internal(std::string("hnswlib: ") + error.what());
      }
    }
    std::vector<tableint> internal(order.size());
    std::vector<std::uint8_t> done(order.size(), 0);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::string failure;
    std::mutex failure_mutex;
    const std::size_t dim = static_cast<std::size_t>(options_.dim);
    auto work = [&] {
      while (!failed.load()) {
        std::size_t row = next.fetch_add(1);
        if (row >= order.size()) break;
        try {
          internal[row] = graph_->addPoint(prepared.data() + row * dim, items[order[row]].product.value(), -1);
          done[row] = 1;
        } catch (const std::exception& error) {
          std::lock_guard guard(failure_mutex);
          failure = error.what();
          failed = true;
        }
      }
    };
    int threads = std::clamp(context.num_threads(), 1, static_cast<int>(std::max<std::size_t>(order.size() / 256, 1)));
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (std::thread& thread : pool) thread.join();
    // Items already added stay: they are valid, and the table below keeps them consistent.
    for (std::size_t row = 0; row < order.size(); ++row) {
      if (!done[row]) continue;
      const VectorItem& item = items[order[row]];
      items_.set(internal[row], item.product, item.locale, item.category);
    }
    if (failed) return Status::internal("hnswlib: " + failure);
    return Status::ok();
  }

  std::size_t remove(std::span<const ProductId> products) override {
    std::unique_lock lock(mutex_);
    std::size_t removed = 0;
    for (ProductId product : products) {
      auto it = graph_->label_lookup_.find(product.value());
      if (it == graph_->label_lookup_.end() || !items_.is_live(it->second)) continue;
      graph_->markDelete(product.value());
      items_.kill(it->second);
      ++removed;
    }
    return removed;
  }

  Result<std::vector<Neighbor>> search(std::span<const float> query, const VectorSearchOptions& options) const override {
    AISLE_ASSIGN_OR_RETURN(std::vector<float> q, prepare_query(query, options_, options));
    std::shared_lock lock(mutex_);
    CompiledFilter filter = items_.compile(options.filter);
    const std::size_t k = static_cast<std::size_t>(options.k);
    if (filter.matches_nothing || items_.live() == 0) return std::vector<Neighbor>();
    const std::uint64_t allowed = items_.count(filter);
    if (allowed == 0) return std::vector<Neighbor>();
    const bool filtered = !(filter.any_locale && filter.any_category);
    if (filtered && (allowed <= static_cast<std::uint64_t>(options.exact_below) ||
                     static_cast<double>(allowed) <= options.exact_fraction * static_cast<double>(items_.live()))) {
      return scan(q.data(), filter, k);
    }
    double selectivity = static_cast<double>(allowed) / static_cast<double>(items_.slots());
    std::size_t ef = std::max<std::size_t>(static_cast<std::size_t>(std::max(options.ef, 1)), k);
    ef = static_cast<std::size_t>(std::ceil(static_cast<double>(ef) / std::min(1.0, selectivity)));
    return walk(q.data(), filter, k, ef);
  }

  Status save(const std::filesystem::path& directory) const override {
    std::unique_lock lock(mutex_);  // hnswlib's saveIndex is not const
    Saver saver(directory);
    AISLE_RETURN_IF_ERROR(saver.begin(options_));
    AISLE_RETURN_IF_ERROR(saver.write("items", ".bin", items_.serialize()));
    std::filesystem::path temporary = saver.path("hnsw", ".bin.tmp");
    try {
      graph_->saveIndex(temporary.string());
    } catch (const std::exception& error) {
      return Status::io_error(temporary.string() + ": " + error.what());
    }
    AISLE_RETURN_IF_ERROR(saver.adopt("hnsw", ".bin", temporary));
    return saver.commit();
  }

  Status load(const std::filesystem::path& directory, const nlohmann::json& manifest) {
    AISLE_ASSIGN_OR_RETURN(auto item_bytes, read_checked(directory, manifest, "items"));
    AISLE_ASSIGN_OR_RETURN(items_, ItemTable::parse(item_bytes, (directory / "items").string()));
    std::filesystem::path graph_path;
    AISLE_ASSIGN_OR_RETURN(auto graph_bytes, read_checked(directory, manifest, "hnsw", &graph_path));
    graph_bytes.clear();
    graph_bytes.shrink_to_fit();
    try {
      graph_ = std::make_unique<Graph>(&space_, graph_path.string());
    } catch (const std::exception& error) {
      return Status::corruption(graph_path.string() + ": " + error.what());
    }
    if (graph_->cur_element_count != items_.slots() || graph_->data_size_ != options_.dim * sizeof(float)) {
      return Status::corruption(graph_path.string() + ": graph does not match the item table");
    }
    return Status::ok();
  }

  bool contains(ProductId product) const override {
    std::shared_lock lock(mutex_);
    auto it = graph_->label_lookup_.find(product.value());
    return it != graph_->label_lookup_.end() && items_.is_live(it->second);
  }

  bool vector(ProductId product, std::span<float> out) const override {
    std::shared_lock lock(mutex_);
    auto it = graph_->label_lookup_.find(product.value());
    const auto dim = static_cast<std::size_t>(options_.dim);
    if (it == graph_->label_lookup_.end() || !items_.is_live(it->second) || out.size() != dim) return false;
    const auto* data = reinterpret_cast<const float*>(graph_->getDataByInternalId(it->second));
    std::copy_n(data, dim, out.data());
    return true;
  }

  VectorIndexStats stats() const override {
    std::shared_lock lock(mutex_);
    VectorIndexStats stats;
    stats.items = items_.live();
    stats.deleted = items_.slots() - items_.live();
    std::uint64_t upper = 0;
    for (std::size_t i = 0; i < graph_->cur_element_count; ++i) {
      upper += static_cast<std::uint64_t>(graph_->element_levels_[i]) * graph_->size_links_per_element_;
    }
    stats.memory_bytes = graph_->max_elements_ * (graph_->size_data_per_element_ + sizeof(void*) + 4 /*level*/ +
                                                  sizeof(std::mutex)) +
                         upper + graph_->label_lookup_.size() * 24 + items_.memory_bytes();
    return stats;
  }

  const VectorIndexOptions& options() const override { return options_; }

 private:
  float distance(const float* q, tableint id) const {
    return graph_->fstdistfunc_(q, graph_->getDataByInternalId(id), graph_->dist_func_param_);
  }

  std::vector<Neighbor> scan(const float* q, const CompiledFilter& filter, std::size_t k) const {
    TopK top(k);
    for (std::uint32_t slot = 0; slot < items_.slots(); ++slot) {
      if (items_.passes(filter, slot)) top.offer(1.0f - distance(q, slot), items_.product(slot));
    }
    return top.take();
  }

  // Greedy descent through the upper layers, then a beam of width ef on the base layer in which
  // every node is a stepping stone but only live nodes passing the filter are results.
  std::vector<Neighbor> walk(const float* q, const CompiledFilter& filter, std::size_t k, std::size_t ef) const {
    tableint current = graph_->enterpoint_node_;
    float current_distance = distance(q, current);
    for (int level = graph_->maxlevel_; level > 0; --level) {
      bool changed = true;
      while (changed) {
        changed = false;
        unsigned int* links = graph_->get_linklist(current, level);
        int size = graph_->getListCount(links);
        auto* neighbours = reinterpret_cast<tableint*>(links + 1);
        for (int i = 0; i < size; ++i) {
          float d = distance(q, neighbours[i]);
          if (d < current_distance) {
            current_distance = d;
            current = neighbours[i];
            changed = true;
          }
        }
      }
    }

    using Entry = std::pair<float, tableint>;
    std::priority_queue<Entry> results;  // worst (largest distance) on top
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> frontier;  // nearest on top
    hnswlib::VisitedList* visited = graph_->visited_list_pool_->getFreeVisitedList();
    hnswlib::vl_type* marks = visited->mass;
    const hnswlib::vl_type tag = visited->curV;

    float bound = std::numeric_limits<float>::max();
    if (items_.passes(filter, current)) {
      results.emplace(current_distance, current);
      bound = current_distance;
    }
    frontier.emplace(current_distance, current);
    marks[current] = tag;
    while (!frontier.empty()) {
      auto [d, node] = frontier.top();
      if (d > bound && results.size() >= ef) break;
      frontier.pop();
      unsigned int* links = graph_->get_linklist0(node);
      int size = graph_->getListCount(links);
      auto* neighbours = reinterpret_cast<tableint*>(links + 1);
      for (int i = 0; i < size; ++i) {
        tableint next = neighbours[i];
        if (marks[next] == tag) continue;
        marks[next] = tag;
        float nd = distance(q, next);
        if (results.size() < ef || nd < bound) {
          frontier.emplace(nd, next);
          if (items_.passes(filter, next)) {
            results.emplace(nd, next);
            if (results.size() > ef) results.pop();
          }
          if (!results.empty() && results.size() >= ef) bound = results.top().first;
        }
      }
    }
    graph_->visited_list_pool_->releaseVisitedList(visited);

    TopK top(k);
    while (!results.empty()) {
      auto [d, node] = results.top();
      results.pop();
      top.offer(1.0f - d, items_.product(node));
    }
    return top.take();
  }

  VectorIndexOptions options_;
  hnswlib::InnerProductSpace space_;
  mutable std::shared_mutex mutex_;
  std::unique_ptr<Graph> graph_;
  ItemTable items_;  // by hnswlib's internal id
};

Status check_options(const VectorIndexOptions& options) {
  if (options.dim <= 0 || options.dim > 65536) return Status::bad_input("vector dimension must be in 1..65536");
  if (options.hnsw_m < 2 || options.hnsw_m > 256) return Status::bad_input("hnsw_m must be in 2..256");
  if (options.hnsw_ef_construction < 1 || options.hnsw_ef_construction > 100000) {
    return Status::bad_input("hnsw_ef_construction must be in 1..100000");
  }
  return Status::ok();
}

}  // namespace

const char* metric_name(Metric metric) { return metric == Metric::kCosine ? "cosine" : "inner_product"; }
const char* index_kind_name(IndexKind kind) { return kind == IndexKind::kHnsw ? "hnsw" : "exact"; }

bool normalize(std::span<float> vector) {
  double norm = 0;
  for (float value : vector) norm += static_cast<double>(value) * value;
  if (norm <= 0) return false;
  auto scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (float& value : vector) value *= scale;
  return true;
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::create(const VectorIndexOptions& options) {
  AISLE_RETURN_IF_ERROR(check_options(options));
  if (options.kind == IndexKind::kExact) return std::unique_ptr<VectorIndex>(new ExactIndex(options));
  auto index = std::make_unique<HnswIndex>(options);
  AISLE_RETURN_IF_ERROR(index->init(1024));
  return std::unique_ptr<VectorIndex>(std::move(index));
}

Result<std::unique_ptr<VectorIndex>> VectorIndex::open(const std::filesystem::path& directory) {
  std::filesystem::path manifest_path = directory / "MANIFEST.json";
  if (!std::filesystem::exists(manifest_path)) return Status::not_found("no vector index in " + directory.string());
  AISLE_ASSIGN_OR_RETURN(auto bytes, read_whole(manifest_path));
  auto manifest = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  auto corrupt = [&](const std::string& what) { return Status::corruption(manifest_path.string() + ": " + what); };
  if (!manifest.is_object() || !manifest.contains("format") || manifest["format"] != kFormatName) {
    return corrupt("not a vector index manifest");
  }
  if (!manifest.contains("version") || manifest["version"] != kFormatVersion) {
    return corrupt("format version " + (manifest.contains("version") ? manifest["version"].dump() : std::string("(none)")) +
                   ", this build reads " + std::to_string(kFormatVersion));
  }
  VectorIndexOptions options;
  try {
    std::string kind = manifest.at("kind").get<std::string>();
    std::string metric = manifest.at("metric").get<std::string>();
    if (kind != "hnsw" && kind != "exact") return corrupt("unknown kind " + kind);
    if (metric != "cosine" && metric != "inner_product") return corrupt("unknown metric " + metric);
    options.kind = kind == "hnsw" ? IndexKind::kHnsw : IndexKind::kExact;
    options.metric = metric == "cosine" ? Metric::kCosine : Metric::kInnerProduct;
    const auto dim = whole(manifest, "dim", 1, INT32_MAX), m = whole(manifest, "hnsw_m", 0, INT32_MAX);
    const auto ef = whole(manifest, "hnsw_ef_construction", 0, INT32_MAX), seed = whole(manifest, "seed", 0, UINT64_MAX);
    if (!dim || !m || !ef || !seed) return corrupt("dim, hnsw_m, hnsw_ef_construction and seed must be whole numbers in range");
    options.dim = static_cast<int>(*dim);
    options.hnsw_m = static_cast<int>(*m);
    options.hnsw_ef_construction = static_cast<int>(*ef);
    options.seed = *seed;
    if (!manifest.at("files").is_object()) return corrupt("files is not an object");
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
  if (Status status = check_options(options); !status.is_ok()) return corrupt(status.message());
  try {
    if (options.kind == IndexKind::kExact) {
      auto index = std::make_unique<ExactIndex>(options);
      AISLE_RETURN_IF_ERROR(index->load(directory, manifest));
      return std::unique_ptr<VectorIndex>(std::move(index));
    }
    auto index = std::make_unique<HnswIndex>(options);
    AISLE_RETURN_IF_ERROR(index->load(directory, manifest));
    return std::unique_ptr<VectorIndex>(std::move(index));
  } catch (const nlohmann::json::exception& error) {
    return corrupt(error.what());
  }
}

}  // namespace aisle::vector
