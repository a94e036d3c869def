#include "aisle/text/inverted_index.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <functional>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "aisle/core/files.h"
#include "test_util.h"

namespace aisle::text {
namespace {

using ::testing::ElementsAre;

Document product(std::uint32_t id, std::string title, std::string brand = "", std::string color = "",
                 std::vector<std::string> category = {}, std::optional<double> price = std::nullopt,
                 std::string locale = "en") {
  Document document;
  document.product = ProductId(id);
  document.external_id = "p" + std::to_string(id);
  document.locale = std::move(locale);
  document.title = std::move(title);
  document.brand = std::move(brand);
  document.color = std::move(color);
  document.category = std::move(category);
  document.price = price;
  return document;
}

std::vector<Document> small_catalog() {
  return {
      product(1, "Nike Air Zoom running shoes", "Nike", "Red", {"Shoes", "Running"}, 120),
      product(2, "Adidas Ultraboost running shoe", "Adidas", "Black", {"Shoes", "Running"}, 180),
      product(3, "Nike leather basketball shoes", "Nike", "White", {"Shoes", "Basketball"}, 95),
      product(4, "Cordless drill 20V with 2 batteries", "DeWalt", "Yellow", {"Tools", "Drills"}, 149),
      product(5, "Red wine glass set of 4", "Libbey", "Clear", {"Kitchen", "Glassware"}, 25),
      product(6, "Zapatillas de correr rojas", "Nike", "Rojo", {"Calzado", "Correr"}, 110, "es"),
  };
}

std::vector<std::string> ids(const SearchResult& result) {
  std::vector<std::string> out;
  for (const Hit& hit : result.hits) out.push_back(hit.external_id);
  return out;
}

SearchResult search(const InvertedIndex& index, std::string_view query, SearchOptions options = {}) {
  auto result = index.search(query, options);
  EXPECT_TRUE(result.is_ok()) << result.status().to_string();
  return result.is_ok() ? *result : SearchResult{};
}

TEST(InvertedIndexTest, RanksByBm25fWithFieldWeights) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  SearchResult result = search(*index, "nike running shoes");
  ASSERT_GE(result.hits.size(), 3u);
  EXPECT_EQ(result.hits[0].external_id, "p1");  // brand, title and category all match
  EXPECT_EQ(index->stats().documents, 6);
  // Terms are stemmed: "shoe" and "shoes" match the same documents.
  EXPECT_EQ(ids(search(*index, "shoe")).size(), 3u);
}

TEST(InvertedIndexTest, FiltersByLocaleBrandColorCategoryAndPrice) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  SearchOptions options;
  options.filter.brands = {"NIKE"};
  EXPECT_THAT(ids(search(*index, "shoes", options)), ::testing::UnorderedElementsAre("p1", "p3"));
  options = {};
  options.filter.categories = {"shoes>running"};
  EXPECT_THAT(ids(search(*index, "shoes", options)), ::testing::UnorderedElementsAre("p1", "p2"));
  options = {};
  options.filter.max_price = 100;
  EXPECT_THAT(ids(search(*index, "shoes", options)), ElementsAre("p3"));
  options = {};
  options.filter.colors = {"purple"};  // no document has it
  EXPECT_TRUE(search(*index, "shoes", options).hits.empty());
  options = {};
  options.locale = "es";
  options.filter.locales = {"es"};
  EXPECT_THAT(ids(search(*index, "zapatilla roja", options)), ElementsAre("p6"));
}

