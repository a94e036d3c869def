#include "aisle/models/entity_aligner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace aisle::models {
namespace {

using graph::EntityId;
using graph::KnowledgeGraph;

// A random multi-relational graph and a copy with permuted entity ids and renamed relations
// (a few triples dropped from the copy), with the true links.
struct GraphPair {
  KnowledgeGraph left, right;
  std::vector<std::pair<EntityId, EntityId>> truth;  // left id -> right id
};

GraphPair make_pair(int n, int edges_per_node, double drop, std::uint64_t seed, bool names, bool shuffle_names = false) {
  std::mt19937_64 rng(seed);
  std::vector<int> permutation(static_cast<std::size_t>(n));
  std::iota(permutation.begin(), permutation.end(), 0);
  std::shuffle(permutation.begin(), permutation.end(), rng);
  GraphPair p;
  std::vector<std::string> words = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
                                    "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"};
  for (int i = 0; i < n; ++i) p.left.add_entity("l" + std::to_string(i));
  for (int i = 0; i < n; ++i) p.right.add_entity("r" + std::to_string(i));
  for (int r = 0; r < 6; ++r) {
    p.left.add_relation("rel" + std::to_string(r));
    p.right.add_relation("другое" + std::to_string(r));
  }
  std::uniform_int_distribution<int> node(0, n - 1), relation(0, 5);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = 0; i < n; ++i) {
    for (int e = 0; e < edges_per_node; ++e) {
      const int t = node(rng), r = relation(rng);
      EXPECT_TRUE(p.left.add_triple(static_cast<EntityId>(i), static_cast<graph::RelationId>(r), static_cast<EntityId>(t)).is_ok());
      if (unit(rng) >= drop) {
        EXPECT_TRUE(p.right.add_triple(static_cast<EntityId>(permutation[static_cast<std::size_t>(i)]), static_cast<graph::RelationId>(r),
                                       static_cast<EntityId>(permutation[static_cast<std::size_t>(t)])).is_ok());
      }
    }
    if (names) {
      std::string name = words[static_cast<std::size_t>(i) % words.size()] + " " + words[static_cast<std::size_t>(i / 18) % words.size()] + " " + std::to_string(i);
      p.left.set_name(static_cast<EntityId>(i), name);
      p.right.set_name(static_cast<EntityId>(permutation[static_cast<std::size_t>(i)]), shuffle_names ? "x" : name);
    }
    p.truth.emplace_back(static_cast<EntityId>(i), static_cast<EntityId>(permutation[static_cast<std::size_t>(i)]));
  }
  p.left.finalize();
  p.right.finalize();
  return p;
}

AlignerConfig small_config() {
  AlignerConfig c;
  c.dim = 32;
  c.cap = 8;
  c.inference_draws = 1;
  c.rerank = 5;
  c.name_features_dim = 64;
  c.name_buckets = 1 << 12;
  return c;
}

AlignerTrainOptions small_training() {
  AlignerTrainOptions t;
  t.epochs = 40;
  t.batch_size = 64;
  t.hard_negatives = 5;
  t.bootstrap_rounds = 0;
  t.validation_fraction = 0.2;
  return t;
}

// Hits@1 of the non-seed links.
double held_out_hits(const EntityAligner& aligner, const GraphPair& p, std::size_t seeds, OneToOne mode) {
  std::vector<EntityId> queries, candidates;
  for (std::size_t i = seeds; i < p.truth.size(); ++i) {
    queries.push_back(p.truth[i].first);
    candidates.push_back(p.truth[i].second);
  }
  std::vector<std::size_t> ranks;
  auto top = aligner.rank(queries, candidates, 3, mode, Context::for_tests(), candidates, &ranks);
  EXPECT_TRUE(top.is_ok()) << top.status().to_string();
  if (!top.is_ok()) return 0;
  double hits = 0;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    hits += ranks[i] == 1 ? 1 : 0;
    EXPECT_EQ((*top)[i].size(), 3u);
    EXPECT_EQ(ranks[i] == 1, (*top)[i][0].right == candidates[i] || (*top)[i][0].score == (*top)[i][1].score);
  }
  return hits / static_cast<double>(ranks.size());
}

TEST(EntityAligner, AlignsAPermutedCopyFromStructureAlone) {
  GraphPair p = make_pair(300, 4, 0.1, 7, false);
  const std::size_t seeds = 90;  // 30 %, as DBP15K
  graph::EntityLinks train(p.truth.begin(), p.truth.begin() + seeds);
  auto aligner = EntityAligner::create(small_config(), Context::for_tests());
  ASSERT_TRUE(aligner.is_ok());
  auto report = (*aligner)->train(p.left, p.right, train, small_training(), Context::for_tests());
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->train_links + report->validation_links, seeds);
  EXPECT_EQ(report->name_weight, 0.0);  // no names
  const double hits = held_out_hits(**aligner, p, seeds, OneToOne::kNone);
  const double one_to_one = held_out_hits(**aligner, p, seeds, OneToOne::kSinkhorn);
  // Chance is 1 / 210.
  EXPECT_GT(hits, 0.6);  // 0.78 measured
  EXPECT_GE(one_to_one, hits - 0.05);
}

