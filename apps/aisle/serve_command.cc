// aisle serve: the HTTP JSON API and the search page (server/http.h).
#include <charconv>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "aisle/core/files.h"
#include "aisle/server/engine.h"
#include "aisle/server/http.h"
#include "commands.h"

namespace aisle::cli {
namespace {

int stop_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  const char byte = 1;
  [[maybe_unused]] const ssize_t written = ::write(stop_pipe[1], &byte, 1);  // async-signal-safe
}

Result<std::string> read_key(const std::string& file) {
  if (file.empty()) {
    // No key: writes are refused. A key, from either source, has the same minimum.
    const char* env = std::getenv("AISLE_API_KEY");
    const std::string key = env ? env : "";
    if (!key.empty() && key.size() < 16) {
      return Status::bad_input("the API key must be at least 16 characters", Where("", 0, "AISLE_API_KEY"));
    }
    return key;
  }
  std::ifstream in(file);
  if (!in) return Status::not_found("cannot read the API key file " + file, Where(file, 0, "--api-key-file"));
  std::stringstream text;
  text << in.rdbuf();
  std::string key = text.str();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.size() < 16) return Status::bad_input("the API key must be at least 16 characters", Where(file, 1, "--api-key-file"));
  return key;
}

}  // namespace

Command add_serve(CLI::App& app) {
  struct Args {
    std::string data_dir, listen = "127.0.0.1:8080", key_file;
    server::ServeOptions serve;
    server::EngineOptions engine;
    std::int64_t feedback_window_s = 1800;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--data-dir", args->data_dir, "Data directory (after `aisle ingest` and `aisle index`)")->required();
  app.add_option("--listen", args->listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
  app.add_option("--api-key-file", args->key_file,
                 "File holding the API key for write endpoints (default: the AISLE_API_KEY environment variable; "
                 "without a key, writes are refused)");
  app.add_flag("--key-reads", args->serve.key_reads, "Require the API key for reads too");
  app.add_option("--workers", args->serve.threads, "Worker threads (searches and writes run at once)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  app.add_option("--io-threads", args->serve.io_threads, "Event-loop threads (sockets, parsing, deadlines)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  app.add_option("--max-connections", args->serve.max_connections, "Open connections at most (a new one beyond gets 503)")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  app.add_option("--io-timeout", args->serve.io_timeout_s,
                 "Seconds a request (header and body) may take to arrive, and an idle connection may stay open")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--pipelines", args->engine.pipelines, "Searches run at once (one pipeline each)")
      ->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--max-body", args->serve.max_body_bytes, "Largest request body in bytes (413 beyond)")->capture_default_str();
  app.add_option("--queue-wait-ms", args->serve.queue_wait_ms, "A request that waited longer than this for a worker gets 429")
      ->capture_default_str();
  app.add_option("--feedback-window", args->feedback_window_s, "Seconds a search waits for feedback before the policy learns from it")
      ->capture_default_str()->check(CLI::Range(1, 7 * 86400));
  return [args](const Context& context) -> Status {
    const auto colon = args->listen.rfind(':');
    if (colon == std::string::npos) return Status::bad_input("expected HOST:PORT, found " + args->listen, Where("", 0, "--listen"));
    server::ServeOptions serve = args->serve;
    serve.host = args->listen.substr(0, colon);
    // A port is 0..65535 in decimal digits only ("99999" would wrap, "8080x" is a typo).
    const std::string digits = args->listen.substr(colon + 1);
    int value = -1;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || value < 0 || value > 65535) {
      return Status::bad_input("expected a port number 0..65535 in " + args->listen, Where("", 0, "--listen"));
    }
    serve.port = value;
    AISLE_ASSIGN_OR_RETURN(serve.api_key, read_key(args->key_file));
    server::EngineOptions engine_options = args->engine;
    engine_options.data_dir = args->data_dir;
    engine_options.online.feedback_window_ms = args->feedback_window_s * 1000;
    // The server writes the index, vectors, memory and policy of its directory: no other
    // writer while it runs (a missing directory is Engine::open's error to report).
    std::optional<DirectoryLock> lock;
    if (std::filesystem::is_directory(args->data_dir)) {
      AISLE_ASSIGN_OR_RETURN(lock, DirectoryLock::acquire(args->data_dir, "aisle serve"));
    }
    AISLE_ASSIGN_OR_RETURN(auto engine, server::Engine::open(engine_options, context));
    server::HttpServer http(*engine, serve);
    AISLE_ASSIGN_OR_RETURN(const int port, http.bind());
    if (::pipe(stop_pipe) != 0) return Status::io_error("cannot create the shutdown pipe");
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
    std::thread watcher([&http] {
      char byte = 0;
      if (::read(stop_pipe[0], &byte, 1) == 1 && byte == 1) http.stop();
    });
    say("aisle serve: listening on http://{}:{}/ (writes {}), data {}", serve.host, port,
        serve.api_key.empty() ? "disabled: no API key" : "need the API key", args->data_dir);
    std::fflush(stdout);
    Status served = http.serve();
    // Stopped (a signal, or an error): wake the watcher if it still waits, then flush.
    const char wake = 2;
    [[maybe_unused]] const ssize_t written = ::write(stop_pipe[1], &wake, 1);
    watcher.join();
    Status closed = engine->close();
    say("aisle serve: stopped; policy and memory index saved");
    AISLE_RETURN_IF_ERROR(served);
    return closed;
  };
}

}  // namespace aisle::cli