// Range filters over numeric attributes: a value is a number only when it is one whole
// ("9", " 9.5 "), both top-k algorithms agree, and the columns survive compaction and a
// commit + open.
TEST(InvertedIndexTest, FiltersByRangesOverNumericAttributes) {
  EXPECT_EQ(numeric_value(" 9.5 "), 9.5f);
  EXPECT_EQ(numeric_value("-3"), -3.0f);
  EXPECT_EQ(numeric_value("+4"), 4.0f);
  EXPECT_FALSE(numeric_value("9 mm"));
  EXPECT_FALSE(numeric_value("large"));
  EXPECT_FALSE(numeric_value(""));
  EXPECT_FALSE(numeric_value("nan"));
  EXPECT_FALSE(numeric_value("1e999"));
  auto index = InvertedIndex::create();
  std::vector<Document> catalog = small_catalog();
  catalog[0].attributes = {{"Size", "9"}, {"weight", "310 g"}};
  catalog[1].attributes = {{"size", "10.5"}, {"size", "7"}};  // the first value of a name counts
  catalog[2].attributes = {{"size", "12"}};
  catalog[3].attributes = {{"voltage", "20"}};
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  EXPECT_THAT(index->numeric_attributes(), ElementsAre("size", "voltage"));  // "310 g" is not a number
  EXPECT_TRUE(index->has_numeric_attribute("SIZE"));
  EXPECT_FALSE(index->has_numeric_attribute("weight"));
  auto check = [&](const InvertedIndex& idx) {
    for (TopKAlgorithm algorithm : {TopKAlgorithm::kBlockMaxWand, TopKAlgorithm::kExhaustive}) {
      SearchOptions options;
      options.algorithm = algorithm;
      options.filter.attributes = {AttributeRange{"size", 9.0, 11.0}};
      EXPECT_THAT(ids(search(idx, "shoes", options)), ::testing::UnorderedElementsAre("p1", "p2"));
      options.filter.attributes = {AttributeRange{"size", 7.0, 7.0}};
      EXPECT_TRUE(search(idx, "shoes", options).hits.empty());
      options.filter.attributes = {AttributeRange{"size", 10.0, std::nullopt}};
      options.filter.max_price = 150;
      EXPECT_THAT(ids(search(idx, "shoes", options)), ElementsAre("p3"));
      options.filter = {};
      options.filter.attributes = {AttributeRange{"size", std::nullopt, 100.0}, AttributeRange{"voltage", 0.0, 100.0}};
      EXPECT_TRUE(search(idx, "shoes drill", options).hits.empty());  // no document has both
      options.filter.attributes = {AttributeRange{"colour", 0.0, 1.0}};
      EXPECT_TRUE(search(idx, "shoes", options).hits.empty());
    }
  };
  check(*index);
  // A replaced document's old value no longer counts; compaction keeps the rest.
  catalog[0].attributes = {{"size", "20"}};
  ASSERT_TRUE(index->upsert(std::span<const Document>(catalog.data(), 1), Context::for_tests()).is_ok());
  SearchOptions options;
  options.filter.attributes = {AttributeRange{"size", 9.0, 11.0}};
  EXPECT_THAT(ids(search(*index, "shoes", options)), ElementsAre("p2"));
  index->compact();
  EXPECT_THAT(ids(search(*index, "shoes", options)), ElementsAre("p2"));
  options.filter.attributes = {AttributeRange{"size", 20.0, 20.0}};
  EXPECT_THAT(ids(search(*index, "shoes", options)), ElementsAre("p1"));
  testing::TempDir dir;
  ASSERT_TRUE(index->commit(dir.path()).is_ok());
  auto reopened = InvertedIndex::open(dir.path());
  ASSERT_TRUE(reopened.is_ok()) << reopened.status().to_string();
  EXPECT_THAT(ids(search(**reopened, "shoes", options)), ElementsAre("p1"));
  EXPECT_THAT((*reopened)->numeric_attributes(), ElementsAre("size", "voltage"));
  // Facets over a result set: counted from the table, unknown products left out.
  const std::vector<ProductId> set = {ProductId(1), ProductId(2), ProductId(99)};
  auto facets = (*reopened)->facets(set);
  ASSERT_EQ(facets["brand"].size(), 2u);
  EXPECT_EQ(facets["category"][0].value, "Shoes");
  EXPECT_EQ(facets["category"][0].count, 2);
}

// Highlighting marks the words of the original text whose analysis meets a query term: stems
// ("Running" for "runs"), typo corrections, accents and case folded, Japanese morphemes;
// ranges are bytes of the text as stored.
TEST(InvertedIndexTest, HighlightMarksTheWordsThatMatchAsTheAnalyzerSeesThem) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  auto marked = [&](std::string_view text, std::string_view query, std::string_view locale = "en") {
    SearchOptions options;
    options.locale = std::string(locale);
    const SearchResult result = search(*index, query, options);
    std::vector<std::string> words;
    for (const auto& [begin, end] : index->highlight(text, locale, result.terms)) words.emplace_back(text.substr(begin, end - begin));
    return words;
  };
  EXPECT_THAT(marked("Nike Air Zoom RUNNING Shoes, red", "runs shoe"), ElementsAre("RUNNING", "Shoes"));
  EXPECT_THAT(marked("Nike Air Zoom running shoes", "runnning"), ElementsAre("running"));  // a typo's correction
  EXPECT_THAT(marked("Zapatillas de correr rojas", "zapatilla roja", "es"), ElementsAre("Zapatillas", "rojas"));
  EXPECT_THAT(marked("Ｎｉｋｅ shoes", "nike"), ElementsAre("Ｎｉｋｅ"));  // full width, as stored
  EXPECT_TRUE(marked("Nike Air Zoom", "drill").empty());
  // Invalid UTF-8 is no word and shifts no range.
  EXPECT_THAT(marked("\xff\xfeNike \xc3 shoes", "nike shoes"), ElementsAre("Nike", "shoes"));
  EXPECT_TRUE(index->highlight("Nike", "xx", {}).empty());
  // Japanese: MeCab's morphemes, without spaces between words.
  std::vector<Document> ja = {product(7, "ワイヤレスイヤホン 黒", "Sonora", "", {}, 9800, "ja")};
  ASSERT_TRUE(index->upsert(ja, Context::for_tests()).is_ok());
  EXPECT_THAT(marked("Sonoraのワイヤレスイヤホン（黒）。ノイズキャンセリング", "黒 ワイヤレスイヤホン", "ja"),
              ElementsAre("ワイヤレスイヤホン", "黒"));
}

