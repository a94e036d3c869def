#include "commands.h"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "aisle/io/readers.h"
#include "aisle/rank/pipeline.h"
#include "aisle/rank/result_json.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/store/ingest.h"
#include "aisle/store/store.h"

namespace aisle::cli {

namespace {

// Prints a line on stdout at once, so that scripts reading a pipe see it when it happens.

struct IngestArgs {
  std::string data_dir;
  std::vector<std::string> catalogs, judgments, events;
  std::string format = "auto";
  std::string map;
  std::string locale = "en";
  std::string split;
  std::string encoding = "utf-8";
  std::string invalid_utf8 = "error";
  std::size_t max_line_bytes = io::TextOptions().max_line_bytes;
  std::size_t max_field_bytes = io::TextOptions().max_field_bytes;
  std::size_t batch_size = store::IngestOptions().batch_size;
  std::size_t max_errors = 0;
  bool allow_unknown_fields = false;
  bool print_commits = false;
};

Status run_ingest(const Context& context, const IngestArgs& args) {
  if (args.catalogs.empty() && args.judgments.empty() && args.events.empty()) {
    return Status::bad_input("nothing to ingest: give --catalog, --judgments or --events");
  }
  store::IngestOptions options;
  options.batch_size = args.batch_size;
  options.max_errors = args.max_errors;
  io::ReaderOptions& reader = options.reader;
  AISLE_ASSIGN_OR_RETURN(reader.format, io::parse_format(args.format));
  AISLE_ASSIGN_OR_RETURN(reader.text.encoding, io::parse_encoding(args.encoding));
  AISLE_ASSIGN_OR_RETURN(reader.text.invalid_utf8, io::parse_invalid_utf8(args.invalid_utf8));
  reader.text.max_line_bytes = args.max_line_bytes;
  reader.text.max_field_bytes = args.max_field_bytes;
  AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(args.locale));
  reader.default_locale = locale.code();
  reader.default_split = args.split;
  reader.allow_unknown_fields = args.allow_unknown_fields;
  if (!args.map.empty()) {
    AISLE_ASSIGN_OR_RETURN(reader.mapping, io::CsvMapping::parse(args.map));
  }
  if (args.print_commits) {
    options.on_commit = [](const store::BatchCommitted& batch) {
      say("committed {} batch {}: {} rows, {} in all, through line {}", batch.file, batch.batch,
          batch.rows, batch.rows_committed, batch.last_line);
    };
  }
  AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args.data_dir));

  auto ingest_all = [&](const std::vector<std::string>& files, io::RecordKind kind) -> Status {
    for (const std::string& file : files) {
      options.kind = kind;
      store::IngestReport report;
      Status status = store::ingest_file(*store, context, file, options, &report);
      double rate = report.seconds > 0 ? static_cast<double>(report.rows_read) / report.seconds : 0;
      say("{} {} ({}): {} rows stored in {} batch(es), {} bad rows skipped, {:.2f} s ({:.0f} rows/s){}{}",
          io::record_kind_name(kind), file, io::format_name(report.format), report.rows_written,
          report.batches, report.skipped_rows, report.seconds, rate,
          report.duplicate_judgments ? fmt::format(", {} repeated pairs (last kept)", report.duplicate_judgments) : "",
          report.utf8_replacements ? fmt::format(", {} invalid UTF-8 sequences replaced", report.utf8_replacements) : "");
      if (!status.is_ok()) return status;
    }
    return Status::ok();
  };
  AISLE_RETURN_IF_ERROR(ingest_all(args.catalogs, io::RecordKind::kProducts));
  AISLE_RETURN_IF_ERROR(ingest_all(args.judgments, io::RecordKind::kJudgments));
  return ingest_all(args.events, io::RecordKind::kEvents);
}

