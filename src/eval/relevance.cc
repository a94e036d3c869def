#include "aisle/eval/relevance.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <unordered_map>

#include "aisle/eval/metrics.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/peers/xapian_bm25.h"
#include "aisle/text/inverted_index.h"
#include "work_dir.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Corpus {
  std::vector<text::Document> documents;
  std::unordered_map<std::string, std::uint32_t> by_external_id;
};

struct TestQuery {
  std::string text;
  std::unordered_map<std::uint32_t, double> grades;  // product number -> grade
};

Status read_judgments(const std::filesystem::path& path, const RelevanceOptions& options, Corpus* corpus,
                      std::map<std::string, TestQuery>* queries) {
  if (!std::filesystem::exists(path)) {
    return Status::not_found("evaluation data missing: " + path.string() +
                             " (the evaluation sets live under ../shared/data; see its README)");
  }
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions reader_options;
  reader_options.default_locale = options.locale;
  AISLE_ASSIGN_OR_RETURN(reader_options.format, io::detect_format(path, io::RecordKind::kJudgments, reader_options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), reader_options));
  io::JudgmentRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    if (!record.product) {
      return Status::bad_input("relevance evaluation needs judgments that carry the product's text "
                               "(Home Depot, CrowdFlower layouts)",
                               record.where);
    }
    auto [it, inserted] = corpus->by_external_id.try_emplace(
        record.product_id, static_cast<std::uint32_t>(corpus->documents.size()));
    if (inserted) {
      const io::ProductRecord& product = *record.product;
      text::Document document;
      document.product = ProductId(it->second);
      document.external_id = record.product_id;
      document.locale = product.locale.empty() ? options.locale : product.locale;
      document.title = product.title;
      document.description = product.description;
      document.brand = product.brand;
      corpus->documents.push_back(std::move(document));
    }
    if (queries != nullptr) {
      TestQuery& query = (*queries)[record.query];
      query.text = record.query;
      query.grades[it->second] = record.grade;
    }
  }
  return Status::ok();
}

struct Accumulator {
  double ndcg = 0, mrr = 0, recall = 0, seconds = 0;
  int ndcg_queries = 0, relevant_queries = 0, queries = 0;

  void add(const TestQuery& query, const std::vector<std::uint32_t>& ranked, double min_grade,
           const RelevanceOptions& options, double elapsed) {
    std::vector<double> gains, ideal;
    std::vector<std::uint8_t> relevant_bytes;
    int total_relevant = 0;
    for (const auto& [product, grade] : query.grades) {
      ideal.push_back(grade - min_grade);
      if (grade >= options.relevant_min_grade) ++total_relevant;
    }
    for (std::uint32_t product : ranked) {
      auto found = query.grades.find(product);
      double grade = found == query.grades.end() ? min_grade : found->second;
      gains.push_back(grade - min_grade);
      relevant_bytes.push_back(found != query.grades.end() && grade >= options.relevant_min_grade ? 1 : 0);
    }
    std::unique_ptr<bool[]> relevant_storage(new bool[relevant_bytes.size() + 1]);
    for (std::size_t i = 0; i < relevant_bytes.size(); ++i) relevant_storage[i] = relevant_bytes[i] != 0;
    std::span<const bool> relevant(relevant_storage.get(), relevant_bytes.size());
    ++queries;
    seconds += elapsed;
    if (std::any_of(ideal.begin(), ideal.end(), [](double g) { return g > 0; })) {
      ndcg += ndcg_at(gains, ideal, 10);
      ++ndcg_queries;
    }
    if (total_relevant > 0) {
      mrr += reciprocal_rank_at(relevant, 10);
      recall += recall_at(relevant, total_relevant, options.depth);
      ++relevant_queries;
    }
  }

  nlohmann::json report(int depth) const {
    return {{"ndcg@10", ndcg_queries ? ndcg / ndcg_queries : 0.0},
            {"mrr@10", relevant_queries ? mrr / relevant_queries : 0.0},
            {"recall@" + std::to_string(depth), relevant_queries ? recall / relevant_queries : 0.0},
            {"queries", queries},
            {"queries_with_relevant", relevant_queries},
            {"mean_query_ms", queries ? 1000.0 * seconds / queries : 0.0}};
  }
};

}  // namespace

