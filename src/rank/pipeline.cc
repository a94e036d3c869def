#include "aisle/rank/pipeline.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "aisle/rank/esci.h"

namespace aisle::rank {

std::filesystem::path ranker_path(const std::filesystem::path& data_dir) { return data_dir / "models" / "ranker.bin"; }

bool passes(const text::Filter& filter, const io::ProductRecord& record) {
  auto one_of = [](const std::vector<std::string>& allowed, const std::string& value) {
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), value) != allowed.end();
  };
  if (!one_of(filter.brands, record.brand) || !one_of(filter.colors, record.color)) return false;
  if (!one_of(filter.locales, record.locale)) return false;
  if (filter.min_price && (!record.price || *record.price < *filter.min_price)) return false;
  if (filter.max_price && (!record.price || *record.price > *filter.max_price)) return false;
  if (!filter.categories.empty()) {
    std::string path = text::category_path_string(record.category);
    bool any = false;
    for (const std::string& prefix : filter.categories) {
      any = any || path == prefix || path.starts_with(prefix + " > ");
    }
    if (!any) return false;
  }
  return true;
}

SearchPipeline::~SearchPipeline() = default;

Result<std::unique_ptr<SearchPipeline>> SearchPipeline::open(const std::filesystem::path& data_dir,
                                                             const Context& context, bool load_ranker) {
  auto pipeline = std::unique_ptr<SearchPipeline>(new SearchPipeline());
  store::StoreOptions store_options;
  store_options.read_only = true;
  AISLE_ASSIGN_OR_RETURN(pipeline->store_, store::Store::open(data_dir, store_options));
  AISLE_ASSIGN_OR_RETURN(pipeline->catalog_, retrieve::open_lexical(data_dir));
  if (std::filesystem::exists(retrieve::vector_index_path(data_dir) / "MANIFEST.json")) {
    AISLE_ASSIGN_OR_RETURN(pipeline->vectors_, retrieve::VectorStrategy::open(data_dir, context));
  }
  pipeline->extractor_ = std::make_unique<FeatureExtractor>(*pipeline->catalog_.index);
  if (load_ranker && std::filesystem::exists(ranker_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(pipeline->ranker_, Ranker::load(ranker_path(data_dir)));
    AISLE_RETURN_IF_ERROR(pipeline->ranker_->check_schema(pipeline->extractor_->schema()));
  }
  if (std::filesystem::exists(classifier_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(auto classifier, models::RelevanceClassifier::load(classifier_path(data_dir), context));
    const auto& names = classifier->config().class_names;
    if (classifier->config().mode == models::LabelMode::kClasses && names == std::vector<std::string>{"E", "S", "C", "I"}) {
      RelevanceDataReport data_report;
      AISLE_ASSIGN_OR_RETURN(models::RelevanceData data, relevance_data_from_store(*pipeline->store_, &data_report));
      pipeline->graph_ = std::make_unique<models::EngagementGraph>(std::move(data));
      pipeline->classifier_ = std::move(classifier);
    }
  }
  // Product statistics: the same grades the encoder learns from (test split held out).
  retrieve::TrainingSetReport report;
  AISLE_ASSIGN_OR_RETURN(models::TrainingSet set, retrieve::training_set_from_store(*pipeline->store_, &report));
  for (const models::TrainingPair& pair : set.pairs) {
    ProductStats& stats = pipeline->product_stats_[set.products[pair.product].product.value()];
    stats.queries += 1;
    stats.grade_sum += pair.grade;
  }
  return pipeline;
}

Result<CandidateSet> SearchPipeline::retrieve(std::string_view query, const PipelineOptions& options,
                                              const std::unordered_map<std::uint32_t, float>* exclude) const {
  CandidateSet out;
  PipelineResult& result = out.result;
  AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(options.locale));
  std::string strategy = options.strategy;
  if (strategy == "auto") strategy = vectors_ ? "hybrid" : "lexical";
  if ((strategy == "vector" || strategy == "hybrid") && !vectors_) {
    return Status::not_found("the data directory has no product vectors (run `aisle train encoder`, then `aisle index`)");
  }
  if (strategy != "lexical" && strategy != "structured" && strategy != "vector" && strategy != "hybrid") {
    return Status::bad_input("unknown strategy " + strategy + " (expected auto, lexical, structured, vector or hybrid)");
  }
  result.strategy = strategy;
  const bool use_vectors = strategy == "vector" || strategy == "hybrid";
  const bool use_lexical = strategy != "vector";
  const int depth = std::max(options.k, options.depth);

  text::SearchOptions search;
  search.locale = locale.code();
  search.k = depth;
  search.facets = options.facets;
  search.typo.enabled = options.typos;
  search.filter = options.filter;
  const std::uint32_t lexical_bit = strategy == "structured" ? retrieve::kFoundStructured : retrieve::kFoundLexical;
  if (strategy == "structured") {
    AISLE_ASSIGN_OR_RETURN(auto structured,
                           retrieve::structured_search(*catalog_.index, *catalog_.understanding, query, search));
    result.lexical = std::move(structured.result);
    result.analysis = std::move(structured.analysis);
    result.slot_filter = std::move(structured.filter);
    result.relaxed = structured.relaxed;
  } else {
    // The vector strategy alone still needs the terms (features) but not the hits.
    if (!use_lexical) search.k = 1;
    AISLE_ASSIGN_OR_RETURN(result.lexical, catalog_.index->search(query, search));
    if (!use_lexical) result.lexical.hits.clear();
    AISLE_ASSIGN_OR_RETURN(result.analysis, catalog_.understanding->understand(query, search.locale));
  }

  std::vector<retrieve::RankedList> lists;
  std::unordered_map<std::uint32_t, float> priors;
  if (use_lexical) {
    retrieve::RankedList list;
    list.strategy = lexical_bit;
    for (const text::Hit& hit : result.lexical.hits) {
      list.products.push_back(hit.product);
      list.scores.push_back(hit.score);
      priors[hit.product.value()] = hit.prior;
    }
    lists.push_back(std::move(list));
  }
  if (use_vectors) {
    vector::VectorSearchOptions vector_options;
    const text::Filter& filter = options.filter;
    const bool post_filter = !filter.brands.empty() || !filter.colors.empty() || filter.min_price || filter.max_price ||
                             filter.locales.size() > 1 || filter.categories.size() > 1;
    vector_options.k = post_filter ? depth * 4 : depth;
    vector_options.ef = std::max(options.ef, vector_options.k);
    if (filter.locales.size() == 1) vector_options.filter.locale = filter.locales[0];
    if (filter.categories.size() == 1) vector_options.filter.category_prefix = filter.categories[0];
    AISLE_ASSIGN_OR_RETURN(auto neighbours, vectors_->search(query, search.locale, vector_options));
    retrieve::RankedList list;
    list.strategy = retrieve::kFoundVector;
    for (const vector::Neighbor& n : neighbours) {
      if (post_filter) {
        AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(n.product));
        if (!product || !passes(filter, product->record)) continue;
      }
      if (static_cast<int>(list.products.size()) >= depth) break;
      list.products.push_back(n.product);
      list.scores.push_back(n.score);
    }
    lists.push_back(std::move(list));
  }
  const std::vector<retrieve::FusedHit> fused = retrieve::fuse(lists, static_cast<std::size_t>(2 * depth));

  // Documents, in fused order; products gone from the store since indexing are skipped.
  std::vector<const retrieve::FusedHit*> kept;
  for (const retrieve::FusedHit& hit : fused) {
    AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(hit.product));
    if (!product) continue;
    out.documents.push_back(retrieve::to_document(*product));
    kept.push_back(&hit);
  }
  QueryContext context;
  context.text = std::string(query);
  context.locale = search.locale;
  context.terms = result.lexical.terms;
  if (!result.analysis.interpretations.empty()) context.interpretation = result.analysis.interpretations.front();
  std::vector<float> vectors;
  std::vector<bool> has_vector;
  const std::size_t dim = vectors_ ? static_cast<std::size_t>(vectors_->encoder().dim()) : 0;
  if (vectors_) {
    const std::string text(query);
    AISLE_ASSIGN_OR_RETURN(context.vector, vectors_->encoder().encode_queries(std::span<const std::string>(&text, 1), search.locale));
    vector::normalize(context.vector);
    // Stored product vectors of the candidates, for the cosine of those the vector strategy did
    // not find; a product indexed after the vectors were built has none (missing).
    vectors.resize(out.documents.size() * dim);
    for (std::size_t i = 0; i < out.documents.size(); ++i) {
      has_vector.push_back(vectors_->index().vector(out.documents[i].product, std::span<float>(vectors.data() + i * dim, dim)));
    }
  }
  // ESCI probabilities of every candidate. A locale the classifier has no towers for leaves
  // them missing (the features are NaN) rather than failing the search.
  std::vector<float> esci;
  if (classifier_ && !out.documents.empty()) {
    std::vector<models::PairInput> pairs;
    for (const text::Document& document : out.documents) pairs.push_back(models::PairInput{query, search.locale, &document});
    auto predicted = classifier_->predict(pairs, graph_.get());
    if (predicted.is_ok()) {
      esci = std::move(*predicted);
    } else if (predicted.status().code() != StatusCode::kBadInput) {
      return predicted.status();
    }
  }
  std::vector<Candidate> candidates;
  const int lexical_index = lexical_bit == retrieve::kFoundLexical ? 0 : 1;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const retrieve::FusedHit& hit = *kept[i];
    Candidate candidate;
    candidate.document = &out.documents[i];
    candidate.provenance.found_by = hit.found_by;
    if (lexical_index == 0) {
      candidate.provenance.lexical_rank = hit.ranks[0];
    } else {
      candidate.provenance.structured_rank = hit.ranks[1];
    }
    candidate.provenance.vector_rank = hit.ranks[2];
    candidate.provenance.lexical_score = hit.scores[lexical_index];
    if (vectors_ && has_vector[i]) candidate.vector = std::span<const float>(vectors.data() + i * dim, dim);
    auto stats = product_stats_.find(hit.product.value());
    float count = 0, sum = 0;
    if (stats != product_stats_.end()) count = stats->second.queries, sum = stats->second.grade_sum;
    if (exclude != nullptr) {
      auto own = exclude->find(hit.product.value());
      if (own != exclude->end()) count -= 1, sum -= own->second;
    }
    candidate.product_queries = count;
    if (count > 0) candidate.product_grade = sum / count;
    std::optional<std::array<float, 4>> probabilities;
    if (!esci.empty()) probabilities = std::array<float, 4>{esci[4 * i], esci[4 * i + 1], esci[4 * i + 2], esci[4 * i + 3]};
    candidate.esci = probabilities;
    candidates.push_back(candidate);

    PipelineHit row;
    row.product = hit.product;
    row.score = use_lexical && lists.size() == 1 ? hit.scores[lexical_index]
                : !use_lexical                   ? hit.scores[2]
                                                 : hit.score;
    row.provenance = candidate.provenance;
    row.vector_score = hit.scores[2];
    auto prior = priors.find(hit.product.value());
    row.prior = prior == priors.end() ? 0.0f : prior->second;
    row.fused_rank = static_cast<int>(i + 1);
    row.esci = probabilities;
    result.hits.push_back(std::move(row));
  }
  result.candidates = candidates.size();
  AISLE_RETURN_IF_ERROR(extractor_->extract(context, candidates, &out.features));
  return out;
}