nlohmann::json stats_json(const store::StoreStats& stats) {
  nlohmann::json runs = nlohmann::json::array();
  for (const store::IngestRun& run : stats.recent_runs) {
    runs.push_back({{"run_id", run.run_id}, {"file", run.file}, {"kind", run.kind},
                    {"format", run.format}, {"state", run.state},
                    {"rows_committed", run.rows_committed}, {"last_line", run.last_line},
                    {"started_ms", run.started_ms}, {"finished_ms", run.finished_ms},
                    {"message", run.message}});
  }
  return {{"products", stats.products},
          {"cross_listed_groups", stats.cross_listed_groups},
          {"queries", stats.queries},
          {"judgments", stats.judgments},
          {"judgments_without_product", stats.judgments_without_product},
          {"events", stats.events},
          {"products_per_locale", stats.products_per_locale},
          {"queries_per_locale", stats.queries_per_locale},
          {"judgments_per_label", stats.judgments_per_label},
          {"judgments_per_split", stats.judgments_per_split},
          {"events_per_type", stats.events_per_type},
          {"recent_runs", runs}};
}

void print_counts(std::string_view title, const std::map<std::string, std::int64_t>& counts) {
  std::string line = fmt::format("  {:<22}", title);
  if (counts.empty()) line += " -";
  for (const auto& [name, count] : counts) line += fmt::format(" {}={}", name.empty() ? "(none)" : name, count);
  say("{}", line);
}

}  // namespace

Command add_ingest(CLI::App& app) {
  auto args = std::make_shared<IngestArgs>();
  app.add_option("--data-dir", args->data_dir, "Data directory (created when missing)")->required();
  app.add_option("--catalog", args->catalogs, "Catalog file(s): JSONL, ESCI products CSV, or CSV with --map");
  app.add_option("--judgments", args->judgments,
                 "Judgment file(s): ESCI examples, Home Depot, CrowdFlower, JSONL, or CSV with --map");
  app.add_option("--events", args->events, "Feedback event file(s), JSONL");
  app.add_option("--format", args->format,
                 "Input layout (auto, catalog-jsonl, catalog-csv, esci-products, esci-examples, "
                 "homedepot, crowdflower, judgments-csv, judgments-jsonl, events-jsonl)")
      ->capture_default_str();
  app.add_option("--map", args->map, "CSV header mapping role=column,... (catalog-csv, judgments-csv)");
  app.add_option("--locale", args->locale, "Locale of rows with no locale column")->capture_default_str();
  app.add_option("--split", args->split, "Split of judgments with no split column (train, dev, test)");
  app.add_option("--encoding", args->encoding, "Input encoding: utf-8 or latin-1")->capture_default_str();
  app.add_option("--invalid-utf8", args->invalid_utf8,
                 "Invalid UTF-8: error (stop at the first), or replace (with U+FFFD, counted)")
      ->capture_default_str();
  app.add_option("--max-line-bytes", args->max_line_bytes, "Longest line or CSV record")->capture_default_str();
  app.add_option("--max-field-bytes", args->max_field_bytes, "Longest field value")->capture_default_str();
  app.add_option("--batch-size", args->batch_size, "Rows per committed transaction")->capture_default_str();
  app.add_option("--max-errors", args->max_errors, "Bad rows to skip (and report) before stopping")
      ->capture_default_str();
  app.add_flag("--allow-unknown-fields", args->allow_unknown_fields, "JSONL: ignore keys the format does not define");
  app.add_flag("--print-commits", args->print_commits, "Print a line on stdout after each committed batch");
  return [args](const Context& context) { return run_ingest(context, *args); };
}

Command add_stats(CLI::App& app) {
  auto data_dir = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  app.add_option("--data-dir", *data_dir, "Data directory")->required();
  app.add_flag("--json", *json, "Print JSON instead of text");
  return [data_dir, json](const Context& context) -> Status {
    store::StoreOptions options;
    options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(*data_dir, options));
    AISLE_ASSIGN_OR_RETURN(store::StoreStats stats, store->stats());
    // The learned layers and why each is on or off (once `aisle index` has built the index).
    nlohmann::json layers;
    if (std::filesystem::exists(retrieve::index_path(*data_dir))) {
      AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(*data_dir, context));
      layers = rank::layers_json(*pipeline);
    }
    if (*json) {
      nlohmann::json out = stats_json(stats);
      if (!layers.is_null()) out["layers"] = layers;
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("products   {} ({} groups cross-listed in several locales)", stats.products, stats.cross_listed_groups);
    print_counts("per locale", stats.products_per_locale);
    say("queries    {}", stats.queries);
    print_counts("per locale", stats.queries_per_locale);
    say("judgments  {} ({} name a product not in the catalog)", stats.judgments, stats.judgments_without_product);
    print_counts("per label", stats.judgments_per_label);
    print_counts("per split", stats.judgments_per_split);
    say("events     {}", stats.events);
    print_counts("per type", stats.events_per_type);
    if (!layers.is_null()) {
      say("learned layers:");
      for (const auto& [name, layer] : layers.items()) say("  {:<10} {}", name, layer["reason"].get<std::string>());
    }
    say("ingest runs (newest first):");
    for (const store::IngestRun& run : stats.recent_runs) {
      std::string state = run.state == "running" ? "interrupted or running" : run.state;
      say("  #{} {} {} ({}): {}, {} rows through line {}{}", run.run_id, run.kind, run.file, run.format,
          state, run.rows_committed, run.last_line, run.state == "failed" ? ": " + run.message : "");
    }
    return Status::ok();
  };
}

