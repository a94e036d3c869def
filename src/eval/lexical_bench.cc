#include "aisle/eval/lexical_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/peers/xapian_bm25.h"
#include "aisle/text/inverted_index.h"
#include "synthetic_catalog.h"
#include "work_dir.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

Status dump(const std::filesystem::path& dir, CatalogModel model, std::int64_t documents,
            const std::vector<std::string>& queries) {
  std::filesystem::create_directories(dir);
  std::ofstream catalog(dir / "catalog.jsonl");
  for (std::int64_t i = 0; i < documents; ++i) {
    text::Document d = model.next(static_cast<std::uint32_t>(i));
    nlohmann::json row = {{"id", d.external_id}, {"locale", d.locale}, {"title", d.title}, {"brand", d.brand},
                          {"category", d.category}, {"price", *d.price}, {"popularity", *d.popularity}};
    if (!d.color.empty()) row["color"] = d.color;
    catalog << row.dump() << '\n';
  }
  std::ofstream query_file(dir / "queries.jsonl");
  for (const std::string& query : queries) query_file << nlohmann::json{{"query", query}}.dump() << '\n';
  if (!catalog || !query_file) return Status::io_error("cannot write the benchmark dump to " + dir.string());
  return Status::ok();
}

}  // namespace

Result<nlohmann::json> run_lexical_bench(const Context& context, const LexicalBenchOptions& options) {
  CatalogModel model;
  std::vector<std::string> queries;
  std::unordered_set<std::string> seen_queries;
  AISLE_RETURN_IF_ERROR(read_source(options.source_dir / "train.csv", &model, &queries, &seen_queries));
  AISLE_RETURN_IF_ERROR(read_source(options.source_dir / "dev.csv", nullptr, &queries, &seen_queries));
  model.finish(options.seed);
  std::mt19937_64 shuffle(options.seed + 1);
  std::shuffle(queries.begin(), queries.end(), shuffle);
  if (queries.size() > static_cast<std::size_t>(options.max_queries)) queries.resize(static_cast<std::size_t>(options.max_queries));
  if (!options.dump_dir.empty()) AISLE_RETURN_IF_ERROR(dump(options.dump_dir, model, options.documents, queries));

  nlohmann::json report;
  report["bench"] = "lexical";
  report["config"] = {{"documents", options.documents}, {"seed", options.seed}, {"queries", queries.size()},
                      {"source", options.source_dir.string()}, {"vocabulary_source_tokens", model.vocabulary()},
                      {"threads", 1}, {"typo_tolerance_in_headline", false}};

  // Aisle: build in batches as an indexer would, then merge to one segment.
  const std::int64_t batch_size = 100000;
  text::IndexOptions index_options;
  index_options.max_segments = 64;
  auto index = text::InvertedIndex::create(index_options);
  CatalogModel generator = model;
  double build_seconds = 0;
  for (std::int64_t done = 0; done < options.documents;) {
    std::vector<text::Document> batch;
    for (; done < options.documents && static_cast<std::int64_t>(batch.size()) < batch_size; ++done) {
      batch.push_back(generator.next(static_cast<std::uint32_t>(done)));
    }
    auto start = Clock::now();
    AISLE_RETURN_IF_ERROR(index->upsert(batch, context));
    build_seconds += seconds_since(start);
    context.logger().info("aisle: indexed {} of {} documents", done, options.documents);
  }
  auto merge_start = Clock::now();
  index->compact();
  build_seconds += seconds_since(merge_start);
  const text::IndexStats stats = index->stats();

  Latency top10, top100, top10_typos;
  int exact_equal = 0, exact_checked = 0;
  text::SearchOptions search;
  search.typo.enabled = false;
  for (const std::string& query : queries) (void)index->search(query, search);  // warm-up
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (int k : {10, 100}) {
      search.k = k;
      search.algorithm = text::TopKAlgorithm::kBlockMaxWand;
      auto start = Clock::now();
      AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(queries[i], search));
      (k == 10 ? top10 : top100).samples_ms.push_back(1000 * seconds_since(start));
      if (static_cast<int>(i) < options.exact_check_queries) {
        search.algorithm = text::TopKAlgorithm::kExhaustive;
        AISLE_ASSIGN_OR_RETURN(text::SearchResult exact, index->search(queries[i], search));
        bool same = exact.hits.size() == result.hits.size();
        for (std::size_t h = 0; same && h < exact.hits.size(); ++h) {
          same = exact.hits[h].product == result.hits[h].product && exact.hits[h].score == result.hits[h].score;
        }
        exact_equal += same ? 1 : 0;
        ++exact_checked;
      }
    }
    text::SearchOptions typos;
    typos.k = 10;
    auto start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(queries[i], typos));
    top10_typos.samples_ms.push_back(1000 * seconds_since(start));
  }
  report["results"] = {{"documents", stats.documents},
                       {"build_seconds", build_seconds},
                       {"build_documents_per_second", static_cast<double>(options.documents) / build_seconds},
                       {"index_bytes", stats.total_bytes},
                       {"postings", stats.postings},
                       {"terms", stats.terms},
                       {"peak_rss_mb", peak_rss_mb()},
                       {"top10", top10.report()},
                       {"top100", top100.report()},
                       {"top10_with_typo_tolerance", top10_typos.report()},
                       {"exact_topk_equal", std::to_string(exact_equal) + "/" + std::to_string(exact_checked)}};
  index.reset();

  if (options.xapian) {
    WorkDir work_dir(options.work_dir, "aisle-bench");
    AISLE_ASSIGN_OR_RETURN(auto analyzer, text::Analyzer::create("en"));
    AISLE_ASSIGN_OR_RETURN(auto xapian, peers::XapianBm25::create(work_dir.path() / "xapian"));
    CatalogModel again = model;
    double analysis_seconds = 0, xapian_build_seconds = 0;
    std::vector<std::string> terms;
    for (std::int64_t i = 0; i < options.documents; ++i) {
      text::Document d = again.next(static_cast<std::uint32_t>(i));
      auto start = Clock::now();
      terms.clear();
      for (const std::string* field : {&d.title, &d.brand, &d.color}) {
        for (std::string& term : analyzer->terms(*field)) terms.push_back(std::move(term));
      }
      for (const std::string& level : d.category) {
        for (std::string& term : analyzer->terms(level)) terms.push_back(std::move(term));
      }
      analysis_seconds += seconds_since(start);
      start = Clock::now();
      AISLE_RETURN_IF_ERROR(xapian->add_terms(terms));
      xapian_build_seconds += seconds_since(start);
      if ((i + 1) % 200000 == 0) context.logger().info("xapian: indexed {} of {} documents", i + 1, options.documents);
    }
    auto start = Clock::now();
    AISLE_RETURN_IF_ERROR(xapian->commit());
    xapian_build_seconds += seconds_since(start);
    std::vector<std::vector<std::string>> analyzed;
    for (const std::string& query : queries) analyzed.push_back(analyzer->terms(query));
    Latency x10, x100;
    for (const auto& query : analyzed) (void)xapian->search_terms(query, 10);  // warm-up
    for (const auto& query : analyzed) {
      for (int k : {10, 100}) {
        auto begin = Clock::now();
        AISLE_ASSIGN_OR_RETURN(auto hits, xapian->search_terms(query, k));
        (k == 10 ? x10 : x100).samples_ms.push_back(1000 * seconds_since(begin));
      }
    }
    report["peers"]["xapian"] = {{"build_seconds_terms_given", xapian_build_seconds},
                                 {"build_documents_per_second_terms_given",
                                  static_cast<double>(options.documents) / xapian_build_seconds},
                                 {"aisle_analysis_seconds_for_these_documents", analysis_seconds},
                                 {"disk_bytes", xapian->disk_bytes()},
                                 {"top10", x10.report()},
                                 {"top100", x100.report()},
                                 {"note", "queries analyzed by Aisle before timing (Aisle's latencies include analysis)"}};
    const double aisle10 = report["results"]["top10"]["mean_ms"].get<double>();
    const double xapian10 = report["peers"]["xapian"]["top10"]["mean_ms"].get<double>();
    report["results"]["top10_mean_vs_xapian"] = xapian10 > 0 ? aisle10 / xapian10 : 0.0;
  }
  return report;
}

}  // namespace aisle::eval
