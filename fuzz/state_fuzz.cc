// libFuzzer target for the serving state files: the memory index (docs/formats.md "The memory
// index", AISLE_FUZZ_STATE=memory) or the retrieval policy (policy.json; AISLE_FUZZ_STATE=
// policy), chosen at compile time. The first input byte: bit 0, for the memory index, writes
// the trailing checksum over the mutated bytes so that the parser behind it is reached. The
// file is loaded and, when it loads, used (lookups; a choice and an update). Property checked:
// load() returns a Status or a usable object, never crashes or trips a sanitizer.
//
// With AISLE_FUZZ_SEED_DIR set, the start also writes a valid file there as a seed.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "aisle/core/files.h"
#include "aisle/retrieve/memory.h"
#include "aisle/retrieve/policy.h"
#include "fuzz_util.h"

namespace {

namespace fs = std::filesystem;
using namespace aisle;

constexpr bool kMemory = std::string_view(AISLE_FUZZ_STATE) == "memory";

fs::path work_file() {
  static const fs::path path = fs::temp_directory_path() / ("aisle-fuzz-state-" + std::to_string(::getpid()));
  return path;
}

void write_seed() {
  const char* out = std::getenv("AISLE_FUZZ_SEED_DIR");
  if (out == nullptr) return;
  const fs::path seed_file = fs::path(out) / "seed";
  if (kMemory) {
    retrieve::MemoryIndex memory;
    memory.add("en|desk lamp", ProductId(3), io::EventType::kClick, 2, 1793527200000);
    memory.add("en|desk lamp", ProductId(4), io::EventType::kPurchase, 1, 1793527300000);
    memory.add("en|hose", ProductId(5), io::EventType::kImpression, 1, 1793527400000);
    memory.add_predicted("en|hose", ProductId(6), 0.7);
    if (!memory.save(work_file()).is_ok()) __builtin_trap();
  } else {
    auto policy = retrieve::Policy::create(retrieve::PolicyConfig{}, 7);
    if (!policy.is_ok() || !(*policy)->save(work_file()).is_ok()) __builtin_trap();
  }
  std::ofstream file(seed_file, std::ios::binary);
  file.put(1);
  file << fuzz::read_all(work_file());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_seed();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  if (kMemory && (data[0] & 1) && bytes.size() >= 8) {
    const std::uint64_t sum = checksum64(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size() - 8));
    std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  }
  {
    std::ofstream file(work_file(), std::ios::binary | std::ios::trunc);
    file << bytes;
  }
  if (kMemory) {
    auto memory = retrieve::MemoryIndex::load(work_file());
    if (!memory.is_ok()) return 0;
    for (const char* key : {"en|desk lamp", "en|hose", ""}) {
      auto hits = (*memory)->lookup(key, 5, 1793527500000);
      (void)hits;
      (void)(*memory)->frequency(key);
    }
  } else {
    auto policy = retrieve::Policy::load(work_file());
    if (!policy.is_ok()) return 0;
    retrieve::QuerySignals signals;
    signals.locale = "en";
    signals.terms = 2;
    std::array<bool, retrieve::kNumStrategies> available{};
    available.fill(true);
    const retrieve::PolicyAction action = (*policy)->choose(signals, available);
    (*policy)->update(signals, action, std::array<double, retrieve::kNumStrategies>{1, 0, 0, 0, 0, 0});
  }
  return 0;
}
