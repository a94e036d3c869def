#include "aisle/vector/vector_index.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <random>
#include <set>

#include "test_util.h"

namespace aisle::vector {
namespace {

constexpr int kDim = 24;

// Clustered vectors (as embeddings are): 40 centres, each point a centre plus noise.
struct Data {
  std::vector<std::vector<float>> vectors;
  std::vector<std::string> locales, categories;
};

Data make_data(int n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0, 1);
  std::vector<std::vector<float>> centres(40, std::vector<float>(kDim));
  for (auto& centre : centres) {
    for (float& value : centre) value = normal(rng);
  }
  Data data;
  const char* locales[] = {"en", "en", "en", "es", "es", "ja"};
  const char* categories[] = {"Tools > Saws", "Tools > Drills", "Tools", "Garden > Hoses", "Garden > Hoses > Reels",
                              "Kitchen"};
  for (int i = 0; i < n; ++i) {
    const auto& centre = centres[static_cast<std::size_t>(rng() % centres.size())];
    std::vector<float> vector(kDim);
    for (int d = 0; d < kDim; ++d) vector[d] = centre[d] + 0.6f * normal(rng);
    data.vectors.push_back(std::move(vector));
    // "fr" is rare (1 in 100): its filter goes to the exact scan.
    data.locales.push_back(i % 100 == 7 ? "fr" : locales[rng() % 6]);
    data.categories.push_back(categories[rng() % 6]);
  }
  return data;
}

std::vector<VectorItem> items_of(const Data& data, int begin, int end) {
  std::vector<VectorItem> items;
  for (int i = begin; i < end; ++i) {
    items.push_back(VectorItem{ProductId(static_cast<std::uint32_t>(i)), data.locales[i], data.categories[i],
                               data.vectors[i]});
  }
  return items;
}

std::unique_ptr<VectorIndex> build(IndexKind kind, const Data& data, Metric metric = Metric::kCosine) {
  VectorIndexOptions options;
  options.kind = kind;
  options.metric = metric;
  options.dim = kDim;
  auto index = VectorIndex::create(options);
  EXPECT_TRUE(index.is_ok()) << index.status().to_string();
  auto items = items_of(data, 0, static_cast<int>(data.vectors.size()));
  EXPECT_TRUE((*index)->add(items, Context::for_tests()).is_ok());
  return std::move(index).value();
}

double recall_at(const std::vector<Neighbor>& approximate, const std::vector<Neighbor>& exact) {
  if (exact.empty()) return approximate.empty() ? 1.0 : 0.0;
  std::set<std::uint32_t> truth;
  for (const Neighbor& n : exact) truth.insert(n.product.value());
  int found = 0;
  for (const Neighbor& n : approximate) found += truth.count(n.product.value()) ? 1 : 0;
  return static_cast<double>(found) / static_cast<double>(exact.size());
}

std::vector<float> unit(std::vector<float> v) {
  normalize(v);
  return v;
}

TEST(ExactIndex, MatchesBruteForceCosineWithTiesByProductId) {
  Data data = make_data(600, 1);
  // Two identical vectors: their tie must be broken by the smaller product id.
  data.vectors[11] = data.vectors[5];
  auto index = build(IndexKind::kExact, data);
  std::vector<float> query = data.vectors[5];
  VectorSearchOptions options;
  options.k = 20;
  auto hits = index->search(query, options);
  ASSERT_TRUE(hits.is_ok());
  std::vector<std::pair<float, std::uint32_t>> brute;
  auto q = unit(query);
  for (std::size_t i = 0; i < data.vectors.size(); ++i) {
    auto v = unit(data.vectors[i]);
    double d = 0;
    for (int j = 0; j < kDim; ++j) d += static_cast<double>(q[j]) * v[j];
    brute.emplace_back(static_cast<float>(d), static_cast<std::uint32_t>(i));
  }
  std::sort(brute.begin(), brute.end(), [](auto a, auto b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
  ASSERT_EQ(hits->size(), 20u);
  EXPECT_EQ((*hits)[0].product.value(), 5u);
  EXPECT_EQ((*hits)[1].product.value(), 11u);
  for (std::size_t i = 0; i < hits->size(); ++i) {
    EXPECT_EQ((*hits)[i].product.value(), brute[i].second) << i;
    EXPECT_NEAR((*hits)[i].score, brute[i].first, 1e-5);
  }
}

TEST(ExactIndex, InnerProductScoresAreRawDotProducts) {
  Data data = make_data(50, 2);
  auto index = build(IndexKind::kExact, data, Metric::kInnerProduct);
  VectorSearchOptions options;
  options.k = 1;
  std::vector<float> query(kDim, 0.0f);
  query[0] = 2.0f;
  auto hits = index->search(query, options);
  ASSERT_TRUE(hits.is_ok());
  float best = -1e30f;
  for (const auto& v : data.vectors) best = std::max(best, 2.0f * v[0]);
  EXPECT_NEAR((*hits)[0].score, best, 1e-4);
}

TEST(HnswIndex, RecallAgainstExactTwinAtLeast95Percent) {
  Data data = make_data(6000, 3);
  auto hnsw = build(IndexKind::kHnsw, data);
  auto exact = build(IndexKind::kExact, data);
  Data queries = make_data(200, 4);
  VectorSearchOptions options;
  options.k = 10;
  options.ef = 64;
  double recall = 0;
  for (const auto& query : queries.vectors) {
    auto a = hnsw->search(query, options);
    auto b = exact->search(query, options);
    ASSERT_TRUE(a.is_ok() && b.is_ok());
    ASSERT_EQ(a->size(), 10u);
    recall += recall_at(*a, *b);
    // Scores of the approximate index are true cosines, not estimates.
    for (const Neighbor& n : *a) {
      auto q = unit(query);
      auto v = unit(data.vectors[n.product.value()]);
      double d = 0;
      for (int j = 0; j < kDim; ++j) d += static_cast<double>(q[j]) * v[j];
      EXPECT_NEAR(n.score, d, 1e-4);
    }
  }
  EXPECT_GE(recall / 200, 0.95);
}

TEST(HnswIndex, FilteredSearchKeepsRecallAndOnlyReturnsMatchingItems) {
  Data data = make_data(6000, 5);
  auto hnsw = build(IndexKind::kHnsw, data);
  auto exact = build(IndexKind::kExact, data);
  Data queries = make_data(100, 6);
  struct Case {
    VectorFilter filter;
    double min_recall;
  };
  std::vector<Case> cases = {
      {VectorFilter{"en", ""}, 0.95},              // half the index: the filtered walk
      {VectorFilter{"", "Garden > Hoses"}, 0.95},  // a subtree (two paths): the filtered walk
      {VectorFilter{"ja", "Kitchen"}, 1.0},        // ~3%: the exact scan of the subset
      {VectorFilter{"fr", ""}, 1.0},               // 1%: the exact scan
  };
  for (const Case& c : cases) {
    VectorSearchOptions options;
    options.k = 10;
    options.filter = c.filter;
    options.exact_below = 100;  // so the filtered walk is what answers the broad filters
    double recall = 0;
    for (const auto& query : queries.vectors) {
      auto a = hnsw->search(query, options);
      auto b = exact->search(query, options);
      ASSERT_TRUE(a.is_ok() && b.is_ok());
      for (const Neighbor& n : *a) {
        if (!c.filter.locale.empty()) {
          EXPECT_EQ(data.locales[n.product.value()], c.filter.locale);
        }
        if (!c.filter.category_prefix.empty()) {
          EXPECT_TRUE(data.categories[n.product.value()].starts_with(c.filter.category_prefix));
        }
      }
      recall += recall_at(*a, *b);
    }
    EXPECT_GE(recall / 100, c.min_recall) << c.filter.locale << " / " << c.filter.category_prefix;
  }
  // "Tools > Saw" is a prefix of a path's text but not of its levels: nothing matches.
  VectorSearchOptions options;
  options.filter.category_prefix = "Tools > Saw";
  EXPECT_TRUE(hnsw->search(queries.vectors[0], options)->empty());
  EXPECT_TRUE(exact->search(queries.vectors[0], options)->empty());
  options.filter = VectorFilter{"de", ""};
  EXPECT_TRUE(hnsw->search(queries.vectors[0], options)->empty());
}

TEST(VectorIndex, UpsertAndRemoveAreVisibleToTheNextSearch) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kExact}) {
    SCOPED_TRACE(index_kind_name(kind));
    Data data = make_data(1000, 7);
    auto index = build(kind, data);
    VectorSearchOptions options;
    options.k = 1;
    auto hits = index->search(data.vectors[42], options);
    ASSERT_EQ((*hits)[0].product.value(), 42u);
    std::vector<ProductId> gone = {ProductId(42), ProductId(999), ProductId(5000)};
    EXPECT_EQ(index->remove(gone), 2u);
    EXPECT_FALSE(index->contains(ProductId(42)));
    EXPECT_EQ(index->stats().items, 998u);
    options.k = 1000;
    hits = index->search(data.vectors[42], options);
    EXPECT_EQ(hits->size(), 998u);
    for (const Neighbor& n : *hits) EXPECT_NE(n.product.value(), 42u);
    // Re-adding 42 with the vector of 7 puts it next to 7.
    std::vector<VectorItem> again = {VectorItem{ProductId(42), "en", "Tools", data.vectors[7]}};
    ASSERT_TRUE(index->add(again, Context::for_tests()).is_ok());
    options.k = 2;
    hits = index->search(data.vectors[7], options);
    std::set<std::uint32_t> top = {(*hits)[0].product.value(), (*hits)[1].product.value()};
    EXPECT_EQ(top, (std::set<std::uint32_t>{7, 42}));
    EXPECT_EQ(index->stats().items, 999u);
    // The locale and category of an upserted item are the new ones.
    options.filter.locale = "en";
    options.filter.category_prefix = "Tools";
    options.exact_below = 0;
    options.exact_fraction = 0;
    options.k = 1;
    EXPECT_EQ((*index->search(data.vectors[7], options))[0].product.value(), data.locales[7] == "en" &&
                                                                                     data.categories[7].starts_with("Tools")
                                                                                 ? 7u
                                                                                 : 42u);
  }
}

