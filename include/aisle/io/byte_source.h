// ByteSource: where a reader's bytes come from (a file, or memory in tests and fuzzers).
// Readers pull bytes in chunks, so no file is ever held in memory whole.
// A ByteSource is used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "aisle/core/status.h"

namespace aisle::io {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `capacity` bytes into `buffer`; returns the count, 0 at the end of input,
  // or kIoError.
  virtual Result<std::size_t> read(char* buffer, std::size_t capacity) = 0;
  // The name used in error messages (the file path as given).
  virtual const std::string& name() const = 0;
  // Total size in bytes when known (regular files), for progress.
  virtual std::optional<std::uint64_t> size() const = 0;
};

// Opens a file for reading. kNotFound when it does not exist, kIoError when it cannot be read
// or is a directory.
Result<std::unique_ptr<ByteSource>> open_file(const std::filesystem::path& path);

// A source over `bytes`, which are copied. `name` appears in error messages.
std::unique_ptr<ByteSource> memory_source(std::string name, std::string_view bytes);

}  // namespace aisle::io
