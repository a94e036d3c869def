// `aisle eval align`: entity alignment between two knowledge graphs, the full EntityAligner
// against its ablations in one report.
//
// Training reads the seed links of --train only (a share of them held out inside the aligner to
// choose its score weights and the precision threshold). Test protocol (the DBP15K standard):
// every left entity of a test link is a query, the right entities of the test links are the
// candidates. Metrics: Hits@1, Hits@10 and MRR (1 / rank of the true partner; rank = 1 + the
// candidates scored strictly higher), for nearest neighbours under the aligner's scoring, and
// Hits@1 / MRR after Sinkhorn one-to-one matching; PR-AUC: the average precision of the top-1
// predictions ranked by their score (recall over all test links); the share of test queries whose
// top-1 score passes the threshold chosen for `target_precision` on validation links, and the
// precision there.
// Methods: full, no_cross_attention, no_self_attention, uniform_sampling, and no_names when the
// graphs have names. The report's metrics are the full model's; the ablations are baselines.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/entity_aligner.h"

namespace aisle::eval {

struct AlignEvalOptions {
  std::filesystem::path left, right;  // graph folders; empty: the folder of `train`
  std::filesystem::path train, test;  // link files
  bool names = true;                  // read the names file when there is one
  std::vector<std::string> methods;   // empty: every method of align_methods()
  models::AlignerConfig config;
  models::AlignerTrainOptions training;
};

const std::vector<std::string>& align_methods();

Result<nlohmann::json> evaluate_align(const Context& context, const AlignEvalOptions& options);

}  // namespace aisle::eval
