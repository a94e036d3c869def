// Status and Result<T>: how every expected failure travels in Aisle.
//
// Expected failures (I/O, a corrupt file, a bad row, a bad query) are values, never exceptions.
// A Status carries a code, a message that says what was expected and what was found, and a
// Where (file, line, field) when the failure comes from input. Bugs use AISLE_CHECK (check.h).
// Status and Result are plain values: copyable, movable, not synchronised.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "aisle/core/check.h"

namespace aisle {

enum class StatusCode {
  kOk = 0,
  kBadInput,    // the caller's input is wrong: a malformed row, an unknown option, a bad query
  kNotFound,    // a named thing (file, product, model) does not exist
  kIoError,     // the operating system refused a read, write, open or sync
  kCorruption,  // a file we wrote earlier does not have the layout it should
  kInternal,    // a third-party library failed in a way the caller cannot fix
};

std::string_view status_code_name(StatusCode code);

// Where in the input a failure was found. Empty parts are left out when printed:
// "catalog.jsonl:17:price", "catalog.jsonl:17", "catalog.jsonl".
struct Where {
  Where() = default;
  Where(std::string file_name, std::uint64_t line_number = 0, std::string field_name = {})
      : file(std::move(file_name)), line(line_number), field(std::move(field_name)) {}

  std::string file;
  std::uint64_t line = 0;  // 1-based; 0 = not known
  std::string field;

  bool empty() const { return file.empty() && line == 0 && field.empty(); }
  std::string to_string() const;
};

class Status {
 public:
  // The default Status is OK.
  Status() = default;
  Status(StatusCode code, std::string message, Where where = {});

  static Status ok() { return Status(); }
  static Status bad_input(std::string message, Where where = {});
  static Status not_found(std::string message, Where where = {});
  static Status io_error(std::string message, Where where = {});
  static Status corruption(std::string message, Where where = {});
  static Status internal(std::string message, Where where = {});

  bool is_ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const Where& where() const { return where_; }

  // "file:line:field: message" (or just the message when there is no Where), "OK" when ok.
  std::string to_string() const;

  // The same status with `context` put in front of the message ("ingest catalog: ...").
  Status with_context(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  Where where_;
};

// A value or the Status that explains why there is none. Accessing value() of an error
// Result is a bug and aborts.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    AISLE_CHECK(!status_.is_ok(), "a Result built from a Status must hold an error");
  }

  bool is_ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    AISLE_CHECK(is_ok(), status_.to_string());
    return *value_;
  }
  const T& value() const& {
    AISLE_CHECK(is_ok(), status_.to_string());
    return *value_;
  }
  T&& value() && {
    AISLE_CHECK(is_ok(), status_.to_string());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

namespace internal {
inline const Status& status_of(const Status& status) { return status; }
template <typename T>
const Status& status_of(const Result<T>& result) {
  return result.status();
}
}  // namespace internal

}  // namespace aisle

#define AISLE_CONCAT_INNER_(a, b) a##b
#define AISLE_CONCAT_(a, b) AISLE_CONCAT_INNER_(a, b)

// Returns the Status of `expr` (a Status or a Result) from the enclosing function when it is
// an error.
#define AISLE_RETURN_IF_ERROR(expr)                                          \
  do {                                                                       \
    const auto& aisle_status_or_result_ = (expr);                            \
    if (!aisle_status_or_result_.is_ok())                                    \
      return ::aisle::internal::status_of(aisle_status_or_result_);          \
  } while (false)

// AISLE_ASSIGN_OR_RETURN(auto x, f()): declares x from f()'s value, or returns its Status.
#define AISLE_ASSIGN_OR_RETURN(lhs, expr) \
  AISLE_ASSIGN_OR_RETURN_IMPL_(AISLE_CONCAT_(aisle_result_, __LINE__), lhs, expr)
#define AISLE_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.is_ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
