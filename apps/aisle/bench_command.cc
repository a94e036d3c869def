// aisle bench ingest: ingest throughput of one file into a fresh store, repeated, next to the
// throughput of reading the same file without storing it (the readers' share of the cost).
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aisle/core/errors.h"
#include "aisle/store/ingest.h"
#include "aisle/core/files.h"
#include "aisle/eval/lexical_bench.h"
#include "aisle/eval/rank_bench.h"
#include "aisle/eval/vector_bench.h"
#include "aisle/server/bench_serve.h"
#include "commands.h"

namespace aisle::cli {

namespace {

struct BenchArgs {
  std::string file;
  std::string kind = "catalog";
  std::string format = "auto";
  std::string work_dir;
  std::string out;
  int repeat = 3;
  std::size_t batch_size = store::IngestOptions().batch_size;
};

Result<io::RecordKind> parse_kind(const std::string& kind) {
  if (kind == "catalog") return io::RecordKind::kProducts;
  if (kind == "judgments") return io::RecordKind::kJudgments;
  if (kind == "events") return io::RecordKind::kEvents;
  return Status::bad_input(errors::expected_found("catalog, judgments or events", errors::quote(kind)),
                           {"", 0, "kind"});
}

template <typename Record>
Result<std::int64_t> count_records(Result<std::unique_ptr<io::RecordReader<Record>>> reader) {
  AISLE_RETURN_IF_ERROR(reader);
  Record record;
  std::int64_t rows = 0;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool found, (*reader)->next(&record));
    if (!found) return rows;
    ++rows;
  }
}

// Reads every record of `file` without storing them; returns the row count.
Result<std::int64_t> read_only(const std::string& file, const io::ReaderOptions& options, io::RecordKind kind) {
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(file));
  switch (kind) {
    case io::RecordKind::kProducts: return count_records(io::open_product_reader(std::move(source), options));
    case io::RecordKind::kJudgments: return count_records(io::open_judgment_reader(std::move(source), options));
    case io::RecordKind::kEvents: return count_records(io::open_event_reader(std::move(source), options));
  }
  return Status::internal("unknown record kind");
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

Status run_bench(const Context& context, const BenchArgs& args) {
  if (!std::filesystem::exists(args.file)) {
    return Status::not_found(
        "the benchmark input is missing (evaluation data lives in ../shared/data; see its README)", {args.file});
  }
  AISLE_ASSIGN_OR_RETURN(io::RecordKind kind, parse_kind(args.kind));
  store::IngestOptions options;
  options.kind = kind;
  options.batch_size = args.batch_size;
  AISLE_ASSIGN_OR_RETURN(options.reader.format, io::parse_format(args.format));
  if (options.reader.format == io::Format::kAuto) {
    AISLE_ASSIGN_OR_RETURN(options.reader.format, io::detect_format(args.file, kind, options.reader.text));
  }
  std::filesystem::path work = args.work_dir.empty() ? std::filesystem::temp_directory_path() : std::filesystem::path(args.work_dir);
  work /= fmt::format("aisle-bench-{}", ::getpid());
  std::uint64_t file_bytes = std::filesystem::file_size(args.file);

  std::vector<double> ingest_rates, read_rates;
  std::int64_t rows = 0;
  std::uint64_t db_bytes = 0;
  for (int round = 0; round < args.repeat; ++round) {
    auto start = std::chrono::steady_clock::now();
    AISLE_ASSIGN_OR_RETURN(std::int64_t read_rows, read_only(args.file, options.reader, kind));
    double read_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    read_rates.push_back(static_cast<double>(read_rows) / read_seconds);

    std::filesystem::remove_all(work);
    store::IngestReport report;
    {
      AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(work));
      AISLE_RETURN_IF_ERROR(store::ingest_file(*store, context, args.file, options, &report));
    }
    rows = report.rows_written;
    ingest_rates.push_back(static_cast<double>(report.rows_read) / report.seconds);
    db_bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(work)) db_bytes += entry.file_size();
    std::filesystem::remove_all(work);
    context.logger().info("round {}: ingest {:.0f} rows/s, read only {:.0f} rows/s", round + 1,
                          ingest_rates.back(), read_rates.back());
  }
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  double ingest = median(ingest_rates);
  nlohmann::json report = {
      {"bench", "ingest"},
      {"config", {{"file", args.file}, {"kind", args.kind}, {"format", io::format_name(options.reader.format)},
                  {"batch_size", args.batch_size}, {"repeat", args.repeat}, {"synchronous", "FULL"}, {"journal", "WAL"}}},
      {"results", {{"rows", rows},
                   {"file_bytes", file_bytes},
                   {"ingest_rows_per_s_median", ingest},
                   {"ingest_rows_per_s_min", *std::min_element(ingest_rates.begin(), ingest_rates.end())},
                   {"ingest_rows_per_s_max", *std::max_element(ingest_rates.begin(), ingest_rates.end())},
                   {"ingest_mb_per_s_median", ingest * static_cast<double>(file_bytes) / static_cast<double>(std::max<std::int64_t>(rows, 1)) / 1e6},
                   {"read_only_rows_per_s_median", median(read_rates)},
                   {"store_bytes", db_bytes},
                   {"peak_rss_mb", static_cast<double>(usage.ru_maxrss) / 1024.0}}},
      {"peers", nlohmann::json::object()}};
  std::string text = report.dump(2);
  fmt::print("{}\n", text);
  if (!args.out.empty()) {
    std::ofstream out(args.out);
    out << text << '\n';
    if (!out) return Status::io_error("cannot write the report", {args.out});
  }
  return Status::ok();
}

}  // namespace