TEST(VectorIndex, BadItemsAreRejectedWholeAndNameTheItem) {
  Data data = make_data(10, 8);
  auto index = build(IndexKind::kHnsw, data);
  std::vector<float> short_vector(kDim - 1, 1.0f);
  std::vector<float> nan_vector(kDim, 1.0f);
  nan_vector[3] = std::nanf("");
  std::vector<float> zero(kDim, 0.0f);
  std::vector<VectorItem> batch = {VectorItem{ProductId(100), "en", "", data.vectors[0]},
                                   VectorItem{ProductId(101), "en", "", short_vector}};
  Status status = index->add(batch, Context::for_tests());
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_NE(status.message().find("vector item 1 (product 101)"), std::string::npos) << status.message();
  EXPECT_FALSE(index->contains(ProductId(100)));
  batch[1].vector = nan_vector;
  EXPECT_NE(index->add(batch, Context::for_tests()).message().find("not finite"), std::string::npos);
  batch[1].vector = zero;
  EXPECT_NE(index->add(batch, Context::for_tests()).message().find("zero vector"), std::string::npos);
  EXPECT_EQ(index->stats().items, 10u);
  VectorSearchOptions options;
  EXPECT_EQ(index->search(short_vector, options).status().code(), StatusCode::kBadInput);
  options.k = 0;
  EXPECT_EQ(index->search(data.vectors[0], options).status().code(), StatusCode::kBadInput);
  VectorIndexOptions bad;
  EXPECT_EQ(VectorIndex::create(bad).status().code(), StatusCode::kBadInput);
}

