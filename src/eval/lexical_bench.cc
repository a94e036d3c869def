#include "aisle/eval/lexical_bench.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/peers/xapian_bm25.h"
#include "aisle/text/inverted_index.h"
#include "work_dir.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::string lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

const std::set<std::string>& color_words() {
  static const auto* words = new std::set<std::string>{
      "white", "black", "brown", "gray", "grey", "silver", "red", "blue", "green", "yellow", "orange", "bronze",
      "beige", "tan", "ivory", "chrome", "nickel", "brass", "copper", "gold", "clear", "natural", "pink", "purple"};
  return *words;
}

// Token statistics of real titles, and the generator that recombines them.
class CatalogModel {
 public:
  void add_title(const std::string& title) {
    std::vector<std::string> tokens;
    std::size_t start = 0;
    while (start < title.size()) {
      std::size_t end = title.find(' ', start);
      if (end == std::string::npos) end = title.size();
      if (end > start) tokens.push_back(title.substr(start, end - start));
      start = end + 1;
    }
    if (tokens.empty()) return;
    ++lengths_[std::min<std::size_t>(tokens.size(), 40)];
    ++brands_[tokens.front()];
    for (std::size_t i = 1; i < tokens.size(); ++i) {
      ++words_[tokens[i]];
      if (color_words().contains(lower(tokens[i]))) ++colors_[tokens[i]];
    }
  }

  void finish(std::uint64_t seed) {
    auto table = [](const std::unordered_map<std::string, std::int64_t>& counts, std::vector<std::string>* values,
                    std::discrete_distribution<std::size_t>* distribution) {
      std::vector<std::pair<std::string, std::int64_t>> sorted(counts.begin(), counts.end());
      std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      });
      std::vector<double> weights;
      for (auto& [value, count] : sorted) {
        values->push_back(value);
        weights.push_back(static_cast<double>(count));
      }
      *distribution = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
    };
    table(words_, &word_values_, &word_distribution_);
    table(brands_, &brand_values_, &brand_distribution_);
    table(colors_, &color_values_, &color_distribution_);
    std::vector<double> length_weights(41, 0.0);
    for (auto& [length, count] : lengths_) length_weights[length] = static_cast<double>(count);
    length_distribution_ = std::discrete_distribution<std::size_t>(length_weights.begin(), length_weights.end());
    // Categories: 40 departments x 12 sections named after frequent title words.
    for (std::size_t i = 0; i < 40 && i < word_values_.size(); ++i) departments_.push_back(word_values_[i * 3 % word_values_.size()]);
    for (std::size_t i = 0; i < 12 && i < word_values_.size(); ++i) sections_.push_back(word_values_[(i * 7 + 50) % word_values_.size()]);
    random_.seed(seed);
  }

  std::size_t vocabulary() const { return word_values_.size(); }

  text::Document next(std::uint32_t id) {
    text::Document document;
    document.product = ProductId(id);
    document.external_id = "S" + std::to_string(id);
    document.locale = "en";
    document.brand = brand_values_[brand_distribution_(random_)];
    std::size_t length = std::max<std::size_t>(2, length_distribution_(random_));
    document.title = document.brand;
    for (std::size_t i = 1; i < length; ++i) {
      document.title += ' ';
      document.title += word_values_[word_distribution_(random_)];
    }
    if (!color_values_.empty() && random_() % 2 == 0) document.color = color_values_[color_distribution_(random_)];
    if (!departments_.empty()) {
      document.category = {departments_[random_() % departments_.size()], sections_[random_() % sections_.size()]};
    }
    std::lognormal_distribution<double> price(3.5, 1.0);
    document.price = std::round(price(random_) * 100) / 100;
    std::uniform_real_distribution<double> uniform(1e-6, 1.0);
    document.popularity = std::floor(std::pow(uniform(random_), -1.0 / 1.2));  // Pareto, alpha 1.2
    return document;
  }

 private:
  std::unordered_map<std::string, std::int64_t> words_, brands_, colors_;
  std::unordered_map<std::size_t, std::int64_t> lengths_;
  std::vector<std::string> word_values_, brand_values_, color_values_, departments_, sections_;
  std::discrete_distribution<std::size_t> word_distribution_, brand_distribution_, color_distribution_,
      length_distribution_;
  std::mt19937_64 random_;
};

