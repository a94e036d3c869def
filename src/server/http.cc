// HTTP over Boost.Beast and Asio: a few event-loop threads own every socket; searches and
// writes run on a bounded worker pool, never on the event loop, so a slow or idle client costs
// a socket and a timer, not a thread. Kept apart from everything else (see DESIGN.md).
#include "aisle/server/http.h"

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aisle/io/utf8.h"
#include "http_request.h"
#include "web_assets.h"

namespace aisle::server {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kMaxJsonDepth = 32;
constexpr std::array<double, 12> kBucketsMs = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000};
// After refusing a request whose body was not read, the connection reads (and drops) at most
// this much for at most kLingerTime before closing, so the refusal is not lost to a reset.
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr auto kLingerTime = std::chrono::seconds(1);

// What a handler answers.
struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

Response json_response(const Reply& reply) {
  return {reply.status, "application/json", reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

Response error_response(int status, std::string_view code, std::string_view message) {
  return json_response(error_reply(status, code, message));
}

// One request as a handler sees it: the {id} of the path (decoded), the query parameters and
// the body. Authorization was checked before the body was read.
struct Call {
  std::string id;
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;
};

struct Route {
  http::verb method;
  std::string path;  // the whole path, or the part before {id}
  bool has_id = false;
  bool write = false;      // needs the API key
  bool on_worker = true;   // false: cheap enough for the event loop (static files, health)
  std::string label;       // for /metrics
  std::function<Response(const Call&)> handler;
};

// The {id} part of `raw_path` for a route with an id: one non-empty segment, decoded.
std::optional<std::string> match(const Route& route, std::string_view raw_path) {
  if (!route.has_id) return raw_path == route.path ? std::optional<std::string>("") : std::nullopt;
  if (!raw_path.starts_with(route.path)) return std::nullopt;
  const std::string_view rest = raw_path.substr(route.path.size());
  if (rest.empty() || rest.find('/') != std::string_view::npos) return std::nullopt;
  return detail::percent_decode(rest, false);
}

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

Result<nlohmann::json> parse_body(const std::string& text) {
  if (text.empty()) return Status::bad_input("the request has no body (a JSON object expected)", Where("", 0, "body"));
  if (json_depth(text) > kMaxJsonDepth) {
    return Status::bad_input(fmt::format("JSON nested more than {} levels deep", kMaxJsonDepth), Where("", 0, "body"));
  }
  nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (body.is_discarded()) {
    if (io::find_invalid_utf8(text)) return Status::bad_input("the body is not valid UTF-8", Where("", 0, "body"));
    return Status::bad_input("the body is not valid JSON", Where("", 0, "body"));
  }
  if (!body.is_object() && !body.is_array()) return Status::bad_input("the body must be a JSON object or array", Where("", 0, "body"));
  return body;
}

// A GET's parameters as a request object (repeated "filter" parameters become "filters").
Result<nlohmann::json> params_object(const Call& call) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [key, value] : call.params) {
    if (io::find_invalid_utf8(key) || io::find_invalid_utf8(value)) {
      return Status::bad_input("parameter is not valid UTF-8", Where("", 0, io::find_invalid_utf8(key) ? "parameter" : key));
    }
    if (key == "filter" || key == "filters") {
      object["filters"].push_back(value);
    } else if (object.contains(key)) {
      return Status::bad_input("parameter \"" + key + "\" is given more than once", Where("", 0, key));
    } else {
      object[key] = value;
    }
  }
  return object;
}

std::string allow_header(const std::vector<const Route*>& routes) {
  std::string allow;
  bool get = false;
  for (const Route* route : routes) {
    allow += (allow.empty() ? "" : ", ") + std::string(http::to_string(route->method));
    get = get || route->method == http::verb::get;
  }
  if (get) allow += ", HEAD";
  return allow + ", OPTIONS";
}

