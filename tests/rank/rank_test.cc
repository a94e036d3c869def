#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "aisle/rank/clicks.h"
#include "aisle/rank/features.h"
#include "aisle/rank/ranker.h"
#include "aisle/rank/result_json.h"
#include "aisle/retrieve/vector_strategy.h"
#include "test_util.h"

namespace aisle::rank {
namespace {

text::Document doc(std::uint32_t id, std::string title, std::string brand = "", std::string color = "",
                   std::string description = "") {
  text::Document d;
  d.product = ProductId(id);
  d.external_id = "P" + std::to_string(id);
  d.locale = "en";
  d.title = std::move(title);
  d.brand = std::move(brand);
  d.color = std::move(color);
  d.description = std::move(description);
  return d;
}

float feature(const FeatureSchema& schema, const std::vector<float>& rows, std::size_t row, const std::string& name) {
  auto at = std::find(schema.names.begin(), schema.names.end(), name);
  EXPECT_NE(at, schema.names.end()) << name;
  return rows[row * schema.size() + static_cast<std::size_t>(at - schema.names.begin())];
}

class FeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    documents_ = {doc(0, "red running shoes", "Nike", "Red", "light shoes for running"),
                  doc(1, "shoes running red", "Adidas", "Red"),
                  doc(2, "blue sandals", "", "Blue"),
                  doc(3, "running socks")};
    documents_[0].popularity = 99;
    documents_[0].price = 49;
    const Context context = Context::for_tests();
    ASSERT_TRUE(index_->upsert(documents_, context).is_ok());
  }

  QueryContext query(const std::string& text) {
    text::SearchOptions options;
    options.k = 10;
    auto result = index_->search(text, options);
    EXPECT_TRUE(result.is_ok());
    QueryContext q;
    q.text = text;
    q.locale = "en";
    q.terms = result->terms;
    return q;
  }

  std::vector<text::Document> documents_;
  std::unique_ptr<text::InvertedIndex> index_ = text::InvertedIndex::create();
};

TEST_F(FeaturesTest, LexicalFeaturesMatchTheIndexAndSeeOrder) {
  FeatureExtractor extractor(*index_);
  const FeatureSchema& schema = extractor.schema();
  QueryContext q = query("red running shoes");
  std::vector<Candidate> candidates;
  for (const auto& d : documents_) candidates.push_back(Candidate{&d, {}, {}, {}, {}, {}, {}});
  std::vector<float> rows;
  ASSERT_TRUE(extractor.extract(q, candidates, &rows).is_ok());
  ASSERT_EQ(rows.size(), documents_.size() * schema.size());

  for (std::size_t i = 0; i < documents_.size(); ++i) {
    // bm25f is explain()'s total: the index's score without prior and quantization.
    float total = 0;
    for (const auto& term : index_->explain(documents_[i], q.terms)) total += term.score;
    EXPECT_FLOAT_EQ(feature(schema, rows, i, "bm25f"), total) << i;
  }
  EXPECT_EQ(feature(schema, rows, 0, "phrase_title"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 1, "phrase_title"), 0.0f);  // same words, another order
  EXPECT_EQ(feature(schema, rows, 0, "bigrams_title"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 1, "bigrams_title"), 0.0f);  // "shoes running red": no pair in order
  EXPECT_EQ(feature(schema, rows, 0, "coverage_title"), 1.0f);
  EXPECT_NEAR(feature(schema, rows, 3, "coverage_title"), 1.0f / 3, 1e-6);
  EXPECT_EQ(feature(schema, rows, 2, "coverage_any"), 0.0f);
  EXPECT_TRUE(std::isnan(feature(schema, rows, 2, "first_match_title")));
  EXPECT_EQ(feature(schema, rows, 3, "first_match_title"), 0.0f);
  EXPECT_EQ(feature(schema, rows, 0, "coverage_color"), 1.0f / 3);
  EXPECT_GT(feature(schema, rows, 0, "bm25_description"), 0.0f);
  EXPECT_EQ(feature(schema, rows, 1, "bm25_description"), 0.0f);
  EXPECT_EQ(feature(schema, rows, 0, "query_terms"), 3.0f);
  EXPECT_FLOAT_EQ(feature(schema, rows, 0, "log_popularity"), std::log1p(99.0f));
  EXPECT_FLOAT_EQ(feature(schema, rows, 0, "log_price"), std::log1p(49.0f));
  EXPECT_TRUE(std::isnan(feature(schema, rows, 1, "log_price")));
  // Nothing said which strategy found them, nor gave vectors or engagement: missing.
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "rank_lexical")));
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "vector_cosine")));
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "memory_score")));
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "esci_exact")));
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "qu_brand")));
}

