// End-to-end tests of the aisle binary: exit codes, error messages, and crash safety of ingest
// under kill -9 of a real child process.
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "aisle/store/store.h"
#include "test_util.h"

namespace aisle {
namespace {

using aisle::testing::TempDir;

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the aisle binary with `args`; captures stdout and stderr through files.
RunResult run_aisle(const std::vector<std::string>& args, const TempDir& dir) {
  std::string command = std::string(AISLE_BINARY) + " --progress never";
  for (const std::string& arg : args) command += " '" + arg + "'";
  std::string out_file = (dir / "stdout.txt").string(), err_file = (dir / "stderr.txt").string();
  command += " >" + out_file + " 2>" + err_file;
  int status = std::system(command.c_str());
  RunResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream out(out_file), err(err_file);
  result.out.assign(std::istreambuf_iterator<char>(out), {});
  result.err.assign(std::istreambuf_iterator<char>(err), {});
  return result;
}

TEST(CliTest, IngestsTheBundledSampleAndReportsStats) {
  TempDir dir;
  std::string data = (dir / "data").string();
  std::string sample = AISLE_SAMPLE_DIR;
  RunResult ingest = run_aisle({"ingest", "--data-dir", data, "--catalog", sample + "/catalog.jsonl",
                                "--judgments", sample + "/judgments.csv", "--events", sample + "/events.jsonl"},
                               dir);
  ASSERT_EQ(ingest.exit_code, 0) << ingest.err;
  EXPECT_NE(ingest.out.find("(catalog-jsonl): 280 rows stored"), std::string::npos) << ingest.out;
  EXPECT_NE(ingest.out.find("(esci-examples)"), std::string::npos);
  RunResult stats = run_aisle({"stats", "--data-dir", data, "--json"}, dir);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_NE(stats.out.find("\"products\": 280"), std::string::npos) << stats.out;
  // Searching before indexing says what to do.
  RunResult early = run_aisle({"search", "ヨガマット", "--data-dir", data, "--locale", "ja"}, dir);
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.err.find("aisle index"), std::string::npos) << early.err;
  RunResult index = run_aisle({"index", "--data-dir", data}, dir);
  ASSERT_EQ(index.exit_code, 0) << index.err;
  EXPECT_NE(index.out.find("index built: 280 documents"), std::string::npos) << index.out;
  RunResult search = run_aisle({"search", "ヨガマット", "--data-dir", data, "--locale", "ja", "-k", "3"}, dir);
  ASSERT_EQ(search.exit_code, 0) << search.err;
  EXPECT_NE(search.out.find("ヨガマット"), std::string::npos) << search.out;
  RunResult filtered = run_aisle({"search", "running shoes", "--data-dir", data, "--filter", "color=green",
                                  "--explain", "--json"}, dir);
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  EXPECT_NE(filtered.out.find("\"title\""), std::string::npos) << filtered.out;
  EXPECT_EQ(filtered.out.find("- Blue"), std::string::npos) << filtered.out;
  EXPECT_NE(filtered.out.find("\"interpretations\""), std::string::npos) << filtered.out;
  RunResult structured = run_aisle({"search", "green stridex shoes", "--data-dir", data, "--strategy", "structured"}, dir);
  ASSERT_EQ(structured.exit_code, 0) << structured.err;
  EXPECT_NE(structured.out.find("slot filters: brand [Stridex] color [green]"), std::string::npos) << structured.out;
  RunResult bad_filter = run_aisle({"search", "shoes", "--data-dir", data, "--filter", "size=9"}, dir);
  EXPECT_EQ(bad_filter.exit_code, 2);
  EXPECT_NE(bad_filter.err.find("unknown filter size"), std::string::npos) << bad_filter.err;
  RunResult again = run_aisle({"index", "--data-dir", data}, dir);
  EXPECT_NE(again.out.find("280 unchanged"), std::string::npos) << again.out;
  // Sorted by price, cheapest first, with highlighting; then a delete.
  RunResult sorted = run_aisle({"search", "running shoes", "--data-dir", data, "--sort", "price_asc", "--highlight", "--json",
                                "--threads", "1"}, dir);
  ASSERT_EQ(sorted.exit_code, 0) << sorted.err;
  const nlohmann::json body = nlohmann::json::parse(sorted.out);
  ASSERT_GE(body["results"].size(), 2u) << sorted.out;
  double previous = 0;
  for (const auto& hit : body["results"]) {
    EXPECT_GE(hit["price"].get<double>(), previous) << sorted.out;
    previous = hit["price"].get<double>();
    EXPECT_NE(hit["highlight"]["title"].get<std::string>().find("<mark>"), std::string::npos) << sorted.out;
  }
  const std::string cheapest = body["results"][0]["product_id"];
  EXPECT_EQ(run_aisle({"search", "shoes", "--data-dir", data, "--sort", "cheapest"}, dir).exit_code, 2);
  RunResult deleted = run_aisle({"delete", cheapest, "--data-dir", data}, dir);
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_NE(deleted.out.find("deleted 1 listing(s); index: 279 documents (1 removed)"), std::string::npos) << deleted.out;
  RunResult after = run_aisle({"search", "running shoes", "--data-dir", data, "--sort", "price_asc", "--json"}, dir);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out.find("\"" + cheapest + "\""), std::string::npos) << after.out;
  RunResult missing = run_aisle({"delete", cheapest, "--data-dir", data}, dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no product " + cheapest), std::string::npos) << missing.err;
}

TEST(CliTest, TrainsTheEncoderAndSearchesByVectorAndHybrid) {
  TempDir dir;
  std::string data = (dir / "data").string();
  std::string sample = AISLE_SAMPLE_DIR;
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", sample + "/catalog.jsonl", "--judgments",
                       sample + "/judgments.csv", "--events", sample + "/events.jsonl"},
                      dir).exit_code,
            0);
  // Without an encoder the vector strategy says what to run.
  ASSERT_EQ(run_aisle({"index", "--data-dir", data}, dir).exit_code, 0);
  RunResult early = run_aisle({"search", "yoga mat", "--data-dir", data, "--strategy", "vector"}, dir);
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.err.find("aisle train encoder"), std::string::npos) << early.err;
  RunResult train = run_aisle({"--threads", "1", "train", "encoder", "--data-dir", data, "--epochs", "3", "--buckets",
                               "16384", "--embedding-dim", "32"},
                              dir);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("held out"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("encoder (pooled, 64 dims"), std::string::npos) << train.out;
  RunResult index = run_aisle({"index", "--data-dir", data}, dir);
  ASSERT_EQ(index.exit_code, 0) << index.err;
  EXPECT_NE(index.out.find("vectors built: 280 products x 64 dims"), std::string::npos) << index.out;
  // 62 queries are too few for any learned layer to show it beats lexical search: every trainer
  // says so, and the search answers lexically, saying why each layer is off.
  EXPECT_NE(train.out.find("vector strategy gate: off: too few held-out queries"), std::string::npos) << train.out;
  // Asked for explicitly, the vector strategy runs (in the query's locale, above its floor).
  RunResult vector = run_aisle({"search", "yoga mat", "--data-dir", data, "--strategy", "vector", "-k", "5", "--json"}, dir);
  ASSERT_EQ(vector.exit_code, 0) << vector.err;
  EXPECT_NE(vector.out.find("\"strategy\": \"vector:100\""), std::string::npos) << vector.out;
  EXPECT_EQ(vector.out.find("\"locale\": \"es\""), std::string::npos) << vector.out;
  RunResult plain = run_aisle({"search", "yoga mat", "--data-dir", data, "-k", "10", "--explain"}, dir);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("[lexical:100]"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("layer vector: off: too few held-out queries"), std::string::npos) << plain.out;
  RunResult hybrid = run_aisle({"search", "yoga mat", "--data-dir", data, "--strategy", "hybrid"}, dir);
  ASSERT_EQ(hybrid.exit_code, 0) << hybrid.err;
  EXPECT_NE(hybrid.out.find("[lexical:100+vector:100]"), std::string::npos) << hybrid.out;

  // The ESCI classifier: trained from the ESCI judgments and events; `classify` labels a pair
  // and says whether the label is shown in searches. Off here, so results carry no label.
  RunResult classifier = run_aisle({"--threads", "1", "train", "classifier", "--data-dir", data, "--epochs", "2",
                                    "--finetune-epochs", "1", "--buckets", "4096", "--embedding-dim", "16", "--dim", "16"},
                                   dir);
  ASSERT_EQ(classifier.exit_code, 0) << classifier.err;
  EXPECT_NE(classifier.out.find("ESCI judgments"), std::string::npos) << classifier.out;
  EXPECT_NE(classifier.out.find("languages en,es,ja"), std::string::npos) << classifier.out;
  EXPECT_NE(classifier.out.find("classifier gate: off"), std::string::npos) << classifier.out;
  EXPECT_TRUE(std::filesystem::exists(data + "/models/classifier.report.json"));
  RunResult classify = run_aisle({"classify", "--data-dir", data, "--query", "running shoes", "--product", "EN0001"}, dir);
  ASSERT_EQ(classify.exit_code, 0) << classify.err;
  EXPECT_NE(classify.out.find("label "), std::string::npos) << classify.out;
  EXPECT_NE(classify.out.find("E 0."), std::string::npos) << classify.out;
  EXPECT_NE(classify.out.find("gate: off"), std::string::npos) << classify.out;
  RunResult missing = run_aisle({"classify", "--data-dir", data, "--query", "shoes", "--product", "NOPE"}, dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no product NOPE"), std::string::npos) << missing.err;
  RunResult unlabelled = run_aisle({"search", "yoga mat", "--data-dir", data, "-k", "3", "--json"}, dir);
  ASSERT_EQ(unlabelled.exit_code, 0) << unlabelled.err;
  EXPECT_EQ(unlabelled.out.find("\"esci\""), std::string::npos) << unlabelled.out;

  // The ranker: trained from the judgments over the pipeline's candidates; its verdict is in the
  // model and the report, and --explain and `aisle stats` say why it does not order results.
  RunResult ranker = run_aisle({"--threads", "1", "train", "ranker", "--data-dir", data, "--rounds", "20"}, dir);
  ASSERT_EQ(ranker.exit_code, 0) << ranker.err;
  EXPECT_NE(ranker.out.find("labels from judgments"), std::string::npos) << ranker.out;
  EXPECT_NE(ranker.out.find("20 rounds"), std::string::npos) << ranker.out;
  EXPECT_NE(ranker.out.find("ranker gate"), std::string::npos) << ranker.out;
  EXPECT_TRUE(std::filesystem::exists(data + "/models/ranker.report.json"));
  RunResult explained = run_aisle({"search", "yoga mat", "--data-dir", data, "-k", "3", "--explain", "--json"}, dir);
  ASSERT_EQ(explained.exit_code, 0) << explained.err;
  EXPECT_EQ(explained.out.find("\"ranker_score\""), std::string::npos) << explained.out;
  EXPECT_NE(explained.out.find("\"layers\""), std::string::npos) << explained.out;
  EXPECT_NE(explained.out.find("\"coverage_title\""), std::string::npos) << explained.out;
  RunResult stats = run_aisle({"stats", "--data-dir", data, "--json"}, dir);
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const nlohmann::json layers = nlohmann::json::parse(stats.out)["layers"];
  EXPECT_FALSE(layers["ranker"]["active"].get<bool>()) << stats.out;
  EXPECT_TRUE(layers["ranker"]["present"].get<bool>()) << stats.out;
  EXPECT_EQ(layers["ranker"]["validation"]["baseline"], "lexical") << stats.out;
  // Only clicks: the labels come from the position-bias-corrected click log.
  RunResult clicks = run_aisle({"--threads", "1", "train", "ranker", "--data-dir", data, "--labels", "clicks",
                                "--rounds", "5"},
                               dir);
  ASSERT_EQ(clicks.exit_code, 0) << clicks.err;
  EXPECT_NE(clicks.out.find("position bias (EM"), std::string::npos) << clicks.out;
  EXPECT_NE(clicks.out.find("labels from clicks"), std::string::npos) << clicks.out;
  // A damaged ranker file is refused with the reason, and the search still answers without it.
  {
    std::ofstream out(data + "/models/ranker.bin", std::ios::binary | std::ios::trunc);
    out << "garbage";
  }
  RunResult damaged = run_aisle({"search", "yoga mat", "--data-dir", data, "--explain"}, dir);
  EXPECT_EQ(damaged.exit_code, 0) << damaged.err;
  EXPECT_NE(damaged.out.find("layer ranker: off"), std::string::npos) << damaged.out;
  EXPECT_NE(damaged.out.find("ranker.bin"), std::string::npos) << damaged.out;
  EXPECT_NE(damaged.out.find("Yoga Mat"), std::string::npos) << damaged.out;
}

