#include "aisle/rank/ranker.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "aisle/core/files.h"

namespace aisle::rank {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'R', 'N', 'K'};

Status xgb_error(std::string_view what) {
  return Status::internal("XGBoost " + std::string(what) + ": " + XGBGetLastError());
}

#define AISLE_XGB(call, what)                    \
  do {                                           \
    if ((call) != 0) return xgb_error(what);     \
  } while (false)

// XGBoost prints training messages to stderr unless told not to; once per process.
void quiet_xgboost() {
  static std::once_flag once;
  std::call_once(once, [] { XGBSetGlobalConfig(R"({"verbosity": 0})"); });
}

class Matrix {
 public:
  ~Matrix() {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
  }
  Status build(const RankingData& data, Objective objective) {
    const bst_ulong rows = data.rows();
    AISLE_XGB(XGDMatrixCreateFromMat(data.features.data(), rows, data.num_features, std::nanf(""), &handle_),
              "matrix");
    AISLE_XGB(XGDMatrixSetFloatInfo(handle_, "label", data.labels.data(), rows), "labels");
    if (!data.weights.empty()) {
      if (objective == Objective::kLambdaMart) {
        std::vector<float> per_group;
        std::size_t row = 0;
        for (std::uint32_t size : data.groups) {
          double sum = 0;
          for (std::uint32_t i = 0; i < size; ++i) sum += data.weights[row + i];
          per_group.push_back(size ? static_cast<float>(sum / size) : 1.0f);
          row += size;
        }
        AISLE_XGB(XGDMatrixSetFloatInfo(handle_, "weight", per_group.data(), per_group.size()), "weights");
      } else {
        AISLE_XGB(XGDMatrixSetFloatInfo(handle_, "weight", data.weights.data(), rows), "weights");
      }
    }
    if (objective == Objective::kLambdaMart) {
      AISLE_XGB(XGDMatrixSetGroup(handle_, data.groups.data(), data.groups.size()), "groups");
    }
    return Status::ok();
  }
  DMatrixHandle handle() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

std::string number(double value) { return nlohmann::json(value).dump(); }

// "[3]\ttrain-ndcg@10:0.51\tvalidation-ndcg@10:0.47" -> the two values.
std::vector<double> parse_eval(const char* line) {
  std::vector<double> out;
  const char* p = line;
  while ((p = std::strchr(p, ':')) != nullptr) {
    ++p;
    out.push_back(std::strtod(p, nullptr));
  }
  return out;
}

// The trees of a booster laid out flat for scoring: XGBoost's in-place prediction spends more
// on dispatch (parsing an array interface, an OpenMP region, blocks of 64 rows) than on the
// walk for the hundred-odd candidates of one query, and its walk branches on every split.
// Here every node's right child follows its left one, and a leaf is a node that steps to
// itself, so a walk is a fixed number of branch-free steps (the tree's depth) and up to 32 rows
// walk a tree together. Scores are bitwise XGBoost's: the same split test (value < threshold
// goes left, a missing value takes the default branch) and the same float sum (base score,
// then each tree in order). tests/rank/rank_test.cc checks it.
struct Forest {
  struct Node {
    float threshold = 0;
    float leaf = 0;              // a leaf's value
    std::uint32_t feature = 0;   // a leaf reads feature 0 and ignores it
    std::uint32_t left = 0;      // the right child is left + 1; a leaf's left is itself
    std::uint32_t default_right = 0;  // where a missing value goes
    std::uint32_t internal = 0;  // 1 for a split, 0 for a leaf (its step is always 0)
  };
  struct Tree {
    std::uint32_t root = 0;
    std::uint32_t depth = 0;  // steps from the root to the deepest leaf
  };
  std::vector<Node> nodes;
  std::vector<Tree> trees;
  float base_score = 0;
  std::size_t num_features = 0;

