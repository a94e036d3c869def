// libFuzzer target for the on-disk formats of the search index (docs/formats.md "The search
// index"): a small valid index is committed once at start; each input replaces one of its
// files, and the index is opened and searched. The first input byte picks the file (bits
// 0-1: the segment, the document table, the MANIFEST) and, for a segment, whether its header
// checksum is recomputed over the mutated bytes (bit 2), so that the parser behind the checksum
// is reached too. Property checked: open() and search() return a Status or results, never
// crash, trip a sanitizer, or read outside the file.
//
// With AISLE_FUZZ_SEED_DIR set, the start also writes the valid files there as seeds.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <unistd.h>

#include "aisle/core/context.h"
#include "aisle/core/files.h"
#include "fuzz_util.h"
#include "aisle/text/inverted_index.h"

namespace {

namespace fs = std::filesystem;
using namespace aisle;

struct Seed {
  fs::path dir;     // the committed valid index
  fs::path work;    // where each input's index is assembled
  std::vector<std::string> files;  // [0] a segment, [1] the document table, [2] MANIFEST
};

Seed make_seed() {
  Seed seed;
  seed.dir = fs::temp_directory_path() / ("aisle-fuzz-index-" + std::to_string(::getpid()));
  seed.work = seed.dir.string() + "-work";
  fs::remove_all(seed.dir);
  auto index = text::InvertedIndex::create();
  std::vector<text::Document> documents;
  const char* titles[] = {"Stridex running shoes blue", "Lumo desk lamp", "Aqua garden hose reel", "yoga mat non slip",
                          "zapatillas de running rojas", "running socks wool"};
  for (std::uint32_t i = 0; i < 6; ++i) {
    text::Document d;
    d.product = ProductId(i + 1);
    d.external_id = "P" + std::to_string(i);
    d.locale = i == 4 ? "es" : "en";
    d.title = titles[i];
    d.brand = i % 2 ? "Lumo" : "Stridex";
    d.category = {"Home", i % 2 ? "Lamps" : "Shoes"};
    d.description = "a description with running and lamp words";
    d.price = 10.0 + i;
    d.popularity = i;
    documents.push_back(d);
  }
  if (!index->upsert(documents, Context::for_tests()).is_ok() || !index->commit(seed.dir).is_ok()) __builtin_trap();
  for (const auto& entry : fs::directory_iterator(seed.dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("seg-")) seed.files.resize(std::max<std::size_t>(seed.files.size(), 1)), seed.files[0] = name;
  }
  for (const auto& entry : fs::directory_iterator(seed.dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("docs-")) seed.files.resize(std::max<std::size_t>(seed.files.size(), 2)), seed.files[1] = name;
  }
  seed.files.resize(3);
  seed.files[2] = "MANIFEST";
  if (seed.files[0].empty() || seed.files[1].empty()) __builtin_trap();
  if (const char* out = std::getenv("AISLE_FUZZ_SEED_DIR")) {
    for (int which = 0; which < 3; ++which) {
      std::ofstream file(fs::path(out) / ("seed-" + std::to_string(which)), std::ios::binary);
      file.put(static_cast<char>(which | 4));
      file << fuzz::read_all(seed.dir / seed.files[static_cast<std::size_t>(which)]);
    }
  }
  return seed;
}

const Seed& seed() {
  static const Seed instance = make_seed();
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  seed();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Seed& s = seed();
  const int which = data[0] & 3;
  if (which > 2) return 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  // The segment header (88 bytes) ends with the checksum of everything after it.
  constexpr std::size_t kHeader = 88;
  if (which == 0 && (data[0] & 4) && bytes.size() >= kHeader) {
    const std::uint64_t sum = checksum64(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()) + kHeader,
                                                                       bytes.size() - kHeader));
    std::memcpy(bytes.data() + kHeader - 8, &sum, 8);
  }
  fuzz::copy_fresh(s.dir, s.work);
  {
    std::ofstream file(s.work / s.files[static_cast<std::size_t>(which)], std::ios::binary | std::ios::trunc);
    file << bytes;
  }
  auto index = text::InvertedIndex::open(s.work);
  if (!index.is_ok()) return 0;
  text::SearchOptions options;
  options.facets = true;
  for (const char* query : {"running shoes", "lamp", "zapatillas", "runing"}) {
    auto result = (*index)->search(query, options);
    (void)result;
  }
  return 0;
}
