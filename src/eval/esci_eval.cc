#include "aisle/eval/esci.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "aisle/eval/metrics.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/csv_reader.h"
#include "aisle/io/readers.h"
#include "aisle/rank/features.h"
#include "aisle/rank/ranker.h"
#include "aisle/rank/relational.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/text/inverted_index.h"
#include "split.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

const std::vector<std::string> kEsciClasses = {"E", "S", "C", "I"};
constexpr double kEsciGains[4] = {1.0, 0.1, 0.01, 0.0};

std::string fmt_grade(double grade) {
  std::string text = std::to_string(grade);
  while (text.size() > 1 && text.back() == '0') text.pop_back();
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

struct Row {
  std::string query;
  std::string locale;
  std::uint32_t product = 0;
  int esci = -1;  // ESCI class index, or -1 for a graded row
  double grade = 0;
  std::string split;
};

struct Loaded {
  std::vector<text::Document> products;
  std::unordered_map<std::string, std::uint32_t> by_key;  // locale \t external id
  std::vector<Row> rows;
  std::int64_t missing_products = 0;
};

Status missing_file(const std::filesystem::path& path) {
  return Status::not_found("evaluation data missing: " + path.string() +
                           " (the evaluation sets live under ../shared/data; see its README)");
}

std::uint32_t add_product(const io::ProductRecord& record, const std::string& default_locale, Loaded* out) {
  const std::string locale = record.locale.empty() ? default_locale : record.locale;
  auto [it, inserted] = out->by_key.try_emplace(locale + '\t' + record.id, static_cast<std::uint32_t>(out->products.size()));
  if (inserted) {
    store::Product product{ProductId(it->second), record};
    product.record.locale = locale;
    out->products.push_back(retrieve::to_document(product));
  }
  return it->second;
}

Status read_products(const std::filesystem::path& path, const std::string& locale, Loaded* out) {
  if (!std::filesystem::exists(path)) return missing_file(path);
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions options;
  options.default_locale = locale;
  AISLE_ASSIGN_OR_RETURN(options.format, io::detect_format(path, io::RecordKind::kProducts, options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_product_reader(std::move(source), options));
  io::ProductRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    add_product(record, locale, out);
  }
  return Status::ok();
}

Status read_rows(const std::filesystem::path& path, const std::string& locale, const std::string& split, Loaded* out) {
  if (!std::filesystem::exists(path)) return missing_file(path);
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions options;
  options.default_locale = locale;
  options.default_split = split;
  AISLE_ASSIGN_OR_RETURN(options.format, io::detect_format(path, io::RecordKind::kJudgments, options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), options));
  io::JudgmentRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    Row row;
    row.query = record.query;
    row.locale = record.locale.empty() ? locale : record.locale;
    row.split = split.empty() ? record.split : split;
    if (record.product) {
      row.product = add_product(*record.product, row.locale, out);
    } else {
      auto it = out->by_key.find(row.locale + '\t' + record.product_id);
      if (it == out->by_key.end()) {
        ++out->missing_products;
        continue;
      }
      row.product = it->second;
    }
    if (record.label) row.esci = static_cast<int>(*record.label);
    row.grade = record.grade;
    out->rows.push_back(std::move(row));
  }
  return Status::ok();
}

enum class Mode { kEsci, kClasses, kGraded };

// The labelled data of one experiment: train examples and graph, and the test pairs.
struct Experiment {
  models::RelevanceData data;
  std::vector<models::PairInput> test_pairs;
  std::vector<const Row*> test_rows;
};

// Train rows -> RelevanceData (queries keyed by locale and text), with judgments as engagement.
models::RelevanceData training_data(const Loaded& loaded, const std::vector<const Row*>& rows, Mode mode,
                                    const std::vector<double>& grade_classes, double low, double high) {
  models::RelevanceData data;
  data.products = loaded.products;
  std::unordered_map<std::string, std::uint32_t> queries;
  for (const Row* row : rows) {
    auto [it, inserted] =
        queries.try_emplace(models::query_key(row->query, row->locale), static_cast<std::uint32_t>(data.queries.size()));
    if (inserted) data.queries.push_back(row->query), data.query_locales.push_back(row->locale);
    models::RelevanceExample example{it->second, row->product, 0};
    float weight = 0;
    if (mode == Mode::kEsci) {
      example.label = static_cast<float>(row->esci);
      weight = models::engagement_weight(kEsciClasses[static_cast<std::size_t>(row->esci)]);
    } else {
      const double scaled = high > low ? (row->grade - low) / (high - low) : 1.0;
      if (mode == Mode::kClasses) {
        example.label = static_cast<float>(std::lower_bound(grade_classes.begin(), grade_classes.end(), row->grade) -
                                           grade_classes.begin());
      } else {
        example.label = static_cast<float>(std::clamp(scaled, 0.0, 1.0));
      }
      weight = scaled >= 0.5 ? static_cast<float>(4 * scaled) : 0.0f;
    }
    data.examples.push_back(example);
    if (weight > 0) data.engagement.push_back(models::Engagement{it->second, row->product, weight});
  }
  return data;
}

struct Scores {
  nlohmann::json overall;
  std::map<std::string, nlohmann::json> per_locale;
};

