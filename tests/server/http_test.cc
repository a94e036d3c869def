// The HTTP API end to end over loopback: reads, keyed writes, bad input, limits, overload, and
// a bounded soak of concurrent writes and reads.
#include "aisle/server/http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/validation.h"
#include "aisle/rank/clicks.h"
#include "aisle/models/text_encoder.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/server/engine.h"
#include "test_util.h"

#include <httplib.h>

namespace aisle::server {
namespace {

constexpr const char* kKey = "test-key-0123456789abcdef";

// A data directory with a small catalog and an index.
void make_data_dir(const std::filesystem::path& dir) {
  auto store = store::Store::open(dir);
  ASSERT_TRUE(store.is_ok());
  std::vector<io::ProductRecord> products;
  const char* kinds[] = {"Desk Lamp", "Garden Hose", "Running Shoes", "Yoga Mat"};
  const char* brands[] = {"Lumo", "Aqua", "Stridex"};
  for (int i = 0; i < 24; ++i) {
    io::ProductRecord p;
    p.id = "P" + std::to_string(i);
    p.locale = "en";
    p.title = std::string(kinds[i % 4]) + " Model " + std::to_string(i);
    p.brand = brands[i % 3];
    p.category = {"Home", kinds[i % 4]};
    p.price = 10.0 + i;
    p.popularity = i;
    if (i % 4 == 0) p.attributes = {{"wattage", std::to_string(20 + i)}};
    products.push_back(p);
  }
  auto run = (*store)->begin_run("catalog", "catalog", "catalog-jsonl");
  ASSERT_TRUE((*store)->write_products(*run, products, 24).is_ok());
  retrieve::IndexUpdateReport report;
  ASSERT_TRUE(retrieve::update_index(**store, Context::for_tests(), dir, {}, &report).is_ok());
}

// Product vectors for the data directory from a small untrained encoder: what is tested is
// where vectors go, not how good they are. Its verdict is written as passed (no floor), so the
// pipeline uses it as it would a validated one.
void add_vectors(const std::filesystem::path& dir) {
  models::EncoderConfig config;
  config.dim = 16;
  config.embedding_dim = 16;
  config.hidden = 32;
  config.features.buckets = 1 << 12;
  auto encoder = models::TextEncoder::create(config, Context::for_tests());
  ASSERT_TRUE(encoder.is_ok()) << encoder.status().to_string();
  std::filesystem::create_directories(dir / "models");
  LayerVerdict verdict;
  verdict.layer = "encoder";
  verdict.active = true;
  verdict.reason = "on: set by the test fixture";
  (*encoder)->set_validation(verdict.to_json());
  ASSERT_TRUE((*encoder)->save(retrieve::encoder_path(dir)).is_ok());
  auto store = store::Store::open(dir);
  ASSERT_TRUE(store.is_ok());
  retrieve::VectorIndexReport report;
  ASSERT_TRUE(retrieve::build_vector_index(**store, **encoder, Context::for_tests(), dir, &report).is_ok());
  ASSERT_EQ(report.products, 24);
}

class HttpTest : public ::testing::Test {
 protected:
  void start(ServeOptions serve = {}, bool fresh = true, bool vectors = false) {
    if (fresh) make_data_dir(dir_.path());
    if (fresh && vectors) add_vectors(dir_.path());
    EngineOptions options;
    options.data_dir = dir_.path();
    options.pipelines = 2;
    options.online.feedback_window_ms = 60000;
    auto engine = Engine::open(options, Context::for_tests());
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    engine_ = std::move(*engine);
    serve.port = 0;
    serve.api_key = kKey;
    server_ = std::make_unique<HttpServer>(*engine_, serve);
    auto port = server_->bind();
    ASSERT_TRUE(port.is_ok());
    port_ = *port;
    thread_ = std::thread([this] { served_ = server_->serve(); });
  }
  void TearDown() override { stop(); }
  void stop() {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
    if (engine_) {
      EXPECT_TRUE(engine_->close().is_ok());
    }
    server_.reset();
    engine_.reset();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(20, 0);
    return c;
  }
  static nlohmann::json json(const httplib::Result& r) { return nlohmann::json::parse(r->body, nullptr, false); }
  static std::string event(const std::string& product, const std::string& type, const std::string& search_id = "",
                           std::int64_t ts = 1795341600) {
    nlohmann::json e = {{"ts", ts}, {"session", "s"}, {"query", "desk lamp"}, {"locale", "en"},
                        {"product_id", product}, {"type", type}, {"position", 1}};
    if (!search_id.empty()) e["search_id"] = search_id;
    return e.dump();
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  Status served_;
  int port_ = 0;
};

// With product vectors, an upserted listing is embedded at once: the vector strategy finds it
// and the ranker's cosine feature has a value; the vectors are saved at shutdown.
TEST_F(HttpTest, UpsertedProductsGetVectorsThatOutliveARestart) {
  start({}, true, true);
  auto c = client();
  auto vector_ids = [&](httplib::Client& with) {
    std::set<std::string> ids;
    auto r = with.Get("/search?query=kettle&strategy=vector&k=100&depth=100&facets=false");
    EXPECT_EQ(r->status, 200) << r->body;
    const nlohmann::json body = json(r);  // kept: a temporary's member would dangle in the loop
    for (const auto& hit : body["results"]) ids.insert(hit["product_id"].get<std::string>());
    return ids;
  };
  EXPECT_EQ(vector_ids(c).size(), 24u);
  EXPECT_EQ(vector_ids(c).count("NEW"), 0u);
  const std::string product = R"([{"id": "NEW", "locale": "en", "title": "Zorblax quantum kettle", "price": 12.5}])";
  auto upsert = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, product, "application/json");
  ASSERT_EQ(upsert->status, 200) << upsert->body;
  EXPECT_EQ(json(upsert)["vectors"], 1);
  for (int i = 0; i < 2; ++i) {  // both pipelines share the vectors
    EXPECT_EQ(vector_ids(c).size(), 25u);
    EXPECT_EQ(vector_ids(c).count("NEW"), 1u);
    auto explained = c.Get("/search?query=zorblax&strategy=lexical&explain=true");
    ASSERT_EQ(explained->status, 200);
    ASSERT_EQ(json(explained)["results"].size(), 1u);
    EXPECT_TRUE(json(explained)["results"][0]["features"].contains("vector_cosine")) << explained->body;
  }
  // A batch larger than one chunk of the vector index's writes (256): every product embedded.
  nlohmann::json batch = nlohmann::json::array();
  auto word = [](int i) {  // a word per product: "blkaa", "blkab", ...
    return std::string("blk") + static_cast<char>('a' + i / 26) + static_cast<char>('a' + i % 26);
  };
  for (int i = 0; i < 300; ++i) {
    batch.push_back({{"id", "B" + std::to_string(i)}, {"locale", "en"}, {"title", "Bulk widget " + word(i)}});
  }
  auto bulk = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, batch.dump(), "application/json");
  ASSERT_EQ(bulk->status, 200) << bulk->body;
  EXPECT_EQ(json(bulk)["vectors"], 300);
  for (const std::string& last : {word(0), word(299)}) {
    auto found = c.Get("/search?query=" + last + "&strategy=lexical&explain=true");
    ASSERT_EQ(found->status, 200);
    const nlohmann::json body = json(found);
    ASSERT_EQ(body["results"].size(), 1u) << found->body;
    EXPECT_TRUE(body["results"][0]["features"].contains("vector_cosine")) << last;
  }

