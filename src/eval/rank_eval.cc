#include "aisle/eval/rank.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>

#include "aisle/eval/metrics.h"
#include "aisle/rank/features.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/text/inverted_index.h"
#include "aisle/vector/vector_index.h"
#include "judgment_corpus.h"
#include "ranking_accumulator.h"
#include "split.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

using QueryMap = std::map<std::string, TestQuery>;

// A trained encoder with every corpus product's vector and an exact index over them.
struct VectorSide {
  std::unique_ptr<models::TextEncoder> encoder;
  std::vector<float> product_vectors;  // product number x dim, unit length
  std::unique_ptr<vector::VectorIndex> index;
  int dim = 0;
};

Result<VectorSide> train_vector_side(const Corpus& corpus, const QueryMap& queries, const RankEvalOptions& options,
                                     const Context& context) {
  VectorSide side;
  models::TrainingSet training = training_set(corpus, queries, options.locale);
  AISLE_ASSIGN_OR_RETURN(side.encoder, models::TextEncoder::create(options.encoder, context));
  AISLE_ASSIGN_OR_RETURN(models::TrainReport report, side.encoder->train(training, options.training, context));
  (void)report;
  AISLE_ASSIGN_OR_RETURN(side.product_vectors, side.encoder->encode_products(corpus.documents));
  side.dim = side.encoder->dim();
  const auto dim = static_cast<std::size_t>(side.dim);
  for (std::size_t i = 0; i < corpus.documents.size(); ++i) {
    vector::normalize(std::span<float>(side.product_vectors.data() + i * dim, dim));
  }
  vector::VectorIndexOptions index_options;
  index_options.kind = vector::IndexKind::kExact;
  index_options.dim = side.dim;
  AISLE_ASSIGN_OR_RETURN(side.index, vector::VectorIndex::create(index_options));
  std::vector<vector::VectorItem> items;
  for (std::size_t i = 0; i < corpus.documents.size(); ++i) {
    items.push_back(vector::VectorItem{corpus.documents[i].product, corpus.documents[i].locale, "",
                                       std::span<const float>(side.product_vectors.data() + i * dim, dim)});
  }
  AISLE_RETURN_IF_ERROR(side.index->add(items, context));
  return side;
}

// One query's candidates and judged products with their feature rows (full schema).
struct QueryRows {
  const TestQuery* query = nullptr;
  std::vector<std::uint32_t> products;  // candidates first (union), then judged-only products
  std::size_t candidates = 0;           // products[0, candidates) were retrieved
  std::vector<float> features;          // products.size() x full width
  std::vector<std::uint32_t> lexical, vector;  // each strategy's ranked list
  std::vector<std::uint32_t> fused;            // RRF order
};

class RowBuilder {
 public:
  RowBuilder(const Corpus& corpus, const text::InvertedIndex& index, const rank::FeatureExtractor& extractor,
             const RankEvalOptions& options)
      : corpus_(corpus), index_(index), extractor_(extractor), options_(options) {}

