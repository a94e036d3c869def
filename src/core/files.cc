#include "aisle/core/files.h"

#include <fcntl.h>
#include <sys/file.h>
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

Result<DirectoryLock> DirectoryLock::acquire(const std::filesystem::path& dir, std::string_view holder) {
  const std::filesystem::path path = dir / "aisle.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::io_error("cannot open the lock file " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    std::string who(256, '\0');
    const ssize_t n = ::pread(fd, who.data(), who.size(), 0);
    who.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
    ::close(fd);
    if (error != EWOULDBLOCK) return Status::io_error("cannot lock " + path.string() + ": " + std::strerror(error));
    return Status::bad_input("the data directory " + dir.string() + " is in use by another writer (" +
                             (who.empty() ? std::string("unknown process") : who) +
                             "): stop it first, or write through the running server's API "
                             "(POST /products, DELETE /products/{id})");
  }
  const std::string line = "pid " + std::to_string(::getpid()) + ": " + std::string(holder) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, line.data(), line.size(), 0) != static_cast<ssize_t>(line.size())) {
    // Who holds it is only for the message of a refused writer; the lock itself holds.
  }
  return DirectoryLock(fd);
}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

}  // namespace aisle