  stop();
  start({}, false);
  auto again = client();
  for (const std::string& query : {std::string("zorblax"), word(299)}) {
    auto found = again.Get("/search?query=" + query + "&strategy=lexical&explain=true");
    ASSERT_EQ(found->status, 200);
    const nlohmann::json body = json(found);
    ASSERT_EQ(body["results"].size(), 1u) << found->body;
    EXPECT_TRUE(body["results"][0]["features"].contains("vector_cosine")) << query << " after a restart";
  }
}

TEST_F(HttpTest, SearchesLearnsFromKeyedFeedbackAndTakesNewProducts) {
  start();
  auto c = client();
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<form id=\"search-form\""), std::string::npos);

  // Without a strategy the server runs the CLI's default pipeline; the bandit chooses only
  // when asked (its gate is off: it has not been validated against the best fixed set).
  auto plain = c.Get("/search?query=desk%20lamp&k=5");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  EXPECT_FALSE(json(plain).contains("policy")) << plain->body;
  EXPECT_EQ(json(plain)["strategy"], "lexical:100") << plain->body;
  auto health = c.Get("/health");
  ASSERT_EQ(health->status, 200);
  EXPECT_FALSE(json(health)["layers"]["policy"]["active"].get<bool>()) << health->body;
  EXPECT_FALSE(json(health)["layers"]["ranker"]["active"].get<bool>()) << health->body;
  auto found = c.Get("/search?query=desk%20lamp&k=5&strategy=policy");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->status, 200) << found->body;
  const nlohmann::json body = json(found);
  ASSERT_EQ(body["results"].size(), 5u);
  EXPECT_EQ(body["policy"], "linucb");
  const std::string search_id = body["search_id"];
  const std::string first = body["results"][0]["product_id"];
  EXPECT_TRUE(body.contains("facets"));

  const std::string events = "{\"events\": [" + event(first, "click", search_id) + "," + event(first, "purchase", search_id) + "]}";
  auto anonymous = c.Post("/events", events, "application/json");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  auto wrong = c.Post("/events", httplib::Headers{{"X-API-Key", "test-key-0123456789abcdeX"}}, events, "application/json");
  EXPECT_EQ(wrong->status, 401);
  auto stored = c.Post("/events", httplib::Headers{{"Authorization", std::string("Bearer ") + kKey}}, events, "application/json");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->status, 200) << stored->body;
  EXPECT_EQ(json(stored)["stored"], 2);
  EXPECT_EQ(json(stored)["duplicates"], 0);
  EXPECT_EQ(json(stored)["rewarded"], 2);
  // The same batch again: the store has those events; nothing is counted twice.
  auto again = c.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, events, "application/json");
  ASSERT_EQ(again->status, 200);
  EXPECT_EQ(json(again)["stored"], 0);
  EXPECT_EQ(json(again)["duplicates"], 2);
  // The memory index learned the purchase: the memory strategy finds the product now.
  auto memory = c.Get("/search?query=Desk+Lamp&strategy=memory&k=3");
  ASSERT_EQ(memory->status, 200) << memory->body;
  ASSERT_EQ(json(memory)["results"].size(), 1u);
  EXPECT_EQ(json(memory)["results"][0]["product_id"], first);

  // depth bounds the candidates each strategy hands the ranker (at least k).
  auto shallow = c.Get("/search?query=lamp&strategy=lexical&k=1&depth=1");
  ASSERT_EQ(shallow->status, 200) << shallow->body;
  EXPECT_EQ(json(shallow)["candidates"], 1);
  auto deep = c.Get("/search?query=lamp&strategy=lexical&k=1&depth=50");
  ASSERT_EQ(deep->status, 200);
  EXPECT_GT(json(deep)["candidates"].get<int>(), 1);

  // A new product is searchable right after the upsert's reply.
  const std::string product = R"([{"id": "NEW", "locale": "en", "title": "Zorblax quantum kettle", "price": 12.5}])";
  auto upsert = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, product, "application/json");
  ASSERT_EQ(upsert->status, 200) << upsert->body;
  for (int i = 0; i < 3; ++i) {  // every pipeline of the pool
    auto kettle = c.Get("/search?query=zorblax&strategy=lexical");
    ASSERT_EQ(kettle->status, 200);
    ASSERT_EQ(json(kettle)["results"].size(), 1u);
    EXPECT_EQ(json(kettle)["results"][0]["product_id"], "NEW");
  }
  // The popularity strategy takes a popular new listing at once, and lets it go when its
  // popularity drops.
  auto hot = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}},
                    R"([{"id": "HOT", "locale": "en", "title": "Hot item", "popularity": 1000000}])", "application/json");
  ASSERT_EQ(hot->status, 200) << hot->body;
  for (int i = 0; i < 3; ++i) {
    auto popular = c.Get("/search?query=anything&strategy=popularity&k=1&depth=1");
    ASSERT_EQ(popular->status, 200) << popular->body;
    EXPECT_EQ(json(popular)["results"][0]["product_id"], "HOT");
  }
  hot = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}},
               R"([{"id": "HOT", "locale": "en", "title": "Hot item", "popularity": 0}])", "application/json");
  ASSERT_EQ(hot->status, 200);
  auto cooled = c.Get("/search?query=anything&strategy=popularity&k=1&depth=1");
  ASSERT_EQ(cooled->status, 200);
  EXPECT_EQ(json(cooled)["results"][0]["product_id"], "P23");  // the catalog's most popular

  auto listing = c.Get("/products/NEW?locale=en");
  ASSERT_EQ(listing->status, 200);
  EXPECT_EQ(json(listing)["title"], "Zorblax quantum kettle");
  EXPECT_EQ(c.Get("/products/NOPE")->status, 404);
  EXPECT_EQ(c.Get("/related/P1")->status, 404);  // no related-products model here
  EXPECT_EQ(json(c.Get("/health"))["status"], "ok");

  auto metrics = c.Get("/metrics");
  ASSERT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("aisle_http_requests_total{route=\"/events\",status=\"401\"} 2"), std::string::npos) << metrics->body;
  EXPECT_NE(metrics->body.find("aisle_events_stored 2"), std::string::npos);
  EXPECT_NE(metrics->body.find("aisle_index_documents 26"), std::string::npos);  // 24 + NEW + HOT
  EXPECT_NE(metrics->body.find("aisle_products_written 3"), std::string::npos);
  EXPECT_NE(metrics->body.find("aisle_http_request_duration_ms_bucket{route=\"/search\",le=\"+Inf\"}"), std::string::npos);

  // Shutdown settles the search and saves the policy with its update.
  stop();
  auto policy = retrieve::Policy::load(rank::policy_path(dir_.path()));
  ASSERT_TRUE(policy.is_ok());
  EXPECT_GE((*policy)->updates(), 1);
}

// A data directory the engine cannot open is an error naming it, never a crash; a click the
// page sends without an impression leaves a data directory that opens again and indexes.
TEST_F(HttpTest, ABadDataDirectoryIsAnErrorAndAClickWithoutImpressionBricksNothing) {
  for (const std::filesystem::path& bad : {dir_.path() / "missing", dir_.path() / "empty"}) {
    if (bad.filename() == "empty") std::filesystem::create_directories(bad);
    EngineOptions options;
    options.data_dir = bad;
    auto engine = Engine::open(options, Context::for_tests());
    ASSERT_FALSE(engine.is_ok());
    EXPECT_NE(engine.status().to_string().find(bad.string()), std::string::npos) << engine.status().to_string();
  }
  start();
  auto c = client();
  const std::string events = "{\"events\": [" + event("P0", "click") + "," + event("P4", "click") + "]}";
  auto stored = c.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, events, "application/json");
  ASSERT_EQ(stored->status, 200) << stored->body;
  stop();
  start({}, /*fresh=*/false);
  ASSERT_NE(engine_, nullptr);
  auto store = store::Store::open(dir_.path());
  ASSERT_TRUE(store.is_ok());
  rank::PositionBias bias;
  retrieve::MemoryBuildReport report;
  auto memory = rank::update_memory(**store, dir_.path(), /*rebuild=*/true, Context::for_tests(), &report, &bias);
  ASSERT_TRUE(memory.is_ok()) << memory.status().to_string();
  EXPECT_EQ(bias.clicks, 2);
  EXPECT_EQ(bias.impressions, 2);  // each click implies its impression
}