TEST_F(FeaturesTest, CharacterTrigramsTitlePrecisionAndTheRarestMissingTerm) {
  FeatureExtractor extractor(*index_);
  const FeatureSchema& schema = extractor.schema();
  QueryContext q = query("red running shoes");
  std::vector<Candidate> candidates;
  for (const auto& d : documents_) candidates.push_back(Candidate{&d, {}, {}, {}, {}, {}, {}});
  std::vector<float> rows;
  ASSERT_TRUE(extractor.extract(q, candidates, &rows).is_ok());
  // The title is the query: every trigram, every word, all of the title, to its end.
  EXPECT_EQ(feature(schema, rows, 0, "char3_title_containment"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "char3_word_min"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "title_precision"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "last_match_title"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "uncovered_idf_max"), 0.0f);
  // The same words in another order: the trigrams across word boundaries ("d r", "g s")
  // are lost, each word's own trigrams are all there.
  EXPECT_LT(feature(schema, rows, 1, "char3_title_containment"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 1, "char3_word_min"), 1.0f);
  // "running socks": half the title is the query's, whose reach ends at its first word; the
  // rarest missing term is "red" or "shoe" (both in two documents).
  EXPECT_EQ(feature(schema, rows, 3, "title_precision"), 0.5f);
  EXPECT_EQ(feature(schema, rows, 3, "last_match_title"), 0.5f);
  float idf_red = 0, idf_shoe = 0;
  for (const auto& term : q.terms) {
    if (term.term == "red") idf_red = term.idf;
    if (term.term == "shoe") idf_shoe = term.idf;
  }
  ASSERT_GT(idf_red, 0.0f);
  ASSERT_GT(idf_shoe, 0.0f);
  EXPECT_EQ(feature(schema, rows, 3, "uncovered_idf_max"), std::max(idf_red, idf_shoe));
  // "blue sandals" shares no word: "red" has none of its trigrams there.
  EXPECT_EQ(feature(schema, rows, 2, "char3_word_min"), 0.0f);
  EXPECT_EQ(feature(schema, rows, 2, "title_precision"), 0.0f);
  EXPECT_TRUE(std::isnan(feature(schema, rows, 2, "last_match_title")));
}

// The trigram features as their definition says, with sorted sets: the twin of the
// extractor's stamped-set path.
std::set<std::uint32_t> naive_trigrams(std::string_view text) {
  std::string norm = " ";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || std::isalnum(u)) norm += static_cast<char>(u < 0x80 ? std::tolower(u) : u);
    else if (norm.back() != ' ') norm += ' ';
  }
  if (norm.back() != ' ') norm += ' ';
  std::set<std::uint32_t> out;
  for (std::size_t i = 0; i + 3 <= norm.size(); ++i) {
    out.insert(static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i])) << 16 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i + 1])) << 8 |
               static_cast<std::uint32_t>(static_cast<unsigned char>(norm[i + 2])));
  }
  return out;
}

