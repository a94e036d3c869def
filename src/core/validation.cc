#include "aisle/core/validation.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "aisle/core/check.h"
#include "aisle/core/files.h"

namespace aisle {
namespace {

double dcg(std::span<const double> gains, int k) {
  double total = 0;
  const auto n = std::min<std::size_t>(gains.size(), static_cast<std::size_t>(std::max(k, 0)));
  for (std::size_t i = 0; i < n; ++i) total += gains[i] / std::log2(static_cast<double>(i) + 2.0);
  return total;
}

double mean(std::span<const double> values) {
  return values.empty() ? 0.0 : std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

}  // namespace

bool in_validation_slice(std::string_view key, std::uint64_t seed, double fraction) {
  // FNV-1a with the seed mixed in, then a final avalanche so nearby keys spread.
  std::uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : key) h = (h ^ c) * 1099511628211ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return static_cast<double>(h % 1000000) < fraction * 1000000.0;
}

bool in_gate_slice(std::string_view query, std::string_view locale, std::uint64_t seed) {
  std::string key(query);
  key += '\x1f';
  key += locale;
  return in_validation_slice(key, seed, kGateFraction);
}

std::filesystem::path training_report_path(const std::filesystem::path& data_dir, std::string_view layer) {
  return data_dir / "models" / (std::string(layer) + ".report.json");
}

Status write_training_report(const std::filesystem::path& data_dir, std::string_view layer, const nlohmann::json& report) {
  return write_file_atomically(training_report_path(data_dir, layer), report.dump(2) + "\n");
}

double ndcg_at(std::span<const double> ranked_gains, std::span<const double> ideal_gains, int k) {
  std::vector<double> ideal(ideal_gains.begin(), ideal_gains.end());
  std::sort(ideal.begin(), ideal.end(), std::greater<>());
  const double best = dcg(ideal, k);
  return best > 0 ? dcg(ranked_gains, k) / best : 0.0;
}

LayerVerdict decide(std::string layer, std::string metric, std::string baseline_name, std::span<const double> model,
                    std::span<const double> baseline, const GateOptions& options) {
  AISLE_CHECK(model.size() == baseline.size(), "paired values of different sizes");
  LayerVerdict verdict;
  verdict.layer = std::move(layer);
  verdict.metric = std::move(metric);
  verdict.baseline = std::move(baseline_name);
  verdict.queries = static_cast<std::int64_t>(model.size());
  verdict.model_value = mean(model);
  verdict.baseline_value = mean(baseline);
  const std::size_t n = model.size();
  if (n > 0) {
    std::vector<double> difference(n);
    for (std::size_t i = 0; i < n; ++i) difference[i] = model[i] - baseline[i];
    std::mt19937_64 random(options.seed);
    std::uniform_int_distribution<std::size_t> pick(0, n - 1);
    int ahead = 0;
    for (int r = 0; r < options.resamples; ++r) {
      double sum = 0;
      for (std::size_t i = 0; i < n; ++i) sum += difference[pick(random)];
      ahead += sum > 0 ? 1 : 0;
    }
    verdict.p_ahead = options.resamples > 0 ? static_cast<double>(ahead) / options.resamples : 0.0;
  }
  const std::string numbers = fmt::format("{} {:.4f} vs {} {:.4f} on {} held-out queries, ahead in {:.0f}% of resamples",
                                          verdict.metric, verdict.model_value, verdict.baseline, verdict.baseline_value,
                                          verdict.queries, 100 * verdict.p_ahead);
  if (verdict.queries < options.min_queries) {
    verdict.reason = fmt::format("off: too few held-out queries ({} < {}) to show it beats {}; {}", verdict.queries,
                                 options.min_queries, verdict.baseline, numbers);
  } else if (verdict.model_value <= verdict.baseline_value) {
    verdict.reason = "off: not better than " + verdict.baseline + " (" + numbers + ")";
  } else if (verdict.p_ahead < options.confidence) {
    verdict.reason = fmt::format("off: ahead of {} but not reliably (needs {:.0f}% of resamples; {})", verdict.baseline,
                                 100 * options.confidence, numbers);
  } else {
    verdict.active = true;
    verdict.reason = "on: beats " + verdict.baseline + " (" + numbers + ")";
  }
  return verdict;
}

nlohmann::json LayerVerdict::to_json() const {
  return {{"layer", layer},       {"metric", metric},   {"baseline", baseline},       {"model_value", model_value},
          {"baseline_value", baseline_value}, {"p_ahead", p_ahead}, {"queries", queries}, {"fraction", fraction},
          {"seed", seed},         {"active", active},   {"reason", reason},           {"details", details}};
}

Result<LayerVerdict> LayerVerdict::from_json(const nlohmann::json& json) {
  LayerVerdict verdict;
  if (!json.is_object()) return Status::corruption("validation verdict: expected a JSON object");
  try {
    verdict.layer = json.at("layer").get<std::string>();
    verdict.metric = json.at("metric").get<std::string>();
    verdict.baseline = json.at("baseline").get<std::string>();
    verdict.model_value = json.at("model_value").get<double>();
    verdict.baseline_value = json.at("baseline_value").get<double>();
    verdict.p_ahead = json.at("p_ahead").get<double>();
    verdict.queries = json.at("queries").get<std::int64_t>();
    verdict.fraction = json.at("fraction").get<double>();
    verdict.seed = json.at("seed").get<std::uint64_t>();
    verdict.active = json.at("active").get<bool>();
    verdict.reason = json.at("reason").get<std::string>();
    verdict.details = json.value("details", nlohmann::json::object());
  } catch (const nlohmann::json::exception& error) {
    return Status::corruption(std::string("validation verdict: ") + error.what());
  }
  return verdict;
}

}  // namespace aisle