TEST(InvertedIndexTest, FacetsCountAllMatchesAfterFilters) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  SearchOptions options;
  options.facets = true;
  options.k = 1;
  SearchResult result = search(*index, "shoes", options);
  EXPECT_EQ(result.matched, 3);
  ASSERT_FALSE(result.facets["brand"].empty());
  EXPECT_EQ(result.facets["brand"][0].value, "Nike");
  EXPECT_EQ(result.facets["brand"][0].count, 2);
  // Every level of the category path is a facet value.
  auto& categories = result.facets["category"];
  EXPECT_EQ(categories[0].value, "Shoes");
  EXPECT_EQ(categories[0].count, 3);
  EXPECT_EQ(categories[1].value, "Shoes > Running");
  EXPECT_EQ(categories[1].count, 2);
  EXPECT_EQ(result.facets["price"].size(), 2u);  // 50-100 and 100-250
}

TEST(InvertedIndexTest, UpsertReplacesAndRemoveDeletesVisibleToNextSearch) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  std::vector<Document> change = {product(4, "Hammer drill 18V", "Makita", "Teal", {"Tools", "Drills"}, 99)};
  ASSERT_TRUE(index->upsert(change, Context::for_tests()).is_ok());
  EXPECT_THAT(ids(search(*index, "cordless")), ElementsAre());
  EXPECT_THAT(ids(search(*index, "hammer drill")), ElementsAre("p4"));
  std::vector<ProductId> gone = {ProductId(5), ProductId(99)};
  EXPECT_EQ(index->remove(gone), 1);
  EXPECT_TRUE(search(*index, "wine glass").hits.empty());
  EXPECT_EQ(index->stats().documents, 5);
  EXPECT_EQ(index->stats().deleted, 2);
  index->compact();
  EXPECT_EQ(index->stats().deleted, 0);
  EXPECT_EQ(index->stats().segments, 1);
  EXPECT_THAT(ids(search(*index, "hammer drill")), ElementsAre("p4"));
}

TEST(InvertedIndexTest, BadInputLeavesIndexUnchanged) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  std::vector<Document> bad = {product(10, "lamp"), product(10, "lamp again")};
  Status status = index->upsert(bad, Context::for_tests());
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  std::vector<Document> unknown_locale = {product(11, "lamp", "", "", {}, std::nullopt, "xx")};
  EXPECT_EQ(index->upsert(unknown_locale, Context::for_tests()).code(), StatusCode::kBadInput);
  EXPECT_EQ(index->stats().documents, 6);
  EXPECT_TRUE(search(*index, "lamp").hits.empty());
  SearchOptions unknown;
  unknown.locale = "xx";
  EXPECT_EQ(index->search("x", unknown).status().code(), StatusCode::kBadInput);
  SearchOptions zero;
  zero.k = 0;
  EXPECT_EQ(index->search("x", zero).status().code(), StatusCode::kBadInput);
}

TEST(InvertedIndexTest, TypoToleranceExpandsUnknownTermsAndCanBeSwitchedOff) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  SearchResult result = search(*index, "batery dril");
  ASSERT_FALSE(result.hits.empty());
  EXPECT_EQ(result.hits[0].external_id, "p4");
  bool expanded = std::any_of(result.terms.begin(), result.terms.end(),
                              [](const QueryTerm& term) { return term.expanded_from == "dril" && term.term == "drill"; });
  EXPECT_TRUE(expanded);
  SearchOptions off;
  off.typo.enabled = false;
  EXPECT_TRUE(search(*index, "batery dril", off).hits.empty());
}

TEST(InvertedIndexTest, PopularityPriorBreaksTextTies) {
  auto index = InvertedIndex::create();
  std::vector<Document> docs = {product(1, "blue lamp"), product(2, "blue lamp")};
  docs[1].popularity = 500;
  ASSERT_TRUE(index->upsert(docs, Context::for_tests()).is_ok());
  SearchResult result = search(*index, "lamp");
  ASSERT_EQ(result.hits.size(), 2u);
  EXPECT_EQ(result.hits[0].external_id, "p2");
  EXPECT_NEAR(result.hits[0].prior, 0.5 * 500 / 600.0, 1e-5);
}

TEST(InvertedIndexTest, ExplainBreaksScoreDownByField) {
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  SearchResult result = search(*index, "nike");
  auto explanation = index->explain(catalog[0], result.terms);
  ASSERT_EQ(explanation.size(), 1u);
  EXPECT_EQ(explanation[0].tf[static_cast<int>(Field::kTitle)], 1);
  EXPECT_EQ(explanation[0].tf[static_cast<int>(Field::kBrand)], 1);
  EXPECT_GT(explanation[0].field_contribution[static_cast<int>(Field::kTitle)], 0);
  // The indexed score is the same formula with an 8-bit impact: within half a step.
  auto hit = std::find_if(result.hits.begin(), result.hits.end(), [](const Hit& h) { return h.external_id == "p1"; });
  ASSERT_NE(hit, result.hits.end());
  EXPECT_NEAR(explanation[0].score, hit->score, 0.5 / 255 * explanation[0].idf + 1e-6);
}