TEST(FeaturesTrigrams, EqualTheSortedSetDefinitionOnRandomTitles) {
  // Words from three scripts, punctuation, repeats, long titles (the set grows past its
  // first size) and a Japanese query whose words are not space-separated.
  const std::vector<std::string> words = {"Red", "red", "RUNNING", "shoes", "3/4", "in.", "x", "de-walt", "DeWalt",
                                          "zapatillas", "cafe\xcc\x81", "ランニング", "シューズ", "靴", "a", "the", "(2-Pack)"};
  std::mt19937 random(7);
  auto text_of = [&](int n, const char* glue) {
    std::string out;
    for (int i = 0; i < n; ++i) out += (i ? glue : "") + words[random() % words.size()];
    return out;
  };
  std::vector<text::Document> documents;
  for (std::uint32_t i = 0; i < 60; ++i) {
    documents.push_back(doc(i, text_of(1 + static_cast<int>(random() % (i % 10 == 0 ? 120 : 12)), i % 3 ? " " : ""), "", ""));
    documents.back().locale = i % 2 ? "en" : "ja";
  }
  auto index = text::InvertedIndex::create();
  ASSERT_TRUE(index->upsert(documents, Context::for_tests()).is_ok());
  FeatureExtractor extractor(*index);
  for (int round = 0; round < 40; ++round) {
    QueryContext q;
    q.locale = round % 2 ? "en" : "ja";
    q.text = text_of(1 + round % 5, round % 4 == 0 ? "" : " ");
    std::vector<Candidate> candidates;
    for (const auto& d : documents) candidates.push_back(Candidate{&d, {}, {}, {}, {}, {}, {}});
    std::vector<float> rows;
    ASSERT_TRUE(extractor.extract(q, candidates, &rows).is_ok());
    const std::set<std::uint32_t> query = naive_trigrams(q.text);
    std::vector<std::set<std::uint32_t>> query_words;
    for (const auto& word : index->analyze_words(q.text, q.locale)) {
      if (word.terms.empty()) continue;
      auto trigrams = naive_trigrams(std::string_view(q.text).substr(word.begin, word.end - word.begin));
      if (!trigrams.empty()) query_words.push_back(std::move(trigrams));
    }
    for (std::size_t i = 0; i < documents.size(); ++i) {
      const std::set<std::uint32_t> title = naive_trigrams(documents[i].title);
      auto shared = [&](const std::set<std::uint32_t>& a) {
        return static_cast<float>(std::count_if(a.begin(), a.end(), [&](std::uint32_t t) { return title.count(t) > 0; }));
      };
      const std::string where = "query \"" + q.text + "\", title \"" + documents[i].title + "\"";
      EXPECT_EQ(feature(extractor.schema(), rows, i, "char3_title_containment"),
                query.empty() ? 0.0f : shared(query) / static_cast<float>(query.size())) << where;
      EXPECT_EQ(feature(extractor.schema(), rows, i, "char3_title_dice"),
                2.0f * shared(query) / static_cast<float>(query.size() + title.size())) << where;
      if (query_words.empty()) {
        EXPECT_TRUE(std::isnan(feature(extractor.schema(), rows, i, "char3_word_min"))) << where;
      } else {
        float word_min = 1;
        for (const auto& word : query_words) word_min = std::min(word_min, shared(word) / static_cast<float>(word.size()));
        EXPECT_EQ(feature(extractor.schema(), rows, i, "char3_word_min"), word_min) << where;
      }
    }
  }
}

TEST_F(FeaturesTest, TypoExpansionsCoverTheTermTheyReplace) {
  FeatureExtractor extractor(*index_);
  QueryContext q = query("runing socks");
  bool expanded = false;
  for (const auto& term : q.terms) expanded = expanded || !term.expanded_from.empty();
  ASSERT_TRUE(expanded);
  Candidate candidate{&documents_[3], {}, {}, {}, {}, {}, {}};
  std::vector<float> rows;
  ASSERT_TRUE(extractor.extract(q, std::span<const Candidate>(&candidate, 1), &rows).is_ok());
  EXPECT_EQ(feature(extractor.schema(), rows, 0, "query_terms"), 2.0f);
  EXPECT_EQ(feature(extractor.schema(), rows, 0, "coverage_title"), 1.0f);
}

