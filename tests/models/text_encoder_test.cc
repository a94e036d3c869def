#include "aisle/models/text_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "aisle/models/featurizer.h"
#include "test_util.h"

namespace aisle::models {
namespace {

TEST(Featurizer, TokensCarryWordTrigramsAndBigramsWithFieldWeights) {
  FeatureOptions options;
  options.buckets = 1 << 20;
  Featurizer featurizer(options);
  Features f;
  ASSERT_TRUE(featurizer.query("Cordless Drill", "en", &f).is_ok());
  // "cordless" and "drill" (stemmed), then the bigram pseudo-token of the two.
  ASSERT_EQ(f.tokens(), 3);
  // Token 0: the word plus the trigrams of "#cordless#" (10 code points -> 8 trigrams).
  EXPECT_EQ(f.token_offsets[1] - f.token_offsets[0], 1 + 8);
  EXPECT_EQ(f.ids[0], feature_id('w', "cordless", options.buckets));
  EXPECT_EQ(f.ids[1], feature_id('t', "#co", options.buckets));
  EXPECT_EQ(f.ids[f.token_offsets[2]], feature_id('b', "cordless drill", options.buckets));
  for (int t = 0; t < f.tokens(); ++t) {
    float total = 0;
    for (auto i = f.token_offsets[t]; i < f.token_offsets[t + 1]; ++i) total += f.weights[i];
    EXPECT_NEAR(total, 1.0f, 1e-5) << t;
  }
  // The same text always gives the same ids; a typo shares most trigrams.
  Features again, typo;
  ASSERT_TRUE(featurizer.query("cordless drill", "en", &again).is_ok());
  EXPECT_EQ(again.ids, f.ids);
  ASSERT_TRUE(featurizer.query("cordles", "en", &typo).is_ok());
  int shared = 0;
  for (auto id : typo.ids) shared += std::count(f.ids.begin(), f.ids.end(), id) > 0 ? 1 : 0;
  EXPECT_GE(shared, 4);  // #co cor ord rdl

  text::Document product;
  product.locale = "en";
  product.title = "Drill";
  product.brand = "DeWalt";
  product.description = "A very long description " + std::string(2000, 'x');
  options.max_product_tokens = 3;
  options.word_bigrams = false;
  Featurizer capped(options);
  ASSERT_TRUE(capped.product(product, &f).is_ok());
  ASSERT_EQ(f.tokens(), 3);  // title, brand, then the cap cuts the description
  // Brand words are tagged: the plain id and the brand id share the word's half of the mass.
  EXPECT_EQ(f.ids[f.token_offsets[1]], feature_id('w', "dewalt", options.buckets));
  EXPECT_EQ(f.ids[f.token_offsets[1] + 1], feature_id('B', "dewalt", options.buckets));

  // Japanese goes through MeCab; trigrams are over code points, not bytes.
  ASSERT_TRUE(featurizer.query("電動ドリル", "ja", &f).is_ok());
  EXPECT_GE(f.tokens(), 1);
  EXPECT_EQ(featurizer.query("x", "xx-unknown", &f).code(), StatusCode::kBadInput);
}

// A small catalog with one product per topic and queries that paraphrase or misspell them.
TrainingSet toy_set() {
  struct Topic {
    const char* title;
    const char* brand;
    std::vector<const char*> queries;
  };
  std::vector<Topic> topics = {
      {"Cordless Drill 20V with Battery", "DeWalt", {"cordless drill", "drill battery", "dewalt drill"}},
      {"Garden Hose 50 ft Heavy Duty", "Flexzilla", {"garden hose", "hose 50 ft", "flexzilla hose"}},
      {"Interior Paint Eggshell White 1 gal", "Behr", {"white paint", "eggshell paint", "behr paint"}},
      {"LED Light Bulb 60W Equivalent Soft White", "Philips", {"led bulb", "60w bulb", "philips light"}},
      {"Kitchen Faucet Pull Down Chrome", "Moen", {"kitchen faucet", "pull down faucet", "moen faucet"}},
      {"Ceiling Fan 52 in with Light Kit", "Hunter", {"ceiling fan", "fan with light", "hunter fan"}},
      {"Wood Deck Stain Semi Transparent Cedar", "Thompson", {"deck stain", "cedar stain", "wood stain"}},
      {"Toilet Round Front Two Piece", "Kohler", {"toilet", "round toilet", "kohler toilet"}},
      {"Circular Saw 7-1/4 in Corded", "Makita", {"circular saw", "corded saw", "makita saw"}},
      {"Door Lock Keyed Entry Satin Nickel", "Kwikset", {"door lock", "keyed entry", "kwikset lock"}},
  };
  TrainingSet set;
  for (std::size_t t = 0; t < topics.size(); ++t) {
    text::Document d;
    d.product = ProductId(static_cast<std::uint32_t>(t));
    d.locale = "en";
    d.title = topics[t].title;
    d.brand = topics[t].brand;
    set.products.push_back(d);
    for (const char* q : topics[t].queries) {
      set.pairs.push_back(TrainingPair{static_cast<std::uint32_t>(set.queries.size()), static_cast<std::uint32_t>(t), 1.0f});
      // A poor match for the same query: the next topic's product.
      set.pairs.push_back(TrainingPair{static_cast<std::uint32_t>(set.queries.size()),
                                       static_cast<std::uint32_t>((t + 1) % topics.size()), 0.0f});
      set.queries.push_back(q);
      set.query_locales.push_back("en");
    }
  }
  return set;
}

EncoderConfig small_config(Architecture architecture) {
  EncoderConfig config;
  config.architecture = architecture;
  config.dim = 16;
  config.embedding_dim = 32;
  config.hidden = 64;
  config.heads = 4;
  config.features.buckets = 1 << 14;
  config.features.word_bigrams = architecture == Architecture::kPooled;
  return config;
}

float dot(const float* a, const float* b, int n) {
  float total = 0;
  for (int i = 0; i < n; ++i) total += a[i] * b[i];
  return total;
}

// Fraction of training queries whose own product is the nearest of all products.
double top1(const TextEncoder& encoder, const TrainingSet& set) {
  auto q = encoder.encode_queries(set.queries, "en");
  auto p = encoder.encode_products(set.products);
  EXPECT_TRUE(q.is_ok() && p.is_ok());
  const int d = encoder.dim();
  int correct = 0, total = 0;
  for (const TrainingPair& pair : set.pairs) {
    if (pair.grade < 0.5f) continue;
    std::size_t best = 0;
    float best_score = -2;
    for (std::size_t j = 0; j < set.products.size(); ++j) {
      float s = dot(q->data() + pair.query * d, p->data() + j * d, d);
      if (s > best_score) best_score = s, best = j;
    }
    correct += best == pair.product ? 1 : 0;
    ++total;
  }
  return static_cast<double>(correct) / total;
}

TEST(TextEncoder, PooledTrainingLearnsTheToyCatalogAndIsDeterministic) {
  TrainingSet set = toy_set();
  Context context = Context::for_tests();
  auto encoder = TextEncoder::create(small_config(Architecture::kPooled), context);
  ASSERT_TRUE(encoder.is_ok());
  const double before = top1(**encoder, set);
  TrainOptions options;
  options.epochs = 40;
  options.batch_size = 8;
  options.learning_rate = 5e-3;
  auto report = (*encoder)->train(set, options, context);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->positives, 30);
  EXPECT_EQ(report->hard_negatives, 30);
  EXPECT_LT(report->epoch_loss.back(), report->epoch_loss.front());
  const double after = top1(**encoder, set);
  EXPECT_GE(after, 0.95) << "before training: " << before;
  EXPECT_GT(after, before);

