// `aisle eval pipeline`: what `aisle search` shows, measured. The data directory's default
// pipeline (with exactly the learned layers its gates let in) answers every judged query of a
// held-out file, next to the baselines a shopper would otherwise get: lexical BM25F alone, the
// ranker over lexical candidates (when it is active), popularity. Reports nDCG@k with graded
// gains (ESCI: E 1, S 0.6, C 0.2, I 0, the grades the trainers learn; numeric grades: grade -
// the file's lowest grade), MRR@k (relevant: E, or a grade at or above relevant_min_grade) and
// the recall of what a search at `depth` returns (the candidates it ranked, recall@depth).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"

namespace aisle::eval {

struct PipelineEvalOptions {
  std::filesystem::path data_dir;
  std::filesystem::path test;  // judgments in any supported layout (held out: split "test")
  std::string locale = "en";   // of rows without a locale
  int k = 10;
  int depth = 100;             // candidates per strategy, as at search time
  double relevant_min_grade = 2.5;
};

// The DESIGN report {"task": "pipeline", "dataset", "metrics" (the default pipeline),
// "baselines" {"lexical", "lexical+ranker" (when the ranker is active), "popularity"},
// "layers" (which were active and why), "queries", "eval_seconds", "config"}. kNotFound for a
// missing file or data directory; judged products not in the data directory's catalog are
// counted ("missing_products") and left out.
Result<nlohmann::json> evaluate_pipeline(const Context& context, const PipelineEvalOptions& options);

}  // namespace aisle::eval