Command add_bench(CLI::App& app) {
  CLI::App* ingest = app.add_subcommand("ingest", "Ingest throughput of one file (fresh store per round)");
  app.require_subcommand(1);
  auto args = std::make_shared<BenchArgs>();
  ingest->add_option("--file", args->file, "Input file")->required();
  ingest->add_option("--kind", args->kind, "catalog, judgments or events")->capture_default_str();
  ingest->add_option("--format", args->format, "Input layout (see aisle ingest)")->capture_default_str();
  ingest->add_option("--repeat", args->repeat, "Rounds")->capture_default_str()->check(CLI::Range(1, 100));
  ingest->add_option("--batch-size", args->batch_size, "Rows per transaction")->capture_default_str();
  ingest->add_option("--work-dir", args->work_dir, "Where the temporary stores go (default: the temp dir)");
  ingest->add_option("--out", args->out, "Write the JSON report here too");

  CLI::App* lexical = app.add_subcommand("lexical", "Lexical index at scale vs Xapian: build rate, size, RSS, latency");
  auto lexical_args = std::make_shared<eval::LexicalBenchOptions>();
  auto lexical_out = std::make_shared<std::string>();
  lexical->add_option("--source-dir", lexical_args->source_dir, "Home Depot folder (train.csv, dev.csv)")->capture_default_str();
  lexical->add_option("--documents", lexical_args->documents, "Synthetic catalog size")->capture_default_str()
      ->check(CLI::Range(std::int64_t{1000}, std::int64_t{50000000}));
  lexical->add_option("--queries", lexical_args->max_queries, "Queries replayed")->capture_default_str();
  lexical->add_option("--exact-check", lexical_args->exact_check_queries, "Queries checked against the exhaustive scorer")
      ->capture_default_str();
  lexical->add_option("--dump", lexical_args->dump_dir, "Also write catalog.jsonl and queries.jsonl here");
  lexical->add_flag("!--no-xapian", lexical_args->xapian, "Skip the Xapian peer");
  lexical->add_option("--work-dir", lexical_args->work_dir, "Where Xapian's database goes (default: the temp dir)");
  lexical->add_option("--out", *lexical_out, "Write the JSON report here too");

  CLI::App* vectors = app.add_subcommand(
      "vector", "Vector strategy at scale: encoder throughput, HNSW build, recall@10 vs exact and QPS per ef (+ SVG)");
  auto vector_args = std::make_shared<eval::VectorBenchOptions>();
  auto vector_encoder = std::make_shared<EncoderArgs>();
  vectors->add_option("--source-dir", vector_args->source_dir, "Home Depot folder (train.csv, dev.csv)")->capture_default_str();
  vectors->add_option("--vectors", vector_args->vectors, "Synthetic products encoded and indexed")->capture_default_str()
      ->check(CLI::Range(std::int64_t{1000}, std::int64_t{50000000}));
  vectors->add_option("--queries", vector_args->queries, "Queries measured")->capture_default_str();
  vectors->add_option("--ef", vector_args->ef, "HNSW beam widths measured")->capture_default_str();
  vectors->add_option("--m", vector_args->hnsw_m, "HNSW links per node")->capture_default_str();
  vectors->add_option("--ef-construction", vector_args->hnsw_ef_construction, "HNSW build beam width")->capture_default_str();
  add_encoder_options(vectors, vector_encoder.get());
  vector_encoder->training.epochs = 1;
  vectors->add_option("--out", *lexical_out, "Write the JSON report here (the SVG goes next to it)");

  CLI::App* ranking = app.add_subcommand(
      "rank", "Ranking latency (features + LambdaMART) for 100, 200 and 1,000 candidates, single thread");
  auto rank_args = std::make_shared<eval::RankBenchOptions>();
  ranking->add_option("--source-dir", rank_args->source_dir, "Home Depot folder (train.csv, dev.csv)")->capture_default_str();
  ranking->add_option("--candidates", rank_args->candidates, "Candidate counts measured")->capture_default_str();
  ranking->add_option("--queries", rank_args->queries, "Queries measured per count")->capture_default_str();
  ranking->add_option("--rounds", rank_args->rounds, "Boosting rounds of the model")->capture_default_str();
  ranking->add_option("--out", *lexical_out, "Write the JSON report here");

  CLI::App* serving = app.add_subcommand(
      "serve", "The HTTP server under load over loopback: QPS and p50/p99 latency of GET /search (or /suggest) at 1 and 2 cores");
  auto serve_args = std::make_shared<server::ServeBenchOptions>();
  serving->add_option("--data-dir", serve_args->data_dir, "Data directory to serve")->required();
  serving->add_option("--queries", serve_args->queries,
                     "Query mix, one a line or JSON lines with \"query\" (default: the store's judged queries)");
  serving->add_option("--locale", serve_args->locale, "Locale of the queries")->capture_default_str();
  serving->add_option("--route", serve_args->route,
                      "search, or suggest (prefixes of the mix's queries, as typed keystroke by keystroke)")
      ->capture_default_str()->check(CLI::IsMember({"search", "suggest"}));
  serving->add_option("--strategy", serve_args->strategy,
                      "Strategies to run instead of the default pipeline (e.g. lexical: lexical + rank)");
  serving->add_flag("--no-highlight", [serve_args](std::int64_t) { serve_args->highlight = false; },
                    "Searches without highlighting");
  serving->add_option("-k,--k", serve_args->k, "Results per search (suggestions per kind with --route suggest)")->capture_default_str();
  serving->add_option("--depth", serve_args->depth, "Candidates per strategy, with --strategy")->capture_default_str();
  serving->add_option("--clients", serve_args->clients, "Concurrent keep-alive clients")->capture_default_str();
  serving->add_option("--seconds", serve_args->seconds, "Measured seconds per run")->capture_default_str();
  serving->add_option("--cores", serve_args->cores, "Cores the server is pinned to, one run each")->capture_default_str();
  serving->add_option("--out", *lexical_out, "Write the JSON report here");

  return [args, ingest, lexical, lexical_args, lexical_out, vectors, vector_args, vector_encoder, ranking, rank_args, serving,
          serve_args](const Context& context) -> Status {
    if (ingest->parsed()) return run_bench(context, *args);
    nlohmann::json report;
    if (serving->parsed()) {
      AISLE_ASSIGN_OR_RETURN(report, server::run_serve_bench(context, *serve_args));
    } else if (ranking->parsed()) {
      AISLE_ASSIGN_OR_RETURN(report, eval::run_rank_bench(context, *rank_args));
    } else if (vectors->parsed()) {
      AISLE_RETURN_IF_ERROR(vector_encoder->resolve());
      vector_args->encoder = vector_encoder->config;
      vector_args->epochs = vector_encoder->training.epochs;
      vector_args->seed = context.seed();
      if (!lexical_out->empty()) vector_args->svg = std::filesystem::path(*lexical_out).replace_extension(".svg");
      AISLE_ASSIGN_OR_RETURN(report, eval::run_vector_bench(context, *vector_args));
    } else {
      lexical_args->seed = context.seed();
      AISLE_ASSIGN_OR_RETURN(report, eval::run_lexical_bench(context, *lexical_args));
    }
    std::string text = report.dump(2);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    if (!lexical_out->empty()) AISLE_RETURN_IF_ERROR(write_file_atomically(*lexical_out, text + "\n"));
    return Status::ok();
  };
}

}  // namespace aisle::cli
