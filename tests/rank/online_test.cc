// The pipeline's six strategies on a small data directory, and the bandit in the loop.
#include "aisle/rank/online.h"

#include <gtest/gtest.h>

#include <fstream>

#include <thread>

#include <map>
#include <string>
#include <vector>

#include "aisle/rank/clicks.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/lexical.h"
#include "test_util.h"

namespace aisle::rank {
namespace {

constexpr std::int64_t kT0 = 1793520000000;

class OnlineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::Store::open(dir_.path());
    ASSERT_TRUE(store.is_ok());
    std::vector<io::ProductRecord> products;
    const char* titles[] = {"Desk Lamp Brass", "Desk Lamp Steel", "Garden Hose Reel", "Garden Hose 50 ft", "Lamp Shade Linen"};
    for (int i = 0; i < 5; ++i) {
      io::ProductRecord p;
      p.id = "P" + std::to_string(i);
      p.locale = "en";
      p.title = titles[i];
      p.brand = i % 2 == 0 ? "Lumo" : "Aqua";
      p.popularity = 10.0 * (5 - i);  // P0 most popular
      products.push_back(p);
    }
    auto run = (*store)->begin_run("catalog", "catalog", "catalog-jsonl");
    ASSERT_TRUE((*store)->write_products(*run, products, 5).is_ok());
    // Shoppers searching "desk lamp" bought the lamp shade (P4), which the text does not match.
    std::vector<io::EventRecord> events;
    for (int i = 0; i < 3; ++i) {
      io::EventRecord e;
      e.session = "s" + std::to_string(i);
      e.query = "desk lamp";
      e.locale = "en";
      e.product_id = "P4";
      e.type = io::EventType::kPurchase;
      e.position = 3;
      e.ts_ms = kT0 + i;
      events.push_back(e);
    }
    run = (*store)->begin_run("events", "events", "events-jsonl");
    ASSERT_TRUE((*store)->write_events(*run, events, 3).is_ok());
    retrieve::IndexUpdateReport report;
    ASSERT_TRUE(retrieve::update_index(**store, Context::for_tests(), dir_.path(), {}, &report).is_ok());
    retrieve::MemoryBuildReport memory_report;
    ASSERT_TRUE(update_memory(**store, dir_.path(), false, Context::for_tests(), &memory_report, nullptr).is_ok());
    auto pipeline = SearchPipeline::open(dir_.path(), Context::for_tests());
    ASSERT_TRUE(pipeline.is_ok()) << pipeline.status().to_string();
    pipeline_ = std::move(*pipeline);
  }

