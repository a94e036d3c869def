// `aisle eval rank`: the learning-to-rank stage on judgment files whose rows carry the
// product's text (Home Depot, CrowdFlower).
//
// Per query, the candidates are the union of the lexical top-`depth` (BM25F) and the vector
// top-`depth` (the learned encoder, exact scan). A LambdaMART ranker (rank:ndcg) orders them;
// a pointwise regression ranker predicts each judged pair's grade (RMSE; quadratic weighted
// kappa when the grades are a few integers, as CrowdFlower's 1-4).
//
// Training uses --train only:
//  - 10 % of the train queries (by a hash of the query) are a validation set for early
//    stopping; the test queries are never used for anything but the final numbers.
//  - LambdaMART learns from the retrieved candidates of each train query: judged ones at their
//    grade's level, unjudged ones at level 0 (the evaluation counts them as gain 0 too).
//  - The regression ranker learns from every judged train pair.
//  - The encoder's cosine is a feature, and the encoder learns from the same train judgments,
//    so a ranker trained on in-sample cosines would trust them too much. With folds >= 2 the
//    train queries are cross-fitted: each fold's features come from an encoder trained on the
//    other folds; the test features come from an encoder trained on all train queries.
// Without --test, a query-stratified dev split is cut from --train: `dev_fraction` of every
// query's judged products (by a seeded hash), so every query is in both halves.
//
// The report (DESIGN.md's contract): metrics of the full LambdaMART ranker (nDCG@10, MRR@10,
// recall) and RMSE of the full regression ranker; baselines: lexical order, vector order, RRF
// fusion, the rankers without learned-text features (the ablation), the regression ranker's
// order, and the train mean as a grade predictor. The engagement features are left out: the
// corpus is the judgment files' products, so a product's count of train judgments would
// reveal whether it belongs to the test judgments.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/text_encoder.h"
#include "aisle/rank/ranker.h"

namespace aisle::eval {

struct RankEvalOptions {
  std::filesystem::path train;
  std::filesystem::path test;  // empty: a query-stratified dev split of --train
  double dev_fraction = 0.2;
  std::string locale = "en";
  // Relevant (MRR, recall) at or above this grade; NaN: low + 0.75 (high - low) of the train
  // grades (2.5 on Home Depot's 1-3, 4 on CrowdFlower's 1-4).
  double relevant_min_grade = std::numeric_limits<double>::quiet_NaN();
  int depth = 100;  // candidates per strategy
  int folds = 2;    // encoder cross-fitting; < 2: in-sample features
  double validation_fraction = 0.1;
  int label_levels = 4;  // LambdaMART relevance levels 0..label_levels
  models::EncoderConfig encoder;
  models::TrainOptions training;  // epochs 0: no vector strategy and no learned-text features
  rank::RankerOptions ranker;     // the objective is set per model
};

// kNotFound naming a missing file; kBadInput for files without product text.
Result<nlohmann::json> evaluate_rank(const Context& context, const RankEvalOptions& options);

}  // namespace aisle::eval
