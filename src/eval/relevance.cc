#include "aisle/eval/relevance.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <unordered_map>

#include "aisle/eval/metrics.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/peers/xapian_bm25.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/vector/vector_index.h"
#include "aisle/text/inverted_index.h"
#include "judgment_corpus.h"
#include "ranking_accumulator.h"
#include "work_dir.h"

namespace aisle::eval {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Result<nlohmann::json> evaluate_relevance(const Context& context, const RelevanceOptions& options) {
  Corpus corpus;
  std::map<std::string, TestQuery> queries;
  std::map<std::string, TestQuery> train_queries;
  AISLE_RETURN_IF_ERROR(read_judgments(options.train, options.locale, &corpus, &train_queries));
  AISLE_RETURN_IF_ERROR(read_judgments(options.test, options.locale, &corpus, &queries));
  if (queries.empty()) return Status::bad_input("no judgments in " + options.test.string());
  double min_grade = std::numeric_limits<double>::infinity();
  for (const auto& [text, query] : queries) {
    for (const auto& [product, grade] : query.grades) min_grade = std::min(min_grade, grade);
  }

  const auto build_start = Clock::now();
  auto index = text::InvertedIndex::create();
  AISLE_RETURN_IF_ERROR(index->upsert(corpus.documents, context));
  const double build_seconds = seconds_since(build_start);

  // The vector strategy: the encoder learns from the train judgments only.
  const bool with_vectors = options.training.epochs > 0;
  std::unique_ptr<models::TextEncoder> encoder;
  std::unique_ptr<vector::VectorIndex> hnsw, exact;
  double encoder_seconds = 0, vector_build_seconds = 0;
  models::TrainReport train_report;
  if (with_vectors) {
    const auto train_start = Clock::now();
    models::TrainingSet training = training_set(corpus, train_queries, options.locale);
    AISLE_ASSIGN_OR_RETURN(encoder, models::TextEncoder::create(options.encoder, context));
    AISLE_ASSIGN_OR_RETURN(train_report, encoder->train(training, options.training, context));
    encoder_seconds = seconds_since(train_start);

    const auto vector_start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(std::vector<float> vectors, encoder->encode_products(corpus.documents));
    vector::VectorIndexOptions vector_options;
    vector_options.dim = encoder->dim();
    vector_options.seed = context.seed();
    AISLE_ASSIGN_OR_RETURN(hnsw, vector::VectorIndex::create(vector_options));
    vector_options.kind = vector::IndexKind::kExact;
    AISLE_ASSIGN_OR_RETURN(exact, vector::VectorIndex::create(vector_options));
    std::vector<vector::VectorItem> items;
    const std::size_t dim = static_cast<std::size_t>(encoder->dim());
    for (std::size_t i = 0; i < corpus.documents.size(); ++i) {
      items.push_back(vector::VectorItem{corpus.documents[i].product, corpus.documents[i].locale, "",
                                         std::span<const float>(vectors.data() + i * dim, dim)});
    }
    AISLE_RETURN_IF_ERROR(hnsw->add(items, context));
    AISLE_RETURN_IF_ERROR(exact->add(items, context));
    vector_build_seconds = seconds_since(vector_start);
  }

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

  const RankingCutoffs cutoffs{options.relevant_min_grade, options.depth};
  const auto eval_start = Clock::now();
  Accumulator aisle, aisle_no_typos, xapian_same_terms, xapian_own_analyzer, vector_hnsw, vector_exact, hybrid;
  double union_recall = 0;
  int union_queries = 0;
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
    aisle.add(query, ranked, min_grade, cutoffs, elapsed);
    const double lexical_elapsed = elapsed;

