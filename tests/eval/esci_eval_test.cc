// `eval esci` on files in the Shopping Queries Dataset layout (examples CSV + products CSV with
// a split column), written by the test: a small two-locale catalog whose ESCI labels follow from
// the text, so the classifier can learn them and the report can be checked exactly where it is
// exact (splits, counts, graph edges) and against the majority baseline where it is learned.
#include "aisle/eval/esci.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace aisle::eval {
namespace {

using aisle::testing::TempDir;

struct Fixture {
  std::filesystem::path examples, products;
  int train_queries = 0, test_queries = 0, train_rows = 0, test_rows = 0;
};

// Per locale: 8 items, each in two colours and with a case. A query "<colour> <item>" has the
// product of its colour Exact, the other colour a Substitute, the case a Complement and two
// products of other items Irrelevant. One query in four is in the test split.
Fixture write_fixture(const TempDir& dir) {
  struct Lang {
    std::string code;
    std::vector<std::string> items, colours;
    std::string case_word;
  };
  const std::vector<Lang> langs = {
      {"us", {"phone", "laptop", "camera", "drill", "kettle", "guitar", "lamp", "backpack"}, {"red", "blue"}, "case for"},
      {"es", {"telefono", "portatil", "camara", "taladro", "hervidor", "guitarra", "lampara", "mochila"}, {"rojo", "azul"},
       "funda para"}};
  Fixture fixture;
  std::string products =
      "product_id,product_title,product_description,product_bullet_point,product_brand,product_color,product_locale\n";
  std::string examples = "example_id,query,query_id,product_id,product_locale,esci_label,small_version,large_version,split\n";
  int example_id = 0, query_id = 0;
  for (const Lang& lang : langs) {
    auto id = [&](std::size_t item, int kind) { return "B" + lang.code + std::to_string(item) + "k" + std::to_string(kind); };
    for (std::size_t i = 0; i < lang.items.size(); ++i) {
      for (int c = 0; c < 2; ++c) {
        products += id(i, c) + "," + lang.colours[c] + " " + lang.items[i] + ",\"A " + lang.items[i] + "\",,Acme," +
                    lang.colours[c] + "," + lang.code + "\n";
      }
      products += id(i, 2) + "," + lang.case_word + " " + lang.items[i] + ",,,Acme,," + lang.code + "\n";
    }
    for (std::size_t i = 0; i < lang.items.size(); ++i) {
      for (int c = 0; c < 2; ++c) {
        const bool test = (i + static_cast<std::size_t>(c)) % 4 == 0;
        const std::string split = test ? "test" : "train";
        ++(test ? fixture.test_queries : fixture.train_queries);
        const std::string query = lang.colours[c] + " " + lang.items[i];
        ++query_id;
        const std::vector<std::pair<std::string, char>> judged = {{id(i, c), 'E'},
                                                                  {id(i, 1 - c), 'S'},
                                                                  {id(i, 2), 'C'},
                                                                  {id((i + 1) % lang.items.size(), c), 'I'},
                                                                  {id((i + 3) % lang.items.size(), 2), 'I'}};
        for (const auto& [product, label] : judged) {
          examples += std::to_string(example_id++) + "," + query + "," + std::to_string(query_id) + "," + product + "," +
                      lang.code + "," + label + ",1,1," + split + "\n";
          ++(test ? fixture.test_rows : fixture.train_rows);
        }
      }
    }
  }
  fixture.products = dir.write("shopping_queries_dataset_products.csv", products);
  fixture.examples = dir.write("shopping_queries_dataset_examples.csv", examples);
  return fixture;
}

EsciEvalOptions small_options(const Fixture& fixture) {
  EsciEvalOptions options;
  options.train = fixture.examples;
  options.products = fixture.products;
  options.classifier.encoder.dim = 16;
  options.classifier.encoder.embedding_dim = 16;
  options.classifier.encoder.hidden = 32;
  options.classifier.encoder.features.buckets = 1 << 12;
  options.classifier.head_hidden = 32;
  options.classifier.graph.hidden = 16;
  options.training.epochs = 60;
  options.training.finetune_epochs = 5;
  options.training.batch_size = 16;
  options.training.learning_rate = 5e-3;
  return options;
}

TEST(EsciEval, ShoppingQueriesLayoutGivesTheThreeTasksPerLocaleAndBeatsTheMajorityClass) {
  TempDir dir;
  const Fixture fixture = write_fixture(dir);
  Context context = Context::for_tests();
  auto report = evaluate_esci(context, small_options(fixture));
  ASSERT_TRUE(report.is_ok()) << report.status().message();
  const nlohmann::json& r = *report;
  // The split column decides; the locales us/es read as en/es.
  EXPECT_EQ(r["config"]["split"], "split column");
  EXPECT_EQ(r["config"]["label_mode"], "esci");
  EXPECT_EQ(r["config"]["train_pairs"], fixture.train_rows);
  EXPECT_EQ(r["config"]["test_pairs"], fixture.test_rows);
  EXPECT_EQ(r["config"]["missing_products"], 0);
  // Only train judgments are edges (E, S and C; I has no engagement weight): no test label
  // reaches the graph.
  EXPECT_EQ(r["config"]["graph_edges"], fixture.train_queries * 3);
  const nlohmann::json& m = r["metrics"];
  EXPECT_EQ(m["pairs"], fixture.test_rows);
  EXPECT_EQ(m["queries"], fixture.test_queries);
  for (const char* key : {"ndcg", "micro_f1", "macro_f1", "substitute_f1"}) {
    ASSERT_TRUE(m.contains(key)) << key;
    EXPECT_GE(m[key].get<double>(), 0.0) << key;
    EXPECT_LE(m[key].get<double>(), 1.0) << key;
  }
  ASSERT_TRUE(r["per_locale"].contains("en"));
  ASSERT_TRUE(r["per_locale"].contains("es"));
  EXPECT_EQ(r["per_locale"]["en"]["pairs"].get<int>() + r["per_locale"]["es"]["pairs"].get<int>(), fixture.test_rows);
  // Ablations and the trivial baseline are in the same report.
  ASSERT_TRUE(r["baselines"].contains("without_graph"));
  ASSERT_TRUE(r["baselines"].contains("without_pretraining"));
  ASSERT_TRUE(r["baselines"].contains("majority_class"));
  // Majority class (I) is right on 2 of each query's 5 rows; it ranks every judged list in
  // one tie, which is broken by product, not by the file's order (E first here).
  EXPECT_NEAR(r["baselines"]["majority_class"]["micro_f1"].get<double>(), 0.4, 1e-9);
  EXPECT_GT(m["micro_f1"].get<double>(), 0.55) << r.dump(2);
  EXPECT_GT(m["ndcg"].get<double>(), r["baselines"]["majority_class"]["ndcg"].get<double>()) << r.dump(2);
  // The fused GBDTs (lexical evidence, relational evidence, both), cross-fitted on train rows.
  for (const char* model : {"lexical_gbdt", "relational_gbdt", "lexical_relational_gbdt"}) {
    ASSERT_TRUE(r["fusion"].contains(model)) << model;
    const nlohmann::json& f = r["fusion"][model];
    EXPECT_EQ(f["pairs"], fixture.test_rows) << model;
    EXPECT_EQ(f["details"]["folds"], 5) << model;
    EXPECT_GE(f["reliability"]["expected_calibration_error"].get<double>(), 0.0) << model;
  }
  // Colour and item words tell E, S, C and I apart here: lexical evidence alone beats the
  // majority class. The test queries are new, so relational evidence has only the products'
  // labels for other queries.
  EXPECT_GT(r["fusion"]["lexical_gbdt"]["micro_f1"].get<double>(), 0.4 + 0.2) << r["fusion"].dump(2);
}

TEST(EsciEval, NamesTheMissingFileAndTheBadRow) {
  TempDir dir;
  const Fixture fixture = write_fixture(dir);
  Context context = Context::for_tests();
  EsciEvalOptions options = small_options(fixture);
  options.products = dir / "absent.csv";
  auto missing = evaluate_esci(context, options);
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("absent.csv"), std::string::npos) << missing.status().message();

  options.products = fixture.products;
  options.train = dir.write("bad.csv",
                            "example_id,query,query_id,product_id,product_locale,esci_label,small_version,large_version,split\n"
                            "0,red phone,1,Bus0k0,us,E,1,1,train\n"
                            "1,red phone,1,Bus0k1,us,X,1,1,train\n");
  auto bad = evaluate_esci(context, options);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kBadInput);
  EXPECT_NE(bad.status().to_string().find("bad.csv:3:esci_label"), std::string::npos) << bad.status().to_string();
}

}  // namespace
}  // namespace aisle::eval
