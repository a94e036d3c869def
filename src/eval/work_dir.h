// A working directory for peers' files during an evaluation or benchmark: the caller's, kept,
// or a fresh temporary one, removed with everything in it when this goes out of scope.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>

namespace aisle::eval {

class WorkDir {
 public:
  WorkDir(const std::filesystem::path& requested, const std::string& prefix)
      : path_(requested), temporary_(requested.empty()) {
    if (temporary_) {
      std::random_device device;
      path_ = std::filesystem::temp_directory_path() /
              (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(device()));
    }
    std::error_code ignored;
    std::filesystem::create_directories(path_, ignored);
  }
  ~WorkDir() {
    std::error_code ignored;
    if (temporary_) std::filesystem::remove_all(path_, ignored);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool temporary_;
};

}  // namespace aisle::eval
