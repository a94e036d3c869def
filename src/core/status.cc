#include "aisle/core/status.h"

#include <cstdio>
#include <cstdlib>

namespace aisle {

namespace internal {
void check_failed(const char* condition, std::string_view message, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: check failed: %s: %.*s\n", file, line, condition,
               static_cast<int>(message.size()), message.data());
  std::abort();
}
}  // namespace internal

std::string_view status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "ok";
    case StatusCode::kBadInput: return "bad input";
    case StatusCode::kNotFound: return "not found";
    case StatusCode::kIoError: return "I/O error";
    case StatusCode::kCorruption: return "corruption";
    case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

std::string Where::to_string() const {
  std::string out = file;
  if (line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(line);
  }
  if (!field.empty()) {
    if (!out.empty()) out += ':';
    out += field;
  }
  return out;
}

Status::Status(StatusCode code, std::string message, Where where)
    : code_(code), message_(std::move(message)), where_(std::move(where)) {}

Status Status::bad_input(std::string message, Where where) {
  return Status(StatusCode::kBadInput, std::move(message), std::move(where));
}
Status Status::not_found(std::string message, Where where) {
  return Status(StatusCode::kNotFound, std::move(message), std::move(where));
}
Status Status::io_error(std::string message, Where where) {
  return Status(StatusCode::kIoError, std::move(message), std::move(where));
}
Status Status::corruption(std::string message, Where where) {
  return Status(StatusCode::kCorruption, std::move(message), std::move(where));
}
Status Status::internal(std::string message, Where where) {
  return Status(StatusCode::kInternal, std::move(message), std::move(where));
}

std::string Status::to_string() const {
  if (is_ok()) return "OK";
  std::string where = where_.to_string();
  return where.empty() ? message_ : where + ": " + message_;
}

Status Status::with_context(std::string_view context) const {
  if (is_ok()) return *this;
  return Status(code_, std::string(context) + ": " + message_, where_);
}

}  // namespace aisle
