#include "aisle/core/errors.h"

#include <fmt/format.h>

namespace aisle::errors {

std::string expected_found(std::string_view expected, std::string_view found) {
  return fmt::format("expected {}, found {}", expected, found);
}

namespace {
// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not valid.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char lead = byte(i);
  std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3
                                   : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  return length;
}
}  // namespace

std::string quote(std::string_view text, std::size_t max_bytes) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size()) {
    if (i >= max_bytes) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = utf8_sequence_length(text, i);
    if (length == 1 && c >= 0x20 && c != 0x7F && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else if (length > 1) {
      out.append(text.substr(i, length));
      i += length;
      continue;
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += fmt::format("\\x{:02X}", c);
    }
    ++i;
  }
  out += '"';
  return out;
}

std::string too_large(std::string_view what, std::size_t size, std::size_t limit,
                      std::string_view option) {
  return fmt::format("{} is {} bytes, over the limit of {} bytes ({} raises it)", what, size,
                     limit, option);
}

}  // namespace aisle::errors
