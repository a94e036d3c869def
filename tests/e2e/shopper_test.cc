// The shopper test: what a shopper sees after the demo's full training sequence
// (scripts/train_sample.sh) on the teaching sample (scripts/make_sample.py).
//
// tests/data/shopper_queries.jsonl holds one query a line, written by us:
//   {"query", "locale", "top3": {"title": substring, "color", "brand"} (each of the first three
//    results has them), "top3_not": {"title": substring} (none of the first three has it),
//    "label": the ESCI labels the first result may carry, "empty": true (no results, and the
//    reply says why)}.
// The labels accept E or S: the classifier tells a match from a complement or an irrelevant
// product reliably, but confuses Exact with Substitute on about one query in seven (issue 23).
// A misspelled query is classified as its correction reads, so its label must be E.
// Every result must be in the query's locale. The test fails when any learned layer makes the
// result worse than lexical search alone: per query (a check lexical passes and the default
// pipeline fails) and on the sample's held-out test queries (mean nDCG@10).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/validation.h"
#include "aisle/server/engine.h"
#include "test_util.h"

namespace aisle {
namespace {

using aisle::testing::TempDir;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

int run(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class ShopperTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    data_ = (*dir_ / "data").string();
    const std::string log = (*dir_ / "train.log").string();
    const int code = run("bash " + std::string(AISLE_SOURCE_DIR) + "/scripts/train_sample.sh " + AISLE_BINARY + " " +
                         data_ + " " + AISLE_TEACHING_SAMPLE_DIR + " >" + log + " 2>&1");
    std::ifstream in(log);
    train_log_.assign(std::istreambuf_iterator<char>(in), {});
    ASSERT_EQ(code, 0) << train_log_;
    std::ifstream catalog(std::string(AISLE_TEACHING_SAMPLE_DIR) + "/catalog.jsonl");
    for (std::string line; std::getline(catalog, line);) {
      nlohmann::json product = nlohmann::json::parse(line);
      products_[product["locale"].get<std::string>() + "|" + product["id"].get<std::string>()] = product;
    }
    server::EngineOptions options;
    options.data_dir = data_;
    auto engine = server::Engine::open(options, Context::for_tests());
    ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();
    engine_ = engine->release();
  }
  static void TearDownTestSuite() {
    delete engine_;
    delete dir_;
  }

  static nlohmann::json search(nlohmann::json request) {
    server::Reply reply = engine_->search(request);
    EXPECT_EQ(reply.status, 200) << reply.body.dump();
    return reply.body;
  }

  // Whether a catalog row has what the spec's "top3" asks for.
  static bool matches(const nlohmann::json& spec, const nlohmann::json& product) {
    if (!spec.contains("top3")) return true;
    const nlohmann::json& top = spec["top3"];
    if (top.contains("title") && lower(product["title"]).find(lower(top["title"])) == std::string::npos) return false;
    if (top.contains("color") && lower(product.value("color", "")) != lower(top["color"])) return false;
    if (top.contains("brand") && product.value("brand", "") != top["brand"]) return false;
    if (spec.contains("top3_not") && lower(product["title"]).find(lower(spec["top3_not"]["title"])) != std::string::npos) return false;
    return true;
  }

  // "1. Title [E]; 2. ...": a reply's results, short enough to read in a failure.
  static std::string listing(const nlohmann::json& reply) {
    std::string out;
    int rank = 0;
    for (const auto& hit : reply["results"]) {
      out += "\n    " + std::to_string(++rank) + ". " + hit["title"].get<std::string>();
      if (hit.contains("esci")) out += " [" + hit["esci"]["label"].get<std::string>() + "]";
    }
    return out;
  }

