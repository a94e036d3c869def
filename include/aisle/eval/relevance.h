// `aisle eval relevance`: how well the lexical strategy finds judged products, next to Xapian.
//
// The corpus is every product described in the --train and --test judgment files (Home Depot,
// CrowdFlower or any layout whose rows carry the product's text); the queries and their
// graded judgments come from --test only. Nothing is trained on the test queries: the index is
// built from product text alone, and the scorer's parameters are the documented defaults.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::eval {

struct RelevanceOptions {
  std::filesystem::path train;
  std::filesystem::path test;
  std::string locale = "en";  // locale of rows without one, and of the queries
  // A judged product counts as relevant (for MRR and recall) at or above this grade. Gains for
  // nDCG are grade - (lowest grade in the test file).
  double relevant_min_grade = 2.5;
  int depth = 100;  // results retrieved per query (recall@depth)
  std::filesystem::path work_dir;  // Xapian's database goes here; a temporary directory if empty
};

// The report of DESIGN.md's contract: task, dataset, metrics (Aisle lexical), baselines
// (Aisle without typo tolerance, Xapian BM25 on Aisle's terms, Xapian with its own analyzer),
// train_seconds (index build), eval_seconds, config. kNotFound naming a missing file.
Result<nlohmann::json> evaluate_relevance(const Context& context, const RelevanceOptions& options);

}  // namespace aisle::eval