// A listing the store holds but the lexical index lacks (the process was killed between the
// store's commit and the index's) is searchable once the server starts again.
TEST_F(HttpTest, StartCatchesTheIndexUpWithTheStore) {
  make_data_dir(dir_.path());
  {
    auto store = store::Store::open(dir_.path());
    ASSERT_TRUE(store.is_ok());
    io::ProductRecord p;
    p.id = "LATE";
    p.locale = "en";
    p.title = "Quokka telescope";
    auto run = (*store)->begin_run("api", "products", "catalog-jsonl");
    ASSERT_TRUE((*store)->write_products(*run, std::vector<io::ProductRecord>{p}, 1).is_ok());
  }
  start({}, /*fresh=*/false);
  auto c = client();
  auto found = c.Get("/search?query=quokka%20telescope");
  ASSERT_EQ(found->status, 200) << found->body;
  ASSERT_EQ(json(found)["results"].size(), 1u) << found->body;
  EXPECT_EQ(json(found)["results"][0]["product_id"], "LATE");
  EXPECT_EQ(json(c.Get("/health"))["documents"], 25) << c.Get("/health")->body;
}

// stop() right after the serving thread starts, before any request: serve() returns (it used
// to listen on forever when stop() came before it listened, and the join hung).
TEST_F(HttpTest, StopRightAfterStartEndsServing) {
  for (int i = 0; i < 20; ++i) {
    start({}, /*fresh=*/i == 0);
    stop();
    EXPECT_TRUE(served_.is_ok()) << served_.to_string();
  }
}

// Pages of one query: consecutive, never overlapping, the same order as one large k, and
// next_offset tells whether another page exists.
TEST_F(HttpTest, PagesFollowEachOtherInTheOrderOfOneLargeSearch) {
  start();
  auto c = client();
  auto ids = [&](const std::string& path, nlohmann::json* reply = nullptr) {
    auto r = c.Get(path);
    EXPECT_EQ(r->status, 200) << r->body;
    const nlohmann::json body = json(r);
    if (reply) *reply = body;
    std::vector<std::string> out;
    for (const auto& hit : body["results"]) out.push_back(hit["product_id"].get<std::string>());
    return out;
  };
  const std::vector<std::string> all = ids("/search?query=model&strategy=lexical&k=24&facets=false");
  ASSERT_EQ(all.size(), 24u);
  std::vector<std::string> paged;
  nlohmann::json reply;
  for (int page = 1; page <= 3; ++page) {
    const auto part = ids("/search?query=model&strategy=lexical&k=10&facets=false&page=" + std::to_string(page), &reply);
    EXPECT_EQ(reply["offset"], (page - 1) * 10);
    EXPECT_EQ(reply["total"], 24);  // the result set, not the page
    if (page < 3) {
      EXPECT_EQ(reply["next_offset"], page * 10);
    } else {
      EXPECT_TRUE(reply["next_offset"].is_null()) << reply.dump();
    }
    paged.insert(paged.end(), part.begin(), part.end());
  }
  EXPECT_EQ(paged, all);
  EXPECT_EQ(ids("/search?query=model&strategy=lexical&k=5&facets=false&offset=7"),
            std::vector<std::string>(all.begin() + 7, all.begin() + 12));
  // Without paging parameters: the first page, and a next one announced.
  EXPECT_EQ(ids("/search?query=model&strategy=lexical&k=10&facets=false", &reply), std::vector<std::string>(all.begin(), all.begin() + 10));
  EXPECT_EQ(reply["offset"], 0);
  EXPECT_EQ(reply["next_offset"], 10);
}

// Sorts re-order the result set, range filters work on any numeric attribute, and the total
// and facets describe the result set the pages come from.
TEST_F(HttpTest, SortsRangeFiltersAndFacetsDescribeTheResultSet) {
  start();
  auto c = client();
  auto get = [&](const std::string& path) {
    auto r = c.Get(path);
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json(r);
  };
  auto ids = [](const nlohmann::json& body) {
    std::vector<std::string> out;
    for (const auto& hit : body["results"]) out.push_back(hit["product_id"].get<std::string>());
    return out;
  };
  using V = std::vector<std::string>;
  nlohmann::json body = get("/search?query=model&k=3&sort=price_asc");
  EXPECT_EQ(ids(body), (V{"P0", "P1", "P2"}));
  EXPECT_EQ(body["sort"], "price_asc");
  EXPECT_EQ(body["total"], 24);
  EXPECT_EQ(ids(get("/search?query=model&k=3&sort=price_desc")), (V{"P23", "P22", "P21"}));
  EXPECT_EQ(ids(get("/search?query=model&k=2&sort=popularity")), (V{"P23", "P22"}));
  EXPECT_EQ(ids(get("/search?query=model&k=2&sort=newest")), (V{"P23", "P22"}));
  // Pages of a sorted search follow each other.
  EXPECT_EQ(ids(get("/search?query=model&k=3&sort=price_asc&page=2")), (V{"P3", "P4", "P5"}));
  // A sort keeps to the query's matches: "lamp" sorted by price lists lamps only.
  body = get("/search?query=desk%20lamp&k=10&sort=price_desc");
  EXPECT_EQ(ids(body), (V{"P20", "P16", "P12", "P8", "P4", "P0"}));
  EXPECT_EQ(body["total"], 6);

  // Facets count the result set: 24 models, 8 per brand; filtered, 8 in all.
  body = get("/search?query=model&k=2");
  ASSERT_TRUE(body["facets"].contains("brand")) << body.dump();
  ASSERT_EQ(body["facets"]["brand"].size(), 3u);
  for (const auto& value : body["facets"]["brand"]) EXPECT_EQ(value["count"], 8) << body.dump();
  // Every strategy filters brands without case: popularity's candidates are checked on the
  // stored listing, lexical ones in the index.
  for (const char* strategy : {"popularity", "lexical"}) {
    body = get(std::string("/search?query=model&k=30&filters=brand=stridex&strategy=") + strategy);
    EXPECT_EQ(body["results"].size(), 8u) << strategy << ": " << body.dump();
    for (const auto& hit : body["results"]) EXPECT_EQ(hit["brand"], "Stridex");
    // Category paths too, as the index keys them (case, spaces around ">").
    body = get(std::string("/search?query=model&k=30&filters=category=home%20%3Edesk%20LAMP&strategy=") + strategy);
    EXPECT_EQ(body["results"].size(), 6u) << strategy << ": " << body.dump();
    for (const auto& hit : body["results"]) EXPECT_NE(hit["title"].get<std::string>().find("Desk Lamp"), std::string::npos);
  }
  body = get("/search?query=model&k=2&filters=brand=Stridex");  // '=' inside a value needs no escaping
  EXPECT_EQ(body["total"], 8);
  ASSERT_EQ(body["facets"]["brand"].size(), 1u);
  EXPECT_EQ(body["facets"]["brand"][0]["count"], 8);

  // Price buckets hold their lower bound, not their upper one ("<14", "14-18", "30+"); the
  // filter a bucket gives ("..<") finds exactly the listings it counted.
  body = get("/search?query=model&k=2");
  ASSERT_GE(body["facets"]["price"].size(), 2u) << body["facets"].dump();
  for (const auto& bucket : body["facets"]["price"]) {
    const std::string label = bucket["value"];
    std::string filter;
    if (label.front() == '<') {
      filter = "price=..<" + label.substr(1);
    } else if (label.back() == '+') {
      filter = "price=" + label.substr(0, label.size() - 1) + "..";
    } else {
      filter = "price=" + label.substr(0, label.find('-')) + "..<" + label.substr(label.find('-') + 1);
    }
    EXPECT_EQ(get("/search?query=model&k=2&filters=" + filter)["total"], bucket["count"]) << label << " -> " << filter;
  }
  EXPECT_EQ(ids(get("/search?query=model&k=10&sort=price_asc&filters=price=12..<14")), (V{"P2", "P3"}));

  // Numeric attributes: ranges, one value, with price.
  EXPECT_EQ(ids(get("/search?query=model&k=10&sort=price_asc&filters=wattage%3D24..32")), (V{"P4", "P8", "P12"}));
  EXPECT_EQ(ids(get("/search?query=model&k=10&filters=wattage=28")), (V{"P8"}));
  EXPECT_EQ(ids(get("/search?query=model&k=10&sort=price_asc&filters=wattage=..30&filters=price=12..")), (V{"P4", "P8"}));
  nlohmann::json request = {{"query", "model"}, {"k", 10}, {"sort", "price_desc"}, {"filters", {"wattage=36..", "price=..100"}}};
  auto r = c.Post("/search", request.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(ids(json(r)), (V{"P20", "P16"}));

  // Refusals name the field.
  for (const auto& [path, field, says] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"/search?query=model&sort=cheapest", "sort", "price_asc"},
           {"/search?query=model&filters=weight=1..2", "filters", "wattage"},
           {"/search?query=model&filters=wattage=ten", "filters", "number"},
           {"/search?query=model&filters=wattage=30..20", "filters", "minimum"},
           {"/search?query=model&filters=price=..", "filters", "MIN..MAX"}}) {
    r = c.Get(path);
    ASSERT_EQ(r->status, 400) << path << ": " << r->body;
    EXPECT_EQ(json(r)["error"]["field"], field) << path;
    EXPECT_NE(json(r)["error"]["message"].get<std::string>().find(says), std::string::npos) << r->body;
  }
}

