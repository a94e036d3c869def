#include "aisle/eval/match.h"

#include <chrono>
#include <memory>
#include <unordered_set>

#include "aisle/eval/metrics.h"
#include "aisle/io/record_pairs.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

Result<std::vector<models::MatchExample>> read_examples(const std::filesystem::path& path) {
  AISLE_ASSIGN_OR_RETURN(std::vector<io::RecordPair> pairs, io::read_record_pairs(path));
  if (pairs.empty()) return Status::bad_input("no labelled pairs", Where(path.string()));
  std::vector<models::MatchExample> out;
  out.reserve(pairs.size());
  for (auto& pair : pairs) out.push_back(models::MatchExample{std::move(pair.left.fields), std::move(pair.right.fields), pair.label});
  return out;
}

double title_jaccard(const models::MatchExample& e) {
  auto split = [](const models::FieldRecord& r) {
    std::unordered_set<std::string> words;
    if (r.empty()) return words;
    std::string word;
    for (char c : r.front().second + " ") {
      if (c == ' ') {
        if (!word.empty()) words.insert(word);
        word.clear();
      } else {
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
      }
    }
    return words;
  };
  auto a = split(e.left), b = split(e.right);
  std::size_t common = 0;
  for (const auto& w : a) common += b.count(w);
  const std::size_t unite = a.size() + b.size() - common;
  return unite > 0 ? static_cast<double>(common) / static_cast<double>(unite) : 0.0;
}

nlohmann::json scored(const std::vector<float>& scores, const std::vector<int>& labels, double threshold) {
  std::size_t tp = 0, fp = 0, fn = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    const bool predicted = scores[i] >= threshold;
    tp += predicted && labels[i] == 1;
    fp += predicted && labels[i] != 1;
    fn += !predicted && labels[i] == 1;
  }
  std::vector<double> s(scores.begin(), scores.end());
  std::unique_ptr<bool[]> correct(new bool[labels.size()]);
  std::size_t positives = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    correct[i] = labels[i] == 1;
    positives += labels[i] == 1;
  }
  return {{"f1", models::f1_at(scores, labels, threshold)},
          {"precision", tp + fp > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0.0},
          {"recall", tp + fn > 0 ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0.0},
          {"pr_auc", average_precision(s, std::span<const bool>(correct.get(), labels.size()), positives)},
          {"threshold", threshold},
          {"oracle_f1", models::best_f1_threshold(scores, labels).first}};
}

}  // namespace

Result<nlohmann::json> evaluate_match(const Context& context, const MatchEvalOptions& options) {
  const auto start = Clock::now();
  AISLE_ASSIGN_OR_RETURN(auto train, read_examples(options.train));
  AISLE_ASSIGN_OR_RETURN(auto dev, read_examples(options.dev));
  AISLE_ASSIGN_OR_RETURN(auto test, read_examples(options.test));
  std::vector<int> dev_labels, test_labels;
  for (const auto& e : dev) dev_labels.push_back(e.label);
  for (const auto& e : test) test_labels.push_back(e.label);

  AISLE_ASSIGN_OR_RETURN(auto matcher, models::RecordMatcher::create(options.config, context));
  AISLE_ASSIGN_OR_RETURN(models::MatcherTrainReport trained, matcher->train(train, dev, options.training, context));
  const auto eval_start = Clock::now();
  AISLE_ASSIGN_OR_RETURN(std::vector<float> probabilities, matcher->predict(test));
  nlohmann::json metrics = scored(probabilities, test_labels, matcher->threshold());
  metrics["train_seconds"] = trained.seconds;
  metrics["best_epoch"] = trained.best_epoch;
  metrics["validation_f1"] = trained.validation_f1;
  metrics["validation_pr_auc"] = trained.validation_ap;

  std::vector<float> dev_jaccard, test_jaccard;
  for (const auto& e : dev) dev_jaccard.push_back(static_cast<float>(title_jaccard(e)));
  for (const auto& e : test) test_jaccard.push_back(static_cast<float>(title_jaccard(e)));
  const double jaccard_threshold = models::best_f1_threshold(dev_jaccard, dev_labels).second;

  nlohmann::json report;
  report["task"] = "match";
  report["dataset"] = options.train.parent_path().filename().string();
  report["metrics"] = metrics;
  report["baselines"] = {{"jaccard", scored(test_jaccard, test_labels, jaccard_threshold)}};
  report["train_seconds"] = trained.seconds;
  report["eval_seconds"] = std::chrono::duration<double>(Clock::now() - eval_start).count();
  std::size_t train_positives = 0, test_positives = 0;
  for (const auto& e : train) train_positives += e.label == 1;
  for (int l : test_labels) test_positives += l == 1;
  report["config"] = {{"train", options.train.string()},
                      {"dev", options.dev.string()},
                      {"test", options.test.string()},
                      {"train_pairs", train.size()},
                      {"train_matches", train_positives},
                      {"dev_pairs", dev.size()},
                      {"test_pairs", test.size()},
                      {"test_matches", test_positives},
                      {"attributes", trained.attributes},
                      {"matcher", models::matcher_config_to_json(options.config)},
                      {"epochs", options.training.epochs},
                      {"batch_size", options.training.batch_size},
                      {"learning_rate", options.training.learning_rate},
                      {"threads", context.num_threads()},
                      {"seed", context.seed()},
                      {"total_seconds", std::chrono::duration<double>(Clock::now() - start).count()}};
  return report;
}

}  // namespace aisle::eval
