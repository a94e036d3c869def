#include "aisle/rank/esci.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <unordered_map>

#include "aisle/core/check.h"
#include "aisle/core/validation.h"
#include "aisle/retrieve/lexical.h"

namespace aisle::rank {

std::filesystem::path classifier_path(const std::filesystem::path& data_dir) {
  return data_dir / "models" / "classifier.bin";
}

Result<models::RelevanceData> relevance_data_from_store(store::Store& store, RelevanceDataReport* report,
                                                        const RelevanceDataOptions& options,
                                                        std::vector<models::RelevanceExample>* gate_examples) {
  AISLE_CHECK(!options.hold_out_gate || gate_examples != nullptr, "holding out the gate slice needs gate_examples");
  *report = RelevanceDataReport{};
  models::RelevanceData data;
  std::unordered_map<std::uint32_t, std::uint32_t> product_index;  // store id -> index
  std::map<std::string, std::vector<std::uint32_t>> groups;         // group -> indices
  AISLE_RETURN_IF_ERROR(store.for_each_product([&](store::Product&& product) -> Status {
    const auto index = static_cast<std::uint32_t>(data.products.size());
    product_index.emplace(product.id.value(), index);
    if (!product.record.group.empty()) groups[product.record.group].push_back(index);
    data.products.push_back(retrieve::to_document(product));
    return Status::ok();
  }));
  std::unordered_map<std::string, std::uint32_t> queries;
  auto query_of = [&](const std::string& text, const std::string& locale) {
    auto [it, inserted] = queries.try_emplace(models::query_key(text, locale), static_cast<std::uint32_t>(data.queries.size()));
    if (inserted) data.queries.push_back(text), data.query_locales.push_back(locale);
    return it->second;
  };
  struct Judged {
    std::uint32_t query, product;
    std::string label;
    double grade;
    bool gate;
  };
  std::vector<Judged> judged;
  bool any_esci = false;
  AISLE_RETURN_IF_ERROR(store.for_each_judgment([&](store::StoredJudgment&& j) -> Status {
    if (j.split == "test") {
      ++report->held_out;
      return Status::ok();
    }
    auto product = product_index.find(j.product.value());
    if (product == product_index.end()) return Status::ok();
    any_esci = any_esci || !j.label.empty();
    const bool gate = options.hold_out_gate && in_gate_slice(j.query, j.locale, options.gate_seed);
    judged.push_back(Judged{query_of(j.query, j.locale), product->second, j.label, j.grade, gate});
    return Status::ok();
  }));
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const Judged& j : judged) low = std::min(low, j.grade), high = std::max(high, j.grade);
  // Exact matches and purchases per (query, group), for query alignment.
  std::map<std::string, std::set<std::uint32_t>> group_queries;
  std::unordered_map<std::uint32_t, std::string> group_of;
  for (const auto& [group, members] : groups) {
    for (std::uint32_t p : members) group_of.emplace(p, group);
  }
  static const std::map<std::string, int> kClass = {{"E", 0}, {"S", 1}, {"C", 2}, {"I", 3}};
  for (const Judged& j : judged) {
    models::RelevanceExample example{j.query, j.product, 0};
    float weight = 0;
    if (any_esci) {
      auto it = kClass.find(j.label);
      if (it == kClass.end()) continue;  // a graded row among ESCI rows
      example.label = static_cast<float>(it->second);
      weight = models::engagement_weight(j.label);
      if (j.label == "E" && group_of.count(j.product) && !j.gate) group_queries[group_of[j.product]].insert(j.query);
    } else {
      const double scaled = high > low ? (j.grade - low) / (high - low) : 1.0;
      example.label = static_cast<float>(std::clamp(scaled, 0.0, 1.0));
      weight = scaled >= 0.5 ? static_cast<float>(4 * scaled) : 0.0f;
    }
    if (j.gate) {
      gate_examples->push_back(example);
      continue;
    }
    data.examples.push_back(example);
    if (weight > 0 && options.judgment_edges) data.engagement.push_back(models::Engagement{j.query, j.product, weight});
  }
  AISLE_RETURN_IF_ERROR(store.for_each_engagement([&](store::Engagement&& e) -> Status {
    auto product = product_index.find(e.product.value());
    if (product == product_index.end()) return Status::ok();
    const float weight = static_cast<float>(e.clicks) * models::engagement_weight("click") +
                         static_cast<float>(e.add_to_carts) * models::engagement_weight("add_to_cart") +
                         static_cast<float>(e.purchases) * models::engagement_weight("purchase");
    if (weight <= 0) return Status::ok();
    if (options.hold_out_gate && in_gate_slice(e.query, e.locale, options.gate_seed)) return Status::ok();
    const std::uint32_t q = query_of(e.query, e.locale);
    data.engagement.push_back(models::Engagement{q, product->second, weight});
    if (e.purchases > 0 && group_of.count(product->second)) group_queries[group_of[product->second]].insert(q);
    return Status::ok();
  }));
  for (const auto& [group, members] : groups) {
    for (std::uint32_t p : members) {
      for (std::uint32_t other : members) {
        if (data.products[other].locale != data.products[p].locale) {
          if (p < other) data.product_alignments.emplace_back(p, other);
          break;
        }
      }
    }
  }
  for (const auto& [group, group_query_set] : group_queries) {
    std::vector<std::uint32_t> list(group_query_set.begin(), group_query_set.end());
    for (std::size_t a = 0; a < list.size(); ++a) {
      for (std::size_t b = a + 1; b < list.size(); ++b) {
        if (data.query_locales[list[a]] != data.query_locales[list[b]]) data.query_alignments.emplace_back(list[a], list[b]);
      }
    }
  }
  report->products = static_cast<std::int64_t>(data.products.size());
  report->queries = static_cast<std::int64_t>(data.queries.size());
  report->examples = static_cast<std::int64_t>(data.examples.size());
  report->engagement_edges = static_cast<std::int64_t>(data.engagement.size());
  report->product_alignments = static_cast<std::int64_t>(data.product_alignments.size());
  report->query_alignments = static_cast<std::int64_t>(data.query_alignments.size());
  report->esci = any_esci;
  return data;
}