TEST_F(FeaturesTest, SlotAgreementProvenanceVectorsAndEngagement) {
  FeatureExtractor extractor(*index_);
  const FeatureSchema& schema = extractor.schema();
  QueryContext q = query("nike shoes");
  retrieve::Interpretation interpretation;
  interpretation.slots.push_back(retrieve::Slot{"brand", "Nike", "nike", 0.9});
  q.interpretation = interpretation;
  q.vector = {1.0f, 0.0f};
  const float a[2] = {0.6f, 0.8f};
  std::vector<Candidate> candidates(3);
  candidates[0].document = &documents_[0];  // Nike
  candidates[0].provenance = Provenance{retrieve::kFoundLexical | retrieve::kFoundVector, 1, 0, 4, 7.5f};
  candidates[0].vector = std::span<const float>(a, 2);
  candidates[0].memory_score = 0.25f;
  candidates[0].product_queries = 3;
  candidates[0].product_grade = 0.5f;
  candidates[0].esci = std::array<float, 4>{0.7f, 0.1f, 0.1f, 0.1f};
  candidates[1].document = &documents_[1];  // Adidas
  candidates[2].document = &documents_[2];  // no brand
  std::vector<float> rows;
  ASSERT_TRUE(extractor.extract(q, candidates, &rows).is_ok());
  EXPECT_EQ(feature(schema, rows, 0, "qu_brand"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 1, "qu_brand"), -1.0f);
  EXPECT_EQ(feature(schema, rows, 2, "qu_brand"), 0.0f);
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "qu_color")));  // no color slot
  EXPECT_EQ(feature(schema, rows, 0, "qu_slots"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "found_lexical"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "found_vector"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "found_structured"), 0.0f);
  EXPECT_EQ(feature(schema, rows, 0, "rank_lexical"), 1.0f);
  EXPECT_EQ(feature(schema, rows, 0, "rank_vector"), 4.0f);
  EXPECT_TRUE(std::isnan(feature(schema, rows, 0, "rank_structured")));
  EXPECT_EQ(feature(schema, rows, 0, "lexical_score"), 7.5f);
  EXPECT_FLOAT_EQ(feature(schema, rows, 0, "vector_cosine"), 0.6f);
  EXPECT_TRUE(std::isnan(feature(schema, rows, 1, "vector_cosine")));
  EXPECT_EQ(feature(schema, rows, 0, "memory_score"), 0.25f);
  EXPECT_FLOAT_EQ(feature(schema, rows, 0, "product_queries"), std::log1p(3.0f));
  EXPECT_EQ(feature(schema, rows, 0, "product_grade"), 0.5f);
  EXPECT_EQ(feature(schema, rows, 0, "esci_exact"), 0.7f);

  // A vector of another length is an error, not a silent garbage cosine.
  const float b[3] = {1, 0, 0};
  candidates[1].vector = std::span<const float>(b, 3);
  rows.clear();
  Status status = extractor.extract(q, candidates, &rows);
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_NE(status.message().find("P1"), std::string::npos) << status.message();
}

TEST_F(FeaturesTest, TheAblationSchemaDropsOnlyLearnedTextFeatures) {
  FeatureOptions options;
  options.learned_text = false;
  FeatureExtractor full(*index_), ablation(*index_, options);
  for (const char* name : {"vector_cosine", "found_vector", "rank_vector", "esci_exact"}) {
    EXPECT_NE(std::find(full.schema().names.begin(), full.schema().names.end(), name), full.schema().names.end());
    EXPECT_EQ(std::find(ablation.schema().names.begin(), ablation.schema().names.end(), name),
              ablation.schema().names.end());
  }
  EXPECT_EQ(ablation.schema().size() + 7, full.schema().size());
  QueryContext q = query("red shoes");
  Candidate candidate{&documents_[0], {}, {}, {}, {}, {}, {}};
  std::vector<float> a, b;
  ASSERT_TRUE(full.extract(q, std::span<const Candidate>(&candidate, 1), &a).is_ok());
  ASSERT_TRUE(ablation.extract(q, std::span<const Candidate>(&candidate, 1), &b).is_ok());
  EXPECT_EQ(b.size(), ablation.schema().size());
  for (std::size_t i = 0; i < ablation.schema().size(); ++i) {
    const std::string& name = ablation.schema().names[i];
    float in_full = feature(full.schema(), a, 0, name);
    if (std::isnan(in_full)) {
      EXPECT_TRUE(std::isnan(b[i])) << name;
    } else {
      EXPECT_EQ(b[i], in_full) << name;
    }
  }
  auto parsed = FeatureSchema::from_json(full.schema().to_json());
  ASSERT_TRUE(parsed.is_ok());
  EXPECT_EQ(*parsed, full.schema());
}

