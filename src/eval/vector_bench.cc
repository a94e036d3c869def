#include "aisle/eval/vector_bench.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "aisle/core/files.h"
#include "aisle/vector/vector_index.h"
#include "judgment_corpus.h"
#include "synthetic_catalog.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Recall (x) against single-thread queries per second (y, log scale), one point per ef.
std::string recall_qps_svg(const nlohmann::json& points, std::int64_t vectors) {
  const double width = 640, height = 420, left = 70, right = 20, top = 40, bottom = 50;
  double min_recall = 1, max_qps = 1, min_qps = 1e12;
  for (const auto& point : points) {
    min_recall = std::min(min_recall, point["recall@10"].get<double>());
    max_qps = std::max(max_qps, point["qps"].get<double>());
    min_qps = std::min(min_qps, point["qps"].get<double>());
  }
  const double x0 = std::max(0.0, std::floor(min_recall * 20 - 1) / 20), x1 = 1.0;
  const double y0 = std::log10(std::max(1.0, min_qps / 2)), y1 = std::log10(max_qps * 2);
  auto x = [&](double recall) { return left + (recall - x0) / (x1 - x0) * (width - left - right); };
  auto y = [&](double qps) { return top + (y1 - std::log10(qps)) / (y1 - y0) * (height - top - bottom); };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"14\">HNSW on {} vectors: recall@10 vs single-thread queries/s</text>\n",
      width, height, left, vectors);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", left, height - bottom, width - right);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", left, top, height - bottom);
  for (double r = x0; r <= x1 + 1e-9; r += 0.05) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:.2f}</text>\n", x(r), height - bottom + 18, r);
  }
  for (double decade = std::ceil(y0); decade <= y1; decade += 1) {
    double qps = std::pow(10.0, decade);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.0f}</text>\n", left - 6, y(qps) + 4, qps);
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left, y(qps),
                       width - right, y(qps));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">recall@10 vs exact</text>\n", (left + width) / 2,
                     height - 12);
  svg += fmt::format("<text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\">queries/s "
                     "(log)</text>\n",
                     (top + height) / 2, (top + height) / 2);
  std::string path;
  for (const auto& point : points) {
    double px = x(point["recall@10"].get<double>()), py = y(point["qps"].get<double>());
    path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "" : " ", px, py);
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"#1f77b4\"/>\n", px, py);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">ef={}</text>\n", px + 6, py - 6, point["ef"].get<int>());
  }
  svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n", path);
  svg += "</svg>\n";
  return svg;
}

}  // namespace

