// `aisle eval match`: product record matching (two catalogs, labelled pairs), the RecordMatcher
// against a word-Jaccard baseline.
//
// --train trains, --dev (required: the epoch and the decision threshold are chosen there, never
// on the test pairs) validates, --test is scored once. Files: the serialized pair format or a
// pairs CSV with left.csv/right.csv beside it (io/record_pairs.h). Metrics on the test pairs: F1,
// precision and recall at the validation threshold, PR-AUC (average precision of the match
// probabilities), the best F1 any threshold would give on test (for reference only), training
// seconds. Baseline `jaccard`: the word Jaccard of the first attribute (the title), its
// threshold chosen on --dev.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/record_matcher.h"

namespace aisle::eval {

struct MatchEvalOptions {
  std::filesystem::path train, dev, test;
  models::MatcherConfig config;
  models::MatcherTrainOptions training;
};

Result<nlohmann::json> evaluate_match(const Context& context, const MatchEvalOptions& options);

}  // namespace aisle::eval
