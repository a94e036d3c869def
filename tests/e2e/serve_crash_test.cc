// `aisle serve` killed with -9 in the middle of mixed writes, three times over: after each
// restart every acknowledged write is in the store and in every derived index (lexical,
// vectors, memory), and the policy has every update it reported.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "aisle/store/store.h"
#include "aisle/vector/vector_index.h"
#include "test_util.h"

#include <httplib.h>

namespace aisle {
namespace {

using aisle::testing::TempDir;

constexpr const char* kKey = "crash-test-key-0123456789";

int run(const std::string& arguments) {
  const std::string command = std::string(AISLE_BINARY) + " --progress never " + arguments + " >/dev/null 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A word the analyzers keep whole and no catalog has: "zq" + letters.
std::string token(int round, int n) {
  std::string word = "zq";
  word += static_cast<char>('a' + round);
  for (int i = 0; i < 3; ++i, n /= 26) word += static_cast<char>('a' + n % 26);
  return word;
}

struct Server {
  pid_t pid = -1;
  int port = 0;
};

// Starts `aisle serve` on a free port (its output to `out_file`) and waits for its
// "listening" line.
Server start_server(const std::string& data, const std::string& out_file) {
  const auto written = std::filesystem::exists(out_file) ? std::filesystem::file_size(out_file) : 0;
  Server server;
  server.pid = fork();
  if (server.pid == 0) {
    FILE* out = std::fopen(out_file.c_str(), "a");
    if (out != nullptr) {
      dup2(fileno(out), STDOUT_FILENO);
      dup2(fileno(out), STDERR_FILENO);
    }
    setenv("AISLE_API_KEY", kKey, 1);
    execl(AISLE_BINARY, AISLE_BINARY, "--progress", "never", "--threads", "2", "serve", "--data-dir", data.c_str(), "--listen",
          "127.0.0.1:0", "--feedback-window", "1", static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server.port == 0 && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(out_file);
    in.seekg(static_cast<std::streamoff>(written));
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch match;
    if (std::regex_search(text, match, listening)) {
      server.port = std::stoi(match[1].str());
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  return server;
}

double metric(httplib::Client& client, const std::string& name) {
  auto reply = client.Get("/metrics");
  if (!reply || reply->status != 200) return -1;
  const std::regex line("\n" + name + " ([0-9.e+-]+)\n");
  std::smatch match;
  return std::regex_search(reply->body, match, line) ? std::stod(match[1].str()) : -1;
}

// How many of `queries` do not bring `expected[i]` (or `queries[i]` itself when `expected` is
// empty) first with `strategy`; -1 when a search fails.
int missing_first(httplib::Client& client, const std::string& strategy, const std::vector<std::string>& queries,
                  const std::string& expected = "") {
  int missing = 0;
  for (const std::string& query : queries) {
    auto found = client.Get("/search?facets=false&strategy=" + strategy + "&query=" + query);
    if (!found || found->status != 200) return -1;
    const nlohmann::json body = nlohmann::json::parse(found->body);
    if (body["results"].empty() || body["results"][0]["product_id"] != (expected.empty() ? query : expected)) ++missing;
  }
  return missing;
}

TEST(CrashSafetyTest, KillNineDuringMixedWritesLosesNoAcknowledgedWriteInAnyIndex) {
  ::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  const std::string data = (dir / "data").string(), sample = AISLE_SAMPLE_DIR, log = (dir / "serve.log").string();
  ASSERT_EQ(run("ingest --data-dir " + data + " --catalog " + sample + "/catalog.jsonl --events " + sample + "/events.jsonl"), 0);
  ASSERT_EQ(run("index --data-dir " + data), 0);
  ASSERT_EQ(run("--threads 1 train encoder --data-dir " + data + " --epochs 1 --buckets 4096 --embedding-dim 16"), 0);
  ASSERT_EQ(run("index --data-dir " + data), 0);
  std::string clicked_product;
  {
    std::ifstream catalog(sample + "/catalog.jsonl");
    std::string first;
    std::getline(catalog, first);
    clicked_product = nlohmann::json::parse(first)["id"].get<std::string>();
  }

  std::vector<std::string> products;                        // acknowledged upserts (ids; the title holds the id as a word)
  std::vector<std::string> event_queries;                   // queries of acknowledged clicks on clicked_product
  double policy_updates_seen = 0;
  std::mt19937 random(20261207);
  for (int round = 0; round < 3; ++round) {
    const Server server = start_server(data, log);
    ASSERT_GT(server.port, 0) << "the server did not start (see " << log << ")";
    std::atomic<bool> done{false};
    std::atomic<int> acknowledged{0};
    std::mutex acked_mutex;
    std::vector<std::thread> writers;
    writers.emplace_back([&] {  // product upserts
      httplib::Client client("127.0.0.1", server.port);
      client.set_read_timeout(10, 0);
      for (int n = 0; !done; ++n) {
        const std::string id = token(round, n);
        const nlohmann::json batch = {{{"id", id}, {"locale", "en"}, {"title", id + " crash lamp"}, {"price", 9.5}}};
        auto reply = client.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, batch.dump(), "application/json");
        if (reply && reply->status == 200) {
          std::lock_guard lock(acked_mutex);
          products.push_back(id);
          ++acknowledged;
        }
      }
    });
    writers.emplace_back([&] {  // feedback events, each batch with a query of its own
      httplib::Client client("127.0.0.1", server.port);
      client.set_read_timeout(10, 0);
      for (int n = 0; !done; ++n) {
        const std::string query = "ev" + token(round, n);
        const std::int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        nlohmann::json events = nlohmann::json::array();
        for (const char* type : {"impression", "click"}) {
          events.push_back({{"ts", ts}, {"session", "crash-" + query}, {"query", query}, {"locale", "en"},
                            {"product_id", clicked_product}, {"type", type}, {"position", 1}});
        }
        auto reply = client.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, events.dump(), "application/json");
        if (reply && reply->status == 200) {
          std::lock_guard lock(acked_mutex);
          event_queries.push_back(query);
        }
      }
    });
    writers.emplace_back([&] {  // policy searches and their feedback (settled after 1 s)
      httplib::Client client("127.0.0.1", server.port);
      client.set_read_timeout(10, 0);
      const char* queries[] = {"yoga mat", "desk lamp", "running shoes", "water bottle"};
      for (int n = 0; !done; ++n) {
        std::string query = queries[n % 4];
        std::replace(query.begin(), query.end(), ' ', '+');
        auto reply = client.Get("/search?strategy=policy&facets=false&query=" + query);
        if (!reply || reply->status != 200) continue;
        const nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
        if (!body.contains("search_id") || body["results"].empty()) continue;
        const std::int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        const nlohmann::json click = {{{"ts", ts}, {"session", "policy"}, {"query", queries[n % 4]}, {"locale", "en"},
                                       {"product_id", body["results"][0]["product_id"]}, {"type", "click"}, {"position", 1},
                                       {"search_id", body["search_id"]}}};
        client.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, click.dump(), "application/json");
        const double updates = metric(client, "aisle_policy_updates");
        std::lock_guard lock(acked_mutex);
        policy_updates_seen = std::max(policy_updates_seen, updates);
      }
    });
    // Kill at a random moment once writes are flowing (and policy searches have settled).
    while (acknowledged < 3) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::this_thread::sleep_for(std::chrono::milliseconds(1200 + std::uniform_int_distribution<int>(0, 800)(random)));
    ASSERT_EQ(::kill(server.pid, SIGKILL), 0);
    done = true;
    for (std::thread& t : writers) t.join();
    int status = 0;
    ASSERT_EQ(waitpid(server.pid, &status, 0), server.pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  }
  ASSERT_GT(products.size(), 3u);
  ASSERT_GT(event_queries.size(), 3u);
  ASSERT_GT(policy_updates_seen, 0) << "no policy update settled before a kill: the test checks nothing of the policy";

  const Server server = start_server(data, log);
  ASSERT_GT(server.port, 0);
  httplib::Client client("127.0.0.1", server.port);
  client.set_read_timeout(20, 0);
  int missing_store = 0, missing_vector = 0;
  for (const std::string& id : products) {
    auto stored = client.Get("/products/" + id + "?locale=en");
    if (!stored || stored->status != 200) ++missing_store;
  }
  EXPECT_EQ(missing_store, 0) << "of " << products.size() << " acknowledged products";
  EXPECT_EQ(missing_first(client, "lexical", products), 0) << "of " << products.size();
  EXPECT_EQ(missing_first(client, "memory", event_queries, clicked_product), 0)
      << "of " << event_queries.size() << " acknowledged event batches";
  EXPECT_GE(metric(client, "aisle_policy_updates"), policy_updates_seen);
  // Killed once more: the vectors the restart embedded again were saved by the restart itself.
  ::kill(server.pid, SIGKILL);
  int status = 0;
  waitpid(server.pid, &status, 0);
  auto store = store::Store::open(data, store::StoreOptions{.read_only = true});
  ASSERT_TRUE(store.is_ok());
  auto vectors = vector::VectorIndex::open(std::filesystem::path(data) / "index" / "vectors");
  ASSERT_TRUE(vectors.is_ok()) << vectors.status().to_string();
  for (const std::string& id : products) {
    auto product = (*store)->find_product("en", id);
    ASSERT_TRUE(product.is_ok() && product->has_value()) << id;
    if (!(*vectors)->contains((*product)->id)) ++missing_vector;
  }
  EXPECT_EQ(missing_vector, 0) << "of " << products.size() << " acknowledged products have no saved vector";
}

// The data directory on a small tmpfs that fills up while products are written: writes then
// fail with a 5xx (never a crash), reads keep working, and once there is room again nothing
// acknowledged is missing and the store is intact. Needs mount(2) (root): skipped, saying so,
// where it is not allowed.
// The CLI's writers and a second server keep off a directory a server runs on (two processes
// writing one index would each overwrite the other's segments); the lock goes with the
// server, even with kill -9.
TEST(CrashSafetyTest, AServedDataDirectoryHasOneWriter) {
  ::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  const std::string data = (dir / "data").string(), sample = AISLE_SAMPLE_DIR, log = (dir / "serve.log").string();
  ASSERT_EQ(run("ingest --data-dir " + data + " --catalog " + sample + "/catalog.jsonl"), 0);
  ASSERT_EQ(run("index --data-dir " + data), 0);
  Server server = start_server(data, log);
  ASSERT_GT(server.port, 0) << "the server did not start (see " << log << ")";
  const std::string refused = (dir / "refused.txt").string();
  for (const std::string& writer : {"delete EN0001 --data-dir " + data, "index --data-dir " + data,
                                    "serve --listen 127.0.0.1:0 --data-dir " + data}) {
    const std::string command = "AISLE_API_KEY=" + std::string(kKey) + " " + AISLE_BINARY + " --progress never " + writer + " >" + refused + " 2>&1";
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << writer;
    std::ifstream in(refused);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("is in use by another writer (pid " + std::to_string(server.pid) + ": aisle serve)"), std::string::npos)
        << writer << ": " << text;
  }
  // Nothing was deleted: the server still finds the listing.
  httplib::Client client("127.0.0.1", server.port);
  auto product = client.Get("/products/EN0001?locale=en");
  ASSERT_TRUE(product);
  EXPECT_EQ(product->status, 200) << product->body;
  ::kill(server.pid, SIGKILL);
  int status = 0;
  waitpid(server.pid, &status, 0);
  EXPECT_EQ(run("delete EN0001 --data-dir " + data), 0);
}

TEST(CrashSafetyTest, ADiskThatFillsUpLosesNothingAcknowledgedAndCorruptsNothing) {
  ::signal(SIGPIPE, SIG_IGN);
  TempDir dir;
  const std::string staging = (dir / "staging").string(), sample = AISLE_SAMPLE_DIR, log = (dir / "serve.log").string();
  ASSERT_EQ(run("ingest --data-dir " + staging + " --catalog " + sample + "/catalog.jsonl"), 0);
  ASSERT_EQ(run("index --data-dir " + staging), 0);
  std::uintmax_t used = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(staging)) {
    if (entry.is_regular_file()) used += entry.file_size();
  }
  const std::filesystem::path mount_point = dir / "small";
  std::filesystem::create_directories(mount_point);
  const std::string size = std::to_string((used + (3 << 20)) / 1024) + "k";  // room for about 3 MB more
  if (std::system(("mount -t tmpfs -o size=" + size + " tmpfs '" + mount_point.string() + "' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root): the disk-full case is not tested";
  }
  struct Unmount {
    std::filesystem::path path;
    ~Unmount() { (void)std::system(("umount -l '" + path.string() + "'").c_str()); }
  } unmount{mount_point};
  const std::string data = (mount_point / "data").string();
  std::filesystem::copy(staging, data, std::filesystem::copy_options::recursive);

  Server server = start_server(data, log);
  ASSERT_GT(server.port, 0) << "the server did not start (see " << log << ")";
  httplib::Client client("127.0.0.1", server.port);
  client.set_read_timeout(30, 0);
  std::vector<std::string> acknowledged;
  int refused = 0, other = 0;
  const std::string filler(2000, 'x');
  for (int n = 0; n < 400 && refused < 5; ++n) {
    nlohmann::json batch = nlohmann::json::array();
    for (int i = 0; i < 20; ++i) {
      const std::string id = token(5, n * 20 + i);
      batch.push_back({{"id", id}, {"locale", "en"}, {"title", id + " full lamp"}, {"description", filler + id}});
    }
    auto reply = client.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, batch.dump(), "application/json");
    ASSERT_TRUE(reply) << "the server died when the disk filled up (see " << log << ")";
    if (reply->status == 200) {
      for (const auto& product : batch) acknowledged.push_back(product["id"]);
    } else if (reply->status >= 500) {
      ++refused;
      const nlohmann::json body = nlohmann::json::parse(reply->body, nullptr, false);
      EXPECT_TRUE(body.contains("error") && body["error"].contains("request_id")) << reply->body;
      EXPECT_EQ(reply->body.find(data), std::string::npos) << "a path in a 5xx body: " << reply->body;
    } else {
      ++other;
    }
  }
  EXPECT_EQ(other, 0);
  ASSERT_GE(refused, 5) << "the disk never filled up: the test checked nothing";
  ASSERT_FALSE(acknowledged.empty());
  {
    // Each 5xx is in the server's log under its request id, with what went wrong.
    std::ifstream in(log);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(std::regex_search(text, std::regex(R"(request [0-9a-f]+-\d+ POST /products -> 5\d\d: .*(full|space))")))
        << text.substr(0, 3000);
  }
  // Full, it still answers reads.
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  auto search = client.Get("/search?strategy=lexical&query=" + acknowledged.front());
  ASSERT_TRUE(search);
  EXPECT_EQ(search->status, 200);

  // Room again: the server recovers without a restart, then stops cleanly.
  ASSERT_EQ(std::system(("mount -o remount,size=256m '" + mount_point.string() + "'").c_str()), 0);
  const std::string late = token(6, 0);
  const nlohmann::json one = {{{"id", late}, {"locale", "en"}, {"title", late + " lamp"}}};
  auto after = client.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, one.dump(), "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200) << after->body;
  if (after->status == 200) acknowledged.push_back(late);
  ::kill(server.pid, SIGTERM);
  int status = 0;
  waitpid(server.pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "see " << log;

  server = start_server(data, log);
  ASSERT_GT(server.port, 0) << "the data directory does not open after the disk filled up (see " << log << ")";
  httplib::Client again("127.0.0.1", server.port);
  again.set_read_timeout(30, 0);
  EXPECT_EQ(missing_first(again, "lexical", acknowledged), 0) << "of " << acknowledged.size() << " acknowledged products";
  ::kill(server.pid, SIGTERM);
  waitpid(server.pid, &status, 0);
  auto store = store::Store::open(data, store::StoreOptions{.read_only = true});
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto stats = (*store)->stats();
  ASSERT_TRUE(stats.is_ok()) << stats.status().to_string();
  EXPECT_GE(stats->products, static_cast<std::int64_t>(280 + acknowledged.size()));
}

}  // namespace
}  // namespace aisle
