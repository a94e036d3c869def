#include "aisle/models/blade.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>

#include "test_util.h"

namespace aisle::models {
namespace {

using graph::DirectedGraph;
using graph::Edge;
using graph::NodeId;

DirectedGraph make(std::size_t n, const std::vector<Edge>& edges) {
  auto graph = DirectedGraph::from_edges(n, edges);
  EXPECT_TRUE(graph.is_ok()) << graph.status().message();
  return std::move(*graph);
}

BladeConfig small(bool dual) {
  BladeConfig config;
  config.dim = 16;
  config.dual = dual;
  config.limits = {2, 8};
  config.fixed_size = 4;
  config.features.buckets = 1 << 10;
  config.text_embedding_dim = 8;
  return config;
}

BladeTrainOptions quick(int epochs) {
  BladeTrainOptions options;
  options.epochs = epochs;
  options.batch_size = 32;
  options.negatives = 32;
  options.learning_rate = 0.02;
  return options;
}

// Phones 0..9 point at cases 10..19 (phone i -> case i and case i+1), one way; phones also
// point at each other both ways (i <-> i+1), so they have in-edges of their own.
DirectedGraph phones_and_cases() {
  std::vector<Edge> edges;
  for (NodeId i = 0; i < 10; ++i) {
    edges.push_back({i, 10 + i, 1});
    edges.push_back({i, 10 + (i + 1) % 10, 1});
    edges.push_back({i, (i + 1) % 10, 1});
    edges.push_back({(i + 1) % 10, i, 1});
  }
  return make(20, edges);
}

TEST(Blade, DualVectorsLearnTheDirectionOfOneWayEdgesAndSymmetricOnesCannot) {
  Context context = Context::for_tests();
  DirectedGraph g = phones_and_cases();
  auto dual = Blade::create(small(true), context);
  ASSERT_TRUE(dual.is_ok()) << dual.status().message();
  auto report = (*dual)->train(g, {}, {}, quick(60), context);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->epochs, 60);
  EXPECT_GT(report->in_degree_law.d_min, 0u);
  int right = 0, one_way = 0;
  for (NodeId u = 0; u < 20; ++u) {
    for (NodeId v : g.out(u)) {
      if (g.has_edge(v, u)) continue;
      ++one_way;
      right += (*dual)->score(u, v) > (*dual)->score(v, u) ? 1 : 0;
    }
  }
  EXPECT_EQ(one_way, 20);
  EXPECT_GE(right, 19) << right << " of " << one_way;

  auto symmetric = Blade::create(small(false), context);
  ASSERT_TRUE(symmetric.is_ok());
  ASSERT_TRUE((*symmetric)->train(g, {}, {}, quick(20), context).is_ok());
  for (NodeId u = 0; u < 10; ++u) {
    EXPECT_FLOAT_EQ((*symmetric)->score(u, 10 + u), (*symmetric)->score(10 + u, u));
  }
}

// Four planted communities of 25 nodes with random edges inside; a tenth of the edges held
// out. Ranking all nodes for a held-out edge's source must put its target in the top 10 far
// more often than chance (10 / 99).
TEST(Blade, RanksHeldOutEdgesOfPlantedCommunitiesFarAboveChance) {
  std::mt19937_64 rng(3);
  std::vector<Edge> train, test;
  std::bernoulli_distribution edge(0.2), held(0.1);
  for (NodeId u = 0; u < 100; ++u) {
    for (NodeId v = 0; v < 100; ++v) {
      if (u == v || u / 25 != v / 25 || !edge(rng)) continue;
      (held(rng) ? test : train).push_back({u, v, 1});
    }
  }
  DirectedGraph g = make(100, train);
  Context context = Context::for_tests();
  BladeConfig config = small(true);
  auto model = Blade::create(config, context);
  ASSERT_TRUE(model.is_ok());
  ASSERT_TRUE((*model)->train(g, {}, {}, quick(40), context).is_ok());
  int hits = 0;
  for (const Edge& e : test) {
    const float own = (*model)->score(e.source, e.target);
    int better = 0;
    for (NodeId w = 0; w < 100; ++w) {
      if (w == e.source || w == e.target || g.has_edge(e.source, w)) continue;
      better += (*model)->score(e.source, w) > own ? 1 : 0;
    }
    hits += better < 10 ? 1 : 0;
  }
  ASSERT_GT(test.size(), 40u);
  EXPECT_GT(hits / static_cast<double>(test.size()), 0.4) << hits << " of " << test.size();
}

TEST(Blade, IsSeededUsesTextAndRoundTripsThroughAFile) {
  aisle::testing::TempDir dir;
  Context context = Context::for_tests();
  DirectedGraph g = phones_and_cases();
  std::vector<text::Document> texts(20);
  std::vector<std::string> names;
  for (NodeId i = 0; i < 20; ++i) {
    texts[i].external_id = "P" + std::to_string(i);
    texts[i].locale = "en";
    texts[i].title = i < 10 ? "smartphone model " + std::to_string(i) : "phone case for model " + std::to_string(i - 10);
    names.push_back(texts[i].external_id);
  }
  auto first = Blade::create(small(true), context);
  auto second = Blade::create(small(true), context);
  ASSERT_TRUE((*first)->train(g, texts, names, quick(5), context).is_ok());
  ASSERT_TRUE((*second)->train(g, texts, names, quick(5), context).is_ok());
  EXPECT_EQ((*first)->sources(), (*second)->sources());
  EXPECT_EQ((*first)->targets(), (*second)->targets());

  const auto path = dir / "related.bin";
  ASSERT_TRUE((*first)->save(path).is_ok());
  auto loaded = Blade::load(path, context);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->names(), names);
  EXPECT_EQ((*loaded)->sources(), (*first)->sources());
  EXPECT_EQ((*loaded)->targets(), (*first)->targets());
  EXPECT_EQ((*loaded)->score(0, 10), (*first)->score(0, 10));
  // Training goes on from the loaded weights; a graph of another size is refused.
  EXPECT_TRUE((*loaded)->train(g, texts, names, quick(1), context).is_ok());
  EXPECT_FALSE((*loaded)->train(make(5, {{0, 1, 1}}), {}, {}, quick(1), context).is_ok());

  {
    std::fstream damaged(path, std::ios::in | std::ios::out | std::ios::binary);
    damaged.seekp(-5, std::ios::end);
    damaged.write("xx", 2);
  }
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
  auto truncated = Blade::load(path, context);
  ASSERT_FALSE(truncated.is_ok());
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Blade::load(dir / "absent.bin", context).status().code(), StatusCode::kNotFound);
}

TEST(Blade, RejectsBadConfigurationsAndInputs) {
  Context context = Context::for_tests();
  BladeConfig config = small(true);
  config.limits = {10, 5};
  EXPECT_EQ(Blade::create(config, context).status().code(), StatusCode::kBadInput);
  auto model = Blade::create(small(true), context);
  EXPECT_FALSE((*model)->train(make(3, {}), {}, {}, quick(1), context).is_ok());
  std::vector<std::string> wrong = {"only one"};
  EXPECT_FALSE((*model)->train(phones_and_cases(), {}, wrong, quick(1), context).is_ok());
}

}  // namespace
}  // namespace aisle::models
