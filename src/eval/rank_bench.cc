#include "aisle/eval/rank_bench.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "aisle/rank/features.h"
#include "aisle/rank/ranker.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/text/inverted_index.h"
#include "judgment_corpus.h"
#include "synthetic_catalog.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

}  // namespace

Result<nlohmann::json> run_rank_bench(const Context& context, const RankBenchOptions& options) {
  Corpus corpus;
  std::map<std::string, TestQuery> train_queries, dev_queries;
  AISLE_RETURN_IF_ERROR(read_judgments(options.source_dir / "train.csv", "en", &corpus, &train_queries));
  AISLE_RETURN_IF_ERROR(read_judgments(options.source_dir / "dev.csv", "en", &corpus, &dev_queries));
  auto index = text::InvertedIndex::create();
  AISLE_RETURN_IF_ERROR(index->upsert(corpus.documents, context));

  // Random unit vectors: the cosine costs the same whatever the vectors are.
  const std::size_t dim = 64;
  std::mt19937_64 random(context.seed());
  std::normal_distribution<float> normal;
  std::vector<float> vectors(corpus.documents.size() * dim);
  for (float& v : vectors) v = normal(random);
  for (std::size_t i = 0; i < corpus.documents.size(); ++i) vector::normalize(std::span<float>(vectors.data() + i * dim, dim));
  std::vector<float> query_vector(vectors.begin(), vectors.begin() + dim);

  rank::FeatureExtractor extractor(*index);
  auto candidates_for = [&](const std::string& text, int n, rank::QueryContext* query,
                            std::vector<rank::Candidate>* out) -> Status {
    text::SearchOptions search;
    search.k = n;
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(text, search));
    query->text = text;
    query->locale = "en";
    query->terms = result.terms;
    query->vector = query_vector;
    out->clear();
    for (std::size_t r = 0; r < result.hits.size(); ++r) {
      const std::uint32_t p = result.hits[r].product.value();
      rank::Candidate c;
      c.document = &corpus.documents[p];
      c.provenance.found_by = retrieve::kFoundLexical | (r % 2 ? std::uint32_t{retrieve::kFoundVector} : 0u);
      c.provenance.lexical_rank = static_cast<int>(r + 1);
      c.provenance.vector_rank = r % 2 ? static_cast<int>(r / 2 + 1) : 0;
      c.provenance.lexical_score = result.hits[r].score;
      c.vector = std::span<const float>(vectors.data() + p * dim, dim);
      out->push_back(c);
    }
    return Status::ok();
  };

  // A full-size model: fixed rounds on lexical candidates of train queries.
  const auto train_start = Clock::now();
  rank::RankingData data;
  data.num_features = extractor.schema().size();
  int used = 0;
  for (const auto& [text, query] : train_queries) {
    if (used++ >= options.train_queries) break;
    rank::QueryContext q;
    std::vector<rank::Candidate> candidates;
    AISLE_RETURN_IF_ERROR(candidates_for(text, 100, &q, &candidates));
    std::vector<float> rows, labels;
    AISLE_RETURN_IF_ERROR(extractor.extract(q, candidates, &rows));
    for (const rank::Candidate& c : candidates) {
      auto found = query.grades.find(c.document->product.value());
      labels.push_back(found == query.grades.end() ? 0.0f : rank::level_from_grade(found->second, 1, 3, 4));
    }
    if (!labels.empty()) data.add_group(rows, labels);
  }
  rank::RankerOptions ranker_options;
  ranker_options.rounds = options.rounds;
  ranker_options.max_depth = options.max_depth;
  ranker_options.early_stopping_rounds = 0;
  AISLE_ASSIGN_OR_RETURN(auto ranker, rank::Ranker::train(extractor.schema(), data, nullptr, ranker_options, context));
  const double train_seconds = std::chrono::duration<double>(Clock::now() - train_start).count();

  nlohmann::json results = nlohmann::json::object();
  for (int n : options.candidates) {
    std::vector<double> feature_ms, model_ms, total_ms, xgboost_ms;
    std::int64_t measured_candidates = 0;
    int done = 0;
    for (const auto& [text, query] : dev_queries) {
      if (done >= options.queries) break;
      rank::QueryContext q;
      std::vector<rank::Candidate> candidates;
      AISLE_RETURN_IF_ERROR(candidates_for(text, n, &q, &candidates));
      if (static_cast<int>(candidates.size()) < n) continue;  // only queries with the full count
      ++done;
      measured_candidates += static_cast<std::int64_t>(candidates.size());
      std::vector<float> rows;
      const auto start = Clock::now();
      AISLE_RETURN_IF_ERROR(extractor.extract(q, candidates, &rows));
      const auto middle = Clock::now();
      AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, ranker->score(rows));
      const auto end = Clock::now();
      // The reference: XGBoost's own prediction of the same rows (the same scores).
      AISLE_ASSIGN_OR_RETURN(std::vector<float> reference, ranker->score_with_xgboost(rows));
      xgboost_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - end).count());
      if (reference != scores) return Status::internal("compiled trees and XGBoost disagree on query " + text);
      feature_ms.push_back(std::chrono::duration<double, std::milli>(middle - start).count());
      model_ms.push_back(std::chrono::duration<double, std::milli>(end - middle).count());
      total_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    }
    double mean = 0;
    for (double t : total_ms) mean += t;
    results[std::to_string(n)] = {{"queries", done},
                                  {"mean_ms", done ? mean / done : 0.0},
                                  {"p50_ms", percentile(total_ms, 0.5)},
                                  {"p99_ms", percentile(total_ms, 0.99)},
                                  {"features_p50_ms", percentile(feature_ms, 0.5)},
                                  {"model_p50_ms", percentile(model_ms, 0.5)},
                                  {"model_p99_ms", percentile(model_ms, 0.99)},
                                  {"xgboost_predict_p50_ms", percentile(xgboost_ms, 0.5)},
                                  {"xgboost_predict_p99_ms", percentile(xgboost_ms, 0.99)},
                                  {"us_per_candidate", measured_candidates ? 1000.0 * mean / static_cast<double>(measured_candidates) : 0.0}};
  }
  return nlohmann::json{{"bench", "rank"},
                        {"config",
                         {{"source_dir", options.source_dir.string()},
                          {"corpus_products", corpus.documents.size()},
                          {"features", extractor.schema().size()},
                          {"rounds", options.rounds},
                          {"max_depth", options.max_depth},
                          {"train_queries", options.train_queries},
                          {"train_seconds", train_seconds},
                          {"threads_scoring", 1},
                          {"measured", "FeatureExtractor::extract + Ranker::score per query, documents in memory"}}},
                        {"results", results},
                        {"peak_rss_mb", peak_rss_mb()}};
}

}  // namespace aisle::eval
