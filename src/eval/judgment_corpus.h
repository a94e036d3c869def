// Judgment files whose rows carry the product's text (Home Depot, CrowdFlower) as a corpus of
// documents and graded queries, for the relevance evaluation and the vector benchmark.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "aisle/core/status.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/models/text_encoder.h"
#include "aisle/text/document.h"

namespace aisle::eval {

struct Corpus {
  std::vector<text::Document> documents;
  std::unordered_map<std::string, std::uint32_t> by_external_id;
};

struct TestQuery {
  std::string text;
  std::unordered_map<std::uint32_t, double> grades;  // product number -> grade
};

// need_text = false: rows without product text are read too (their documents carry only the
// external id), for callers that find the products elsewhere (the store).
inline Status read_judgments(const std::filesystem::path& path, const std::string& locale, Corpus* corpus,
                      std::map<std::string, TestQuery>* queries, bool need_text = true) {
  if (!std::filesystem::exists(path)) {
    return Status::not_found("evaluation data missing: " + path.string() +
                             " (the evaluation sets live under ../shared/data; see its README)");
  }
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  io::ReaderOptions reader_options;
  reader_options.default_locale = locale;
  AISLE_ASSIGN_OR_RETURN(reader_options.format, io::detect_format(path, io::RecordKind::kJudgments, reader_options.text));
  AISLE_ASSIGN_OR_RETURN(auto reader, io::open_judgment_reader(std::move(source), reader_options));
  io::JudgmentRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    if (!record.product && need_text) {
      return Status::bad_input("relevance evaluation needs judgments that carry the product's text "
                               "(Home Depot, CrowdFlower layouts)",
                               record.where);
    }
    auto [it, inserted] = corpus->by_external_id.try_emplace(
        record.product_id, static_cast<std::uint32_t>(corpus->documents.size()));
    if (inserted && !record.product) {
      text::Document document;
      document.product = ProductId(it->second);
      document.external_id = record.product_id;
      document.locale = record.locale.empty() ? locale : record.locale;
      corpus->documents.push_back(std::move(document));
    } else if (inserted) {
      const io::ProductRecord& product = *record.product;
      text::Document document;
      document.product = ProductId(it->second);
      document.external_id = record.product_id;
      document.locale = product.locale.empty() ? locale : product.locale;
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

// The encoder's training set: every corpus product, and each judged (query, product) pair with
// its grade scaled to 0..1 by the range of grades in `queries`.
inline models::TrainingSet training_set(const Corpus& corpus, const std::map<std::string, TestQuery>& queries,
                                        const std::string& locale) {
  models::TrainingSet training;
  training.products = corpus.documents;
  double low = std::numeric_limits<double>::infinity(), high = -low;
  for (const auto& [text, query] : queries) {
    for (const auto& [product, grade] : query.grades) low = std::min(low, grade), high = std::max(high, grade);
  }
  for (const auto& [text, query] : queries) {
    auto q = static_cast<std::uint32_t>(training.queries.size());
    training.queries.push_back(text);
    training.query_locales.push_back(locale);
    for (const auto& [product, grade] : query.grades) {
      training.pairs.push_back(
          models::TrainingPair{q, product, high > low ? static_cast<float>((grade - low) / (high - low)) : 1.0f});
    }
  }
  return training;
}

}  // namespace aisle::eval