TEST(CliTest, TrainsRelatedProductsAndServesThemWithDirection) {
  TempDir dir;
  std::string data = (dir / "data").string();
  std::string sample = AISLE_SAMPLE_DIR;
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", sample + "/catalog.jsonl"}, dir).exit_code, 0);
  RunResult early = run_aisle({"related", "EN0001", "--data-dir", data}, dir);
  EXPECT_NE(early.exit_code, 0);
  EXPECT_NE(early.err.find("aisle train related"), std::string::npos) << early.err;
  RunResult train = run_aisle({"--threads", "1", "train", "related", "--data-dir", data, "--edges", sample + "/related.csv",
                               "--epochs", "3", "--dim", "16", "--batch-size", "128"},
                              dir);
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("259 products, 443 edges"), std::string::npos) << train.out;
  EXPECT_NE(train.out.find("product texts for 259 of 259"), std::string::npos) << train.out;
  RunResult related = run_aisle({"related", "EN0001", "--data-dir", data, "-k", "5", "--json"}, dir);
  ASSERT_EQ(related.exit_code, 0) << related.err;
  EXPECT_NE(related.out.find("\"title\": \"Stridex Pro Running Shoes - Blue\""), std::string::npos) << related.out;
  EXPECT_EQ(std::count(related.out.begin(), related.out.end(), '{'), 6) << related.out;  // the object and 5 hits
  EXPECT_EQ(related.out.find("\"product_id\": \"EN0001\""), std::string::npos) << related.out;
  RunResult missing = run_aisle({"related", "NOPE", "--data-dir", data}, dir);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("NOPE is not in the related-products graph"), std::string::npos) << missing.err;
  // A malformed edge file is named with its line and field; the saved model is kept.
  std::string bad = (dir / "bad.csv").string();
  {
    std::ofstream out(bad);
    out << "source,target,weight\nEN0001,EN0002,1\nEN0001,EN0003,abc\n";
  }
  RunResult malformed = run_aisle({"train", "related", "--data-dir", data, "--edges", bad}, dir);
  EXPECT_NE(malformed.exit_code, 0);
  EXPECT_NE(malformed.err.find("bad.csv:3:weight"), std::string::npos) << malformed.err;
  EXPECT_EQ(run_aisle({"related", "EN0001", "--data-dir", data}, dir).exit_code, 0);
  // The graph strategy: related products of the lexical strategy's best candidates.
  ASSERT_EQ(run_aisle({"index", "--data-dir", data}, dir).exit_code, 0);
  RunResult graph = run_aisle({"search", "running shoes", "--data-dir", data, "--strategy", "lexical+graph", "-k", "40",
                               "--filter", "locale=en", "--json"},
                              dir);
  ASSERT_EQ(graph.exit_code, 0) << graph.err;
  EXPECT_NE(graph.out.find("\"strategy\": \"lexical:100+graph:100\""), std::string::npos) << graph.out;
  EXPECT_NE(graph.out.find("\"found_by\": \"graph\""), std::string::npos) << graph.out;
  // The bandit's choice among what this directory can run (no vectors: never the vector strategy).
  RunResult policy = run_aisle({"search", "running shoes", "--data-dir", data, "--strategy", "policy"}, dir);
  ASSERT_EQ(policy.exit_code, 0) << policy.err;
  EXPECT_NE(policy.out.find("chosen by linucb after 0 updates"), std::string::npos) << policy.out;
  EXPECT_EQ(policy.out.find("vector:"), std::string::npos) << policy.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "index" / "policy.json"));  // a CLI search learns nothing
}

