// Helpers the file-format fuzz targets share.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

namespace aisle::fuzz {

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Replaces `to` with a copy of directory `from`. libFuzzer's timer signals may interrupt a
// copy (EINTR): it is tried again; a copy that keeps failing stops the run.
inline void copy_fresh(const std::filesystem::path& from, const std::filesystem::path& to) {
  for (int attempt = 0;; ++attempt) {
    std::error_code error;
    std::filesystem::remove_all(to, error);
    std::filesystem::copy(from, to, error);
    if (!error) return;
    if (attempt == 10) __builtin_trap();
  }
}

}  // namespace aisle::fuzz