TEST(EntityAligner, NamesAlignWhereStructureCannotAndAreIgnoredWhenOff) {
  // The right graph's triples are unrelated to the left's (drop = 1: no triple is copied).
  GraphPair p = make_pair(200, 3, 1.0, 11, true);
  graph::EntityLinks train(p.truth.begin(), p.truth.begin() + 60);
  AlignerTrainOptions t = small_training();
  t.epochs = 10;
  auto with = EntityAligner::create(small_config(), Context::for_tests());
  ASSERT_TRUE(with.is_ok());
  ASSERT_TRUE((*with)->train(p.left, p.right, train, t, Context::for_tests()).is_ok());
  EXPECT_GT(held_out_hits(**with, p, 60, OneToOne::kNone), 0.95);  // 1.0 measured

  AlignerConfig no_names = small_config();
  no_names.use_names = false;
  auto without = EntityAligner::create(no_names, Context::for_tests());
  ASSERT_TRUE(without.is_ok());
  ASSERT_TRUE((*without)->train(p.left, p.right, train, t, Context::for_tests()).is_ok());
  EXPECT_LT(held_out_hits(**without, p, 60, OneToOne::kNone), 0.1);  // chance: 1 / 140
}

TEST(EntityAligner, IsDeterministicAndRejectsBadInput) {
  GraphPair p = make_pair(80, 3, 0.0, 3, false);
  graph::EntityLinks train(p.truth.begin(), p.truth.begin() + 30);
  AlignerTrainOptions t = small_training();
  t.epochs = 3;
  std::vector<float> scores[2];
  for (int run = 0; run < 2; ++run) {
    auto aligner = EntityAligner::create(small_config(), Context::for_tests());
    ASSERT_TRUE(aligner.is_ok());
    ASSERT_TRUE((*aligner)->train(p.left, p.right, train, t, Context::for_tests()).is_ok());
    std::vector<EntityId> queries = {40, 41, 42};
    auto top = (*aligner)->rank(queries, {}, 5, OneToOne::kNone, Context::for_tests());
    ASSERT_TRUE(top.is_ok());
    for (const auto& row : *top) {
      for (const auto& pair : row) scores[run].push_back(pair.score);
    }
  }
  EXPECT_EQ(scores[0], scores[1]);

  auto aligner = EntityAligner::create(small_config(), Context::for_tests());
  ASSERT_TRUE(aligner.is_ok());
  std::vector<EntityId> queries = {0};
  EXPECT_FALSE((*aligner)->rank(queries, {}, 1, OneToOne::kNone, Context::for_tests()).is_ok());  // not trained
  EXPECT_FALSE((*aligner)->train(p.left, p.right, {}, t, Context::for_tests()).is_ok());
  graph::EntityLinks out_of_range = {{0, 999}};
  EXPECT_FALSE((*aligner)->train(p.left, p.right, out_of_range, t, Context::for_tests()).is_ok());
  AlignerConfig bad = small_config();
  bad.cap = 0;
  EXPECT_FALSE(EntityAligner::create(bad, Context::for_tests()).is_ok());
}

TEST(EntityAligner, CslsMatchesItsDefinition) {
  const std::size_t rows = 4, cols = 5;
  std::vector<float> s(rows * cols);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  for (float& x : s) x = u(rng);
  std::vector<float> out = s;
  csls(&out, rows, cols, 2);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < cols; ++j) {
      std::vector<float> row(s.begin() + static_cast<std::ptrdiff_t>(i * cols), s.begin() + static_cast<std::ptrdiff_t>((i + 1) * cols));
      std::vector<float> col;
      for (std::size_t r = 0; r < rows; ++r) col.push_back(s[r * cols + j]);
      std::sort(row.rbegin(), row.rend());
      std::sort(col.rbegin(), col.rend());
      const double expected = 2.0 * s[i * cols + j] - (row[0] + row[1]) / 2.0 - (col[0] + col[1]) / 2.0;
      EXPECT_NEAR(out[i * cols + j], expected, 1e-5);
    }
  }
}

TEST(EntityAligner, SinkhornIsDoublyStochasticAndFindsTheAssignment) {
  // Row 0 prefers column 0 slightly, row 1 prefers column 0 strongly: one-to-one gives 0->1, 1->0.
  std::vector<float> s = {0.9f, 0.85f, 0.1f, 0.95f, 0.2f, 0.1f, 0.1f, 0.1f, 0.8f};
  sinkhorn(&s, 3, 3, 0.05, 50);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(s[i * 3] + s[i * 3 + 1] + s[i * 3 + 2], 1.0, 0.02);  // rows converge slowly here
    EXPECT_NEAR(s[i] + s[3 + i] + s[6 + i], 1.0, 1e-5);
  }
  EXPECT_GT(s[1], s[0]);
  EXPECT_GT(s[3], s[4]);
  EXPECT_GT(s[8], 0.9f);
}

}  // namespace
}  // namespace aisle::models
