#include "aisle/eval/related.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <unordered_set>

#include "aisle/graph/graph.h"
#include "split.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;
using graph::NodeId;

constexpr int kCutoffs[3] = {5, 10, 20};
const std::vector<std::string> kBuckets = {"0", "1", "2-3", "4-7", "8-15", "16-31", "32+"};

std::size_t bucket_of(std::uint32_t in_degree) {
  if (in_degree == 0) return 0;
  std::size_t bucket = 1;
  for (std::uint32_t d = in_degree; d > 1 && bucket < kBuckets.size() - 1; d >>= 1) ++bucket;
  return bucket;
}

std::uint64_t pair_key(NodeId u, NodeId v) { return (static_cast<std::uint64_t>(u) << 32) | v; }

// Scores of every node as a target of `u`.
struct Scorer {
  virtual ~Scorer() = default;
  virtual void scores(NodeId u, std::vector<float>* out) const = 0;
  virtual float score(NodeId u, NodeId v) const = 0;
};

struct PopularityScorer : Scorer {
  std::vector<float> in_degree;
  void scores(NodeId, std::vector<float>* out) const override { *out = in_degree; }
  float score(NodeId, NodeId v) const override { return in_degree[v]; }
};

struct BladeScorer : Scorer {
  const models::Blade* model = nullptr;
  void scores(NodeId u, std::vector<float>* out) const override {
    const std::size_t n = model->num_nodes(), d = static_cast<std::size_t>(model->config().dim);
    const float* s = model->sources().data() + u * d;
    const float* t = model->targets().data();
    out->resize(n);
    for (std::size_t w = 0; w < n; ++w) {
      float dot = 0;
      for (std::size_t k = 0; k < d; ++k) dot += s[k] * t[w * d + k];
      (*out)[w] = dot;
    }
  }
  float score(NodeId u, NodeId v) const override { return model->score(u, v); }
};

struct Accumulated {
  double hr[3] = {0, 0, 0}, mrr[3] = {0, 0, 0};
  double edges = 0;
  void add(const Accumulated& other) {
    for (int i = 0; i < 3; ++i) hr[i] += other.hr[i], mrr[i] += other.mrr[i];
    edges += other.edges;
  }
  nlohmann::json to_json() const {
    nlohmann::json out;
    for (int i = 0; i < 3; ++i) {
      out[fmt::format("hr@{}", kCutoffs[i])] = edges ? hr[i] / edges : 0.0;
      out[fmt::format("mrr@{}", kCutoffs[i])] = edges ? mrr[i] / edges : 0.0;
    }
    out["edges"] = static_cast<std::int64_t>(edges);
    return out;
  }
};

struct Split {
  std::size_t nodes = 0;
  std::vector<graph::Edge> train;
  std::vector<std::pair<NodeId, NodeId>> test;
  std::unordered_set<std::uint64_t> all_pairs;
  std::vector<std::string> names;
};

Status read_split(const Context& context, const RelatedEvalOptions& options, Split* split) {
  graph::EdgeList list;
  auto add_file = [&](const std::filesystem::path& path, int which) -> Status {
    if (!std::filesystem::exists(path)) {
      return Status::not_found("evaluation data missing: " + path.string() +
                               " (the evaluation sets live under ../shared/data; see its README)");
    }
    AISLE_ASSIGN_OR_RETURN(graph::EdgeList file, graph::read_edge_csv(path));
    for (const graph::Edge& e : file.edges) {
      const NodeId u = list.intern(file.names[e.source]), v = list.intern(file.names[e.target]);
      bool test = which == 1;
      if (which == 2) test = held_out(file.names[e.source] + '\t' + file.names[e.target], context.seed(), options.test_fraction);
      if (!split->all_pairs.insert(pair_key(u, v)).second) continue;  // a repeated edge counts once
      if (test) split->test.emplace_back(u, v);
      else split->train.push_back({u, v, e.weight});
    }
    return Status::ok();
  };
  if (!options.edges.empty()) {
    if (!options.train.empty() || !options.test.empty()) return Status::bad_input("give --edges or --train and --test, not both");
    AISLE_RETURN_IF_ERROR(add_file(options.edges, 2));
  } else {
    if (options.train.empty() || options.test.empty()) return Status::bad_input("give --edges, or --train and --test");
    AISLE_RETURN_IF_ERROR(add_file(options.train, 0));
    AISLE_RETURN_IF_ERROR(add_file(options.test, 1));
  }
  // A test edge also listed in train is not held out.
  std::unordered_set<std::uint64_t> train_pairs;
  for (const graph::Edge& e : split->train) train_pairs.insert(pair_key(e.source, e.target));
  std::erase_if(split->test, [&](const auto& e) { return train_pairs.count(pair_key(e.first, e.second)) > 0; });
  split->nodes = list.names.size();
  split->names = std::move(list.names);
  if (split->train.empty() || split->test.empty()) return Status::bad_input("the split leaves no train or no test edges");
  return Status::ok();
}

