#include "aisle/models/record_matcher.h"

#include <gtest/gtest.h>

#include <random>

namespace aisle::models {
namespace {

// Products of a few brands; a match is the same model number under another wording, a
// non-match another model of the same brand worded the same way (titles share most words).
std::vector<MatchExample> make_pairs(int count, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<std::string> brands = {"sony", "lg", "samsung", "canon", "nikon"};
  const std::vector<std::string> kinds = {"digital camera", "lcd tv", "dishwasher", "printer", "headphones"};
  std::uniform_int_distribution<int> brand(0, 4), kind(0, 4), code(100, 999), coin(0, 1);
  std::vector<MatchExample> out;
  for (int i = 0; i < count; ++i) {
    const std::string b = brands[static_cast<std::size_t>(brand(rng))], k = kinds[static_cast<std::size_t>(kind(rng))];
    const std::string model = b.substr(0, 2) + std::to_string(code(rng)) + "x";
    const bool match = coin(rng) == 1;
    std::string other = model;
    while (other == model) other = b.substr(0, 2) + std::to_string(code(rng)) + "x";
    MatchExample e;
    e.left = {{"title", b + " " + k + " " + model + " black"}, {"price", std::to_string(100 + code(rng))}};
    e.right = {{"title", k + " by " + b + " " + (match ? model : other)}, {"price", ""}};
    e.label = match ? 1 : 0;
    out.push_back(std::move(e));
  }
  return out;
}

TEST(RecordMatcher, LearnsThatTheModelNumberDecides) {
  auto train = make_pairs(300, 1), valid = make_pairs(80, 2), test = make_pairs(100, 3);
  MatcherConfig config;
  config.embedding_dim = 16;
  config.hidden = 16;
  config.buckets = 1 << 12;
  MatcherTrainOptions options;
  options.epochs = 6;
  auto matcher = RecordMatcher::create(config, Context::for_tests());
  ASSERT_TRUE(matcher.is_ok());
  auto report = (*matcher)->train(train, valid, options, Context::for_tests());
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->attributes, (std::vector<std::string>{"title", "price"}));
  auto scores = (*matcher)->predict(test);
  ASSERT_TRUE(scores.is_ok());
  std::vector<int> labels;
  for (const auto& e : test) labels.push_back(e.label);
  EXPECT_GT(f1_at(*scores, labels, (*matcher)->threshold()), 0.9);
  // Title word overlap alone cannot tell: the pairs differ by one word either way.
  EXPECT_GE(report->best_epoch, 1);
}

TEST(RecordMatcher, F1ThresholdIsTheBestOverAllCuts) {
  std::vector<float> scores = {0.9f, 0.8f, 0.8f, 0.4f, 0.3f, 0.1f};
  std::vector<int> labels = {1, 0, 1, 1, 0, 0};
  auto [f1, threshold] = best_f1_threshold(scores, labels);
  // Cuts: >=0.9: 2/(2+0+2)=.5; >=0.8: 4/(4+1+1)=.667; >=0.4: 6/(6+1)=.857; >=0.3: 6/8=.75.
  EXPECT_NEAR(f1, 6.0 / 7.0, 1e-9);
  EXPECT_FLOAT_EQ(static_cast<float>(threshold), 0.4f);
  EXPECT_NEAR(f1_at(scores, labels, threshold), f1, 1e-12);
}

TEST(RecordMatcher, RejectsOneClassTrainingAndUntrainedUse) {
  auto pairs = make_pairs(20, 4);
  for (auto& e : pairs) e.label = 0;
  auto matcher = RecordMatcher::create(MatcherConfig{}, Context::for_tests());
  ASSERT_TRUE(matcher.is_ok());
  EXPECT_FALSE((*matcher)->train(pairs, pairs, MatcherTrainOptions{}, Context::for_tests()).is_ok());
  EXPECT_FALSE((*matcher)->predict(pairs).is_ok());
}

}  // namespace
}  // namespace aisle::models