// A fixed set of worker threads over one bounded FIFO of jobs; each job learns how long it
// waited (for load shedding).
class WorkerPool {
 public:
  using Job = std::function<void(Clock::duration waited)>;
  explicit WorkerPool(std::size_t max_queue) : max_queue_(max_queue) {}
  ~WorkerPool() { shutdown(); }

  // Starts the threads (from serve(), so that they inherit its thread's CPU affinity).
  void start(int threads) {
    std::lock_guard lock(mutex_);
    if (stopping_ || !workers_.empty()) return;
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }

  // False when the queue is full or the pool is stopping: the caller answers 503.
  bool submit(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || jobs_.size() >= max_queue_) return false;
      jobs_.push_back({std::move(job), Clock::now()});
    }
    ready_.notify_one();
    return true;
  }
  std::size_t queued() {
    std::lock_guard lock(mutex_);
    return jobs_.size();
  }
  // Runs every queued job, then joins the threads. Idempotent.
  void shutdown() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_all();
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

 private:
  struct Queued {
    Job job;
    Clock::time_point since;
  };
  void work() {
    while (true) {
      Queued next;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        next = std::move(jobs_.front());
        jobs_.pop_front();
      }
      next.job(Clock::now() - next.since);
    }
  }

  const std::size_t max_queue_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Queued> jobs_;  // guarded by mutex_
  std::vector<std::thread> workers_;
  bool stopping_ = false;  // guarded by mutex_
};

class Session;

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Length differences still take the time of comparing `a` with itself.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : a[i] ^ 0xff));
  return diff == 0;
}

Reply public_reply(const Reply& reply, std::string_view request_id) {
  if (reply.status < 500) return reply;
  Reply out;
  out.status = reply.status;
  std::string code = "internal";
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_object()) {
    code = reply.body["error"].value("code", code);
  }
  const bool ours = reply.status == 503 || reply.status == 501 || reply.status == 505;  // messages the server wrote itself
  std::string message = ours && reply.body.is_object() && reply.body.contains("error")
                            ? reply.body["error"].value("message", "")
                            : fmt::format("internal error; the server log has the details under request id {}", request_id);
  out.body = {{"error", {{"code", code}, {"message", message}, {"request_id", std::string(request_id)}}}};
  return out;
}

namespace {

// Everything a server shares between its sessions (HttpServer::Impl is this).
struct ServerCore {
  Engine& engine;
  ServeOptions options;
  detail::RequestLimits limits;
  // Before io: sessions still owned by handlers queued in io outlive the members after it.
  std::atomic<int> connections{0};
  std::atomic<std::int64_t> shed{0}, refused_connections{0}, timed_out{0};
  net::io_context io;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  WorkerPool workers;
  std::vector<Route> routes;
  int port = 0;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> requests{0};
  std::string id_prefix;

  std::mutex sessions_mutex;
  std::list<std::weak_ptr<Session>> sessions;  // guarded by sessions_mutex

  struct RouteStats {
    std::map<int, std::int64_t> by_status;
    std::array<std::int64_t, kBucketsMs.size() + 1> buckets{};
    double sum_ms = 0;
    std::int64_t count = 0;
  };
  std::mutex metrics_mutex;
  std::map<std::string, RouteStats> route_stats;  // guarded by metrics_mutex

  ServerCore(Engine& e, const ServeOptions& o)
      : engine(e),
        options(o),
        limits{o.max_header_bytes, o.max_headers, o.max_body_bytes},
        io(std::max(1, o.io_threads)),
        acceptor(net::make_strand(io)),
        accept_retry(acceptor.get_executor()),
        workers(o.max_queue) {
    std::random_device random;
    id_prefix = fmt::format("{:08x}", random());
    routes_setup();
  }

  std::string next_request_id() { return fmt::format("{}-{}", id_prefix, ++requests); }