  void score(const float* features, std::size_t rows, float* out) const {
    // Rows walk a tree in groups: their walks are independent, so the loads of one row's next
    // node overlap with the others' (32 measured best for 100-200 rows).
    constexpr std::size_t kLanes = 32;
    std::fill(out, out + rows, base_score);
    const Node* base = nodes.data();
    for (const Tree& tree : trees) {
      for (std::size_t r = 0; r < rows; r += kLanes) {
        const std::size_t lanes = std::min(kLanes, rows - r);
        const float* first = features + r * num_features;
        std::uint32_t at[kLanes];
        for (std::size_t j = 0; j < lanes; ++j) at[j] = tree.root;
        for (std::uint32_t d = 0; d < tree.depth; ++d) {
          for (std::size_t j = 0; j < lanes; ++j) at[j] = step(base[at[j]], first + j * num_features);
        }
        for (std::size_t j = 0; j < lanes; ++j) out[r + j] += base[at[j]].leaf;
      }
    }
  }

  static std::uint32_t step(const Node& node, const float* row) {
    const float x = row[node.feature];
    const std::uint32_t right = std::isnan(x) ? node.default_right : static_cast<std::uint32_t>(!(x < node.threshold));
    return node.left + (right & node.internal);
  }
};

// The booster's trees from its JSON model. kInternal for a model this layout cannot express
// (a booster other than gbtree, categorical splits, several outputs): Aisle trains none.
Result<Forest> compile_forest(BoosterHandle handle) {
  bst_ulong length = 0;
  const char* bytes = nullptr;
  AISLE_XGB(XGBoosterSaveModelToBuffer(handle, R"({"format": "json"})", &length, &bytes), "model as JSON");
  Forest forest;
  try {
    const nlohmann::json model = nlohmann::json::parse(bytes, bytes + length);
    const nlohmann::json& learner = model.at("learner");
    const nlohmann::json& param = learner.at("learner_model_param");
    forest.base_score = std::stof(param.at("base_score").get<std::string>());
    forest.num_features = std::stoul(param.at("num_feature").get<std::string>());
    const std::string num_class = param.value("num_class", "0");
    if (num_class != "0" && num_class != "1") return Status::internal("ranker model with " + num_class + " outputs");
    const nlohmann::json& booster = learner.at("gradient_booster");
    if (booster.at("name") != "gbtree") return Status::internal("ranker booster " + booster.at("name").dump());
    for (const nlohmann::json& tree : booster.at("model").at("trees")) {
      const auto& left = tree.at("left_children");
      const auto& right = tree.at("right_children");
      const auto& index = tree.at("split_indices");
      const auto& condition = tree.at("split_conditions");
      const auto& default_left = tree.at("default_left");
      const std::size_t n = left.size();
      if (right.size() != n || index.size() != n || condition.size() != n || default_left.size() != n) {
        return Status::internal("ranker tree arrays of different lengths");
      }
      if (const auto types = tree.find("split_type"); types != tree.end()) {
        for (const auto& type : *types) {
          if (type.get<int>() != 0) return Status::internal("ranker tree with a categorical split");
        }
      }
      // Children laid out in pairs, breadth first from the root; a node's place is known
      // before its children are visited.
      const auto root = static_cast<std::uint32_t>(forest.nodes.size());
      forest.nodes.emplace_back();
      std::vector<std::pair<int, std::uint32_t>> queue{{0, root}};  // (XGBoost node, our node)
      std::vector<std::uint32_t> depth_of{0};
      std::uint32_t depth = 0;
      for (std::size_t head = 0; head < queue.size(); ++head) {
        const auto [xgb, ours] = queue[head];
        if (xgb < 0 || static_cast<std::size_t>(xgb) >= n || queue.size() > n) {
          return Status::internal("ranker tree node out of range");
        }
        const std::size_t i = static_cast<std::size_t>(xgb);
        Forest::Node node;
        const int l = left[i].get<int>();
        if (l < 0) {
          node.leaf = condition[i].get<float>();
          node.left = ours;
          depth = std::max(depth, depth_of[head]);
        } else {
          const auto feature = index[i].get<std::int64_t>();
          if (feature < 0 || static_cast<std::size_t>(feature) >= forest.num_features) {
            return Status::internal("ranker tree split on feature " + std::to_string(feature));
          }
          node.threshold = condition[i].get<float>();
          node.feature = static_cast<std::uint32_t>(feature);
          node.default_right = default_left[i].get<int>() != 0 ? 0 : 1;
          node.internal = 1;
          node.left = static_cast<std::uint32_t>(forest.nodes.size());
          forest.nodes.emplace_back();
          forest.nodes.emplace_back();
          queue.emplace_back(l, node.left);
          queue.emplace_back(right[i].get<int>(), node.left + 1);
          depth_of.push_back(depth_of[head] + 1);
          depth_of.push_back(depth_of[head] + 1);
        }
        forest.nodes[ours] = node;
      }
      forest.trees.push_back(Forest::Tree{root, depth});
    }
  } catch (const std::exception& error) {
    return Status::internal(std::string("reading the ranker's trees: ") + error.what());
  }
  return forest;
}

}  // namespace

