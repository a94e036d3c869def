#include "aisle/graph/graph.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "test_util.h"

namespace aisle::graph {
namespace {

using aisle::testing::TempDir;

DirectedGraph make(std::size_t n, const std::vector<Edge>& edges) {
  auto graph = DirectedGraph::from_edges(n, edges);
  EXPECT_TRUE(graph.is_ok()) << graph.status().message();
  return std::move(*graph);
}

TEST(DirectedGraph, BuildsSortedOutAndInListsMergingRepeatsAndDroppingSelfLoops) {
  DirectedGraph g = make(4, {{0, 2, 1}, {0, 1, 1}, {0, 2, 0.5}, {3, 3, 1}, {2, 1, 1}, {1, 0, 2}});
  EXPECT_EQ(g.num_nodes(), 4u);
  EXPECT_EQ(g.num_edges(), 4u);
  EXPECT_EQ(std::vector<NodeId>(g.out(0).begin(), g.out(0).end()), (std::vector<NodeId>{1, 2}));
  EXPECT_FLOAT_EQ(g.weights(0, Direction::kOut)[1], 1.5f);
  EXPECT_EQ(std::vector<NodeId>(g.in(1).begin(), g.in(1).end()), (std::vector<NodeId>{0, 2}));
  EXPECT_EQ(g.in_degree(3), 0u);
  EXPECT_EQ(g.out_degree(3), 0u);
  EXPECT_TRUE(g.has_edge(0, 2));
  EXPECT_FALSE(g.has_edge(2, 0));
  EXPECT_EQ(g.in_degrees(), (std::vector<std::uint32_t>{1, 2, 1, 0}));

  auto bad = DirectedGraph::from_edges(2, std::vector<Edge>{{0, 5, 1}});
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("0->5"), std::string::npos) << bad.status().message();

