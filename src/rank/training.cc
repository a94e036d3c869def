#include "aisle/rank/training.h"

#include <map>
#include <unordered_map>

#include <nlohmann/json.hpp>

namespace aisle::rank {
namespace {

// A labelled query: (text, locale) -> product -> grade 0..1.
using Labels = std::map<std::pair<std::string, std::string>, std::unordered_map<std::uint32_t, float>>;

std::uint64_t hash_of(std::string_view text, std::uint64_t salt) {
  std::uint64_t h = 1469598103934665603ULL ^ (salt * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h ^ (h >> 29);
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
  // Early stopping needs enough queries to be more than noise; below that, train every round.
  const bool hold_out = static_cast<double>(labels.size()) * options.validation_fraction >= 50;
  PipelineOptions search;
  search.depth = options.depth;
  search.k = options.depth;
  for (const auto& [key, grades] : labels) {
    search.locale = key.second;
    AISLE_ASSIGN_OR_RETURN(CandidateSet candidates, pipeline.retrieve(key.first, search, &grades));
    std::vector<float> levels;
    for (const PipelineHit& hit : candidates.result.hits) {
      auto found = grades.find(hit.product.value());
      const float grade = found == grades.end() ? 0.0f : found->second;
      local.labelled_candidates += found == grades.end() ? 0 : 1;
      levels.push_back(options.ranker.objective == Objective::kLambdaMart
                           ? level_from_grade(grade, 0.0, 1.0, options.label_levels)
                           : grade);
    }
    local.labels_total += static_cast<std::int64_t>(grades.size());
    if (levels.empty()) continue;
    const bool held_out = hold_out && static_cast<double>(hash_of(key.first + '\x1f' + key.second, context.seed()) % 10000) <
                                      options.validation_fraction * 10000.0;
    (held_out ? validation : train).add_group(candidates.features, levels);
    ++(held_out ? local.validation_queries : local.queries);
  }
  local.rows = static_cast<std::int64_t>(train.rows());
  if (train.rows() == 0) return Status::bad_input("no labelled query retrieved any candidate to learn from");
  AISLE_ASSIGN_OR_RETURN(auto ranker, Ranker::train(pipeline.features().schema(), train,
                                                    validation.rows() > 0 ? &validation : nullptr, options.ranker,
                                                    context, &local.train));
  ranker->metadata()["labels"] = local.labels;
  ranker->metadata()["label_levels"] = options.label_levels;
  ranker->metadata()["depth"] = options.depth;
  if (!local.bias.propensity.empty()) ranker->metadata()["position_propensity"] = local.bias.propensity;
  if (report != nullptr) *report = std::move(local);
  return ranker;
}

}  // namespace aisle::rank