  // The failed checks of one fixture query on one reply (empty: all passed).
  static std::vector<std::string> failures(const nlohmann::json& spec, const nlohmann::json& reply, bool labels) {
    std::vector<std::string> failed;
    const std::string locale = spec["locale"];
    const nlohmann::json& results = reply["results"];
    for (const auto& hit : results) {
      if (hit["locale"] != locale) failed.push_back("result " + hit["product_id"].get<std::string>() + " in locale " + hit["locale"].get<std::string>());
    }
    if (spec.value("empty", false)) {
      if (!results.empty()) failed.push_back("expected no results, got " + std::to_string(results.size()));
      if (!reply.contains("notice")) failed.push_back("no notice saying why there are no results");
      return failed;
    }
    // The first three results, or as many as the catalog has products matching the spec.
    std::size_t matching = 0;
    for (const auto& [key, product] : products_) {
      if (product["locale"] == locale && matches(spec, product)) ++matching;
    }
    const std::size_t checked = std::min<std::size_t>(3, matching);
    if (results.size() < checked) {
      failed.push_back("fewer than " + std::to_string(checked) + " results");
      return failed;
    }
    for (std::size_t i = 0; i < checked; ++i) {
      const nlohmann::json& product = products_.at(locale + "|" + results[i]["product_id"].get<std::string>());
      const std::string title = lower(product["title"]);
      const std::string where = " at " + std::to_string(i + 1) + ": " + product["title"].get<std::string>();
      if (spec.contains("top3")) {
        const nlohmann::json& top = spec["top3"];
        if (top.contains("title") && title.find(lower(top["title"])) == std::string::npos) failed.push_back("title" + where);
        if (top.contains("color") && lower(product.value("color", "")) != lower(top["color"])) failed.push_back("color" + where);
        if (top.contains("brand") && product.value("brand", "") != top["brand"]) failed.push_back("brand" + where);
      }
      if (spec.contains("top3_not") && title.find(lower(spec["top3_not"]["title"])) != std::string::npos) {
        failed.push_back("unwanted" + where);
      }
    }
    if (labels && spec.contains("label")) {
      const std::string label = results[0].contains("esci") ? results[0]["esci"]["label"].get<std::string>() : "none";
      const auto& allowed = spec["label"];
      if (std::find(allowed.begin(), allowed.end(), label) == allowed.end()) failed.push_back("first result labelled " + label);
    }
    return failed;
  }

  static TempDir* dir_;
  static std::string data_, train_log_;
  static std::map<std::string, nlohmann::json> products_;  // "locale|id" -> catalog row
  static server::Engine* engine_;
};

TempDir* ShopperTest::dir_ = nullptr;
std::string ShopperTest::data_, ShopperTest::train_log_;
std::map<std::string, nlohmann::json> ShopperTest::products_;
server::Engine* ShopperTest::engine_ = nullptr;

TEST_F(ShopperTest, EveryFixtureQueryShowsWhatAShopperExpectsAndNoWorseThanLexical) {
  std::ifstream in(std::string(AISLE_SOURCE_DIR) + "/tests/data/shopper_queries.jsonl");
  int queries = 0, locales_seen = 0;
  std::map<std::string, int> per_locale;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json spec = nlohmann::json::parse(line);
    ++queries;
    ++per_locale[spec["locale"]];
    const nlohmann::json request = {{"query", spec["query"]}, {"locale", spec["locale"]}, {"k", 10}};
    const nlohmann::json shown = search(request);
    nlohmann::json lexical_request = request;
    lexical_request["strategy"] = "lexical";
    lexical_request["rank"] = false;
    const nlohmann::json lexical = search(lexical_request);
    const std::vector<std::string> failed = failures(spec, shown, true);
    EXPECT_TRUE(failed.empty()) << spec["locale"].get<std::string>() << " \"" << spec["query"].get<std::string>()
                                << "\": " << nlohmann::json(failed).dump() << listing(shown);
    const std::vector<std::string> lexical_failed = failures(spec, lexical, false);
    std::vector<std::string> shown_order_failed = failures(spec, shown, false);
    EXPECT_LE(shown_order_failed.size(), lexical_failed.size())
        << "a learned layer made \"" << spec["query"].get<std::string>() << "\" worse than lexical alone: "
        << nlohmann::json(shown_order_failed).dump() << " vs lexical " << nlohmann::json(lexical_failed).dump();
  }
  locales_seen = static_cast<int>(per_locale.size());
  EXPECT_GE(queries, 60);
  EXPECT_EQ(locales_seen, 3);
}

