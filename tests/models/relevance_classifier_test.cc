#include "aisle/models/relevance_classifier.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "test_util.h"

namespace aisle::models {
namespace {

ClassifierConfig small_config(LabelMode mode) {
  ClassifierConfig config;
  config.mode = mode;
  config.encoder.dim = 16;
  config.encoder.embedding_dim = 16;
  config.encoder.hidden = 32;
  config.encoder.features.buckets = 1 << 12;
  config.head_hidden = 32;
  config.graph.hidden = 16;
  return config;
}

text::Document product(const std::string& id, const std::string& title, const std::string& locale = "en") {
  text::Document d;
  d.external_id = id;
  d.title = title;
  d.locale = locale;
  return d;
}

int argmax(const float* row, int n) { return static_cast<int>(std::max_element(row, row + n) - row); }

// ESCI from text: a query names an item; the product with that item is Exact, the other
// colour of it a Substitute, its case a Complement, anything else Irrelevant.
RelevanceData esci_data() {
  RelevanceData data;
  const std::vector<std::string> items = {"phone", "laptop", "camera", "drill", "kettle", "guitar"};
  const std::vector<std::string> colours = {"red", "blue"};
  for (const std::string& item : items) {
    data.products.push_back(product(item + "-red", "red " + item));
    data.products.push_back(product(item + "-blue", "blue " + item));
    data.products.push_back(product(item + "-case", item + " case cover"));
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    for (std::size_t c = 0; c < colours.size(); ++c) {
      const auto q = static_cast<std::uint32_t>(data.queries.size());
      data.queries.push_back(colours[c] + " " + items[i]);
      data.query_locales.push_back("en");
      for (std::uint32_t p = 0; p < data.products.size(); ++p) {
        const std::size_t item = p / 3, kind = p % 3;
        float label = 3;  // I
        if (item == i && kind == c) label = 0;
        else if (item == i && kind < 2) label = 1;
        else if (item == i) label = 2;
        data.examples.push_back(RelevanceExample{q, p, label});
      }
    }
  }
  return data;
}

TEST(RelevanceClassifier, LearnsEsciClassesFromTextAndRoundTripsThroughAFile) {
  Context context = Context::for_tests();
  RelevanceData data = esci_data();
  ClassifierConfig config = small_config(LabelMode::kClasses);
  config.graph.enabled = false;
  auto classifier = RelevanceClassifier::create(config, context);
  ASSERT_TRUE(classifier.is_ok()) << classifier.status().message();
  ClassifierTrainOptions options;
  options.epochs = 1000;
  options.batch_size = 32;
  options.learning_rate = 5e-3;
  auto report = (*classifier)->train(data, nullptr, options, context);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->languages, std::vector<std::string>{"en"});

  std::vector<PairInput> pairs;
  for (const RelevanceExample& e : data.examples) {
    pairs.push_back(PairInput{data.queries[e.query], data.query_locales[e.query], &data.products[e.product]});
  }
  auto predicted = (*classifier)->predict(pairs, nullptr);
  ASSERT_TRUE(predicted.is_ok()) << predicted.status().message();
  ASSERT_EQ(predicted->size(), pairs.size() * 4);
  int correct = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const float* row = predicted->data() + i * 4;
    EXPECT_NEAR(row[0] + row[1] + row[2] + row[3], 1.0f, 1e-4);
    correct += argmax(row, 4) == static_cast<int>(data.examples[i].label) ? 1 : 0;
  }
  EXPECT_GE(correct, static_cast<int>(pairs.size() * 9 / 10)) << correct << " of " << pairs.size();

  testing::TempDir dir;
  ASSERT_TRUE((*classifier)->save(dir / "classifier.bin").is_ok());
  auto loaded = RelevanceClassifier::load(dir / "classifier.bin", context);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  auto again = (*loaded)->predict(pairs, nullptr);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(*again, *predicted);

