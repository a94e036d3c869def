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

}  // namespace aisle