  // Unit vectors, including for an empty query.
  std::vector<std::string> queries = {"", "drill"};
  auto vectors = (*encoder)->encode_queries(queries, "en");
  ASSERT_TRUE(vectors.is_ok());
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(dot(vectors->data() + i * 16, vectors->data() + i * 16, 16), 1.0f, 1e-4);

  // Same seed, same thread count: the same weights.
  auto twin = TextEncoder::create(small_config(Architecture::kPooled), context);
  ASSERT_TRUE((*twin)->train(set, options, context).is_ok());
  auto a = (*encoder)->encode_products(set.products);
  auto b = (*twin)->encode_products(set.products);
  EXPECT_EQ(*a, *b);
}

TEST(TextEncoder, TransformerTrainingLearnsTheToyCatalog) {
  TrainingSet set = toy_set();
  Context context = Context::for_tests();
  auto encoder = TextEncoder::create(small_config(Architecture::kTransformer), context);
  ASSERT_TRUE(encoder.is_ok()) << encoder.status().to_string();
  TrainOptions options;
  options.epochs = 100;
  options.batch_size = 8;
  options.learning_rate = 2e-3;  // the transformer needs a gentler rate and more steps than the pooled stack
  ASSERT_TRUE((*encoder)->train(set, options, context).is_ok());
  EXPECT_GE(top1(**encoder, set), 0.9);
}

TEST(TextEncoder, SaveAndLoadGiveTheSameVectorsAndBadFilesAreRefused) {
  testing::TempDir dir;
  Context context = Context::for_tests();
  for (Architecture architecture : {Architecture::kPooled, Architecture::kTransformer}) {
    auto encoder = TextEncoder::create(small_config(architecture), context);
    ASSERT_TRUE(encoder.is_ok());
    TrainingSet set = toy_set();
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 8;
    ASSERT_TRUE((*encoder)->train(set, options, context).is_ok());
    auto path = dir / "models" / "encoder.bin";
    ASSERT_TRUE((*encoder)->save(path).is_ok());
    auto loaded = TextEncoder::load(path, context);
    ASSERT_TRUE(loaded.is_ok()) << loaded.status().to_string();
    EXPECT_EQ((*loaded)->config().architecture, architecture);
    EXPECT_EQ(*(*loaded)->encode_queries(set.queries, "en"), *(*encoder)->encode_queries(set.queries, "en"));
    EXPECT_EQ(*(*loaded)->encode_products(set.products), *(*encoder)->encode_products(set.products));
  }
  // A wrong version, a foreign file, a truncated archive.
  auto path = dir / "models" / "encoder.bin";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::string versioned = bytes;
  versioned[8] = 9;
  dir.write("v.bin", versioned);
  auto status = TextEncoder::load(dir / "v.bin", context).status();
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("version 9"), std::string::npos) << status.message();
  dir.write("foreign.bin", "hello world, not a model");
  EXPECT_EQ(TextEncoder::load(dir / "foreign.bin", context).status().code(), StatusCode::kCorruption);
  dir.write("cut.bin", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(TextEncoder::load(dir / "cut.bin", context).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(TextEncoder::load(dir / "missing.bin", context).status().code(), StatusCode::kNotFound);
  // One flipped byte anywhere in the weights: refused by the checksum before torch reads it.
  for (std::size_t at : {bytes.size() - 1, bytes.size() - bytes.size() / 3, bytes.size() / 2 + 7}) {
    std::string flipped = bytes;
    flipped[at] = static_cast<char>(flipped[at] ^ 0x20);
    dir.write("flipped.bin", flipped);
    status = TextEncoder::load(dir / "flipped.bin", context).status();
    EXPECT_EQ(status.code(), StatusCode::kCorruption) << at;
    EXPECT_NE(status.message().find("checksum"), std::string::npos) << at << ": " << status.message();
  }
  // A file written before the checksum (the header without it) still loads.
  const std::uint32_t header_size = [&] {
    std::uint32_t n = 0;
    std::memcpy(&n, bytes.data() + 12, 4);
    return n;
  }();
  nlohmann::json header = nlohmann::json::parse(bytes.substr(16, header_size));
  ASSERT_TRUE(header.contains("weights_checksum"));
  header.erase("weights_checksum");
  const std::string old_header = header.dump();
  std::string old_file = bytes.substr(0, 12);
  const auto old_size = static_cast<std::uint32_t>(old_header.size());
  old_file.append(reinterpret_cast<const char*>(&old_size), 4);
  old_file += old_header + bytes.substr(16 + header_size);
  dir.write("old.bin", old_file);
  auto old = TextEncoder::load(dir / "old.bin", context);
  EXPECT_TRUE(old.is_ok()) << old.status().to_string();
}

TEST(TextEncoder, BadConfigsAndBadTrainingSetsAreRejected) {
  Context context = Context::for_tests();
  EncoderConfig config = small_config(Architecture::kTransformer);
  config.heads = 5;
  EXPECT_EQ(TextEncoder::create(config, context).status().code(), StatusCode::kBadInput);
  auto encoder = TextEncoder::create(small_config(Architecture::kPooled), context);
  TrainingSet set = toy_set();
  set.pairs.push_back(TrainingPair{999, 0, 1.0f});
  EXPECT_EQ((*encoder)->train(set, TrainOptions(), context).status().code(), StatusCode::kBadInput);
  set = toy_set();
  for (auto& pair : set.pairs) pair.grade = 0.2f;
  EXPECT_EQ((*encoder)->train(set, TrainOptions(), context).status().code(), StatusCode::kBadInput);
}

}  // namespace
}  // namespace aisle::models
