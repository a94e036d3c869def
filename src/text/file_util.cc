#include "file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace aisle::text {
namespace {

class OwnedBytes final : public Bytes {
 public:
  explicit OwnedBytes(std::vector<std::uint8_t> buffer) : buffer_(std::move(buffer)) {}
  std::span<const std::uint8_t> data() const override { return buffer_; }

 private:
  std::vector<std::uint8_t> buffer_;
};

class MappedBytes final : public Bytes {
 public:
  MappedBytes(void* address, std::size_t size) : address_(address), size_(size) {}
  ~MappedBytes() override {
    if (address_ != nullptr) munmap(address_, size_);
  }
  std::span<const std::uint8_t> data() const override {
    return {static_cast<const std::uint8_t*>(address_), size_};
  }

 private:
  void* address_;
  std::size_t size_;
};

Status errno_status(const std::string& what, const std::filesystem::path& path) {
  return Status::io_error(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

std::shared_ptr<const Bytes> owned_bytes(std::vector<std::uint8_t> buffer) {
  return std::make_shared<OwnedBytes>(std::move(buffer));
}

Result<std::shared_ptr<const Bytes>> map_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::not_found("missing index file " + path.string());
    return errno_status("cannot open", path);
  }
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    Status status = errno_status("cannot stat", path);
    ::close(fd);
    return status;
  }
  auto size = static_cast<std::size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    return Status::corruption("empty index file " + path.string());
  }
  void* address = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) return errno_status("cannot mmap", path);
  return std::shared_ptr<const Bytes>(std::make_shared<MappedBytes>(address, size));
}


}  // namespace aisle::text