// Synthetic queries: relevance is a step function of feature 0 and feature 1 is noise.
RankingData synthetic(int queries, std::uint64_t seed, bool graded) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  RankingData data;
  data.num_features = 2;
  for (int q = 0; q < queries; ++q) {
    std::vector<float> features, labels;
    for (int i = 0; i < 20; ++i) {
      float signal = uniform(random), noise = uniform(random);
      features.push_back(signal);
      features.push_back(noise);
      labels.push_back(graded ? 1.0f + 2.0f * signal : std::floor(signal * 4.0f));
    }
    data.add_group(features, labels);
  }
  return data;
}

FeatureSchema two_features() {
  FeatureSchema schema;
  schema.names = {"signal", "noise"};
  return schema;
}

double mean_ndcg(const Ranker& ranker, const RankingData& data) {
  double total = 0;
  std::size_t row = 0;
  for (std::uint32_t size : data.groups) {
    auto scores = ranker.score(std::span<const float>(data.features.data() + row * 2, size * 2));
    EXPECT_TRUE(scores.is_ok());
    std::vector<std::size_t> order(size);
    for (std::size_t i = 0; i < size; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return (*scores)[a] > (*scores)[b]; });
    std::vector<float> ideal(data.labels.begin() + static_cast<long>(row), data.labels.begin() + static_cast<long>(row + size));
    std::sort(ideal.rbegin(), ideal.rend());
    double dcg = 0, idcg = 0;
    for (std::size_t i = 0; i < std::min<std::size_t>(10, size); ++i) {
      dcg += (std::pow(2.0, data.labels[row + order[i]]) - 1) / std::log2(i + 2.0);
      idcg += (std::pow(2.0, ideal[i]) - 1) / std::log2(i + 2.0);
    }
    total += idcg > 0 ? dcg / idcg : 0;
    row += size;
  }
  return total / static_cast<double>(data.groups.size());
}

TEST(Ranker, LambdaMartLearnsTheSignalDeterministicallyAndSurvivesSaveAndLoad) {
  testing::TempDir dir;
  const Context context = Context::for_tests();
  RankingData train = synthetic(200, 1, false), validation = synthetic(40, 2, false), test = synthetic(60, 3, false);
  RankerOptions options;
  options.rounds = 60;
  RankerTrainReport report;
  auto ranker = Ranker::train(two_features(), train, &validation, options, context, &report);
  ASSERT_TRUE(ranker.is_ok()) << ranker.status().message();
  EXPECT_GT(report.rounds, 0);
  EXPECT_EQ(report.metric, "ndcg@10");
  EXPECT_GT(mean_ndcg(**ranker, test), 0.97);
  auto importance = (*ranker)->importance();
  ASSERT_FALSE(importance.empty());
  EXPECT_EQ(importance[0].first, "signal");

  auto again = Ranker::train(two_features(), train, &validation, options, context);
  ASSERT_TRUE(again.is_ok());
  auto a = (*ranker)->score(test.features);
  auto b = (*again)->score(test.features);
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_EQ(*a, *b);

  ASSERT_TRUE((*ranker)->save(dir.path() / "ranker.bin").is_ok());
  auto loaded = Ranker::load(dir.path() / "ranker.bin");
  ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
  EXPECT_EQ((*loaded)->schema(), two_features());
  EXPECT_EQ((*loaded)->options().objective, Objective::kLambdaMart);
  auto c = (*loaded)->score(test.features);
  ASSERT_TRUE(c.is_ok());
  EXPECT_EQ(*a, *c);
}