class Ranker::Booster {
 public:
  ~Booster() {
    if (handle != nullptr) XGBoosterFree(handle);
  }
  // Compiles the trees for score(); after training (and slicing) or loading.
  Status compile() {
    AISLE_ASSIGN_OR_RETURN(forest, compile_forest(handle));
    return Status::ok();
  }
  BoosterHandle handle = nullptr;
  Forest forest;
};

std::string_view objective_name(Objective objective) {
  return objective == Objective::kLambdaMart ? "lambdamart" : "regression";
}

Result<Objective> parse_objective(std::string_view name) {
  if (name == "lambdamart") return Objective::kLambdaMart;
  if (name == "regression") return Objective::kRegression;
  return Status::bad_input("unknown ranking objective " + std::string(name) + " (expected lambdamart or regression)");
}

void RankingData::add_group(std::span<const float> group_features, std::span<const float> group_labels,
                            std::span<const float> group_weights) {
  features.insert(features.end(), group_features.begin(), group_features.end());
  labels.insert(labels.end(), group_labels.begin(), group_labels.end());
  if (!group_weights.empty() || !weights.empty()) {
    weights.resize(labels.size() - group_labels.size(), 1.0f);
    if (group_weights.empty()) {
      weights.resize(labels.size(), 1.0f);
    } else {
      weights.insert(weights.end(), group_weights.begin(), group_weights.end());
    }
  }
  groups.push_back(static_cast<std::uint32_t>(group_labels.size()));
}

Status RankingData::validate() const {
  if (num_features == 0) return Status::bad_input("ranking data: no features");
  if (features.size() != labels.size() * num_features) {
    return Status::bad_input("ranking data: " + std::to_string(features.size()) + " feature values for " +
                             std::to_string(labels.size()) + " rows of " + std::to_string(num_features));
  }
  if (!weights.empty() && weights.size() != labels.size()) {
    return Status::bad_input("ranking data: " + std::to_string(weights.size()) + " weights for " +
                             std::to_string(labels.size()) + " rows");
  }
  std::size_t grouped = 0;
  for (std::uint32_t size : groups) grouped += size;
  if (grouped != labels.size()) {
    return Status::bad_input("ranking data: groups cover " + std::to_string(grouped) + " rows, there are " +
                             std::to_string(labels.size()));
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!std::isfinite(labels[i])) return Status::bad_input("ranking data: label of row " + std::to_string(i) + " is not finite");
  }
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0) {
      return Status::bad_input("ranking data: weight of row " + std::to_string(i) + " is negative or not finite");
    }
  }
  return Status::ok();
}

float level_from_grade(double grade, double low, double high, int levels) {
  if (!(high > low)) return static_cast<float>(levels);
  const double level = std::round(levels * (grade - low) / (high - low));
  return static_cast<float>(std::clamp(level, 0.0, static_cast<double>(levels)));
}

