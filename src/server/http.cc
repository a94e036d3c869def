// HTTP: kept apart from everything else (httplib.h before Eigen breaks Eigen; see DESIGN.md).
#include "aisle/server/http.h"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "aisle/io/utf8.h"
#include "web_assets.h"

#include <httplib.h>

namespace aisle::server {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxJsonDepth = 32;
constexpr std::array<double, 12> kBucketsMs = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000};

// When the current connection's task was queued, and whether its first request was admitted.
thread_local Clock::time_point tls_enqueued;
thread_local bool tls_admitted = false;
thread_local Clock::time_point tls_request_start;

// A fixed set of worker threads over one FIFO of connections, each stamped with the time it
// was queued (for load shedding).
class WorkerPool : public httplib::TaskQueue {
 public:
  explicit WorkerPool(int threads) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~WorkerPool() override = default;

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back({std::move(fn), Clock::now()});
    }
    ready_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) worker.join();
  }

 private:
  struct Job {
    std::function<void()> fn;
    Clock::time_point queued;
  };
  void work() {
    while (true) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;  // stopping, and every queued connection served
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      tls_enqueued = job.queued;
      tls_admitted = false;
      job.fn();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Job> jobs_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

// Deepest nesting of a JSON text (brackets outside strings).
int json_depth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

void send(httplib::Response& res, const Reply& reply) {
  res.status = reply.status;
  res.set_content(reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

Result<nlohmann::json> parse_body(const httplib::Request& req) {
  if (req.body.empty()) return Status::bad_input("the request has no body (a JSON object expected)", Where("", 0, "body"));
  if (json_depth(req.body) > kMaxJsonDepth) {
    return Status::bad_input(fmt::format("JSON nested more than {} levels deep", kMaxJsonDepth), Where("", 0, "body"));
  }
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    if (auto bad = io::find_invalid_utf8(req.body)) return Status::bad_input("the body is not valid UTF-8", Where("", 0, "body"));
    return Status::bad_input("the body is not valid JSON", Where("", 0, "body"));
  }
  if (!body.is_object() && !body.is_array()) return Status::bad_input("the body must be a JSON object or array", Where("", 0, "body"));
  return body;
}

// A GET's parameters as a request object (repeated "filter" parameters become "filters").
Result<nlohmann::json> params_object(const httplib::Request& req) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : req.params) {
    if (io::find_invalid_utf8(key) || io::find_invalid_utf8(value)) {
      return Status::bad_input("parameter is not valid UTF-8", Where("", 0, io::find_invalid_utf8(key) ? "parameter" : key));
    }
    if (key == "filter" || key == "filters") {
      object["filters"].push_back(value);
    } else {
      object[key] = value;
    }
  }
  return object;
}

std::string route_of(const std::string& path) {
  static const char* const kRoutes[] = {"/", "/search", "/classify", "/products", "/events", "/health", "/metrics",
                                        "/app.js", "/style.css"};
  for (const char* route : kRoutes) {
    if (path == route) return route;
  }
  if (path.starts_with("/related/")) return "/related/{id}";
  if (path.starts_with("/products/")) return "/products/{id}";
  return "other";
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Length differences still take the time of comparing `a` with itself.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : a[i] ^ 0xff));
  return diff == 0;
}

struct HttpServer::Impl {
  Engine& engine;
  ServeOptions options;
  httplib::Server http;
  int port = 0;
  // stop() may come before serve() listens (a signal right after bind, a test that stops at
  // once): serve() then returns without listening, or stop() waits until it listens.
  std::atomic<bool> stop_requested{false}, serving{false}, served{false};

  struct RouteStats {
    std::map<int, std::int64_t> by_status;
    std::array<std::int64_t, kBucketsMs.size() + 1> buckets{};
    double sum_ms = 0;
    std::int64_t count = 0;
  };
  std::mutex metrics_mutex;
  std::map<std::string, RouteStats> routes;
  std::atomic<std::int64_t> shed{0};

  Impl(Engine& e, const ServeOptions& o) : engine(e), options(o) {}

  bool authorized(const httplib::Request& req) const {
    if (options.api_key.empty()) return false;
    std::string given = req.get_header_value("X-API-Key");
    const std::string auth = req.get_header_value("Authorization");
    if (given.empty() && auth.starts_with("Bearer ")) given = auth.substr(7);
    return constant_time_equal(given, options.api_key);
  }

