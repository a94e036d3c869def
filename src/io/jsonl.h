// Private helpers for the JSONL readers: one object a line, and typed field access whose
// errors name file:line:key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"
#include "aisle/io/line_reader.h"

namespace aisle::io {

// Reads one JSON object per non-blank line. Guards the parser: UTF-8 is checked first (so the
// error can name the key holding the bad byte) and nesting deeper than kMaxDepth is refused
// before parsing, so hostile input cannot exhaust the stack.
class JsonlObjectReader {
 public:
  static constexpr int kMaxDepth = 32;

  JsonlObjectReader(std::unique_ptr<ByteSource> source, const TextOptions& options);

  // true with *object and *line set; false at the end; kBadInput for a bad line.
  Result<bool> next(nlohmann::json* object, std::uint64_t* line);

  const LineReader& lines() const { return lines_; }
  std::size_t utf8_replacements() const { return utf8_replacements_; }

 private:
  LineReader lines_;
  std::string repaired_;
  std::size_t utf8_replacements_ = 0;
};

// Typed access to the keys of one object. Remembers which keys were read, so unknown keys can
// be reported afterwards.
class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, Where where, std::size_t max_field_bytes);

  // A string (numbers are accepted and printed, for ids). Missing or null gives "" unless
  // `required`, which also refuses "".
  Result<std::string> string(std::string_view key, bool required = false);
  // A finite number, or a string holding one. Missing or null gives nullopt.
  Result<std::optional<double>> number(std::string_view key);
  // An array of strings, or one string (split on `separator` when given, e.g. '>').
  Result<std::vector<std::string>> string_list(std::string_view key, char separator = '\0');
  // An object of scalars (or arrays of scalars, joined with ", ") as (name, value) pairs.
  Result<std::vector<std::pair<std::string, std::string>>> string_map(std::string_view key);
  // Fails naming the first key never asked for, unless `allow` is set.
  Status check_unknown(bool allow) const;

  Where at(std::string_view key) const;

 private:
  const nlohmann::json* find(std::string_view key);
  Status check_size(std::string_view key, const std::string& value) const;

  const nlohmann::json& object_;
  Where where_;
  std::size_t max_field_bytes_;
  std::set<std::string, std::less<>> used_;
};

// Splits "A > B > C" on `separator` and trims the parts; empty parts are dropped.
std::vector<std::string> split_trimmed(std::string_view text, char separator);

}  // namespace aisle::io