Ranker::Ranker(FeatureSchema schema, RankerOptions options, std::unique_ptr<Booster> booster)
    : schema_(std::move(schema)),
      options_(options),
      booster_(std::move(booster)),
      metadata_(std::make_unique<nlohmann::json>(nlohmann::json::object())) {}

Ranker::~Ranker() = default;

Result<std::unique_ptr<Ranker>> Ranker::train(const FeatureSchema& schema, const RankingData& train,
                                              const RankingData* validation, const RankerOptions& options,
                                              const Context& context, RankerTrainReport* report) {
  quiet_xgboost();
  const auto start = std::chrono::steady_clock::now();
  AISLE_RETURN_IF_ERROR(train.validate());
  if (train.num_features != schema.size()) {
    return Status::bad_input("ranking data has " + std::to_string(train.num_features) + " features, the schema " +
                             std::to_string(schema.size()));
  }
  if (train.rows() == 0) return Status::bad_input("ranking data: no rows to train on");
  if (validation != nullptr) {
    AISLE_RETURN_IF_ERROR(validation->validate());
    if (validation->num_features != train.num_features) {
      return Status::bad_input("validation data has " + std::to_string(validation->num_features) +
                               " features, the training data " + std::to_string(train.num_features));
    }
    if (validation->rows() == 0) validation = nullptr;
  }
  if (options.rounds < 1 || options.max_depth < 1 || options.learning_rate <= 0 || options.subsample <= 0 ||
      options.subsample > 1 || options.colsample_bytree <= 0 || options.colsample_bytree > 1) {
    return Status::bad_input("ranker options: rounds and max_depth must be >= 1, learning_rate > 0, "
                             "subsample and colsample_bytree in (0, 1]");
  }
  Matrix train_matrix, validation_matrix;
  AISLE_RETURN_IF_ERROR(train_matrix.build(train, options.objective));
  if (validation != nullptr) AISLE_RETURN_IF_ERROR(validation_matrix.build(*validation, options.objective));

  auto booster = std::make_unique<Booster>();
  DMatrixHandle cache[2] = {train_matrix.handle(), validation_matrix.handle()};
  AISLE_XGB(XGBoosterCreate(cache, validation != nullptr ? 2 : 1, &booster->handle), "booster");
  const std::string metric = options.objective == Objective::kLambdaMart ? "ndcg@" + std::to_string(options.ndcg_at) : "rmse";
  const std::vector<std::pair<std::string, std::string>> params = {
      {"objective", options.objective == Objective::kLambdaMart ? "rank:ndcg" : "reg:squarederror"},
      {"eval_metric", metric},
      {"tree_method", "hist"},
      {"eta", number(options.learning_rate)},
      {"max_depth", std::to_string(options.max_depth)},
      {"min_child_weight", number(options.min_child_weight)},
      {"subsample", number(options.subsample)},
      {"colsample_bytree", number(options.colsample_bytree)},
      {"lambda", number(options.lambda)},
      {"seed", std::to_string(context.seed())},
      {"nthread", std::to_string(std::max(1, context.num_threads()))},
  };
  for (const auto& [name, value] : params) {
    AISLE_XGB(XGBoosterSetParam(booster->handle, name.c_str(), value.c_str()), "parameter " + name);
  }

  RankerTrainReport local;
  local.metric = metric;
  const bool higher_is_better = options.objective == Objective::kLambdaMart;
  double best = higher_is_better ? -1e300 : 1e300;
  const char* names[2] = {"train", "validation"};
  for (int round = 0; round < options.rounds; ++round) {
    AISLE_XGB(XGBoosterUpdateOneIter(booster->handle, round, train_matrix.handle()), "training round");
    const char* line = nullptr;
    AISLE_XGB(XGBoosterEvalOneIter(booster->handle, round, cache, names, validation != nullptr ? 2 : 1, &line),
              "evaluation");
    std::vector<double> values = parse_eval(line);
    if (!values.empty()) local.train_metric.push_back(values[0]);
    if (validation != nullptr && values.size() > 1) {
      local.validation_metric.push_back(values[1]);
      const bool better = higher_is_better ? values[1] > best : values[1] < best;
      if (better) {
        best = values[1];
        local.best_round = round;
      }
      if (options.early_stopping_rounds > 0 && round - local.best_round >= options.early_stopping_rounds) break;
    }
  }
  int rounds = 0;
  AISLE_XGB(XGBoosterBoostedRounds(booster->handle, &rounds), "rounds");
  if (validation != nullptr && local.best_round >= 0 && local.best_round + 1 < rounds) {
    auto sliced = std::make_unique<Booster>();
    AISLE_XGB(XGBoosterSlice(booster->handle, 0, local.best_round + 1, 1, &sliced->handle), "slice");
    booster = std::move(sliced);
    rounds = local.best_round + 1;
  }
  // Scoring is one query at a time: one thread each.
  AISLE_XGB(XGBoosterSetParam(booster->handle, "nthread", "1"), "parameter nthread");
  AISLE_RETURN_IF_ERROR(booster->compile());
  local.rounds = rounds;
  local.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (report != nullptr) *report = local;
  auto ranker = std::unique_ptr<Ranker>(new Ranker(schema, options, std::move(booster)));
  ranker->metadata()["rows"] = train.rows();
  ranker->metadata()["queries"] = train.groups.size();
  ranker->metadata()["rounds"] = rounds;
  return ranker;
}