struct MethodResult {
  Accumulated overall;
  std::vector<Accumulated> buckets = std::vector<Accumulated>(kBuckets.size());
  double direction_right = 0, direction_edges = 0;
  double train_seconds = 0;
};

MethodResult evaluate(const Context& context, const Scorer& scorer, const Split& split, const graph::DirectedGraph& train) {
  // Test edges grouped by source.
  std::map<NodeId, std::vector<NodeId>> by_source;
  for (const auto& [u, v] : split.test) by_source[u].push_back(v);
  std::vector<std::pair<NodeId, const std::vector<NodeId>*>> sources;
  for (const auto& [u, targets] : by_source) sources.emplace_back(u, &targets);
  const unsigned threads = static_cast<unsigned>(std::max(1, context.num_threads()));
  std::vector<MethodResult> partial(threads);
  auto work = [&](unsigned t) {
    std::vector<float> scores;
    std::vector<char> skip(split.nodes, 0);
    MethodResult& out = partial[t];
    for (std::size_t i = t; i < sources.size(); i += threads) {
      const auto [u, targets] = sources[i];
      scorer.scores(u, &scores);
      skip[u] = 1;
      for (NodeId w : train.out(u)) skip[w] = 1;
      for (NodeId w : *targets) skip[w] = 1;
      const std::size_t bucket = bucket_of(train.in_degree(u));
      for (NodeId v : *targets) {
        const float own = scores[v];
        double greater = 0, equal = 0;
        for (std::size_t w = 0; w < split.nodes; ++w) {
          if (skip[w]) continue;
          greater += scores[w] > own ? 1 : 0;
          equal += scores[w] == own ? 1 : 0;
        }
        Accumulated one;
        one.edges = 1;
        for (int k = 0; k < 3; ++k) {
          const double cutoff = kCutoffs[k];
          one.hr[k] = std::clamp((cutoff - greater) / (equal + 1), 0.0, 1.0);
          double reciprocal = 0;
          for (double r = greater + 1; r <= std::min(greater + equal + 1, cutoff); ++r) reciprocal += 1.0 / r;
          one.mrr[k] = reciprocal / (equal + 1);
        }
        out.overall.add(one);
        out.buckets[bucket].add(one);
      }
      skip[u] = 0;
      for (NodeId w : train.out(u)) skip[w] = 0;
      for (NodeId w : *targets) skip[w] = 0;
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (auto& thread : pool) thread.join();
  MethodResult result;
  for (const MethodResult& p : partial) {
    result.overall.add(p.overall);
    for (std::size_t b = 0; b < kBuckets.size(); ++b) result.buckets[b].add(p.buckets[b]);
  }
  for (const auto& [u, v] : split.test) {
    if (split.all_pairs.count(pair_key(v, u))) continue;
    const float forward = scorer.score(u, v), backward = scorer.score(v, u);
    result.direction_right += forward > backward ? 1.0 : forward == backward ? 0.5 : 0.0;
    result.direction_edges += 1;
  }
  return result;
}

nlohmann::json method_json(const MethodResult& r) {
  nlohmann::json out = r.overall.to_json();
  out.erase("edges");
  out["direction_accuracy"] = r.direction_edges ? r.direction_right / r.direction_edges : 0.0;
  out["train_seconds"] = r.train_seconds;
  return out;
}

Result<models::BladeConfig> config_for(const std::string& method, const models::BladeConfig& blade) {
  models::BladeConfig config = blade;
  if (method == "blade") return config;
  if (method == "blade_fixed_size") {
    config.adaptive = false;
    return config;
  }
  if (method == "blade_uniform") {
    config.beta = 0;
    return config;
  }
  if (method == "daemon") {
    config.adaptive = false;
    config.beta = 0;
    return config;
  }
  if (method == "graphsage") {
    config.dual = false;
    config.adaptive = false;
    config.beta = 0;
    return config;
  }
  return Status::bad_input("unknown method " + method + " (popularity, graphsage, daemon, blade, blade_fixed_size, blade_uniform)");
}

std::string bucket_svg(const std::vector<std::string>& methods, const std::map<std::string, MethodResult>& results) {
  const int width = 760, height = 360, left = 60, right = 150, top = 30, bottom = 50;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  double top_value = 0.05;
  for (const auto& [name, r] : results) {
    for (const Accumulated& b : r.buckets) top_value = std::max(top_value, b.edges ? b.hr[1] / b.edges : 0.0);
  }
  top_value = std::ceil(top_value * 10) / 10;
  const char* colours[] = {"#999999", "#e69f00", "#56b4e9", "#d55e00", "#009e73", "#cc79a7", "#0072b2"};
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<text x=\"{}\" y=\"18\" text-anchor=\"middle\">HR@10 by in-degree of the query node</text>\n",
      width, height, left + plot_w / 2);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"black\"/>\n", left, top + plot_h, left + plot_w);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"black\"/>\n", left, top, top + plot_h);
  for (int tick = 0; tick <= 5; ++tick) {
    const double value = top_value * tick / 5, y = top + plot_h - plot_h * tick / 5;
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n", left - 6, y + 4, value);
    svg += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ddd\"/>\n", left, y, left + plot_w, y);
  }
  const double group = plot_w / static_cast<double>(kBuckets.size());
  const double bar = group * 0.8 / static_cast<double>(std::max<std::size_t>(methods.size(), 1));
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", left + group * (b + 0.5),
                       top + plot_h + 18, kBuckets[b]);
    for (std::size_t m = 0; m < methods.size(); ++m) {
      const Accumulated& a = results.at(methods[m]).buckets[b];
      const double value = a.edges ? a.hr[1] / a.edges : 0.0;
      const double h = plot_h * value / top_value;
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n",
                         left + group * b + group * 0.1 + bar * m, top + plot_h - h, bar, h, colours[m % 7]);
    }
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">in-degree of the query node (train graph)</text>\n",
                     left + plot_w / 2, height - 12);
  for (std::size_t m = 0; m < methods.size(); ++m) {
    const double y = top + 10 + 18.0 * static_cast<double>(m);
    svg += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", width - right + 12, y, colours[m % 7]);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", width - right + 30, y + 10, methods[m]);
  }
  return svg + "</svg>\n";
}

}  // namespace

