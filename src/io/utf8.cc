#include "aisle/io/utf8.h"

#include <fmt/format.h>

#include "aisle/core/errors.h"

namespace aisle::io {

namespace {

// Decodes one sequence at text[i]. Returns its length, or 0 with *reason set when invalid.
// Follows Unicode 15 table 3-7 (well-formed byte sequences).
std::size_t decode_length(std::string_view text, std::size_t i, std::string* reason) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  std::size_t length;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    if (reason) *reason = fmt::format("byte 0x{:02X} cannot start a UTF-8 sequence", lead);
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (i + k >= text.size()) {
      if (reason) {
        *reason = fmt::format("byte 0x{:02X} starts a {}-byte sequence cut short by the end",
                              lead, length);
      }
      return 0;
    }
    unsigned char next = byte(i + k);
    bool ok = k == 1 ? (next >= low && next <= high) : (next >= 0x80 && next <= 0xBF);
    if (!ok) {
      if (reason) {
        *reason = fmt::format("byte 0x{:02X} starts a {}-byte sequence but 0x{:02X} follows",
                              lead, length, next);
      }
      return 0;
    }
  }
  return length;
}

}  // namespace

std::optional<Utf8Problem> find_invalid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    // ASCII fast path, eight bytes at a time.
    while (i + 8 <= text.size()) {
      std::uint64_t word;
      __builtin_memcpy(&word, text.data() + i, 8);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= text.size()) break;
    std::string reason;
    std::size_t length = decode_length(text, i, &reason);
    if (length == 0) return Utf8Problem{i, std::move(reason)};
    i += length;
  }
  return std::nullopt;
}

std::size_t append_replacing_invalid_utf8(std::string_view text, std::string* out) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::size_t replacements = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t length = decode_length(text, i, nullptr);
    if (length > 0) {
      out->append(text.substr(i, length));
      i += length;
      continue;
    }
    // A maximal invalid run: skip the bad lead and any continuation bytes after it.
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
    out->append(kReplacement);
    ++replacements;
  }
  return replacements;
}

void append_latin1_as_utf8(std::string_view text, std::string* out) {
  out->reserve(out->size() + text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out->push_back(c);
    } else {
      out->push_back(static_cast<char>(0xC0 | (byte >> 6)));
      out->push_back(static_cast<char>(0x80 | (byte & 0x3F)));
    }
  }
}

Status enforce_utf8(std::string* value, InvalidUtf8 policy, const Where& where,
                    std::size_t* replacements) {
  auto problem = find_invalid_utf8(*value);
  if (!problem) return Status::ok();
  if (policy == InvalidUtf8::kError) {
    return Status::bad_input(
        fmt::format("invalid UTF-8 at byte {} of the value: {} (--encoding latin-1 reads "
                    "Latin-1 files; --invalid-utf8 replace substitutes U+FFFD)",
                    problem->offset + 1, problem->reason),
        where);
  }
  std::string repaired;
  *replacements += append_replacing_invalid_utf8(*value, &repaired);
  *value = std::move(repaired);
  return Status::ok();
}

Result<Encoding> parse_encoding(std::string_view name) {
  if (name == "utf-8" || name == "utf8" || name == "UTF-8") return Encoding::kUtf8;
  if (name == "latin-1" || name == "latin1" || name == "iso-8859-1" || name == "ISO-8859-1") {
    return Encoding::kLatin1;
  }
  return Status::bad_input(errors::expected_found("an encoding (utf-8, latin-1)", errors::quote(name)),
                           {"", 0, "encoding"});
}

Result<InvalidUtf8> parse_invalid_utf8(std::string_view name) {
  if (name == "error") return InvalidUtf8::kError;
  if (name == "replace") return InvalidUtf8::kReplace;
  return Status::bad_input(
      errors::expected_found("an invalid-UTF-8 policy (error, replace)", errors::quote(name)),
      {"", 0, "invalid-utf8"});
}

}  // namespace aisle::io
