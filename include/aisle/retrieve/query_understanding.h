// QueryUnderstanding: slots a shopper's query into catalog attributes.
//
// Learned from the catalog: every brand, color, category name (each level of a path) and
// short attribute value becomes a phrase (its analyzed terms, per locale) with the slots it
// fills. The likelihood that a phrase in a query means a slot is estimated as
//   P(slot | phrase) = #products with that slot value / #products mentioning the phrase
// (in the title, or as any slot value), so "nike" (almost only ever a brand) scores near 1,
// while "red" in a catalog of red wine scores lower as a color.
//
// understand() segments the query into spans, enumerates interpretations (each span is a slot
// or free text) and scores each as the product of its slot likelihoods and, for every span
// left as free text, one minus its best slot likelihood; the best few are normalized to sum
// to 1. "red nike running shoes" -> color=Red, brand=Nike, category~Shoes > Running Shoes.
//
// Thread-safe after construction (query analysis leases analyzers under a mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/status.h"
#include "aisle/text/document.h"

namespace aisle::retrieve {

struct Slot {
  std::string type;    // "brand", "color", "category", or "attribute:<name>"
  std::string value;   // display form: "Nike", "Shoes > Running"
  std::string phrase;  // the analyzed query terms it covers, space-separated
  double likelihood = 0.0;
};

struct Interpretation {
  std::vector<Slot> slots;
  std::vector<std::string> remainder;  // analyzed free-text terms, in query order
  double likelihood = 0.0;             // normalized over the returned interpretations
};

struct QueryAnalysis {
  std::vector<std::string> terms;  // the analyzed query
  std::vector<Interpretation> interpretations;  // best first; empty for an empty query
};

struct QueryUnderstandingOptions {
  int max_phrase_terms = 4;
  int max_interpretations = 5;
  // Slot values seen on fewer products are ignored (typos and one-off values).
  std::int64_t min_products = 2;
};

class QueryUnderstanding {
 public:
  static constexpr int kFormatVersion = 1;

  // Learning takes two passes over the catalog: add() every document, then count() every
  // document, then build().
  class Builder {
   public:
    explicit Builder(QueryUnderstandingOptions options = {});
    ~Builder();
    // kBadInput for a document of an unknown locale.
    Status add(const text::Document& document);
    Status count(const text::Document& document);
    std::unique_ptr<QueryUnderstanding> build();

   private:
    class Impl;
    std::unique_ptr<Impl> impl_;
  };

  ~QueryUnderstanding();
  // kBadInput for an unknown locale.
  Result<QueryAnalysis> understand(std::string_view query, std::string_view locale) const;

  // The learned dictionaries as versioned JSON, written crash-safely.
  Status save(const std::filesystem::path& path) const;
  // kNotFound when missing, kCorruption naming the file when damaged.
  static Result<std::unique_ptr<QueryUnderstanding>> load(const std::filesystem::path& path);

  std::size_t phrase_count() const;

 private:
  class Impl;
  explicit QueryUnderstanding(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::retrieve