TEST(CliTest, BanditSimulationComparesPoliciesWithFixedStrategySubsets) {
  TempDir dir;
  std::string data = (dir / "data").string();
  std::string sample = AISLE_SAMPLE_DIR;
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", sample + "/catalog.jsonl", "--judgments",
                       sample + "/judgments.csv"},
                      dir).exit_code,
            0);
  ASSERT_EQ(run_aisle({"index", "--data-dir", data}, dir).exit_code, 0);
  RunResult unranked = run_aisle({"eval", "bandit-sim", "--data-dir", data, "--test", sample + "/judgments.csv", "--out",
                                  (dir / "r.json").string()},
                                 dir);
  EXPECT_NE(unranked.exit_code, 0);
  EXPECT_NE(unranked.err.find("aisle train ranker"), std::string::npos) << unranked.err;
  ASSERT_EQ(run_aisle({"--threads", "1", "train", "ranker", "--data-dir", data, "--rounds", "20"}, dir).exit_code, 0);
  const std::string out = (dir / "sim.json").string();
  RunResult sim = run_aisle({"eval", "bandit-sim", "--data-dir", data, "--test", sample + "/judgments.csv", "--searches", "1500",
                             "--budget", "60", "--depths", "10", "20", "40", "--out", out},
                            dir);
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  std::ifstream in(out);
  const nlohmann::json report = nlohmann::json::parse(in);
  EXPECT_EQ(report["task"], "bandit-sim");
  EXPECT_TRUE(std::filesystem::exists(dir / "sim.svg"));
  // Strategies without vectors: lexical, structured, memory; 7 fixed subsets and "all".
  EXPECT_EQ(report["config"]["strategies"].size(), 3u);
  EXPECT_EQ(report["baselines"].size(), 8u);
  const double all_recall = report["baselines"]["all"]["recall"].get<double>();
  for (const char* policy : {"linucb", "thompson", "epsilon"}) {
    const nlohmann::json& m = report["metrics"][policy];
    EXPECT_LE(m["candidates_per_search"].get<double>(), 60.0) << policy;
    EXPECT_GE(m["regret"].get<double>(), 0.0) << policy;
    EXPECT_LE(m["recall"].get<double>(), all_recall + 1e-12) << policy;  // "all" holds every candidate
    EXPECT_EQ(m["regret_per_search_by_quarter"].size(), 4u);
  }
  for (const auto& [name, m] : report["baselines"].items()) EXPECT_LE(m["recall"].get<double>(), all_recall + 1e-12) << name;
  EXPECT_GT(all_recall, 0.5);
  // Same seed, same report.
  RunResult again = run_aisle({"eval", "bandit-sim", "--data-dir", data, "--test", sample + "/judgments.csv", "--searches",
                               "1500", "--budget", "60", "--depths", "10", "20", "40", "--out", (dir / "again.json").string()},
                              dir);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::ifstream in_again(dir / "again.json");
  const nlohmann::json second = nlohmann::json::parse(in_again);
  EXPECT_EQ(second["metrics"], report["metrics"]);
  EXPECT_EQ(second["baselines"], report["baselines"]);
}