Result<PipelineResult> SearchPipeline::search(std::string_view query, const PipelineOptions& options) const {
  AISLE_ASSIGN_OR_RETURN(CandidateSet set, retrieve(query, options));
  PipelineResult result = std::move(set.result);
  const std::size_t width = extractor_->schema().size();
  if (ranker_ && options.rank && !result.hits.empty()) {
    AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, ranker_->score(set.features));
    for (std::size_t i = 0; i < result.hits.size(); ++i) {
      result.hits[i].ranker_score = scores[i];
      result.hits[i].score = scores[i];
    }
    if (options.explain) {
      AISLE_ASSIGN_OR_RETURN(std::vector<float> contributions, ranker_->contributions(set.features));
      for (std::size_t i = 0; i < result.hits.size(); ++i) {
        const float* row = contributions.data() + i * (width + 1);
        std::vector<std::pair<std::string, float>>& out = result.hits[i].contributions;
        for (std::size_t f = 0; f < width; ++f) {
          if (row[f] != 0.0f) out.emplace_back(extractor_->schema().names[f], row[f]);
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return std::abs(a.second) > std::abs(b.second); });
        result.hits[i].contribution_bias = row[width];
      }
    }
    // Stable: ties keep the fused order.
    std::vector<std::size_t> order(result.hits.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
    std::vector<PipelineHit> sorted;
    std::vector<float> features;
    for (std::size_t i : order) sorted.push_back(std::move(result.hits[i]));
    if (options.explain) {
      for (std::size_t i : order) features.insert(features.end(), set.features.begin() + static_cast<long>(i * width), set.features.begin() + static_cast<long>((i + 1) * width));
      set.features = std::move(features);
    }
    result.hits = std::move(sorted);
    result.ranked = true;
  }
  if (result.hits.size() > static_cast<std::size_t>(options.k)) result.hits.resize(static_cast<std::size_t>(options.k));
  if (options.explain) {
    for (std::size_t i = 0; i < result.hits.size(); ++i) {
      for (std::size_t f = 0; f < width; ++f) {
        const float value = set.features[i * width + f];
        if (!std::isnan(value)) result.hits[i].features.emplace_back(extractor_->schema().names[f], value);
      }
    }
  }
  return result;
}

}  // namespace aisle::rank