// The data directory's settings file: synonyms, declared attribute facets and their filters,
// the currency, the default strategy, and index-time settings the index was not built with.
TEST_F(HttpTest, TheSettingsFileGivesSynonymsAttributeFacetsCurrencyAndTheDefaultStrategy) {
  make_data_dir(dir_.path());
  std::ofstream(config_path(dir_.path())) << R"(default_strategy = "lexical+popularity"
[fields]
title = 4
[facets]
attributes = ["material"]
[locales.en]
currency = "GBP"
synonyms = ["sneakers => running shoes", "lamp, lantern"]
)";
  start({}, /*fresh=*/false);
  auto c = client();
  auto get = [&](const std::string& path) {
    auto r = c.Get(path);
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    return json(r);
  };
  nlohmann::json health = get("/health");
  EXPECT_EQ(health["currencies"]["en"], "GBP");
  EXPECT_EQ(health["settings"]["default_strategy"], "lexical+popularity");
  ASSERT_EQ(health["settings"]["pending_reindex"].size(), 1u) << health.dump();
  EXPECT_EQ(health["settings"]["pending_reindex"][0], "fields.title: 3 in the index, 4 in the settings");

  // Synonyms: "sneakers" (no listing has the word) finds the running shoes first; the terms say why.
  nlohmann::json body = get("/search?query=sneakers&k=6");
  EXPECT_EQ(body["currency"], "GBP");
  EXPECT_EQ(body["strategy"].get<std::string>().rfind("lexical:", 0), 0u) << body["strategy"];
  EXPECT_NE(body["strategy"].get<std::string>().find("popularity"), std::string::npos) << body["strategy"];
  ASSERT_EQ(body["results"].size(), 6u) << body.dump();
  for (const auto& hit : body["results"]) EXPECT_NE(hit["title"].get<std::string>().find("Running Shoes"), std::string::npos) << body.dump();
  bool synonym = false;
  for (const auto& term : body["terms"]) synonym = synonym || (term.value("synonym_of", "") == "sneaker");
  EXPECT_TRUE(synonym) << body["terms"].dump();
  EXPECT_EQ(get("/search?query=lantern&k=10&strategy=lexical")["total"], 6);

  // Declared attribute facets count the result set; their values filter it, without case.
  nlohmann::json batch = nlohmann::json::array();
  const char* materials[] = {"Oak", "steel", "oak"};
  for (int i = 0; i < 3; ++i) {
    batch.push_back({{"id", "M" + std::to_string(i)}, {"locale", "en"}, {"title", "Floor Lamp Tall " + std::to_string(i)},
                     {"attributes", {{"material", materials[i]}}}, {"price", 40 + i}});
  }
  // A cheap listing that shares one word of the synonym's phrase.
  batch.push_back({{"id", "SOCK"}, {"locale", "en"}, {"title", "Running Socks"}, {"price", 1}});
  auto upsert = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, batch.dump(), "application/json");
  ASSERT_EQ(upsert->status, 200) << upsert->body;
  // Sorted by price, "sneakers" lists running shoes: the socks are not sneakers.
  body = get("/search?query=sneakers&k=10&sort=price_asc");
  ASSERT_EQ(body["results"].size(), 6u) << body.dump();
  EXPECT_EQ(body["results"][0]["product_id"], "P2") << body.dump();
  for (const auto& hit : body["results"]) EXPECT_NE(hit["product_id"], "SOCK");
  body = get("/search?query=floor%20lamp&k=3&strategy=lexical");
  ASSERT_TRUE(body["facets"].contains("material")) << body["facets"].dump();
  EXPECT_EQ(body["facets"]["material"], nlohmann::json::parse(R"([{"value":"Oak","count":2},{"value":"steel","count":1}])"));
  body = get("/search?query=floor%20lamp&k=10&strategy=lexical&filters=material=OAK");
  EXPECT_EQ(body["total"], 2) << body.dump();
  for (const auto& hit : body["results"]) EXPECT_TRUE(hit["product_id"] == "M0" || hit["product_id"] == "M2") << hit.dump();
  EXPECT_EQ(get("/search?query=floor%20lamp&k=10&filters=material=oak&filters=material=Steel")["total"], 3);
  // Popularity candidates are checked on the stored listing too.
  body = get("/search?query=floor%20lamp&k=30&strategy=popularity&filters=material=steel");
  ASSERT_EQ(body["results"].size(), 1u) << body.dump();
  EXPECT_EQ(body["results"][0]["product_id"], "M1");
  auto r = c.Get("/search?query=lamp&filters=colour=oak");
  ASSERT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(json(r)["error"]["field"], "filters");
  EXPECT_NE(json(r)["error"]["message"].get<std::string>().find("declared: material"), std::string::npos) << r->body;
  stop();

  // A settings file in error: the engine does not start, and says where.
  std::ofstream(config_path(dir_.path())) << "[locales.en]\ncurrency = \"pounds\"\n";
  EngineOptions options;
  options.data_dir = dir_.path();
  auto engine = Engine::open(options, Context::for_tests());
  ASSERT_FALSE(engine.is_ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kBadInput);
  EXPECT_NE(engine.status().to_string().find("aisle.toml:2:locales.en.currency"), std::string::npos) << engine.status().to_string();
}

