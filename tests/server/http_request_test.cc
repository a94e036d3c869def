// The request rules of the HTTP server on bytes alone: framing (smuggling pairs), limits,
// targets. The same functions run in every server session (tests/server/http_test.cc checks
// them over sockets).
#include "http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace aisle::server::detail {
namespace {

RequestLimits small_limits() {
  RequestLimits limits;
  limits.max_header_bytes = 2048;
  limits.max_headers = 10;
  limits.max_body_bytes = 100;
  return limits;
}

int status_of(const std::string& bytes) {
  const ParsedRequest parsed = parse_request(bytes, small_limits());
  if (parsed.rejection) return parsed.rejection->status;
  return parsed.complete ? 200 : 0;
}

TEST(ParseRequest, AcceptsPlainAndChunkedBodies) {
  const ParsedRequest plain = parse_request("POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", small_limits());
  ASSERT_TRUE(plain.complete);
  EXPECT_FALSE(plain.rejection);
  EXPECT_EQ(plain.method, "POST");
  EXPECT_EQ(plain.body, "hello");
  const ParsedRequest chunked =
      parse_request("POST /search HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", small_limits());
  ASSERT_TRUE(chunked.complete);
  EXPECT_EQ(chunked.body, "hello");
}

TEST(ParseRequest, RefusesEverySmugglingPair) {
  // Content-Length with Transfer-Encoding, in either order.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"), 400);
  // Two Content-Length fields, different or equal; a list; not a number; negative.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3x\r\n\r\nabc"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  // Transfer-Encoding twice, another coding, or on HTTP/1.0.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  EXPECT_EQ(status_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400);
  // A malformed chunk size.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"), 400);
}

TEST(ParseRequest, AppliesHeaderAndBodyLimitsToEveryCoding) {
  // A declared length over the limit is refused at the header, before any body byte.
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\n"), 413);
  // A chunked body is counted after decoding: two chunks of 60 bytes pass the 100-byte limit.
  const std::string chunk(60, 'x');
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n" + chunk + "\r\n3c\r\n" + chunk +
                      "\r\n0\r\n\r\n"),
            413);
  EXPECT_EQ(status_of("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n" + chunk + "\r\n0\r\n\r\n"), 200);
  std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 10; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(status_of(many + "\r\n"), 431);  // 11 fields
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(4000, 'v') + "\r\n\r\n"), 431);
}

TEST(ParseRequest, NeedsHostAndAnOriginFormTarget) {
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/1.0\r\n\r\n"), 200);  // HTTP/1.0 has no Host
  EXPECT_EQ(status_of("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET /search?q=%G1 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(status_of("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: a\r\n"), 0);  // not complete yet
}

TEST(ParseRequest, SeparatesPipelinedRequests) {
  const std::string first = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
  const ParsedRequest parsed = parse_request(first + "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", small_limits());
  ASSERT_TRUE(parsed.complete);
  EXPECT_EQ(parsed.consumed, first.size());
  EXPECT_EQ(parsed.target.raw_path, "/health");
}

TEST(ParseTarget, DecodesParametersInOrderAndKeepsThePathRaw) {
  Target target;
  ASSERT_FALSE(parse_target("/products/a%2Fb?query=red+shoes&filter=brand%3DNike&filter=brand=Stridex&&k=", &target));
  EXPECT_EQ(target.raw_path, "/products/a%2Fb");
  ASSERT_EQ(target.params.size(), 4u);
  EXPECT_EQ(target.params[0], (std::pair<std::string, std::string>("query", "red shoes")));
  EXPECT_EQ(target.params[1], (std::pair<std::string, std::string>("filter", "brand=Nike")));
  EXPECT_EQ(target.params[2], (std::pair<std::string, std::string>("filter", "brand=Stridex")));
  EXPECT_EQ(target.params[3], (std::pair<std::string, std::string>("k", "")));
  EXPECT_EQ(percent_decode("a%2", false), std::nullopt);
  EXPECT_EQ(percent_decode("a+b%41", false), "a+bA");
  EXPECT_EQ(percent_decode("a+b%41", true), "a bA");
}

}  // namespace
}  // namespace aisle::server::detail