namespace {

// Rows in `values` feature values of `width` each; kBadInput when they do not divide.
Result<std::size_t> row_count(std::size_t values, std::size_t width) {
  if (values % width != 0) {
    return Status::bad_input(std::to_string(values) + " feature values is not a whole number of rows of " +
                             std::to_string(width));
  }
  return values / width;
}

}  // namespace

Result<std::vector<float>> Ranker::score_with_xgboost(std::span<const float> features) const {
  const std::size_t width = schema_.size();
  AISLE_ASSIGN_OR_RETURN(const std::size_t rows, row_count(features.size(), width));
  if (rows == 0) return std::vector<float>();
  const std::string array = "{\"data\": [" + std::to_string(reinterpret_cast<std::uintptr_t>(features.data())) +
                            ", true], \"shape\": [" + std::to_string(rows) + ", " + std::to_string(width) +
                            "], \"typestr\": \"<f4\", \"version\": 3}";
  static const char* kConfig =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "cache_id": 0, "missing": NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  AISLE_XGB(XGBoosterPredictFromDense(booster_->handle, array.c_str(), kConfig, nullptr, &shape, &dim, &result),
            "prediction");
  return std::vector<float>(result, result + rows);
}

Result<std::vector<float>> Ranker::score(std::span<const float> features) const {
  const std::size_t width = schema_.size();
  AISLE_ASSIGN_OR_RETURN(const std::size_t rows, row_count(features.size(), width));
  std::vector<float> scores(rows);
  booster_->forest.score(features.data(), rows, scores.data());
  return scores;
}

Result<std::vector<float>> Ranker::contributions(std::span<const float> features) const {
  const std::size_t width = schema_.size();
  AISLE_ASSIGN_OR_RETURN(const std::size_t rows, row_count(features.size(), width));
  if (rows == 0) return std::vector<float>();
  DMatrixHandle matrix = nullptr;
  AISLE_XGB(XGDMatrixCreateFromMat(features.data(), rows, width, std::nanf(""), &matrix), "matrix");
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* result = nullptr;
  const int rc = XGBoosterPredictFromDMatrix(
      booster_->handle, matrix,
      R"({"type": 2, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false})", &shape,
      &dim, &result);
  if (rc != 0) {
    XGDMatrixFree(matrix);
    return xgb_error("contributions");
  }
  std::vector<float> out(result, result + rows * (width + 1));
  XGDMatrixFree(matrix);
  return out;
}

