// The aisle subcommands. Each registers its options on a CLI11 app and runs one library call.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/blade.h"
#include "aisle/models/entity_aligner.h"
#include "aisle/models/relevance_classifier.h"
#include "aisle/models/text_encoder.h"

namespace aisle::cli {

// Prints one formatted line to stdout and flushes (results stream to pipes promptly).
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  std::string line = fmt::format(format, std::forward<Args>(args)...);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Runs the chosen subcommand with the process's Context.
using Command = std::function<Status(const Context&)>;

// The encoder's architecture and training options, shared by `train encoder` and `eval relevance`.
struct EncoderArgs {
  std::string architecture = "pooled";
  models::EncoderConfig config;
  models::TrainOptions training;
  // Resolves `architecture` into config; kBadInput for an unknown name.
  Status resolve();
};
void add_encoder_options(CLI::App* app, EncoderArgs* args);

// The relevance classifier's shape and training options, shared by `train classifier`, `eval
// esci` and `eval multilingual`.
struct ClassifierArgs {
  models::ClassifierConfig config;
  models::ClassifierTrainOptions training;
};
void add_classifier_options(CLI::App* app, ClassifierArgs* args);

// BLADE's shape and training options, shared by `train related` and `eval related`.
void add_blade_options(CLI::App* app, models::BladeConfig* config, models::BladeTrainOptions* training);
// The EntityAligner's options, shared by `aisle align` and `aisle eval align`.
void add_aligner_options(CLI::App* app, models::AlignerConfig* config, models::AlignerTrainOptions* training);

Command add_ingest(CLI::App& app);
Command add_train(CLI::App& app);
Command add_stats(CLI::App& app);
Command add_index(CLI::App& app);
Command add_search(CLI::App& app);
Command add_delete(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_eval(CLI::App& app);
Command add_classify(CLI::App& app);
Command add_related(CLI::App& app);
Command add_serve(CLI::App& app);
Command add_align(CLI::App& app);
Command add_config(CLI::App& app);

}  // namespace aisle::cli
