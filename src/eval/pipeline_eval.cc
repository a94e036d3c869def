#include "aisle/eval/pipeline_eval.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <unordered_map>
#include <vector>

#include "aisle/core/validation.h"
#include "aisle/eval/metrics.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/rank/pipeline.h"
#include "aisle/rank/result_json.h"

namespace aisle::eval {
namespace {

struct Judged {
  std::unordered_map<std::string, double> gains;  // external id -> gain
  std::unordered_map<std::string, bool> relevant;
};

struct Totals {
  double ndcg = 0, mrr = 0, recall = 0;
  int queries = 0;
  nlohmann::json json() const {
    const double n = std::max(1, queries);
    return {{"ndcg@10", ndcg / n}, {"mrr@10", mrr / n}, {"candidate_recall", recall / n}, {"queries", queries}};
  }
};

}  // namespace

Result<nlohmann::json> evaluate_pipeline(const Context& context, const PipelineEvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  if (!std::filesystem::exists(options.test)) return Status::not_found("no judgments file " + options.test.string());
  AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(options.data_dir, context));
  // The judged queries: (locale, text) -> their products' gains.
  std::map<std::pair<std::string, std::string>, Judged> queries;
  io::ReaderOptions reader_options;
  reader_options.default_locale = options.locale;
  AISLE_ASSIGN_OR_RETURN(reader_options.format, io::detect_format(options.test, io::RecordKind::kJudgments, reader_options.text));
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(options.test));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), reader_options));
  std::vector<io::JudgmentRecord> records;
  double lowest = std::numeric_limits<double>::infinity();
  for (io::JudgmentRecord record; true;) {
    AISLE_ASSIGN_OR_RETURN(const bool more, reader->next(&record));
    if (!more) break;
    if (!record.label) lowest = std::min(lowest, record.grade);
    records.push_back(record);
  }
  std::int64_t missing = 0;
  for (const io::JudgmentRecord& record : records) {
    const std::string locale = record.locale.empty() ? options.locale : record.locale;
    const std::string id = record.product ? record.product->id : record.product_id;
    AISLE_ASSIGN_OR_RETURN(auto stored, pipeline->store().find_product(locale, id));
    if (!stored) {
      ++missing;
      continue;
    }
    Judged& judged = queries[{locale, record.query}];
    double gain = 0;
    bool relevant = false;
    if (record.label) {
      static const double kGain[4] = {1.0, 0.6, 0.2, 0.0};  // E, S, C, I (io::EsciLabel order)
      gain = kGain[static_cast<int>(*record.label)];
      relevant = *record.label == io::EsciLabel::kExact;
    } else {
      gain = record.grade - lowest;
      relevant = record.grade >= options.relevant_min_grade;
    }
    judged.gains[id] = std::max(judged.gains[id], gain);
    judged.relevant[id] = judged.relevant[id] || relevant;
  }
  const bool ranker = pipeline->ranker() != nullptr;
  std::map<std::string, Totals> totals;  // "default", "lexical", "lexical+ranker", "popularity"
  // One search at depth: its first k are what a shopper sees (the steps after ranking do not
  // depend on k), all of them are the candidates it ranked.
  auto measure = [&](const std::string& name, const Judged& judged, std::string_view query, rank::PipelineOptions search) -> Status {
    search.k = std::max(options.k, options.depth);
    AISLE_ASSIGN_OR_RETURN(rank::PipelineResult result, pipeline->search(query, search));
    std::vector<double> gains, ideal;
    std::vector<char> relevant;
    int relevant_total = 0, found = 0;
    for (const rank::PipelineHit& hit : result.hits) {
      AISLE_ASSIGN_OR_RETURN(auto product, pipeline->store().get_product(hit.product));
      const std::string id = product ? product->record.id : "";
      auto gain = judged.gains.find(id);
      auto rel = judged.relevant.find(id);
      const bool is_relevant = rel != judged.relevant.end() && rel->second;
      found += is_relevant ? 1 : 0;
      if (static_cast<int>(gains.size()) >= options.k) continue;
      gains.push_back(gain == judged.gains.end() ? 0.0 : gain->second);
      relevant.push_back(is_relevant ? 1 : 0);
    }
    for (const auto& [id, gain] : judged.gains) ideal.push_back(gain);
    for (const auto& [id, rel] : judged.relevant) relevant_total += rel ? 1 : 0;
    Totals& t = totals[name];
    t.ndcg += ndcg_at(gains, ideal, options.k);
    const auto first = std::find(relevant.begin(), relevant.end(), 1);
    if (first != relevant.end()) t.mrr += 1.0 / static_cast<double>(first - relevant.begin() + 1);
    t.recall += relevant_total > 0 ? static_cast<double>(found) / relevant_total : 0.0;
    ++t.queries;
    return Status::ok();
  };
  int evaluated = 0;
  for (const auto& [key, judged] : queries) {
    double best = 0;
    for (const auto& [id, gain] : judged.gains) best = std::max(best, gain);
    if (best <= 0) continue;  // nothing relevant to find: nDCG is undefined
    ++evaluated;
    rank::PipelineOptions search;
    search.locale = key.first;
    search.k = options.k;
    search.depth = options.depth;
    AISLE_RETURN_IF_ERROR(measure("default", judged, key.second, search));
    rank::PipelineOptions lexical = search;
    lexical.strategy = "lexical";
    lexical.rank = false;
    AISLE_RETURN_IF_ERROR(measure("lexical", judged, key.second, lexical));
    if (ranker) {
      lexical.rank = true;
      AISLE_RETURN_IF_ERROR(measure("lexical+ranker", judged, key.second, lexical));
    }
    rank::PipelineOptions popular = search;
    popular.strategy = "popularity";
    popular.rank = false;
    AISLE_RETURN_IF_ERROR(measure("popularity", judged, key.second, popular));
  }
  nlohmann::json baselines = nlohmann::json::object();
  for (const auto& [name, t] : totals) {
    if (name != "default") baselines[name] = t.json();
  }
  nlohmann::json report = {
      {"task", "pipeline"},
      {"dataset", options.test.filename().string()},
      {"metrics", totals["default"].json()},
      {"baselines", baselines},
      {"layers", rank::layers_json(*pipeline)},
      {"strategy", pipeline->vector_default() ? "lexical+vector" : "lexical"},
      {"queries", evaluated},
      {"missing_products", missing},
      {"train_seconds", 0.0},  // trains nothing: it measures what the training steps left
      {"eval_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
      {"config", {{"data_dir", options.data_dir.string()}, {"k", options.k}, {"depth", options.depth},
                  {"relevant_min_grade", options.relevant_min_grade}}}};
  return report;
}

}  // namespace aisle::eval