  std::vector<std::string> ids(const PipelineResult& result) {
    std::vector<std::string> out;
    for (const PipelineHit& hit : result.hits) {
      auto product = pipeline_->store().get_product(hit.product);
      out.push_back(product.is_ok() && product->has_value() ? (*product)->record.id : "?");
    }
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<SearchPipeline> pipeline_;
};

TEST_F(OnlineTest, EachStrategyRunsAloneAndTheirUnionNamesItsFinders) {
  const auto available = pipeline_->available();
  EXPECT_TRUE(available[retrieve::kLexicalStrategy] && available[retrieve::kStructuredStrategy]);
  EXPECT_FALSE(available[retrieve::kVectorStrategy]);  // no encoder
  EXPECT_TRUE(available[retrieve::kMemoryStrategy]);
  EXPECT_FALSE(available[retrieve::kGraphStrategy]);  // no related-products model
  EXPECT_TRUE(available[retrieve::kPopularityStrategy]);

  PipelineOptions options;
  options.k = 5;
  options.depth = 5;
  options.now_ms = kT0;
  options.strategy = "memory";
  auto memory = pipeline_->search("Desk Lamps", options);
  ASSERT_TRUE(memory.is_ok()) << memory.status().to_string();
  EXPECT_EQ(ids(*memory), std::vector<std::string>{"P4"});  // the engagement memory, keyed by analyzed terms
  EXPECT_EQ(memory->strategy, "memory:5");
  EXPECT_EQ(memory->result_counts[retrieve::kMemoryStrategy], 1);

  options.strategy = "popularity";
  auto popular = pipeline_->search("anything", options);
  ASSERT_TRUE(popular.is_ok());
  EXPECT_EQ(ids(*popular), (std::vector<std::string>{"P0", "P1", "P2", "P3", "P4"}));
  options.filter.brands = {"Aqua"};
  popular = pipeline_->search("anything", options);
  ASSERT_TRUE(popular.is_ok());
  EXPECT_EQ(ids(*popular), (std::vector<std::string>{"P1", "P3"}));  // filters apply to every strategy
  options.filter = {};

  options.strategy = "lexical+memory";
  auto both = pipeline_->search("desk lamp", options);
  ASSERT_TRUE(both.is_ok());
  std::map<std::string, std::uint32_t> found_by;
  const auto names = ids(*both);
  for (std::size_t i = 0; i < names.size(); ++i) found_by[names[i]] = both->hits[i].provenance.found_by;
  EXPECT_EQ(found_by["P0"], retrieve::kFoundLexical);
  EXPECT_EQ(found_by["P4"], retrieve::kFoundLexical | retrieve::kFoundMemory);  // "lamp" matches its title too
  EXPECT_EQ(both->action.mask(), retrieve::kFoundLexical | retrieve::kFoundMemory);

  // An explicit action runs exactly its strategies at its depths.
  retrieve::PolicyAction action;
  action.depth[retrieve::kPopularityStrategy] = 2;
  options.action = action;
  auto acted = pipeline_->search("desk lamp", options);
  ASSERT_TRUE(acted.is_ok());
  EXPECT_EQ(ids(*acted), (std::vector<std::string>{"P0", "P1"}));

  options.action.reset();
  options.strategy = "vector";
  EXPECT_EQ(pipeline_->search("lamp", options).status().code(), StatusCode::kNotFound);
  options.strategy = "lexical+telepathy";
  auto bad = pipeline_->search("lamp", options);
  EXPECT_EQ(bad.status().code(), StatusCode::kBadInput);
  EXPECT_NE(bad.status().message().find("telepathy"), std::string::npos);
}

// A sibling shares the indexes and models, has its own store connection, and answers as the
// first pipeline does, from another thread at the same time.
TEST_F(OnlineTest, SiblingPipelinesShareTheModelsAndSearchConcurrently) {
  auto sibling = pipeline_->open_sibling();
  ASSERT_TRUE(sibling.is_ok()) << sibling.status().to_string();
  EXPECT_EQ(&(*sibling)->catalog(), &pipeline_->catalog());
  EXPECT_EQ(&(*sibling)->features(), &pipeline_->features());
  EXPECT_NE(&(*sibling)->store(), &pipeline_->store());
  EXPECT_EQ((*sibling)->available(), pipeline_->available());

  PipelineOptions options;
  options.k = 5;
  options.depth = 5;
  options.now_ms = kT0;
  options.strategy = "lexical+memory+popularity";
  auto expected = pipeline_->search("desk lamp", options);
  ASSERT_TRUE(expected.is_ok());
  std::vector<std::vector<std::uint32_t>> seen(2);
  auto run = [&](const SearchPipeline& pipeline, std::vector<std::uint32_t>* out) {
    for (int i = 0; i < 50; ++i) {
      auto result = pipeline.search("desk lamp", options);
      if (!result.is_ok()) return;
      for (const PipelineHit& hit : result->hits) out->push_back(hit.product.value());
    }
  };
  std::thread a(run, std::cref(*pipeline_), &seen[0]);
  std::thread b(run, std::cref(**sibling), &seen[1]);
  a.join();
  b.join();
  std::vector<std::uint32_t> once;
  for (const PipelineHit& hit : expected->hits) once.push_back(hit.product.value());
  ASSERT_EQ(seen[0].size(), 50 * once.size());
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_TRUE(std::equal(once.begin(), once.end(), seen[1].begin()));
}

TEST_F(OnlineTest, FeedbackOnASearchUpdatesThePolicyOnceItSettles) {
  OnlineOptions options;
  options.feedback_window_ms = 1000;
  options.save_every = 1;
  auto online = OnlinePolicy::open(dir_.path(), options, 7);
  ASSERT_TRUE(online.is_ok());
  auto decision = (*online)->choose(*pipeline_, "desk lamp", "en", nullptr, kT0);
  ASSERT_TRUE(decision.is_ok()) << decision.status().to_string();
  EXPECT_EQ(decision->search_id.size(), 16u);
  EXPECT_GT(decision->action.candidates(), 0);
  EXPECT_LE(decision->action.candidates(), (*online)->config().budget);
  EXPECT_FALSE(decision->action.uses(retrieve::kVectorStrategy));  // not available here
  PipelineOptions search;
  search.action = decision->action;
  search.now_ms = kT0;
  auto result = pipeline_->search("desk lamp", search);
  ASSERT_TRUE(result.is_ok());
  ASSERT_FALSE(result->hits.empty());
  (*online)->record(*decision, *result, kT0);
  const ProductId shown = result->hits[0].product;
  EXPECT_FALSE((*online)->reward(decision->search_id, shown, io::EventType::kImpression));
  EXPECT_FALSE((*online)->reward("0000000000000000", shown, io::EventType::kClick));
  EXPECT_FALSE((*online)->reward(decision->search_id, ProductId(999), io::EventType::kClick));  // not shown
  EXPECT_TRUE((*online)->reward(decision->search_id, shown, io::EventType::kClick));
  EXPECT_TRUE((*online)->reward(decision->search_id, shown, io::EventType::kPurchase));
  // Not yet settled: the window is still open.
  ASSERT_TRUE((*online)->settle(kT0 + 500, false).is_ok());
  EXPECT_EQ((*online)->stats().updates, 0);
  EXPECT_EQ((*online)->stats().pending, 1u);
  ASSERT_TRUE((*online)->settle(kT0 + 1000, false).is_ok());
  EXPECT_EQ((*online)->stats().updates, 1);
  EXPECT_EQ((*online)->stats().pending, 0u);
  EXPECT_FALSE((*online)->reward(decision->search_id, shown, io::EventType::kClick));  // settled
  EXPECT_TRUE(std::filesystem::exists(policy_path(dir_.path())));  // save_every 1

  // The saved policy continues: a reopened one has the update and chooses as the first would.
  auto again = OnlinePolicy::open(dir_.path(), options, 99);
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ((*again)->stats().updates, 1);
  auto next = (*online)->choose(*pipeline_, "garden hose", "en", nullptr, kT0 + 2000);
  auto next_again = (*again)->choose(*pipeline_, "garden hose", "en", nullptr, kT0 + 2000);
  ASSERT_TRUE(next.is_ok() && next_again.is_ok());
  EXPECT_EQ(next->action.describe(), next_again->action.describe());
}

// A process killed with -9 runs no save(): the journal alone must carry the updates.
TEST_F(OnlineTest, UpdatesSurviveAKillThroughTheJournal) {
  OnlineOptions options;
  options.feedback_window_ms = 1000;
  options.save_every = 0;  // policy.json only from save()
  auto settle_searches = [&](OnlinePolicy& online, const std::vector<std::string>& queries, std::int64_t at) {
    for (const std::string& query : queries) {
      auto decision = online.choose(*pipeline_, query, "en", nullptr, at);
      ASSERT_TRUE(decision.is_ok());
      PipelineOptions search;
      search.action = decision->action;
      search.now_ms = at;
      auto result = pipeline_->search(query, search);
      ASSERT_TRUE(result.is_ok());
      online.record(*decision, *result, at);
      if (!result->hits.empty()) online.reward(decision->search_id, result->hits[0].product, io::EventType::kAddToCart);
    }
    ASSERT_TRUE(online.settle(at + 1000, false).is_ok());
  };
  {
    auto online = OnlinePolicy::open(dir_.path(), options, 7);
    ASSERT_TRUE(online.is_ok());
    settle_searches(**online, {"desk lamp", "garden hose", "yoga mat"}, kT0);
    EXPECT_EQ((*online)->stats().updates, 3);
    EXPECT_FALSE(std::filesystem::exists(policy_path(dir_.path())));
    // Destroyed without save(), as a kill would leave it.
  }
  auto reopened = OnlinePolicy::open(dir_.path(), options, 7);
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  EXPECT_EQ((*reopened)->stats().updates, 3);

  // It learned exactly what a policy that never stopped learned from the same searches (the
  // arms' statistics; the exploration RNG restarts from the seed).
  auto live = OnlinePolicy::open(dir_.path() / "elsewhere", options, 7);
  ASSERT_TRUE(live.is_ok());
  settle_searches(**live, {"desk lamp", "garden hose", "yoga mat"}, kT0);
  ASSERT_TRUE((*live)->save().is_ok());
  auto learned = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
    state.erase("rng");
    return state;
  };
  const nlohmann::json expected = learned(policy_path(dir_.path() / "elsewhere"));
  EXPECT_EQ(expected["updates"], 3);

