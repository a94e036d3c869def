// `aisle eval relevance`: how well the retrieval strategies find judged products: lexical
// (BM25F), vector (the learned two-tower encoder + HNSW) and their fusion, next to Xapian.
//
// The corpus is every product described in the --train and --test judgment files (Home Depot,
// CrowdFlower or any layout whose rows carry the product's text); the queries and their
// graded judgments come from --test only. The encoder is trained on the --train judgments only
// (grades scaled to 0..1 by the train file's range); the lexical index is built from product
// text alone with the documented default parameters. Nothing is tuned on the test queries.
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/models/text_encoder.h"

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
  // The vector strategy; training.epochs == 0 leaves it (and the fusion) out.
  models::EncoderConfig encoder;
  models::TrainOptions training;
  int vector_ef = 128;  // HNSW beam width at query time
  double rrf_k = 60;    // reciprocal rank fusion constant (Cormack et al. 2009's default)
};

// The report of DESIGN.md's contract: task, dataset, metrics (Aisle hybrid: lexical + vector
// fused; Aisle lexical when the vector strategy is off), baselines (aisle-lexical,
// aisle-vector, aisle-vector-exact, Aisle without typo tolerance, Xapian BM25 on Aisle's terms,
// Xapian with its own analyzer), train_seconds (encoder training + index builds),
// eval_seconds, config. kNotFound naming a missing file.
Result<nlohmann::json> evaluate_relevance(const Context& context, const RelevanceOptions& options);

}  // namespace aisle::eval