  // Runs `handler` when the request may go on; answers 401/403 itself otherwise.
  void guarded(const httplib::Request& req, httplib::Response& res, bool write, const std::function<Reply()>& handler) {
    if (write || options.key_reads) {
      if (options.api_key.empty()) {
        send(res, error_reply(403, "forbidden", "this server has no API key configured: writes are disabled (aisle serve --api-key-file)"));
        return;
      }
      if (!authorized(req)) {
        send(res, error_reply(401, "unauthorized", "a valid API key is required (X-API-Key or Authorization: Bearer)"));
        return;
      }
    }
    send(res, handler());
  }

  void record(const std::string& route, int status, double ms) {
    std::lock_guard lock(metrics_mutex);
    RouteStats& stats = routes[route];
    ++stats.by_status[status];
    std::size_t bucket = 0;
    while (bucket < kBucketsMs.size() && ms > kBucketsMs[bucket]) ++bucket;
    ++stats.buckets[bucket];
    stats.sum_ms += ms;
    ++stats.count;
  }

  void routes_setup() {
    http.new_task_queue = [threads = options.threads] { return new WorkerPool(threads); };
    http.set_payload_max_length(options.max_body_bytes);
    http.set_read_timeout(options.io_timeout_s, 0);
    http.set_write_timeout(options.io_timeout_s, 0);
    http.set_keep_alive_timeout(5);
    http.set_keep_alive_max_count(1000);
    http.set_tcp_nodelay(true);  // replies go out whole at once (no 40 ms delayed-ACK stalls)

    http.set_pre_routing_handler([this](const httplib::Request&, httplib::Response& res) {
      tls_request_start = Clock::now();
      if (!tls_admitted) {
        tls_admitted = true;
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(tls_request_start - tls_enqueued).count();
        if (waited > options.queue_wait_ms) {
          ++shed;
          res.set_header("Retry-After", "1");
          send(res, error_reply(429, "overloaded", fmt::format("the server is overloaded (queued {} ms); retry later", waited)));
          return httplib::Server::HandlerResponse::Handled;
        }
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - tls_request_start).count();
      record(route_of(req.path), res.status, ms);
    });
    http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      if (res.status == 413) {
        send(res, error_reply(413, "payload_too_large", "the request body is larger than the server accepts"));
      } else if (res.status == 404) {
        send(res, error_reply(404, "not_found", "no route " + req.method + " " + req.path));
      } else {
        send(res, error_reply(res.status, "http_error", fmt::format("HTTP {}", res.status)));
      }
      return httplib::Server::HandlerResponse::Handled;
    }));
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr error) {
      std::string what = "unknown error";
      try {
        if (error) std::rethrow_exception(error);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send(res, error_reply(500, "internal", what));
    });

    auto page = [](const char* type, std::string_view content) {
      return [type, content](const httplib::Request&, httplib::Response& res) { res.set_content(std::string(content), type); };
    };
    http.Get("/", page("text/html; charset=utf-8", web::kIndexHtml));
    http.Get("/app.js", page("text/javascript; charset=utf-8", web::kAppJs));
    http.Get("/style.css", page("text/css; charset=utf-8", web::kStyleCss));

    auto with_body = [](const httplib::Request& req, const std::function<Reply(const nlohmann::json&)>& handler) {
      auto body = parse_body(req);
      if (!body.is_ok()) return error_reply(body.status());
      return handler(*body);
    };
    http.Get("/search", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, false, [&] {
        auto request = params_object(req);
        if (!request.is_ok()) return error_reply(request.status());
        return engine.search(*request);
      });
    });
    http.Post("/search", [this, with_body](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, false, [&] { return with_body(req, [&](const nlohmann::json& body) { return engine.search(body); }); });
    });
    http.Get(R"(/related/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, false, [&] {
        auto request = params_object(req);
        if (!request.is_ok()) return error_reply(request.status());
        const std::string locale = request->value("locale", "en");
        const std::string k_text = request->value("k", "10");
        int k = 0;
        try {
          std::size_t used = 0;
          k = std::stoi(k_text, &used);
          if (used != k_text.size()) k = 0;
        } catch (const std::exception&) {
          k = 0;
        }
        const std::string all_locales = request->value("all_locales", "false");
        if (all_locales != "true" && all_locales != "false") {
          return error_reply(400, "bad_input", "all_locales must be true or false", "all_locales");
        }
        return engine.related(req.matches[1], locale, k, all_locales == "true");
      });
    });
    http.Post("/classify", [this, with_body](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, false, [&] { return with_body(req, [&](const nlohmann::json& body) { return engine.classify(body); }); });
    });
    http.Get(R"(/products/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, false, [&] {
        auto request = params_object(req);
        if (!request.is_ok()) return error_reply(request.status());
        return engine.product(req.matches[1], request->value("locale", "en"));
      });
    });
    http.Post("/products", [this, with_body](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, true, [&] { return with_body(req, [&](const nlohmann::json& body) { return engine.upsert_products(body); }); });
    });
    http.Post("/events", [this, with_body](const httplib::Request& req, httplib::Response& res) {
      guarded(req, res, true, [&] { return with_body(req, [&](const nlohmann::json& body) { return engine.add_events(body); }); });
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) { send(res, engine.health()); });
    http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      if (options.key_reads && !authorized(req)) {
        send(res, error_reply(401, "unauthorized", "a valid API key is required (X-API-Key or Authorization: Bearer)"));
        return;
      }
      res.set_content(metrics_text(), "text/plain; version=0.0.4");
    });
  }

  std::string metrics_text() {
    std::string out;
    out += "# HELP aisle_http_requests_total HTTP requests by route and status.\n# TYPE aisle_http_requests_total counter\n";
    std::lock_guard lock(metrics_mutex);
    for (const auto& [route, stats] : routes) {
      for (const auto& [status, count] : stats.by_status) {
        out += fmt::format("aisle_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", route, status, count);
      }
    }
    out += "# HELP aisle_http_request_duration_ms Request latency in milliseconds.\n# TYPE aisle_http_request_duration_ms histogram\n";
    for (const auto& [route, stats] : routes) {
      std::int64_t cumulative = 0;
      for (std::size_t b = 0; b < kBucketsMs.size(); ++b) {
        cumulative += stats.buckets[b];
        out += fmt::format("aisle_http_request_duration_ms_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route, kBucketsMs[b], cumulative);
      }
      cumulative += stats.buckets[kBucketsMs.size()];
      out += fmt::format("aisle_http_request_duration_ms_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, cumulative);
      out += fmt::format("aisle_http_request_duration_ms_sum{{route=\"{}\"}} {:.3f}\n", route, stats.sum_ms);
      out += fmt::format("aisle_http_request_duration_ms_count{{route=\"{}\"}} {}\n", route, stats.count);
    }
    out += fmt::format("# HELP aisle_http_shed_total Connections answered 429 (queued too long).\n# TYPE aisle_http_shed_total counter\naisle_http_shed_total {}\n", shed.load());
    for (const auto& [name, help, value] : engine.gauges()) {
      out += fmt::format("# HELP {} {}.\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
    }
    return out;
  }
};

HttpServer::HttpServer(Engine& engine, const ServeOptions& options) : impl_(std::make_unique<Impl>(engine, options)) {
  impl_->routes_setup();
}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::bind() {
  const int port = impl_->options.port == 0 ? impl_->http.bind_to_any_port(impl_->options.host)
                                            : (impl_->http.bind_to_port(impl_->options.host, impl_->options.port) ? impl_->options.port : -1);
  if (port <= 0) return Status::io_error(fmt::format("cannot listen on {}:{}", impl_->options.host, impl_->options.port));
  impl_->port = port;
  return port;
}

Status HttpServer::serve() {
  if (impl_->port == 0) return Status::internal("serve() before bind()");
  impl_->serving.store(true);
  const bool listened = impl_->stop_requested.load() || impl_->http.listen_after_bind();
  impl_->served.store(true);
  if (!listened) return Status::io_error("the HTTP server stopped with an error");
  return Status::ok();
}

void HttpServer::stop() {
  impl_->stop_requested.store(true);
  // serve() has not started (it will see the request), has returned, or is about to listen:
  // wait for the listening loop and stop it.
  while (impl_->serving.load() && !impl_->served.load()) {
    if (impl_->http.is_running()) {
      impl_->http.stop();
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

std::string HttpServer::metrics_text() { return impl_->metrics_text(); }

}  // namespace aisle::server
