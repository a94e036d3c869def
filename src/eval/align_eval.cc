#include "aisle/eval/align.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "aisle/eval/metrics.h"
#include "aisle/graph/knowledge_graph.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

const std::vector<std::string>& align_methods() {
  static const std::vector<std::string> methods = {"full", "no_cross_attention", "no_self_attention", "uniform_sampling",
                                                   "no_names"};
  return methods;
}

Result<nlohmann::json> evaluate_align(const Context& context, const AlignEvalOptions& options) {
  const auto start = Clock::now();
  const std::filesystem::path left_dir = options.left.empty() ? options.train.parent_path() : options.left;
  const std::filesystem::path right_dir = options.right.empty() ? options.train.parent_path() : options.right;
  AISLE_ASSIGN_OR_RETURN(graph::KnowledgeGraph left, graph::read_kg_folder(left_dir, 1, options.names));
  AISLE_ASSIGN_OR_RETURN(graph::KnowledgeGraph right, graph::read_kg_folder(right_dir, 2, options.names));
  AISLE_ASSIGN_OR_RETURN(graph::EntityLinks train, graph::read_entity_links(options.train, left, right));
  AISLE_ASSIGN_OR_RETURN(graph::EntityLinks test, graph::read_entity_links(options.test, left, right));
  if (test.empty()) return Status::bad_input("no test links", Where(options.test.string()));
  const bool has_names = options.names && (left.has_names() || right.has_names());
  std::vector<std::string> methods = options.methods.empty() ? align_methods() : options.methods;
  for (const std::string& method : methods) {
    if (std::find(align_methods().begin(), align_methods().end(), method) == align_methods().end()) {
      return Status::bad_input("unknown method \"" + method + "\"", Where("--methods"));
    }
  }
  if (!has_names) methods.erase(std::remove(methods.begin(), methods.end(), "no_names"), methods.end());

  std::vector<graph::EntityId> queries, candidates;
  for (auto [a, b] : test) {
    queries.push_back(a);
    candidates.push_back(b);
  }
  std::map<std::string, nlohmann::json> results;
  // no_cross_attention scores the full model without the cross-graph re-scoring (cross-graph
  // attention only re-scores; training is the same), so it reuses the full model when both run.
  const bool reuse_full = std::find(methods.begin(), methods.end(), "full") != methods.end();
  std::unique_ptr<models::EntityAligner> full_model;
  models::AlignerTrainReport full_report;
  for (const std::string& method : methods) {
    models::AlignerConfig config = options.config;
    config.use_names = config.use_names && has_names;
    if (method == "no_cross_attention") config.cross_attention = false;
    if (method == "no_self_attention") config.self_attention = false;
    if (method == "uniform_sampling") config.inverse_multiplicity = false;
    if (method == "no_names") config.use_names = false;
    std::unique_ptr<models::EntityAligner> aligner;
    models::AlignerTrainReport trained;
    if (method == "no_cross_attention" && reuse_full && full_model) {
      aligner = std::move(full_model);
      aligner->set_cross_attention(false);
      trained = full_report;
      trained.cross_weight = 0;
    } else {
      AISLE_ASSIGN_OR_RETURN(aligner, models::EntityAligner::create(config, context));
      context.logger().info("align: training {}", method);
      AISLE_ASSIGN_OR_RETURN(trained, aligner->train(left, right, train, options.training, context));
    }
    const auto eval_start = Clock::now();
    nlohmann::json m;
    for (auto one_to_one : {models::OneToOne::kNone, models::OneToOne::kSinkhorn}) {
      std::vector<std::size_t> ranks;
      AISLE_ASSIGN_OR_RETURN(auto top, aligner->rank(queries, candidates, 1, one_to_one, context, candidates, &ranks));
      double h1 = 0, h10 = 0, mrr = 0;
      for (std::size_t r : ranks) {
        h1 += r <= 1 ? 1 : 0;
        h10 += r <= 10 ? 1 : 0;
        mrr += 1.0 / static_cast<double>(r);
      }
      const double n = static_cast<double>(ranks.size());
      if (one_to_one == models::OneToOne::kNone) {
        m["hits@1"] = h1 / n;
        m["hits@10"] = h10 / n;
        m["mrr"] = mrr / n;
        std::vector<double> scores;
        std::vector<bool> correct;
        std::size_t passed = 0, passed_correct = 0;
        for (std::size_t i = 0; i < top.size(); ++i) {
          const bool ok = !top[i].empty() && top[i][0].right == candidates[i];
          scores.push_back(top[i].empty() ? -1e30 : top[i][0].score);
          correct.push_back(ok);
          if (!top[i].empty() && top[i][0].score >= trained.threshold) {
            ++passed;
            passed_correct += ok ? 1 : 0;
          }
        }
        std::unique_ptr<bool[]> flags(new bool[correct.size()]);
        for (std::size_t i = 0; i < correct.size(); ++i) flags[i] = correct[i];
        m["pr_auc"] = average_precision(scores, std::span<const bool>(flags.get(), correct.size()), test.size());
        m["threshold"] = std::isfinite(trained.threshold) ? nlohmann::json(trained.threshold) : nlohmann::json(nullptr);
        m["share_above_threshold"] = static_cast<double>(passed) / n;
        m["precision_above_threshold"] = passed > 0 ? static_cast<double>(passed_correct) / static_cast<double>(passed) : 0.0;
      } else {
        m["sinkhorn_hits@1"] = h1 / n;
        m["sinkhorn_mrr"] = mrr / n;
      }
    }
    m["train_seconds"] = trained.seconds;
    m["eval_seconds"] = seconds_since(eval_start);
    m["epochs"] = trained.epochs;
    m["final_loss"] = trained.final_loss;
    m["bootstrapped_links"] = trained.bootstrapped_links;
    m["validation_hits@1"] = trained.validation_hits1;
    m["name_weight"] = trained.name_weight;
    m["cross_weight"] = trained.cross_weight;
    m["config"] = models::aligner_config_to_json(config);
    context.logger().info("align: {} hits@1 {:.4f} hits@10 {:.4f} mrr {:.4f} sinkhorn hits@1 {:.4f} ({:.0f} s)", method,
                          m["hits@1"].get<double>(), m["hits@10"].get<double>(), m["mrr"].get<double>(),
                          m["sinkhorn_hits@1"].get<double>(), trained.seconds);
    if (method == "no_cross_attention") m["reuses_full_model"] = reuse_full;
    results[method] = std::move(m);
    if (method == "full") {
      full_model = std::move(aligner);
      full_report = trained;
    }
  }
  nlohmann::json report;
  report["task"] = "align";
  report["dataset"] = options.train.parent_path().filename().string() + (has_names ? " (names)" : " (structure only)");
  const std::string main = results.count("full") ? "full" : methods.front();
  report["metrics"] = results[main];
  report["metrics"]["method"] = main;
  report["baselines"] = nlohmann::json::object();
  for (const auto& [method, m] : results) {
    if (method != main) report["baselines"][method] = m;
  }
  report["train_seconds"] = results[main]["train_seconds"];
  report["eval_seconds"] = seconds_since(start);
  report["config"] = {{"left", left_dir.string()},
                      {"right", right_dir.string()},
                      {"train", options.train.string()},
                      {"test", options.test.string()},
                      {"names", has_names},
                      {"left_entities", left.num_entities()},
                      {"right_entities", right.num_entities()},
                      {"left_triples", left.num_triples()},
                      {"right_triples", right.num_triples()},
                      {"train_links", train.size()},
                      {"test_links", test.size()},
                      {"threads", context.num_threads()},
                      {"seed", context.seed()},
                      {"epochs", options.training.epochs},
                      {"bootstrap_rounds", options.training.bootstrap_rounds},
                      {"bootstrap_epochs", options.training.bootstrap_epochs},
                      {"hard_negatives", options.training.hard_negatives},
                      {"protocol", "queries: left entities of the test links; candidates: their right entities"}};
  return report;
}

}  // namespace aisle::eval
