// libFuzzer target for the HTTP server's request rules (src/server/http_request.h): Beast's
// parser under Aisle's limits, the framing checks and the target decoding, applied to a stream
// of pipelined requests as a session applies them. The first input byte picks the limits
// (small ones reach the 413/431 paths quickly). Properties checked: no crash or sanitizer
// report; every step consumes input or stops; a complete request respects the limits and has
// an origin-form path.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  using namespace aisle::server::detail;
  RequestLimits limits;
  if (data[0] & 1) {
    limits.max_header_bytes = 256;
    limits.max_headers = 4;
    limits.max_body_bytes = 64;
  }
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  while (!bytes.empty()) {
    const ParsedRequest parsed = parse_request(bytes, limits);
    if (parsed.consumed > bytes.size()) __builtin_trap();
    if (!parsed.complete || parsed.rejection) break;  // a session answers, then closes or waits for more
    if (parsed.body.size() > limits.max_body_bytes) __builtin_trap();
    if (parsed.target.raw_path.empty() || parsed.target.raw_path.front() != '/') __builtin_trap();
    if (parsed.consumed == 0) __builtin_trap();  // a complete request has at least a request line
    bytes.remove_prefix(parsed.consumed);
  }
  return 0;
}
