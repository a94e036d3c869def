// Relational evidence for a (query, product) pair from the labels of its neighbours in the
// judgment graph: the query's other judged products, weighted by how similar their text is to
// this product (attention of a query node over its labelled neighbours by similarity to the
// product, as a relational GNN would compute it, in closed form), and the product's labels for
// other queries.
//
// In CrowdFlower and the Shopping Queries Dataset the same queries recur with many labelled
// products, so "the products this query's judges called Exact look like this one" says much
// about a new product for that query. A pair's own label never reaches its features: features()
// leaves out the judged pair equal to the one asked about, and the graph holds training
// judgments only. For training rows, leave a whole fold out (out-of-fold encoding): leaving out
// only the row itself makes the query's mean label a decreasing function of the row's own
// label, a pattern a model learns on train rows and never meets on new pairs.
//
// Text similarity: cosine of tf-idf vectors of two views of a product, its title, brand and
// colour terms, and those with its description and bullets (the locale's analyzer, idf over
// the products given).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/status.h"
#include "aisle/text/document.h"

namespace aisle::rank {

struct JudgedPair {
  std::string query_key;  // models::query_key(text, locale)
  std::uint32_t product = 0;  // index into the products given to RelationalIndex
  int label = -1;             // class index 0..classes-1, or -1 without classes
  double value = 0;           // the label's value on an ordinal scale (grade; ESCI: E 3 .. I 0)
  int fold = 0;               // features() can leave a fold out
};

class RelationalIndex {
 public:
  // `classes`: the number of label classes (0: graded labels, value only). The products must
  // outlive the index.
  static Result<std::unique_ptr<RelationalIndex>> create(std::span<const text::Document> products, int classes);
  ~RelationalIndex();

  // The judged pairs of the graph (training judgments only). kBadInput for a product or label
  // out of range.
  Status add(std::span<const JudgedPair> pairs);

  // Feature names, in the order features() appends them.
  std::vector<std::string> names() const;
  // Appends names().size() values for (query_key, product), NaN where a value does not exist
  // (a query with no other judged product). The judged pair (query_key, product) itself and
  // every judged pair of fold `skip_fold` (-1: none) are left out.
  void features(std::string_view query_key, std::uint32_t product, int skip_fold, std::vector<float>* out) const;

  // Cosine of the two products' tf-idf vectors (title view).
  double similarity(std::uint32_t a, std::uint32_t b) const;

 private:
  struct Impl;
  explicit RelationalIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace aisle::rank