Result<nlohmann::json> evaluate_relevance(const Context& context, const RelevanceOptions& options) {
  Corpus corpus;
  std::map<std::string, TestQuery> queries;
  AISLE_RETURN_IF_ERROR(read_judgments(options.train, options, &corpus, nullptr));
  AISLE_RETURN_IF_ERROR(read_judgments(options.test, options, &corpus, &queries));
  if (queries.empty()) return Status::bad_input("no judgments in " + options.test.string());
  double min_grade = std::numeric_limits<double>::infinity();
  for (const auto& [text, query] : queries) {
    for (const auto& [product, grade] : query.grades) min_grade = std::min(min_grade, grade);
  }

  const auto build_start = Clock::now();
  auto index = text::InvertedIndex::create();
  AISLE_RETURN_IF_ERROR(index->upsert(corpus.documents, context));
  const double build_seconds = seconds_since(build_start);

  WorkDir work_dir(options.work_dir, "aisle-eval");

  AISLE_ASSIGN_OR_RETURN(auto analyzer, text::Analyzer::create(options.locale));
  const auto xapian_start = Clock::now();
  AISLE_ASSIGN_OR_RETURN(auto xapian_terms, peers::XapianBm25::create(work_dir.path() / "xapian-aisle-terms"));
  AISLE_ASSIGN_OR_RETURN(auto xapian_own, peers::XapianBm25::create(work_dir.path() / "xapian-own-analyzer"));
  for (const text::Document& document : corpus.documents) {
    std::string text = document.title + "\n" + document.description;
    AISLE_RETURN_IF_ERROR(xapian_terms->add_terms(analyzer->terms(text)));
    AISLE_RETURN_IF_ERROR(xapian_own->add_text(text));
  }
  AISLE_RETURN_IF_ERROR(xapian_terms->commit());
  AISLE_RETURN_IF_ERROR(xapian_own->commit());
  const double xapian_build_seconds = seconds_since(xapian_start);

  const auto eval_start = Clock::now();
  Accumulator aisle, aisle_no_typos, aisle_exhaustive_check, xapian_same_terms, xapian_own_analyzer;
  int exact_mismatches = 0;
  for (const auto& [text, query] : queries) {
    text::SearchOptions search;
    search.locale = options.locale;
    search.k = options.depth;
    auto start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(text::SearchResult result, index->search(text, search));
    double elapsed = seconds_since(start);
    std::vector<std::uint32_t> ranked;
    for (const text::Hit& hit : result.hits) ranked.push_back(hit.product.value());
    aisle.add(query, ranked, min_grade, options, elapsed);

    search.algorithm = text::TopKAlgorithm::kExhaustive;
    AISLE_ASSIGN_OR_RETURN(text::SearchResult exhaustive, index->search(text, search));
    bool same = exhaustive.hits.size() == result.hits.size();
    for (std::size_t i = 0; same && i < result.hits.size(); ++i) {
      same = exhaustive.hits[i].product == result.hits[i].product && exhaustive.hits[i].score == result.hits[i].score;
    }
    if (!same) ++exact_mismatches;

    search.algorithm = text::TopKAlgorithm::kBlockMaxWand;
    search.typo.enabled = false;
    start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(result, index->search(text, search));
    elapsed = seconds_since(start);
    ranked.clear();
    for (const text::Hit& hit : result.hits) ranked.push_back(hit.product.value());
    aisle_no_typos.add(query, ranked, min_grade, options, elapsed);

    std::vector<std::string> terms = analyzer->terms(text);
    start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(auto hits, xapian_terms->search_terms(terms, options.depth));
    elapsed = seconds_since(start);
    ranked.clear();
    for (const auto& hit : hits) ranked.push_back(hit.doc);
    xapian_same_terms.add(query, ranked, min_grade, options, elapsed);

    start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(hits, xapian_own->search_text(text, options.depth));
    elapsed = seconds_since(start);
    ranked.clear();
    for (const auto& hit : hits) ranked.push_back(hit.doc);
    xapian_own_analyzer.add(query, ranked, min_grade, options, elapsed);
  }
  const double eval_seconds = seconds_since(eval_start);

  nlohmann::json report;
  report["task"] = "relevance";
  report["dataset"] = options.test.string();
  report["metrics"] = aisle.report(options.depth);
  report["metrics"]["wand_equals_exhaustive_queries"] = static_cast<int>(queries.size()) - exact_mismatches;
  report["baselines"] = {{"aisle-lexical-no-typos", aisle_no_typos.report(options.depth)},
                         {"xapian-bm25-aisle-terms", xapian_same_terms.report(options.depth)},
                         {"xapian-bm25-own-analyzer", xapian_own_analyzer.report(options.depth)}};
  report["train_seconds"] = build_seconds;
  report["eval_seconds"] = eval_seconds;
  const text::IndexStats stats = index->stats();
  report["config"] = {{"train", options.train.string()},
                      {"test", options.test.string()},
                      {"corpus_products", corpus.documents.size()},
                      {"test_queries", queries.size()},
                      {"relevant_min_grade", options.relevant_min_grade},
                      {"gain", "grade - " + std::to_string(min_grade)},
                      {"depth", options.depth},
                      {"locale", options.locale},
                      {"strategy", "lexical: BM25F + typo tolerance, block-max WAND"},
                      {"index_bytes", stats.total_bytes},
                      {"xapian_build_seconds", xapian_build_seconds},
                      {"xapian", "BM25Weight(k1=1.2, k2=0, k3=1, b=0.75, min_normlen=0.5), OR query"}};
  return report;
}

}  // namespace aisle::eval