Scores score(Mode mode, const std::vector<const Row*>& rows, const std::vector<float>& predicted, int width,
             const std::vector<double>& grade_classes, double low, double high) {
  Scores out;
  std::map<std::string, std::vector<std::size_t>> by_locale;
  for (std::size_t i = 0; i < rows.size(); ++i) by_locale[rows[i]->locale].push_back(i);
  by_locale[""];  // overall
  for (auto& [locale, indices] : by_locale) {
    if (locale.empty()) {
      indices.resize(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) indices[i] = i;
    }
    nlohmann::json metrics;
    if (mode == Mode::kGraded) {
      std::vector<double> p, t;
      for (std::size_t i : indices) p.push_back(low + predicted[i] * (high - low)), t.push_back(rows[i]->grade);
      metrics["rmse"] = rmse(p, t);
    } else {
      std::vector<int> p, t;
      for (std::size_t i : indices) {
        const float* row = predicted.data() + i * static_cast<std::size_t>(width);
        p.push_back(static_cast<int>(std::max_element(row, row + width) - row));
        t.push_back(mode == Mode::kEsci ? rows[i]->esci
                                        : static_cast<int>(std::lower_bound(grade_classes.begin(), grade_classes.end(), rows[i]->grade) -
                                                           grade_classes.begin()));
      }
      F1Scores f1 = classification_f1(p, t, width);
      metrics["micro_f1"] = f1.micro;
      metrics["macro_f1"] = f1.macro;
      if (mode == Mode::kClasses) metrics["qwk"] = quadratic_weighted_kappa(p, t, width);
      if (mode == Mode::kEsci) {
        metrics["substitute_f1"] = f1.per_class[1];
        // Task 1: each query's judged products ranked by expected gain.
        // Ties are broken by a hash of the product, not by file order (which may list E first).
        struct Judged {
          double score;
          std::uint64_t tie;
          double gain;
        };
        std::map<std::string, std::vector<Judged>> queries;
        for (std::size_t i : indices) {
          const float* row = predicted.data() + i * 4;
          const double expected = row[0] * kEsciGains[0] + row[1] * kEsciGains[1] + row[2] * kEsciGains[2];
          queries[models::query_key(rows[i]->query, rows[i]->locale)].push_back(
              Judged{expected, hash_of(std::to_string(rows[i]->product), 0), kEsciGains[rows[i]->esci]});
        }
        double sum = 0;
        for (auto& [key, list] : queries) {
          std::sort(list.begin(), list.end(), [](const Judged& a, const Judged& b) {
            return a.score != b.score ? a.score > b.score : a.tie < b.tie;
          });
          std::vector<double> ranked, ideal;
          for (const Judged& j : list) ranked.push_back(j.gain), ideal.push_back(j.gain);
          sum += ndcg_at(ranked, ideal, static_cast<int>(ranked.size()));
        }
        metrics["ndcg"] = queries.empty() ? 0.0 : sum / static_cast<double>(queries.size());
        metrics["queries"] = queries.size();
      }
    }
    metrics["pairs"] = indices.size();
    if (locale.empty()) out.overall = metrics;
    else out.per_locale[locale] = metrics;
  }
  return out;
}

Result<std::vector<float>> train_and_predict(const Context& context, models::ClassifierConfig config,
                                             const models::ClassifierTrainOptions& training, const models::RelevanceData& data,
                                             const std::vector<models::PairInput>& pairs, double* train_seconds) {
  AISLE_ASSIGN_OR_RETURN(auto classifier, models::RelevanceClassifier::create(config, context));
  models::EngagementGraph graph(data);
  const auto start = Clock::now();
  AISLE_ASSIGN_OR_RETURN([[maybe_unused]] auto trained, classifier->train(data, &graph, training, context));
  *train_seconds += seconds_since(start);
  return classifier->predict(pairs, &graph);
}

// ---- The fused model: a GBDT over lexical, relational and (optionally) neural evidence ----

// A row's label for the fused model: the class index, or the grade scaled to 0..1.
float fused_label(Mode mode, const Row& row, const std::vector<double>& grade_classes, double low, double high) {
  if (mode == Mode::kEsci) return static_cast<float>(row.esci);
  if (mode == Mode::kClasses) {
    return static_cast<float>(std::lower_bound(grade_classes.begin(), grade_classes.end(), row.grade) - grade_classes.begin());
  }
  return static_cast<float>(high > low ? std::clamp((row.grade - low) / (high - low), 0.0, 1.0) : 1.0);
}

// The ordinal value of a row's label for the relational features: ESCI E 3, S 2, C 1, I 0;
// otherwise the grade.
double ordinal_value(Mode mode, const Row& row) { return mode == Mode::kEsci ? 3.0 - row.esci : row.grade; }

// Lexical evidence: the ranker's match features (BM25F per field, coverage, phrase, bigrams,
// number and query-understanding agreement, lexical rank among the top 100) of every row.
Result<std::vector<float>> lexical_evidence(const Loaded& loaded, const std::vector<const Row*>& rows,
                                            const text::InvertedIndex& index, const rank::FeatureExtractor& extractor) {
  const std::size_t width = extractor.schema().size();
  std::vector<float> out(rows.size() * width);
  std::map<std::string, std::vector<std::size_t>> by_query;
  for (std::size_t i = 0; i < rows.size(); ++i) by_query[rows[i]->locale + '\t' + rows[i]->query].push_back(i);
  for (const auto& [key, indices] : by_query) {
    const Row& first = *rows[indices.front()];
    text::SearchOptions search;
    search.locale = first.locale;
    search.k = 100;
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index.search(first.query, search));
    std::unordered_map<std::uint32_t, std::pair<int, float>> ranks;
    for (std::size_t r = 0; r < result.hits.size(); ++r) {
      ranks.try_emplace(result.hits[r].product.value(), static_cast<int>(r + 1), result.hits[r].score);
    }
    rank::QueryContext query;
    query.text = first.query;
    query.locale = first.locale;
    query.terms = result.terms;
    std::vector<rank::Candidate> candidates;
    for (std::size_t i : indices) {
      rank::Candidate candidate;
      candidate.document = &loaded.products[rows[i]->product];
      auto found = ranks.find(rows[i]->product);
      if (found != ranks.end()) {
        candidate.provenance.found_by = retrieve::kFoundLexical;
        candidate.provenance.lexical_rank = found->second.first;
        candidate.provenance.lexical_score = found->second.second;
      }
      candidates.push_back(candidate);
    }
    std::vector<float> features;
    AISLE_RETURN_IF_ERROR(extractor.extract(query, candidates, &features));
    for (std::size_t k = 0; k < indices.size(); ++k) {
      std::copy_n(features.begin() + static_cast<long>(k * width), width, out.begin() + static_cast<long>(indices[k] * width));
    }
  }
  return out;
}