  // Errors: a locale without towers, a damaged file, labels out of range.
  text::Document spanish = product("x", "zapato", "es");
  std::vector<PairInput> unknown = {PairInput{"zapato", "es", &spanish}};
  EXPECT_EQ((*loaded)->predict(unknown, nullptr).status().code(), StatusCode::kBadInput);
  std::string bytes;
  {
    std::ifstream in(dir / "classifier.bin", std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  dir.write("damaged.bin", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(RelevanceClassifier::load(dir / "damaged.bin", context).status().code(), StatusCode::kCorruption);
  dir.write("foreign.bin", "not a classifier at all");
  EXPECT_EQ(RelevanceClassifier::load(dir / "foreign.bin", context).status().code(), StatusCode::kCorruption);
  RelevanceData bad = data;
  bad.examples[0].label = 4;
  EXPECT_EQ((*classifier)->train(bad, nullptr, options, context).status().code(), StatusCode::kBadInput);
}

TEST(EngagementGraph, SumsParallelEdgesSortsHeaviestFirstAndFindsNodesByKey) {
  RelevanceData data;
  data.queries = {"Red  Shoe", "lamp"};
  data.query_locales = {"en", "en"};
  data.products = {product("a", "red shoe"), product("b", "blue shoe"), product("c", "lamp")};
  data.engagement = {{0, 0, 1}, {0, 1, 2}, {0, 0, 4}, {1, 2, 1}, {1, 2, 0}, {7, 0, 1}};
  EngagementGraph graph(data);
  EXPECT_EQ(graph.edges(), 3u);  // the zero-weight edge and the out-of-range one are dropped
  ASSERT_EQ(graph.query_neighbours(0).size(), 2u);
  EXPECT_EQ(graph.query_neighbours(0)[0], (std::pair<std::uint32_t, float>{0, 5.0f}));
  EXPECT_EQ(graph.query_neighbours(0)[1], (std::pair<std::uint32_t, float>{1, 2.0f}));
  EXPECT_EQ(graph.product_neighbours(2).size(), 1u);
  EXPECT_EQ(graph.find_query(" red shoe ", "en"), std::optional<std::uint32_t>(0));
  EXPECT_FALSE(graph.find_query("red shoe", "de").has_value());
  EXPECT_EQ(graph.find_product("c"), std::optional<std::uint32_t>(2));
  EXPECT_FALSE(graph.find_product("zzz").has_value());
}

// The graph branch is wired in: with engagement, a pair's prediction depends on its
// neighbourhood, fine-tuned heads load back, and the same graph gives the same predictions.
TEST(RelevanceClassifier, GraphNeighbourhoodsChangePredictionsAndSurviveSaveAndLoad) {
  Context context = Context::for_tests();
  RelevanceData data = esci_data();
  // Exact pairs of half the queries are engagement (purchases).
  for (const RelevanceExample& e : data.examples) {
    if (e.label == 0 && e.query % 2 == 0) data.engagement.push_back(Engagement{e.query, e.product, engagement_weight("purchase")});
  }
  EngagementGraph graph(data);
  ClassifierConfig config = small_config(LabelMode::kClasses);
  auto created = RelevanceClassifier::create(config, context);
  ASSERT_TRUE(created.is_ok());
  auto& classifier = *created;
  ClassifierTrainOptions options;
  options.epochs = 20;
  options.batch_size = 32;
  options.learning_rate = 5e-3;
  auto report = classifier->train(data, &graph, options, context);
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  EXPECT_EQ(report->graph_edges, static_cast<std::int64_t>(graph.edges()));
  std::vector<PairInput> pairs;
  for (const RelevanceExample& e : data.examples) {
    pairs.push_back(PairInput{data.queries[e.query], data.query_locales[e.query], &data.products[e.product]});
  }
  auto with_graph = classifier->predict(pairs, &graph);
  auto without = classifier->predict(pairs, nullptr);
  ASSERT_TRUE(with_graph.is_ok() && without.is_ok());
  std::size_t changed = 0;
  for (std::size_t i = 0; i < with_graph->size(); ++i) changed += std::abs((*with_graph)[i] - (*without)[i]) > 1e-6f ? 1 : 0;
  EXPECT_GT(changed, with_graph->size() / 2);

  testing::TempDir dir;
  ASSERT_TRUE(classifier->save(dir / "classifier.bin").is_ok());
  auto loaded = RelevanceClassifier::load(dir / "classifier.bin", context);
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ(*(*loaded)->predict(pairs, &graph), *with_graph);
}

// Two languages with no shared words: alignment of parallel queries makes an English query's
// nearest German query its translation; without it the two towers' spaces are unrelated.
TEST(RelevanceClassifier, AlignmentPullsParallelQueriesTogetherAndFineTunesPerLocale) {
  Context context = Context::for_tests();
  const std::vector<std::pair<std::string, std::string>> words = {
      {"shoe", "schuh"}, {"jacket", "jacke"}, {"lamp", "leuchte"}, {"table", "tisch"}, {"chair", "stuhl"},
      {"watch", "uhr"},  {"glove", "handschuh"}, {"bottle", "flasche"}, {"pillow", "kissen"}, {"mirror", "spiegel"}};
  RelevanceData data;
  for (std::size_t i = 0; i < words.size(); ++i) {
    data.products.push_back(product("en" + std::to_string(i), words[i].first, "en"));
    data.products.push_back(product("de" + std::to_string(i), words[i].second, "de"));
    data.product_alignments.emplace_back(2 * i, 2 * i + 1);
  }
  for (std::size_t i = 0; i < words.size(); ++i) {
    data.queries.push_back(words[i].first), data.query_locales.push_back("en");
    data.queries.push_back(words[i].second), data.query_locales.push_back("de");
    const auto en = static_cast<std::uint32_t>(2 * i), de = static_cast<std::uint32_t>(2 * i + 1);
    data.query_alignments.emplace_back(en, de);
    for (std::uint32_t p = 0; p < data.products.size(); ++p) {
      const bool match = p / 2 == i;
      // Each query is judged against products of its own language.
      if (p % 2 == 0) data.examples.push_back(RelevanceExample{en, p, match ? 1.0f : 0.0f});
      else data.examples.push_back(RelevanceExample{de, p, match ? 1.0f : 0.0f});
    }
  }
  ClassifierTrainOptions options;
  options.epochs = 40;
  options.batch_size = 32;
  options.learning_rate = 5e-3;
  options.finetune_epochs = 2;
  options.finetune_min_examples = 10;
  auto recall_at_1 = [&](bool alignment, std::vector<std::string>* finetuned) {
    options.alignment = alignment;
    ClassifierConfig config = small_config(LabelMode::kBinary);
    config.graph.enabled = false;
    auto created = RelevanceClassifier::create(config, context);
    auto& classifier = *created;
    auto report = classifier->train(data, nullptr, options, context);
    EXPECT_TRUE(report.is_ok()) << report.status().message();
    if (finetuned != nullptr) *finetuned = report->finetuned_locales;
    std::vector<std::string> english, german;
    for (const auto& [en, de] : words) english.push_back(en), german.push_back(de);
    auto a = *classifier->encode_queries(english, "en");
    auto b = *classifier->encode_queries(german, "de");
    const std::size_t d = static_cast<std::size_t>(config.encoder.dim);
    int hits = 0;
    for (std::size_t i = 0; i < words.size(); ++i) {
      std::size_t best = 0;
      float best_score = -2;
      for (std::size_t j = 0; j < words.size(); ++j) {
        float score = 0;
        for (std::size_t k = 0; k < d; ++k) score += a[i * d + k] * b[j * d + k];
        if (score > best_score) best_score = score, best = j;
      }
      hits += best == i ? 1 : 0;
    }
    return static_cast<double>(hits) / words.size();
  };
  std::vector<std::string> finetuned;
  const double aligned = recall_at_1(true, &finetuned), unaligned = recall_at_1(false, nullptr);
  EXPECT_GE(aligned, 0.9);
  EXPECT_GE(aligned, unaligned + 0.4);
  EXPECT_EQ(finetuned, (std::vector<std::string>{"de", "en"}));
}

TEST(EngagementWeight, EventsAndJudgmentsHaveDocumentedWeights) {
  EXPECT_EQ(engagement_weight("click"), 1);
  EXPECT_EQ(engagement_weight("add_to_cart"), 2);
  EXPECT_EQ(engagement_weight("purchase"), 4);
  EXPECT_EQ(engagement_weight("E"), 4);
  EXPECT_EQ(engagement_weight("I"), 0);
  EXPECT_EQ(engagement_weight("impression"), 0);
}

}  // namespace
}  // namespace aisle::models