  // save() empties the journal; a kill between writing policy.json and emptying it leaves
  // entries the policy already has: they are skipped by sequence number, not applied twice.
  const auto journal = policy_journal_path(dir_.path());
  std::filesystem::copy_file(journal, dir_.path() / "journal.copy");
  ASSERT_TRUE((*reopened)->save().is_ok());
  EXPECT_TRUE(!std::filesystem::exists(journal) || std::filesystem::file_size(journal) == 0);
  EXPECT_EQ(learned(policy_path(dir_.path())), expected);
  std::filesystem::copy_file(dir_.path() / "journal.copy", journal, std::filesystem::copy_options::overwrite_existing);
  {
    std::ofstream torn(journal, std::ios::app);
    torn << R"({"seq": 4, "signals": {"locale": "en")";  // a kill mid-write
  }
  auto after_save = OnlinePolicy::open(dir_.path(), options, 7);
  ASSERT_TRUE(after_save.is_ok()) << after_save.status().to_string();
  EXPECT_EQ((*after_save)->stats().updates, 3);

  // Damage before the last line is an error naming the line.
  {
    std::ofstream damaged(journal, std::ios::trunc);
    damaged << "not json\n" << R"({"seq": 9})" << "\n";
  }
  auto bad = OnlinePolicy::open(dir_.path(), options, 7);
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().where().to_string(), journal.string() + ":1");
}

}  // namespace
}  // namespace aisle::rank
