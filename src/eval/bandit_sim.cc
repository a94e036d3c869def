#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "aisle/eval/bandit.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/memory.h"
#include "aisle/retrieve/policy.h"
#include "judgment_corpus.h"

namespace aisle::eval {
namespace {

using retrieve::kNumStrategies;
using retrieve::PolicyAction;
using Clock = std::chrono::steady_clock;

// What the engine knows about one test query, computed once.
struct SimQuery {
  std::string text;
  std::string key;  // memory key
  retrieve::QuerySignals signals;  // without frequency, time and result counts
  std::array<std::vector<std::uint32_t>, kNumStrategies> lists;  // static strategies, best first
  std::unordered_map<std::uint32_t, float> ranker_score;          // every pooled candidate
  std::unordered_map<std::uint32_t, double> gain;                 // judged products: grade scaled to 0..1
  std::unordered_set<std::uint32_t> relevant;
};

// One simulated run (a policy or a fixed action) and its curves.
struct Run {
  std::string name;
  double reward = 0, expected = 0, regret = 0;
  double candidates = 0, recall_sum = 0;
  std::int64_t recall_queries = 0;
  std::vector<double> expected_curve, regret_curve;  // cumulative, sampled every `step` searches
  std::map<std::string, std::int64_t> actions;       // policies: how often each action was chosen
};

// The candidates of `action` for query q: union of the truncated lists and the memory lookup.
void candidates_of(const SimQuery& q, const PolicyAction& action, const retrieve::MemoryIndex& memory, std::int64_t now,
                   std::vector<std::uint32_t>* out, std::array<int, kNumStrategies>* counts,
                   std::unordered_map<std::uint32_t, std::uint32_t>* found_by) {
  out->clear();
  found_by->clear();
  counts->fill(-1);
  auto take = [&](int s, std::uint32_t product) {
    auto [it, inserted] = found_by->try_emplace(product, 0u);
    it->second |= 1u << s;
    if (inserted) out->push_back(product);
  };
  for (int s = 0; s < kNumStrategies; ++s) {
    if (!action.uses(s)) continue;
    const int depth = action.depth[static_cast<std::size_t>(s)];
    if (s == retrieve::kMemoryStrategy) {
      const auto hits = memory.lookup(q.key, depth, now);
      for (const retrieve::MemoryHit& hit : hits) {
        if (q.ranker_score.contains(hit.product.value())) take(s, hit.product.value());
      }
      (*counts)[static_cast<std::size_t>(s)] = static_cast<int>(hits.size());
      continue;
    }
    const auto& list = q.lists[static_cast<std::size_t>(s)];
    const std::size_t n = std::min(list.size(), static_cast<std::size_t>(depth));
    for (std::size_t i = 0; i < n; ++i) take(s, list[i]);
    (*counts)[static_cast<std::size_t>(s)] = static_cast<int>(n);
  }
}

// The top `shown` of `candidates` by ranker score (ties by product id).
void shown_list(const SimQuery& q, std::vector<std::uint32_t>* candidates, int shown) {
  auto better = [&](std::uint32_t a, std::uint32_t b) {
    const float x = q.ranker_score.at(a), y = q.ranker_score.at(b);
    return x != y ? x > y : a < b;
  };
  const auto k = std::min(candidates->size(), static_cast<std::size_t>(shown));
  std::partial_sort(candidates->begin(), candidates->begin() + static_cast<long>(k), candidates->end(), better);
  candidates->resize(k);
}

double expected_clicks(const SimQuery& q, const std::vector<std::uint32_t>& shown) {
  double sum = 0;
  for (std::size_t k = 0; k < shown.size(); ++k) {
    auto g = q.gain.find(shown[k]);
    if (g != q.gain.end()) sum += g->second / static_cast<double>(k + 1);
  }
  return sum;
}

std::vector<PolicyAction> all_actions(const std::vector<int>& depths, int budget, const std::array<bool, kNumStrategies>& available) {
  std::vector<PolicyAction> out;
  std::vector<int> strategies;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (available[static_cast<std::size_t>(s)]) strategies.push_back(s);
  }
  std::vector<std::size_t> choice(strategies.size(), 0);
  while (true) {
    PolicyAction a;
    for (std::size_t i = 0; i < strategies.size(); ++i) {
      if (choice[i] > 0) a.depth[static_cast<std::size_t>(strategies[i])] = depths[choice[i] - 1];
    }
    if (a.candidates() > 0 && a.candidates() <= budget) out.push_back(a);
    std::size_t i = 0;
    while (i < choice.size() && ++choice[i] > depths.size()) choice[i++] = 0;
    if (i == choice.size()) break;
  }
  return out;
}

std::string curves_svg(const std::vector<const Run*>& runs, int step, int searches) {
  const int width = 900, height = 420, left = 70, right = 220, top = 20, bottom = 50;
  const double plot_w = width - left - right, plot_h = (height - top - bottom) / 2.0 - 20;
  const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"};
  std::string svg = fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"12\">\n",
                                width, height);
  auto panel = [&](double y0, const std::string& title, auto curve_of) {
    double high = 1e-9;
    for (const Run* r : runs) {
      for (double v : curve_of(*r)) high = std::max(high, v);
    }
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", left, y0 - 4, title);
    svg += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" stroke=\"black\"/>\n", left, y0, plot_w, plot_h);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.0f}</text>\n", left - 4, y0 + 10, high);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">0</text>\n", left - 4, y0 + plot_h);
    for (std::size_t i = 0; i < runs.size(); ++i) {
      const std::vector<double>& c = curve_of(*runs[i]);
      if (c.empty()) continue;
      std::string points;
      for (std::size_t j = 0; j < c.size(); ++j) {
        const double x = left + plot_w * static_cast<double>((j + 1) * static_cast<std::size_t>(step)) / searches;
        const double y = y0 + plot_h * (1 - c[j] / high);
        points += fmt::format("{:.1f},{:.1f} ", x, y);
      }
      svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n", colours[i % 7], points);
    }
  };
  panel(top + 14, "cumulative expected clicks", [](const Run& r) -> const std::vector<double>& { return r.expected_curve; });
  panel(top + plot_h + 54, "cumulative regret (vs the best action per search)",
        [](const Run& r) -> const std::vector<double>& { return r.regret_curve; });
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const double y = top + 20 + 18.0 * static_cast<double>(i);
    svg += fmt::format("<rect x=\"{}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", width - right + 12, y, colours[i % 7]);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", width - right + 30, y + 10, runs[i]->name);
  }
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">searches (0 .. {})</text>\n", left + plot_w / 2, height - 10, searches);
  svg += "</svg>\n";
  return svg;
}

}  // namespace

