#include "aisle/rank/clicks.h"

#include "aisle/models/relevance_classifier.h"
#include "aisle/rank/esci.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

namespace aisle::rank {

double PositionBias::propensity_at(int position) const {
  if (propensity.empty()) return 1.0;
  const std::size_t k = static_cast<std::size_t>(std::clamp(position, 1, static_cast<int>(propensity.size())));
  return propensity[k - 1];
}

Result<PositionBias> estimate_position_bias(std::span<const ClickCounts> rows, const PositionBiasOptions& options) {
  if (options.max_positions < 1 || options.iterations < 1) {
    return Status::bad_input("position bias: max_positions and iterations must be >= 1");
  }
  // Pair index per (query, product); position index per row.
  std::map<std::pair<std::string, std::uint32_t>, std::size_t> pairs;
  std::vector<std::size_t> pair_of(rows.size());
  std::vector<std::size_t> slot_of(rows.size());
  PositionBias bias;
  int positions = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const ClickCounts& row = rows[i];
    if (row.position < 1 || row.impressions < 0 || row.clicks < 0 || row.clicks > row.impressions) {
      return Status::bad_input("click log row " + std::to_string(i + 1) + " (query \"" + row.query + "\", position " +
                               std::to_string(row.position) + "): need position >= 1 and 0 <= clicks <= impressions");
    }
    pair_of[i] = pairs.try_emplace({row.query, row.product.value()}, pairs.size()).first->second;
    slot_of[i] = static_cast<std::size_t>(std::min(row.position, options.max_positions) - 1);
    positions = std::max(positions, static_cast<int>(slot_of[i]) + 1);
    bias.impressions += row.impressions;
    bias.clicks += row.clicks;
  }
  if (bias.impressions == 0) return Status::bad_input("position bias: the click log has no impressions");

  // Start from the click-through rate by position, relative to the best position.
  std::vector<double> shown(static_cast<std::size_t>(positions)), clicked(static_cast<std::size_t>(positions));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    shown[slot_of[i]] += static_cast<double>(rows[i].impressions);
    clicked[slot_of[i]] += static_cast<double>(rows[i].clicks);
  }
  std::vector<double> theta(static_cast<std::size_t>(positions), 0.5);
  double top = 0;
  for (std::size_t k = 0; k < theta.size(); ++k) top = std::max(top, shown[k] > 0 ? clicked[k] / shown[k] : 0.0);
  for (std::size_t k = 0; k < theta.size(); ++k) {
    if (top > 0 && shown[k] > 0) theta[k] = std::clamp(clicked[k] / shown[k] / top, 0.01, 0.99);
  }
  std::vector<double> gamma(pairs.size(), 0.5);
  std::vector<double> theta_num(theta.size()), gamma_num(gamma.size()), gamma_den(gamma.size());
  for (bias.iterations = 0; bias.iterations < options.iterations;) {
    ++bias.iterations;
    std::fill(theta_num.begin(), theta_num.end(), 0.0);
    std::fill(gamma_num.begin(), gamma_num.end(), 0.0);
    std::fill(gamma_den.begin(), gamma_den.end(), 0.0);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const double t = theta[slot_of[i]], g = gamma[pair_of[i]];
      const double c = static_cast<double>(rows[i].clicks);
      const double u = static_cast<double>(rows[i].impressions - rows[i].clicks);
      const double no_click = std::max(1e-12, 1.0 - t * g);
      theta_num[slot_of[i]] += c + u * t * (1.0 - g) / no_click;
      gamma_num[pair_of[i]] += c + u * (1.0 - t) * g / no_click;
      gamma_den[pair_of[i]] += c + u;
    }
    double moved = 0;
    for (std::size_t k = 0; k < theta.size(); ++k) {
      if (shown[k] <= 0) continue;
      const double next = std::clamp(theta_num[k] / shown[k], 1e-6, 1.0);
      moved = std::max(moved, std::abs(next - theta[k]));
      theta[k] = next;
    }
    for (std::size_t p = 0; p < gamma.size(); ++p) {
      if (gamma_den[p] > 0) gamma[p] = std::clamp(gamma_num[p] / gamma_den[p], 1e-6, 1.0 - 1e-6);
    }
    if (moved < options.tolerance) break;
  }
  // Positions never shown take their predecessor's value.
  for (std::size_t k = 1; k < theta.size(); ++k) {
    if (shown[k] <= 0) theta[k] = theta[k - 1];
  }
  bias.examination = theta;
  const double first = theta.empty() || theta[0] <= 0 ? 1.0 : theta[0];
  for (double t : theta) bias.propensity.push_back(t / first);
  return bias;
}