// The sample's test-split queries (never trained on): the default pipeline's mean nDCG@10 is
// at least lexical search's.
TEST_F(ShopperTest, HeldOutQueriesAreNoWorseThanLexicalSearch) {
  std::map<std::pair<std::string, std::string>, std::map<std::string, double>> grades;  // (locale, query) -> id -> gain
  std::ifstream in(std::string(AISLE_TEACHING_SAMPLE_DIR) + "/judgments.csv");
  std::string line;
  std::getline(in, line);  // header: example_id,query_id,query,product_id,product_locale,esci_label,split
  static const std::map<std::string, double> kGain = {{"E", 1.0}, {"S", 0.6}, {"C", 0.2}, {"I", 0.0}};
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();  // the csv module ends rows with CRLF
    std::vector<std::string> cells;
    std::size_t begin = 0;
    for (std::size_t comma; (comma = line.find(',', begin)) != std::string::npos; begin = comma + 1) cells.push_back(line.substr(begin, comma - begin));
    cells.push_back(line.substr(begin));
    ASSERT_EQ(cells.size(), 7u) << line;  // the generator writes no quoted commas
    if (cells[6] == "test") grades[{cells[4], cells[2]}][cells[3]] = kGain.at(cells[5]);
  }
  double shown_total = 0, lexical_total = 0;
  int counted = 0;
  for (const auto& [key, judged] : grades) {
    std::vector<double> ideal;
    for (const auto& [id, gain] : judged) ideal.push_back(gain);
    if (*std::max_element(ideal.begin(), ideal.end()) <= 0) continue;
    auto ndcg = [&](const nlohmann::json& reply) {
      std::vector<double> gains;
      for (const auto& hit : reply["results"]) {
        auto found = judged.find(hit["product_id"].get<std::string>());
        gains.push_back(found == judged.end() ? 0.0 : found->second);
      }
      return ndcg_at(gains, ideal, 10);
    };
    const nlohmann::json request = {{"query", key.second}, {"locale", key.first}, {"k", 10}};
    nlohmann::json lexical_request = request;
    lexical_request["strategy"] = "lexical";
    lexical_request["rank"] = false;
    shown_total += ndcg(search(request));
    lexical_total += ndcg(search(lexical_request));
    ++counted;
  }
  ASSERT_GE(counted, 50);
  const double shown = shown_total / counted, lexical = lexical_total / counted;
  RecordProperty("default_ndcg10", std::to_string(shown));
  RecordProperty("lexical_ndcg10", std::to_string(lexical));
  std::printf("held-out test queries: %d, nDCG@10 default %.4f, lexical %.4f\n", counted, shown, lexical);
  EXPECT_GE(shown, lexical) << "the default pipeline is worse than lexical search on held-out queries";
}

// The CLI and the server run one pipeline: the same order for the same query.
TEST_F(ShopperTest, TheCliAndTheServerGiveTheSameOrder) {
  for (const auto& [query, locale] : std::vector<std::pair<std::string, std::string>>{
           {"black running shoes", "en"}, {"waterproof jacket", "en"}, {"cafetera", "es"}, {"ヨガマット", "ja"}}) {
    const std::string out = (*dir_ / "cli.json").string();
    ASSERT_EQ(run(std::string(AISLE_BINARY) + " --progress never search '" + query + "' --data-dir " + data_ +
                  " --locale " + locale + " -k 10 --json >" + out),
              0);
    std::ifstream in(out);
    const nlohmann::json cli = nlohmann::json::parse(in);
    const nlohmann::json server = search({{"query", query}, {"locale", locale}, {"k", 10}});
    std::vector<std::string> a, b;
    for (const auto& hit : cli["results"]) a.push_back(hit["product_id"]);
    for (const auto& hit : server["results"]) b.push_back(hit["product_id"]);
    EXPECT_EQ(a, b) << query;
    EXPECT_EQ(cli["strategy"], server["strategy"]) << query;
  }
}

