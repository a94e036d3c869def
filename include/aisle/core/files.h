// Crash-safe whole-file writes, for every derived file (indexes, models, dictionaries).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <utility>

#include "aisle/core/status.h"

namespace aisle {

// Writes `data` to `path` through `path`.tmp: write, fsync, rename, fsync the directory. A
// crash leaves either the old file or the new one. kIoError naming the file on failure.
Status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> data);
Status write_file_atomically(const std::filesystem::path& path, std::string_view text);

// Makes a file that another library wrote to `temporary` durable under `path`: fsync it,
// rename it over `path`, fsync the directory. kIoError naming the file on failure.
Status commit_file(const std::filesystem::path& temporary, const std::filesystem::path& path);

// The writer lock of a data directory (`<dir>/aisle.lock`, flock(2)): `aisle serve` holds it
// while it runs, `aisle index` and `aisle delete` while they write, so that two processes
// never write the same index files. The kernel releases it when the holder exits, however it
// exits (kill -9 included). The store (SQLite) has its own locking; readers take no lock.
class DirectoryLock {
 public:
  // kBadInput naming the holder ("pid 1234: aisle serve") when another process holds it;
  // kIoError when the lock file cannot be opened. `holder` says who takes it.
  static Result<DirectoryLock> acquire(const std::filesystem::path& dir, std::string_view holder);

  DirectoryLock(DirectoryLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

// A fast 64-bit checksum (FNV-1a over 8-byte words) for detecting damaged files.
std::uint64_t checksum64(std::span<const std::uint8_t> data);

}  // namespace aisle