std::vector<ClickRelevance> ips_relevance(std::span<const ClickCounts> rows, const PositionBias& bias,
                                          double min_propensity) {
  std::map<std::pair<std::string, std::uint32_t>, ClickRelevance> pairs;
  for (const ClickCounts& row : rows) {
    ClickRelevance& entry = pairs[{row.query, row.product.value()}];
    entry.query = row.query;
    entry.product = row.product;
    entry.impressions += row.impressions;
    entry.clicks += row.clicks;
    entry.relevance += static_cast<double>(row.clicks) / std::max(min_propensity, bias.propensity_at(row.position));
  }
  std::vector<ClickRelevance> out;
  out.reserve(pairs.size());
  for (auto& [key, entry] : pairs) {
    entry.relevance = entry.impressions > 0 ? std::clamp(entry.relevance / static_cast<double>(entry.impressions), 0.0, 1.0) : 0.0;
    out.push_back(std::move(entry));
  }
  return out;
}

Result<std::unique_ptr<retrieve::MemoryIndex>> update_memory(store::Store& store, const std::filesystem::path& data_dir,
                                                             bool rebuild, const Context& context,
                                                             retrieve::MemoryBuildReport* report, PositionBias* bias) {
  std::vector<ClickCounts> rows;
  std::int64_t clicks = 0;
  AISLE_RETURN_IF_ERROR(store.for_each_positioned_engagement([&](store::PositionedEngagement&& e) {
    clicks += e.clicks;
    rows.push_back(ClickCounts{e.query + '\x1f' + e.locale, e.product, e.position, e.impressions, e.clicks});
    return Status::ok();
  }));
  std::vector<double> propensities;
  if (clicks > 0) {
    AISLE_ASSIGN_OR_RETURN(PositionBias estimate, estimate_position_bias(rows));
    propensities = estimate.propensity;
    if (bias != nullptr) *bias = std::move(estimate);
  }
  std::unique_ptr<models::RelevanceClassifier> classifier;
  if (std::filesystem::exists(classifier_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(classifier, models::RelevanceClassifier::load(classifier_path(data_dir), context));
    if (classifier->outputs() != 4) classifier.reset();  // a graded model has no P(Exact)
  }
  retrieve::RelevanceScorer scorer = [&](const text::Document& product, std::span<const std::string> keys) -> Result<std::vector<double>> {
    std::vector<std::string> texts;  // the analyzed terms of each key, after "locale|"
    for (const std::string& key : keys) texts.push_back(key.substr(key.find('|') + 1));
    std::vector<models::PairInput> pairs;
    for (const std::string& text : texts) pairs.push_back(models::PairInput{text, product.locale, &product});
    auto predicted = classifier->predict(pairs, nullptr);
    if (!predicted.is_ok()) {
      if (predicted.status().code() == StatusCode::kBadInput) return std::vector<double>(keys.size(), 0.0);  // no towers for the locale
      return predicted.status();
    }
    std::vector<double> exact;
    for (std::size_t i = 0; i < keys.size(); ++i) exact.push_back((*predicted)[4 * i]);
    return exact;
  };
  return retrieve::update_memory_index(store, data_dir, retrieve::MemoryConfig{}, std::move(propensities),
                                       classifier ? &scorer : nullptr, rebuild, context, report);
}

}  // namespace aisle::rank
