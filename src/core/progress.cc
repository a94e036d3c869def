#include "aisle/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace aisle {

namespace {
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);
constexpr int kBarWidth = 28;

std::string human(double amount, ProgressUnit unit) {
  const char* suffixes[] = {"", "k", "M", "G", "T"};
  double scale = unit == ProgressUnit::kBytes ? 1024.0 : 1000.0;
  int index = 0;
  while (amount >= scale && index < 4) {
    amount /= scale;
    ++index;
  }
  std::string text = index == 0 ? fmt::format("{:.0f}", amount)
                                : fmt::format("{:.1f}{}", amount, suffixes[index]);
  return unit == ProgressUnit::kBytes ? text + "B" : text;
}
}  // namespace

Progress::Progress(std::string label, std::uint64_t total, ProgressUnit unit, bool enabled)
    : label_(std::move(label)),
      total_(total),
      unit_(unit),
      enabled_(enabled),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::uint64_t amount) {
  done_.fetch_add(amount, std::memory_order_relaxed);
  if (enabled_) maybe_draw(false);
}

void Progress::set(std::uint64_t done) {
  done_.store(done, std::memory_order_relaxed);
  if (enabled_) maybe_draw(false);
}

void Progress::set_note(std::string note) {
  std::lock_guard lock(mutex_);
  note_ = std::move(note);
}

void Progress::finish() {
  if (!enabled_) return;
  maybe_draw(true);
  std::lock_guard lock(mutex_);
  if (!finished_) {
    std::fputc('\n', stderr);
    finished_ = true;
  }
}

void Progress::maybe_draw(bool force) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() && !force) return;
  if (!lock.owns_lock()) lock.lock();
  if (finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;

  double seconds = std::chrono::duration<double>(now - start_).count();
  std::uint64_t done = done_.load(std::memory_order_relaxed);
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string line;
  if (total_ > 0) {
    double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
    int filled = static_cast<int>(fraction * kBarWidth);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(kBarWidth, '.');
    double eta = rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate : 0.0;
    line = fmt::format("{} [{}] {:3.0f}% {}/{} {}/s eta {:.0f}s", label_, bar, fraction * 100,
                       human(static_cast<double>(done), unit_),
                       human(static_cast<double>(total_), unit_), human(rate, unit_), eta);
  } else {
    line = fmt::format("{} {} {}/s", label_, human(static_cast<double>(done), unit_),
                       human(rate, unit_));
  }
  if (!note_.empty()) line += "  " + note_;
  // \r returns to the line start, \x1b[K clears what a longer previous line left behind.
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
}

}  // namespace aisle