// A product just added through the API is found first by its exact title.
TEST_F(ShopperTest, AFreshlyUpsertedProductIsFoundFirstByItsTitle) {
  const nlohmann::json product = {{"id", "EN9001"},          {"locale", "en"},
                                  {"title", "Zephyrine Trailblazer Running Shoes - Orange"},
                                  {"brand", "Zephyrine"},    {"color", "orange"},
                                  {"category", {"Shoes", "Running"}},
                                  {"price", 95.5},           {"popularity", 1.0}};
  server::Reply written = engine_->upsert_products(nlohmann::json::array({product}));
  ASSERT_EQ(written.status, 200) << written.body.dump();
  const nlohmann::json found = search({{"query", product["title"]}, {"locale", "en"}, {"k", 10}});
  ASSERT_FALSE(found["results"].empty()) << found.dump();
  EXPECT_EQ(found["results"][0]["product_id"], "EN9001") << found["results"].dump();
}

// /health and --explain say which layers are on and why.
TEST_F(ShopperTest, TheLayersSayWhyTheyAreOnOrOff) {
  server::Reply health = engine_->health();
  ASSERT_EQ(health.status, 200);
  for (const char* name : {"vector", "classifier", "ranker", "related", "policy"}) {
    ASSERT_TRUE(health.body["layers"].contains(name)) << health.body.dump();
    EXPECT_FALSE(health.body["layers"][name]["reason"].get<std::string>().empty()) << name;
  }
  // The sample's trainers all validated themselves; each verdict names its baseline.
  for (const char* name : {"vector", "classifier", "ranker"}) {
    EXPECT_TRUE(health.body["layers"][name].contains("validation")) << name << ": " << health.body.dump();
  }
  EXPECT_NE(train_log_.find("ranker gate"), std::string::npos) << train_log_;
}

// The shop's settings teach the search a word its catalog lacks: with "sneakers => running
// shoes" in aisle.toml, "sneakers" (no answer without it) shows running shoes, and the label
// (when the classifier is active) judges them as running shoes, not as strangers to the query.
TEST_F(ShopperTest, ASynonymRuleAnswersAWordTheCatalogLacksAndItsLabelFollows) {
  const std::string out = (*dir_ / "synonym.json").string();
  auto cli_search = [&](const std::string& query) {
    EXPECT_EQ(run(std::string(AISLE_BINARY) + " --progress never search '" + query + "' --data-dir " + data_ +
                  " --locale en -k 5 --json >" + out),
              0);
    std::ifstream in(out);
    return nlohmann::json::parse(in);
  };
  EXPECT_TRUE(cli_search("sneakers")["results"].empty());
  const std::filesystem::path settings = std::filesystem::path(data_) / "aisle.toml";
  std::ofstream(settings) << "[locales.en]\nsynonyms = [\"sneakers => running shoes\"]\n";
  const nlohmann::json reply = cli_search("sneakers");
  std::filesystem::remove(settings);
  ASSERT_GE(reply["results"].size(), 3u) << reply.dump();
  for (int i = 0; i < 3; ++i) {
    const nlohmann::json& hit = reply["results"][i];
    EXPECT_NE(lower(hit["title"]).find("running shoes"), std::string::npos) << listing(reply);
    if (hit.contains("esci")) {
      EXPECT_EQ(hit["esci"]["label"], "E") << listing(reply);
    }
  }
}

}  // namespace
}  // namespace aisle