Status EncoderArgs::resolve() {
  AISLE_ASSIGN_OR_RETURN(config.architecture, models::parse_architecture(architecture));
  // A transformer sees word order itself; bigram pseudo-tokens would only lengthen its input.
  if (config.architecture == models::Architecture::kTransformer) config.features.word_bigrams = false;
  return Status::ok();
}

void add_encoder_options(CLI::App* app, EncoderArgs* args) {
  app->add_option("--encoder", args->architecture, "Encoder architecture: pooled or transformer")->capture_default_str();
  app->add_option("--dim", args->config.dim, "Output vector size")->capture_default_str()->check(CLI::Range(2, 4096));
  app->add_option("--embedding-dim", args->config.embedding_dim, "Feature embedding size")
      ->capture_default_str()->check(CLI::Range(2, 4096));
  app->add_option("--buckets", args->config.features.buckets, "Hashed feature buckets")->capture_default_str();
  app->add_option("--epochs", args->training.epochs, "Training epochs")->capture_default_str()->check(CLI::Range(0, 1000));
  app->add_option("--batch-size", args->training.batch_size, "Training batch size")->capture_default_str()->check(CLI::Range(2, 65536));
  app->add_option("--learning-rate", args->training.learning_rate, "Adam learning rate")->capture_default_str();
}

void add_classifier_options(CLI::App* app, ClassifierArgs* args) {
  models::ClassifierConfig& c = args->config;
  models::ClassifierTrainOptions& t = args->training;
  app->add_option("--dim", c.encoder.dim, "Encoding size of queries and products")->capture_default_str()->check(CLI::Range(2, 4096));
  app->add_option("--embedding-dim", c.encoder.embedding_dim, "Hashed feature embedding size")
      ->capture_default_str()->check(CLI::Range(2, 4096));
  app->add_option("--buckets", c.encoder.features.buckets, "Hashed feature buckets")->capture_default_str();
  app->add_option("--head-hidden", c.head_hidden, "Classifier width")->capture_default_str()->check(CLI::Range(1, 8192));
  app->add_flag_callback("--hadamard-only", [&c] { c.rich_interaction = false; },
                         "Classifier input q*p only (default: q*p, |q-p|, q, p)");
  app->add_flag_callback("--no-graph", [&c] { c.graph.enabled = false; }, "Leave out the engagement-graph GNN");
  app->add_option("--hop1-cap", c.graph.hop1_cap, "Neighbours of a centre node")->capture_default_str()->check(CLI::Range(1, 1000));
  app->add_option("--hop2-cap", c.graph.hop2_cap, "Neighbours of each neighbour")->capture_default_str()->check(CLI::Range(0, 1000));
  app->add_option("--epochs", t.epochs, "Training epochs on all locales")->capture_default_str()->check(CLI::Range(1, 1000));
  app->add_option("--finetune-epochs", t.finetune_epochs, "Fine-tuning epochs per locale (0: none)")
      ->capture_default_str()->check(CLI::Range(0, 1000));
  app->add_option("--batch-size", t.batch_size, "Training batch size")->capture_default_str()->check(CLI::Range(2, 65536));
  app->add_option("--learning-rate", t.learning_rate, "Adam learning rate")->capture_default_str();
  app->add_flag_callback("--no-alignment", [&t] { t.alignment = false; }, "Leave out the alignment phase");
}

