// UTF-8 validation, replacement and Latin-1 transcoding.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "aisle/core/status.h"
#include "aisle/io/text_options.h"

namespace aisle::io {

struct Utf8Problem {
  std::size_t offset;   // byte offset of the first bad byte
  std::string reason;   // "byte 0xE9 starts a 3-byte sequence but 0x20 follows"
};

// The first invalid UTF-8 sequence in `text` (overlong forms, surrogates and code points
// above U+10FFFF count as invalid), or nullopt when `text` is valid. O(n).
std::optional<Utf8Problem> find_invalid_utf8(std::string_view text);

// Appends `text` to `out` with each maximal invalid sequence replaced by U+FFFD.
// Returns how many replacements were made.
std::size_t append_replacing_invalid_utf8(std::string_view text, std::string* out);

// Appends the UTF-8 encoding of Latin-1 `text` to `out`.
void append_latin1_as_utf8(std::string_view text, std::string* out);

// Applies `policy` to a value read from `where`: leaves valid text alone; otherwise either
// returns kBadInput naming the byte, or replaces in place and adds to *replacements.
Status enforce_utf8(std::string* value, InvalidUtf8 policy, const Where& where,
                    std::size_t* replacements);

}  // namespace aisle::io