// score() walks its own copy of the trees: it must give XGBoost's predictions bit for bit,
// missing values (default branches) included, for both objectives and after a reload.
TEST(Ranker, CompiledTreesScoreExactlyAsXGBoost) {
  testing::TempDir dir;
  const Context context = Context::for_tests();
  FeatureSchema schema;
  schema.names = {"a", "b", "c", "d", "e", "f"};
  auto make = [](int queries, std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
    std::bernoulli_distribution missing(0.2);
    RankingData data;
    data.num_features = 6;
    for (int q = 0; q < queries; ++q) {
      std::vector<float> features, labels;
      for (int i = 0; i < 25; ++i) {
        float label = 0;
        for (int f = 0; f < 6; ++f) {
          const float x = std::round(uniform(random) * 4.0f) / 4.0f;  // ties with thresholds happen
          features.push_back(missing(random) ? std::nanf("") : x);
          if (f < 3) label += x > 0 ? 1.0f : 0.0f;
        }
        labels.push_back(label);
      }
      data.add_group(features, labels);
    }
    return data;
  };
  const RankingData train = make(150, 11), test = make(40, 12);
  for (const Objective objective : {Objective::kLambdaMart, Objective::kRegression}) {
    RankerOptions options;
    options.objective = objective;
    options.rounds = 80;
    options.max_depth = 6;
    auto ranker = Ranker::train(schema, train, nullptr, options, context);
    ASSERT_TRUE(ranker.is_ok()) << ranker.status().message();
    auto ours = (*ranker)->score(test.features);
    auto reference = (*ranker)->score_with_xgboost(test.features);
    ASSERT_TRUE(ours.is_ok() && reference.is_ok());
    ASSERT_EQ(ours->size(), test.rows());
    EXPECT_EQ(*ours, *reference) << objective_name(objective);
    std::set<float> distinct(ours->begin(), ours->end());
    EXPECT_GT(distinct.size(), 20u);  // a model that is not a constant

    ASSERT_TRUE((*ranker)->save(dir.path() / "ranker.bin").is_ok());
    auto loaded = Ranker::load(dir.path() / "ranker.bin");
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().message();
    auto again = (*loaded)->score(test.features);
    ASSERT_TRUE(again.is_ok());
    EXPECT_EQ(*again, *reference);
  }
}

TEST(Ranker, RegressionPredictsGrades) {
  const Context context = Context::for_tests();
  RankingData train = synthetic(100, 4, true), test = synthetic(20, 5, true);
  RankerOptions options;
  options.objective = Objective::kRegression;
  options.rounds = 200;
  options.learning_rate = 0.1;
  auto ranker = Ranker::train(two_features(), train, nullptr, options, context);
  ASSERT_TRUE(ranker.is_ok()) << ranker.status().message();
  auto scores = (*ranker)->score(test.features);
  ASSERT_TRUE(scores.is_ok());
  double squared = 0;
  for (std::size_t i = 0; i < test.labels.size(); ++i) squared += std::pow((*scores)[i] - test.labels[i], 2);
  EXPECT_LT(std::sqrt(squared / static_cast<double>(test.labels.size())), 0.1);
}

TEST(Ranker, ASchemaMismatchIsAClearError) {
  const Context context = Context::for_tests();
  RankerOptions options;
  options.rounds = 5;
  auto ranker = Ranker::train(two_features(), synthetic(20, 6, false), nullptr, options, context);
  ASSERT_TRUE(ranker.is_ok());
  EXPECT_TRUE((*ranker)->check_schema(two_features()).is_ok());
  FeatureSchema reordered;
  reordered.names = {"noise", "signal"};
  Status status = (*ranker)->check_schema(reordered);
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_NE(status.message().find("feature 0 is signal"), std::string::npos) << status.message();
  FeatureSchema longer = two_features();
  longer.names.push_back("extra");
  EXPECT_NE((*ranker)->check_schema(longer).message().find("trained on 2 features"), std::string::npos);
  FeatureSchema newer = two_features();
  newer.version = FeatureSchema::kVersion + 1;
  EXPECT_NE((*ranker)->check_schema(newer).message().find("version"), std::string::npos);
  // Rows of the wrong width are refused too.
  const float three[3] = {1, 2, 3};
  EXPECT_FALSE((*ranker)->score(std::span<const float>(three, 3)).is_ok());
}

