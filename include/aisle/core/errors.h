// Error messages used in several places, written once so they read the same everywhere.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aisle::errors {

// "expected <expected>, found <found>".
std::string expected_found(std::string_view expected, std::string_view found);

// A printable, quoted excerpt of untrusted text for an error message: at most `max_bytes`
// bytes (cut on a UTF-8 boundary, with "..." when cut), control bytes and invalid UTF-8
// shown as \xNN. Example: quote("abc\x01") == "\"abc\\x01\"".
std::string quote(std::string_view text, std::size_t max_bytes = 60);

// "<what> is <size> bytes, over the limit of <limit> bytes (<option> raises it)".
std::string too_large(std::string_view what, std::size_t size, std::size_t limit,
                      std::string_view option);

}  // namespace aisle::errors
