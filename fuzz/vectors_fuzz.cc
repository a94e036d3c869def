// libFuzzer target for the on-disk vector index (docs/formats.md "The vector index"): a small
// valid index of each kind (exact, HNSW) is saved once at start; each input replaces one of its
// files, and the index is opened and searched. First input byte: bit 0 the kind (exact, HNSW),
// bits 1-2 the file (the item table, MANIFEST.json, the vectors or graph file), bit 3: write
// the replaced file's size and checksum into MANIFEST.json, so that the parser behind the
// checksum is reached too (not for hnswlib's graph file, whose loader trusts its input: there
// the checksum is the defence). Property checked: open() and search() return a Status or
// results, never crash or trip a sanitizer.
//
// With AISLE_FUZZ_SEED_DIR set, the start also writes the valid files there as seeds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/files.h"
#include "fuzz_util.h"
#include "aisle/vector/vector_index.h"

namespace {

namespace fs = std::filesystem;
using namespace aisle;

constexpr int kDim = 8;

struct Saved {
  fs::path dir;
  std::string files[3];  // item table, MANIFEST.json, vectors/graph
};

struct Seeds {
  Saved kinds[2];
  fs::path work;
};

Saved save_one(vector::IndexKind kind, const fs::path& dir) {
  vector::VectorIndexOptions options;
  options.kind = kind;
  options.dim = kDim;
  options.hnsw_m = 4;
  options.hnsw_ef_construction = 16;
  auto index = vector::VectorIndex::create(options);
  if (!index.is_ok()) __builtin_trap();
  std::mt19937 random(7);
  std::normal_distribution<float> normal;
  std::vector<float> values(40 * kDim);
  for (float& v : values) v = normal(random);
  std::vector<vector::VectorItem> items;
  const std::string categories[] = {"Home > Lamps", "Shoes > Running", ""};
  for (std::uint32_t i = 0; i < 40; ++i) {
    items.push_back({ProductId(i + 1), i % 3 ? "en" : "es", categories[i % 3], std::span<const float>(values).subspan(i * kDim, kDim)});
  }
  if (!(*index)->add(items, Context::for_tests()).is_ok() || !(*index)->save(dir).is_ok()) __builtin_trap();
  Saved saved;
  saved.dir = dir;
  saved.files[1] = "MANIFEST.json";
  const nlohmann::json manifest = nlohmann::json::parse(fuzz::read_all(dir / "MANIFEST.json"));
  for (const auto& [role, entry] : manifest.at("files").items()) {
    const std::string name = entry.at("name").get<std::string>();
    saved.files[name.starts_with("items") ? 0 : 2] = name;
  }
  if (saved.files[0].empty() || saved.files[2].empty()) __builtin_trap();
  return saved;
}

const Seeds& seeds() {
  static const Seeds instance = [] {
    Seeds s;
    const fs::path base = fs::temp_directory_path() / ("aisle-fuzz-vectors-" + std::to_string(::getpid()));
    fs::remove_all(base);
    s.kinds[0] = save_one(vector::IndexKind::kExact, base / "exact");
    s.kinds[1] = save_one(vector::IndexKind::kHnsw, base / "hnsw");
    s.work = base / "work";
    if (const char* out = std::getenv("AISLE_FUZZ_SEED_DIR")) {
      for (int kind = 0; kind < 2; ++kind) {
        for (int which = 0; which < 3; ++which) {
          std::ofstream file(fs::path(out) / ("seed-" + std::to_string(kind) + "-" + std::to_string(which)), std::ios::binary);
          file.put(static_cast<char>(kind | (which << 1) | 8));
          file << fuzz::read_all(s.kinds[kind].dir / s.kinds[kind].files[which]);
        }
      }
    }
    return s;
  }();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  seeds();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Seeds& s = seeds();
  const Saved& saved = s.kinds[data[0] & 1];
  const int which = (data[0] >> 1) & 3;
  if (which > 2) return 0;
  const bool fix_up = (data[0] & 8) && which != 1 && !((data[0] & 1) && which == 2);
  const std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  fuzz::copy_fresh(saved.dir, s.work);
  {
    std::ofstream file(s.work / saved.files[which], std::ios::binary | std::ios::trunc);
    file << bytes;
  }
  if (fix_up) {
    nlohmann::json manifest = nlohmann::json::parse(fuzz::read_all(s.work / "MANIFEST.json"));
    for (auto& [role, entry] : manifest.at("files").items()) {
      if (entry.at("name") != saved.files[which]) continue;
      entry["bytes"] = bytes.size();
      entry["checksum"] = checksum64(std::span<const std::uint8_t>(data + 1, size - 1));
    }
    std::ofstream file(s.work / "MANIFEST.json", std::ios::binary | std::ios::trunc);
    file << manifest.dump();
  }
  auto index = vector::VectorIndex::open(s.work);
  if (!index.is_ok()) return 0;
  const std::vector<float> query(static_cast<std::size_t>((*index)->dim() > 0 && (*index)->dim() < 4096 ? (*index)->dim() : 1), 0.5f);
  vector::VectorSearchOptions options;
  options.k = 5;
  for (const char* locale : {"", "en", "xx"}) {
    options.filter.locale = locale;
    options.filter.category_prefix = locale[0] == 'e' ? "Home" : "";
    auto result = (*index)->search(query, options);
    (void)result;
  }
  std::vector<float> out(query.size());
  for (std::uint32_t id = 0; id < 45; ++id) {
    if ((*index)->contains(ProductId(id))) (*index)->vector(ProductId(id), out);
  }
  return 0;
}