// Results are in the query's locale. A listing of another locale fills up the results only
// when its cross-listing group has no listing in the query's locale; --all-locales shows all.
TEST(CliTest, ResultsStayInTheQueryLocaleExceptProductsSoldOnlyElsewhere) {
  TempDir dir;
  std::string data = (dir / "data").string();
  auto catalog = dir.write("catalog.jsonl",
                           "{\"id\": \"EN1\", \"locale\": \"en\", \"title\": \"Kettle steel\", \"group\": \"G1\"}\n"
                           "{\"id\": \"ES1\", \"locale\": \"es\", \"title\": \"Kettle acero\", \"group\": \"G1\"}\n"
                           "{\"id\": \"ES2\", \"locale\": \"es\", \"title\": \"Kettle cobre\", \"group\": \"G2\"}\n"
                           "{\"id\": \"ES3\", \"locale\": \"es\", \"title\": \"Kettle vidrio\"}\n"
                           "{\"id\": \"JA1\", \"locale\": \"ja\", \"title\": \"Kettle 銅\", \"group\": \"G2\"}\n");
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", catalog.string()}, dir).exit_code, 0);
  ASSERT_EQ(run_aisle({"index", "--data-dir", data}, dir).exit_code, 0);
  RunResult en = run_aisle({"search", "kettle", "--data-dir", data, "--locale", "en", "--json"}, dir);
  ASSERT_EQ(en.exit_code, 0) << en.err;
  const nlohmann::json results = nlohmann::json::parse(en.out)["results"];
  std::vector<std::string> ids;
  for (const auto& hit : results) ids.push_back(hit["product_id"]);
  // EN1 first (the query's locale); ES1 is G1's, which has an English listing: never; ES3 has
  // no group: not a cross-listing; G2 has no English listing: one of its listings, marked.
  ASSERT_GE(ids.size(), 2u) << en.out;
  EXPECT_EQ(ids[0], "EN1") << en.out;
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "ES1"), 0) << en.out;
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "ES3"), 0) << en.out;
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "ES2") + std::count(ids.begin(), ids.end(), "JA1"), 1) << en.out;
  EXPECT_EQ(ids.size(), 2u) << en.out;
  EXPECT_TRUE(results[1].value("other_locale", false)) << en.out;
  RunResult all = run_aisle({"search", "kettle", "--data-dir", data, "--locale", "en", "--all-locales", "--json"}, dir);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  std::vector<std::string> every;
  const nlohmann::json all_results = nlohmann::json::parse(all.out)["results"];  // kept: no dangling temporary
  for (const auto& hit : all_results) every.push_back(hit["product_id"]);
  EXPECT_EQ(std::count(every.begin(), every.end(), "ES1"), 1) << all.out;
  EXPECT_EQ(std::count(every.begin(), every.end(), "ES3"), 1) << all.out;
  RunResult es = run_aisle({"search", "kettle", "--data-dir", data, "--locale", "es", "--json"}, dir);
  const nlohmann::json es_results = nlohmann::json::parse(es.out)["results"];
  EXPECT_FALSE(es_results.empty()) << es.out;
  for (const auto& hit : es_results) EXPECT_EQ(hit["locale"], "es") << es.out;
}

