// `aisle eval related`: related-product (node recommendation) quality on a directed graph,
// BLADE against its baselines and ablations in one report.
//
// Split: --train and --test edge files, or one --edges file split by a seeded hash of each
// edge (test_fraction to test). Every method trains on the train edges only.
// Ranking: for a test edge u -> v, every node w != u is scored by score(u -> w); the node set
// is all nodes of both files. Filtered setting: u's other known targets (train edges and its
// other test edges) are left out of the ranking. Ties are broken uniformly at random in
// expectation: with g nodes scored higher and e others equal, HR@K counts
// clamp((K - g) / (e + 1), 0, 1) and MRR@K the mean of 1/r over the e + 1 tied ranks r <= K.
// Metrics: HR@K and MRR@K for K = 5, 10, 20, overall and by the in-degree (in the train graph)
// of the query node u, in buckets 0, 1, 2-3, 4-7, 8-15, 16-31, 32+; direction accuracy on
// one-way test edges (v -> u in neither file): score(u -> v) > score(v -> u), ties count half.
// Methods: popularity (train in-degree of the target), graphsage (symmetric, uniform, fixed
// neighbourhood), daemon (dual, uniform, fixed), blade, blade_fixed_size (no adaptive size),
// blade_uniform (no degree bias). The report's metrics are BLADE's; baselines the others.
// An SVG of HR@10 by in-degree bucket is written next to the report.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/blade.h"

namespace aisle::eval {

struct RelatedEvalOptions {
  std::filesystem::path edges;  // split into train/test, or:
  std::filesystem::path train, test;
  double test_fraction = 0.1;
  std::vector<std::string> methods;  // empty: every method of related_methods()
  models::BladeConfig blade;  // BLADE's configuration; the baselines change what they name
  models::BladeTrainOptions training;
};

// The methods' names, in report order.
const std::vector<std::string>& related_methods();

// The report, and `svg` (HR@10 by in-degree bucket) when not null.
Result<nlohmann::json> evaluate_related(const Context& context, const RelatedEvalOptions& options, std::string* svg);

}  // namespace aisle::eval