  Status build(const TestQuery& query, const VectorSide* side, std::span<const float> query_vector,
               QueryRows* out) const {
    out->query = &query;
    text::SearchOptions search;
    search.locale = options_.locale;
    search.k = options_.depth;
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index_.search(query.text, search));
    retrieve::RankedList lists[2];
    lists[0].strategy = retrieve::kFoundLexical;
    for (const text::Hit& hit : result.hits) {
      out->lexical.push_back(hit.product.value());
      lists[0].products.push_back(hit.product);
      lists[0].scores.push_back(hit.score);
    }
    lists[1].strategy = retrieve::kFoundVector;
    if (side != nullptr) {
      vector::VectorSearchOptions vector_search;
      vector_search.k = options_.depth;
      AISLE_ASSIGN_OR_RETURN(auto neighbours, side->index->search(query_vector, vector_search));
      for (const vector::Neighbor& n : neighbours) {
        out->vector.push_back(n.product.value());
        lists[1].products.push_back(n.product);
        lists[1].scores.push_back(n.score);
      }
    }
    const auto fused = retrieve::fuse(std::span<const retrieve::RankedList>(lists, side != nullptr ? 2 : 1),
                                      static_cast<std::size_t>(2 * options_.depth));
    rank::QueryContext context;
    context.text = query.text;
    context.locale = options_.locale;
    context.terms = result.terms;
    if (side != nullptr) context.vector.assign(query_vector.begin(), query_vector.end());
    std::vector<rank::Candidate> candidates;
    std::set<std::uint32_t> seen;
    const auto dim = static_cast<std::size_t>(side != nullptr ? side->dim : 0);
    auto add = [&](std::uint32_t product, const retrieve::FusedHit* hit) {
      rank::Candidate candidate;
      candidate.document = &corpus_.documents[product];
      if (hit != nullptr) {
        candidate.provenance.found_by = hit->found_by;
        candidate.provenance.lexical_rank = hit->ranks[0];
        candidate.provenance.vector_rank = hit->ranks[2];
        candidate.provenance.lexical_score = hit->scores[0];
      }
      if (side != nullptr) candidate.vector = std::span<const float>(side->product_vectors.data() + product * dim, dim);
      candidates.push_back(candidate);
      out->products.push_back(product);
      seen.insert(product);
    };
    for (const retrieve::FusedHit& hit : fused) {
      out->fused.push_back(hit.product.value());
      add(hit.product.value(), &hit);
    }
    out->candidates = candidates.size();
    std::vector<std::uint32_t> judged;
    for (const auto& [product, grade] : query.grades) {
      if (!seen.count(product)) judged.push_back(product);
    }
    std::sort(judged.begin(), judged.end());
    for (std::uint32_t product : judged) add(product, nullptr);
    return extractor_.extract(context, candidates, &out->features);
  }

 private:
  const Corpus& corpus_;
  const text::InvertedIndex& index_;
  const rank::FeatureExtractor& extractor_;
  const RankEvalOptions& options_;
};

// Columns of `full` named in `subset`, in subset's order.
std::vector<std::size_t> projection(const rank::FeatureSchema& full, const rank::FeatureSchema& subset) {
  std::vector<std::size_t> columns;
  for (const std::string& name : subset.names) {
    columns.push_back(static_cast<std::size_t>(std::find(full.names.begin(), full.names.end(), name) - full.names.begin()));
  }
  return columns;
}

void project_rows(std::span<const float> rows, std::size_t width, const std::vector<std::size_t>& columns,
                  std::vector<float>* out) {
  out->clear();
  for (std::size_t r = 0; r * width < rows.size(); ++r) {
    for (std::size_t c : columns) out->push_back(rows[r * width + c]);
  }
}

// The four models: LambdaMART and regression, with and without learned-text features.
struct TrainingSets {
  rank::RankingData lambdamart, lambdamart_validation, regression, regression_validation;
};

void add_training_rows(const QueryRows& rows, std::size_t width, const std::vector<std::size_t>& columns, double low,
                       double high, int levels, bool validation, TrainingSets* sets) {
  std::vector<float> projected;
  // LambdaMART: the retrieved candidates; queries whose candidates all share one level teach
  // nothing and are left out.
  std::vector<float> labels;
  for (std::size_t i = 0; i < rows.candidates; ++i) {
    auto found = rows.query->grades.find(rows.products[i]);
    labels.push_back(found == rows.query->grades.end() ? 0.0f : rank::level_from_grade(found->second, low, high, levels));
  }
  const bool informative = std::any_of(labels.begin(), labels.end(), [&](float l) { return l != labels.front(); });
  if (informative) {
    project_rows(std::span<const float>(rows.features.data(), rows.candidates * width), width, columns, &projected);
    (validation ? sets->lambdamart_validation : sets->lambdamart).add_group(projected, labels);
  }
  // Regression: every judged product.
  std::vector<float> judged_features, grades;
  for (std::size_t i = 0; i < rows.products.size(); ++i) {
    auto found = rows.query->grades.find(rows.products[i]);
    if (found == rows.query->grades.end()) continue;
    project_rows(std::span<const float>(rows.features.data() + i * width, width), width, columns, &projected);
    judged_features.insert(judged_features.end(), projected.begin(), projected.end());
    grades.push_back(static_cast<float>(found->second));
  }
  if (!grades.empty()) (validation ? sets->regression_validation : sets->regression).add_group(judged_features, grades);
}

struct Models {
  std::unique_ptr<rank::Ranker> lambdamart, regression;
  rank::RankerTrainReport lambdamart_report, regression_report;
};