TEST(CliTest, ExitCodesAreMappedInOnePlace) {
  TempDir dir;
  std::string data = (dir / "data").string();
  EXPECT_EQ(run_aisle({"ingest", "--data-dir", data, "--bogus"}, dir).exit_code, 2);
  EXPECT_EQ(run_aisle({}, dir).exit_code, 2);
  RunResult missing = run_aisle({"ingest", "--data-dir", data, "--catalog", (dir / "nope.jsonl").string()}, dir);
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("nope.jsonl: no such file"), std::string::npos) << missing.err;
  auto bad = dir.write("bad.jsonl", "{\"id\": \"A\", \"title\": \"a\", \"price\": \"x\"}\n");
  RunResult bad_row = run_aisle({"ingest", "--data-dir", data, "--catalog", bad.string()}, dir);
  EXPECT_EQ(bad_row.exit_code, 2);
  EXPECT_NE(bad_row.err.find(bad.string() + ":1:price: expected a number"), std::string::npos) << bad_row.err;
  EXPECT_EQ(run_aisle({"stats", "--data-dir", (dir / "nothing").string()}, dir).exit_code, 2);
  auto not_a_store = dir.write("junk/aisle.db", "");
  std::filesystem::create_directories(dir / "junk");
  dir.write("junk/aisle.db", std::string(4096, 'x'));
  EXPECT_EQ(run_aisle({"stats", "--data-dir", (dir / "junk").string()}, dir).exit_code, 1);
  EXPECT_EQ(run_aisle({"--log-level", "loud", "stats", "--data-dir", data}, dir).exit_code, 2);
  // Global options work after the subcommand too, also nested ones (and are checked there).
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", std::string(AISLE_SAMPLE_DIR) + "/catalog.jsonl", "--threads", "1"},
                      dir).exit_code,
            0);
  EXPECT_EQ(run_aisle({"stats", "--data-dir", data, "--seed", "3", "--threads", "1"}, dir).exit_code, 0);
  EXPECT_EQ(run_aisle({"stats", "--data-dir", data, "--log-level", "loud"}, dir).exit_code, 2);
  EXPECT_EQ(run_aisle({"eval", "relevance", "--help", "--threads", "1"}, dir).exit_code, 0);
  // The server: a data directory without a store is a clear error (it used to segfault); a
  // key from the environment has the key file's minimum length.
  RunResult no_store = run_aisle({"serve", "--data-dir", (dir / "nothing").string(), "--listen", "127.0.0.1:0"}, dir);
  EXPECT_EQ(no_store.exit_code, 2);
  EXPECT_NE(no_store.err.find("no store here"), std::string::npos) << no_store.err;
  for (const char* listen : {"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:80x"}) {
    RunResult bad_port = run_aisle({"serve", "--data-dir", data, "--listen", listen}, dir);
    EXPECT_EQ(bad_port.exit_code, 2) << listen;
    EXPECT_NE(bad_port.err.find("--listen: expected a port number 0..65535"), std::string::npos) << bad_port.err;
  }
  ::setenv("AISLE_API_KEY", "short", 1);
  RunResult short_key = run_aisle({"serve", "--data-dir", data, "--listen", "127.0.0.1:0"}, dir);
  ::unsetenv("AISLE_API_KEY");
  EXPECT_EQ(short_key.exit_code, 2);
  EXPECT_NE(short_key.err.find("AISLE_API_KEY: the API key must be at least 16 characters"), std::string::npos) << short_key.err;
}

