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

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
  return write_file_atomically(path, std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

}  // namespace aisle