void expect_same_match(const DocumentMatch& a, const DocumentMatch& b, const std::string& what) {
  EXPECT_EQ(a.length, b.length) << what;
  EXPECT_EQ(a.sequence, b.sequence) << what;
  ASSERT_EQ(a.terms.size(), b.terms.size()) << what;
  for (std::size_t t = 0; t < a.terms.size(); ++t) {
    EXPECT_EQ(a.terms[t].term, b.terms[t].term) << what;
    EXPECT_EQ(a.terms[t].tf, b.terms[t].tf) << what;
    EXPECT_EQ(a.terms[t].field_contribution, b.terms[t].field_contribution) << what;
    EXPECT_EQ(a.terms[t].score, b.terms[t].score) << what;
  }
}

// match() reads an indexed document's analyzed fields from its segment's forward entry; a
// document the index does not hold in that version is analyzed instead. The two must agree
// exactly: in fresh segments, after upserts and a merge, and after a commit and reopen.
TEST(InvertedIndexTest, ForwardEntriesMatchAsAnalyzingTheTextDoes) {
  testing::TempDir dir;
  IndexOptions options;
  options.max_segments = 64;
  auto index = InvertedIndex::create(options);
  std::vector<Document> catalog = small_catalog();
  catalog[0].description = "Lightweight running shoes: the Zoom Air unit, 10mm drop, 3/4in laces. Running!";
  catalog[3].bullets = {"20V max", "two 2.0Ah batteries", "drill drill drill"};
  catalog[3].attributes = {{"voltage", "20 V"}, {"weight", "1.5 kg"}};
  for (std::size_t i = 0; i < catalog.size(); ++i) catalog[i].version = 100 + i;
  // Three batches: three segments.
  ASSERT_TRUE(index->upsert(std::span<const Document>(catalog).subspan(0, 2), Context::for_tests()).is_ok());
  ASSERT_TRUE(index->upsert(std::span<const Document>(catalog).subspan(2, 2), Context::for_tests()).is_ok());
  ASSERT_TRUE(index->upsert(std::span<const Document>(catalog).subspan(4), Context::for_tests()).is_ok());
  // An upsert replaces a document: its new version's entry is in a fourth segment.
  catalog[1].title = "Adidas Ultraboost 22 running shoe, black";
  catalog[1].version = 200;
  ASSERT_TRUE(index->upsert(std::span<const Document>(catalog).subspan(1, 1), Context::for_tests()).is_ok());

  const std::vector<std::string> queries = {"nike running shoes", "drill batteries 20v", "red", "zapatillas rojas",
                                            "running running", "3/4in laces", "black adidas shoe"};
  auto check_all = [&](const InvertedIndex& checked, const std::string& stage) {
    for (const std::string& query : queries) {
      SearchOptions search;
      search.locale = "en";
      auto result = checked.search(query, search);
      ASSERT_TRUE(result.is_ok());
      for (const Document& document : catalog) {
        Document unindexed = document;
        unindexed.version += 1;  // not the indexed version: analyzed
        expect_same_match(checked.match(document, result->terms), checked.match(unindexed, result->terms),
                          stage + ": " + query + " / " + document.external_id);
      }
    }
    // The forward entry is what the index holds: the same version with its text gone still
    // matches as indexed.
    Document blank = catalog[0];
    blank.title.clear();
    blank.description.clear();
    SearchOptions search;
    auto result = checked.search("nike running", search);
    ASSERT_TRUE(result.is_ok());
    EXPECT_EQ(checked.match(blank, result->terms).length, checked.match(catalog[0], result->terms).length) << stage;
    EXPECT_GT(checked.match(catalog[0], result->terms).length[static_cast<int>(Field::kDescription)], 5) << stage;
  };
  check_all(*index, "segments");
  EXPECT_EQ(index->stats().segments, 4);
  index->compact();
  EXPECT_EQ(index->stats().segments, 1);
  check_all(*index, "merged");
  ASSERT_TRUE(index->commit(dir.path()).is_ok());
  auto opened = InvertedIndex::open(dir.path());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  check_all(**opened, "reopened");
}