const std::vector<std::string>& related_methods() {
  static const std::vector<std::string> methods = {"popularity", "graphsage", "daemon", "blade", "blade_fixed_size", "blade_uniform"};
  return methods;
}

Result<nlohmann::json> evaluate_related(const Context& context, const RelatedEvalOptions& options, std::string* svg) {
  const auto start = Clock::now();
  if (!(options.test_fraction > 0 && options.test_fraction < 1)) return Status::bad_input("test_fraction must be in (0, 1)");
  const std::vector<std::string>& methods = options.methods.empty() ? related_methods() : options.methods;
  for (const std::string& method : methods) {
    if (method == "popularity") continue;
    auto checked = config_for(method, options.blade);
    if (!checked.is_ok()) return checked.status();
  }
  Split split;
  AISLE_RETURN_IF_ERROR(read_split(context, options, &split));
  AISLE_ASSIGN_OR_RETURN(graph::DirectedGraph train, graph::DirectedGraph::from_edges(split.nodes, split.train));
  const graph::DegreeStats stats = graph::degree_stats(train);

  std::map<std::string, MethodResult> results;
  nlohmann::json training = nlohmann::json::object();
  for (const std::string& method : methods) {
    if (method == "popularity") {
      PopularityScorer scorer;
      for (std::uint32_t d : train.in_degrees()) scorer.in_degree.push_back(static_cast<float>(d));
      results[method] = evaluate(context, scorer, split, train);
      continue;
    }
    AISLE_ASSIGN_OR_RETURN(models::BladeConfig config, config_for(method, options.blade));
    AISLE_ASSIGN_OR_RETURN(auto model, models::Blade::create(config, context));
    AISLE_ASSIGN_OR_RETURN(models::BladeTrainReport report, model->train(train, {}, {}, options.training, context));
    BladeScorer scorer;
    scorer.model = model.get();
    MethodResult result = evaluate(context, scorer, split, train);
    result.train_seconds = report.seconds;
    results[method] = result;
    training[method] = {{"seconds", report.seconds},
                        {"final_loss", report.final_loss},
                        {"mean_neighbourhood", report.mean_neighbourhood},
                        {"config", models::blade_config_to_json(config)}};
  }

  nlohmann::json report;
  report["task"] = "related";
  report["dataset"] = (options.edges.empty() ? options.train : options.edges).parent_path().filename().string() + "/" +
                      (options.edges.empty() ? options.train : options.edges).filename().string();
  const std::string main = results.count("blade") ? "blade" : methods.front();
  report["metrics"] = method_json(results.at(main));
  report["metrics"]["method"] = main;
  report["baselines"] = nlohmann::json::object();
  for (const std::string& method : methods) {
    if (method != main) report["baselines"][method] = method_json(results.at(method));
  }
  nlohmann::json buckets = nlohmann::json::object();
  for (const std::string& method : methods) {
    for (std::size_t b = 0; b < kBuckets.size(); ++b) buckets[method][kBuckets[b]] = results.at(method).buckets[b].to_json();
  }
  report["by_in_degree"] = buckets;
  report["train_seconds"] = results.at(main).train_seconds;
  report["eval_seconds"] = std::chrono::duration<double>(Clock::now() - start).count();
  std::size_t one_way = 0;
  for (const auto& [u, v] : split.test) one_way += split.all_pairs.count(pair_key(v, u)) ? 0 : 1;
  report["config"] = {{"split", options.edges.empty() ? "train and test files" : fmt::format("seeded hash, {} of edges to test", options.test_fraction)},
                      {"ranking", "all nodes, filtered (the query's other known targets left out), ties in expectation"},
                      {"nodes", split.nodes},
                      {"train_edges", train.num_edges()},
                      {"test_edges", split.test.size()},
                      {"one_way_test_edges", one_way},
                      {"train_graph",
                       {{"reciprocal_edges", stats.reciprocal_edges},
                        {"max_in_degree", stats.max_in},
                        {"nodes_without_in_edges", stats.no_in_edges},
                        {"in_degree_alpha", stats.in_degree_law.alpha},
                        {"in_degree_d_min", stats.in_degree_law.d_min}}},
                      {"epochs", options.training.epochs},
                      {"batch_size", options.training.batch_size},
                      {"negatives", options.training.negatives},
                      {"learning_rate", options.training.learning_rate},
                      {"logq_correction", options.training.logq_correction},
                      {"methods", training},
                      {"seed", context.seed()},
                      {"threads", context.num_threads()}};
  if (svg != nullptr) *svg = bucket_svg(methods, results);
  return report;
}

}  // namespace aisle::eval
