// Validation gates: the one way every learned layer earns its place.
//
// A trainer (encoder, ranker, ESCI classifier, bandit policy) holds out a seeded, query-disjoint
// slice of its own training data (in_validation_slice), scores itself and the no-model baseline
// on each held-out query (one paired value per query), and asks decide() for a verdict. The
// verdict travels inside the model file and in a JSON training report; the search pipeline uses
// a layer only when its verdict is active, so a layer that did not beat the plain baseline on
// data it never trained on cannot change what a shopper sees.
//
// The rule (decide): a layer is active when
//   - the slice has at least GateOptions::min_queries queries, and
//   - its mean over the slice is above the baseline's, and
//   - a paired bootstrap over the slice's queries (Efron & Tibshirani 1993) finds it ahead in at
//     least GateOptions::confidence of the resamples.
// Otherwise it is off, and `reason` says which condition failed, with the numbers.
//
// Thread safety: free functions and value types; no shared state.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"

namespace aisle {

// Whether `key` (a query's text and locale, a pair's ids) falls in the validation slice of this
// seed: a hash of the key and the seed compared with `fraction` (0..1). The same key always
// lands on the same side for a seed, so every row of a query goes the same way (query-disjoint).
bool in_validation_slice(std::string_view key, std::uint64_t seed, double fraction);

// The gate slice all trainers share: the same queries are held out of the encoder, the ESCI
// classifier and the ranker, so the ranker's verdict measures the whole stack on queries none
// of its layers saw. A query is identified by its text as stored and its locale.
inline constexpr double kGateFraction = 0.15;
bool in_gate_slice(std::string_view query, std::string_view locale, std::uint64_t seed);

struct GateOptions {
  int min_queries = 20;       // fewer held-out queries than this: too little evidence, layer off
  double confidence = 0.9;    // share of bootstrap resamples in which the layer must be ahead
  int resamples = 1000;
  std::uint64_t seed = 42;
};

// A learned layer against its no-model baseline on its validation slice.
struct LayerVerdict {
  std::string layer;        // "encoder", "ranker", "classifier", "policy"
  std::string metric;       // "ndcg@10", "accuracy", "reward"
  std::string baseline;     // "lexical", "majority_class", "best_fixed_set"
  double model_value = 0;   // mean over the slice
  double baseline_value = 0;
  double p_ahead = 0;       // share of bootstrap resamples with the model's mean above the baseline's
  std::int64_t queries = 0; // held-out queries (units) the comparison ran on
  double fraction = 0;      // the slice's share of the training queries
  std::uint64_t seed = 0;   // the slice's seed
  bool active = false;
  std::string reason;       // one sentence: why active or off
  // Layer-specific settings chosen on the slice (a calibrated floor, a blend weight) and the
  // other baselines measured there.
  nlohmann::json details = nlohmann::json::object();

  nlohmann::json to_json() const;
  // kCorruption naming the missing or mistyped field.
  static Result<LayerVerdict> from_json(const nlohmann::json& json);
};

// The verdict for paired per-query values (model[i] and baseline[i] belong to the same query).
// `model` and `baseline` must have the same size (AISLE_CHECK).
LayerVerdict decide(std::string layer, std::string metric, std::string baseline_name, std::span<const double> model,
                    std::span<const double> baseline, const GateOptions& options);

// <data_dir>/models/<layer>.report.json: a trainer's JSON training report (its verdict, what it
// trained on, its settings), written atomically. kIoError naming the file.
std::filesystem::path training_report_path(const std::filesystem::path& data_dir, std::string_view layer);
Status write_training_report(const std::filesystem::path& data_dir, std::string_view layer, const nlohmann::json& report);

// nDCG@k with linear gains: DCG = sum_i gain_i / log2(i + 1) over the first k, divided by the
// DCG of `ideal_gains` sorted descending (Jarvelin & Kekalainen 2002). 0 when the ideal is 0.
double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k);

}  // namespace aisle
