#include "aisle/core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace aisle {
namespace {

Status errno_status(const std::string& what, const std::filesystem::path& path) {
  return Status::io_error(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

Status commit_file(const std::filesystem::path& temporary, const std::filesystem::path& path) {
  int fd = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open", temporary);
  if (::fsync(fd) != 0) {
    Status status = errno_status("cannot fsync", temporary);
    ::close(fd);
    return status;
  }
  ::close(fd);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return errno_status("cannot rename to", path);
  int directory = ::open(path.parent_path().empty() ? "." : path.parent_path().c_str(), O_RDONLY | O_DIRECTORY);
  if (directory >= 0) {
    ::fsync(directory);
    ::close(directory);
  }
  return Status::ok();
}

Status write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> data) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("cannot create", temporary);
  std::size_t written = 0;
  while (written < data.size()) {
    ssize_t count = ::write(fd, data.data() + written, data.size() - written);
    if (count < 0) {
      if (errno == EINTR) continue;
      Status status = errno_status("cannot write", temporary);
      ::close(fd);
      return status;
    }
    written += static_cast<std::size_t>(count);
  }
  ::close(fd);
  return commit_file(temporary, path);
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  return write_file_atomically(path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::uint64_t checksum64(std::span<const std::uint8_t> data) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  std::size_t i = 0;
  for (; i + 8 <= data.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, data.data() + i, 8);
    hash = (hash ^ word) * 0x100000001b3ULL;
  }
  for (; i < data.size(); ++i) hash = (hash ^ data[i]) * 0x100000001b3ULL;
  return hash;
}

}  // namespace aisle