Result<nlohmann::json> run_vector_bench(const Context& context, const VectorBenchOptions& options) {
  // The encoder, trained on Home Depot train judgments.
  Corpus corpus;
  std::map<std::string, TestQuery> train_queries, dev_queries;
  AISLE_RETURN_IF_ERROR(read_judgments(options.source_dir / "train.csv", "en", &corpus, &train_queries));
  AISLE_RETURN_IF_ERROR(read_judgments(options.source_dir / "dev.csv", "en", &corpus, &dev_queries));
  AISLE_ASSIGN_OR_RETURN(auto encoder, models::TextEncoder::create(options.encoder, context));
  models::TrainOptions training;
  training.epochs = options.epochs;
  AISLE_ASSIGN_OR_RETURN(models::TrainReport train_report,
                         encoder->train(training_set(corpus, train_queries, "en"), training, context));

  // Encoder throughput on real queries, one thread.
  std::vector<std::string> queries;
  for (const auto& [text, query] : dev_queries) queries.push_back(text);
  for (const auto& [text, query] : train_queries) {
    if (static_cast<int>(queries.size()) >= std::max(options.queries, 2000)) break;
    queries.push_back(text);
  }
  models::TextEncoder::set_threads(1);
  auto start = Clock::now();
  for (const std::string& query : queries) {
    AISLE_ASSIGN_OR_RETURN(auto v, encoder->encode_queries(std::span<const std::string>(&query, 1), "en"));
  }
  const double batch1_qps = static_cast<double>(queries.size()) / seconds_since(start);
  start = Clock::now();
  for (std::size_t begin = 0; begin < queries.size(); begin += 64) {
    std::span<const std::string> batch(queries.data() + begin, std::min<std::size_t>(64, queries.size() - begin));
    AISLE_ASSIGN_OR_RETURN(auto v, encoder->encode_queries(batch, "en"));
  }
  const double batch64_qps = static_cast<double>(queries.size()) / seconds_since(start);
  models::TextEncoder::set_threads(context.num_threads());

  // The synthetic catalog, encoded with every thread.
  CatalogModel model;
  std::vector<std::string> unused_queries;
  std::unordered_set<std::string> seen;
  AISLE_RETURN_IF_ERROR(read_source(options.source_dir / "train.csv", &model, &unused_queries, &seen));
  model.finish(options.seed);
  const std::size_t dim = static_cast<std::size_t>(encoder->dim());
  std::vector<float> vectors;
  vectors.reserve(static_cast<std::size_t>(options.vectors) * dim);
  start = Clock::now();
  constexpr std::int64_t kChunk = 8192;
  std::vector<text::Document> documents;
  for (std::int64_t begin = 0; begin < options.vectors; begin += kChunk) {
    documents.clear();
    for (std::int64_t i = begin; i < std::min(options.vectors, begin + kChunk); ++i) {
      documents.push_back(model.next(static_cast<std::uint32_t>(i)));
    }
    AISLE_ASSIGN_OR_RETURN(auto chunk, encoder->encode_products(documents));
    vectors.insert(vectors.end(), chunk.begin(), chunk.end());
  }
  const double encode_seconds = seconds_since(start);
  const double rss_before_index = peak_rss_mb();

  // HNSW with every thread, then the exact twin.
  vector::VectorIndexOptions index_options;
  index_options.dim = encoder->dim();
  index_options.hnsw_m = options.hnsw_m;
  index_options.hnsw_ef_construction = options.hnsw_ef_construction;
  index_options.seed = options.seed;
  AISLE_ASSIGN_OR_RETURN(auto hnsw, vector::VectorIndex::create(index_options));
  std::vector<vector::VectorItem> items;
  items.reserve(static_cast<std::size_t>(options.vectors));
  for (std::int64_t i = 0; i < options.vectors; ++i) {
    items.push_back(vector::VectorItem{ProductId(static_cast<std::uint32_t>(i)), "en", "",
                                       std::span<const float>(vectors.data() + static_cast<std::size_t>(i) * dim, dim)});
  }
  start = Clock::now();
  AISLE_RETURN_IF_ERROR(hnsw->add(items, context));
  const double build_seconds = seconds_since(start);
  const double rss_after_index = peak_rss_mb();
  const vector::VectorIndexStats hnsw_stats = hnsw->stats();
  index_options.kind = vector::IndexKind::kExact;
  AISLE_ASSIGN_OR_RETURN(auto exact, vector::VectorIndex::create(index_options));
  AISLE_RETURN_IF_ERROR(exact->add(items, context));
  items.clear();
  items.shrink_to_fit();

  // Query vectors: real queries, encoded.
  std::vector<std::string> bench_queries(queries.begin(), queries.begin() + std::min<std::size_t>(queries.size(), options.queries));
  AISLE_ASSIGN_OR_RETURN(std::vector<float> query_vectors, encoder->encode_queries(bench_queries, "en"));
  const std::size_t n = bench_queries.size();
  std::vector<std::vector<vector::Neighbor>> truth(n);
  vector::VectorSearchOptions search;
  search.k = 10;
  start = Clock::now();
  for (std::size_t q = 0; q < n; ++q) {
    AISLE_ASSIGN_OR_RETURN(truth[q], exact->search(std::span<const float>(query_vectors.data() + q * dim, dim), search));
  }
  const double exact_qps = static_cast<double>(n) / seconds_since(start);

  nlohmann::json curve = nlohmann::json::array();
  for (int ef : options.ef) {
    search.ef = ef;
    std::vector<std::vector<vector::Neighbor>> found(n);
    start = Clock::now();
    for (std::size_t q = 0; q < n; ++q) {
      AISLE_ASSIGN_OR_RETURN(found[q], hnsw->search(std::span<const float>(query_vectors.data() + q * dim, dim), search));
    }
    const double qps = static_cast<double>(n) / seconds_since(start);
    double recall = 0;
    for (std::size_t q = 0; q < n; ++q) {
      std::set<std::uint32_t> expected;
      for (const auto& hit : truth[q]) expected.insert(hit.product.value());
      int hits = 0;
      for (const auto& hit : found[q]) hits += expected.count(hit.product.value()) ? 1 : 0;
      recall += expected.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(expected.size());
    }
    curve.push_back({{"ef", ef}, {"recall@10", recall / static_cast<double>(n)}, {"qps", qps}, {"mean_ms", 1000.0 / qps}});
  }
  if (!options.svg.empty()) AISLE_RETURN_IF_ERROR(write_file_atomically(options.svg, recall_qps_svg(curve, options.vectors)));

  nlohmann::json report;
  report["bench"] = "vector";
  report["config"] = {{"vectors", options.vectors},
                      {"queries", n},
                      {"dim", encoder->dim()},
                      {"encoder", models::config_to_json(options.encoder)},
                      {"encoder_parameters", encoder->parameters()},
                      {"training_epochs", options.epochs},
                      {"hnsw_m", options.hnsw_m},
                      {"hnsw_ef_construction", options.hnsw_ef_construction},
                      {"threads", context.num_threads()},
                      {"seed", options.seed},
                      {"source", options.source_dir.string()}};
  report["results"] = {
      {"train_seconds_per_epoch", train_report.epoch_seconds},
      {"train_pairs", train_report.positives + train_report.hard_negatives},
      {"pseudo_queries_per_epoch", train_report.pseudo_queries_per_epoch},
      {"query_encode_qps_batch1_1thread", batch1_qps},
      {"query_encode_qps_batch64_1thread", batch64_qps},
      {"encode_queries_timed", queries.size()},
      {"product_encode_per_second", static_cast<double>(options.vectors) / encode_seconds},
      {"hnsw_build_seconds", build_seconds},
      {"hnsw_build_vectors_per_second", static_cast<double>(options.vectors) / build_seconds},
      {"hnsw_memory_mb", static_cast<double>(hnsw_stats.memory_bytes) / 1e6},
      {"peak_rss_mb_before_index", rss_before_index},
      {"peak_rss_mb_after_index", rss_after_index},
      {"curve", curve}};
  report["peers"] = {{"exact-scan", {{"qps", exact_qps}, {"recall@10", 1.0}}}};
  return report;
}

}  // namespace aisle::eval