// aisle config check validates the settings file and says what the index lacks; aisle index
// applies index-time settings (a rebuild); searches use the synonyms at once.
TEST(CliTest, SettingsFileIsCheckedAppliedByIndexAndUsedBySearch) {
  TempDir dir;
  const std::string data = (dir / "data").string();
  ASSERT_EQ(run_aisle({"ingest", "--data-dir", data, "--catalog", std::string(AISLE_SAMPLE_DIR) + "/catalog.jsonl"}, dir).exit_code, 0);
  RunResult none = run_aisle({"config", "check", "--data-dir", data}, dir);
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_NE(none.out.find("every setting has its default"), std::string::npos) << none.out;
  ASSERT_EQ(run_aisle({"index", "--data-dir", data}, dir).exit_code, 0);

  dir.write("data/aisle.toml", "[fields]\ntitle = 5\n\n[locales.en]\nsynonyms = [\"sneakers => running shoes\"]\n");
  RunResult pending = run_aisle({"config", "check", "--data-dir", data}, dir);
  EXPECT_EQ(pending.exit_code, 0) << pending.err;
  EXPECT_NE(pending.out.find("index: not yet applied: fields.title: 3 in the index, 5 in the settings"), std::string::npos)
      << pending.out;
  EXPECT_NE(pending.out.find("synonyms: 1 phrase(s)"), std::string::npos) << pending.out;
  RunResult search = run_aisle({"search", "sneakers", "--data-dir", data, "-k", "3"}, dir);
  ASSERT_EQ(search.exit_code, 0) << search.err;
  EXPECT_NE(search.out.find("synonym: sneaker -> shoe"), std::string::npos) << search.out;
  EXPECT_NE(search.out.find("Running Shoes"), std::string::npos) << search.out;

  RunResult rebuilt = run_aisle({"index", "--data-dir", data}, dir);
  EXPECT_EQ(rebuilt.exit_code, 0) << rebuilt.err;
  EXPECT_NE(rebuilt.out.find("settings changed, index rebuilt: fields.title"), std::string::npos) << rebuilt.out;
  EXPECT_NE(rebuilt.out.find("index built"), std::string::npos) << rebuilt.out;
  RunResult applied = run_aisle({"config", "check", "--data-dir", data}, dir);
  EXPECT_NE(applied.out.find("index: built with these settings"), std::string::npos) << applied.out;
  // A second index run changes nothing.
  EXPECT_NE(run_aisle({"index", "--data-dir", data}, dir).out.find("index updated"), std::string::npos);

  // Errors name the file, the line and the key; searches refuse to run on a file in error.
  dir.write("data/aisle.toml", "[fields]\ntitle = 5\nheadline = 2\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"config", "check", "--data-dir", data}, {"search", "shoes", "--data-dir", data}}) {
    RunResult bad = run_aisle(args, dir);
    EXPECT_EQ(bad.exit_code, 2) << args[0];
    EXPECT_NE(bad.err.find("aisle.toml:3:fields.headline: unknown field"), std::string::npos) << bad.err;
  }
  dir.write("data/aisle.toml", "default_strategy = \"vector\"\n");
  RunResult unrunnable = run_aisle({"config", "check", "--data-dir", data}, dir);
  EXPECT_NE(unrunnable.exit_code, 0);
  EXPECT_NE(unrunnable.err.find("default_strategy vector"), std::string::npos) << unrunnable.err;
}