  bool authorized(const http::request_header<>& header) const {
    if (options.api_key.empty()) return false;
    std::string given(header["X-API-Key"]);
    const std::string_view auth = header[http::field::authorization];
    if (given.empty() && auth.starts_with("Bearer ")) given = std::string(auth.substr(7));
    return constant_time_equal(given, options.api_key);
  }

  // 401/403 for a request that needs the key and lacks it; nullopt when it may go on.
  std::optional<Response> refuse_unauthorized(const Route& route, const http::request_header<>& header) const {
    if (!route.write && !options.key_reads) return std::nullopt;
    if (route.write && options.api_key.empty()) {
      return error_response(403, "forbidden", "this server has no API key configured: writes are disabled (aisle serve --api-key-file)");
    }
    if (!authorized(header)) return error_response(401, "unauthorized", "a valid API key is required (X-API-Key or Authorization: Bearer)");
    return std::nullopt;
  }

  void record(const std::string& label, int status, double ms) {
    std::lock_guard lock(metrics_mutex);
    RouteStats& stats = route_stats[label];
    ++stats.by_status[status];
    std::size_t bucket = 0;
    while (bucket < kBucketsMs.size() && ms > kBucketsMs[bucket]) ++bucket;
    ++stats.buckets[bucket];
    stats.sum_ms += ms;
    ++stats.count;
  }

  void routes_setup() {
    auto page = [](const char* type, std::string_view content) {
      return [type, content](const Call&) { return Response{200, type, std::string(content), {}}; };
    };
    auto with_body = [](const std::function<Reply(const nlohmann::json&)>& handler) {
      return [handler](const Call& call) {
        auto body = parse_body(call.body);
        return json_response(body.is_ok() ? handler(*body) : error_reply(body.status()));
      };
    };
    auto with_params = [](const std::function<Reply(const Call&, const nlohmann::json&)>& handler) {
      return [handler](const Call& call) {
        auto params = params_object(call);
        return json_response(params.is_ok() ? handler(call, *params) : error_reply(params.status()));
      };
    };
    using V = http::verb;
    routes.push_back({V::get, "/", false, false, false, "/", page("text/html; charset=utf-8", web::kIndexHtml)});
    routes.push_back({V::get, "/app.js", false, false, false, "/app.js", page("text/javascript; charset=utf-8", web::kAppJs)});
    routes.push_back({V::get, "/style.css", false, false, false, "/style.css", page("text/css; charset=utf-8", web::kStyleCss)});
    routes.push_back({V::get, "/search", false, false, true, "/search",
                      with_params([this](const Call&, const nlohmann::json& request) { return engine.search(request); })});
    routes.push_back({V::post, "/search", false, false, true, "/search",
                      with_body([this](const nlohmann::json& body) { return engine.search(body); })});
    routes.push_back({V::get, "/related/", true, false, true, "/related/{id}",
                      with_params([this](const Call& call, const nlohmann::json& request) {
                        const std::string locale = request.value("locale", "en");
                        const std::string k_text = request.value("k", "10");
                        int k = 0;
                        try {
                          std::size_t used = 0;
                          k = std::stoi(k_text, &used);
                          if (used != k_text.size()) k = 0;
                        } catch (const std::exception&) {
                          k = 0;
                        }
                        const std::string all_locales = request.value("all_locales", "false");
                        if (all_locales != "true" && all_locales != "false") {
                          return error_reply(400, "bad_input", "all_locales must be true or false", "all_locales");
                        }
                        return engine.related(call.id, locale, k, all_locales == "true");
                      })});
    routes.push_back({V::get, "/suggest", false, false, true, "/suggest",
                      with_params([this](const Call&, const nlohmann::json& request) { return engine.suggest(request); })});
    routes.push_back({V::post, "/classify", false, false, true, "/classify",
                      with_body([this](const nlohmann::json& body) { return engine.classify(body); })});
    routes.push_back({V::get, "/products/", true, false, true, "/products/{id}",
                      with_params([this](const Call& call, const nlohmann::json& request) {
                        return engine.product(call.id, request.value("locale", "en"));
                      })});
    routes.push_back({V::delete_, "/products/", true, true, true, "/products/{id}",
                      with_params([this](const Call& call, const nlohmann::json& request) {
                        for (const auto& [key, value] : request.items()) {
                          if (key != "locale") return error_reply(400, "bad_input", "unknown parameter \"" + key + "\" (expected locale)", key);
                        }
                        return engine.delete_product(call.id, request.value("locale", "en"));
                      })});
    routes.push_back({V::post, "/products", false, true, true, "/products",
                      with_body([this](const nlohmann::json& body) { return engine.upsert_products(body); })});
    routes.push_back({V::post, "/events", false, true, true, "/events",
                      with_body([this](const nlohmann::json& body) { return engine.add_events(body); })});
    routes.push_back({V::get, "/health", false, false, false, "/health", [this](const Call&) { return json_response(engine.health()); }});
    routes.push_back({V::get, "/metrics", false, false, false, "/metrics",
                      [this](const Call&) { return Response{200, "text/plain; version=0.0.4", metrics_text(), {}}; }});
  }