Result<Models> train_models(const rank::FeatureSchema& schema, TrainingSets& sets, const RankEvalOptions& options,
                            const Context& context) {
  Models models;
  for (rank::RankingData* data : {&sets.lambdamart, &sets.lambdamart_validation, &sets.regression,
                                  &sets.regression_validation}) {
    data->num_features = schema.size();
  }
  rank::RankerOptions lambdamart = options.ranker;
  lambdamart.objective = rank::Objective::kLambdaMart;
  AISLE_ASSIGN_OR_RETURN(models.lambdamart, rank::Ranker::train(schema, sets.lambdamart, &sets.lambdamart_validation,
                                                                lambdamart, context, &models.lambdamart_report));
  rank::RankerOptions regression = options.ranker;
  regression.objective = rank::Objective::kRegression;
  AISLE_ASSIGN_OR_RETURN(models.regression, rank::Ranker::train(schema, sets.regression, &sets.regression_validation,
                                                                regression, context, &models.regression_report));
  return models;
}

nlohmann::json train_summary(const rank::RankerTrainReport& report, const rank::RankingData& data) {
  return {{"rounds", report.rounds},
          {"best_round", report.best_round},
          {"metric", report.metric},
          {"validation_best", report.validation_metric.empty() || report.best_round < 0
                                  ? 0.0
                                  : report.validation_metric[static_cast<std::size_t>(report.best_round)]},
          {"rows", data.rows()},
          {"queries", data.groups.size()},
          {"seconds", report.seconds}};
}

// Products of the first `count` rows ordered by score, best first (ties by position).
std::vector<std::uint32_t> order_by(std::span<const std::uint32_t> products, std::span<const float> scores) {
  std::vector<std::size_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<std::uint32_t> out;
  for (std::size_t i : order) out.push_back(products[i]);
  return out;
}

}  // namespace

