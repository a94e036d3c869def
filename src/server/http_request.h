// What the HTTP server makes of a request's bytes, apart from sockets: the rules every request
// must pass (limits, framing, target syntax), shared by the server's sessions (http.cc), the
// request-parser fuzz target (fuzz/http_fuzz.cc) and the tests. Private to src/server.
//
// Framing rules (RFC 9112 sections 6 and 7), strict because a proxy in front may read the same
// bytes differently (request smuggling):
//   - Content-Length and Transfer-Encoding together, two Content-Length fields (even equal
//     ones), a Content-Length that is not a decimal number: 400;
//   - a Transfer-Encoding other than exactly "chunked", or any on HTTP/1.0: 501 / 400;
//   - the body limit counts decoded bytes, so chunked bodies meet the same 413 as others; a
//     declared Content-Length over the limit is refused before any body byte is read;
//   - header section over max_header_bytes or more than max_headers fields: 431;
//   - HTTP/1.1 without Host: 400; a target that is not origin-form ("/path?query"): 400.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

namespace aisle::server::detail {

struct RequestLimits {
  std::size_t max_header_bytes = 16 * 1024;  // request line and header fields together
  int max_headers = 100;
  std::size_t max_body_bytes = 4 << 20;  // decoded body bytes, whatever the transfer coding
};

// Why a request is refused before any handler sees it: the status and the JSON error's code
// and message.
struct Rejection {
  int status = 400;
  std::string code;
  std::string message;
};

// The refusal for a parse error of Beast's request parser (header or body), or nullopt for
// errors that are not the client's request (end of stream, timeout, cancellation).
std::optional<Rejection> rejection_for(const boost::system::error_code& error);

// The refusal for a complete header section that Beast accepted but Aisle does not (see the
// framing rules above), or nullopt when it may go on.
std::optional<Rejection> header_problem(const boost::beast::http::request_header<>& header, const RequestLimits& limits);

// A request target split and decoded: the raw path (percent escapes kept, for routing: an
// escaped '/' must not split a product id) and the query parameters decoded ('+' is a space),
// in order, repeated names kept.
struct Target {
  std::string raw_path;
  std::vector<std::pair<std::string, std::string>> params;
};
// The target of a request line; a Rejection (400) for a target that is not origin-form, has a
// fragment, or has a malformed percent escape.
std::optional<Rejection> parse_target(std::string_view target, Target* out);

// Decodes %XX escapes (and '+' as a space when plus_is_space); nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// One request parsed from bytes as a session parses it from a socket, with the same rules:
// for the fuzz target and the tests. `complete` is false when the bytes end before the request
// does; `rejection` is set when the request is refused.
struct ParsedRequest {
  bool complete = false;
  std::optional<Rejection> rejection;
  std::string method;
  Target target;
  std::string body;
  std::size_t consumed = 0;  // bytes of `bytes` that belong to this request (a pipelined rest follows)
};
ParsedRequest parse_request(std::string_view bytes, const RequestLimits& limits);

}  // namespace aisle::server::detail
