// Training the ranker of a data directory (`aisle train ranker`).
//
// Labels come from the store:
//  - judgments (any split but "test"), graded as retrieve::training_set_from_store grades them
//    (ESCI E 1, S 0.6, C 0.2, I 0; numeric grades scaled 0..1; engaged pairs by their strongest
//    event), or
//  - click logs alone: impressions and clicks with positions; the position bias is estimated
//    by EM and each (query, product) is labelled with its inverse-propensity-weighted click
//    rate (rank/clicks.h).
// For every labelled query the pipeline retrieves candidates exactly as at search time; a
// candidate without a label counts as irrelevant. LambdaMART's levels are
// round(label_levels x grade).
//
// Two query-disjoint slices are held out (core/validation.h, seeded by the context's seed):
//  - the gate slice (core's in_gate_slice: the queries the encoder and the classifier held out
//    too): never trained on. After training,
//    the ranker's nDCG@10 there is compared with lexical BM25F order (the lexical strategy's
//    own ranks) and with the fused order; the verdict (LayerVerdict) is saved in the model's
//    metadata under "validation", and SearchPipeline re-ranks only when it is active;
//  - the early-stopping slice (validation_fraction of the rest), when that makes at least 50
//    queries; with fewer, every round is kept.
//
// The encoder's cosine is a feature and the encoder learned from the same judgments: on
// training rows it looks better than it will on new queries. `aisle eval rank` cross-fits to
// measure that honestly; here the in-sample value is used (documented in docs/benchmarks.md).
#pragma once

#include <memory>
#include <string>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/core/validation.h"
#include "aisle/rank/clicks.h"
#include "aisle/rank/pipeline.h"
#include "aisle/rank/ranker.h"

namespace aisle::rank {

enum class LabelSource { kAuto, kJudgments, kClicks };
Result<LabelSource> parse_label_source(std::string_view name);  // auto, judgments, clicks

struct RankerTrainingOptions {
  LabelSource labels = LabelSource::kAuto;  // auto: judgments when there are any, else clicks
  RankerOptions ranker;
  int depth = 100;  // candidates per strategy, as at search time
  int label_levels = 4;
  double validation_fraction = 0.1;  // early stopping
  double min_propensity = 0.05;  // clicks: IPS weight cap 1 / min_propensity
};

struct RankerTrainingReport {
  std::string labels;  // "judgments" or "clicks"
  std::int64_t queries = 0, validation_queries = 0, rows = 0, labelled_candidates = 0, labels_total = 0;
  PositionBias bias;  // clicks only
  RankerTrainReport train;
  std::int64_t gate_queries = 0;  // held out for the gate (with or without a relevant product)
  LayerVerdict verdict;           // the ranker against lexical order on the gate slice
};

// Trains a ranker over `pipeline`'s candidates (open it with load_ranker = false). kBadInput
// when the store has nothing to learn from.
Result<std::unique_ptr<Ranker>> train_ranker(const SearchPipeline& pipeline, const RankerTrainingOptions& options,
                                             const Context& context, RankerTrainingReport* report);

}  // namespace aisle::rank
