// `aisle eval esci` and `aisle eval multilingual`: the relevance classifier
// (models/relevance_classifier.h) on held-out judgments.
//
// evaluate_esci reads judgments in any layout the readers know:
//  - ESCI (the Shopping Queries Dataset: examples CSV + products CSV, `--products`): the four
//    ESCI classes. Task 1: nDCG of each test query's judged products ranked by the expected
//    gain P(E) + 0.1 P(S) + 0.01 P(C) (gains E 1, S 0.1, C 0.01, I 0); task 2: micro and
//    macro F1 of the predicted class; task 3: F1 of "substitute" (predicted S vs not). Overall
//    and per locale.
//  - Graded judgments whose rows carry the product (CrowdFlower, Home Depot): with integer
//    grades (at most 10 distinct, e.g. CrowdFlower's 1-4) each grade is a class (micro and
//    macro F1, quadratic weighted kappa); otherwise the grade, scaled to 0..1 by the train
//    range, is regressed (RMSE on the original scale). `label_mode` overrides the choice.
// The split: --test when given; else the rows' `split` column (train / test) when it has both;
// else a query-stratified dev split of --train (`dev_fraction` of each query's judgments, by a
// seeded hash). Only train judgments train anything, and only they are engagement edges of
// the graph (ESCI: E 4, S 2, C 1; grades: 4 x the scaled grade when it is at least 0.5), so
// no test label reaches the graph.
// The report: metrics of the neural model (graph + pre-training on all locales + per-locale
// fine-tuning); baselines: without the graph, without pre-training (one model per locale,
// when there are several), and the majority class (or the train mean). "fusion": GBDTs over
// lexical evidence (the ranker's match features), relational evidence (rank::RelationalIndex)
// and both, cross-fitted over 5 folds of the train rows cut like the test (by pair for a dev
// split of --train, by query otherwise), a train row's relational features from the other
// folds' labels only; ordinal cuts (graded classes) chosen on the out-of-fold predictions; a
// reliability table per model. Without `neural`, the fused model (lexical + relational) leads
// the report.
//
// evaluate_multilingual reads the query -> category layout (`task,language,origin_query,
// category_path,label`): a query in one of several languages, a category path (in English)
// and a binary label. Queries are split by a seeded hash of their text (dev_fraction held out,
// all rows of a query on one side). One multilingual model (per-language query towers, one
// shared classifier) is compared with one model per language: F1 of the positive class per
// language, in one report. With `parallel` (a CSV `query_en,query_de`, e.g. Fashion12K's
// parallel queries), its pairs are split the same way; the train pairs drive the alignment
// phase and the held-out pairs measure cross-lingual retrieval: recall@1 and @10 of the German
// query among all held-out German queries from the English one (and back), with and without
// the alignment phase.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/relevance_classifier.h"

namespace aisle::eval {

struct EsciEvalOptions {
  std::filesystem::path train;
  std::filesystem::path test;      // empty: the split column, or a dev split
  std::filesystem::path products;  // products file for layouts without product text (ESCI)
  double dev_fraction = 0.2;
  std::string locale = "en";       // locale of rows without one
  std::string label_mode = "auto";  // auto, classes, graded
  bool ablations = true;
  bool neural = true;  // the neural classifier (text towers + GNN) and its ablations
  bool fusion = true;  // the fused GBDTs (lexical, relational, both); without `neural`, the report's metrics
  models::ClassifierConfig classifier;  // mode and classes are set from the data
  models::ClassifierTrainOptions training;
};

// kNotFound naming a missing file; kBadInput for unusable data (no test rows, no products).
Result<nlohmann::json> evaluate_esci(const Context& context, const EsciEvalOptions& options);

struct MultilingualEvalOptions {
  std::filesystem::path train;
  std::filesystem::path parallel;  // optional parallel queries CSV (query_en, query_de)
  double dev_fraction = 0.2;
  models::ClassifierConfig classifier;
  models::ClassifierTrainOptions training;
};

Result<nlohmann::json> evaluate_multilingual(const Context& context, const MultilingualEvalOptions& options);

}  // namespace aisle::eval