TEST(VectorIndex, SaveAndOpenGiveTheSameAnswersAndDamageIsDetected) {
  for (IndexKind kind : {IndexKind::kHnsw, IndexKind::kExact}) {
    SCOPED_TRACE(index_kind_name(kind));
    testing::TempDir dir;
    Data data = make_data(1500, 9);
    auto index = build(kind, data);
    std::vector<ProductId> gone = {ProductId(3)};
    index->remove(gone);
    ASSERT_TRUE(index->save(dir / "v").is_ok());
    ASSERT_TRUE(index->save(dir / "v").is_ok());  // generation 2 replaces generation 1
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir / "v")) {
      ++files;
      EXPECT_EQ(entry.path().filename().string().find(".1."), std::string::npos) << entry.path();
    }
    EXPECT_EQ(files, 3);
    auto loaded = VectorIndex::open(dir / "v");
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_EQ((*loaded)->stats().items, 1499u);
    EXPECT_FALSE((*loaded)->contains(ProductId(3)));
    VectorSearchOptions options;
    options.k = 10;
    options.filter.locale = "es";
    for (int q = 0; q < 20; ++q) {
      auto a = index->search(data.vectors[q * 7], options);
      auto b = (*loaded)->search(data.vectors[q * 7], options);
      ASSERT_EQ(a->size(), b->size());
      for (std::size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].product, (*b)[i].product);
    }
    // Add after load, then flip one byte of a data file: open refuses it.
    std::vector<VectorItem> more = items_of(make_data(5, 10), 0, 5);
    for (auto& item : more) item.product = ProductId(item.product.value() + 5000);
    ASSERT_TRUE((*loaded)->add(more, Context::for_tests()).is_ok());
    EXPECT_EQ((*loaded)->stats().items, 1504u);
    for (const auto& entry : std::filesystem::directory_iterator(dir / "v")) {
      if (entry.path().filename().string().starts_with("items")) {
        std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(40);
        file.put('\x7f');
      }
    }
    auto damaged = VectorIndex::open(dir / "v");
    EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
    EXPECT_NE(damaged.status().message().find("checksum"), std::string::npos);
    EXPECT_EQ(VectorIndex::open(dir / "nothing").status().code(), StatusCode::kNotFound);
  }
}

