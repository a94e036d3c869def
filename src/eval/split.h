// Seeded, order-independent splits for the evaluations.
#pragma once

#include <cstdint>
#include <string_view>

namespace aisle::eval {

// A stable hash (FNV-1a, mixed with a salt) of a string: the same on every machine and run.
inline std::uint64_t hash_of(std::string_view text, std::uint64_t salt) {
  std::uint64_t h = 1469598103934665603ULL ^ (salt * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h ^ (h >> 29);
}

// True for the share `fraction` of keys (by hash), the held-out side of a split.
inline bool held_out(std::string_view key, std::uint64_t seed, double fraction) {
  return static_cast<double>(hash_of(key, seed) % 1000000) < fraction * 1000000.0;
}

}  // namespace aisle::eval