    if (with_vectors) {
      retrieve::RankedList lists[2];
      lists[0].strategy = retrieve::kFoundLexical;
      for (const text::Hit& hit : result.hits) {
        lists[0].products.push_back(hit.product);
        lists[0].scores.push_back(hit.score);
      }
      vector::VectorSearchOptions vector_search;
      vector_search.k = options.depth;
      vector_search.ef = std::max(options.vector_ef, options.depth);
      start = Clock::now();
      std::string query_text = text;
      AISLE_ASSIGN_OR_RETURN(std::vector<float> query_vector,
                             encoder->encode_queries(std::span<const std::string>(&query_text, 1), options.locale));
      AISLE_ASSIGN_OR_RETURN(std::vector<vector::Neighbor> neighbours, hnsw->search(query_vector, vector_search));
      const double vector_elapsed = seconds_since(start);
      std::vector<std::uint32_t> vector_ranked;
      lists[1].strategy = retrieve::kFoundVector;
      for (const vector::Neighbor& n : neighbours) {
        vector_ranked.push_back(n.product.value());
        lists[1].products.push_back(n.product);
        lists[1].scores.push_back(n.score);
      }
      vector_hnsw.add(query, vector_ranked, min_grade, cutoffs, vector_elapsed);
      AISLE_ASSIGN_OR_RETURN(neighbours, exact->search(query_vector, vector_search));
      std::vector<std::uint32_t> exact_ranked;
      for (const vector::Neighbor& n : neighbours) exact_ranked.push_back(n.product.value());
      vector_exact.add(query, exact_ranked, min_grade, cutoffs, vector_elapsed);

      start = Clock::now();
      std::vector<retrieve::FusedHit> fused = retrieve::fuse(lists, static_cast<std::size_t>(options.depth), options.rrf_k);
      std::vector<std::uint32_t> fused_ranked;
      for (const retrieve::FusedHit& hit : fused) fused_ranked.push_back(hit.product.value());
      hybrid.add(query, fused_ranked, min_grade, cutoffs, lexical_elapsed + vector_elapsed + seconds_since(start));

      // Recall of the whole candidate union (up to 2 x depth products), before any ranking.
      std::set<std::uint32_t> candidates(ranked.begin(), ranked.end());
      candidates.insert(vector_ranked.begin(), vector_ranked.end());
      int relevant = 0, found = 0;
      for (const auto& [product, grade] : query.grades) {
        if (grade < options.relevant_min_grade) continue;
        ++relevant;
        found += candidates.count(product) ? 1 : 0;
      }
      if (relevant > 0) {
        union_recall += static_cast<double>(found) / relevant;
        ++union_queries;
      }
    }

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
    aisle_no_typos.add(query, ranked, min_grade, cutoffs, elapsed);

    std::vector<std::string> terms = analyzer->terms(text);
    start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(auto hits, xapian_terms->search_terms(terms, options.depth));
    elapsed = seconds_since(start);
    ranked.clear();
    for (const auto& hit : hits) ranked.push_back(hit.doc);
    xapian_same_terms.add(query, ranked, min_grade, cutoffs, elapsed);

    start = Clock::now();
    AISLE_ASSIGN_OR_RETURN(hits, xapian_own->search_text(text, options.depth));
    elapsed = seconds_since(start);
    ranked.clear();
    for (const auto& hit : hits) ranked.push_back(hit.doc);
    xapian_own_analyzer.add(query, ranked, min_grade, cutoffs, elapsed);
  }
  const double eval_seconds = seconds_since(eval_start);

  nlohmann::json report;
  report["task"] = "relevance";
  report["dataset"] = options.test.string();
  nlohmann::json lexical = aisle.report(options.depth);
  lexical["wand_equals_exhaustive_queries"] = static_cast<int>(queries.size()) - exact_mismatches;
  report["baselines"] = {{"aisle-lexical", lexical},
                         {"aisle-lexical-no-typos", aisle_no_typos.report(options.depth)},
                         {"xapian-bm25-aisle-terms", xapian_same_terms.report(options.depth)},
                         {"xapian-bm25-own-analyzer", xapian_own_analyzer.report(options.depth)}};
  if (with_vectors) {
    report["metrics"] = hybrid.report(options.depth);
    report["metrics"]["strategy"] = "hybrid: lexical + vector, reciprocal rank fusion";
    report["metrics"]["union_candidates_recall"] = union_queries ? union_recall / union_queries : 0.0;
    report["baselines"]["aisle-vector"] = vector_hnsw.report(options.depth);
    report["baselines"]["aisle-vector-exact"] = vector_exact.report(options.depth);
  } else {
    report["metrics"] = lexical;
    report["metrics"]["strategy"] = "lexical";
  }
  report["train_seconds"] = build_seconds + encoder_seconds + vector_build_seconds;
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
                      {"xapian", "BM25Weight(k1=1.2, k2=0, k3=1, b=0.75, min_normlen=0.5), OR query"},
                      {"lexical_build_seconds", build_seconds}};
  if (with_vectors) {
    report["config"]["encoder"] = models::config_to_json(options.encoder);
    report["config"]["encoder_parameters"] = encoder->parameters();
    report["config"]["training"] = {{"epochs", options.training.epochs},
                                    {"batch_size", options.training.batch_size},
                                    {"learning_rate", options.training.learning_rate},
                                    {"temperature", options.training.temperature},
                                    {"positive_grade", options.training.positive_grade},
                                    {"hard_negatives_per_query", options.training.hard_negatives_per_query},
                                    {"train_queries", train_queries.size()},
                                    {"positives", train_report.positives},
                                    {"hard_negatives", train_report.hard_negatives},
                                    {"epoch_loss", train_report.epoch_loss},
                                    {"epoch_seconds", train_report.epoch_seconds},
                                    {"threads", context.num_threads()}};
    report["config"]["encoder_train_seconds"] = encoder_seconds;
    report["config"]["vector_build_seconds"] = vector_build_seconds;
    report["config"]["vector_ef"] = std::max(options.vector_ef, options.depth);
    report["config"]["rrf_k"] = options.rrf_k;
  }
  return report;
}

}  // namespace aisle::eval