// A random catalog with Zipfian words, several segments, deletions, a prior and filters:
// block-max WAND must return exactly the exhaustive scorer's top k, ids and scores.
// Returns (documents scored by WAND, by the exhaustive scorer).
std::pair<std::int64_t, std::int64_t> check_wand_equals_exhaustive(float popularity_weight) {
  std::mt19937 random(42);
  std::vector<std::string> words;
  for (int i = 0; i < 400; ++i) words.push_back("w" + std::to_string(i) + "x");
  std::vector<double> weights;
  for (int i = 0; i < 400; ++i) weights.push_back(1.0 / (i + 1));
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  std::uniform_int_distribution<int> length(2, 14);
  const std::vector<std::string> brands = {"acme", "globex", "initech", "umbrella"};
  IndexOptions options;
  options.max_segments = 4;
  options.bm25f.popularity_weight = popularity_weight;
  auto index = InvertedIndex::create(options);
  std::uint32_t next_id = 1;
  for (int batch = 0; batch < 6; ++batch) {
    std::vector<Document> docs;
    for (int i = 0; i < 1500; ++i) {
      Document document;
      document.product = ProductId(next_id++);
      document.external_id = std::to_string(document.product.value());
      document.locale = "en";
      for (int w = length(random); w > 0; --w) document.title += words[zipf(random)] + " ";
      for (int w = length(random) * 3; w > 0; --w) document.description += words[zipf(random)] + " ";
      document.brand = brands[random() % brands.size()];
      document.category = {"c" + std::to_string(random() % 3), "d" + std::to_string(random() % 4)};
      document.price = static_cast<double>(random() % 300);
      if (popularity_weight > 1.0f) {
        // Rare, very popular products: the prior varies sharply between runs of documents.
        if ((document.product.value() / 200) % 3 == 0 && random() % 4 == 0) document.popularity = 1e6;
      } else if (random() % 3 == 0) {
        document.popularity = static_cast<double>(random() % 1000);
      }
      docs.push_back(std::move(document));
    }
    EXPECT_TRUE(index->upsert(docs, Context::for_tests()).is_ok());
    std::vector<ProductId> removed;
    for (int i = 0; i < 200; ++i) removed.push_back(ProductId(1 + random() % (next_id - 1)));
    index->remove(removed);
  }
  EXPECT_GT(index->stats().segments, 1);
  std::int64_t wand_scored = 0, exhaustive_scored = 0;
  for (int query = 0; query < 300; ++query) {
    std::string text;
    for (int w = 1 + static_cast<int>(random() % 5); w > 0; --w) text += words[zipf(random)] + " ";
    SearchOptions search_options;
    search_options.k = query % 2 == 0 ? 10 : 100;
    if (query % 5 == 0) search_options.filter.brands = {"acme", "initech"};
    if (query % 7 == 0) search_options.filter.max_price = 150;
    if (query % 11 == 0) search_options.filter.categories = {"c1"};
    SearchResult wand = search(*index, text, search_options);
    search_options.algorithm = TopKAlgorithm::kExhaustive;
    SearchResult exhaustive = search(*index, text, search_options);
    EXPECT_EQ(wand.hits.size(), exhaustive.hits.size()) << text;
    for (std::size_t i = 0; i < std::min(wand.hits.size(), exhaustive.hits.size()); ++i) {
      EXPECT_EQ(wand.hits[i].product, exhaustive.hits[i].product) << text << " rank " << i;
      EXPECT_EQ(wand.hits[i].score, exhaustive.hits[i].score) << text << " rank " << i;
    }
    wand_scored += wand.documents_scored;
    exhaustive_scored += exhaustive.documents_scored;
  }
  return {wand_scored, exhaustive_scored};
}

TEST(InvertedIndexTest, BlockMaxWandEqualsExhaustiveOnRandomQueries) {
  auto [wand, exhaustive] = check_wand_equals_exhaustive(0.5f);
  // The point of block-max WAND: far fewer documents scored.
  EXPECT_LT(wand * 3, exhaustive);
}

// A prior as strong as the text: its bounds per run of 128 documents drive the pruning.
TEST(InvertedIndexTest, BlockMaxWandEqualsExhaustiveWithStrongPrior) { check_wand_equals_exhaustive(4.0f); }


TEST(InvertedIndexTest, CommitAndOpenRoundTripWithIncrementalCommits) {
  testing::TempDir dir;
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  ASSERT_TRUE(index->commit(dir.path()).is_ok());
  std::vector<Document> more = {product(7, "Garden hose 50 ft", "Flexzilla", "Green", {"Garden"}, 45)};
  ASSERT_TRUE(index->upsert(more, Context::for_tests()).is_ok());
  std::vector<ProductId> removed = {ProductId(2)};
  index->remove(removed);
  ASSERT_TRUE(index->commit(dir.path()).is_ok());

  auto opened = InvertedIndex::open(dir.path());
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  for (std::string query : {"nike running shoes", "garden hose", "50 ft", "drill", "adidas"}) {
    SearchOptions options;
    options.facets = true;
    SearchResult before = search(*index, query, options);
    SearchResult after = search(**opened, query, options);
    ASSERT_EQ(ids(before), ids(after)) << query;
    for (std::size_t i = 0; i < before.hits.size(); ++i) EXPECT_EQ(before.hits[i].score, after.hits[i].score);
    EXPECT_EQ(before.facets, after.facets);
  }
  EXPECT_TRUE(search(**opened, "adidas").hits.empty());
  EXPECT_EQ((*opened)->stats().documents, 6);
  // Only the files the MANIFEST names are left.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 4);  // MANIFEST, two segments, one document table
}

