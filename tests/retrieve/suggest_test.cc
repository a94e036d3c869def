#include "aisle/retrieve/suggest.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <set>

namespace aisle::retrieve {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

store::Product product(std::uint32_t id, std::string title, double popularity, std::string locale = "en") {
  store::Product p;
  p.id = ProductId(id);
  p.record.id = "P" + std::to_string(id);
  p.record.locale = std::move(locale);
  p.record.title = std::move(title);
  p.record.popularity = popularity;
  p.record.price = id * 1.5;
  return p;
}

Suggestion query(std::string text, double weight, std::string locale = "en") {
  Suggestion s;
  s.text = std::move(text);
  s.locale = std::move(locale);
  s.weight = weight;
  return s;
}

std::vector<std::string> texts(const std::vector<Suggestion>& list) {
  std::vector<std::string> out;
  for (const Suggestion& s : list) out.push_back(s.text);
  return out;
}

using V = std::vector<std::string>;

TEST(Suggester, PrefixesOfAnyWordInTheLocaleBestFirst) {
  const std::vector<store::Product> products = {
      product(1, "Stridex Max Running Shoes", 10), product(2, "Nimbus Running Socks", 50),
      product(3, "Rain Jacket", 5), product(4, "Zapatillas Running", 90, "es"), product(5, "Wi-Fi Router", 1)};
  const std::vector<Suggestion> queries = {query("running shoes", 30), query("Running Shoes", 2), query("red shoes", 40),
                                           query("shoes", 3), query("running", 1, "es")};
  auto suggester = Suggester::from(products, queries, [](std::string_view t) { return lower(t); });
  Suggestions found = suggester->suggest("RUN", "en", 5);
  // Queries starting with the prefix first; "Running Shoes" is "running shoes" again.
  EXPECT_EQ(texts(found.queries), (V{"running shoes"}));
  EXPECT_EQ(texts(found.products), (V{"Nimbus Running Socks", "Stridex Max Running Shoes"}));  // by popularity
  EXPECT_EQ(found.products[0].product_id, "P2");
  found = suggester->suggest("sh", "en", 5);
  EXPECT_EQ(texts(found.queries), (V{"shoes", "red shoes", "running shoes"}));  // "shoes" starts with it
  EXPECT_EQ(texts(suggester->suggest("running s", "en", 5).products), (V{"Nimbus Running Socks", "Stridex Max Running Shoes"}));
  EXPECT_EQ(texts(suggester->suggest("fi", "en", 5).products), (V{"Wi-Fi Router"}));  // after punctuation
  EXPECT_EQ(texts(suggester->suggest("run", "es", 5).products), (V{"Zapatillas Running"}));
  EXPECT_EQ(texts(suggester->suggest("run", "es", 5).queries), (V{"running"}));
  EXPECT_TRUE(suggester->suggest("unning", "en", 5).products.empty());  // not a word start
  EXPECT_TRUE(suggester->suggest("  ", "en", 5).products.empty());
  EXPECT_TRUE(suggester->suggest("run", "ja", 5).products.empty());
  EXPECT_EQ(suggester->suggest("r", "en", 1).products.size(), 1u);
  // A listing upserted later is suggested at once; a replaced title no longer.
  const std::vector<store::Product> later = {product(6, "Runner Vest", 100), product(2, "Nimbus Trail Socks", 50)};
  suggester->add_products(later);
  EXPECT_EQ(texts(suggester->suggest("run", "en", 5).products), (V{"Runner Vest", "Stridex Max Running Shoes"}));
  EXPECT_EQ(texts(suggester->suggest("trail", "en", 5).products), (V{"Nimbus Trail Socks"}));
}

// The precomputed lists of large prefixes give exactly what a scan of every entry gives, before
// and after listings are added (the delta, then its fold-in).
TEST(Suggester, CachedPrefixesEqualAScanOfEveryEntry) {
  std::mt19937 random(7);
  const std::vector<std::string> words = {"run", "running", "runner", "rain", "red", "shoe", "shoes", "sock", "ship", "s",
                                          "max", "mat", "ma", "zip"};
  auto title = [&]() {
    std::string t;
    const int n = 1 + static_cast<int>(random() % 4);
    for (int i = 0; i < n; ++i) t += (i ? " " : "") + words[random() % words.size()];
    return t;
  };
  std::vector<store::Product> products;
  for (std::uint32_t id = 1; id <= 6000; ++id) {
    products.push_back(product(id, title(), static_cast<double>(random() % 50), id % 3 == 0 ? "es" : "en"));
  }
  std::vector<Suggestion> queries;
  for (int i = 0; i < 3000; ++i) queries.push_back(query(title(), static_cast<double>(random() % 20), i % 4 == 0 ? "es" : "en"));
  auto suggester = Suggester::from(products, queries, [](std::string_view t) { return lower(t); });

  // The twin: every entry, every word start, the same order.
  auto expected = [&](std::string_view prefix, const std::string& locale, bool is_query, std::size_t k) {
    struct Row {
      bool starts;
      double weight;
      std::string text;
      std::string id;
    };
    std::vector<Row> rows;
    std::set<std::string> seen_queries;
    auto consider = [&](const std::string& text, const std::string& row_locale, double weight, const std::string& id) {
      if (row_locale != locale) return;
      const std::string normalized = lower(text);
      bool match = false;
      for (std::size_t at = 0; at < normalized.size(); ++at) {
        if ((at == 0 || normalized[at - 1] == ' ') && normalized.compare(at, prefix.size(), prefix) == 0) match = true;
      }
      if (match) rows.push_back({normalized.starts_with(prefix), weight, text, id});
    };
    if (is_query) {
      for (const Suggestion& q : queries) consider(q.text, q.locale, q.weight, "");
    } else {
      for (const store::Product& p : products) consider(p.record.title, p.record.locale, *p.record.popularity, p.record.id);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      if (a.starts != b.starts) return a.starts;
      if (a.weight != b.weight) return a.weight > b.weight;
      if (a.text.size() != b.text.size()) return a.text.size() < b.text.size();
      return a.text < b.text;
    });
    V out;
    std::set<std::string> taken;
    for (const Row& row : rows) {
      if (out.size() == k) break;
      if (is_query && !taken.insert(lower(row.text)).second) continue;
      out.push_back(row.text);
    }
    return out;
  };
  auto check = [&](const char* when) {
    for (const char* prefix : {"r", "ru", "run", "runn", "s", "sh", "sho", "shoe", "m", "ma", "max", "z", "zi", "rain r", "s s"}) {
      for (const std::string locale : {"en", "es"}) {
        const Suggestions found = suggester->suggest(prefix, locale, 10);
        EXPECT_EQ(texts(found.queries), expected(prefix, locale, true, 10)) << when << " " << prefix << " " << locale;
        EXPECT_EQ(texts(found.products), expected(prefix, locale, false, 10)) << when << " " << prefix << " " << locale;
      }
    }
  };
  check("built");
  // Replacing listings (a few, in the delta; then many, folded in).
  for (int round = 0; round < 2; ++round) {
    std::vector<store::Product> changed;
    const std::size_t count = round == 0 ? 20 : 3000;
    for (std::size_t i = 0; i < count; ++i) {
      store::Product& p = products[random() % products.size()];
      p.record.title = title();
      p.record.popularity = static_cast<double>(100 + random() % 50);
      changed.push_back(p);
    }
    suggester->add_products(changed);
    check(round == 0 ? "delta" : "folded in");
  }
  // Engagement with queries, known and new (a new one only when `keep` says so): a few, in
  // the delta, then many, folded in.
  auto keep = [](const std::string& text, const std::string&) { return text.find("zip") == std::string::npos; };
  for (int round = 0; round < 2; ++round) {
    std::vector<Suggestion> engaged;
    const std::size_t count = round == 0 ? 30 : 2500;
    for (std::size_t i = 0; i < count; ++i) {
      Suggestion added = i % 3 == 0 ? query(title(), 1 + static_cast<double>(random() % 30), i % 4 == 0 ? "es" : "en")
                                    : queries[random() % queries.size()];
      added.weight = 1 + static_cast<double>(random() % 30);
      if (std::any_of(engaged.begin(), engaged.end(), [&](const Suggestion& e) { return e.text == added.text && e.locale == added.locale; })) continue;
      engaged.push_back(added);
    }
    suggester->add_query_engagement(engaged, keep);
    // The twin: the query's entry (its heaviest listing, the first of equals) gains the weight;
    // an unknown query is added when kept.
    for (const Suggestion& added : engaged) {
      Suggestion* heaviest = nullptr;
      for (Suggestion& q : queries) {
        if (q.text == added.text && q.locale == added.locale && (heaviest == nullptr || q.weight > heaviest->weight)) heaviest = &q;
      }
      if (heaviest != nullptr) heaviest->weight += added.weight;
      else if (keep(added.text, added.locale)) queries.push_back(added);
    }
    check(round == 0 ? "queries in the delta" : "queries folded in");
  }
}

}  // namespace
}  // namespace aisle::retrieve
