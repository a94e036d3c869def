// The aisle subcommands. Each registers its options on a CLI11 app and runs one library call.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::cli {

// Runs the chosen subcommand with the process's Context.
using Command = std::function<Status(const Context&)>;

Command add_ingest(CLI::App& app);
Command add_stats(CLI::App& app);
Command add_search(CLI::App& app);
Command add_bench(CLI::App& app);

}  // namespace aisle::cli
