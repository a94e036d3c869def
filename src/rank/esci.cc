#include "aisle/rank/esci.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "aisle/retrieve/lexical.h"

namespace aisle::rank {

std::filesystem::path classifier_path(const std::filesystem::path& data_dir) {
  return data_dir / "models" / "classifier.bin";
}

Result<models::RelevanceData> relevance_data_from_store(store::Store& store, RelevanceDataReport* report) {
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
    judged.push_back(Judged{query_of(j.query, j.locale), product->second, j.label, j.grade});
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
      if (j.label == "E" && group_of.count(j.product)) group_queries[group_of[j.product]].insert(j.query);
    } else {
      const double scaled = high > low ? (j.grade - low) / (high - low) : 1.0;
      example.label = static_cast<float>(std::clamp(scaled, 0.0, 1.0));
      weight = scaled >= 0.5 ? static_cast<float>(4 * scaled) : 0.0f;
    }
    data.examples.push_back(example);
    if (weight > 0) data.engagement.push_back(models::Engagement{j.query, j.product, weight});
  }
  AISLE_RETURN_IF_ERROR(store.for_each_engagement([&](store::Engagement&& e) -> Status {
    auto product = product_index.find(e.product.value());
    if (product == product_index.end()) return Status::ok();
    const float weight = static_cast<float>(e.clicks) * models::engagement_weight("click") +
                         static_cast<float>(e.add_to_carts) * models::engagement_weight("add_to_cart") +
                         static_cast<float>(e.purchases) * models::engagement_weight("purchase");
    if (weight <= 0) return Status::ok();
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

}  // namespace aisle::rank
