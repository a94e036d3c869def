// Files for the index: read-only memory maps and crash-safe whole-file writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aisle/core/files.h"
#include "aisle/core/status.h"

namespace aisle::text {

using aisle::checksum64;

// Bytes an index part lives in: an owned buffer (built in memory) or a read-only mmap.
class Bytes {
 public:
  virtual ~Bytes() = default;
  virtual std::span<const std::uint8_t> data() const = 0;
};

std::shared_ptr<const Bytes> owned_bytes(std::vector<std::uint8_t> buffer);
// Maps `path` read-only. kNotFound / kIoError naming the file.
Result<std::shared_ptr<const Bytes>> map_file(const std::filesystem::path& path);

}  // namespace aisle::text
