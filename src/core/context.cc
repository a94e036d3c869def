#include "aisle/core/context.h"

#include <unistd.h>

#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "aisle/core/errors.h"

namespace aisle {

Context::Context(int num_threads, std::uint64_t seed, std::shared_ptr<spdlog::logger> logger,
                 bool progress_enabled)
    : num_threads_(num_threads),
      seed_(seed),
      logger_(std::move(logger)),
      progress_enabled_(progress_enabled) {}

Result<Context> Context::create(const ContextOptions& options) {
  if (options.num_threads < 0) {
    return Status::bad_input(errors::expected_found("a thread count >= 0",
                                                    std::to_string(options.num_threads)),
                             {"", 0, "threads"});
  }
  auto level = spdlog::level::from_str(options.log_level);
  // from_str maps unknown names to "off"; only "off" itself may mean off.
  if (level == spdlog::level::off && options.log_level != "off") {
    return Status::bad_input(
        errors::expected_found("a log level (trace, debug, info, warn, error, off)",
                               errors::quote(options.log_level)),
        {"", 0, "log-level"});
  }
  int threads = options.num_threads;
  if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));

  auto logger = std::make_shared<spdlog::logger>(
      "aisle", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  logger->set_level(level);
  logger->set_pattern("%^[%L %H:%M:%S.%e]%$ %v");

  bool progress = options.progress == ProgressMode::kAlways ||
                  (options.progress == ProgressMode::kAuto && isatty(STDERR_FILENO) == 1);
  return Context(threads, options.seed, std::move(logger), progress);
}

Context Context::for_tests() {
  ContextOptions options;
  options.num_threads = 1;
  options.log_level = "warn";
  options.progress = ProgressMode::kNever;
  return std::move(create(options)).value();
}

std::unique_ptr<Progress> Context::progress(std::string label, std::uint64_t total,
                                            ProgressUnit unit) const {
  return std::make_unique<Progress>(std::move(label), total, unit, progress_enabled_);
}

}  // namespace aisle