Status read_source(const std::filesystem::path& path, CatalogModel* model, std::vector<std::string>* queries,
                   std::unordered_set<std::string>* seen_queries) {
  if (!std::filesystem::exists(path)) {
    return Status::not_found("benchmark source data missing: " + path.string() +
                             " (the Home Depot set lives under ../shared/data/relevance/homedepot; see its README)");
  }
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions options;
  AISLE_ASSIGN_OR_RETURN(options.format, io::detect_format(path, io::RecordKind::kJudgments, options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), options));
  std::unordered_set<std::string> seen_titles;
  io::JudgmentRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    if (model != nullptr && record.product && seen_titles.insert(record.product->title).second) {
      model->add_title(record.product->title);
    }
    if (seen_queries->insert(record.query).second) queries->push_back(record.query);
  }
  return Status::ok();
}

struct Latency {
  std::vector<double> samples_ms;
  nlohmann::json report() {
    std::sort(samples_ms.begin(), samples_ms.end());
    double total = 0;
    for (double sample : samples_ms) total += sample;
    auto at = [&](double q) {
      if (samples_ms.empty()) return 0.0;
      return samples_ms[std::min(samples_ms.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples_ms.size())))];
    };
    return {{"mean_ms", samples_ms.empty() ? 0.0 : total / static_cast<double>(samples_ms.size())},
            {"p50_ms", at(0.5)},
            {"p99_ms", at(0.99)},
            {"queries", samples_ms.size()}};
  }
};

Status dump(const std::filesystem::path& dir, CatalogModel model, std::int64_t documents,
            const std::vector<std::string>& queries) {
  std::filesystem::create_directories(dir);
  std::ofstream catalog(dir / "catalog.jsonl");
  for (std::int64_t i = 0; i < documents; ++i) {
    text::Document d = model.next(static_cast<std::uint32_t>(i));
    nlohmann::json row = {{"id", d.external_id}, {"locale", d.locale}, {"title", d.title}, {"brand", d.brand},
                          {"category", d.category}, {"price", *d.price}, {"popularity", *d.popularity}};
    if (!d.color.empty()) row["color"] = d.color;
    catalog << row.dump() << '\n';
  }
  std::ofstream query_file(dir / "queries.jsonl");
  for (const std::string& query : queries) query_file << nlohmann::json{{"query", query}}.dump() << '\n';
  if (!catalog || !query_file) return Status::io_error("cannot write the benchmark dump to " + dir.string());
  return Status::ok();
}

}  // namespace

