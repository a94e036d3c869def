// EntityAligner: which entity of one knowledge graph (or catalog) is which entity of another,
// learned from seed links (after CG-MuAlign, Zhu et al., WWW 2020, with Dual-AMN's relational
// reflection, Mao et al., WWW 2021).
//
// Both graphs share one embedding space. An entity starts from
//     h0 = mean of the free vectors e of itself and its neighbours (Dual-AMN's input; an entity
//          no seed covers is still made of trained vectors: Hits@1 .50 -> .57 on DBP15K zh-en)
//          + mean of its incident relations' vectors + W n (with names)
// where n is a fixed hashed n-gram vector of its name (word ids and code-point trigrams with
// boundary marks, idf-weighted, through a fixed random projection: no vocabulary, any script).
// Two relation-aware aggregation layers (level 1 and level 2, so h2 sees two hops) follow:
//     h_{l+1}(i) = tanh( sum_j a_ij (h_l(j) - 2 (h_l(j) . r) r) ),  r = unit vector of the edge's
//     relation and direction in layer l,
// over a sampled neighbourhood of at most `cap` entries per entity. Sampling: an entity with at
// most `cap` neighbours keeps all; otherwise `cap` are drawn without replacement with weight
// 1 / multiplicity (the neighbours sharing the entry's relation and direction; one director
// outweighs any one of fifty actors), or uniformly (`inverse_multiplicity` off, the twin). They
// are re-drawn every epoch; inference averages `inference_draws` seeded draws.
// Self-attention (`self_attention`): a_ij = softmax_j(u_l . rel + v_l . h_l(j)), learning which
// relations and neighbours tell look-alikes apart; off, a_ij is the plain mean.
// The output z = [h0 ; h1 ; h2], each part unit-normalized, then the whole.
//
// Training: seed pairs (l, r) in batches; for each, `hard_negatives` nearest entities of the other
// graph under the current model (recomputed every epoch, the true partner excluded) plus as
// many random ones. Loss, both directions, a soft margin over the negatives n:
//     log(1 + sum_n exp(scale (margin - cos(z_l, z_r) + cos(z_l, z_n))))
// Adam; dropout on h0. Bootstrapping (`bootstrap_rounds`): after training, mutual nearest pairs
// (under CSLS) among entities without a seed whose score passes `bootstrap_min_score` join the
// seeds, and training goes on for `bootstrap_epochs`.
//
// Scoring a left entity x against right candidates y:
//     s(x, y) = cos(z_x, z_y) + name_weight * namecos(x, y)
// namecos is the exact cosine of the idf-weighted n-gram bags (0 without names). Then CSLS
// (Lample et al. 2018): csls(x, y) = 2 s(x, y) - rx - ry, rx the mean of x's 10 best s over the
// candidates (ry likewise over the queries). Cross-graph attention (`cross_attention`) then
// re-scores each query's top `rerank` candidates: each side's level-1 neighbours are weighted by
// softmax(max cos to the other side's neighbours / 0.1) (neighbours with a counterpart count more)
// and cross_weight * cos of the two weighted neighbour means is added. Optional one-to-one:
// Sinkhorn (row/column normalization of exp(score / 0.05), `sinkhorn_iterations`) or mutual
// nearest neighbours. name_weight and cross_weight are chosen on the validation links (a share
// of the seeds that training never sees) by Hits@1.
//
// Determinism: same data, config, seed and thread count give the same result. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/graph/knowledge_graph.h"

namespace aisle::models {

struct AlignerConfig {
  int dim = 128;
  int cap = 16;                      // sampled neighbours per entity
  bool inverse_multiplicity = true;  // false: uniform sampling
  bool self_attention = true;
  bool cross_attention = true;
  bool use_names = true;  // when the graphs have names
  int name_features_dim = 256;        // the fixed projection of the name n-grams
  std::int64_t name_buckets = 1 << 18;
  int inference_draws = 3;
  int rerank = 20;  // candidates the cross-graph attention re-scores
};

nlohmann::json aligner_config_to_json(const AlignerConfig& config);

struct AlignerTrainOptions {
  int epochs = 25;
  int batch_size = 1024;
  double learning_rate = 0.005;
  double dropout = 0.3;
  int hard_negatives = 25;
  // Every entity of the other graph a negative, margins standardized per link (Dual-AMN's
  // normalized hard sample mining) instead of the hard_negatives nearest plus as many random ones.
  bool all_negatives = false;
  double margin = 0.3;
  double scale = 15;
  // DBP15K zh-en structure only, Hits@1: 25 epochs alone .57; with 2 rounds of 8 epochs .62 (249 s).
  int bootstrap_rounds = 2;
  int bootstrap_epochs = 8;
  double bootstrap_min_score = 0.6;  // on the CSLS scale (0: 8,008 pairs joined, many wrong)
  double validation_fraction = 0.1;  // of the seeds, held out to choose weights and the threshold
  double target_precision = 0.95;    // the threshold reported by the train report
  std::function<void(int epoch, double loss, double seconds)> on_epoch;
};

struct AlignerTrainReport {
  int epochs = 0;
  double final_loss = 0;
  double seconds = 0;
  std::size_t train_links = 0, validation_links = 0, bootstrapped_links = 0;
  double name_weight = 0, cross_weight = 0;
  double validation_hits1 = 0;
  // The lowest top-1 score whose predictions on the validation links reach target_precision
  // (+infinity when none does).
  double threshold = 0;
};

enum class OneToOne { kNone, kSinkhorn, kMutual };

struct AlignedPair {
  graph::EntityId left = 0, right = 0;
  float score = 0;
};

class EntityAligner {
 public:
  static Result<std::unique_ptr<EntityAligner>> create(const AlignerConfig& config, const Context& context);
  ~EntityAligner();

  // kBadInput for no seeds or a seed out of range.
  Result<AlignerTrainReport> train(const graph::KnowledgeGraph& left, const graph::KnowledgeGraph& right,
                                   const graph::EntityLinks& seeds, const AlignerTrainOptions& options,
                                   const Context& context);

  // For each query (a left entity), its top `k` right candidates (all right entities when
  // `candidates` is empty), best first, under the scoring of the header; with one-to-one
  // matching the scores are the Sinkhorn plan's (or MNN pairs first). Requires train().
  // With `truth_ranks`, `truth` holds one right entity per query and truth_ranks gets its 1-based
  // rank in the query's row (1 + the candidates scored strictly higher; candidates.size() + 1
  // when it is not a candidate).
  Result<std::vector<std::vector<AlignedPair>>> rank(std::span<const graph::EntityId> queries,
                                                     std::span<const graph::EntityId> candidates, int k,
                                                     OneToOne one_to_one, const Context& context,
                                                     std::span<const graph::EntityId> truth = {},
                                                     std::vector<std::size_t>* truth_ranks = nullptr) const;

  const AlignerConfig& config() const;
  // Turns the cross-graph re-scoring off (or back to the validated weight) for later rank calls:
  // the same trained model scored without it, the `no_cross_attention` ablation.
  void set_cross_attention(bool on);

 private:
  struct Impl;
  explicit EntityAligner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Sinkhorn-Knopp on a row-major [rows x cols] score matrix, in place: exp(s / temperature) then
// `iterations` rounds of row then column normalization. Exposed for tests.
void sinkhorn(std::vector<float>* scores, std::size_t rows, std::size_t cols, double temperature, int iterations);
// CSLS of a row-major [rows x cols] similarity matrix, in place, with neighbourhood size k.
void csls(std::vector<float>* scores, std::size_t rows, std::size_t cols, int k);

}  // namespace aisle::models