// Hits mark the query's words in the title and a description snippet, as escaped HTML: a
// title that carries markup is shown as text.
TEST_F(HttpTest, HitsMarkTheQueryWordsInEscapedHtml) {
  start();
  auto c = client();
  nlohmann::json product = {{"id", "X1"}, {"locale", "en"}, {"title", "Glow <img src=x onerror=alert(1)> Lamps"},
                            {"description", "A lamp that glows & dims"}, {"image", "https://img.example/x1.jpg"}};
  auto r = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, nlohmann::json::array({product}).dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  r = c.Get("/search?query=glowing%20lamp&k=1");
  ASSERT_EQ(r->status, 200) << r->body;
  const nlohmann::json hit = json(r)["results"][0];
  ASSERT_EQ(hit["product_id"], "X1") << r->body;
  EXPECT_EQ(hit["highlight"]["title"], "<mark>Glow</mark> &lt;img src=x onerror=alert(1)&gt; <mark>Lamps</mark>");
  EXPECT_EQ(hit["highlight"]["description"], "A <mark>lamp</mark> that <mark>glows</mark> &amp; dims");
  EXPECT_EQ(hit["title"], product["title"]);  // the plain field is unchanged
  EXPECT_EQ(hit["image"], "https://img.example/x1.jpg");
  EXPECT_EQ(json(c.Get("/products/X1"))["image"], "https://img.example/x1.jpg");
  r = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, R"json([{"id": "X2", "title": "t", "image": "javascript:alert(1)"}])json",
             "application/json");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(json(r)["error"]["field"], "body:1:image") << r->body;
  r = c.Get("/search?query=glowing%20lamp&k=1&highlight=false");
  EXPECT_FALSE(json(r)["results"][0].contains("highlight"));
  EXPECT_FALSE(json(r).contains("did_you_mean"));
  // A misspelled word: the correction as the catalog writes it, the rest as typed.
  r = c.Get("/search?query=the%20gardn%20hoze&k=3");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json(r)["did_you_mean"], "the garden hose") << r->body;
  EXPECT_TRUE(json(r)["results"][0]["highlight"]["title"].get<std::string>().starts_with("<mark>Garden</mark> <mark>Hose</mark>"))
      << r->body;
}

// Autocomplete: engaged queries whose words the catalog has (a typo is never offered) and
// listing titles; a listing upserted through the API is suggested at once.
TEST_F(HttpTest, SuggestOffersEngagedQueriesAndTitlesByPrefix) {
  make_data_dir(dir_.path());
  {
    auto store = store::Store::open(dir_.path());
    ASSERT_TRUE(store.is_ok());
    std::vector<io::EventRecord> events;
    auto add = [&](const std::string& query, const std::string& product, io::EventType type, int n) {
      for (int i = 0; i < n; ++i) {
        io::EventRecord e;
        e.ts_ms = 1795341600000 + static_cast<std::int64_t>(events.size());
        e.session = "s" + std::to_string(events.size());
        e.locale = "en";
        e.query = query;
        e.product_id = product;
        e.type = type;
        e.position = 1;
        events.push_back(e);
      }
    };
    add("desk lamp", "P0", io::EventType::kClick, 5);
    add("desk lamps model", "P4", io::EventType::kClick, 2);
    add("dsek lamp", "P0", io::EventType::kClick, 9);       // a typo: never suggested
    add("desk lamp sale", "P0", io::EventType::kClick, 7);  // "sale" is no word of the catalog
    add("desk organizer", "P0", io::EventType::kImpression, 3);  // shown, never chosen
    auto run = (*store)->begin_run("events", "events", "events-jsonl");
    ASSERT_TRUE(run.is_ok());
    ASSERT_TRUE((*store)->write_events(*run, events, static_cast<std::int64_t>(events.size())).is_ok());
  }
  start({}, false);
  auto c = client();
  auto r = c.Get("/suggest?prefix=De&k=5");
  ASSERT_EQ(r->status, 200) << r->body;
  nlohmann::json body = json(r);
  ASSERT_EQ(body["queries"].size(), 2u) << body.dump();
  EXPECT_EQ(body["queries"][0]["text"], "desk lamp");
  EXPECT_EQ(body["queries"][1]["text"], "desk lamps model");
  ASSERT_EQ(body["products"].size(), 5u);
  for (const auto& p : body["products"]) EXPECT_TRUE(p["title"].get<std::string>().starts_with("Desk Lamp")) << p.dump();
  EXPECT_EQ(body["products"][0]["product_id"], "P20");  // the most popular lamp
  EXPECT_EQ(body["products"][0]["price"], 30.0);
  // A word after the first: "lam" finds the lamps too.
  EXPECT_EQ(json(c.Get("/suggest?prefix=lam&k=1"))["products"][0]["product_id"], "P20");
  nlohmann::json product = {{"id", "N1"}, {"locale", "en"}, {"title", "Deskside Heater"}, {"popularity", 1000}};
  r = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, nlohmann::json::array({product}).dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json(c.Get("/suggest?prefix=desks"))["products"][0]["title"], "Deskside Heater");
  EXPECT_TRUE(json(c.Get("/suggest?prefix=desk&locale=es"))["products"].empty());
  // Clicks through the API are suggested at once, above the stored ones when they weigh more;
  // a misspelled query is not; a retried batch (duplicates) adds nothing.
  auto clicks = [](const std::string& query, int first, int n) {
    std::string out = "{\"events\": [";
    for (int i = first; i < first + n; ++i) {
      out += std::string(i > first ? "," : "") + "{\"ts\": \"2026-11-20T10:00:" + (i < 10 ? "0" : "") + std::to_string(i) +
             "Z\", \"session\": \"api\", \"query\": \"" + query +
             "\", \"locale\": \"en\", \"product_id\": \"P0\", \"type\": \"click\", \"position\": 1}";
    }
    return out + "]}";
  };
  auto post = [&](const std::string& events) {
    auto reply = c.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, events, "application/json");
    EXPECT_TRUE(reply && reply->status == 200) << (reply ? reply->body : "no reply");
    return reply ? json(reply) : nlohmann::json();
  };
  auto suggested = [&](const std::string& prefix) {
    std::vector<std::string> out;
    const nlohmann::json reply = json(c.Get("/suggest?k=5&prefix=" + prefix));
    for (const auto& q : reply["queries"]) out.push_back(q["text"]);
    return out;
  };
  post(clicks("desk lamps model", 0, 6));  // 2 stored + 6 > "desk lamp"'s 5
  EXPECT_EQ(suggested("de"), (std::vector<std::string>{"desk lamps model", "desk lamp"}));
  post(clicks("dsek lamsp", 10, 9));
  EXPECT_TRUE(suggested("dsek").empty());
  const std::string four = clicks("desk lamp model", 20, 4);  // new: 4, below "desk lamp"'s 5
  EXPECT_EQ(post(four)["stored"], 4);
  const std::vector<std::string> order = {"desk lamps model", "desk lamp", "desk lamp model"};
  EXPECT_EQ(suggested("desk%20lamp"), order);
  // Counted twice it would weigh 8, tie with "desk lamps model" and come first (shorter).
  EXPECT_EQ(post(four)["stored"], 0);
  EXPECT_EQ(suggested("desk%20lamp"), order);
  for (const auto& [path, field] : std::vector<std::pair<std::string, std::string>>{
           {"/suggest", "prefix"}, {"/suggest?prefix=a&k=0", "k"}, {"/suggest?prefix=a&k=21", "k"},
           {"/suggest?prefix=a&limit=3", "limit"}, {"/suggest?prefix=a&locale=xx-1", "locale"}}) {
    r = c.Get(path);
    ASSERT_EQ(r->status, 400) << path;
    EXPECT_EQ(json(r)["error"]["field"], field) << path << " " << r->body;
  }
}