std::int64_t count_rows(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

std::string integrity(const std::string& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr);
  std::string result;
  if (sqlite3_step(stmt) == SQLITE_ROW) result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

// The child ingests a large catalog in small batches and prints a line after each commit. The
// parent kills it with SIGKILL after a few commits, then checks that every batch reported as
// committed is in the store, that the store is intact, and that a re-run completes the ingest
// without duplicating anything.
TEST(CrashSafetyTest, KillNineMidIngestLosesNoCommittedBatch) {
  TempDir dir;
  constexpr int kRows = 200000;
  std::string catalog = (dir / "big.jsonl").string();
  {
    std::ofstream out(catalog);
    for (int i = 0; i < kRows; ++i) {
      out << "{\"id\": \"P" << i << "\", \"title\": \"product number " << i
          << " with a title long enough to make real work\", \"brand\": \"B" << (i % 97)
          << "\", \"price\": " << (i % 500) << ".5}\n";
    }
  }
  std::string data = (dir / "data").string();
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDERR_FILENO);
    execl(AISLE_BINARY, AISLE_BINARY, "--progress", "never", "ingest", "--data-dir", data.c_str(),
          "--catalog", catalog.c_str(), "--batch-size", "500", "--print-commits", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipe_fds[1]);
  FILE* from_child = fdopen(pipe_fds[0], "r");
  ASSERT_NE(from_child, nullptr);
  std::regex committed(R"(committed .* batch (\d+): \d+ rows, (\d+) in all)");
  std::int64_t reported_rows = 0;
  int reported_batches = 0;
  char line[4096];
  while (reported_batches < 5 && std::fgets(line, sizeof line, from_child) != nullptr) {
    std::cmatch match;
    if (std::regex_search(line, match, committed)) {
      ++reported_batches;
      reported_rows = std::stoll(match[2].str());
    }
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  fclose(from_child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child finished before the kill";
  ASSERT_EQ(reported_batches, 5);

  std::string db = data + "/aisle.db";
  EXPECT_EQ(integrity(db), "ok");
  std::int64_t stored = count_rows(db, "SELECT count(*) FROM products");
  EXPECT_GE(stored, reported_rows) << "a batch reported as committed was lost";
  EXPECT_LT(stored, kRows) << "the kill came too late to test anything";
  EXPECT_EQ(stored % 500, 0) << "a batch was stored in part";
  EXPECT_EQ(count_rows(db, "SELECT rows_committed FROM ingest_runs ORDER BY run_id DESC LIMIT 1"), stored);
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM ingest_runs WHERE state = 'running'"), 1);

  RunResult rerun = run_aisle({"ingest", "--data-dir", data, "--catalog", catalog, "--batch-size", "5000"}, dir);
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(count_rows(db, "SELECT count(*) FROM products"), kRows);
  EXPECT_EQ(count_rows(db, "SELECT max(product_id) FROM products"), kRows);  // ids kept, none reissued
  EXPECT_EQ(integrity(db), "ok");
}

// A ring of 40 entities with chords, its copy under other ids (right = left + 100), names on
// both sides: `aisle align` trains on 12 seeds and writes candidates for the other 28.
TEST(CliTest, AlignsTwoGraphsAndEvaluatesAlignmentAndMatching) {
  TempDir dir;
  std::filesystem::create_directories(dir / "kg");
  std::string ent1, ent2, triples1, triples2, names, seeds, test;
  for (int i = 0; i < 40; ++i) {
    ent1 += std::to_string(i) + "\thttp://left/" + std::to_string(i) + "\n";
    ent2 += std::to_string(100 + i) + "\thttp://right/" + std::to_string(i) + "\n";
    for (int step : {1, 7}) {
      const int j = (i + step) % 40;
      triples1 += std::to_string(i) + "\t" + std::to_string(step) + "\t" + std::to_string(j) + "\n";
      triples2 += std::to_string(100 + i) + "\t" + std::to_string(50 + step) + "\t" + std::to_string(100 + j) + "\n";
    }
    const std::string name = "entity number " + std::to_string(i * 37 % 101);
    names += std::to_string(i) + "\t" + name + "\n" + std::to_string(100 + i) + "\t" + name + "\n";
    (i < 12 ? seeds : test) += std::to_string(i) + "\t" + std::to_string(100 + i) + "\n";
  }
  dir.write("kg/ent_ids_1", ent1);
  dir.write("kg/ent_ids_2", ent2);
  dir.write("kg/triples_1", triples1);
  dir.write("kg/triples_2", triples2);
  dir.write("kg/names_en", names);
  dir.write("kg/train_links", seeds);
  dir.write("kg/test_links", test);
  const std::string kg = (dir / "kg").string(), pairs = (dir / "pairs.tsv").string();
  const std::vector<std::string> small = {"--dim", "16", "--cap", "4", "--epochs", "5", "--bootstrap-rounds", "0", "--validation-fraction", "0.5",
                                          "--hard-negatives", "3", "--batch-size", "8"};
  std::vector<std::string> args = {"--threads", "1", "align", "--left", kg, "--right", kg, "--seed-links", kg + "/train_links",
                                   "--out", pairs, "-k", "2"};
  args.insert(args.end(), small.begin(), small.end());
  RunResult align = run_aisle(args, dir);
  ASSERT_EQ(align.exit_code, 0) << align.err;
  std::ifstream in(pairs);
  std::string header, line;
  std::getline(in, header);
  EXPECT_EQ(header, "left\tright\tscore\tabove_threshold");
  int rows = 0, correct = 0;
  std::string previous_left;
  while (std::getline(in, line)) {
    ++rows;
    const std::string left = line.substr(0, line.find('\t'));
    const std::string right = line.substr(line.find('\t') + 1, line.find('\t', line.find('\t') + 1) - line.find('\t') - 1);
    if (left != previous_left) correct += std::stoi(right) == 100 + std::stoi(left) ? 1 : 0;  // first candidate
    previous_left = left;
  }
  EXPECT_EQ(rows, 28 * 2);
  EXPECT_GE(correct, 25) << "first candidates right: " << correct;  // unique names nearly settle it

  // A link to an entity neither graph has: exit 2, the file, line and side named.
  dir.write("kg/bad_links", "0\t100\n1\t999\n");
  args[args.size() - small.size() - 5] = kg + "/bad_links";
  RunResult bad = run_aisle(args, dir);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad_links:2:right"), std::string::npos) << bad.err;

  std::vector<std::string> eval = {"--threads", "1", "eval", "align", "--train", kg + "/train_links", "--test",
                                   kg + "/test_links", "--methods", "full,no_cross_attention,no_names", "--out",
                                   (dir / "align.json").string()};
  eval.insert(eval.end(), small.begin(), small.end());
  RunResult evaluated = run_aisle(eval, dir);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  std::ifstream report_file(dir / "align.json");
  nlohmann::json report = nlohmann::json::parse(report_file);
  EXPECT_EQ(report["task"], "align");
  for (const char* metric : {"hits@1", "hits@10", "mrr", "pr_auc", "sinkhorn_hits@1", "train_seconds"}) {
    EXPECT_TRUE(report["metrics"].contains(metric)) << metric;
  }
  EXPECT_GE(report["metrics"]["hits@10"].get<double>(), report["metrics"]["hits@1"].get<double>());
  EXPECT_TRUE(report["baselines"].contains("no_cross_attention"));
  EXPECT_TRUE(report["baselines"].contains("no_names"));
  EXPECT_EQ(report["config"]["test_links"], 28);

  // Record matching: the model number decides; serialized pairs.
  std::string train, dev, test_pairs;
  for (int i = 0; i < 120; ++i) {
    const bool match = i % 2 == 0;
    const std::string code = "x" + std::to_string(1000 + i);
    const std::string other = match ? code : "x" + std::to_string(5000 + i);
    const std::string pair = "COL title VAL acme widget " + code + " COL price VAL " + std::to_string(10 + i % 7) +
                             "\tCOL title VAL widget by acme " + other + " COL price VAL \t" + (match ? "1" : "0") + "\n";
    (i < 80 ? train : i < 100 ? dev : test_pairs) += pair;
  }
  dir.write("train.txt", train);
  dir.write("dev.txt", dev);
  dir.write("test.txt", test_pairs);
  RunResult match = run_aisle({"--threads", "1", "eval", "match", "--train", (dir / "train.txt").string(), "--dev",
                               (dir / "dev.txt").string(), "--test", (dir / "test.txt").string(), "--epochs", "4", "--dim",
                               "16", "--hidden", "16", "--out", (dir / "match.json").string()},
                              dir);
  ASSERT_EQ(match.exit_code, 0) << match.err;
  std::ifstream match_file(dir / "match.json");
  nlohmann::json match_report = nlohmann::json::parse(match_file);
  EXPECT_EQ(match_report["task"], "match");
  EXPECT_GT(match_report["metrics"]["f1"].get<double>(), 0.8);
  EXPECT_TRUE(match_report["baselines"].contains("jaccard"));

  dir.write("broken.txt", "COL title VAL a\tCOL title VAL b\tmaybe\n");
  RunResult broken = run_aisle({"eval", "match", "--train", (dir / "broken.txt").string(), "--dev", (dir / "dev.txt").string(),
                                "--test", (dir / "test.txt").string(), "--out", (dir / "x.json").string()},
                               dir);
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("broken.txt:1:label"), std::string::npos) << broken.err;
}

}  // namespace
}  // namespace aisle