Result<LayerVerdict> validate_classifier(const models::RelevanceClassifier& classifier, const models::RelevanceData& data,
                                         const models::EngagementGraph& graph,
                                         std::span<const models::RelevanceExample> gate, const Context& context) {
  LayerVerdict off;
  off.layer = "classifier";
  off.metric = "accuracy";
  off.baseline = "majority_class";
  if (classifier.config().mode != models::LabelMode::kClasses) {
    off.reason = "off: a graded classifier; the search shows only the four ESCI classes";
    return off;
  }
  constexpr int kClasses = 4;
  std::array<std::int64_t, kClasses> train_counts{};
  for (const models::RelevanceExample& example : data.examples) ++train_counts[static_cast<std::size_t>(example.label)];
  const int majority = static_cast<int>(std::max_element(train_counts.begin(), train_counts.end()) - train_counts.begin());
  std::vector<models::PairInput> pairs;
  pairs.reserve(gate.size());
  for (const models::RelevanceExample& example : gate) {
    pairs.push_back(models::PairInput{data.queries[example.query], data.query_locales[example.query], &data.products[example.product]});
  }
  std::vector<float> probabilities;
  if (!pairs.empty()) {
    AISLE_ASSIGN_OR_RETURN(probabilities, classifier.predict(pairs, &graph));
  }
  // Per query: share of its examples labelled right, by the model and by the majority class.
  std::map<std::uint32_t, std::array<double, 3>> per_query;  // query -> (model right, majority right, examples)
  std::array<std::array<std::int64_t, kClasses>, kClasses> confusion{};  // [truth][predicted]
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const float* row = probabilities.data() + i * kClasses;
    const int predicted = static_cast<int>(std::max_element(row, row + kClasses) - row);
    const int truth = static_cast<int>(gate[i].label);
    ++confusion[static_cast<std::size_t>(truth)][static_cast<std::size_t>(predicted)];
    auto& totals = per_query[gate[i].query];
    totals[0] += predicted == truth ? 1 : 0;
    totals[1] += majority == truth ? 1 : 0;
    totals[2] += 1;
  }
  std::vector<double> model, baseline;
  for (const auto& [query, totals] : per_query) {
    model.push_back(totals[0] / totals[2]);
    baseline.push_back(totals[1] / totals[2]);
  }
  // Macro F1 over the classes present, of the model and of always predicting the majority.
  auto macro_f1 = [&](bool majority_only) {
    double sum = 0;
    int present = 0;
    for (int c = 0; c < kClasses; ++c) {
      std::int64_t truth = 0, predicted = 0, right = 0;
      for (int p = 0; p < kClasses; ++p) truth += confusion[static_cast<std::size_t>(c)][static_cast<std::size_t>(p)];
      if (truth == 0) continue;
      ++present;
      if (majority_only) {
        predicted = c == majority ? static_cast<std::int64_t>(gate.size()) : 0;
        right = c == majority ? truth : 0;
      } else {
        for (int t = 0; t < kClasses; ++t) predicted += confusion[static_cast<std::size_t>(t)][static_cast<std::size_t>(c)];
        right = confusion[static_cast<std::size_t>(c)][static_cast<std::size_t>(c)];
      }
      sum += predicted + truth > 0 ? 2.0 * static_cast<double>(right) / static_cast<double>(predicted + truth) : 0.0;
    }
    return present > 0 ? sum / present : 0.0;
  };
  GateOptions options;
  options.seed = context.seed();
  LayerVerdict verdict = decide("classifier", "accuracy", "majority_class", model, baseline, options);
  verdict.fraction = kGateFraction;
  verdict.seed = context.seed();
  verdict.details["examples"] = static_cast<std::int64_t>(gate.size());
  verdict.details["majority_class"] = std::string(1, "ESCI"[majority]);
  verdict.details["macro_f1"] = macro_f1(false);
  verdict.details["majority_macro_f1"] = macro_f1(true);
  verdict.details["confusion"] = confusion;
  return verdict;
}

}  // namespace aisle::rank