// A deleted listing leaves every strategy, the suggestions and the product lookup at once,
// stays gone after a restart, and its id is never given to the next listing.
TEST_F(HttpTest, DeletedListingsLeaveEveryStrategyAndTheirIdsAreNotReused) {
  start({}, true, true);
  auto c = client();
  auto ids = [&](const std::string& path) {
    std::set<std::string> out;
    auto fresh = client();  // the port changes with a restart
    auto r = fresh.Get(path);
    EXPECT_TRUE(r);
    if (!r) return out;
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    const nlohmann::json body = json(r);
    for (const auto& hit : body["results"]) out.insert(hit["product_id"].get<std::string>());
    return out;
  };
  const std::vector<std::string> searches = {"/search?query=model&strategy=lexical&k=30",
                                             "/search?query=desk%20lamp&strategy=vector&k=30",
                                             "/search?query=lamp&strategy=popularity&k=30",
                                             "/search?query=yoga%20mat%20model%2023&k=30"};
  for (const std::string& path : searches) EXPECT_EQ(ids(path).count("P23"), 1u) << path;
  const httplib::Headers key{{"X-API-Key", kKey}};
  EXPECT_EQ(c.Delete("/products/P23")->status, 401);
  auto r = c.Delete("/products/P23?locale=en", key);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json(r)["deleted"], "P23");
  EXPECT_EQ(json(r)["documents"], 23);
  EXPECT_EQ(c.Delete("/products/P23", key)->status, 404);
  EXPECT_EQ(c.Delete("/products/P1?locale=es", key)->status, 404);  // P1 is an English listing
  EXPECT_EQ(json(c.Delete("/products/P1?lang=en", key))["error"]["field"], "lang");
  for (int round = 0; round < 2; ++round) {  // both pipelines
    for (const std::string& path : searches) EXPECT_EQ(ids(path).count("P23"), 0u) << path;
  }
  EXPECT_EQ(c.Get("/products/P23")->status, 404);
  for (const auto& p : json(c.Get("/suggest?prefix=yoga&k=20"))["products"]) EXPECT_NE(p["product_id"], "P23");
  EXPECT_EQ(json(c.Get("/health"))["documents"], 23);
  // A locale's last listing deleted: the language menu no longer offers it.
  r = c.Post("/products", key, R"([{"id": "ES1", "locale": "es", "title": "Esterilla de yoga"}])", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json(c.Get("/health"))["locales"], nlohmann::json::parse(R"(["en", "es"])"));
  ASSERT_EQ(c.Delete("/products/ES1?locale=es", key)->status, 200);
  EXPECT_EQ(json(c.Get("/health"))["locales"], nlohmann::json::parse(R"(["en"])"));
  // The next listing gets a new id, not the deleted one (the largest).
  r = c.Post("/products", key, R"([{"id": "N1", "locale": "en", "title": "Yoga Mat Deluxe"}])", "application/json");
  ASSERT_EQ(r->status, 200) << r->body;

  stop();
  {
    auto store = store::Store::open(dir_.path());
    ASSERT_TRUE(store.is_ok());
    auto added = (*store)->find_product("en", "N1");
    ASSERT_TRUE(added.is_ok() && added->has_value());
    EXPECT_EQ((*added)->id.value(), 26u);  // 24 listings, ES1 (25, deleted), then N1
    auto gone = (*store)->find_product("en", "P23");
    ASSERT_TRUE(gone.is_ok());
    EXPECT_FALSE(gone->has_value());
  }
  start({}, false);
  for (const std::string& path : searches) EXPECT_EQ(ids(path).count("P23"), 0u) << path << " after a restart";
  EXPECT_EQ(ids("/search?query=desk%20lamp&strategy=vector&k=30").size(), 24u);  // 23 + N1: P23's vector is gone
}

TEST_F(HttpTest, BadRequestsGetClearFourHundredsAndTheServerStaysUp) {
  ServeOptions serve;
  serve.max_body_bytes = 64 * 1024;
  start(serve);
  auto c = client();
  const httplib::Headers key{{"X-API-Key", kKey}};
  struct Case {
    std::string path, body;
    int status;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"/search", "{\"query\": ", 400, "body"},                      // bad JSON
      {"/search", "{\"query\": 42}", 400, "query"},                  // wrong type
      {"/search", "{\"query\": \"lamp\", \"k\": 1e9}", 400, "k"},    // huge value
      {"/search", "{\"query\": \"lamp\", \"k\": -1}", 400, "k"},
      {"/search", "{\"query\": \"lamp\", \"filters\": [\"size=9\"]}", 400, "filters"},
      {"/search", "{\"query\": \"lamp\", \"locale\": \"xx-!!\"}", 400, "locale"},
      {"/search", "{\"query\": \"lamp\", \"strategy\": \"telepathy\"}", 400, "strategy"},
      {"/search", "{\"query\": \"lamp\", \"strategy\": \"lexical\", \"depth\": 5000}", 400, "depth"},
      {"/search", "{\"query\": \"lamp\", \"fliters\": [\"brand=Lumo\"]}", 400, "fliters"},  // a typo is not ignored
      {"/search", "{\"query\": \"lamp\", \"offset\": 5, \"page\": 2}", 400, "page"},
      {"/search", "{\"query\": \"lamp\", \"offset\": -1}", 400, "offset"},
      {"/search", std::string("{\"query\": \"l\xff\"}"), 400, "body"},  // invalid UTF-8
      {"/search", std::string(40, '[') + std::string(40, ']'), 400, "body"},  // nested too deep
      {"/search", "\"just a string\"", 400, "body"},
      {"/events", "{\"events\": [{\"ts\": 1, \"session\": \"s\", \"product_id\": \"P1\", \"type\": \"teleport\"}]}", 400, "body:1:type"},
      {"/events", "{\"events\": [{\"ts\": 1, \"session\": \"s\", \"product_id\": \"P1\", \"type\": \"click\", \"colour\": 1}]}", 400, "body:1:colour"},
      {"/events", "{\"events\": [{\"ts\": 1, \"product_id\": \"P1\", \"type\": \"click\", \"search_id\": 7}]}", 400, "body:1:search_id"},
      {"/events", "{\"events\": []}", 400, "events"},
      // A far-future time (year 9999) would outweigh every real event in the memory index.
      {"/events", "{\"events\": [{\"ts\": 253402214400, \"session\": \"s\", \"product_id\": \"P1\", \"type\": \"click\"}]}", 400, "body:1:ts"},
      {"/products", "[{\"id\": \"X\", \"title\": \"t\", \"price\": \"cheap\"}]", 400, "body:1:price"},
      {"/products", "[{\"id\": \"X\", \"title\": \"t\", \"price\": 1e400}]", 400, "body"},
      {"/products", "[{\"id\": \"a/b\", \"title\": \"t\"}]", 400, "body:1:id"},  // never readable at /products/ID
      {"/products", "[{\"id\": \"" + std::string(1000, 'x') + "\", \"title\": \"t\"}]", 400, "body:1:id"},
      {"/classify", "{\"product_id\": \"P1\"}", 400, "query"},
  };
  for (const Case& test : cases) {
    auto reply = c.Post(test.path, key, test.body, "application/json");
    ASSERT_TRUE(reply) << test.body;
    EXPECT_EQ(reply->status, test.status) << test.path << " " << test.body << " -> " << reply->body;
    const nlohmann::json body = json(reply);
    ASSERT_TRUE(body.is_object()) << reply->body;
    EXPECT_EQ(body["error"].value("field", ""), test.field) << test.body << " -> " << reply->body;
  }
  auto huge = c.Post("/events", key, std::string(100 * 1024, ' '), "application/json");
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->status, 413);
  EXPECT_EQ(json(huge)["error"]["code"], "payload_too_large");
  EXPECT_EQ(c.Get("/search?query=lamp&k=abc")->status, 400);
  EXPECT_EQ(c.Get("/search?query=lamp&limit=5")->status, 400);
  EXPECT_EQ(json(c.Get("/search?query=lamp&k=1&k=2"))["error"]["field"], "k");  // given twice
  EXPECT_EQ(c.Get("/search?query=%FF")->status, 400);
  EXPECT_EQ(c.Get("/nowhere")->status, 404);
  // Nothing of the refused writes was stored; the server still answers.
  EXPECT_EQ(json(c.Get("/health"))["events"], 0);
  EXPECT_EQ(c.Get("/search?query=lamp")->status, 200);
}