Result<nlohmann::json> evaluate_rank(const Context& context, const RankEvalOptions& options) {
  const auto start = Clock::now();
  Corpus corpus;
  QueryMap train_queries, test_queries;
  AISLE_RETURN_IF_ERROR(read_judgments(options.train, options.locale, &corpus, &train_queries));
  std::string split = "test file";
  if (!options.test.empty()) {
    AISLE_RETURN_IF_ERROR(read_judgments(options.test, options.locale, &corpus, &test_queries));
  } else {
    // Query-stratified: a seeded share of every query's judged products.
    split = "query-stratified dev split of the train file";
    for (auto& [text, query] : train_queries) {
      std::vector<std::pair<std::uint64_t, std::uint32_t>> order;
      for (const auto& [product, grade] : query.grades) {
        order.emplace_back(hash_of(corpus.documents[product].external_id, context.seed() ^ hash_of(text, 7)), product);
      }
      std::sort(order.begin(), order.end());
      const auto held = static_cast<std::size_t>(std::llround(options.dev_fraction * static_cast<double>(order.size())));
      if (held == 0 || held >= order.size()) continue;
      TestQuery& dev = test_queries[text];
      dev.text = text;
      for (std::size_t i = 0; i < held; ++i) {
        dev.grades[order[i].second] = query.grades[order[i].second];
        query.grades.erase(order[i].second);
      }
    }
  }
  if (test_queries.empty()) return Status::bad_input("no test judgments (" + split + ")");
  double low = std::numeric_limits<double>::infinity(), high = -low, grade_sum = 0;
  std::int64_t grade_count = 0;
  bool integer_grades = true;
  std::set<double> distinct;
  for (const auto& [text, query] : train_queries) {
    for (const auto& [product, grade] : query.grades) {
      low = std::min(low, grade);
      high = std::max(high, grade);
      grade_sum += grade;
      ++grade_count;
      integer_grades = integer_grades && grade == std::floor(grade);
      distinct.insert(grade);
    }
  }
  if (grade_count == 0) return Status::bad_input("no train judgments in " + options.train.string());
  const double mean_grade = grade_sum / static_cast<double>(grade_count);
  const bool kappa = integer_grades && distinct.size() >= 2 && distinct.size() <= 10;
  double min_grade = std::numeric_limits<double>::infinity();
  for (const auto& [text, query] : test_queries) {
    for (const auto& [product, grade] : query.grades) min_grade = std::min(min_grade, grade);
  }
  const RankingCutoffs cutoffs{std::isnan(options.relevant_min_grade) ? low + 0.75 * (high - low) : options.relevant_min_grade,
                               options.depth};

  // Validation queries (early stopping) and cross-fitting folds, by a hash of the query.
  std::map<std::string, bool> is_validation;
  std::map<std::string, int> fold_of;
  const int folds = options.folds >= 2 ? options.folds : 1;
  for (const auto& [text, query] : train_queries) {
    const std::uint64_t h = hash_of(text, context.seed());
    is_validation[text] = static_cast<double>(h % 10000) < options.validation_fraction * 10000.0;
    fold_of[text] = static_cast<int>((h >> 20) % static_cast<std::uint64_t>(folds));
  }

  // Lexical index over the whole corpus (product text only).
  auto index = text::InvertedIndex::create();
  AISLE_RETURN_IF_ERROR(index->upsert(corpus.documents, context));

  // Encoders: one on all train queries (test features), one per fold (train features).
  const bool with_vectors = options.training.epochs > 0;
  const auto encoder_start = Clock::now();
  std::unique_ptr<VectorSide> full_side;
  std::vector<std::unique_ptr<VectorSide>> fold_sides;
  if (with_vectors) {
    AISLE_ASSIGN_OR_RETURN(VectorSide side, train_vector_side(corpus, train_queries, options, context));
    full_side = std::make_unique<VectorSide>(std::move(side));
    if (folds >= 2) {
      for (int f = 0; f < folds; ++f) {
        QueryMap others;
        for (const auto& [text, query] : train_queries) {
          if (fold_of[text] != f) others.emplace(text, query);
        }
        AISLE_ASSIGN_OR_RETURN(VectorSide fold_side, train_vector_side(corpus, others, options, context));
        fold_sides.push_back(std::make_unique<VectorSide>(std::move(fold_side)));
      }
    }
  }
  const double encoder_seconds = seconds_since(encoder_start);

  // No engagement features here: the corpus is made of the judgment files' products, so "how
  // many train queries judged this product" is 0 almost only for products of the test
  // judgments, which would reveal the split rather than measure the ranker.
  rank::FeatureOptions full_options;
  full_options.engagement = false;
  rank::FeatureExtractor extractor(*index, full_options);
  const rank::FeatureSchema& full_schema = extractor.schema();
  rank::FeatureOptions ablation_options;
  ablation_options.learned_text = false;
  ablation_options.engagement = false;
  const rank::FeatureSchema ablation_schema = rank::feature_schema(ablation_options);
  const std::size_t width = full_schema.size();
  const std::vector<std::size_t> all_columns = projection(full_schema, full_schema);
  const std::vector<std::size_t> ablation_columns = projection(full_schema, ablation_schema);
  RowBuilder builder(corpus, *index, extractor, options);

  // Query vectors, per encoder, in one batch each.
  auto encode = [&](const VectorSide* side, const std::vector<std::string>& texts) -> Result<std::vector<float>> {
    if (side == nullptr || texts.empty()) return std::vector<float>();
    AISLE_ASSIGN_OR_RETURN(std::vector<float> vectors, side->encoder->encode_queries(texts, options.locale));
    const auto dim = static_cast<std::size_t>(side->dim);
    for (std::size_t i = 0; i < texts.size(); ++i) vector::normalize(std::span<float>(vectors.data() + i * dim, dim));
    return vectors;
  };

  // Training rows.
  const auto features_start = Clock::now();
  TrainingSets full_sets, ablation_sets;
  std::int64_t train_candidates = 0;
  for (int f = 0; f < folds; ++f) {
    const VectorSide* side = !with_vectors ? nullptr : folds >= 2 ? fold_sides[static_cast<std::size_t>(f)].get() : full_side.get();
    std::vector<std::string> texts;
    std::vector<const TestQuery*> members;
    for (const auto& [text, query] : train_queries) {
      if (fold_of[text] != f) continue;
      texts.push_back(text);
      members.push_back(&query);
    }
    AISLE_ASSIGN_OR_RETURN(std::vector<float> vectors, encode(side, texts));
    const auto dim = static_cast<std::size_t>(side != nullptr ? side->dim : 0);
    for (std::size_t i = 0; i < members.size(); ++i) {
      QueryRows rows;
      AISLE_RETURN_IF_ERROR(builder.build(*members[i], side,
                                          side ? std::span<const float>(vectors.data() + i * dim, dim) : std::span<const float>(),
                                          &rows));
      train_candidates += static_cast<std::int64_t>(rows.candidates);
      const bool validation = is_validation[texts[i]];
      add_training_rows(rows, width, all_columns, low, high, options.label_levels, validation, &full_sets);
      add_training_rows(rows, width, ablation_columns, low, high, options.label_levels, validation, &ablation_sets);
    }
  }
  const double train_features_seconds = seconds_since(features_start);

  const auto ranker_start = Clock::now();
  AISLE_ASSIGN_OR_RETURN(Models full, train_models(full_schema, full_sets, options, context));
  AISLE_ASSIGN_OR_RETURN(Models ablation, train_models(ablation_schema, ablation_sets, options, context));
  const double ranker_seconds = seconds_since(ranker_start);
  const double train_seconds = seconds_since(start);

  // Test.
  const auto eval_start = Clock::now();
  std::vector<std::string> texts;
  std::vector<const TestQuery*> members;
  for (const auto& [text, query] : test_queries) {
    texts.push_back(text);
    members.push_back(&query);
  }
  AISLE_ASSIGN_OR_RETURN(std::vector<float> test_vectors, encode(full_side.get(), texts));
  Accumulator lexical, vector_order, fused, ranked, ranked_ablation, regression_order;
  std::vector<double> truth, predicted, predicted_ablation, predicted_mean;
  std::int64_t judged_retrieved = 0, judged_total = 0;
  double rank_seconds = 0;
  std::int64_t ranked_candidates = 0;
  std::vector<float> projected;
  const auto dim = static_cast<std::size_t>(full_side ? full_side->dim : 0);
  for (std::size_t i = 0; i < members.size(); ++i) {
    const TestQuery& query = *members[i];
    QueryRows rows;
    const auto query_start = Clock::now();
    AISLE_RETURN_IF_ERROR(builder.build(query, full_side.get(),
                                        full_side ? std::span<const float>(test_vectors.data() + i * dim, dim) : std::span<const float>(),
                                        &rows));
    const std::span<const std::uint32_t> candidates(rows.products.data(), rows.candidates);
    const std::span<const float> candidate_rows(rows.features.data(), rows.candidates * width);
    AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, full.lambdamart->score(candidate_rows));
    const double elapsed = seconds_since(query_start);
    rank_seconds += elapsed;
    ranked_candidates += static_cast<std::int64_t>(rows.candidates);
    std::vector<std::uint32_t> order = order_by(candidates, scores);
    ranked.add(query, order, min_grade, cutoffs, elapsed);
    project_rows(candidate_rows, width, ablation_columns, &projected);
    AISLE_ASSIGN_OR_RETURN(scores, ablation.lambdamart->score(projected));
    ranked_ablation.add(query, order_by(candidates, scores), min_grade, cutoffs, 0);
    AISLE_ASSIGN_OR_RETURN(scores, full.regression->score(candidate_rows));
    regression_order.add(query, order_by(candidates, scores), min_grade, cutoffs, 0);
    lexical.add(query, rows.lexical, min_grade, cutoffs, 0);
    if (with_vectors) {
      vector_order.add(query, rows.vector, min_grade, cutoffs, 0);
      fused.add(query, std::vector<std::uint32_t>(rows.fused.begin(),
                                                  rows.fused.begin() + std::min<std::size_t>(rows.fused.size(), static_cast<std::size_t>(options.depth))),
                min_grade, cutoffs, 0);
    }
    // Predicted grades of every judged product.
    AISLE_ASSIGN_OR_RETURN(std::vector<float> grades, full.regression->score(rows.features));
    project_rows(rows.features, width, ablation_columns, &projected);
    AISLE_ASSIGN_OR_RETURN(std::vector<float> ablation_grades, ablation.regression->score(projected));

    for (std::size_t p = 0; p < rows.products.size(); ++p) {
      auto found = query.grades.find(rows.products[p]);
      if (found == query.grades.end()) continue;
      ++judged_total;
      judged_retrieved += p < rows.candidates ? 1 : 0;
      truth.push_back(found->second);
      predicted.push_back(std::clamp(static_cast<double>(grades[p]), low, high));
      predicted_ablation.push_back(std::clamp(static_cast<double>(ablation_grades[p]), low, high));
      predicted_mean.push_back(mean_grade);
    }
  }
  const double eval_seconds = seconds_since(eval_start);

  auto kappa_of = [&](const std::vector<double>& values) {
    std::vector<int> a, b;
    for (std::size_t i = 0; i < values.size(); ++i) {
      a.push_back(static_cast<int>(std::lround(truth[i] - low)));
      b.push_back(static_cast<int>(std::lround(values[i] - low)));
    }
    return quadratic_weighted_kappa(a, b, static_cast<int>(std::lround(high - low)) + 1);
  };
  auto with_grades = [&](nlohmann::json entry, const std::vector<double>& values) {
    entry["rmse"] = rmse(values, truth);
    if (kappa) entry["quadratic_weighted_kappa"] = kappa_of(values);
    return entry;
  };

  nlohmann::json report;
  report["task"] = "rank";
  report["dataset"] = options.test.empty() ? options.train.string() + " (dev split)" : options.test.string();
  report["metrics"] = with_grades(ranked.report(options.depth), predicted);
  report["metrics"]["ranker"] = "LambdaMART (rank:ndcg) over the lexical + vector union; rmse" +
                                std::string(kappa ? " and kappa" : "") + " from the regression ranker";
  report["metrics"]["mean_candidates"] = members.empty() ? 0.0 : static_cast<double>(ranked_candidates) / members.size();
  report["metrics"]["mean_rank_ms"] = members.empty() ? 0.0 : 1000.0 * rank_seconds / members.size();
  report["metrics"]["judged_in_candidates"] = judged_total ? static_cast<double>(judged_retrieved) / judged_total : 0.0;
  nlohmann::json baselines;
  baselines["aisle-lexical"] = lexical.report(options.depth);
  if (with_vectors) {
    baselines["aisle-vector"] = vector_order.report(options.depth);
    baselines["hybrid-rrf"] = fused.report(options.depth);
  }
  baselines["ranker-without-learned-text"] = with_grades(ranked_ablation.report(options.depth), predicted_ablation);
  baselines["regression-ranker-order"] = regression_order.report(options.depth);
  baselines["train-mean-grade"] = with_grades(nlohmann::json::object(), predicted_mean);
  report["baselines"] = baselines;
  report["train_seconds"] = train_seconds;
  report["eval_seconds"] = eval_seconds;
  nlohmann::json importance = nlohmann::json::array();
  for (const auto& [name, share] : full.lambdamart->importance()) {
    if (importance.size() < 15) importance.push_back({{"feature", name}, {"gain_share", share}});
  }
  nlohmann::json regression_importance = nlohmann::json::array();
  for (const auto& [name, share] : full.regression->importance()) {
    if (regression_importance.size() < 15) regression_importance.push_back({{"feature", name}, {"gain_share", share}});
  }
  report["config"] = {
      {"train", options.train.string()},
      {"test", options.test.empty() ? "" : options.test.string()},
      {"split", split},
      {"dev_fraction", options.test.empty() ? options.dev_fraction : 0.0},
      {"corpus_products", corpus.documents.size()},
      {"train_queries", train_queries.size()},
      {"test_queries", test_queries.size()},
      {"test_judgments", judged_total},
      {"relevant_min_grade", cutoffs.relevant_min_grade},
      {"gain", "grade - " + std::to_string(min_grade)},
      {"depth", options.depth},
      {"label_levels", options.label_levels},
      {"grades", {{"low", low}, {"high", high}, {"train_mean", mean_grade}, {"kappa_classes", kappa ? distinct.size() : 0}}},
      {"folds", folds},
      {"validation_fraction", options.validation_fraction},
      {"features", full_schema.to_json()},
      {"ablation_features", ablation_schema.size()},
      {"train_candidates", train_candidates},
      {"train_features_seconds", train_features_seconds},
      {"encoder_seconds", encoder_seconds},
      {"ranker_seconds", ranker_seconds},
      {"threads", context.num_threads()},
      {"ranker_options",
       {{"rounds", options.ranker.rounds},
        {"learning_rate", options.ranker.learning_rate},
        {"max_depth", options.ranker.max_depth},
        {"min_child_weight", options.ranker.min_child_weight},
        {"subsample", options.ranker.subsample},
        {"colsample_bytree", options.ranker.colsample_bytree},
        {"early_stopping_rounds", options.ranker.early_stopping_rounds}}},
      {"lambdamart", train_summary(full.lambdamart_report, full_sets.lambdamart)},
      {"regression", train_summary(full.regression_report, full_sets.regression)},
      {"lambdamart_without_learned_text", train_summary(ablation.lambdamart_report, ablation_sets.lambdamart)},
      {"regression_without_learned_text", train_summary(ablation.regression_report, ablation_sets.regression)},
      {"lambdamart_importance", importance},
      {"regression_importance", regression_importance},
  };
  if (with_vectors) {
    report["config"]["encoder"] = models::config_to_json(options.encoder);
    report["config"]["encoder_epochs"] = options.training.epochs;
  }
  return report;
}

}  // namespace aisle::eval