// Quadratic weighted kappa of an expected class index cut at `cuts` (ascending).
int cut(double value, const std::vector<double>& cuts) {
  return static_cast<int>(std::upper_bound(cuts.begin(), cuts.end(), value) - cuts.begin());
}

// Cut points for an ordinal score that maximize QWK on (score, truth): start at the midpoints
// and move each cut over a grid of the scores' quantiles, a few sweeps.
std::vector<double> choose_cuts(const std::vector<double>& scores, const std::vector<int>& truth, int classes) {
  std::vector<double> cuts;
  for (int c = 1; c < classes; ++c) cuts.push_back(c - 0.5);
  std::vector<double> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  std::vector<double> grid;
  for (int q = 1; q < 200; ++q) grid.push_back(sorted[static_cast<std::size_t>(q * (sorted.size() - 1) / 200)]);
  auto kappa = [&](const std::vector<double>& c) {
    std::vector<int> p;
    for (double s : scores) p.push_back(cut(s, c));
    return quadratic_weighted_kappa(p, truth, classes);
  };
  double best = kappa(cuts);
  for (int sweep = 0; sweep < 3; ++sweep) {
    for (std::size_t j = 0; j < cuts.size(); ++j) {
      const double low = j > 0 ? cuts[j - 1] : -1e300, high = j + 1 < cuts.size() ? cuts[j + 1] : 1e300;
      for (double g : grid) {
        if (g <= low || g >= high) continue;
        std::vector<double> trial = cuts;
        trial[j] = g;
        const double k = kappa(trial);
        if (k > best) best = k, cuts = trial;
      }
    }
  }
  return cuts;
}

struct FusedResult {
  std::vector<float> predicted;  // test rows x width, as score() reads them (one-hot when cut)
  std::vector<float> probabilities;  // test rows x width (classes), or the scaled grade
  nlohmann::json details;
};

constexpr int kFusionFolds = 5;

// The fused GBDT, cross-fitted over the folds of the train rows (`folds[i]` in 0..kFusionFolds-1):
// fold k's model trains on the other folds and stops early on fold k; its predictions of fold
// k are out of fold. A test row's prediction is the mean of the fold models. The ordinal cuts
// are chosen on the out-of-fold predictions of every train row (never on test rows).
// Classes: one regression per class on its indicator (a probability estimate), normalized.
Result<FusedResult> train_fused(const Context& context, Mode mode, int width, const std::vector<std::string>& names,
                                const std::vector<float>& train_x, const std::vector<float>& labels,
                                const std::vector<int>& folds, const std::vector<float>& test_x) {
  const std::size_t d = names.size();
  const std::size_t n = labels.size(), m = test_x.size() / d;
  rank::FeatureSchema schema;
  schema.names = names;
  rank::RankerOptions options;
  options.objective = rank::Objective::kRegression;
  options.rounds = 600;
  options.learning_rate = 0.05;
  options.max_depth = 6;
  options.min_child_weight = 5;
  options.early_stopping_rounds = 40;
  const int outputs = mode == Mode::kGraded ? 1 : width;
  const std::size_t w = static_cast<std::size_t>(outputs);
  std::vector<float> oof(n * w), test_raw(m * w);
  nlohmann::json rounds = nlohmann::json::array();
  std::map<std::string, double> importance;
  for (int k = 0; k < kFusionFolds; ++k) {
    std::vector<std::size_t> held_rows;
    std::vector<float> held_x;
    for (std::size_t i = 0; i < n; ++i) {
      if (folds[i] != k) continue;
      held_rows.push_back(i);
      held_x.insert(held_x.end(), train_x.begin() + static_cast<long>(i * d), train_x.begin() + static_cast<long>((i + 1) * d));
    }
    if (held_rows.empty()) continue;
    for (int o = 0; o < outputs; ++o) {
      rank::RankingData train, held;
      train.num_features = held.num_features = d;
      for (std::size_t i = 0; i < n; ++i) {
        const float y = mode == Mode::kGraded ? labels[i] : (static_cast<int>(labels[i]) == o ? 1.0f : 0.0f);
        rank::RankingData& target = folds[i] == k ? held : train;
        target.features.insert(target.features.end(), train_x.begin() + static_cast<long>(i * d), train_x.begin() + static_cast<long>((i + 1) * d));
        target.labels.push_back(y);
      }
      train.groups = {static_cast<std::uint32_t>(train.labels.size())};
      held.groups = {static_cast<std::uint32_t>(held.labels.size())};
      rank::RankerTrainReport report;
      AISLE_ASSIGN_OR_RETURN(auto model, rank::Ranker::train(schema, train, &held, options, context, &report));
      rounds.push_back(report.rounds);
      for (const auto& [name, share] : model->importance()) importance[name] += share;
      AISLE_ASSIGN_OR_RETURN(std::vector<float> v, model->score(held_x));
      for (std::size_t r = 0; r < held_rows.size(); ++r) oof[held_rows[r] * w + static_cast<std::size_t>(o)] = v[r];
      AISLE_ASSIGN_OR_RETURN(std::vector<float> t, model->score(test_x));
      for (std::size_t r = 0; r < m; ++r) test_raw[r * w + static_cast<std::size_t>(o)] += t[r] / kFusionFolds;
    }
  }
  auto normalize = [&](std::vector<float>& raw) {
    for (std::size_t r = 0; r < raw.size() / w; ++r) {
      if (mode == Mode::kGraded) {
        raw[r] = std::clamp(raw[r], 0.0f, 1.0f);
        continue;
      }
      double total = 0;
      for (std::size_t c = 0; c < w; ++c) total += raw[r * w + c] = std::clamp(raw[r * w + c], 1e-4f, 1.0f);
      for (std::size_t c = 0; c < w; ++c) raw[r * w + c] = static_cast<float>(raw[r * w + c] / total);
    }
  };
  normalize(oof);
  normalize(test_raw);
  FusedResult result;
  result.probabilities = test_raw;
  result.predicted = test_raw;
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [name, share] : importance) ranked.emplace_back(-share, name);
  std::sort(ranked.begin(), ranked.end());
  nlohmann::json top = nlohmann::json::object();
  double total = 0;
  for (const auto& [share, name] : ranked) total -= share;
  for (std::size_t i = 0; i < std::min<std::size_t>(12, ranked.size()); ++i) top[ranked[i].second] = -ranked[i].first / total;
  result.details = {{"folds", kFusionFolds}, {"rounds", rounds}, {"importance", top}};
  if (mode == Mode::kClasses) {
    // Ordinal classes (grades): decode the expected class index with cuts chosen on the
    // out-of-fold predictions of the train rows, for kappa.
    auto expected = [&](const std::vector<float>& p, std::size_t r) {
      double e = 0;
      for (std::size_t c = 0; c < w; ++c) e += static_cast<double>(c) * p[r * w + c];
      return e;
    };
    std::vector<double> oof_scores;
    std::vector<int> oof_truth;
    for (std::size_t r = 0; r < n; ++r) {
      oof_scores.push_back(expected(oof, r));
      oof_truth.push_back(static_cast<int>(labels[r]));
    }
    const std::vector<double> cuts = choose_cuts(oof_scores, oof_truth, width);
    std::vector<int> oof_cut;
    for (double e : oof_scores) oof_cut.push_back(cut(e, cuts));
    result.details["out_of_fold_qwk"] = quadratic_weighted_kappa(oof_cut, oof_truth, width);
    std::fill(result.predicted.begin(), result.predicted.end(), 0.0f);
    for (std::size_t r = 0; r < m; ++r) result.predicted[r * w + static_cast<std::size_t>(cut(expected(test_raw, r), cuts))] = 1.0f;
    result.details["decoder"] = "expected class index, cut at points chosen on the train rows' out-of-fold predictions for kappa";
    result.details["cuts"] = cuts;
  } else if (mode == Mode::kGraded) {
    double sum = 0;
    for (std::size_t r = 0; r < n; ++r) sum += (oof[r] - labels[r]) * (oof[r] - labels[r]);
    result.details["out_of_fold_rmse_scaled"] = n > 0 ? std::sqrt(sum / static_cast<double>(n)) : 0.0;
    result.details["decoder"] = "predicted grade";
  } else {
    result.details["decoder"] = "most probable class";
  }
  return result;
}

