// HttpServer: the engine over HTTP (cpp-httplib). The only file set that knows HTTP.
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
// Write endpoints need the API key (header "X-API-Key" or "Authorization: Bearer KEY",
// compared in constant time); reads need it too when key_reads is set. Without a configured
// key, writes are refused (403) rather than open.
// Limits: bodies over max_body_bytes get 413; bodies must be JSON objects or arrays nested at
// most 32 deep; a connection that waited in the worker queue longer than queue_wait_ms is
// answered 429 (Retry-After: 1) at once, which sheds load instead of letting latency grow;
// sockets time out after io_timeout_s; every error is JSON {"error": {"code", "message",
// "field"?}}. stop() (also on SIGINT/SIGTERM in `aisle serve`) stops accepting, lets the
// in-flight requests finish, and then the caller closes the engine (flushing the bandit and
// the memory index).
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
  int threads = 8;  // worker threads (each serves one connection at a time)
  std::size_t max_body_bytes = 4 << 20;
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

// Compares two strings in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace aisle::server