TEST_F(HttpTest, ARequestQueuedTooLongForAWorkerIsAnsweredTooManyRequests) {
  ServeOptions serve;
  serve.threads = 1;
  serve.queue_wait_ms = 100;
  start(serve);
  // A batch of 10,000 listings (stored, then indexed) holds the only worker well over 100 ms.
  nlohmann::json batch = nlohmann::json::array();
  for (int i = 0; i < 10000; ++i) {
    batch.push_back({{"id", "B" + std::to_string(i)}, {"title", "Lamp shade number " + std::to_string(i)}, {"locale", "en"}});
  }
  std::atomic<double> write_ms{0};
  std::atomic<int> write_status{0};
  std::thread writer([&] {
    auto c = client();
    const auto begin = std::chrono::steady_clock::now();
    auto reply = c.Post("/products", httplib::Headers{{"X-API-Key", kKey}}, batch.dump(), "application/json");
    write_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
    write_status = reply ? reply->status : 0;
  });
  // Time for the batch to reach the worker, even on a loaded machine (the search must queue
  // behind it, not run before it).
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto c = client();
  auto shed = c.Get("/search?query=lamp");
  writer.join();
  ASSERT_TRUE(shed);
  EXPECT_EQ(write_status, 200);
  ASSERT_GT(write_ms, 300) << "the batch was too quick to keep the worker busy";
  EXPECT_EQ(shed->status, 429) << shed->body;
  EXPECT_EQ(shed->get_header_value("Retry-After"), "1");
  EXPECT_EQ(c.Get("/search?query=lamp")->status, 200);  // the worker is free again
  EXPECT_NE(server_->metrics_text().find("aisle_http_shed_total 1"), std::string::npos);
}

// A raw TCP client for what a library client will not send: slow, idle, malformed,
// pipelined and half-closed requests.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  bool connected() const { return connected_; }
  // False once the server has closed the connection.
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void half_close() { ::shutdown(fd_, SHUT_WR); }
  // What arrives until the server closes the connection (closed = true) or `timeout` passes.
  std::string read(std::chrono::milliseconds timeout, bool* closed = nullptr) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (closed) *closed = false;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) break;
      pollfd poll_fd{fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left)) <= 0) break;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        if (closed) *closed = true;
        break;
      }
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return out;
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The status codes of the responses in `bytes`, in order.
std::vector<int> statuses(const std::string& bytes) {
  std::vector<int> out;
  std::size_t at = 0;
  while ((at = bytes.find("HTTP/1.1 ", at)) != std::string::npos) {
    if (at == 0 || bytes.compare(at - 2, 2, "\r\n") == 0 || bytes[at - 1] == '}' || bytes[at - 1] == ']') {
      out.push_back(std::atoi(bytes.c_str() + at + 9));
    }
    at += 9;
  }
  return out;
}