// Reliability of predicted class probabilities: 10 bins of the top probability, mean
// confidence against accuracy, and the expected calibration error.
nlohmann::json reliability(const std::vector<float>& probabilities, const std::vector<int>& truth, int width) {
  const std::size_t w = static_cast<std::size_t>(width);
  std::vector<double> confidence(10), correct(10), count(10);
  for (std::size_t r = 0; r < truth.size(); ++r) {
    const float* row = probabilities.data() + r * w;
    const auto best = static_cast<std::size_t>(std::max_element(row, row + w) - row);
    const std::size_t bin = std::min<std::size_t>(9, static_cast<std::size_t>(row[best] * 10));
    confidence[bin] += row[best], correct[bin] += best == static_cast<std::size_t>(truth[r]) ? 1 : 0, count[bin] += 1;
  }
  nlohmann::json bins = nlohmann::json::array();
  double ece = 0;
  for (std::size_t b = 0; b < 10; ++b) {
    if (count[b] == 0) continue;
    bins.push_back({{"bin", fmt_grade(b / 10.0) + "-" + fmt_grade((b + 1) / 10.0)},
                    {"pairs", count[b]},
                    {"mean_confidence", confidence[b] / count[b]},
                    {"accuracy", correct[b] / count[b]}});
    ece += std::abs(confidence[b] - correct[b]) / static_cast<double>(truth.size());
  }
  return {{"bins", bins}, {"expected_calibration_error", ece}};
}

}  // namespace