TEST(InvertedIndexTest, DamagedFilesAreCorruptionNamingTheFile) {
  testing::TempDir dir;
  auto index = InvertedIndex::create();
  auto catalog = small_catalog();
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  ASSERT_TRUE(index->commit(dir.path()).is_ok());
  EXPECT_EQ(InvertedIndex::open(dir / "missing").status().code(), StatusCode::kNotFound);
  std::filesystem::path segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("seg-", 0) == 0) segment = entry.path();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream file(segment, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(200);
    file.put('\x7f');
  }
  auto opened = InvertedIndex::open(dir.path());
  ASSERT_FALSE(opened.is_ok());
  EXPECT_EQ(opened.status().code(), StatusCode::kCorruption);
  EXPECT_NE(opened.status().to_string().find(segment.filename().string()), std::string::npos);
  std::filesystem::resize_file(segment, 100);
  EXPECT_EQ(InvertedIndex::open(dir.path()).status().code(), StatusCode::kCorruption);
  dir.write("MANIFEST", "{not json");
  EXPECT_EQ(InvertedIndex::open(dir.path()).status().code(), StatusCode::kCorruption);
}

// A forward section damaged behind a valid checksum (a bug, or a file rewritten by hand) is
// refused at open, before any search decodes it.
TEST(InvertedIndexTest, DamagedForwardEntriesAreRefusedEvenWithAValidChecksum) {
  auto damaged_with = [](const std::function<void(std::vector<std::uint8_t>&)>& damage) {
    testing::TempDir dir;
    auto index = InvertedIndex::create();
    auto catalog = small_catalog();
    EXPECT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
    EXPECT_TRUE(index->commit(dir.path()).is_ok());
    std::filesystem::path segment;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      if (entry.path().filename().string().rfind("seg-", 0) == 0) segment = entry.path();
    }
    std::ifstream in(segment, std::ios::binary);
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    damage(bytes);
    const std::uint64_t checksum = checksum64(std::span<const std::uint8_t>(bytes).subspan(88));
    std::memcpy(bytes.data() + 80, &checksum, sizeof(checksum));  // SegmentHeader::checksum
    std::ofstream out(segment, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.close();
    return InvertedIndex::open(dir.path()).status();
  };
  // Unchanged bytes (checksum rewritten the same): opens.
  EXPECT_TRUE(damaged_with([](std::vector<std::uint8_t>&) {}).is_ok());
  const std::size_t trailer = 16 + 8;  // padding, then the u64 forward_offset
  Status status = damaged_with([&](std::vector<std::uint8_t>& b) {
    const std::uint64_t far = b.size();
    std::memcpy(b.data() + b.size() - trailer, &far, sizeof(far));
  });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("forward section"), std::string::npos) << status.to_string();
  // The last entry byte: a varint that never ends.
  status = damaged_with([&](std::vector<std::uint8_t>& b) { b[b.size() - trailer - 1] = 0xff; });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("forward entry"), std::string::npos) << status.to_string();

  // Postings behind a valid checksum (found by fuzz_index: each read outside the file or the
  // document table in a search). SegmentHeader: blocks_offset at byte 56, postings_offset at 64;
  // BlockEntry (12 bytes): last_doc, data_offset, encoded_bytes (u16), count - 1 (u8), max_impact.
  auto u64_at = [](const std::vector<std::uint8_t>& b, std::size_t at) {
    std::uint64_t value = 0;
    std::memcpy(&value, b.data() + at, sizeof(value));
    return value;
  };
  // Control bytes that claim longer values than the block holds: the decoder would read on.
  status = damaged_with([&](std::vector<std::uint8_t>& b) {
    std::uint32_t data_offset = 0;
    std::memcpy(&data_offset, b.data() + u64_at(b, 56) + 4, sizeof(data_offset));
    b[u64_at(b, 64) + data_offset] = 0xff;
  });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("postings of block 0"), std::string::npos) << status.to_string();
  // A data_offset whose sum with the block's size wraps around 32 bits (fuzz_index: the check
  // passed and the control bytes were read 4 GiB away).
  status = damaged_with([&](std::vector<std::uint8_t>& b) {
    const std::uint32_t near_end = 0xFFFFFFF0u;
    std::memcpy(b.data() + u64_at(b, 56) + 4, &near_end, sizeof(near_end));
    b[u64_at(b, 56) + 8] = 0x40;  // encoded_bytes, low byte: the sum passes 2^32
  });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("block 0 points outside the file"), std::string::npos) << status.to_string();
  // A term string offset near 2^64: offset + length wraps.
  status = damaged_with([&](std::vector<std::uint8_t>& b) {
    const std::uint64_t far = ~std::uint64_t{0} - 2;
    std::memcpy(b.data() + u64_at(b, 40), &far, sizeof(far));  // terms_offset at byte 40: term 0's string_offset
  });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("term 0 points outside the file"), std::string::npos) << status.to_string();
  // More postings than a block has room for.
  status = damaged_with([&](std::vector<std::uint8_t>& b) { b[u64_at(b, 56) + 10] = 200; });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  // A last_doc that the decoded document numbers do not end at.
  status = damaged_with([&](std::vector<std::uint8_t>& b) {
    std::uint32_t last_doc = 0;
    std::memcpy(&last_doc, b.data() + u64_at(b, 56), sizeof(last_doc));
    last_doc = last_doc == 0 ? 1 : last_doc - 1;
    std::memcpy(b.data() + u64_at(b, 56), &last_doc, sizeof(last_doc));
  });
  EXPECT_EQ(status.code(), StatusCode::kCorruption);
  EXPECT_NE(status.message().find("postings of block 0"), std::string::npos) << status.to_string();
}

}  // namespace
}  // namespace aisle::text