  DegreeStats stats = degree_stats(g);
  EXPECT_EQ(stats.reciprocal_edges, 2u);  // 0->1 and 1->0
  EXPECT_EQ(stats.isolated, 1u);
  EXPECT_EQ(stats.max_in, 2u);
  EXPECT_DOUBLE_EQ(stats.mean_degree, 1.0);
}

TEST(EdgeCsv, ReadsBothHeaderSpellingsWeightsAndNamesTheBadField) {
  TempDir dir;
  auto list = read_edge_csv(dir.write("e.csv", "source,target,weight,type\nphone,case,2,also_bought\ncase,case,1,x\nphone,charger,,\n"));
  ASSERT_TRUE(list.is_ok()) << list.status().message();
  EXPECT_EQ(list->names, (std::vector<std::string>{"phone", "case", "charger"}));
  ASSERT_EQ(list->edges.size(), 2u);
  EXPECT_FLOAT_EQ(list->edges[0].weight, 2.0f);
  EXPECT_FLOAT_EQ(list->edges[1].weight, 1.0f);
  EXPECT_EQ(list->self_loops, 1);

  auto cora = read_edge_csv(dir.write("c.csv", "src,dst\n1,2\n2,3\n"));
  ASSERT_TRUE(cora.is_ok()) << cora.status().message();
  EXPECT_EQ(cora->edges.size(), 2u);

  auto weight = read_edge_csv(dir.write("w.csv", "source,target,weight\na,b,1\na,c,-3\n"));
  ASSERT_FALSE(weight.is_ok());
  EXPECT_EQ(weight.status().code(), StatusCode::kBadInput);
  EXPECT_NE(weight.status().to_string().find("w.csv:3:weight"), std::string::npos) << weight.status().to_string();

  auto header = read_edge_csv(dir.write("h.csv", "from,to\na,b\n"));
  ASSERT_FALSE(header.is_ok());
  EXPECT_NE(header.status().message().find("source"), std::string::npos) << header.status().message();

  auto empty = read_edge_csv(dir.write("x.csv", "source,target\na,\n"));
  ASSERT_FALSE(empty.is_ok());
  EXPECT_NE(empty.status().to_string().find("x.csv:2:target"), std::string::npos) << empty.status().to_string();

  auto missing = read_edge_csv(dir / "absent.csv");
  EXPECT_FALSE(missing.is_ok());
}

TEST(PowerLaw, IsTheMaximumLikelihoodFormulaOverThePositiveDegrees) {
  const std::vector<std::uint32_t> degrees = {0, 1, 1, 2, 4, 0};
  PowerLaw law = fit_power_law(degrees);
  EXPECT_EQ(law.d_min, 1u);
  EXPECT_EQ(law.tail_nodes, 4u);
  EXPECT_DOUBLE_EQ(law.alpha, 1.0 + 4.0 / (std::log(2.0) + std::log(4.0)));

  const std::vector<std::uint32_t> flat = {3, 3, 3};
  EXPECT_TRUE(std::isinf(fit_power_law(flat).alpha));
  const std::vector<std::uint32_t> none = {0, 0};
  EXPECT_EQ(fit_power_law(none).d_min, 0u);
}

TEST(PowerLaw, NeighbourhoodShrinksWithInDegreeAsTheLawSays) {
  PowerLaw law;
  law.alpha = 2.0;
  law.d_min = 1;
  NeighbourhoodSize limits{4, 24};
  EXPECT_EQ(neighbourhood_size(0, law, limits), 24);
  EXPECT_EQ(neighbourhood_size(1, law, limits), 24);
  EXPECT_EQ(neighbourhood_size(2, law, limits), 12);
  EXPECT_EQ(neighbourhood_size(4, law, limits), 6);
  EXPECT_EQ(neighbourhood_size(100, law, limits), 4);
  int previous = 1000;
  for (std::uint32_t d = 0; d < 200; ++d) {
    const int size = neighbourhood_size(d, law, limits);
    EXPECT_LE(size, previous);
    previous = size;
  }
  EXPECT_EQ(neighbourhood_size(5, PowerLaw{}, limits), 24);
}

// A star: centre 0 points at 1..4; node k also has k in-edges from extra nodes, so the
// targets' in-degrees are 2, 3, 4, 5.
DirectedGraph biased_star() {
  std::vector<Edge> edges;
  NodeId next = 5;
  for (NodeId k = 1; k <= 4; ++k) {
    edges.push_back({0, k, 1});
    for (NodeId j = 0; j < k; ++j) edges.push_back({next++, k, 1});
  }
  return make(next, edges);
}

TEST(NeighbourSampler, ProbabilitiesFollowTheDegreeFormulaAndDrawsMatchThem) {
  DirectedGraph g = biased_star();
  NeighbourSampler uniform(g, 0.0), biased(g, 1.0);
  double total = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(uniform.probability(0, Direction::kOut, i), 0.25);
    total += biased.probability(0, Direction::kOut, i);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  // (1 + d_in)^1 over 3 + 4 + 5 + 6 = 18.
  EXPECT_DOUBLE_EQ(biased.probability(0, Direction::kOut, 0), 3.0 / 18.0);
  EXPECT_DOUBLE_EQ(biased.probability(0, Direction::kOut, 3), 6.0 / 18.0);
  // In-direction uses the neighbours' out-degrees: node 1's in-neighbours are 0 (out-degree 4)
  // and 5 (out-degree 1).
  EXPECT_DOUBLE_EQ(biased.probability(1, Direction::kIn, 0), 5.0 / 7.0);

  for (const NeighbourSampler* sampler : {&uniform, &biased}) {
    std::mt19937_64 rng(7);
    std::map<NodeId, int> counts;
    const int draws = 200000;
    for (int i = 0; i < draws; ++i) ++counts[sampler->draw(0, Direction::kOut, rng)];
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(counts[g.out(0)[i]] / static_cast<double>(draws), sampler->probability(0, Direction::kOut, i), 0.005)
          << "beta " << sampler->beta() << " neighbour " << i;
    }
  }
}

TEST(NeighbourSampler, SmallNeighbourhoodsReachTheSecondHop) {
  // 0 -> 1 -> {2, 3}; 0 -> 4 (4 has no out-edges).
  DirectedGraph g = make(5, {{0, 1, 1}, {1, 2, 1}, {1, 3, 1}, {0, 4, 1}});
  NeighbourSampler sampler(g, 0.0);
  std::mt19937_64 rng(1);
  SampledNeighbourhood hood;
  sample_neighbourhood(sampler, g, 0, Direction::kOut, 10, rng, &hood);
  EXPECT_EQ(hood.hop1.size(), 2u);
  EXPECT_FALSE(hood.hop2.empty());
  EXPECT_LE(hood.hop2.size(), 8u);  // walks through 4 dead-end
  for (NodeId v : hood.hop1) EXPECT_TRUE(v == 1 || v == 4);
  for (NodeId v : hood.hop2) EXPECT_TRUE(v == 2 || v == 3);
  // A neighbourhood no larger than the degree stays on the first hop.
  sample_neighbourhood(sampler, g, 1, Direction::kOut, 2, rng, &hood);
  EXPECT_EQ(hood.hop1.size(), 2u);
  EXPECT_TRUE(hood.hop2.empty());
  // In-direction: 2's in-neighbour is 1, whose in-neighbour is 0.
  sample_neighbourhood(sampler, g, 2, Direction::kIn, 3, rng, &hood);
  EXPECT_EQ(hood.hop1, (std::vector<NodeId>{1}));
  EXPECT_EQ(hood.hop2, (std::vector<NodeId>{0, 0}));
}

}  // namespace
}  // namespace aisle::graph