TEST(Ranker, BadDataAndDamagedFilesAreRefused) {
  testing::TempDir dir;
  const Context context = Context::for_tests();
  RankingData data = synthetic(5, 7, false);
  data.labels[3] = std::nanf("");
  auto bad = Ranker::train(two_features(), data, nullptr, RankerOptions{}, context);
  EXPECT_EQ(bad.status().code(), StatusCode::kBadInput);
  EXPECT_NE(bad.status().message().find("row 3"), std::string::npos);
  data = synthetic(5, 7, false);
  data.groups.back() += 1;
  EXPECT_EQ(Ranker::train(two_features(), data, nullptr, RankerOptions{}, context).status().code(), StatusCode::kBadInput);

  EXPECT_EQ(Ranker::load(dir.path() / "missing.bin").status().code(), StatusCode::kNotFound);
  {
    std::ofstream out(dir.path() / "foreign.bin");
    out << "this is not a ranker";
  }
  EXPECT_EQ(Ranker::load(dir.path() / "foreign.bin").status().code(), StatusCode::kCorruption);
  RankerOptions options;
  options.rounds = 3;
  auto ranker = Ranker::train(two_features(), synthetic(10, 8, false), nullptr, options, context);
  ASSERT_TRUE(ranker.is_ok());
  ASSERT_TRUE((*ranker)->save(dir.path() / "ok.bin").is_ok());
  std::string bytes;
  {
    std::ifstream in(dir.path() / "ok.bin", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  {
    std::ofstream out(dir.path() / "truncated.bin", std::ios::binary);
    out << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_EQ(Ranker::load(dir.path() / "truncated.bin").status().code(), StatusCode::kCorruption);
  std::string flipped = bytes;
  flipped[flipped.size() - 3] ^= 0x20;  // one bit inside the XGBoost model
  {
    std::ofstream out(dir.path() / "flipped.bin", std::ios::binary);
    out << flipped;
  }
  auto damaged = Ranker::load(dir.path() / "flipped.bin");
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_NE(damaged.status().message().find("checksum"), std::string::npos) << damaged.status().message();
  bytes[8] = 99;  // format version
  {
    std::ofstream out(dir.path() / "newer.bin", std::ios::binary);
    out << bytes;
  }
  auto newer = Ranker::load(dir.path() / "newer.bin");
  EXPECT_EQ(newer.status().code(), StatusCode::kCorruption);
  EXPECT_NE(newer.status().message().find("version"), std::string::npos);
}

TEST(Ranker, GradesMapToLevels) {
  EXPECT_EQ(level_from_grade(1.0, 1, 3, 4), 0.0f);
  EXPECT_EQ(level_from_grade(2.33, 1, 3, 4), 3.0f);
  EXPECT_EQ(level_from_grade(3.0, 1, 3, 4), 4.0f);
  EXPECT_EQ(level_from_grade(5.0, 1, 3, 4), 4.0f);
}

// Clicks simulated by the position-based model: theta_k = 1 / k, each (query, product) with a
// true relevance gamma, shown at random positions.
struct SimulatedLog {
  std::vector<ClickCounts> rows;
  std::map<std::pair<std::string, std::uint32_t>, double> gamma;
};

SimulatedLog simulate(int queries, int products, int positions, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  SimulatedLog log;
  for (int q = 0; q < queries; ++q) {
    const std::string query = "q" + std::to_string(q);
    for (int p = 0; p < products; ++p) {
      const double gamma = uniform(random);
      log.gamma[{query, static_cast<std::uint32_t>(p)}] = gamma;
      // Relevant products are shown higher more often, as a real ranker would.
      std::map<int, std::pair<std::int64_t, std::int64_t>> at;
      for (int shown = 0; shown < 200; ++shown) {
        int position = 1 + static_cast<int>(uniform(random) * (1.0 - 0.7 * gamma) * positions);
        position = std::min(position, positions);
        const bool click = uniform(random) < (1.0 / position) * gamma;
        at[position].first += 1;
        at[position].second += click ? 1 : 0;
      }
      for (const auto& [position, counts] : at) {
        log.rows.push_back(ClickCounts{query, ProductId(static_cast<std::uint32_t>(p)), position, counts.first, counts.second});
      }
    }
  }
  return log;
}

TEST(Clicks, ExpectationMaximizationRecoversThePositionBias) {
  SimulatedLog log = simulate(30, 10, 10, 11);
  auto bias = estimate_position_bias(log.rows);
  ASSERT_TRUE(bias.is_ok()) << bias.status().message();
  ASSERT_EQ(bias->propensity.size(), 10u);
  EXPECT_DOUBLE_EQ(bias->propensity[0], 1.0);
  for (int k = 1; k <= 10; ++k) EXPECT_NEAR(bias->propensity_at(k), 1.0 / k, 0.08) << "position " << k;
  EXPECT_EQ(bias->propensity_at(50), bias->propensity[9]);

  // The IPS click rate estimates the click rate at position 1 (theta_1 gamma = gamma); the raw
  // click rate, biased by where products were shown, does worse.
  double ips_error = 0, naive_error = 0;
  auto relevance = ips_relevance(log.rows, *bias, 0.05);
  ASSERT_EQ(relevance.size(), 300u);
  for (const ClickRelevance& r : relevance) {
    const double truth = log.gamma.at({r.query, r.product.value()});
    ips_error += std::abs(r.relevance - truth);
    naive_error += std::abs(static_cast<double>(r.clicks) / static_cast<double>(r.impressions) - truth);
  }
  EXPECT_LT(ips_error, 0.5 * naive_error);
}

TEST(Clicks, BadRowsAreNamed) {
  std::vector<ClickCounts> rows = {ClickCounts{"q", ProductId(1), 1, 10, 2}, ClickCounts{"q", ProductId(2), 0, 10, 1}};
  auto bias = estimate_position_bias(rows);
  EXPECT_EQ(bias.status().code(), StatusCode::kBadInput);
  EXPECT_NE(bias.status().message().find("row 2"), std::string::npos);
  rows[1] = ClickCounts{"q", ProductId(2), 2, 1, 3};
  EXPECT_EQ(estimate_position_bias(rows).status().code(), StatusCode::kBadInput);
  EXPECT_EQ(estimate_position_bias(std::vector<ClickCounts>{}).status().code(), StatusCode::kBadInput);
}


// Highlighted HTML escapes everything the text holds (an injected tag is text), marks the
// given ranges, and windows a long text around the first mark at character boundaries.
TEST(HighlightHtml, EscapesMarksAndWindowsAtCharacterBoundaries) {
  using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
  const std::string title = "Lamp <img src=x onerror=\"alert(1)\"> & 'glow'";
  const std::size_t glow = title.find("glow");
  EXPECT_EQ(highlight_html(title, Spans{{0, 4}, {glow, glow + 4}}),
            "<mark>Lamp</mark> &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &#39;<mark>glow</mark>&#39;");
  EXPECT_EQ(highlight_html("a<b", Spans{}), "a&lt;b");
  // Out-of-order or out-of-range spans are skipped, never read past the text.
  EXPECT_EQ(highlight_html("abc", Spans{{1, 2}, {0, 1}, {2, 99}}), "a<mark>b</mark><mark>c</mark>");
  std::string lorem;
  for (int i = 0; i < 40; ++i) lorem += "word" + std::to_string(i) + " ";
  const std::size_t at = lorem.find("word30");
  const std::string window = highlight_html(lorem, Spans{{at, at + 6}}, 80);
  EXPECT_TRUE(window.starts_with("…")) << window;
  EXPECT_NE(window.find("<mark>word30</mark>"), std::string::npos) << window;
  EXPECT_LE(window.size(), 80u + 2 * std::string("…").size() + 13) << window;
  // Multi-byte text without spaces is cut between characters, never inside one.
  std::string japanese;
  for (int i = 0; i < 100; ++i) japanese += "ワイヤレス";
  const std::string cut = highlight_html(japanese, Spans{{600, 615}}, 100);
  nlohmann::json as_json = cut;
  EXPECT_NO_THROW((void)as_json.dump()) << "the window must stay valid UTF-8";
  EXPECT_NE(cut.find("<mark>"), std::string::npos);
}

}  // namespace
}  // namespace aisle::rank
