// Blade: related-product embeddings on a directed product graph (BLADE, Virinchi & Saladi,
// WSDM 2023, after DAEMON, ECML-PKDD 2022).
//
// Every node u has a source vector s_u (u as the item a shopper looks at) and a target vector
// t_u (u as the recommended item); score(u -> v) = s_u . t_v / temperature, so a one-way edge
// phone -> case can score high while case -> phone scores low.
//
// The network (one aggregation layer over sampled 1- and 2-hop neighbourhoods):
//     s_u = normalize(W_s [a_u ; mean_hop1_out(b) ; mean_hop2_out(b)])
//     t_v = normalize(W_t [b_v ; mean_hop1_in(a)  ; mean_hop2_in(a)])
// a and b are each node's base source and target features: learned free embeddings (b = a + a
// learned per-node offset, so that what a node shares with both sides is learned once), plus a
// projection of the hashed n-grams of the product text when node texts are given. A source
// vector gathers from its out-neighbours' target side; a target vector from its in-neighbours'
// source side. Neighbourhoods come from graph/graph.h: their size follows the power law of
// the in-degree (adaptive) or is fixed, and neighbours are drawn degree-biased (beta) or
// uniformly; they are re-drawn every epoch, and at inference averaged over a few seeded draws.
//
// Loss (asymmetric): for a batch of edges u -> v, a softmax of s_u over the targets of the
// batch plus shared random negatives (cross-entropy, the true target the label); for one-way
// edges (v -> u absent) also -log sigmoid(score(u->v) - score(v->u)), the reversed edge as a
// negative. With logq_correction each candidate's logit is first lowered by log q (below).
//
// The same class gives the baselines of `eval related` by configuration:
//   symmetric: one vector per node (s = t), the graph read as undirected, uniform sampling,
//              fixed size: GraphSAGE;
//   dual, fixed size, uniform: DAEMON-like; and the BLADE ablations.
//
// Training is seeded (Context seed) and uses Context's thread count. Not thread-safe while
// training; score/top_k/vectors are read-only afterwards.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/graph/graph.h"
#include "aisle/models/featurizer.h"
#include "aisle/text/document.h"

namespace aisle::models {

struct BladeConfig {
  int dim = 64;
  bool dual = true;        // false: one vector per node over the undirected graph
  bool adaptive = true;    // neighbourhood size from the in-degree power law
  double beta = -0.5;      // degree bias of neighbour sampling; 0 = uniform (chosen on a cora validation split)
  int fixed_size = 10;     // neighbourhood size when not adaptive
  graph::NeighbourhoodSize limits{4, 24};
  bool direction_loss = true;  // reversed one-way edges as negatives (dual only)
  double temperature = 0.1;
  int inference_draws = 4;     // neighbourhood draws averaged at inference
  FeatureOptions features{.buckets = 1 << 15};  // hashed n-grams of node texts (when given)
  int text_embedding_dim = 64;
};

nlohmann::json blade_config_to_json(const BladeConfig& config);
// kBadInput naming the field.
Result<BladeConfig> blade_config_from_json(const nlohmann::json& json);

struct BladeTrainOptions {
  int epochs = 12;
  int batch_size = 2048;
  int negatives = 1024;  // random nodes shared by a batch
  double learning_rate = 0.01;
  // Sampled-softmax bias correction (Yi et al., RecSys 2019): every candidate's logit is lowered
  // by log q, its chance of being drawn as a column (in-batch targets come in proportion to their
  // train in-degree, random negatives uniformly), so popular targets are not over-penalised.
  bool logq_correction = true;  // on: HR@10 .287 -> .403 on an Amazon Computers validation split
  // Written after every epoch when set (the model file; `train` may continue from a loaded one).
  std::filesystem::path checkpoint;
  std::function<void(int epoch, double loss, double seconds)> on_epoch;
};

struct BladeTrainReport {
  int epochs = 0;
  double final_loss = 0;
  double seconds = 0;
  graph::PowerLaw in_degree_law;
  double mean_neighbourhood = 0;  // mean sampled size (adaptive or fixed)
};

class Blade {
 public:
  static Result<std::unique_ptr<Blade>> create(const BladeConfig& config, const Context& context);
  // The file written by save(); kNotFound / kCorruption naming it.
  static Result<std::unique_ptr<Blade>> load(const std::filesystem::path& path, const Context& context);
  ~Blade();

  // Trains on `graph` (the train edges only). `texts`: empty, or one document per node (the
  // product text; empty titles get no text feature). `names`: empty or one per node, kept in
  // the saved file. Afterwards the node vectors are computed over `graph`.
  Result<BladeTrainReport> train(const graph::DirectedGraph& graph, std::span<const text::Document> texts,
                                 std::span<const std::string> names, const BladeTrainOptions& options,
                                 const Context& context);

  const BladeConfig& config() const;
  std::size_t num_nodes() const;
  const std::vector<std::string>& names() const;
  // Row-major [nodes x dim] unit vectors (sources == targets for a symmetric model).
  const std::vector<float>& sources() const;
  const std::vector<float>& targets() const;
  // score(u -> v) of the header.
  float score(graph::NodeId source, graph::NodeId target) const;

  // The file: config, names, the node vectors and the network weights (docs/formats.md).
  Status save(const std::filesystem::path& path) const;

 private:
  struct Impl;
  explicit Blade(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::models
