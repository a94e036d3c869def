// Progress reporting for long jobs (ingest, index, train).
//
// A Progress draws a one-line bar on stderr when stderr is a terminal and the Context allows
// it; otherwise it draws nothing. advance() may be called from several threads; drawing is
// throttled to about ten times a second, so calling it per row is cheap (one atomic add).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace aisle {

enum class ProgressUnit { kItems, kBytes };

class Progress {
 public:
  // `total` 0 means unknown: the bar then shows a count and a rate only.
  Progress(std::string label, std::uint64_t total, ProgressUnit unit, bool enabled);
  ~Progress();  // calls finish()
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(std::uint64_t amount);
  void set(std::uint64_t done);
  // Extra text shown after the bar, such as "12,000 rows".
  void set_note(std::string note);
  // Draws the final state and a newline (once). Idempotent.
  void finish();

  bool enabled() const { return enabled_; }
  std::uint64_t done() const { return done_.load(std::memory_order_relaxed); }

 private:
  void maybe_draw(bool force);

  std::string label_;
  std::uint64_t total_;
  ProgressUnit unit_;
  bool enabled_;
  std::atomic<std::uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_draw_;  // guarded by mutex_
  std::string note_;                                  // guarded by mutex_
  bool finished_ = false;                             // guarded by mutex_
};

}  // namespace aisle
