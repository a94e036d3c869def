// Directed graphs for related products (and any other directed relation): a CSR graph with
// out- and in-adjacency, degree statistics, the power-law fit of the in-degree distribution,
// the neighbourhood size that fit gives each node, and neighbour samplers.
//
// Nodes are dense ids 0..n-1; EdgeList maps them to external names (product ids).
//
// Power law. The in-degrees of co-purchase and citation graphs fall off like d^-alpha. alpha
// is fitted by maximum likelihood (Clauset, Shalizi & Newman 2009, continuous form) over the
// nodes whose in-degree is at least d_min, the smallest positive in-degree:
//     alpha = 1 + n / sum_i ln(d_i / d_min)
// (n such nodes). When every such degree equals d_min the sum is 0 and alpha is +infinity.
//
// Neighbourhood size (BLADE's degree-adaptive neighbourhoods): a node with in-degree d gets
//     size(d) = clamp(round(max_size * (d_min / max(d, d_min))^(alpha - 1)), min_size, max_size)
// i.e. max_size times the fraction of nodes the law puts at in-degree >= d (its complementary
// CDF): nodes at the bottom of the distribution get max_size neighbours, hubs get min_size.
// sample_neighbourhood draws min(size, degree) first-hop neighbours and the remaining
// size - degree from the second hop, so low in-degree nodes gather from farther away and
// high in-degree nodes rely on their immediate neighbourhood.
//
// Sampling. A centre's neighbour w in direction `dir` is drawn with probability
//     uniform:  1 / degree
//     degree:   (1 + d(w))^beta / sum over the centre's neighbours of (1 + d(.))^beta
// where d(w) is w's in-degree when gathering along out-edges (the source side of the centre
// reads its targets: how established w is as a target) and w's out-degree when gathering along
// in-edges. beta > 0 favours well-connected neighbours, beta < 0 rare ones; beta = 0 is the
// uniform sampler, which is the exact twin the tests check the biased one against.
// Draws are with replacement. Second-hop draws are two-step walks (each step by the same rule);
// a walk that reaches a node without neighbours in that direction, or returns to the centre,
// is dropped.
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::graph {

using NodeId = std::uint32_t;

struct Edge {
  NodeId source = 0;
  NodeId target = 0;
  float weight = 1.0f;
};

// Edges read from a file, with the node names in first-seen order.
struct EdgeList {
  std::vector<std::string> names;
  std::unordered_map<std::string, NodeId> ids;
  std::vector<Edge> edges;
  std::int64_t self_loops = 0;  // dropped while reading

  // The id of `name`, adding it when new.
  NodeId intern(const std::string& name);
};

// Reads a product-graph CSV `source,target[,weight][,type]` (a header naming the columns
// source/src and target/dst; weight > 0 and finite, default 1; type is kept out of the graph).
// Errors name file:line:column. Self-loops are counted and dropped.
Result<EdgeList> read_edge_csv(const std::filesystem::path& path);

enum class Direction { kOut, kIn };

class DirectedGraph {
 public:
  DirectedGraph() = default;
  // Endpoints must be < num_nodes (kBadInput otherwise). Repeated (source, target) pairs merge
  // into one edge whose weight is the sum; self-loops are dropped. Adjacency lists are sorted.
  static Result<DirectedGraph> from_edges(std::size_t num_nodes, std::span<const Edge> edges);

  std::size_t num_nodes() const { return out_offsets_.empty() ? 0 : out_offsets_.size() - 1; }
  std::size_t num_edges() const { return out_targets_.size(); }
  std::span<const NodeId> neighbours(NodeId node, Direction dir) const;
  std::span<const float> weights(NodeId node, Direction dir) const;
  std::span<const NodeId> out(NodeId node) const { return neighbours(node, Direction::kOut); }
  std::span<const NodeId> in(NodeId node) const { return neighbours(node, Direction::kIn); }
  std::uint32_t out_degree(NodeId node) const { return static_cast<std::uint32_t>(out(node).size()); }
  std::uint32_t in_degree(NodeId node) const { return static_cast<std::uint32_t>(in(node).size()); }
  std::vector<std::uint32_t> in_degrees() const;
  // O(log out_degree).
  bool has_edge(NodeId source, NodeId target) const;

 private:
  std::vector<std::uint64_t> out_offsets_, in_offsets_;
  std::vector<NodeId> out_targets_, in_sources_;
  std::vector<float> out_weights_, in_weights_;
};

struct PowerLaw {
  double alpha = 0;
  std::uint32_t d_min = 0;      // 0 when no node has a positive degree
  std::size_t tail_nodes = 0;   // nodes with degree >= d_min
};

// The fit described above; degrees of 0 are outside the tail.
PowerLaw fit_power_law(std::span<const std::uint32_t> degrees);

struct DegreeStats {
  std::size_t nodes = 0, edges = 0;
  std::size_t reciprocal_edges = 0;  // edges u->v whose reverse v->u exists
  std::size_t no_in_edges = 0, no_out_edges = 0, isolated = 0;
  std::uint32_t max_in = 0, max_out = 0;
  double mean_degree = 0;  // edges / nodes
  PowerLaw in_degree_law;
};

DegreeStats degree_stats(const DirectedGraph& graph);

struct NeighbourhoodSize {
  int min_size = 4;
  int max_size = 24;
};

// size(d) of the header comment; with d_min == 0 (no edges) every node gets max_size.
int neighbourhood_size(std::uint32_t in_degree, const PowerLaw& law, const NeighbourhoodSize& limits);

class NeighbourSampler {
 public:
  // beta = 0: uniform. The graph must outlive the sampler.
  NeighbourSampler(const DirectedGraph& graph, double beta);

  double beta() const { return beta_; }
  // The probability of drawing the index-th neighbour of `centre` in direction `dir`.
  double probability(NodeId centre, Direction dir, std::size_t index) const;
  // One draw; the centre must have a neighbour in `dir`.
  NodeId draw(NodeId centre, Direction dir, std::mt19937_64& rng) const;

 private:
  const DirectedGraph* graph_;
  double beta_;
  // Per adjacency entry, the cumulative weight within its centre's list.
  std::vector<double> out_cumulative_, in_cumulative_;
};

struct SampledNeighbourhood {
  std::vector<NodeId> hop1, hop2;
};

// min(size, degree) first-hop draws, then size - degree second-hop walks (none when the
// degree reaches size). `out` is cleared first.
void sample_neighbourhood(const NeighbourSampler& sampler, const DirectedGraph& graph, NodeId centre, Direction dir,
                          int size, std::mt19937_64& rng, SampledNeighbourhood* out);

}  // namespace aisle::graph
