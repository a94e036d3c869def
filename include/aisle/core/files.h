// Crash-safe whole-file writes, for every derived file (indexes, models, dictionaries).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "aisle/core/status.h"

namespace aisle {

// Writes `data` to `path` through `path`.tmp: write, fsync, rename, fsync the directory. A
// crash leaves either the old file or the new one. kIoError naming the file on failure.
Status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> data);
Status write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Makes a file that another library wrote to `temporary` durable under `path`: fsync it,
// rename it over `path`, fsync the directory. kIoError naming the file on failure.
Status commit_file(const std::filesystem::path& temporary, const std::filesystem::path& path);

// A fast 64-bit checksum (FNV-1a over 8-byte words) for detecting damaged files.
std::uint64_t checksum64(std::span<const std::uint8_t> data);

}  // namespace aisle