Result<nlohmann::json> evaluate_esci(const Context& context, const EsciEvalOptions& options) {
  const auto start = Clock::now();
  Loaded loaded;
  if (!options.products.empty()) AISLE_RETURN_IF_ERROR(read_products(options.products, options.locale, &loaded));
  AISLE_RETURN_IF_ERROR(read_rows(options.train, options.locale, options.test.empty() ? "" : "train", &loaded));
  if (!options.test.empty()) AISLE_RETURN_IF_ERROR(read_rows(options.test, options.locale, "test", &loaded));
  if (loaded.rows.empty()) {
    return Status::bad_input("no usable judgments in " + options.train.string() +
                             (loaded.missing_products > 0 ? " (their products are not in --products)" : ""));
  }
  // The split.
  std::string split = "test file";
  bool has_split_column = false;
  {
    std::set<std::string> splits;
    for (const Row& row : loaded.rows) splits.insert(row.split);
    has_split_column = splits.count("train") > 0 && splits.count("test") > 0;
  }
  std::vector<const Row*> train_rows, test_rows;
  if (!options.test.empty() || has_split_column) {
    if (options.test.empty()) split = "split column";
    for (const Row& row : loaded.rows) (row.split == "test" ? test_rows : train_rows).push_back(&row);
  } else {
    split = "query-stratified dev split of the train file";
    for (const Row& row : loaded.rows) {
      const std::string key = models::query_key(row.query, row.locale) + '\t' + loaded.products[row.product].external_id;
      (held_out(key, context.seed(), options.dev_fraction) ? test_rows : train_rows).push_back(&row);
    }
  }
  if (train_rows.empty() || test_rows.empty()) return Status::bad_input("the split leaves no train or no test judgments (" + split + ")");

  // The label mode.
  bool esci = true, integer_grades = true;
  std::set<double> distinct;
  double low = std::numeric_limits<double>::infinity(), high = -low, grade_sum = 0;
  for (const Row* row : train_rows) {
    esci = esci && row->esci >= 0;
    integer_grades = integer_grades && row->grade == std::floor(row->grade);
    distinct.insert(row->grade);
    low = std::min(low, row->grade), high = std::max(high, row->grade), grade_sum += row->grade;
  }
  Mode mode = esci ? Mode::kEsci : (integer_grades && distinct.size() <= 10 ? Mode::kClasses : Mode::kGraded);
  if (options.label_mode == "classes") {
    if (esci) mode = Mode::kEsci;
    else if (distinct.size() > 64) return Status::bad_input("too many distinct grades for classes (" + std::to_string(distinct.size()) + ")");
    else mode = Mode::kClasses;
  } else if (options.label_mode == "graded") {
    mode = Mode::kGraded;
  } else if (options.label_mode != "auto") {
    return Status::bad_input("unknown label mode " + options.label_mode + " (auto, classes, graded)");
  }
  if (mode == Mode::kGraded && esci) {
    // ESCI rows carry the paper's gains as grades.
    for (const Row* row : train_rows) low = std::min(low, row->grade), high = std::max(high, row->grade);
  }
  const std::vector<double> grade_classes(distinct.begin(), distinct.end());
  models::ClassifierConfig config = options.classifier;
  config.mode = mode == Mode::kGraded ? models::LabelMode::kGraded : models::LabelMode::kClasses;
  if (mode == Mode::kEsci) config.class_names = kEsciClasses;
  if (mode == Mode::kClasses) {
    config.class_names.clear();
    for (double grade : grade_classes) config.class_names.push_back(fmt_grade(grade));
  }
  const int width = mode == Mode::kGraded ? 1 : static_cast<int>(config.class_names.size());

  models::RelevanceData data = training_data(loaded, train_rows, mode, grade_classes, low, high);
  std::vector<models::PairInput> pairs;
  for (const Row* row : test_rows) pairs.push_back(models::PairInput{row->query, row->locale, &loaded.products[row->product]});
  // Leave test queries that no tower can read out (a locale only the test has).
  std::set<std::string> languages(data.query_locales.begin(), data.query_locales.end());
  for (const text::Document& product : data.products) languages.insert(product.locale);
  {
    std::vector<models::PairInput> kept_pairs;
    std::vector<const Row*> kept_rows;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      if (languages.count(std::string(pairs[i].locale)) == 0) continue;
      kept_pairs.push_back(pairs[i]);
      kept_rows.push_back(test_rows[i]);
    }
    pairs.swap(kept_pairs);
    test_rows.swap(kept_rows);
  }

  nlohmann::json report;
  report["task"] = "esci";
  report["dataset"] = options.train.filename().string();
  double train_seconds = 0;
  report["baselines"] = nlohmann::json::object();
  if (options.neural) {
    AISLE_ASSIGN_OR_RETURN(std::vector<float> full, train_and_predict(context, config, options.training, data, pairs, &train_seconds));
    Scores main = score(mode, test_rows, full, width, grade_classes, low, high);
    report["metrics"] = main.overall;
    report["metrics"]["model"] = "neural: text towers + engagement-graph GNN";
    report["per_locale"] = main.per_locale;
  }
  if (options.neural && options.ablations) {
    models::ClassifierConfig text_only = config;
    text_only.graph.enabled = false;
    double ignored = 0;
    AISLE_ASSIGN_OR_RETURN(std::vector<float> predicted, train_and_predict(context, text_only, options.training, data, pairs, &ignored));
    Scores s = score(mode, test_rows, predicted, width, grade_classes, low, high);
    report["baselines"]["without_graph"] = s.overall;
    report["baselines_per_locale"]["without_graph"] = s.per_locale;
    std::set<std::string> locales;
    for (const Row* row : train_rows) locales.insert(row->locale);
    if (locales.size() > 1) {
      // Without pre-training: one model per locale, trained on that locale alone.
      std::vector<float> per_locale(pairs.size() * static_cast<std::size_t>(width));
      for (const std::string& locale : locales) {
        std::vector<const Row*> rows;
        for (const Row* row : train_rows) {
          if (row->locale == locale) rows.push_back(row);
        }
        models::RelevanceData local = training_data(loaded, rows, mode, grade_classes, low, high);
        std::vector<models::PairInput> local_pairs;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < pairs.size(); ++i) {
          if (pairs[i].locale == locale) local_pairs.push_back(pairs[i]), where.push_back(i);
        }
        if (local_pairs.empty()) continue;
        models::ClassifierConfig local_config = config;
        local_config.languages.clear();
        models::ClassifierTrainOptions local_training = options.training;
        local_training.finetune_epochs = 0;
        AISLE_ASSIGN_OR_RETURN(std::vector<float> predicted_local,
                               train_and_predict(context, local_config, local_training, local, local_pairs, &ignored));
        for (std::size_t k = 0; k < where.size(); ++k) {
          std::copy_n(predicted_local.begin() + static_cast<long>(k * width), width,
                      per_locale.begin() + static_cast<long>(where[k] * width));
        }
      }
      Scores no_pretraining = score(mode, test_rows, per_locale, width, grade_classes, low, high);
      report["baselines"]["without_pretraining"] = no_pretraining.overall;
      report["baselines_per_locale"]["without_pretraining"] = no_pretraining.per_locale;
    }
  }
  // The fused model: a GBDT over lexical evidence (the ranker's match features), relational
  // evidence (the labels of the query's other judged products by similarity, the product's
  // labels for other queries). It is cross-fitted over folds of the train rows cut like the
  // test is from the data: by pair for a dev split of the train file (the same queries recur),
  // by query otherwise. A train row's relational features come from the other folds' labels.
  if (options.fusion) {
    const bool by_pair = split == "query-stratified dev split of the train file";
    std::vector<int> folds(train_rows.size());
    std::vector<float> labels;
    std::vector<rank::JudgedPair> graph_pairs;
    for (std::size_t i = 0; i < train_rows.size(); ++i) {
      const Row& row = *train_rows[i];
      const std::string key = models::query_key(row.query, row.locale);
      folds[i] = static_cast<int>(hash_of(by_pair ? key + '\t' + loaded.products[row.product].external_id : key, context.seed() + 11) %
                                  kFusionFolds);
      labels.push_back(fused_label(mode, row, grade_classes, low, high));
      graph_pairs.push_back(rank::JudgedPair{key, row.product, mode == Mode::kGraded ? -1 : static_cast<int>(labels.back()),
                                             ordinal_value(mode, row), folds[i]});
    }
    const auto fusion_start = Clock::now();
    auto index = text::InvertedIndex::create();
    AISLE_RETURN_IF_ERROR(index->upsert(loaded.products, context));
    rank::FeatureOptions lexical_options;
    lexical_options.learned_text = false;
    lexical_options.engagement = false;
    rank::FeatureExtractor extractor(*index, lexical_options);
    AISLE_ASSIGN_OR_RETURN(std::vector<float> lexical_train, lexical_evidence(loaded, train_rows, *index, extractor));
    AISLE_ASSIGN_OR_RETURN(std::vector<float> lexical_test, lexical_evidence(loaded, test_rows, *index, extractor));
    AISLE_ASSIGN_OR_RETURN(auto relational, rank::RelationalIndex::create(loaded.products, mode == Mode::kGraded ? 0 : width));
    AISLE_RETURN_IF_ERROR(relational->add(graph_pairs));
    std::vector<float> relational_train, relational_test;
    for (std::size_t i = 0; i < train_rows.size(); ++i) {
      relational->features(models::query_key(train_rows[i]->query, train_rows[i]->locale), train_rows[i]->product, folds[i], &relational_train);
    }
    for (const Row* row : test_rows) relational->features(models::query_key(row->query, row->locale), row->product, -1, &relational_test);
    const std::vector<std::string> lexical_names = extractor.schema().names, relational_names = relational->names();
    // Columns of two blocks side by side.
    auto join = [](const std::vector<float>& a, std::size_t da, const std::vector<float>& b, std::size_t db) {
      const std::size_t rows = da > 0 ? a.size() / da : b.size() / db;
      std::vector<float> out;
      out.reserve(rows * (da + db));
      for (std::size_t r = 0; r < rows; ++r) {
        out.insert(out.end(), a.begin() + static_cast<long>(r * da), a.begin() + static_cast<long>((r + 1) * da));
        out.insert(out.end(), b.begin() + static_cast<long>(r * db), b.begin() + static_cast<long>((r + 1) * db));
      }
      return out;
    };
    std::vector<std::string> both_names = lexical_names;
    both_names.insert(both_names.end(), relational_names.begin(), relational_names.end());
    std::vector<int> truth;
    for (const Row* row : test_rows) truth.push_back(static_cast<int>(fused_label(mode, *row, grade_classes, low, high)));
    nlohmann::json fusion;
    auto run = [&](const std::string& name, const std::vector<std::string>& names, const std::vector<float>& x_train,
                   const std::vector<float>& x_test) -> Status {
      AISLE_ASSIGN_OR_RETURN(FusedResult fused, train_fused(context, mode, width, names, x_train, labels, folds, x_test));
      nlohmann::json metrics = score(mode, test_rows, fused.predicted, width, grade_classes, low, high).overall;
      metrics["details"] = fused.details;
      if (mode != Mode::kGraded) metrics["reliability"] = reliability(fused.probabilities, truth, width);
      if (mode == Mode::kClasses) {
        // The same probabilities decoded as the most probable class (what F1 favours).
        metrics["most_probable_class"] = score(mode, test_rows, fused.probabilities, width, grade_classes, low, high).overall;
      }
      fusion[name] = metrics;
      return Status::ok();
    };
    AISLE_RETURN_IF_ERROR(run("lexical_gbdt", lexical_names, lexical_train, lexical_test));
    AISLE_RETURN_IF_ERROR(run("relational_gbdt", relational_names, relational_train, relational_test));
    AISLE_RETURN_IF_ERROR(run("lexical_relational_gbdt", both_names, join(lexical_train, lexical_names.size(), relational_train, relational_names.size()),
                              join(lexical_test, lexical_names.size(), relational_test, relational_names.size())));
    report["fusion"] = fusion;
    report["fusion_seconds"] = seconds_since(fusion_start);
    if (!options.neural) {
      report["metrics"] = fusion["lexical_relational_gbdt"];
      report["metrics"]["model"] = "fused GBDT: lexical + relational evidence (no neural model)";
    }
  }
  if (!report.contains("metrics")) return Status::bad_input("eval esci: neither the neural model nor the fusion is asked for");
  // The trivial predictor: the train majority class, or the train mean.
  {
    std::vector<float> trivial(pairs.size() * static_cast<std::size_t>(width), 0.0f);
    if (mode == Mode::kGraded) {
      const double mean = grade_sum / static_cast<double>(train_rows.size());
      std::fill(trivial.begin(), trivial.end(), static_cast<float>(high > low ? (mean - low) / (high - low) : 0.0));
    } else {
      std::vector<int> counts(static_cast<std::size_t>(width));
      for (const models::RelevanceExample& e : data.examples) ++counts[static_cast<std::size_t>(e.label)];
      const auto majority = std::max_element(counts.begin(), counts.end()) - counts.begin();
      for (std::size_t i = 0; i < pairs.size(); ++i) trivial[i * static_cast<std::size_t>(width) + static_cast<std::size_t>(majority)] = 1;
    }
    report["baselines"][mode == Mode::kGraded ? "train_mean" : "majority_class"] =
        score(mode, test_rows, trivial, width, grade_classes, low, high).overall;
  }
  report["train_seconds"] = train_seconds;
  report["eval_seconds"] = seconds_since(start);
  report["config"] = {{"split", split},
                      {"label_mode", mode == Mode::kEsci ? "esci" : mode == Mode::kClasses ? "classes" : "graded"},
                      {"train_pairs", train_rows.size()},
                      {"test_pairs", test_rows.size()},
                      {"graph_edges", data.engagement.size()},
                      {"missing_products", loaded.missing_products},
                      {"classifier", models::classifier_config_to_json(config)},
                      {"epochs", options.training.epochs},
                      {"finetune_epochs", options.training.finetune_epochs},
                      {"seed", context.seed()},
                      {"threads", context.num_threads()}};
  return report;
}