Status Ranker::check_schema(const FeatureSchema& schema) const {
  if (schema.version != schema_.version) {
    return Status::bad_input("the ranker was trained on feature schema version " + std::to_string(schema_.version) +
                             ", the extractor writes version " + std::to_string(schema.version) +
                             ": retrain it (aisle train ranker)");
  }
  const std::size_t n = std::min(schema.size(), schema_.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (schema.names[i] != schema_.names[i]) {
      return Status::bad_input("the ranker's feature " + std::to_string(i) + " is " + schema_.names[i] +
                               ", the extractor's is " + schema.names[i] + ": retrain it (aisle train ranker)");
    }
  }
  if (schema.size() != schema_.size()) {
    return Status::bad_input("the ranker was trained on " + std::to_string(schema_.size()) +
                             " features, the extractor writes " + std::to_string(schema.size()) +
                             ": retrain it (aisle train ranker)");
  }
  return Status::ok();
}

std::vector<std::pair<std::string, double>> Ranker::importance() const {
  std::vector<std::pair<std::string, double>> out;
  bst_ulong n = 0, dim = 0;
  const char** names = nullptr;
  const bst_ulong* shape = nullptr;
  const float* scores = nullptr;
  if (XGBoosterFeatureScore(booster_->handle, R"({"importance_type": "total_gain"})", &n, &names, &dim, &shape,
                            &scores) != 0) {
    return out;
  }
  double total = 0;
  for (bst_ulong i = 0; i < n; ++i) total += scores[i];
  for (bst_ulong i = 0; i < n; ++i) {
    // Unnamed features are "f<index>".
    std::string name = names[i];
    if (name.size() > 1 && name[0] == 'f') {
      const std::size_t index = std::strtoul(name.c_str() + 1, nullptr, 10);
      if (index < schema_.size()) name = schema_.names[index];
    }
    out.emplace_back(name, total > 0 ? scores[i] / total : 0.0);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

Status Ranker::save(const std::filesystem::path& path) const {
  bst_ulong length = 0;
  const char* bytes = nullptr;
  AISLE_XGB(XGBoosterSaveModelToBuffer(booster_->handle, R"({"format": "ubj"})", &length, &bytes), "save");
  nlohmann::json header = {{"objective", objective_name(options_.objective)},
                           {"schema", schema_.to_json()},
                           {"options",
                            {{"rounds", options_.rounds},
                             {"learning_rate", options_.learning_rate},
                             {"max_depth", options_.max_depth},
                             {"min_child_weight", options_.min_child_weight},
                             {"subsample", options_.subsample},
                             {"colsample_bytree", options_.colsample_bytree},
                             {"lambda", options_.lambda},
                             {"ndcg_at", options_.ndcg_at},
                             {"early_stopping_rounds", options_.early_stopping_rounds}}},
                           {"metadata", *metadata_},
                           // XGBoost's parser trusts lengths inside the model: a damaged model
                           // must be caught before it gets there.
                           {"model_bytes", static_cast<std::uint64_t>(length)},
                           {"model_checksum", checksum64(std::span<const std::uint8_t>(
                                                  reinterpret_cast<const std::uint8_t*>(bytes), length))}};
  const std::string json = header.dump();
  std::string file(kMagic, sizeof(kMagic));
  auto put32 = [&file](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) file.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  put32(kFormatVersion);
  put32(static_cast<std::uint32_t>(json.size()));
  file += json;
  file.append(bytes, length);
  std::error_code error;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), error);
  return write_file_atomically(path, file);
}

