#include "aisle/rank/training.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "aisle/core/validation.h"

namespace aisle::rank {
namespace {

// A labelled query: (text, locale) -> product -> grade 0..1.
using Labels = std::map<std::pair<std::string, std::string>, std::unordered_map<std::uint32_t, float>>;

// A held-out query of the gate slice: its candidates' features, lexical ranks and grades, and
// every grade it has (the ideal ranking includes labelled products no strategy retrieved).
struct GateQuery {
  std::vector<float> features;
  std::vector<int> lexical_ranks;  // 0: not found by the lexical strategy
  std::vector<double> gains;       // per candidate, in fused order
  std::vector<double> ideal;
};

// nDCG@k of the candidates in `order` (indexes into gains).
double ndcg_of(const GateQuery& query, const std::vector<std::size_t>& order, int k) {
  std::vector<double> ranked;
  for (std::size_t i : order) ranked.push_back(query.gains[i]);
  return ndcg_at(ranked, query.ideal, k);
}

}  // namespace

Result<LabelSource> parse_label_source(std::string_view name) {
  if (name == "auto") return LabelSource::kAuto;
  if (name == "judgments") return LabelSource::kJudgments;
  if (name == "clicks") return LabelSource::kClicks;
  return Status::bad_input("unknown label source " + std::string(name) + " (expected auto, judgments or clicks)");
}

Result<std::unique_ptr<Ranker>> train_ranker(const SearchPipeline& pipeline, const RankerTrainingOptions& options,
                                             const Context& context, RankerTrainingReport* report) {
  RankerTrainingReport local;
  Labels labels;
  LabelSource source = options.labels;
  retrieve::TrainingSetReport set_report;
  AISLE_ASSIGN_OR_RETURN(const std::vector<retrieve::GradedPair> pairs, retrieve::graded_pairs_from_store(pipeline.store(), &set_report));
  if (source == LabelSource::kAuto) source = set_report.judgments > 0 ? LabelSource::kJudgments : LabelSource::kClicks;
  if (source == LabelSource::kJudgments) {
    local.labels = "judgments";
    for (const retrieve::GradedPair& pair : pairs) labels[{pair.query, pair.locale}][pair.product.value()] = pair.grade;
  } else {
    local.labels = "clicks";
    std::vector<ClickCounts> rows;
    std::map<std::string, std::pair<std::string, std::string>> keys;  // "query\x1flocale" -> (query, locale)
    AISLE_RETURN_IF_ERROR(pipeline.store().for_each_positioned_engagement([&](store::PositionedEngagement&& e) {
      std::string key = e.query + '\x1f' + e.locale;
      keys.try_emplace(key, e.query, e.locale);
      rows.push_back(ClickCounts{std::move(key), e.product, e.position, e.impressions, e.clicks});
      return Status::ok();
    }));
    if (rows.empty()) {
      return Status::bad_input("nothing to train the ranker on: no judgments outside split \"test\" and no "
                               "impression/click events with positions (ingest judgments or feedback events)");
    }
    AISLE_ASSIGN_OR_RETURN(local.bias, estimate_position_bias(rows));
    for (const ClickRelevance& r : ips_relevance(rows, local.bias, options.min_propensity)) {
      labels[keys[r.query]][r.product.value()] = static_cast<float>(r.relevance);
    }
  }
  if (labels.empty()) return Status::bad_input("nothing to train the ranker on: no labelled queries");

  const std::size_t width = pipeline.features().schema().size();
  RankingData train, validation;
  train.num_features = validation.num_features = width;
  // Two query-disjoint slices of the labelled queries: the gate slice (never trained on, never
  // used for early stopping) decides whether the ranker may change what shoppers see; the
  // early-stopping slice picks the number of rounds. Early stopping needs enough queries to be
  // more than noise; below that, every round is kept.
  const std::uint64_t seed = context.seed();
  const bool hold_out = static_cast<double>(labels.size()) * options.validation_fraction >= 50;
  std::vector<GateQuery> gate;
  PipelineOptions search;
  search.depth = options.depth;
  search.k = options.depth;
  for (const auto& [key, grades] : labels) {
    search.locale = key.second;
    const std::string query_key = key.first + '\x1f' + key.second;
    AISLE_ASSIGN_OR_RETURN(CandidateSet candidates, pipeline.retrieve(key.first, search, &grades));
    local.labels_total += static_cast<std::int64_t>(grades.size());
    if (in_gate_slice(key.first, key.second, seed)) {
      GateQuery held;
      held.features = std::move(candidates.features);
      for (const PipelineHit& hit : candidates.result.hits) {
        auto found = grades.find(hit.product.value());
        held.gains.push_back(found == grades.end() ? 0.0 : found->second);
        held.lexical_ranks.push_back(hit.provenance.lexical_rank);
      }
      for (const auto& [product, grade] : grades) held.ideal.push_back(grade);
      gate.push_back(std::move(held));
      continue;
    }
    std::vector<float> levels;
    for (const PipelineHit& hit : candidates.result.hits) {
      auto found = grades.find(hit.product.value());
      const float grade = found == grades.end() ? 0.0f : found->second;
      local.labelled_candidates += found == grades.end() ? 0 : 1;
      levels.push_back(options.ranker.objective == Objective::kLambdaMart
                           ? level_from_grade(grade, 0.0, 1.0, options.label_levels)
                           : grade);
    }
    if (levels.empty()) continue;
    const bool held_out = hold_out && in_validation_slice(query_key, seed + 1, options.validation_fraction);
    (held_out ? validation : train).add_group(candidates.features, levels);
    ++(held_out ? local.validation_queries : local.queries);
  }
  local.rows = static_cast<std::int64_t>(train.rows());
  if (train.rows() == 0) return Status::bad_input("no labelled query retrieved any candidate to learn from");
  AISLE_ASSIGN_OR_RETURN(auto ranker, Ranker::train(pipeline.features().schema(), train,
                                                    validation.rows() > 0 ? &validation : nullptr, options.ranker,
                                                    context, &local.train));
  // The gate: the ranker's order against lexical BM25F order (what a search shows without any
  // learned layer) on the held-out queries that have something relevant to find.
  std::vector<double> model_ndcg, lexical_ndcg, fused_ndcg;
  const int at = options.ranker.ndcg_at;
  for (const GateQuery& held : gate) {
    if (*std::max_element(held.ideal.begin(), held.ideal.end()) <= 0) continue;
    const std::size_t n = held.gains.size();
    std::vector<std::size_t> fused(n);
    std::iota(fused.begin(), fused.end(), std::size_t{0});
    std::vector<std::size_t> lexical;
    for (std::size_t i = 0; i < n; ++i) {
      if (held.lexical_ranks[i] > 0) lexical.push_back(i);
    }
    std::sort(lexical.begin(), lexical.end(), [&](std::size_t a, std::size_t b) { return held.lexical_ranks[a] < held.lexical_ranks[b]; });
    std::vector<std::size_t> ranked = fused;
    if (n > 0) {
      AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, ranker->score(held.features));
      std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    }
    model_ndcg.push_back(ndcg_of(held, ranked, at));
    lexical_ndcg.push_back(ndcg_of(held, lexical, at));
    fused_ndcg.push_back(ndcg_of(held, fused, at));
  }
  GateOptions gate_options;
  gate_options.seed = seed;
  local.verdict = decide("ranker", "ndcg@" + std::to_string(at), "lexical", model_ndcg, lexical_ndcg, gate_options);
  local.verdict.fraction = kGateFraction;
  local.verdict.seed = seed;
  const double fused_mean =
      fused_ndcg.empty() ? 0.0 : std::accumulate(fused_ndcg.begin(), fused_ndcg.end(), 0.0) / static_cast<double>(fused_ndcg.size());
  local.verdict.details["fused_order"] = fused_mean;
  local.verdict.details["fused_strategies"] = pipeline.vector_default() ? "lexical+vector" : "lexical";
  local.verdict.details["gate_queries_without_relevant"] = static_cast<std::int64_t>(gate.size() - model_ndcg.size());
  local.gate_queries = static_cast<std::int64_t>(gate.size());
  ranker->metadata()["labels"] = local.labels;
  ranker->metadata()["label_levels"] = options.label_levels;
  ranker->metadata()["depth"] = options.depth;
  ranker->metadata()["validation"] = local.verdict.to_json();
  ranker->metadata()["inputs"] = pipeline.ranker_inputs();
  if (!local.bias.propensity.empty()) ranker->metadata()["position_propensity"] = local.bias.propensity;
  if (report != nullptr) *report = std::move(local);
  return ranker;
}

}  // namespace aisle::rank