  std::string metrics_text() {
    std::string out;
    out += "# HELP aisle_http_requests_total HTTP requests by route and status.\n# TYPE aisle_http_requests_total counter\n";
    {
      std::lock_guard lock(metrics_mutex);
      for (const auto& [route, stats] : route_stats) {
        for (const auto& [status, count] : stats.by_status) {
          out += fmt::format("aisle_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", route, status, count);
        }
      }
      out += "# HELP aisle_http_request_duration_ms Request latency in milliseconds.\n# TYPE aisle_http_request_duration_ms histogram\n";
      for (const auto& [route, stats] : route_stats) {
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
    }
    out += fmt::format("# HELP aisle_http_shed_total Requests answered 429 (queued too long for a worker).\n"
                       "# TYPE aisle_http_shed_total counter\naisle_http_shed_total {}\n", shed.load());
    out += fmt::format("# HELP aisle_http_refused_connections_total Connections answered 503 (over the connection cap).\n"
                       "# TYPE aisle_http_refused_connections_total counter\naisle_http_refused_connections_total {}\n",
                       refused_connections.load());
    out += fmt::format("# HELP aisle_http_timeouts_total Connections closed at their read or write deadline.\n"
                       "# TYPE aisle_http_timeouts_total counter\naisle_http_timeouts_total {}\n", timed_out.load());
    out += fmt::format("# HELP aisle_http_connections Open connections.\n# TYPE aisle_http_connections gauge\naisle_http_connections {}\n",
                       connections.load());
    out += fmt::format("# HELP aisle_http_queued Requests waiting for a worker.\n# TYPE aisle_http_queued gauge\naisle_http_queued {}\n",
                       workers.queued());
    for (const auto& [name, help, value] : engine.gauges()) {
      out += fmt::format("# HELP {} {}.\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
    }
    return out;
  }

  void accept();
  void refuse_connection(tcp::socket& socket);
  void close_idle_sessions();
};

// One connection: reads a request (header, then body, under one deadline the client cannot
// stretch), answers it, and reads the next (keep-alive; pipelined requests wait in the buffer
// and are answered in order). Runs on its own strand; handlers run on the worker pool.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore& server)
      : stream_(std::move(socket)), deadline_(stream_.get_executor()), server_(server) {
    ++server_.connections;
  }
  ~Session() { --server_.connections; }

  void start() { net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::read_request, shared_from_this())); }