Result<std::unique_ptr<Ranker>> Ranker::load(const std::filesystem::path& path) {
  quiet_xgboost();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) {
      return Status::not_found("no ranker at " + path.string() + " (run `aisle train ranker`)");
    }
    return Status::io_error("cannot read " + path.string());
  }
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto corrupt = [&path](const std::string& why) { return Status::corruption(path.string() + ": " + why); };
  if (file.size() < 16 || std::memcmp(file.data(), kMagic, sizeof(kMagic)) != 0) {
    return corrupt("not an Aisle ranker file");
  }
  auto get32 = [&file](std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(file[at + i])) << (8 * i);
    return v;
  };
  const std::uint32_t version = get32(8);
  if (version != kFormatVersion) {
    return corrupt("ranker format version " + std::to_string(version) + ", this build reads " +
                   std::to_string(kFormatVersion));
  }
  const std::size_t header_length = get32(12);
  if (16 + header_length >= file.size()) return corrupt("truncated");
  nlohmann::json header = nlohmann::json::parse(file.begin() + 16, file.begin() + 16 + static_cast<long>(header_length),
                                                nullptr, false);
  if (header.is_discarded() || !header.is_object() || !header.contains("schema") || !header.contains("objective")) {
    return corrupt("damaged header");
  }
  auto schema = FeatureSchema::from_json(header["schema"]);
  if (!schema.is_ok()) return corrupt(schema.status().message());
  auto objective = parse_objective(header["objective"].is_string() ? header["objective"].get<std::string>() : "");
  if (!objective.is_ok()) return corrupt(objective.status().message());
  RankerOptions options;
  options.objective = objective.value();
  const nlohmann::json& o = header.value("options", nlohmann::json::object());
  options.rounds = o.value("rounds", options.rounds);
  options.learning_rate = o.value("learning_rate", options.learning_rate);
  options.max_depth = o.value("max_depth", options.max_depth);
  options.min_child_weight = o.value("min_child_weight", options.min_child_weight);
  options.subsample = o.value("subsample", options.subsample);
  options.colsample_bytree = o.value("colsample_bytree", options.colsample_bytree);
  options.lambda = o.value("lambda", options.lambda);
  options.ndcg_at = o.value("ndcg_at", options.ndcg_at);
  options.early_stopping_rounds = o.value("early_stopping_rounds", options.early_stopping_rounds);

  const std::size_t model_at = 16 + header_length;
  const std::span<const std::uint8_t> model(reinterpret_cast<const std::uint8_t*>(file.data()) + model_at,
                                            file.size() - model_at);
  if (!header.contains("model_bytes") || !header["model_bytes"].is_number_unsigned() ||
      header["model_bytes"].get<std::uint64_t>() != model.size()) {
    return corrupt("truncated model (" + std::to_string(model.size()) + " bytes)");
  }
  if (!header.contains("model_checksum") || !header["model_checksum"].is_number_unsigned() ||
      header["model_checksum"].get<std::uint64_t>() != checksum64(model)) {
    return corrupt("model checksum mismatch");
  }
  auto booster = std::make_unique<Booster>();
  if (XGBoosterCreate(nullptr, 0, &booster->handle) != 0) return xgb_error("booster");
  if (XGBoosterLoadModelFromBuffer(booster->handle, file.data() + model_at, file.size() - model_at) != 0) {
    return corrupt(std::string("damaged model: ") + XGBGetLastError());
  }
  AISLE_XGB(XGBoosterSetParam(booster->handle, "nthread", "1"), "parameter nthread");
  bst_ulong features = 0;
  AISLE_XGB(XGBoosterGetNumFeature(booster->handle, &features), "feature count");
  if (features != schema.value().size()) {
    return corrupt("the model reads " + std::to_string(features) + " features, its schema names " +
                   std::to_string(schema.value().size()));
  }
  AISLE_RETURN_IF_ERROR(booster->compile());
  auto ranker = std::unique_ptr<Ranker>(new Ranker(std::move(schema).value(), options, std::move(booster)));
  *ranker->metadata_ = header.value("metadata", nlohmann::json::object());
  return ranker;
}

}  // namespace aisle::rank
