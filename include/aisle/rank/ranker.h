// Ranker: gradient-boosted trees over ranking features, trained and evaluated through the
// XGBoost C API.
//
// Objectives:
//  - kLambdaMart: LambdaMART (Burges 2010), XGBoost's rank:ndcg, optimizing nDCG@ndcg_at per
//    query. XGBoost 1.7 takes integer relevance levels with gain 2^level - 1, so graded labels
//    are mapped to levels 0..label_levels (RankingData::levels_from_grades).
//  - kRegression: pointwise squared error (reg:squarederror) on the grades themselves, for
//    metrics on predicted relevance such as RMSE.
//
// The model file: "AISLERNK" (8 bytes), a little-endian uint32 format version, a uint32 length
// and that many bytes of JSON header (objective, options, feature schema, label mapping,
// training summary, the model's length and checksum64), then the XGBoost model in Universal
// Binary JSON. Written atomically; load() refuses a foreign, truncated, damaged or newer file
// before XGBoost parses anything.
//
// Thread safety: score() may be called from several threads at once (XGBoost's in-place
// prediction is thread-safe); train() and save() are not to run concurrently with it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/rank/features.h"

namespace aisle::rank {

enum class Objective { kLambdaMart, kRegression };
std::string_view objective_name(Objective objective);  // "lambdamart", "regression"
Result<Objective> parse_objective(std::string_view name);

// Rows of features with labels, grouped by query (a group's rows are consecutive).
struct RankingData {
  std::size_t num_features = 0;
  std::vector<float> features;      // rows x num_features, row-major; NaN = missing
  std::vector<float> labels;        // one per row
  std::vector<float> weights;       // one per row, or empty (all 1); see RankerOptions
  std::vector<std::uint32_t> groups;  // rows per query, in order

  std::size_t rows() const { return labels.size(); }
  // Appends a query's rows (features.size() == labels.size() * num_features).
  void add_group(std::span<const float> group_features, std::span<const float> group_labels,
                 std::span<const float> group_weights = {});
  // kBadInput when sizes disagree, a label or weight is not finite or a weight is negative.
  Status validate() const;
};

// Graded labels to LambdaMART's integer levels: round(levels * (grade - low) / (high - low)),
// clamped to 0..levels.
float level_from_grade(double grade, double low, double high, int levels);

struct RankerOptions {
  Objective objective = Objective::kLambdaMart;
  int rounds = 300;              // boosting rounds (at most, with early stopping)
  double learning_rate = 0.05;
  int max_depth = 6;
  double min_child_weight = 1.0;
  double subsample = 0.8;
  double colsample_bytree = 0.8;
  double lambda = 1.0;           // L2 on leaf weights
  int ndcg_at = 10;              // the cut-off LambdaMART optimizes and reports
  // Early stopping: with validation data, stop when its metric has not improved for this many
  // rounds and keep the best round (0: no early stopping).
  int early_stopping_rounds = 30;
  // Row weights: XGBoost 1.7's ranking objectives weigh whole queries, so for kLambdaMart a
  // group's weight is the mean of its rows' weights; kRegression weighs each row.
};

struct RankerTrainReport {
  int rounds = 0;       // rounds kept
  int best_round = -1;  // with validation
  std::vector<double> train_metric, validation_metric;  // per round: ndcg@k or rmse
  std::string metric;
  double seconds = 0;
};

class Ranker {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;

  // Trains on `train`, with optional `validation` for early stopping (never the test set).
  // Threads and seed come from `context`. kBadInput for invalid data or a validation set of
  // another width.
  static Result<std::unique_ptr<Ranker>> train(const FeatureSchema& schema, const RankingData& train,
                                               const RankingData* validation, const RankerOptions& options,
                                               const Context& context, RankerTrainReport* report = nullptr);
  // kNotFound when missing; kCorruption naming the file when damaged, foreign or of another
  // format version.
  static Result<std::unique_ptr<Ranker>> load(const std::filesystem::path& path);
  ~Ranker();
  Ranker(const Ranker&) = delete;
  Ranker& operator=(const Ranker&) = delete;

  Status save(const std::filesystem::path& path) const;

  // kBadInput naming the first difference when `schema` is not the model's: features of
  // another version, order or set would be silently misread.
  Status check_schema(const FeatureSchema& schema) const;

  // One score per row of `features` (rows x schema().size()); higher is better. For
  // kRegression the score is the predicted grade. Single-threaded per call.
  // Walks the trees compiled at train / load time (not XGBoost's predictor: its dispatch
  // costs more than the walk for one query's candidates).
  Result<std::vector<float>> score(std::span<const float> features) const;
  // The same scores from XGBoost's own in-place prediction: the reference score() is tested
  // against (bitwise equal) and the baseline `aisle bench rank` times it against.
  Result<std::vector<float>> score_with_xgboost(std::span<const float> features) const;

  // Per-feature contributions to each row's score (SHAP values, TreeSHAP, Lundberg et al.
  // 2020): rows x (schema().size() + 1), the last column the bias; a row sums to its score.
  Result<std::vector<float>> contributions(std::span<const float> features) const;

  // Each feature's share of the model's total split gain, largest first.
  std::vector<std::pair<std::string, double>> importance() const;

  const FeatureSchema& schema() const { return schema_; }
  const RankerOptions& options() const { return options_; }
  // Free-form facts saved with the model (label mapping, training data summary).
  nlohmann::json& metadata() { return *metadata_; }
  const nlohmann::json& metadata() const { return *metadata_; }

 private:
  class Booster;
  Ranker(FeatureSchema schema, RankerOptions options, std::unique_ptr<Booster> booster);
  FeatureSchema schema_;
  RankerOptions options_;
  std::unique_ptr<Booster> booster_;
  std::unique_ptr<nlohmann::json> metadata_;
};

}  // namespace aisle::rank