void add_blade_options(CLI::App* app, models::BladeConfig* c, models::BladeTrainOptions* t) {
  app->add_option("--dim", c->dim, "Source and target vector size")->capture_default_str()->check(CLI::Range(2, 4096));
  app->add_option("--beta", c->beta, "Degree bias of neighbour sampling (0: uniform)")->capture_default_str();
  app->add_option("--min-size", c->limits.min_size, "Smallest adaptive neighbourhood")->capture_default_str()->check(CLI::Range(1, 1024));
  app->add_option("--max-size", c->limits.max_size, "Largest adaptive neighbourhood")->capture_default_str()->check(CLI::Range(1, 1024));
  app->add_option("--fixed-size", c->fixed_size, "Neighbourhood size of the non-adaptive methods")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  app->add_flag_callback("--no-direction-loss", [c] { c->direction_loss = false; },
                         "Leave out the reversed one-way edges as negatives");
  app->add_option("--temperature", c->temperature, "Softmax temperature of the scores")->capture_default_str();
  app->add_option("--epochs", t->epochs, "Training epochs")->capture_default_str()->check(CLI::Range(0, 1000));
  app->add_option("--batch-size", t->batch_size, "Edges per batch")->capture_default_str()->check(CLI::Range(2, 1 << 20));
  app->add_option("--negatives", t->negatives, "Random negative nodes per batch")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  app->add_option("--learning-rate", t->learning_rate, "Adam learning rate")->capture_default_str();
  app->add_flag("--logq,!--no-logq", t->logq_correction, "Correct the sampled softmax for how often each target is drawn")
      ->capture_default_str();
}

void add_aligner_options(CLI::App* app, models::AlignerConfig* c, models::AlignerTrainOptions* t) {
  app->add_option("--dim", c->dim, "Vector size of each layer")->capture_default_str()->check(CLI::Range(4, 4096));
  app->add_option("--cap", c->cap, "Sampled neighbours per entity")->capture_default_str()->check(CLI::Range(1, 4096));
  app->add_flag("--inverse-multiplicity,!--uniform-sampling", c->inverse_multiplicity,
                "Sample neighbours with weight 1 / (neighbours sharing the relation), or uniformly")
      ->capture_default_str();
  app->add_flag("--self-attention,!--no-self-attention", c->self_attention, "Attention over relations and neighbours")
      ->capture_default_str();
  app->add_flag("--cross-attention,!--no-cross-attention", c->cross_attention, "Cross-graph attention re-scoring")
      ->capture_default_str();
  app->add_option("--rerank", c->rerank, "Candidates per query the cross-graph attention re-scores")
      ->capture_default_str()->check(CLI::Range(1, 10000));
  app->add_option("--epochs", t->epochs, "Training epochs")->capture_default_str()->check(CLI::Range(0, 10000));
  app->add_option("--batch-size", t->batch_size, "Seed links per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  app->add_option("--learning-rate", t->learning_rate, "Adam learning rate")->capture_default_str();
  app->add_option("--hard-negatives", t->hard_negatives, "Nearest-neighbour negatives per link and side")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  app->add_flag("--all-negatives,!--hard-negatives-only", t->all_negatives,
                "Every entity of the other graph a negative (standardized margins) instead of nearest + random ones")
      ->capture_default_str();
  app->add_option("--scale", t->scale, "Scale of the margins inside the soft maximum")->capture_default_str();
  app->add_option("--margin", t->margin, "Margin of the loss (cosine units)")->capture_default_str();
  app->add_option("--bootstrap-rounds", t->bootstrap_rounds, "Self-training rounds (mutual nearest pairs join the seeds)")
      ->capture_default_str()->check(CLI::Range(0, 100));
  app->add_option("--bootstrap-epochs", t->bootstrap_epochs, "Epochs after each bootstrapping round")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  app->add_option("--bootstrap-min-score", t->bootstrap_min_score, "CSLS score a mutual nearest pair needs to join the seeds")
      ->capture_default_str();
  app->add_option("--validation-fraction", t->validation_fraction, "Seeds held out to choose weights and the threshold")
      ->capture_default_str()->check(CLI::Range(0.0, 0.9));
  app->add_option("--target-precision", t->target_precision, "Precision the reported threshold reaches on validation links")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
}

}  // namespace aisle::cli
