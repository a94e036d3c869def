// AISLE_CHECK: for broken invariants (bugs) only, never for user input. On failure it prints
// the condition, the message, file and line to stderr and aborts.
#pragma once

#include <string_view>

namespace aisle::internal {
[[noreturn]] void check_failed(const char* condition, std::string_view message, const char* file,
                               int line);
}  // namespace aisle::internal

#define AISLE_CHECK(condition, message)                                                  \
  do {                                                                                   \
    if (!(condition)) ::aisle::internal::check_failed(#condition, (message), __FILE__, __LINE__); \
  } while (false)