namespace {

// Reads a CSV with a header, giving each record's fields by the named columns; errors name
// file:line:column (CsvReader).
Status read_csv(const std::filesystem::path& path, const std::vector<std::string>& columns,
                const std::function<Status(const std::vector<std::string>&, std::uint64_t)>& on_row) {
  if (!std::filesystem::exists(path)) return missing_file(path);
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::CsvReader::open(std::move(source)));
  std::vector<std::size_t> index;
  for (const std::string& column : columns) {
    auto at = reader->column(column);
    if (!at) return Status::bad_input(path.string() + ": no column '" + column + "' in the header");
    index.push_back(*at);
  }
  io::CsvRecord record;
  std::vector<std::string> fields(columns.size());
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    for (std::size_t i = 0; i < index.size(); ++i) fields[i] = record.fields[index[i]];
    AISLE_RETURN_IF_ERROR(on_row(fields, record.line));
  }
  return Status::ok();
}

// Recall@1 and @10 of finding row i of `b` from row i of `a` (unit vectors, n x d) among all
// rows of `b`.
std::pair<double, double> retrieval_recall(const std::vector<float>& a, const std::vector<float>& b, std::size_t d) {
  const std::size_t n = a.size() / d;
  double at1 = 0, at10 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto dot = [&](std::size_t j) {
      float s = 0;
      for (std::size_t k = 0; k < d; ++k) s += a[i * d + k] * b[j * d + k];
      return s;
    };
    const float own = dot(i);
    std::size_t better = 0;
    for (std::size_t j = 0; j < n; ++j) better += j != i && dot(j) > own ? 1 : 0;
    at1 += better == 0 ? 1 : 0;
    at10 += better < 10 ? 1 : 0;
  }
  return {n ? at1 / static_cast<double>(n) : 0.0, n ? at10 / static_cast<double>(n) : 0.0};
}

}  // namespace