// Manifests found by fuzz_vectors: a field of the wrong type made open() throw (the process
// aborted), a huge "dim" was an undefined cast, and a file name could leave the directory.
TEST(VectorIndex, AManifestThatLiesIsCorruptionNotACrash) {
  testing::TempDir dir;
  Data data = make_data(50, 3);
  auto index = build(IndexKind::kExact, data);
  ASSERT_TRUE(index->save(dir / "v").is_ok());
  std::ifstream in(dir / "v" / "MANIFEST.json");
  const nlohmann::json good = nlohmann::json::parse(in);
  in.close();
  auto open_with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json manifest = good;
    change(manifest);
    std::ofstream(dir / "v" / "MANIFEST.json", std::ios::trunc) << manifest.dump();
    return VectorIndex::open(dir / "v").status();
  };
  EXPECT_TRUE(open_with([](nlohmann::json&) {}).is_ok());
  EXPECT_EQ(open_with([](nlohmann::json& m) { m["format"] = nlohmann::json::object(); }).code(), StatusCode::kCorruption);
  EXPECT_EQ(open_with([](nlohmann::json& m) { m["version"] = "one"; }).code(), StatusCode::kCorruption);
  EXPECT_EQ(open_with([](nlohmann::json& m) { m["dim"] = 1e300; }).code(), StatusCode::kCorruption);
  EXPECT_EQ(open_with([](nlohmann::json& m) { m["dim"] = -4; }).code(), StatusCode::kCorruption);
  EXPECT_EQ(open_with([](nlohmann::json& m) {
              for (auto& [role, entry] : m["files"].items()) entry["bytes"] = "many";
            }).code(),
            StatusCode::kCorruption);
  const Status outside = open_with([](nlohmann::json& m) {
    for (auto& [role, entry] : m["files"].items()) entry["name"] = "../elsewhere.bin";
  });
  EXPECT_EQ(outside.code(), StatusCode::kCorruption);
  EXPECT_NE(outside.message().find("not a file of this directory"), std::string::npos) << outside.to_string();
}

}  // namespace
}  // namespace aisle::vector
