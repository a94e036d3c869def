#include "aisle/retrieve/encoder_gate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "aisle/retrieve/vector_strategy.h"

namespace aisle::retrieve {
namespace {

// One held-out query's candidate lists, computed once for every floor tried.
struct Lists {
  const HeldOutQuery* query = nullptr;
  std::vector<ProductId> lexical;                        // best first
  std::vector<std::pair<float, ProductId>> neighbours;  // (cosine, product), best first
  double best_grade = 0;
};

double gain(const HeldOutQuery& query, ProductId product) {
  auto found = query.grades.find(product.value());
  return found == query.grades.end() ? 0.0 : found->second;
}

double ndcg_of(const HeldOutQuery& query, const std::vector<ProductId>& ranked, int k) {
  std::vector<double> gains, ideal;
  for (ProductId product : ranked) gains.push_back(gain(query, product));
  for (const auto& [product, grade] : query.grades) ideal.push_back(grade);
  return ndcg_at(gains, ideal, k);
}

RankedList vector_list(const Lists& lists, float floor) {
  RankedList list;
  list.strategy = kFoundVector;
  for (const auto& [cosine, product] : lists.neighbours) {
    if (cosine < floor) break;
    list.products.push_back(product);
    list.scores.push_back(cosine);
  }
  return list;
}

std::vector<ProductId> hybrid(const Lists& lists, float floor, std::size_t k, double rrf_k) {
  RankedList lexical;
  lexical.strategy = kFoundLexical;
  lexical.products = lists.lexical;
  lexical.scores.assign(lists.lexical.size(), 0.0f);
  const RankedList both[2] = {std::move(lexical), vector_list(lists, floor)};
  std::vector<ProductId> out;
  for (const FusedHit& hit : fuse(both, k, rrf_k)) out.push_back(hit.product);
  return out;
}

std::vector<ProductId> first(const std::vector<ProductId>& list, std::size_t k) {
  return std::vector<ProductId>(list.begin(), list.begin() + static_cast<long>(std::min(k, list.size())));
}

double recall(const HeldOutQuery& query, const std::vector<ProductId>& candidates) {
  int relevant = 0, found = 0;
  for (const auto& [product, grade] : query.grades) relevant += grade >= 0.5f ? 1 : 0;
  for (ProductId product : candidates) found += gain(query, product) >= 0.5 ? 1 : 0;
  return relevant > 0 ? static_cast<double>(found) / relevant : 0.0;
}

double mean(const std::vector<double>& values) {
  return values.empty() ? 0.0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

}  // namespace

models::TrainingSet hold_out_gate_slice(const models::TrainingSet& data, std::uint64_t seed,
                                        std::vector<HeldOutQuery>* held_out) {
  models::TrainingSet train;
  train.queries = data.queries;
  train.query_locales = data.query_locales;
  train.products = data.products;
  std::vector<int> slot(data.queries.size(), -1);  // query -> index in held_out, or -1
  for (std::size_t q = 0; q < data.queries.size(); ++q) {
    if (!in_gate_slice(data.queries[q], data.query_locales[q], seed)) continue;
    slot[q] = static_cast<int>(held_out->size());
    held_out->push_back(HeldOutQuery{data.queries[q], data.query_locales[q], {}});
  }
  for (const models::TrainingPair& pair : data.pairs) {
    if (slot[pair.query] < 0) {
      train.pairs.push_back(pair);
    } else {
      (*held_out)[static_cast<std::size_t>(slot[pair.query])].grades[data.products[pair.product].product.value()] = pair.grade;
    }
  }
  return train;
}

Result<LayerVerdict> validate_encoder(const LexicalCatalog& catalog, const models::TextEncoder& encoder,
                                      std::span<const text::Document> products, std::span<const HeldOutQuery> queries,
                                      const EncoderGateOptions& options, const Context& context) {
  const auto dim = static_cast<std::size_t>(encoder.dim());
  AISLE_ASSIGN_OR_RETURN(const std::vector<float> product_vectors, encoder.encode_products(products));
  std::vector<Lists> calibration, verdict_half;
  for (const HeldOutQuery& query : queries) {
    Lists lists;
    lists.query = &query;
    for (const auto& [product, grade] : query.grades) lists.best_grade = std::max<double>(lists.best_grade, grade);
    text::SearchOptions search;
    search.locale = query.locale;
    search.k = options.depth;
    search.filter.locales = {query.locale};
    AISLE_ASSIGN_OR_RETURN(const text::SearchResult lexical, catalog.index->search(query.text, search));
    for (const text::Hit& hit : lexical.hits) lists.lexical.push_back(hit.product);
    AISLE_ASSIGN_OR_RETURN(const std::vector<float> query_vector,
                           encoder.encode_queries(std::span<const std::string>(&query.text, 1), query.locale));
    for (std::size_t p = 0; p < products.size(); ++p) {
      if (products[p].locale != query.locale) continue;
      const float* row = product_vectors.data() + p * dim;
      float cosine = 0;
      for (std::size_t d = 0; d < dim; ++d) cosine += row[d] * query_vector[d];
      lists.neighbours.emplace_back(cosine, products[p].product);
    }
    const std::size_t kept = std::min<std::size_t>(lists.neighbours.size(), static_cast<std::size_t>(options.depth));
    std::partial_sort(lists.neighbours.begin(), lists.neighbours.begin() + static_cast<long>(kept), lists.neighbours.end(),
                      [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; });
    lists.neighbours.resize(kept);
    const bool calibrate = in_validation_slice(query.text + '\x1f' + query.locale, context.seed() + 7, 0.5);
    (calibrate ? calibration : verdict_half).push_back(std::move(lists));
  }
  const auto k = static_cast<std::size_t>(options.k);
  // Floors to try: none, and the quantiles of the calibration half's top-k neighbour cosines.
  std::vector<float> cosines;
  for (const Lists& lists : calibration) {
    for (std::size_t i = 0; i < std::min(k, lists.neighbours.size()); ++i) cosines.push_back(lists.neighbours[i].first);
  }
  std::sort(cosines.begin(), cosines.end());
  std::vector<float> floors = {-2.0f};
  for (int q = 1; q < 20 && !cosines.empty(); ++q) floors.push_back(cosines[cosines.size() * static_cast<std::size_t>(q) / 20]);
  if (!cosines.empty()) floors.push_back(std::nextafter(cosines.back(), 2.0f));  // no vector candidates at all
  std::vector<double> floor_ndcg;
  for (float floor : floors) {
    std::vector<double> values;
    for (const Lists& lists : calibration) {
      if (lists.best_grade > 0) values.push_back(ndcg_of(*lists.query, hybrid(lists, floor, k, options.rrf_k), options.k));
    }
    floor_ndcg.push_back(mean(values));
  }
  const double best = floor_ndcg.empty() ? 0.0 : *std::max_element(floor_ndcg.begin(), floor_ndcg.end());
  float floor = floors.front();
  for (std::size_t i = 0; i < floors.size(); ++i) {
    if (floor_ndcg[i] >= best - 0.002) floor = std::max(floor, floors[i]);
  }
  std::vector<double> model, lexical, vector_alone, unfloored, lexical_recall, hybrid_recall;
  int unanswerable = 0, junk = 0;
  for (const Lists& lists : verdict_half) {
    const RankedList vectors = vector_list(lists, floor);
    if (lists.best_grade <= 0) {
      ++unanswerable;
      junk += vectors.products.empty() ? 0 : 1;
      continue;
    }
    model.push_back(ndcg_of(*lists.query, hybrid(lists, floor, k, options.rrf_k), options.k));
    lexical.push_back(ndcg_of(*lists.query, first(lists.lexical, k), options.k));
    vector_alone.push_back(ndcg_of(*lists.query, first(vector_list(lists, -2.0f).products, k), options.k));
    unfloored.push_back(ndcg_of(*lists.query, hybrid(lists, -2.0f, k, options.rrf_k), options.k));
    lexical_recall.push_back(recall(*lists.query, lists.lexical));
    hybrid_recall.push_back(recall(*lists.query, hybrid(lists, floor, 2 * static_cast<std::size_t>(options.depth), options.rrf_k)));
  }
  GateOptions gate = options.gate;
  gate.seed = context.seed();
  LayerVerdict verdict = decide("encoder", "ndcg@" + std::to_string(options.k), "lexical", model, lexical, gate);
  verdict.fraction = kGateFraction;
  verdict.seed = context.seed();
  verdict.details["floor"] = floor;
  verdict.details["calibration_queries"] = static_cast<std::int64_t>(calibration.size());
  verdict.details["calibration_ndcg"] = best;
  verdict.details["vector_alone"] = mean(vector_alone);
  verdict.details["hybrid_without_floor"] = mean(unfloored);
  verdict.details["lexical_recall"] = mean(lexical_recall);
  verdict.details["hybrid_recall"] = mean(hybrid_recall);
  verdict.details["recall_depth"] = options.depth;
  verdict.details["unanswerable_queries"] = unanswerable;
  verdict.details["unanswerable_with_vector_results"] = junk;
  return verdict;
}

}  // namespace aisle::retrieve