Result<nlohmann::json> evaluate_multilingual(const Context& context, const MultilingualEvalOptions& options) {
  const auto start = Clock::now();
  struct Judged {
    std::string language, query;
    std::uint32_t category = 0;
    int label = 0;
    bool test = false;
  };
  std::vector<Judged> rows;
  models::RelevanceData base;
  std::unordered_map<std::string, std::uint32_t> categories;
  AISLE_RETURN_IF_ERROR(read_csv(options.train, {"language", "origin_query", "category_path", "label"},
                                 [&](const std::vector<std::string>& f, std::uint64_t line) -> Status {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(f[0]));
    if (f[3] != "0" && f[3] != "1") {
      return Status::bad_input(options.train.string() + ":" + std::to_string(line) + ": label: expected 0 or 1, found " + f[3]);
    }
    auto [it, inserted] = categories.try_emplace(f[2], static_cast<std::uint32_t>(base.products.size()));
    if (inserted) {
      text::Document d;
      d.external_id = f[2];
      d.locale = "en";
      std::string part;
      for (char ch : f[2] + ",") {
        if (ch == ',') {
          if (!part.empty()) d.category.push_back(part);
          part.clear();
        } else {
          part += ch;
        }
      }
      d.title = d.category.empty() ? f[2] : d.category.back();
      base.products.push_back(std::move(d));
    }
    rows.push_back(Judged{locale.code(), f[1], it->second, f[3] == "1" ? 1 : 0,
                          held_out(f[1], context.seed(), options.dev_fraction)});
    return Status::ok();
  }));
  if (rows.empty()) return Status::bad_input("no rows in " + options.train.string());

  // Examples by language; queries keyed by language and text.
  std::unordered_map<std::string, std::uint32_t> query_index;
  auto query_of = [&](const std::string& text, const std::string& language) {
    auto [it, inserted] = query_index.try_emplace(models::query_key(text, language), static_cast<std::uint32_t>(base.queries.size()));
    if (inserted) base.queries.push_back(text), base.query_locales.push_back(language);
    return it->second;
  };
  std::vector<std::size_t> test_rows;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::uint32_t q = query_of(rows[i].query, rows[i].language);
    if (rows[i].test) test_rows.push_back(i);
    else base.examples.push_back(models::RelevanceExample{q, rows[i].category, static_cast<float>(rows[i].label)});
  }
  // Parallel queries: train pairs align, held-out pairs measure retrieval.
  std::vector<std::string> held_en, held_de;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> parallel_train;
  if (!options.parallel.empty()) {
    AISLE_RETURN_IF_ERROR(read_csv(options.parallel, {"query_en", "query_de"},
                                   [&](const std::vector<std::string>& f, std::uint64_t) -> Status {
      if (f[0].empty() || f[1].empty()) return Status::ok();
      if (held_out(f[0], context.seed() ^ 0x5eed, options.dev_fraction)) {
        held_en.push_back(f[0]), held_de.push_back(f[1]);
      } else {
        parallel_train.emplace_back(query_of(f[0], "en"), query_of(f[1], "de"));
      }
      return Status::ok();
    }));
  }
  models::ClassifierConfig config = options.classifier;
  config.mode = models::LabelMode::kBinary;
  config.graph.enabled = false;  // query -> category has no engagement graph
  config.languages.clear();

  std::vector<models::PairInput> pairs;
  for (std::size_t i : test_rows) pairs.push_back(models::PairInput{rows[i].query, rows[i].language, &base.products[rows[i].category]});
  auto f1_by_language = [&](const std::vector<float>& predicted) {
    std::map<std::string, std::pair<std::vector<int>, std::vector<int>>> by_language;
    for (std::size_t k = 0; k < test_rows.size(); ++k) {
      auto& [p, t] = by_language[rows[test_rows[k]].language];
      p.push_back(predicted[k] > 0.5f ? 1 : 0);
      t.push_back(rows[test_rows[k]].label);
    }
    nlohmann::json out;
    std::vector<int> all_p, all_t;
    for (const auto& [language, pt] : by_language) {
      out[language] = classification_f1(pt.first, pt.second, 2).per_class[1];
      all_p.insert(all_p.end(), pt.first.begin(), pt.first.end());
      all_t.insert(all_t.end(), pt.second.begin(), pt.second.end());
    }
    out["all"] = classification_f1(all_p, all_t, 2).per_class[1];
    return out;
  };

  nlohmann::json report;
  report["task"] = "multilingual";
  report["dataset"] = options.train.filename().string();
  double train_seconds = 0;
  models::ClassifierTrainOptions training = options.training;
  training.alignment = false;
  // One multilingual model (the parallel queries sit in its data but do not align yet).
  AISLE_ASSIGN_OR_RETURN(auto multilingual, models::RelevanceClassifier::create(config, context));
  {
    const auto t = Clock::now();
    AISLE_ASSIGN_OR_RETURN([[maybe_unused]] auto trained, multilingual->train(base, nullptr, training, context));
    train_seconds += seconds_since(t);
  }
  AISLE_ASSIGN_OR_RETURN(std::vector<float> predicted, multilingual->predict(pairs, nullptr));
  nlohmann::json multi_f1 = f1_by_language(predicted);
  // One model per language, on that language's rows alone.
  std::vector<float> mono(pairs.size(), 0.0f);
  std::set<std::string> languages;
  for (const Judged& row : rows) languages.insert(row.language);
  for (const std::string& language : languages) {
    models::RelevanceData local;
    local.products = base.products;
    local.queries = base.queries;
    local.query_locales = base.query_locales;
    for (const models::RelevanceExample& e : base.examples) {
      if (base.query_locales[e.query] == language) local.examples.push_back(e);
    }
    if (local.examples.empty()) continue;
    models::ClassifierConfig local_config = config;
    local_config.languages = {language};
    if (language != "en") local_config.languages.push_back("en");  // the categories' language
    // Queries of other languages stay in the data (indices) but have no tower: drop them.
    models::RelevanceData kept;
    kept.products = local.products;
    std::unordered_map<std::uint32_t, std::uint32_t> remap;
    for (const models::RelevanceExample& e : local.examples) {
      auto [it, inserted] = remap.try_emplace(e.query, static_cast<std::uint32_t>(kept.queries.size()));
      if (inserted) kept.queries.push_back(local.queries[e.query]), kept.query_locales.push_back(language);
      kept.examples.push_back(models::RelevanceExample{it->second, e.product, e.label});
    }
    AISLE_ASSIGN_OR_RETURN(auto model, models::RelevanceClassifier::create(local_config, context));
    models::ClassifierTrainOptions local_training = training;
    local_training.finetune_epochs = 0;
    AISLE_ASSIGN_OR_RETURN([[maybe_unused]] auto trained, model->train(kept, nullptr, local_training, context));
    std::vector<models::PairInput> local_pairs;
    std::vector<std::size_t> where;
    for (std::size_t k = 0; k < pairs.size(); ++k) {
      if (pairs[k].locale == language) local_pairs.push_back(pairs[k]), where.push_back(k);
    }
    AISLE_ASSIGN_OR_RETURN(std::vector<float> local_predicted, model->predict(local_pairs, nullptr));
    for (std::size_t k = 0; k < where.size(); ++k) mono[where[k]] = local_predicted[k];
  }
  nlohmann::json mono_f1 = f1_by_language(mono);
  int wins = 0;
  for (const std::string& language : languages) {
    if (multi_f1.contains(language) && mono_f1.contains(language) &&
        multi_f1[language].get<double>() > mono_f1[language].get<double>()) {
      ++wins;
    }
  }
  report["metrics"] = {{"f1_by_language", multi_f1}, {"languages_won_over_per_language_models", wins},
                       {"languages", languages.size()}};
  report["baselines"] = {{"per_language_models", {{"f1_by_language", mono_f1}}}};

  if (!options.parallel.empty() && !held_en.empty()) {
    const std::size_t d = static_cast<std::size_t>(multilingual->config().encoder.dim);
    auto recall = [&](const models::RelevanceClassifier& model) -> Result<nlohmann::json> {
      AISLE_ASSIGN_OR_RETURN(std::vector<float> en, model.encode_queries(held_en, "en"));
      AISLE_ASSIGN_OR_RETURN(std::vector<float> de, model.encode_queries(held_de, "de"));
      auto [en_de1, en_de10] = retrieval_recall(en, de, d);
      auto [de_en1, de_en10] = retrieval_recall(de, en, d);
      return nlohmann::json{{"en_de_recall_at_1", en_de1}, {"en_de_recall_at_10", en_de10},
                            {"de_en_recall_at_1", de_en1}, {"de_en_recall_at_10", de_en10}};
    };
    AISLE_ASSIGN_OR_RETURN(nlohmann::json without, recall(*multilingual));
    models::RelevanceData aligned = base;
    aligned.query_alignments = parallel_train;
    models::ClassifierTrainOptions align_training = options.training;
    align_training.alignment = true;
    AISLE_ASSIGN_OR_RETURN(auto with_alignment, models::RelevanceClassifier::create(config, context));
    {
      const auto t = Clock::now();
      AISLE_ASSIGN_OR_RETURN([[maybe_unused]] auto trained, with_alignment->train(aligned, nullptr, align_training, context));
      train_seconds += seconds_since(t);
    }
    AISLE_ASSIGN_OR_RETURN(nlohmann::json with, recall(*with_alignment));
    AISLE_ASSIGN_OR_RETURN(std::vector<float> aligned_predicted, with_alignment->predict(pairs, nullptr));
    report["metrics"]["alignment"] = with;
    report["metrics"]["f1_by_language_with_alignment"] = f1_by_language(aligned_predicted);
    report["baselines"]["without_alignment"] = without;
    report["config"]["parallel_train_pairs"] = parallel_train.size();
    report["config"]["parallel_test_pairs"] = held_en.size();
  }
  report["train_seconds"] = train_seconds;
  report["eval_seconds"] = seconds_since(start);
  report["config"]["split"] = "queries held out by a seeded hash of their text";
  report["config"]["dev_fraction"] = options.dev_fraction;
  report["config"]["train_rows"] = base.examples.size();
  report["config"]["test_rows"] = test_rows.size();
  report["config"]["classifier"] = models::classifier_config_to_json(config);
  report["config"]["epochs"] = options.training.epochs;
  report["config"]["seed"] = context.seed();
  return report;
}

}  // namespace aisle::eval