  // On stop: a connection waiting for its next request is closed; one with a request under
  // way finishes it (its reply says Connection: close).
  void stop_if_idle() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
      if (self->state_ == State::kReading && self->buffer_.size() == 0 && (!self->parser_ || !self->parser_->got_some())) self->stream_.cancel();
    });
  }

 private:
  enum class State { kReading, kBusy, kClosed };

  const detail::RequestLimits& limits() const { return server_.limits; }

  void read_request() {
    if (server_.stopping) return close();
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits().max_header_bytes, UINT32_MAX)));
    parser_->body_limit(limits().max_body_bytes);
    route_ = nullptr;
    head_ = false;
    timed_out_ = false;
    // One deadline for the whole request (header and body): a client sending a byte at a
    // time cannot extend it. Our own timer rather than the stream's, which would close the
    // socket before a 408 could be sent.
    stream_.expires_never();
    const std::uint64_t generation = ++reading_;
    deadline_.expires_after(std::chrono::seconds(server_.options.io_timeout_s));
    deadline_.async_wait([self = shared_from_this(), generation](beast::error_code error) {
      if (error || self->state_ != State::kReading || self->reading_ != generation) return;
      self->timed_out_ = true;
      beast::error_code ignored;
      self->stream_.socket().cancel(ignored);
    });
    http::async_read_header(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_header, shared_from_this()));
  }

  void on_read_error(beast::error_code error) {
    if (timed_out_) {
      ++server_.timed_out;
      if (parser_->got_some() || buffer_.size() > 0) return reject({408, "request_timeout", "the request did not arrive in time"});
      return close();
    }
    if (auto rejection = detail::rejection_for(error)) return reject(*rejection);
    close();
  }

  void on_header(beast::error_code error, std::size_t) {
    if (error) return on_read_error(error);
    started_ = Clock::now();
    request_id_ = server_.next_request_id();
    const auto& header = parser_->get();
    keep_alive_ = header.keep_alive();
    if (auto problem = detail::header_problem(header.base(), limits())) return reject(*problem);
    detail::Target target;
    if (auto problem = detail::parse_target(header.target(), &target)) return reject(*problem);
    params_ = std::move(target.params);

    std::vector<const Route*> on_path;
    const Route* chosen = nullptr;
    const http::verb method = header.method() == http::verb::head ? http::verb::get : header.method();
    for (const Route& route : server_.routes) {
      auto id = match(route, target.raw_path);
      if (!id) continue;
      on_path.push_back(&route);
      if (route.method == method && !chosen) {
        chosen = &route;
        id_ = std::move(*id);
      }
    }
    if (on_path.empty()) {
      label_ = "other";
      return finish(error_response(404, "not_found", fmt::format("no route {} {}", std::string(header.method_string()), target.raw_path)),
                    !parser_->is_done());
    }
    label_ = on_path.front()->label;
    if (header.method() == http::verb::options) {
      Response options{204, "", "", {{"Allow", allow_header(on_path)}}};
      return finish(std::move(options), !parser_->is_done());
    }
    if (!chosen) {
      Response refused = error_response(405, "method_not_allowed",
                                        fmt::format("{} is not allowed on {}", std::string(header.method_string()), target.raw_path));
      refused.headers.emplace_back("Allow", allow_header(on_path));
      return finish(std::move(refused), !parser_->is_done());
    }
    route_ = chosen;
    head_ = header.method() == http::verb::head;
    if (auto refused = server_.refuse_unauthorized(*route_, header.base())) return finish(std::move(*refused), !parser_->is_done());
    if (parser_->is_done()) return on_body({}, 0);
    if (beast::iequals(header[http::field::expect], "100-continue")) {
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, header.version());
      http::async_write(stream_, *interim, [self = shared_from_this(), interim](beast::error_code write_error, std::size_t) {
        if (write_error) return self->close();
        self->read_body();
      });
      return;
    }
    read_body();
  }

  void read_body() { http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::on_body, shared_from_this())); }

  void on_body(beast::error_code error, std::size_t) {
    if (error) return on_read_error(error);
    state_ = State::kBusy;
    deadline_.cancel();
    Call call{std::move(id_), std::move(params_), std::move(parser_->get().body())};
    if (!route_->on_worker) return finish(run(*route_, call), false);
    const Route* route = route_;
    auto guard = net::make_work_guard(server_.io);  // serve() must not return while a reply is owed
    const bool queued = server_.workers.submit(
        [self = shared_from_this(), route, call = std::move(call), guard = std::move(guard)](Clock::duration waited) mutable {
          Response response;
          const auto waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(waited).count();
          if (waited_ms > self->server_.options.queue_wait_ms) {
            ++self->server_.shed;
            response = error_response(429, "overloaded", fmt::format("the server is overloaded (queued {} ms); retry later", waited_ms));
            response.headers.emplace_back("Retry-After", "1");
          } else {
            response = run(*route, call);
          }
          net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable { self->finish(std::move(response), false); });
        });
    if (!queued) {
      Response busy = error_response(503, "overloaded", "too many requests are waiting for a worker; retry later");
      busy.headers.emplace_back("Retry-After", "1");
      finish(std::move(busy), false);
    }
  }

  static Response run(const Route& route, const Call& call) {
    try {
      return route.handler(call);
    } catch (const std::exception& e) {
      return error_response(500, "internal", e.what());
    } catch (...) {
      return error_response(500, "internal", "unknown error");
    }
  }

  void reject(const detail::Rejection& rejection) {
    if (request_id_.empty()) request_id_ = server_.next_request_id();
    if (label_.empty()) label_ = "other";
    if (started_ == Clock::time_point{}) started_ = Clock::now();
    finish(error_response(rejection.status, rejection.code, rejection.message), true);
  }

  // Sends `response`; then reads the next request, or closes when `close_after` (the request
  // was refused before its body was read), the client asked to, or the server is stopping.
  void finish(Response response, bool close_after) {
    state_ = State::kBusy;
    deadline_.cancel();
    if (response.status >= 500) {
      const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
      Reply reply{response.status, body};
      spdlog::error("request {} {} {} -> {}: {}", request_id_, parser_ ? std::string(parser_->get().method_string()) : "",
                    parser_ ? std::string(parser_->get().target()) : "", response.status, response.body);
      response = json_response(public_reply(reply, request_id_));
    }
    const unsigned version = parser_ && parser_->is_header_done() ? parser_->get().version() : 11;
    auto message = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(response.status), version);
    if (!response.content_type.empty()) message->set(http::field::content_type, response.content_type);
    message->set("X-Request-Id", request_id_);
    message->set("X-Content-Type-Options", "nosniff");
    for (auto& [name, value] : response.headers) message->set(name, value);
    const std::size_t size = response.body.size();
    if (!head_) message->body() = std::move(response.body);
    message->prepare_payload();
    if (head_) message->content_length(size);
    const bool keep = keep_alive_ && !close_after && !server_.stopping;
    message->keep_alive(keep);
    server_.record(label_.empty() ? "other" : label_, response.status,
                   std::chrono::duration<double, std::milli>(Clock::now() - started_).count());
    stream_.expires_after(std::chrono::seconds(server_.options.io_timeout_s));
    http::async_write(stream_, *message, [self = shared_from_this(), message, keep, close_after](beast::error_code error, std::size_t) {
      if (error) return self->close();
      if (close_after) return self->linger_close();
      if (!keep) return self->close();
      self->request_id_.clear();
      self->label_.clear();
      self->started_ = {};
      self->read_request();
    });
  }

  // Half-closes, then drops what the client still sends (a bounded amount, for a bounded
  // time) so that closing does not reset the connection before the client reads the reply.
  void linger_close() {
    state_ = State::kClosed;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    drain();
  }
  void drain() {
    if (!scratch_) scratch_ = std::make_unique<std::array<char, 16384>>();
    stream_.async_read_some(net::buffer(*scratch_), [self = shared_from_this()](beast::error_code error, std::size_t n) {
      self->drained_ += n;
      if (error || self->drained_ > kLingerBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    state_ = State::kClosed;
    deadline_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  net::steady_timer deadline_;  // of the request being read
  std::uint64_t reading_ = 0;   // requests read so far: tells a stale deadline from the current one
  bool timed_out_ = false;
  ServerCore& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  State state_ = State::kReading;
  const Route* route_ = nullptr;
  std::string id_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string request_id_, label_;
  Clock::time_point started_{};
  bool head_ = false, keep_alive_ = true;
  std::unique_ptr<std::array<char, 16384>> scratch_;
  std::size_t drained_ = 0;
};

void ServerCore::accept() {
  acceptor.async_accept(net::make_strand(io), [this](beast::error_code error, tcp::socket socket) {
    if (!acceptor.is_open() || stopping) return;
    if (error) {
      // Out of descriptors (EMFILE) and the like: try again shortly rather than spin.
      spdlog::warn("accept failed: {}", error.message());
      accept_retry.expires_after(std::chrono::milliseconds(50));
      accept_retry.async_wait([this](beast::error_code) {
        if (!stopping) accept();
      });
      return;
    }
    if (connections.load() >= options.max_connections) {
      refuse_connection(socket);
      accept();
      return;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // replies go out whole at once (no delayed-ACK stalls)
    auto session = std::make_shared<Session>(std::move(socket), *this);
    {
      std::lock_guard lock(sessions_mutex);
      sessions.remove_if([](const std::weak_ptr<Session>& s) { return s.expired(); });
      sessions.push_back(session);
    }
    session->start();
    accept();
  });
}

void ServerCore::refuse_connection(tcp::socket& socket) {
  ++refused_connections;
  const std::string body = error_reply(503, "overloaded", "too many open connections; retry later").body.dump();
  const std::string reply = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
      "Content-Length: {}\r\n\r\n{}",
      body.size(), body);
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  net::write(socket, net::buffer(reply), ignored);  // a few hundred bytes: the socket buffer takes them at once
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  socket.close(ignored);
}

void ServerCore::close_idle_sessions() {
  std::lock_guard lock(sessions_mutex);
  for (const auto& weak : sessions) {
    if (auto session = weak.lock()) session->stop_if_idle();
  }
}

}  // namespace

struct HttpServer::Impl : ServerCore {
  using ServerCore::ServerCore;
};

HttpServer::HttpServer(Engine& engine, const ServeOptions& options) : impl_(std::make_unique<Impl>(engine, options)) {}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::bind() {
  beast::error_code error;
  const auto address = net::ip::make_address(impl_->options.host, error);
  if (error) return Status::bad_input(fmt::format("cannot listen on {}: not an IP address", impl_->options.host));
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(impl_->options.port));
  tcp::acceptor& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(net::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(net::socket_base::max_listen_connections, error);
  if (error) {
    acceptor.close(error);
    return Status::io_error(fmt::format("cannot listen on {}:{}: {}", impl_->options.host, impl_->options.port, error.message()));
  }
  impl_->port = acceptor.local_endpoint().port();
  return impl_->port;
}

Status HttpServer::serve() {
  if (impl_->port == 0) return Status::internal("serve() before bind()");
  if (impl_->stopping) return Status::ok();
  impl_->workers.start(std::max(1, impl_->options.threads));
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    if (!impl->stopping) impl->accept();
  });
  auto run = [impl = impl_.get()] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      spdlog::error("HTTP event loop: {}", e.what());
    }
  };
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->options.io_threads; ++i) extra.emplace_back(run);
  run();
  for (std::thread& thread : extra) thread.join();
  return Status::ok();
}

void HttpServer::stop() {
  if (impl_->stopping.exchange(true)) return;
  net::post(impl_->acceptor.get_executor(), [impl = impl_.get()] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
    impl->accept_retry.cancel();
  });
  impl_->close_idle_sessions();
}

std::string HttpServer::metrics_text() { return impl_->metrics_text(); }

}  // namespace aisle::server
