// aisle: the one command-line tool of the engine. See `aisle --help`.
#include <cstdio>
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "commands.h"
#include "exit_code.h"

int main(int argc, char** argv) {
  using namespace aisle;
  CLI::App app("aisle: product discovery engine", "aisle");
  app.require_subcommand(1);
  // Global options may also come after the subcommand (`aisle search lamp --threads 1`):
  // subcommands, created below, inherit this.
  app.fallthrough();
  ContextOptions options;
  std::string progress = "auto";
  app.add_option("--threads", options.num_threads, "Worker threads (0: one per core)")->capture_default_str();
  app.add_option("--seed", options.seed, "Random seed")->capture_default_str();
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.add_option("--progress", progress, "Progress bars: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  app.set_version_flag("--version", "aisle 0.1.0");

  std::map<CLI::App*, cli::Command> commands;
  auto add = [&](const char* name, const char* help, cli::Command (*add_command)(CLI::App&)) {
    CLI::App* sub = app.add_subcommand(name, help);
    commands[sub] = add_command(*sub);
  };
  add("ingest", "Read catalog, judgment and event files into the store", cli::add_ingest);
  add("stats", "Counts per locale, label and event type, and the ingest log", cli::add_stats);
  add("train", "Train models from the store (encoder: the vector strategy's two towers; classifier: ESCI; ranker: LambdaMART; related: BLADE)", cli::add_train);
  add("index", "Build or update the search index (and the product vectors, given an encoder) from the store",
      cli::add_index);
  add("search", "Search the catalog: lexical (BM25F), structured (query understanding), vector (k-NN) or hybrid",
      cli::add_search);
  add("delete", "Delete listings (by external id and locale) from the store, the index and the vectors", cli::add_delete);
  add("classify", "The ESCI class of a (query, product) pair, with probabilities (after `aisle train classifier`)",
      cli::add_classify);
  add("related", "Related products of a product (after `aisle train related`): directed, so a phone's case, not a case's phone",
      cli::add_related);
  add("align", "Align the entities of two knowledge graphs or catalogs from seed links (candidate pairs with scores)",
      cli::add_align);
  add("config", "Check the data directory's settings file, aisle.toml (docs/configuration.md)", cli::add_config);
  add("serve", "Serve the HTTP JSON API and the search page (docs/api.md)", cli::add_serve);
  add("eval", "Evaluations on held-out data that write a JSON report (relevance, rank, esci, multilingual, related, align, match, bandit-*)", cli::add_eval);
  add("bench", "Benchmarks that write a JSON report (ingest, lexical, vector, rank, serve)", cli::add_bench);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? cli::kExitOk : cli::kExitBadInput;
  }
  options.progress = progress == "always" ? ProgressMode::kAlways
                     : progress == "never" ? ProgressMode::kNever
                                           : ProgressMode::kAuto;
  Result<Context> context = Context::create(options);
  if (!context.is_ok()) {
    std::fprintf(stderr, "aisle: %s\n", context.status().to_string().c_str());
    return cli::exit_code(context.status());
  }
  for (auto& [sub, command] : commands) {
    if (!sub->parsed()) continue;
    Status status;
    try {
      status = command(*context);
    } catch (const std::exception& error) {
      // Third-party code that throws past its subsystem boundary is a bug; report, don't crash.
      status = Status::internal(std::string("unexpected exception: ") + error.what());
    }
    if (!status.is_ok()) {
      std::fprintf(stderr, "aisle %s: %s: %s\n", sub->get_name().c_str(),
                   std::string(status_code_name(status.code())).c_str(), status.to_string().c_str());
    }
    return cli::exit_code(status);
  }
  return cli::kExitInternal;
}
