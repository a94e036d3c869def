// Context: what every component needs from its caller, passed explicitly, never global:
// the thread count, the random seed, the logger and progress reporting.
//
// A Context is created once per process (or per test) and shared by const reference.
// Its methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "aisle/core/progress.h"
#include "aisle/core/status.h"

namespace spdlog {
class logger;
}

namespace aisle {

enum class ProgressMode {
  kAuto,    // a bar when stderr is a terminal
  kAlways,  // a bar even when stderr is not a terminal (still redrawn in place)
  kNever,
};

struct ContextOptions {
  // Worker threads for parallel work; 0 means one per hardware thread.
  int num_threads = 0;
  // Seed for every random choice; the same seed and thread count give the same results.
  std::uint64_t seed = 42;
  // spdlog level name: trace, debug, info, warn, error, off.
  std::string log_level = "info";
  ProgressMode progress = ProgressMode::kAuto;
};

class Context {
 public:
  // Fails with kBadInput on an unknown log level or a negative thread count.
  static Result<Context> create(const ContextOptions& options);
  // A quiet context for tests: one thread, seed 42, warnings and errors only, no bars.
  static Context for_tests();

  int num_threads() const { return num_threads_; }
  std::uint64_t seed() const { return seed_; }
  spdlog::logger& logger() const { return *logger_; }

  // A progress bar for a job of `total` units (0 = unknown), drawn only when allowed.
  std::unique_ptr<Progress> progress(std::string label, std::uint64_t total,
                                     ProgressUnit unit = ProgressUnit::kItems) const;

 private:
  Context(int num_threads, std::uint64_t seed, std::shared_ptr<spdlog::logger> logger,
          bool progress_enabled);

  int num_threads_;
  std::uint64_t seed_;
  std::shared_ptr<spdlog::logger> logger_;
  bool progress_enabled_;
};

}  // namespace aisle