namespace aisle::text {
namespace {

DataConfig settings(const std::string& toml) {
  auto parsed = parse_config(toml, "aisle.toml");
  EXPECT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  return parsed.is_ok() ? *parsed : DataConfig{};
}

std::vector<Document> shoe_catalog() {
  return {
      product(1, "Leather trainers for men", "Acme", "White", {"Shoes"}, 60),
      product(2, "Canvas running shoes", "Acme", "Blue", {"Shoes"}, 50),
      product(3, "Cotton tshirt crew neck", "Basics", "Gray", {"Clothing"}, 12),
      product(4, "Tee ball bat for kids", "Sluggers", "Red", {"Sports"}, 20),
      product(5, "Running socks 3 pack", "Acme", "Black", {"Clothing"}, 9),
  };
}

TEST(SynonymsTest, EquivalentRulesFindEachOtherInflectedAndPhrasesExpandAsPhrases) {
  auto index = InvertedIndex::create();
  ASSERT_TRUE(index->upsert(shoe_catalog(), Context::for_tests()).is_ok());
  auto synonyms = Synonyms::compile(settings(R"([locales.en]
synonyms = ["Sneakers, trainers, running shoes", "tee => tshirt"]
)"), index->options().analyzer);
  ASSERT_TRUE(synonyms.is_ok()) << synonyms.status().to_string();
  EXPECT_EQ(synonyms->size(), 4u);  // three phrases of the equivalent rule, one one-way

  SearchOptions options;
  options.typo.enabled = false;
  // Without synonyms the catalog has no "sneakers".
  EXPECT_TRUE(search(*index, "sneakers", options).hits.empty());
  options.synonyms = &*synonyms;
  SearchResult result = search(*index, "SNEAKER", options);
  std::vector<std::string> found = ids(result);
  std::sort(found.begin(), found.end());
  // The trainers and the running shoes; the running socks too (the phrase's words are searched
  // as words), below both shoes.
  EXPECT_EQ(found, (std::vector<std::string>{"p1", "p2", "p5"}));
  EXPECT_EQ(result.hits.back().external_id, "p5");
  for (const QueryTerm& term : result.terms) {
    if (term.term != "sneaker") {
      EXPECT_EQ(term.synonym_of, "sneaker");
      EXPECT_FLOAT_EQ(term.weight, kSynonymWeight);
      EXPECT_EQ(query_words(term), std::vector<std::string>{"sneaker"});
    }
  }
  // A phrase matches its words in a row only: "running" alone is no "running shoes".
  result = search(*index, "running shoes", options);
  found = ids(result);
  ASSERT_GE(found.size(), 2u);
  EXPECT_EQ(std::set<std::string>(found.begin(), found.begin() + 2), (std::set<std::string>{"p1", "p2"}));
  EXPECT_TRUE(std::any_of(result.terms.begin(), result.terms.end(), [](const QueryTerm& t) {
    return t.term == "trainer" && t.synonym_of == "run shoe" && query_words(t) == std::vector<std::string>{"run", "shoe"};
  }));
  // "sneakers" -> "running shoes": each of its terms belongs to the phrase, which stands for
  // the query's word only where all of it matches.
  result = search(*index, "sneakers", options);
  auto run = std::find_if(result.terms.begin(), result.terms.end(), [](const QueryTerm& t) { return t.term == "run"; });
  ASSERT_NE(run, result.terms.end());
  EXPECT_EQ(run->synonym_phrase, "run shoe");
  const std::vector<std::string> sock = {"run", "sock"}, shoe = {"run", "shoe"};
  EXPECT_TRUE(matched_query_words(*run, sock).empty());
  EXPECT_EQ(matched_query_words(*run, shoe), std::vector<std::string>{"sneaker"});
  result = search(*index, "running socks", options);
  EXPECT_TRUE(std::none_of(result.terms.begin(), result.terms.end(), [](const QueryTerm& t) { return !t.synonym_of.empty(); }));
  // One-way: "tee" finds the tshirt; "tshirt" does not find the tee ball bat.
  found = ids(search(*index, "tee", options));
  EXPECT_NE(std::find(found.begin(), found.end(), "p3"), found.end());
  EXPECT_EQ(ids(search(*index, "tshirt", options)), std::vector<std::string>{"p3"});
  // Another locale's query is not expanded by English rules.
  options.locale = "es";
  EXPECT_TRUE(search(*index, "sneakers", options).terms.size() == 1);
}

TEST(SynonymsTest, AWordWithASynonymTheCatalogHasIsNotTypoCorrected) {
  auto index = InvertedIndex::create();
  ASSERT_TRUE(index->upsert(shoe_catalog(), Context::for_tests()).is_ok());
  SearchOptions options;
  // "trainerz" is one edit from "trainers": without a rule, a typo correction.
  SearchResult plain = search(*index, "trainerz", options);
  EXPECT_TRUE(std::any_of(plain.terms.begin(), plain.terms.end(), [](const QueryTerm& t) { return t.expanded_from == "trainerz"; }));
  auto synonyms = Synonyms::compile(settings("[locales.en]\nsynonyms = [\"trainerz => canvas\"]\n"), index->options().analyzer);
  ASSERT_TRUE(synonyms.is_ok());
  options.synonyms = &*synonyms;
  SearchResult result = search(*index, "trainerz", options);
  EXPECT_TRUE(std::none_of(result.terms.begin(), result.terms.end(), [](const QueryTerm& t) { return !t.expanded_from.empty(); }));
  EXPECT_EQ(ids(result), std::vector<std::string>{"p2"});
}

TEST(SynonymsTest, APhraseOfStopWordsOnlyIsRefusedNamingItsLine) {
  auto synonyms = Synonyms::compile(settings("[locales.en]\nsynonyms = [\n  \"jacket, coat\",\n  \"the, of\",\n]\n"), {});
  ASSERT_FALSE(synonyms.is_ok());
  EXPECT_EQ(synonyms.status().to_string(),
            "aisle.toml:4:locales.en.synonyms: \"the\" has no searchable word (stop words or punctuation only)");
}

TEST(IndexSettingsTest, FieldWeightsAndStopWordListsComeFromTheSettingsAndPersist) {
  const DataConfig config = settings(R"([fields]
title = 5
[locales.en]
stop_words = ["_default_", "pack"]
[locales.es]
stop_words = []
)");
  const IndexOptions options = index_options(config);
  EXPECT_EQ(options.bm25f.weights[static_cast<int>(Field::kTitle)], 5.0f);
  EXPECT_EQ(options.bm25f.weights[static_cast<int>(Field::kBrand)], IndexOptions{}.bm25f.weights[static_cast<int>(Field::kBrand)]);
  const auto& en = options.analyzer.stop_word_lists.at("en");
  EXPECT_NE(std::find(en.begin(), en.end(), "pack"), en.end());
  EXPECT_NE(std::find(en.begin(), en.end(), "the"), en.end());  // "_default_": the built-in words too
  EXPECT_TRUE(options.analyzer.stop_word_lists.at("es").empty());
  EXPECT_TRUE(index_settings_changes(options, options).empty());
  const std::vector<std::string> changes = index_settings_changes(IndexOptions{}, options);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0], "fields.title: 3 in the index, 5 in the settings");
  EXPECT_NE(changes[1].find("locales.en.stop_words"), std::string::npos);
  EXPECT_NE(changes[2].find("locales.es.stop_words"), std::string::npos);
  // A list equal to the built-in one is no change.
  EXPECT_TRUE(index_settings_changes(IndexOptions{}, index_options(settings("[locales.en]\nstop_words = [\"_default_\"]\n"))).empty());

  testing::TempDir dir;
  auto index = InvertedIndex::create(options);
  std::vector<Document> catalog = shoe_catalog();
  catalog.push_back(product(6, "Calcetines de la abuela", "", "", {}, std::nullopt, "es"));
  ASSERT_TRUE(index->upsert(catalog, Context::for_tests()).is_ok());
  // "pack" is a stop word in English now; "de" and "la" are words in Spanish.
  EXPECT_TRUE(search(*index, "pack").hits.empty());
  SearchOptions spanish;
  spanish.locale = "es";
  spanish.typo.enabled = false;
  EXPECT_EQ(ids(search(*index, "la", spanish)), std::vector<std::string>{"p6"});
  ASSERT_TRUE(index->commit(dir.path()).is_ok());
  // The index keeps the settings it was built with, whatever the opener asks.
  auto opened = InvertedIndex::open(dir.path(), IndexOptions{});
  ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
  EXPECT_TRUE(index_settings_changes((*opened)->options(), options).empty());
  EXPECT_TRUE(search(**opened, "pack").hits.empty());
  EXPECT_EQ(ids(search(**opened, "la", spanish)), std::vector<std::string>{"p6"});
}

}  // namespace
}  // namespace aisle::text
