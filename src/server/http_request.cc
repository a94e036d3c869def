#include "http_request.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>

namespace aisle::server::detail {

namespace http = boost::beast::http;

namespace {

Rejection bad_request(std::string message) { return {400, "bad_request", std::move(message)}; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<Rejection> rejection_for(const boost::system::error_code& error) {
  if (!error || error.category() != http::make_error_code(http::error::bad_method).category()) return std::nullopt;
  switch (static_cast<http::error>(error.value())) {
    case http::error::end_of_stream:
    case http::error::partial_message:  // the client went away mid-request: nobody to answer
    case http::error::need_more:
    case http::error::short_read:
      return std::nullopt;
    case http::error::header_limit:
      return Rejection{431, "headers_too_large", "the request's header section is larger than the server accepts"};
    case http::error::body_limit:
      return Rejection{413, "payload_too_large", "the request body is larger than the server accepts"};
    case http::error::bad_content_length:
    case http::error::multiple_content_length:
      return bad_request("Content-Length must be one decimal number, and not sent with Transfer-Encoding");
    case http::error::bad_transfer_encoding:
      return bad_request("Transfer-Encoding must be sent once, and not with Content-Length");
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
      return bad_request("the chunked body is malformed");
    case http::error::bad_method:
      return bad_request("the request method is malformed");
    case http::error::bad_target:
      return bad_request("the request target is malformed");
    case http::error::bad_version:
      return Rejection{505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served"};
    default:
      return bad_request("the request is malformed (" + error.message() + ")");
  }
}

std::optional<Rejection> header_problem(const http::request_header<>& header, const RequestLimits& limits) {
  int fields = 0;
  for (auto it = header.begin(); it != header.end(); ++it) ++fields;
  if (fields > limits.max_headers) {
    return Rejection{431, "headers_too_large", "the request has more than " + std::to_string(limits.max_headers) + " header fields"};
  }
  if (header.version() != 10 && header.version() != 11) {
    return Rejection{505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served"};
  }
  // Beast accepts repeated equal Content-Length fields; a proxy may not read them alike.
  if (header.count(http::field::content_length) > 1) return bad_request("Content-Length must be sent once");
  if (header.count(http::field::content_length) == 1) {
    const std::string_view length = trim(std::string_view(header[http::field::content_length]));
    if (length.empty() || length.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad_request("Content-Length must be one decimal number");
    }
  }
  const auto codings = header.count(http::field::transfer_encoding);
  if (codings > 1) return bad_request("Transfer-Encoding must be sent once");
  if (codings == 1) {
    if (header.version() == 10) return bad_request("Transfer-Encoding is not allowed in HTTP/1.0");
    if (!boost::beast::iequals(trim(std::string_view(header[http::field::transfer_encoding])), "chunked")) {
      return Rejection{501, "not_implemented", "the only transfer coding accepted is \"chunked\""};
    }
  }
  const auto hosts = header.count(http::field::host);
  if (hosts > 1 || (hosts == 0 && header.version() == 11)) return bad_request("an HTTP/1.1 request needs exactly one Host field");
  return std::nullopt;
}

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::optional<Rejection> parse_target(std::string_view target, Target* out) {
  out->raw_path.clear();
  out->params.clear();
  if (target.empty() || target.front() != '/') {
    return bad_request("the request target must be a path beginning with '/' (origin-form)");
  }
  if (target.find('#') != std::string_view::npos) return bad_request("the request target has a fragment ('#')");
  const auto question = target.find('?');
  out->raw_path = std::string(target.substr(0, question));
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    auto key = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1), true);
    if (!key || !value) return bad_request("the query string has a malformed percent escape");
    out->params.emplace_back(std::move(*key), std::move(*value));
  }
  return std::nullopt;
}

ParsedRequest parse_request(std::string_view bytes, const RequestLimits& limits) {
  ParsedRequest parsed;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
  parser.body_limit(limits.max_body_bytes);
  boost::system::error_code error;
  std::size_t offset = 0;
  bool checked_header = false;
  while (!parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::buffer(bytes.data() + offset, bytes.size() - offset), error);
    offset += used;
    if (error == http::error::need_more) break;  // every byte was offered: the request is not complete
    if (error) {
      parsed.rejection = rejection_for(error);
      parsed.consumed = offset;
      return parsed;
    }
    if (used == 0 && !parser.is_done()) break;
    if (parser.is_header_done() && !checked_header) {
      checked_header = true;
      parsed.rejection = header_problem(parser.get().base(), limits);
      if (!parsed.rejection) parsed.rejection = parse_target(parser.get().target(), &parsed.target);
      if (parsed.rejection) {
        parsed.consumed = offset;
        return parsed;
      }
    }
  }
  parsed.consumed = offset;
  if (!parser.is_done()) return parsed;
  if (!checked_header) {
    parsed.rejection = header_problem(parser.get().base(), limits);
    if (!parsed.rejection) parsed.rejection = parse_target(parser.get().target(), &parsed.target);
    if (parsed.rejection) return parsed;
  }
  parsed.complete = true;
  parsed.method = std::string(parser.get().method_string());
  parsed.body = std::move(parser.get().body());
  return parsed;
}

}  // namespace aisle::server::detail