TEST_F(HttpTest, SlowAndIdleClientsStarveNoOne) {
  ServeOptions serve;
  serve.threads = 2;
  serve.io_timeout_s = 2;
  start(serve);
  // 50 idle sockets and 8 slowloris clients (one header line every 200 ms, never done).
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 50; ++i) idle.push_back(std::make_unique<RawConnection>(port_));
  std::atomic<bool> done{false};
  std::vector<double> closed_after_ms(8, -1);
  std::vector<std::string> slow_replies(8);
  std::vector<std::thread> slow;
  for (int i = 0; i < 8; ++i) {
    slow.emplace_back([&, i] {
      RawConnection connection(port_);
      const auto begin = std::chrono::steady_clock::now();
      bool open = connection.send("GET /health HTTP/1.1\r\nHost: a\r\n");
      while (open && !done) {
        bool closed = false;
        slow_replies[static_cast<std::size_t>(i)] += connection.read(std::chrono::milliseconds(200), &closed);
        if (closed) break;
        open = connection.send("X-Slow: " + std::to_string(i) + "\r\n");
      }
      closed_after_ms[static_cast<std::size_t>(i)] =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double slowest_ms = 0;
  for (int probe = 0; probe < 20; ++probe) {
    auto c = client();
    const auto begin = std::chrono::steady_clock::now();
    auto reply = c.Get(probe % 2 ? "/health" : "/search?query=lamp");
    slowest_ms = std::max(slowest_ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count());
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_LT(slowest_ms, 1000) << "a probe waited behind slow or idle clients";
  // The slow clients get 408 at their deadline (2 s from their first byte), however often
  // they send; the idle ones are closed without a reply.
  for (std::thread& t : slow) t.join();
  done = true;
  for (int i = 0; i < 8; ++i) {
    EXPECT_GT(closed_after_ms[static_cast<std::size_t>(i)], 1500);
    EXPECT_LT(closed_after_ms[static_cast<std::size_t>(i)], 4000);
    EXPECT_EQ(statuses(slow_replies[static_cast<std::size_t>(i)]), std::vector<int>{408}) << slow_replies[static_cast<std::size_t>(i)];
  }
  bool closed = false;
  EXPECT_EQ(idle.front()->read(std::chrono::milliseconds(3000), &closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(HttpTest, ConnectionsOverTheCapGetServiceUnavailableAtOnce) {
  ServeOptions serve;
  serve.max_connections = 4;
  start(serve);
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 4; ++i) held.push_back(std::make_unique<RawConnection>(port_));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // accepted
  RawConnection over(port_);
  bool closed = false;
  const std::string reply = over.read(std::chrono::milliseconds(2000), &closed);
  EXPECT_EQ(statuses(reply), std::vector<int>{503}) << reply;
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos);
  EXPECT_TRUE(closed);
  held.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(client().Get("/health")->status, 200);
  EXPECT_NE(server_->metrics_text().find("aisle_http_refused_connections_total 1"), std::string::npos);
}

TEST_F(HttpTest, OversizedAndAmbiguousRequestsAreRefusedAtOnce) {
  ServeOptions serve;
  serve.max_body_bytes = 64 * 1024;
  start(serve);
  const std::string key = std::string("X-API-Key: ") + kKey + "\r\n";
  struct Case {
    std::string name, bytes;
    int status;
  };
  std::string chunked = "POST /events HTTP/1.1\r\nHost: a\r\n" + key + "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 25; ++i) chunked += "1000\r\n" + std::string(4096, ' ') + "\r\n";  // 100 KiB
  chunked += "0\r\n\r\n";
  std::string headers = "GET /health HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 200; ++i) headers += "X-H" + std::to_string(i) + ": v\r\n";
  const std::vector<Case> cases = {
      {"chunked body over the limit", chunked, 413},
      {"huge Content-Length", "POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000\r\n\r\n", 413},
      {"negative Content-Length", "POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400},
      {"200 header fields", headers + "\r\n", 431},
      {"one 200 KB header", "GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(200000, 'v') + "\r\n\r\n", 431},
      {"Content-Length with chunked",
       "POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"two Content-Lengths", "POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\n{}", 400},
      {"no Host", "GET /health HTTP/1.1\r\n\r\n", 400},
      {"unauthorized write with a big body", "POST /events HTTP/1.1\r\nHost: a\r\nContent-Length: 60000\r\n\r\n", 401},
  };
  for (const Case& test : cases) {
    RawConnection connection(port_);
    ASSERT_TRUE(connection.connected());
    const auto begin = std::chrono::steady_clock::now();
    connection.send(test.bytes);
    bool closed = false;
    const std::string reply = connection.read(std::chrono::milliseconds(3000), &closed);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin).count();
    EXPECT_EQ(statuses(reply), std::vector<int>{test.status}) << test.name << ": " << reply.substr(0, 300);
    EXPECT_TRUE(closed) << test.name;
    EXPECT_LT(ms, 2500) << test.name << " held the connection";
    EXPECT_NE(reply.find("\"error\""), std::string::npos) << test.name;
  }
  EXPECT_EQ(json(client().Get("/health"))["events"], 0);  // nothing of the refused bodies was stored
}

TEST_F(HttpTest, PipelinedAndHalfClosedRequestsAreAllAnsweredInOrder) {
  start();
  RawConnection pipelined(port_);
  const std::string body = R"({"query": "desk lamp", "k": 2})";
  pipelined.send("GET /health HTTP/1.1\r\nHost: a\r\n\r\nPOST /search HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body + "GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n" +
                 "GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  bool closed = false;
  const std::string replies = pipelined.read(std::chrono::milliseconds(5000), &closed);
  EXPECT_EQ(statuses(replies), (std::vector<int>{200, 200, 404, 200})) << replies;
  EXPECT_NE(replies.find("Desk Lamp"), std::string::npos);
  EXPECT_TRUE(closed);

  RawConnection half(port_);
  half.send("POST /search HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  half.half_close();
  const std::string reply = half.read(std::chrono::milliseconds(5000), &closed);
  EXPECT_EQ(statuses(reply), std::vector<int>{200}) << reply;
  EXPECT_NE(reply.find("Desk Lamp"), std::string::npos);
  EXPECT_TRUE(closed);
}

TEST_F(HttpTest, MethodsRangesAndRequestIdsFollowHttp) {
  start();
  RawConnection connection(port_);
  connection.send("DELETE /search HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  std::string reply = connection.read(std::chrono::milliseconds(2000));
  EXPECT_EQ(statuses(reply), std::vector<int>{405}) << reply;
  EXPECT_NE(reply.find("Allow: GET, POST, HEAD, OPTIONS"), std::string::npos) << reply;
  auto c = client();
  auto options = c.Options("/products/P1");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->get_header_value("Allow"), "GET, DELETE, HEAD, OPTIONS");
  auto head = c.Head("/health");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_GT(std::stoi(head->get_header_value("Content-Length")), 10);
  // No multi-range amplification: a Range header is ignored, the asset comes once, whole.
  std::string ranges = "bytes=0-";
  for (int i = 0; i < 1000; ++i) ranges += ",0-";
  auto whole = c.Get("/app.js", httplib::Headers{{"Range", ranges}});
  auto plain = c.Get("/app.js");
  ASSERT_TRUE(whole && plain);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body, plain->body);
  // Every reply carries its own request id.
  const std::string first = c.Get("/health")->get_header_value("X-Request-Id");
  const std::string second = c.Get("/nowhere")->get_header_value("X-Request-Id");
  EXPECT_FALSE(first.empty());
  EXPECT_NE(first, second);
}

TEST(PublicReply, HidesInternalMessagesOfServerErrorsBehindTheRequestId) {
  const Reply internal = error_reply(500, "internal", "cannot read /srv/secret/models/ranker.bin: xgboost stack trace ...");
  const Reply shown = public_reply(internal, "abc-7");
  EXPECT_EQ(shown.status, 500);
  EXPECT_EQ(shown.body["error"]["code"], "internal");
  EXPECT_EQ(shown.body["error"]["request_id"], "abc-7");
  EXPECT_EQ(shown.body.dump().find("/srv/secret"), std::string::npos);
  EXPECT_NE(shown.body["error"]["message"].get<std::string>().find("abc-7"), std::string::npos);
  const Reply bad = error_reply(400, "bad_input", "k must be 1..100", "k");
  EXPECT_EQ(public_reply(bad, "abc-8").body, bad.body);  // client errors keep their message
}

TEST_F(HttpTest, SoakOfConcurrentWritesAndReadsLosesNoAcknowledgedEventAndNoFiveHundreds) {
  start();
  std::atomic<std::int64_t> acknowledged{0}, server_errors{0}, other{0}, searches{0};
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      auto c = client();
      int batch = 0;
      while (!done) {
        std::string events = "{\"events\": [";
        const int n = 1 + (batch++ % 5);
        for (int i = 0; i < n; ++i) {
          // Distinct times: the store ignores exact duplicates.
          events += (i ? "," : "") + event("P" + std::to_string((w * 7 + i) % 24), i % 2 ? "click" : "impression", "",
                                           1795341600 - w * 10000000 - batch * 10 - i);
        }
        events += "]}";
        auto reply = c.Post("/events", httplib::Headers{{"X-API-Key", kKey}}, events, "application/json");
        if (!reply) continue;  // not acknowledged: not counted
        if (reply->status == 200) {
          acknowledged += n;
        } else if (reply->status >= 500) {
          ++server_errors;
        } else {
          ++other;
        }
      }
    });
  }
  for (int r = 0; r < 3; ++r) {
    threads.emplace_back([&, r] {
      auto c = client();
      const char* queries[] = {"desk+lamp", "garden+hose", "running+shoes", "yoga+mat", "lamp"};
      int i = r;
      while (!done) {
        auto reply = c.Get(std::string("/search?k=5&query=") + queries[i++ % 5]);
        if (!reply) continue;
        if (reply->status >= 500) ++server_errors;
        else if (reply->status == 200) ++searches;
        else ++other;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  done = true;
  for (std::thread& t : threads) t.join();
  stop();
  EXPECT_EQ(server_errors, 0);
  EXPECT_EQ(other, 0);
  EXPECT_GT(acknowledged, 0);
  EXPECT_GT(searches, 0);
  auto store = store::Store::open(dir_.path(), store::StoreOptions{.read_only = true});
  ASSERT_TRUE(store.is_ok());
  auto stats = (*store)->stats();
  ASSERT_TRUE(stats.is_ok());
  EXPECT_EQ(stats->events, acknowledged.load());
  // The memory index saved at shutdown has every stored event.
  auto memory = retrieve::MemoryIndex::load(retrieve::memory_path(dir_.path()));
  ASSERT_TRUE(memory.is_ok());
  EXPECT_EQ((*memory)->events(), acknowledged.load());
}

TEST(ConstantTimeEqual, ComparesWholeStrings) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("ab", "abc"));
  EXPECT_FALSE(constant_time_equal("", "a"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

}  // namespace
}  // namespace aisle::server
