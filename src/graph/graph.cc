#include "aisle/graph/graph.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "aisle/io/edges.h"

namespace aisle::graph {

NodeId EdgeList::intern(const std::string& name) {
  auto [it, inserted] = ids.try_emplace(name, static_cast<NodeId>(names.size()));
  if (inserted) names.push_back(name);
  return it->second;
}

Result<EdgeList> read_edge_csv(const std::filesystem::path& path) {
  EdgeList list;
  AISLE_RETURN_IF_ERROR(io::read_edges(path, [&](io::EdgeRecord&& record) -> Status {
    if (list.names.size() >= std::numeric_limits<NodeId>::max() - 1) {
      return Status::bad_input("more than 2^32 - 2 nodes", Where(path.string(), record.line));
    }
    const NodeId source = list.intern(record.source);
    const NodeId target = list.intern(record.target);
    if (source == target) {
      ++list.self_loops;
      return Status::ok();
    }
    list.edges.push_back(Edge{source, target, static_cast<float>(record.weight)});
    return Status::ok();
  }));
  return list;
}

namespace {

// CSR of `edges` keyed by `key` (source for out-lists, target for in-lists), lists sorted by
// the other end, duplicates merged by summing weights.
void build_csr(std::size_t n, std::vector<Edge> edges, bool by_source, std::vector<std::uint64_t>* offsets,
               std::vector<NodeId>* ends, std::vector<float>* weights) {
  auto key = [by_source](const Edge& e) { return by_source ? e.source : e.target; };
  auto end = [by_source](const Edge& e) { return by_source ? e.target : e.source; };
  std::sort(edges.begin(), edges.end(), [&](const Edge& a, const Edge& b) {
    return key(a) != key(b) ? key(a) < key(b) : end(a) < end(b);
  });
  offsets->assign(n + 1, 0);
  ends->clear();
  weights->clear();
  for (std::size_t i = 0; i < edges.size(); ++i) {
    if (i > 0 && key(edges[i]) == key(edges[i - 1]) && end(edges[i]) == end(edges[i - 1])) {
      weights->back() += edges[i].weight;
      continue;
    }
    ++(*offsets)[key(edges[i]) + 1];
    ends->push_back(end(edges[i]));
    weights->push_back(edges[i].weight);
  }
  std::partial_sum(offsets->begin(), offsets->end(), offsets->begin());
}

}  // namespace

Result<DirectedGraph> DirectedGraph::from_edges(std::size_t num_nodes, std::span<const Edge> edges) {
  std::vector<Edge> kept;
  kept.reserve(edges.size());
  for (const Edge& e : edges) {
    if (e.source >= num_nodes || e.target >= num_nodes) {
      return Status::bad_input("edge " + std::to_string(e.source) + "->" + std::to_string(e.target) + " names a node >= " +
                               std::to_string(num_nodes));
    }
    if (e.source != e.target) kept.push_back(e);
  }
  DirectedGraph graph;
  build_csr(num_nodes, kept, true, &graph.out_offsets_, &graph.out_targets_, &graph.out_weights_);
  build_csr(num_nodes, std::move(kept), false, &graph.in_offsets_, &graph.in_sources_, &graph.in_weights_);
  return graph;
}

std::span<const NodeId> DirectedGraph::neighbours(NodeId node, Direction dir) const {
  const auto& offsets = dir == Direction::kOut ? out_offsets_ : in_offsets_;
  const auto& ends = dir == Direction::kOut ? out_targets_ : in_sources_;
  return std::span<const NodeId>(ends).subspan(offsets[node], offsets[node + 1] - offsets[node]);
}

std::span<const float> DirectedGraph::weights(NodeId node, Direction dir) const {
  const auto& offsets = dir == Direction::kOut ? out_offsets_ : in_offsets_;
  const auto& w = dir == Direction::kOut ? out_weights_ : in_weights_;
  return std::span<const float>(w).subspan(offsets[node], offsets[node + 1] - offsets[node]);
}

std::vector<std::uint32_t> DirectedGraph::in_degrees() const {
  std::vector<std::uint32_t> degrees(num_nodes());
  for (NodeId v = 0; v < degrees.size(); ++v) degrees[v] = in_degree(v);
  return degrees;
}

bool DirectedGraph::has_edge(NodeId source, NodeId target) const {
  auto list = out(source);
  return std::binary_search(list.begin(), list.end(), target);
}

PowerLaw fit_power_law(std::span<const std::uint32_t> degrees) {
  PowerLaw law;
  for (std::uint32_t d : degrees) {
    if (d > 0 && (law.d_min == 0 || d < law.d_min)) law.d_min = d;
  }
  if (law.d_min == 0) return law;
  double sum = 0;
  for (std::uint32_t d : degrees) {
    if (d >= law.d_min) {
      ++law.tail_nodes;
      sum += std::log(static_cast<double>(d) / law.d_min);
    }
  }
  law.alpha = sum > 0 ? 1.0 + static_cast<double>(law.tail_nodes) / sum : std::numeric_limits<double>::infinity();
  return law;
}

DegreeStats degree_stats(const DirectedGraph& graph) {
  DegreeStats stats;
  stats.nodes = graph.num_nodes();
  stats.edges = graph.num_edges();
  for (NodeId v = 0; v < stats.nodes; ++v) {
    const std::uint32_t in = graph.in_degree(v), out = graph.out_degree(v);
    stats.max_in = std::max(stats.max_in, in);
    stats.max_out = std::max(stats.max_out, out);
    stats.no_in_edges += in == 0 ? 1 : 0;
    stats.no_out_edges += out == 0 ? 1 : 0;
    stats.isolated += in == 0 && out == 0 ? 1 : 0;
    for (NodeId w : graph.out(v)) stats.reciprocal_edges += graph.has_edge(w, v) ? 1 : 0;
  }
  stats.mean_degree = stats.nodes ? static_cast<double>(stats.edges) / static_cast<double>(stats.nodes) : 0.0;
  const std::vector<std::uint32_t> in = graph.in_degrees();
  stats.in_degree_law = fit_power_law(in);
  return stats;
}

int neighbourhood_size(std::uint32_t in_degree, const PowerLaw& law, const NeighbourhoodSize& limits) {
  if (law.d_min == 0) return limits.max_size;
  const double d = std::max<double>(in_degree, law.d_min);
  const double fraction = std::isinf(law.alpha) ? (d > law.d_min ? 0.0 : 1.0) : std::pow(law.d_min / d, law.alpha - 1.0);
  const long size = std::lround(limits.max_size * fraction);
  return static_cast<int>(std::clamp<long>(size, limits.min_size, limits.max_size));
}

NeighbourSampler::NeighbourSampler(const DirectedGraph& graph, double beta) : graph_(&graph), beta_(beta) {
  for (Direction dir : {Direction::kOut, Direction::kIn}) {
    std::vector<double>& cumulative = dir == Direction::kOut ? out_cumulative_ : in_cumulative_;
    cumulative.reserve(graph.num_edges());
    for (NodeId c = 0; c < graph.num_nodes(); ++c) {
      double total = 0;
      for (NodeId w : graph.neighbours(c, dir)) {
        const std::uint32_t d = dir == Direction::kOut ? graph.in_degree(w) : graph.out_degree(w);
        total += beta == 0 ? 1.0 : std::pow(1.0 + d, beta);
        cumulative.push_back(total);
      }
    }
  }
}

namespace {

// The centre's slice of a cumulative array (its neighbours' running weight totals).
std::span<const double> slice(const std::vector<double>& cumulative, const DirectedGraph& graph, NodeId centre,
                              Direction dir) {
  const auto list = graph.neighbours(centre, dir);
  const auto all = graph.neighbours(0, dir);
  const std::size_t begin = graph.num_nodes() == 0 ? 0 : static_cast<std::size_t>(list.data() - all.data());
  return std::span<const double>(cumulative).subspan(begin, list.size());
}

}  // namespace

double NeighbourSampler::probability(NodeId centre, Direction dir, std::size_t index) const {
  auto c = slice(dir == Direction::kOut ? out_cumulative_ : in_cumulative_, *graph_, centre, dir);
  if (index >= c.size()) return 0.0;
  return (c[index] - (index ? c[index - 1] : 0.0)) / c.back();
}

NodeId NeighbourSampler::draw(NodeId centre, Direction dir, std::mt19937_64& rng) const {
  auto c = slice(dir == Direction::kOut ? out_cumulative_ : in_cumulative_, *graph_, centre, dir);
  const auto list = graph_->neighbours(centre, dir);
  if (beta_ == 0) return list[std::uniform_int_distribution<std::size_t>(0, list.size() - 1)(rng)];
  const double r = std::uniform_real_distribution<double>(0.0, c.back())(rng);
  const std::size_t index = static_cast<std::size_t>(std::upper_bound(c.begin(), c.end(), r) - c.begin());
  return list[std::min(index, list.size() - 1)];
}

void sample_neighbourhood(const NeighbourSampler& sampler, const DirectedGraph& graph, NodeId centre, Direction dir,
                          int size, std::mt19937_64& rng, SampledNeighbourhood* out) {
  out->hop1.clear();
  out->hop2.clear();
  const std::size_t degree = graph.neighbours(centre, dir).size();
  if (degree == 0 || size <= 0) return;
  const std::size_t first = std::min<std::size_t>(static_cast<std::size_t>(size), degree);
  for (std::size_t i = 0; i < first; ++i) out->hop1.push_back(sampler.draw(centre, dir, rng));
  for (std::size_t i = first; i < static_cast<std::size_t>(size); ++i) {
    const NodeId middle = sampler.draw(centre, dir, rng);
    if (graph.neighbours(middle, dir).empty()) continue;
    const NodeId end = sampler.draw(middle, dir, rng);
    if (end != centre) out->hop2.push_back(end);
  }
}

}  // namespace aisle::graph