Result<nlohmann::json> run_lexical_bench(const Context& context, const LexicalBenchOptions& options) {
  CatalogModel model;
  std::vector<std::string> queries;
  std::unordered_set<std::string> seen_queries;
  AISLE_RETURN_IF_ERROR(read_source(options.source_dir / "train.csv", &model, &queries, &seen_queries));
  AISLE_RETURN_IF_ERROR(read_source(options.source_dir / "dev.csv", nullptr, &queries, &seen_queries));
  model.finish(options.seed);
  std::mt19937_64 shuffle(options.seed + 1);
  std::shuffle(queries.begin(), queries.end(), shuffle);
  if (queries.size() > static_cast<std::size_t>(options.max_queries)) queries.resize(static_cast<std::size_t>(options.max_queries));
  if (!options.dump_dir.empty()) AISLE_RETURN_IF_ERROR(dump(options.dump_dir, model, options.documents, queries));

  nlohmann::json report;
  report["bench"] = "lexical";
  report["config"] = {{"documents", options.documents}, {"seed", options.seed}, {"queries", queries.size()},
                      {"source", options.source_dir.string()}, {"vocabulary_source_tokens", model.vocabulary()},
                      {"threads", 1}, {"typo_tolerance_in_headline", false}};

  // Aisle: build in batches as an indexer would, then merge to one segment.
  const std::int64_t batch_size = 100000;
  text::IndexOptions index_options;
  index_options.max_segments = 64;
  auto index = text::InvertedIndex::create(index_options);
  CatalogModel generator = model;
  double build_seconds = 0;
  for (std::int64_t done = 0; done < options.documents;) {
    std::vector<text::Document> batch;
    for (; done < options.documents && static_cast<std::int64_t>(batch.size()) < batch_size; ++done) {
      batch.push_back(generator.next(static_cast<std::uint32_t>(done)));
    }
    auto start = Clock::now();
    AISLE_RETURN_IF_ERROR(index->upsert(batch, context));
    build_seconds += seconds_since(start);
    context.logger().info("aisle: indexed {} of {} documents", done, options.documents);
  }
  auto merge_start = Clock::now();
  index->compact();
  build_seconds += seconds_since(merge_start);
  const text::IndexStats stats = index->stats();

  Latency top10, top100, top10_typos;
  int exact_equal = 0, exact_checked = 0;
  text::SearchOptions search;
  search.typo.enabled = false;
  for (const std::string& query : queries) (void)index->search(query, search);  // warm-up
  for (std::size_t i = 0; i < queries.size(); ++i) {
    for (int k : {10, 100}) {
      search.k = k;
      search.algorithm = text::TopKAlgorithm::kBlockMaxWand;
      auto start = Clock::now();
      AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(queries[i], search));
      (k == 10 ? top10 : top100).samples_ms.push_back(1000 * seconds_since(start));
      if (static_cast<int>(i) < options.exact_check_queries) {
        search.algorithm = text::TopKAlgorithm::kExhaustive;
        AISLE_ASSIGN_OR_RETURN(text::SearchResult exact, index->search(queries[i], search));
        bool same = exact.hits.size() == result.hits.size();
        for (std::size_t h = 0; same && h < exact.hits.size(); ++h) {
          same = exact.hits[h].product == result.hits[h].product && exact.hits[h].score == result.hits[h].score;
        }
        exact_equal += same ? 1 : 0;
        ++exact_checked;
      }
    }
    text::SearchOptions typos;
    typos.k = 10;
    auto start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(queries[i], typos));
    top10_typos.samples_ms.push_back(1000 * seconds_since(start));
  }
  report["results"] = {{"documents", stats.documents},
                       {"build_seconds", build_seconds},
                       {"build_documents_per_second", static_cast<double>(options.documents) / build_seconds},
                       {"index_bytes", stats.total_bytes},
                       {"postings", stats.postings},
                       {"terms", stats.terms},
                       {"peak_rss_mb", peak_rss_mb()},
                       {"top10", top10.report()},
                       {"top100", top100.report()},
                       {"top10_with_typo_tolerance", top10_typos.report()},
                       {"exact_topk_equal", std::to_string(exact_equal) + "/" + std::to_string(exact_checked)}};
  index.reset();

  if (options.xapian) {
    WorkDir work_dir(options.work_dir, "aisle-bench");
    AISLE_ASSIGN_OR_RETURN(auto analyzer, text::Analyzer::create("en"));
    AISLE_ASSIGN_OR_RETURN(auto xapian, peers::XapianBm25::create(work_dir.path() / "xapian"));
    CatalogModel again = model;
    double analysis_seconds = 0, xapian_build_seconds = 0;
    std::vector<std::string> terms;
    for (std::int64_t i = 0; i < options.documents; ++i) {
      text::Document d = again.next(static_cast<std::uint32_t>(i));
      auto start = Clock::now();
      terms.clear();
      for (const std::string* field : {&d.title, &d.brand, &d.color}) {
        for (std::string& term : analyzer->terms(*field)) terms.push_back(std::move(term));
      }
      for (const std::string& level : d.category) {
        for (std::string& term : analyzer->terms(level)) terms.push_back(std::move(term));
      }
      analysis_seconds += seconds_since(start);
      start = Clock::now();
      AISLE_RETURN_IF_ERROR(xapian->add_terms(terms));
      xapian_build_seconds += seconds_since(start);
      if ((i + 1) % 200000 == 0) context.logger().info("xapian: indexed {} of {} documents", i + 1, options.documents);
    }
    auto start = Clock::now();
    AISLE_RETURN_IF_ERROR(xapian->commit());
    xapian_build_seconds += seconds_since(start);
    std::vector<std::vector<std::string>> analyzed;
    for (const std::string& query : queries) analyzed.push_back(analyzer->terms(query));
    Latency x10, x100;
    for (const auto& query : analyzed) (void)xapian->search_terms(query, 10);  // warm-up
    for (const auto& query : analyzed) {
      for (int k : {10, 100}) {
        auto begin = Clock::now();
        AISLE_ASSIGN_OR_RETURN(auto hits, xapian->search_terms(query, k));
        (k == 10 ? x10 : x100).samples_ms.push_back(1000 * seconds_since(begin));
      }
    }
    report["peers"]["xapian"] = {{"build_seconds_terms_given", xapian_build_seconds},
                                 {"build_documents_per_second_terms_given",
                                  static_cast<double>(options.documents) / xapian_build_seconds},
                                 {"aisle_analysis_seconds_for_these_documents", analysis_seconds},
                                 {"disk_bytes", xapian->disk_bytes()},
                                 {"top10", x10.report()},
                                 {"top100", x100.report()},
                                 {"note", "queries analyzed by Aisle before timing (Aisle's latencies include analysis)"}};
    const double aisle10 = report["results"]["top10"]["mean_ms"].get<double>();
    const double xapian10 = report["peers"]["xapian"]["top10"]["mean_ms"].get<double>();
    report["results"]["top10_mean_vs_xapian"] = xapian10 > 0 ? aisle10 / xapian10 : 0.0;
  }
  return report;
}

}  // namespace aisle::eval