Result<nlohmann::json> evaluate_bandit_sim(const Context& context, const BanditSimOptions& options, std::string* svg) {
  if (options.searches < 1 || options.shown < 1 || options.budget < 1) return Status::bad_input("searches, shown and budget must be >= 1");
  const auto start = Clock::now();
  // The ranker is the simulation's instrument (it orders every arm's pooled candidates), used
  // whether or not it passed its own gate.
  AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(options.data_dir, context, true, /*enforce_gates=*/false));
  if (pipeline->ranker() == nullptr) {
    return Status::not_found(options.data_dir.string() + ": the simulation needs a ranker (run `aisle train ranker`)");
  }
  // The test queries and their judged products, as store ids.
  Corpus corpus;
  std::map<std::string, TestQuery> judged;
  AISLE_RETURN_IF_ERROR(read_judgments(options.test, options.locale, &corpus, &judged, false));
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const auto& [text, query] : judged) {
    for (const auto& [product, grade] : query.grades) low = std::min(low, grade), high = std::max(high, grade);
  }
  const double span = high > low ? high - low : 1.0;
  const double relevant_min_grade = std::isnan(options.relevant_min_grade) ? low + 0.75 * (high - low) : options.relevant_min_grade;
  const int max_depth = *std::max_element(options.depths.begin(), options.depths.end());
  std::array<bool, kNumStrategies> available{};
  available[retrieve::kLexicalStrategy] = available[retrieve::kStructuredStrategy] = true;
  available[retrieve::kVectorStrategy] = pipeline->has_vectors();
  available[retrieve::kMemoryStrategy] = true;

  std::vector<SimQuery> queries;
  std::int64_t missing_products = 0;
  for (const auto& [text, query] : judged) {
    SimQuery q;
    q.text = text;
    for (const auto& [number, grade] : query.grades) {
      if (corpus.documents[number].locale != options.locale) continue;  // another locale's query
      AISLE_ASSIGN_OR_RETURN(auto product, pipeline->store().find_product(options.locale, corpus.documents[number].external_id));
      if (!product) {
        ++missing_products;
        continue;
      }
      q.gain[product->id.value()] = (grade - low) / span;
      if (grade >= relevant_min_grade) q.relevant.insert(product->id.value());
    }
    if (q.gain.empty()) continue;
    // The static strategies at the largest depth, and ranker scores for the pool.
    for (const char* strategy : {"lexical", "structured", "vector"}) {
      const int s = *retrieve::strategy_from_name(strategy);
      if (!available[static_cast<std::size_t>(s)]) continue;
      rank::PipelineOptions po;
      po.locale = options.locale;
      po.strategy = strategy;
      po.depth = max_depth;
      po.k = max_depth;
      AISLE_ASSIGN_OR_RETURN(rank::CandidateSet set, pipeline->retrieve(text, po));
      AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, pipeline->ranker()->score(set.features));
      std::vector<std::pair<int, std::uint32_t>> order;  // the strategy's own rank
      for (std::size_t i = 0; i < set.result.hits.size(); ++i) {
        const rank::PipelineHit& hit = set.result.hits[i];
        const int own = s == retrieve::kLexicalStrategy ? hit.provenance.lexical_rank
                        : s == retrieve::kStructuredStrategy ? hit.provenance.structured_rank
                                                             : hit.provenance.vector_rank;
        if (own > 0) order.emplace_back(own, hit.product.value());
        q.ranker_score.try_emplace(hit.product.value(), scores[i]);
      }
      std::sort(order.begin(), order.end());
      for (const auto& [rank, product] : order) {
        if (static_cast<int>(q.lists[static_cast<std::size_t>(s)].size()) < max_depth) q.lists[static_cast<std::size_t>(s)].push_back(product);
      }
      if (s == retrieve::kLexicalStrategy) {
        const retrieve::QueryAnalysis& analysis = set.result.analysis;
        q.key = retrieve::memory_key(options.locale, analysis.terms);
        q.signals = retrieve::query_signals(analysis, options.locale);
      }
    }
    if (q.key.empty()) q.key = options.locale + "|" + text;
    queries.push_back(std::move(q));
  }
  if (queries.empty()) return Status::bad_input(options.test.string() + ": no queries");
  const double prepare_seconds = std::chrono::duration<double>(Clock::now() - start).count();

  // The query sequence and the shoppers' randomness are the same for every run.
  std::vector<std::size_t> sequence(static_cast<std::size_t>(options.searches));
  {
    std::mt19937_64 rng(context.seed());
    std::uniform_int_distribution<std::size_t> pick(0, queries.size() - 1);
    for (std::size_t& i : sequence) i = pick(rng);
  }
  const std::vector<PolicyAction> feasible = all_actions(options.depths, options.budget, available);
  const int step = std::max(1, options.searches / 200);
  const std::int64_t t0 = 1767225600000;  // simulated clock: a search every 30 s

  // One run: `policy` chooses (with `fixed` null), or the fixed action. With `regret`, the best
  // feasible action is found for every search (the expensive part).
  auto simulate = [&](const std::string& name, retrieve::Policy* policy, const PolicyAction* fixed, bool regret) -> Run {
    Run run;
    run.name = name;
    retrieve::MemoryIndex memory;
    std::mt19937_64 clicks_rng(context.seed() + 17);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::unordered_map<std::size_t, std::array<int, kNumStrategies>> last_counts;
    std::vector<std::uint32_t> candidates, shown, scratch;
    std::array<int, kNumStrategies> counts{};
    std::unordered_map<std::uint32_t, std::uint32_t> found_by, scratch_found;
    for (int n = 0; n < options.searches; ++n) {
      const std::size_t qi = sequence[static_cast<std::size_t>(n)];
      const SimQuery& q = queries[qi];
      const std::int64_t now = t0 + static_cast<std::int64_t>(n) * 30000;
      retrieve::QuerySignals signals = q.signals;
      signals.frequency = memory.frequency(q.key);
      signals.time_ms = now;
      if (auto it = last_counts.find(qi); it != last_counts.end()) signals.result_counts = it->second;
      const PolicyAction action = fixed ? *fixed : policy->choose(signals, available);
      candidates_of(q, action, memory, now, &candidates, &counts, &found_by);
      last_counts[qi] = counts;
      run.candidates += static_cast<double>(candidates.size());
      if (!q.relevant.empty()) {
        std::size_t hit = 0;
        for (std::uint32_t p : candidates) hit += q.relevant.contains(p);
        run.recall_sum += static_cast<double>(hit) / static_cast<double>(q.relevant.size());
        ++run.recall_queries;
      }
      shown = candidates;
      shown_list(q, &shown, options.shown);
      const double expected = expected_clicks(q, shown);
      run.expected += expected;
      if (regret) {
        double best = expected;
        for (const PolicyAction& a : feasible) {
          candidates_of(q, a, memory, now, &scratch, &counts, &scratch_found);
          shown_list(q, &scratch, options.shown);
          best = std::max(best, expected_clicks(q, scratch));
        }
        run.regret += best - expected;
      }
      // The shopper: position-based clicks.
      std::vector<std::uint32_t> clicked_by;
      std::vector<double> weights;
      memory.add(q.key, ProductId(shown.empty() ? 0 : shown[0]), io::EventType::kImpression, 1, now);
      for (std::size_t k = 0; k < shown.size(); ++k) {
        auto g = q.gain.find(shown[k]);
        const double p = g == q.gain.end() ? 0.0 : g->second / static_cast<double>(k + 1);
        if (unit(clicks_rng) < p) {
          run.reward += 1;
          clicked_by.push_back(found_by[shown[k]]);
          weights.push_back(1.0);
          memory.add(q.key, ProductId(shown[k]), io::EventType::kClick, static_cast<int>(k + 1), now);
        }
      }
      if (policy) {
        policy->update(signals, action, retrieve::share_credit(action, clicked_by, weights));
        ++run.actions[action.describe()];
      }
      if ((n + 1) % step == 0) {
        run.expected_curve.push_back(run.expected);
        if (regret) run.regret_curve.push_back(run.regret);
      }
    }
    return run;
  };

  // Policies.
  std::vector<Run> policies;
  for (const std::string& algorithm : options.policies) {
    retrieve::PolicyConfig config;
    config.algorithm = algorithm;
    config.depths = options.depths;
    config.budget = options.budget;
    AISLE_ASSIGN_OR_RETURN(auto policy, retrieve::Policy::create(config, context.seed()));
    policies.push_back(simulate(algorithm, policy.get(), nullptr, true));
  }
  // Fixed subsets of the same budget, and every strategy at the largest depth.
  std::vector<Run> fixed;
  std::vector<int> strategies;
  for (int s = 0; s < kNumStrategies; ++s) {
    if (available[static_cast<std::size_t>(s)]) strategies.push_back(s);
  }
  for (std::uint32_t subset = 1; subset < (1u << strategies.size()); ++subset) {
    PolicyAction action;
    const int size = std::popcount(subset);
    for (std::size_t i = 0; i < strategies.size(); ++i) {
      if (subset & (1u << i)) action.depth[static_cast<std::size_t>(strategies[i])] = std::min(max_depth, options.budget / size);
    }
    fixed.push_back(simulate(action.describe(), nullptr, &action, false));
  }
  PolicyAction everything;
  for (int s : strategies) everything.depth[static_cast<std::size_t>(s)] = max_depth;
  const Run all = simulate("all:" + everything.describe(), nullptr, &everything, false);
  const Run* best_fixed = &fixed.front();
  for (const Run& r : fixed) {
    if (r.expected > best_fixed->expected) best_fixed = &r;
  }

  const double searches = options.searches;
  auto summary = [&](const Run& r) {
    nlohmann::json j = {{"clicks", r.reward},
                        {"expected_clicks", r.expected},
                        {"clicks_per_search", r.reward / searches},
                        {"candidates_per_search", r.candidates / searches},
                        {"recall", r.recall_queries ? r.recall_sum / static_cast<double>(r.recall_queries) : 0.0}};
    if (!r.regret_curve.empty()) {
      j["regret"] = r.regret;
      // Regret per search in each quarter of the run: falling means sublinear growth.
      const std::size_t n = r.regret_curve.size(), q = n / 4;
      std::vector<double> quarters;
      double previous = 0;
      for (int i = 1; i <= 4 && q > 0; ++i) {
        const double at = r.regret_curve[std::min(n - 1, static_cast<std::size_t>(i) * q - 1)];
        quarters.push_back((at - previous) / (static_cast<double>(q * static_cast<std::size_t>(step))));
        previous = at;
      }
      j["regret_per_search_by_quarter"] = quarters;
      std::vector<std::pair<std::int64_t, std::string>> top;
      for (const auto& [action, count] : r.actions) top.emplace_back(-count, action);
      std::sort(top.begin(), top.end());
      nlohmann::json actions = nlohmann::json::object();
      for (std::size_t i = 0; i < std::min<std::size_t>(5, top.size()); ++i) actions[top[i].second] = -top[i].first;
      j["top_actions"] = actions;
    }
    return j;
  };
  nlohmann::json metrics, baselines;
  const Run* best_policy = &policies.front();
  for (const Run& r : policies) {
    metrics[r.name] = summary(r);
    if (r.expected > best_policy->expected) best_policy = &r;
  }
  for (const Run& r : fixed) baselines[r.name] = summary(r);
  baselines["all"] = summary(all);
  const double all_recall = all.recall_queries ? all.recall_sum / static_cast<double>(all.recall_queries) : 0.0;
  const double policy_recall = best_policy->recall_queries ? best_policy->recall_sum / static_cast<double>(best_policy->recall_queries) : 0.0;
  nlohmann::json targets = {
      {"best_policy", best_policy->name},
      {"best_fixed", best_fixed->name},
      {"reward_vs_best_fixed", best_fixed->expected > 0 ? best_policy->expected / best_fixed->expected : 0.0},
      {"candidates_vs_all", all.candidates > 0 ? best_policy->candidates / all.candidates : 0.0},
      {"recall_vs_all", all_recall > 0 ? policy_recall / all_recall : 0.0}};
  if (svg != nullptr) {
    std::vector<const Run*> plotted;
    for (const Run& r : policies) plotted.push_back(&r);
    plotted.push_back(best_fixed);
    plotted.push_back(&all);
    *svg = curves_svg(plotted, step, options.searches);
  }
  std::vector<std::string> names;
  for (int s : strategies) names.emplace_back(retrieve::strategy_name(s));
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  return nlohmann::json{{"task", "bandit-sim"},
                        {"dataset", options.test.filename().string()},
                        {"metrics", metrics},
                        {"targets", targets},
                        {"baselines", baselines},
                        {"train_seconds", 0.0},
                        {"eval_seconds", total},
                        {"config",
                         {{"data_dir", options.data_dir.string()},
                          {"test", options.test.string()},
                          {"queries", queries.size()},
                          {"judged_products_not_in_store", missing_products},
                          {"searches", options.searches},
                          {"strategies", names},
                          {"depths", options.depths},
                          {"budget", options.budget},
                          {"shown", options.shown},
                          {"relevant_min_grade", relevant_min_grade},
                          {"click_model", "position-based: theta_k = 1/k, gamma = grade scaled to 0..1"},
                          {"prepare_seconds", prepare_seconds},
                          {"seed", context.seed()}}}};
}

}  // namespace aisle::eval
