// HttpServer: the engine over HTTP (Boost.Beast over Asio). The only file set that knows HTTP.
//
// Routes (docs/api.md, docs/openapi.yaml):
//   GET  /                     the search page (web/, compiled in)
//   GET  /search, POST /search  the full pipeline (Engine::search)
//   GET  /related/{id}          related products (?locale=&k=)
//   POST /classify              ESCI label of (query, product)
//   GET  /products/{id}         one listing (?locale=)
//   POST /products              upsert a batch (key)
//   POST /events                feedback events (key)
//   GET  /health, GET /metrics  liveness; Prometheus text (requests, latencies, index sizes)
// HEAD works wherever GET does; OPTIONS answers 204 with Allow; another method on a known path
// gets 405 with Allow. Write endpoints need the API key (header "X-API-Key" or "Authorization:
// Bearer KEY", compared in constant time); reads need it too when key_reads is set. Without a
// configured key, writes are refused (403) rather than open. Refusals that come before the
// body (401, 403, 404, 405, 413 on a declared length) close the connection without reading it.
//
// Threads: io_threads event-loop threads own every socket (reading, writing, deadlines);
// searches and writes run on `threads` workers, so an idle or slow client holds a socket and
// a timer, never a worker. Limits (each answered with a JSON error, then the connection closes):
//   - a request (header and body) must arrive within io_timeout_s of the moment the server
//     began waiting for it; the deadline does not move when bytes trickle in (408 when part of
//     a request came, a silent close when none did; idle keep-alive connections close then too);
//   - header section over max_header_bytes or more than max_headers fields: 431; a body over
//     max_body_bytes, counted after chunked decoding: 413 (a declared Content-Length over it is
//     refused before any body byte is read); framing rules of src/server/http_request.h
//     (Content-Length with Transfer-Encoding, repeated Content-Length, codings other than
//     chunked, no Host): 400/501;
//   - more than max_connections open connections: a new one gets 503 (Retry-After: 1) and is
//     closed at once; more than max_queue requests waiting for a worker: 503;
//   - a request that waited longer than queue_wait_ms for a worker: 429 (Retry-After: 1), which
//     sheds load instead of letting latency grow.
// Keep-alive and pipelining: requests on one connection are answered in order, one at a time.
// Range requests are not served (every reply is whole, 200). Every reply carries X-Request-Id;
// a 5xx body carries it too, in place of the internal message, which goes to the log with it.
// Bodies must be JSON objects or arrays nested at most 32 deep. stop() (also on SIGINT/SIGTERM
// in `aisle serve`) stops accepting, closes idle connections, lets the in-flight requests
// finish; serve() returns then, and the caller closes the engine (flushing the bandit and the
// memory index).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "aisle/core/status.h"
#include "aisle/server/engine.h"

namespace aisle::server {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (bind() tells which)
  int threads = 8;     // worker threads (each runs one request at a time)
  int io_threads = 1;  // event-loop threads (sockets, parsing, deadlines)
  std::size_t max_body_bytes = 4 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  int max_headers = 100;
  int max_connections = 1024;
  std::size_t max_queue = 1024;  // requests waiting for a worker
  int io_timeout_s = 10;
  int queue_wait_ms = 2000;
  std::string api_key;     // empty: write endpoints are refused
  bool key_reads = false;  // reads need the key too
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const ServeOptions& options);
  ~HttpServer();

  // Binds the listening socket; returns the port. kIoError naming host:port when it cannot.
  Result<int> bind();
  // Serves until stop(); returns when the last in-flight request is done.
  Status serve();
  // From any thread, before or during serve(): serve() returns (at once when it has not begun
  // listening yet).
  void stop();

  // The Prometheus text of /metrics.
  std::string metrics_text();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What a client sees of a reply: unchanged below 500; for a 5xx, the error's code and, instead
// of the internal message (paths, library traces), a pointer to the log entry with
// `request_id` (the server's own 501/503/505 messages are kept).
Reply public_reply(const Reply& reply, std::string_view request_id);

// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace aisle::server
