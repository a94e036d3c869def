// Options shared by every reader: encodings, the invalid UTF-8 policy and size limits.
#pragma once

#include <cstddef>
#include <string>

#include "aisle/core/status.h"

namespace aisle::io {

enum class Encoding {
  kUtf8,    // validated; see InvalidUtf8
  kLatin1,  // ISO-8859-1, every byte is a character; transcoded to UTF-8 (never fails)
};

enum class InvalidUtf8 {
  kError,    // the first invalid byte is a kBadInput error naming file:line:field
  kReplace,  // each invalid sequence becomes U+FFFD; readers count the replacements
};

struct TextOptions {
  Encoding encoding = Encoding::kUtf8;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::kError;
  // Longest physical line (and longest CSV record, quoted newlines included). Longer lines
  // are an error for that line; reading goes on with the next one.
  std::size_t max_line_bytes = std::size_t{64} << 20;
  // Longest single value: a CSV field or a JSON string.
  std::size_t max_field_bytes = std::size_t{1} << 20;
};

Result<Encoding> parse_encoding(std::string_view name);         // "utf-8", "latin-1", ...
Result<InvalidUtf8> parse_invalid_utf8(std::string_view name);  // "error", "replace"

}  // namespace aisle::io
