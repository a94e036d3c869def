#include "aisle/rank/pipeline.h"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <map>
#include <shared_mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aisle/core/check.h"
#include "aisle/rank/esci.h"
#include "aisle/rank/result_json.h"

namespace aisle::rank {

std::filesystem::path ranker_path(const std::filesystem::path& data_dir) { return data_dir / "models" / "ranker.bin"; }

namespace {

bool ascii_iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool passes(const text::Filter& filter, const io::ProductRecord& record, const text::InvertedIndex& index) {
  // Brands and colors compare without case, as the index's filters do ("brand=stridex").
  auto one_of = [](const std::vector<std::string>& allowed, const std::string& value) {
    return allowed.empty() ||
           std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) { return ascii_iequals(a, value); });
  };
  if (!one_of(filter.brands, record.brand) || !one_of(filter.colors, record.color)) return false;
  if (!filter.locales.empty() && std::find(filter.locales.begin(), filter.locales.end(), record.locale) == filter.locales.end()) {
    return false;
  }
  if (filter.min_price && (!record.price || *record.price < *filter.min_price)) return false;
  if (filter.max_price && (!record.price || *record.price > *filter.max_price)) return false;
  if (!filter.categories.empty()) {
    const std::string path = index.category_key(text::category_path_string(record.category));
    bool any = false;
    for (const std::string& prefix : filter.categories) {
      any = any || path == prefix || path.starts_with(prefix + " > ");
    }
    if (!any) return false;
  }
  for (const text::AttributeRange& range : filter.attributes) {
    bool met = false;
    for (const auto& [name, value] : record.attributes) {
      if (!ascii_iequals(name, range.name)) continue;
      auto number = text::numeric_value(value);
      met = number && (!range.min || *number >= *range.min) && (!range.max || *number <= *range.max);
      break;  // the first value of a name, as the index keeps
    }
    if (!met) return false;
  }
  for (const auto& [name, values] : filter.attribute_values) {
    bool met = false;
    for (const auto& [attribute, value] : record.attributes) {
      if (!ascii_iequals(attribute, name)) continue;
      met = std::any_of(values.begin(), values.end(), [&](const std::string& wanted) { return ascii_iequals(wanted, value); });
      break;  // the first value of a name, as the index keeps
    }
    if (!met) return false;
  }
  return true;
}

Result<SortOrder> parse_sort(std::string_view text) {
  for (SortOrder sort : {SortOrder::kRelevance, SortOrder::kPriceAscending, SortOrder::kPriceDescending,
                         SortOrder::kPopularity, SortOrder::kNewest}) {
    if (text == sort_name(sort)) return sort;
  }
  return Status::bad_input("unknown sort \"" + std::string(text) +
                               "\" (expected relevance, price_asc, price_desc, popularity or newest)",
                           Where("", 0, "sort"));
}

std::string_view sort_name(SortOrder sort) {
  switch (sort) {
    case SortOrder::kRelevance: return "relevance";
    case SortOrder::kPriceAscending: return "price_asc";
    case SortOrder::kPriceDescending: return "price_desc";
    case SortOrder::kPopularity: return "popularity";
    case SortOrder::kNewest: return "newest";
  }
  return "relevance";
}

namespace {

// A model's saved verdict, or why the layer cannot use it.
Result<LayerVerdict> saved_verdict(const nlohmann::json& json, const std::string& layer, const std::string& command) {
  if (json.is_null()) {
    return Status::not_found("off: the model has no validation verdict (trained before validation gates or by another "
                             "tool); retrain it with `" + command + "`");
  }
  auto verdict = LayerVerdict::from_json(json);
  if (!verdict.is_ok()) return Status::corruption("off: its validation verdict is unreadable (" + verdict.status().message() + ")");
  if (verdict->layer != layer) {
    return Status::corruption("off: its validation verdict is for layer " + verdict->layer + ", not " + layer);
  }
  return verdict;
}

// Fills `layer` from a model's saved verdict.
void apply_verdict(const nlohmann::json& json, const std::string& command, LayerState* layer, const std::string& verdict_layer) {
  auto verdict = saved_verdict(json, verdict_layer, command);
  if (!verdict.is_ok()) {
    layer->reason = verdict.status().message();
    return;
  }
  layer->active = verdict->active;
  layer->reason = verdict->reason;
  layer->verdict = std::move(*verdict);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::vector<std::string> intent(const retrieve::QueryAnalysis& analysis, std::span<const text::Document> documents,
                                const text::InvertedIndex& index, std::vector<PipelineHit>* hits, double min_likelihood) {
  std::vector<std::string> honoured;
  if (analysis.interpretations.empty() || hits->empty()) return honoured;
  const retrieve::Interpretation& best = analysis.interpretations.front();
  std::vector<const retrieve::Slot*> slots;
  std::vector<std::string> lowered;  // the slots' values, lower-cased once
  for (const retrieve::Slot& slot : best.slots) {
    if (slot.likelihood < min_likelihood) continue;
    slots.push_back(&slot);
    lowered.push_back(lower(slot.value));
    honoured.push_back(slot.type + "=" + slot.value);
  }
  if (slots.empty()) return honoured;
  // -1 conflict, 0 no value, +1 agreement.
  auto agreement = [](const retrieve::Slot& slot, const std::string& value_lowered, const text::Document& document) {
    auto compare = [&](const std::string& value) { return value.empty() ? 0 : (lower(value) == value_lowered ? 1 : -1); };
    if (slot.type == "brand") return compare(document.brand);
    if (slot.type == "color") return compare(document.color);
    if (slot.type == "category") {
      if (document.category.empty()) return 0;
      const std::string path = text::category_path_string(document.category);
      return path == slot.value || path.starts_with(slot.value + " > ") ? 1 : -1;
    }
    if (slot.type.starts_with("attribute:")) {
      const std::string name = slot.type.substr(10);
      for (const auto& [key, value] : document.attributes) {
        if (key == name) return compare(value);
      }
    }
    return 0;
  };
  // The rest of the query, as terms the index's forward entries are matched against (no
  // analysis of candidate text per query).
  std::vector<text::QueryTerm> rest_terms;
  for (const std::string& term : best.remainder) {
    text::QueryTerm rest;
    rest.term = term;
    rest_terms.push_back(std::move(rest));
  }
  std::vector<std::size_t> positions;  // hits matching the rest of the query
  for (std::size_t i = 0; i < hits->size(); ++i) {
    PipelineHit& hit = (*hits)[i];
    const text::Document& document = documents[i];
    hit.slot_agreements = hit.slot_conflicts = 0;
    for (std::size_t j = 0; j < slots.size(); ++j) {
      const int a = agreement(*slots[j], lowered[j], document);
      hit.slot_agreements += a > 0 ? 1 : 0;
      hit.slot_conflicts += a < 0 ? 1 : 0;
    }
    bool rest = true;
    if (!rest_terms.empty()) {
      const text::DocumentMatch match = index.match(document, rest_terms);
      for (const text::TermExplanation& term : match.terms) {
        rest = rest && (term.tf[static_cast<int>(text::Field::kTitle)] > 0 || term.tf[static_cast<int>(text::Field::kBrand)] > 0 ||
                        term.tf[static_cast<int>(text::Field::kCategory)] > 0);
      }
    }
    if (rest) positions.push_back(i);
  }
  std::vector<std::size_t> order = positions;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const PipelineHit& x = (*hits)[a];
    const PipelineHit& y = (*hits)[b];
    if (x.slot_conflicts != y.slot_conflicts) return x.slot_conflicts < y.slot_conflicts;
    return x.slot_agreements > y.slot_agreements;
  });
  std::vector<PipelineHit> moved;
  moved.reserve(order.size());
  for (std::size_t i : order) moved.push_back(std::move((*hits)[i]));
  for (std::size_t j = 0; j < positions.size(); ++j) (*hits)[positions[j]] = std::move(moved[j]);
  return honoured;
}

// Per locale, the kKept most popular listings, best first (popularity, then the larger id:
// the newest). Shared by sibling pipelines: upserts change it under a lock while searches read.
class SearchPipeline::PopularLists {
 public:
  static constexpr std::size_t kKept = 5000;
  using Entry = std::pair<double, std::uint32_t>;  // (popularity, product id)

  explicit PopularLists(std::unordered_map<std::string, std::vector<Entry>> by_locale) {
    for (auto& [locale_code, entries] : by_locale) {
      const std::size_t kept = std::min(entries.size(), kKept);
      std::partial_sort(entries.begin(), entries.begin() + static_cast<long>(kept), entries.end(), better);
      entries.resize(kept);
      lists_.emplace(locale_code, std::move(entries));
    }
  }

  bool empty() const {
    std::shared_lock lock(mutex_);
    return lists_.empty();
  }

  // The first `n` of a locale's list.
  std::vector<ProductId> first(const std::string& locale_code, std::size_t n) const {
    std::shared_lock lock(mutex_);
    std::vector<ProductId> out;
    auto found = lists_.find(locale_code);
    if (found == lists_.end()) return out;
    n = std::min(n, found->second.size());
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) out.push_back(ProductId(found->second[i].second));
    return out;
  }

  // A listing written with this popularity takes its place (or leaves the list when it no
  // longer ranks; the list then runs one short until the next start reads the store).
  void remove(ProductId product) {
    std::unique_lock lock(mutex_);
    for (auto& [locale_code, list] : lists_) std::erase_if(list, [&](const Entry& e) { return e.second == product.value(); });
  }

  void upsert(ProductId product, const std::string& locale_code, double popularity) {
    std::unique_lock lock(mutex_);
    std::vector<Entry>& list = lists_[locale_code];
    std::erase_if(list, [&](const Entry& e) { return e.second == product.value(); });
    const Entry entry{popularity, product.value()};
    auto at = std::lower_bound(list.begin(), list.end(), entry, better);
    if (static_cast<std::size_t>(at - list.begin()) >= kKept) return;
    list.insert(at, entry);
    if (list.size() > kKept) list.pop_back();
  }

 private:
  static bool better(const Entry& a, const Entry& b) { return a.first != b.first ? a.first > b.first : a.second > b.second; }

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::vector<Entry>> lists_;
};

SearchPipeline::~SearchPipeline() = default;

Result<std::unique_ptr<SearchPipeline>> SearchPipeline::open(const std::filesystem::path& data_dir,
                                                             const Context& context, bool load_ranker, bool enforce_gates) {
  auto pipeline = std::unique_ptr<SearchPipeline>(new SearchPipeline());
  pipeline->data_dir_ = data_dir;
  store::StoreOptions store_options;
  store_options.read_only = true;
  AISLE_ASSIGN_OR_RETURN(pipeline->store_, store::Store::open(data_dir, store_options));
  {
    AISLE_ASSIGN_OR_RETURN(retrieve::LexicalCatalog catalog, retrieve::open_lexical(data_dir));
    pipeline->catalog_ = std::make_shared<const retrieve::LexicalCatalog>(std::move(catalog));
  }
  // Learned layers: each is used only when its model loads, carries a verdict that beat the
  // no-model baseline on held-out queries, and fits this data directory. A layer that fails any
  // of these is off, with the reason; the search answers without it.
  auto layers = std::make_shared<std::vector<LayerState>>();
  auto off = [&](LayerState& layer, const std::string& reason) {
    layer.active = false;
    layer.reason = reason;
    context.logger().warn("{} layer {}", layer.name, reason);
  };
  // Used: it passed its gate, or (evaluations only) it has any verdict.
  auto used = [&](const LayerState& layer) { return layer.active || (!enforce_gates && layer.verdict.has_value()); };
  LayerState vector_layer;
  vector_layer.name = "vector";
  if (std::filesystem::exists(retrieve::vector_index_path(data_dir) / "MANIFEST.json")) {
    vector_layer.present = true;
    auto vectors = retrieve::VectorStrategy::open(data_dir, context);
    if (vectors.is_ok()) {
      pipeline->vectors_ = std::move(*vectors);
      apply_verdict(pipeline->vectors_->encoder().validation(), "aisle train encoder", &vector_layer, "encoder");
      if (vector_layer.verdict && vector_layer.verdict->details.contains("floor")) {
        pipeline->vector_floor_ = vector_layer.verdict->details["floor"].get<float>();
      }
      pipeline->vector_default_ = used(vector_layer);
    } else {
      off(vector_layer, "off: " + vectors.status().to_string());
    }
  } else if (std::filesystem::exists(retrieve::encoder_path(data_dir))) {
    vector_layer.present = true;
    vector_layer.reason = "off: the encoder exists but the catalog's vectors do not (run `aisle index`)";
  } else {
    vector_layer.reason = "off: no encoder (`aisle train encoder`, then `aisle index`)";
  }
  pipeline->extractor_ = std::make_shared<const FeatureExtractor>(*pipeline->catalog_->index);
  LayerState classifier_layer;
  classifier_layer.name = "classifier";
  if (std::filesystem::exists(classifier_path(data_dir))) {
    classifier_layer.present = true;
    auto classifier = models::RelevanceClassifier::load(classifier_path(data_dir), context);
    if (!classifier.is_ok()) {
      off(classifier_layer, "off: " + classifier.status().to_string());
    } else if ((*classifier)->config().mode != models::LabelMode::kClasses ||
               (*classifier)->config().class_names != std::vector<std::string>{"E", "S", "C", "I"}) {
      off(classifier_layer, "off: the classifier predicts grades, not the four ESCI classes");
    } else {
      apply_verdict((*classifier)->validation(), "aisle train classifier", &classifier_layer, "classifier");
      if (used(classifier_layer)) {
        RelevanceDataReport data_report;
        AISLE_ASSIGN_OR_RETURN(models::RelevanceData data, relevance_data_from_store(*pipeline->store_, &data_report));
        pipeline->graph_ = std::make_shared<const models::EngagementGraph>(std::move(data));
        pipeline->classifier_ = std::move(*classifier);
      }
    }
  } else {
    classifier_layer.reason = "off: no classifier (`aisle train classifier`)";
  }
  LayerState ranker_layer;
  ranker_layer.name = "ranker";
  if (load_ranker && std::filesystem::exists(ranker_path(data_dir))) {
    ranker_layer.present = true;
    auto ranker = Ranker::load(ranker_path(data_dir));
    // The ranker's schema names the feature groups it was trained with (FeatureOptions): the
    // extractor computes those.
    if (ranker.is_ok()) {
      for (const bool learned_text : {true, false}) {
        for (const bool engagement : {true, false}) {
          FeatureOptions features;
          features.learned_text = learned_text;
          features.engagement = engagement;
          if (feature_schema(features) == (*ranker)->schema()) {
            pipeline->feature_options_ = features;
            pipeline->extractor_ = std::make_shared<const FeatureExtractor>(*pipeline->catalog_->index, features);
          }
        }
      }
    }
    Status schema = ranker.is_ok() ? (*ranker)->check_schema(pipeline->extractor_->schema()) : ranker.status();
    if (!schema.is_ok()) {
      off(ranker_layer, "off: " + schema.to_string() + " (retrain with `aisle train ranker`)");
    } else {
      apply_verdict((*ranker)->metadata().value("validation", nlohmann::json()), "aisle train ranker", &ranker_layer, "ranker");
      // The ranker learned from the candidates and features of the layers active when it was
      // trained; with another set its scores mean something else.
      const nlohmann::json trained_with = (*ranker)->metadata().value("inputs", nlohmann::json());
      const nlohmann::json now = pipeline->ranker_inputs();
      if (used(ranker_layer) && trained_with != now) {
        off(ranker_layer, "off: trained with layers " + trained_with.dump() + ", now " + now.dump() +
                              " (retrain with `aisle train ranker`)");
      } else if (used(ranker_layer)) {
        pipeline->ranker_ = std::move(*ranker);
      }
    }
  } else if (load_ranker) {
    ranker_layer.reason = "off: no ranker (`aisle train ranker`)";
  } else {
    ranker_layer.reason = "off: not loaded (training a new one)";
  }
  LayerState related_layer;
  related_layer.name = "related";
  if (std::filesystem::exists(retrieve::related_path(data_dir))) {
    related_layer.present = true;
    auto related = retrieve::RelatedProducts::open(data_dir, context);
    if (related.is_ok()) {
      pipeline->related_ = std::move(*related);
      related_layer.reason = "off in the default search: the graph strategy runs only when asked for "
                             "(--strategy ...+graph); `aisle related` and /related use it";
    } else {
      off(related_layer, "off: " + related.status().to_string());
    }
  } else {
    related_layer.reason = "off: no related-products model (`aisle train related`)";
  }
  *layers = {std::move(vector_layer), std::move(classifier_layer), std::move(ranker_layer), std::move(related_layer)};
  pipeline->layers_ = std::move(layers);
  if (std::filesystem::exists(retrieve::memory_path(data_dir))) {
    AISLE_ASSIGN_OR_RETURN(pipeline->memory_, retrieve::MemoryIndex::load(retrieve::memory_path(data_dir)));
  }
  // Popularity lists: per locale, popularity then newest (the larger id) first.
  {
    std::unordered_map<std::string, std::vector<PopularLists::Entry>> by_locale;
    AISLE_RETURN_IF_ERROR(pipeline->store_->for_each_popularity(
        [&](ProductId product, const std::string& locale_code, std::optional<double> popularity) {
          by_locale[locale_code].emplace_back(popularity.value_or(0.0), product.value());
          return Status::ok();
        }));
    pipeline->popular_ = std::make_shared<PopularLists>(std::move(by_locale));
  }
  // Product statistics: the same grades the encoder learns from (test split held out).
  retrieve::TrainingSetReport report;
  AISLE_ASSIGN_OR_RETURN(const std::vector<retrieve::GradedPair> pairs, retrieve::graded_pairs_from_store(*pipeline->store_, &report));
  auto stats = std::make_shared<std::unordered_map<std::uint32_t, ProductStats>>();
  for (const retrieve::GradedPair& pair : pairs) {
    ProductStats& product = (*stats)[pair.product.value()];
    product.queries += 1;
    product.grade_sum += pair.grade;
  }
  pipeline->product_stats_ = std::move(stats);
  return pipeline;
}

Result<std::unique_ptr<SearchPipeline>> SearchPipeline::open_sibling() const {
  auto pipeline = std::unique_ptr<SearchPipeline>(new SearchPipeline());
  pipeline->data_dir_ = data_dir_;
  store::StoreOptions store_options;
  store_options.read_only = true;
  AISLE_ASSIGN_OR_RETURN(pipeline->store_, store::Store::open(data_dir_, store_options));
  pipeline->catalog_ = catalog_;
  pipeline->vectors_ = vectors_;
  pipeline->extractor_ = extractor_;
  pipeline->feature_options_ = feature_options_;
  pipeline->ranker_ = ranker_;
  pipeline->product_stats_ = product_stats_;
  pipeline->classifier_ = classifier_;
  pipeline->graph_ = graph_;
  pipeline->related_ = related_;
  pipeline->memory_ = memory_;
  pipeline->popular_ = popular_;
  pipeline->layers_ = layers_;
  pipeline->vector_default_ = vector_default_;
  pipeline->vector_floor_ = vector_floor_;
  return pipeline;
}

void SearchPipeline::use_features(const FeatureOptions& features) {
  feature_options_ = features;
  extractor_ = std::make_shared<const FeatureExtractor>(*catalog_->index, features);
}

Status SearchPipeline::use_training_graph(std::uint64_t gate_seed) {
  if (!classifier_) return Status::ok();
  RelevanceDataReport report;
  RelevanceDataOptions options;
  options.hold_out_gate = true;
  options.gate_seed = gate_seed;
  options.judgment_edges = false;
  std::vector<models::RelevanceExample> held_out;
  AISLE_ASSIGN_OR_RETURN(models::RelevanceData data, relevance_data_from_store(*store_, &report, options, &held_out));
  graph_ = std::make_shared<const models::EngagementGraph>(std::move(data));
  return Status::ok();
}

Status SearchPipeline::reload_lexical() {
  AISLE_ASSIGN_OR_RETURN(retrieve::LexicalCatalog catalog, retrieve::open_lexical(data_dir_, catalog_.get()));
  auto shared = std::make_shared<const retrieve::LexicalCatalog>(std::move(catalog));
  extractor_ = std::make_shared<const FeatureExtractor>(*shared->index, feature_options_);
  catalog_ = std::move(shared);
  return Status::ok();
}

Status SearchPipeline::upserted(std::span<const store::Product> products, const Context& context) {
  for (const store::Product& product : products) {
    popular_->upsert(product.id, product.record.locale, product.record.popularity.value_or(0.0));
  }
  if (!vectors_) return Status::ok();
  std::vector<text::Document> documents;
  documents.reserve(products.size());
  for (const store::Product& product : products) documents.push_back(retrieve::to_document(product));
  return vectors_->upsert(documents, context);
}

void SearchPipeline::removed(std::span<const ProductId> products) {
  for (ProductId product : products) popular_->remove(product);
  if (vectors_) vectors_->remove(products);
}

Result<std::size_t> SearchPipeline::catch_up_vectors(const Context& context) {
  if (!vectors_) return std::size_t{0};
  return vectors_->catch_up(*store_, context);
}

Status SearchPipeline::save_vectors() const {
  if (!vectors_) return Status::ok();
  return vectors_->save(data_dir_);
}

Result<retrieve::PolicyAction> SearchPipeline::action_for(const PipelineOptions& options) const {
  const auto can_run = available(options.memory);
  retrieve::PolicyAction action;
  if (options.action) {
    action = *options.action;
    for (int s = 0; s < retrieve::kNumStrategies; ++s) {
      if (action.uses(s) && !can_run[static_cast<std::size_t>(s)]) {
        return Status::not_found("strategy " + std::string(retrieve::strategy_name(s)) + " cannot run on this data directory");
      }
    }
    return action;
  }
  std::string names = options.strategy.empty() ? catalog_->config.default_strategy : options.strategy;
  if (names == "policy") {
    return Status::bad_input("strategy policy: the bandit chooses in the server or `aisle search`, not in the pipeline");
  }
  if (names == "auto") names = vector_default_ ? "hybrid" : "lexical";
  if (names == "hybrid") names = "lexical+vector";
  const int depth = std::max(options.k, options.depth);
  std::size_t begin = 0;
  while (begin <= names.size()) {
    std::size_t end = names.find('+', begin);
    if (end == std::string::npos) end = names.size();
    const std::string name = names.substr(begin, end - begin);
    auto strategy = retrieve::strategy_from_name(name);
    if (!strategy.is_ok()) {
      return Status::bad_input("unknown strategy " + name +
                               " (expected auto, hybrid, or lexical, structured, vector, memory, graph, popularity joined by +)");
    }
    if (!can_run[static_cast<std::size_t>(*strategy)]) {
      static const char* const kHow[retrieve::kNumStrategies] = {
          "", "", "run `aisle train encoder`, then `aisle index`", "run `aisle index` on a store with events",
          "run `aisle train related`", "the catalog has no products"};
      return Status::not_found("the data directory cannot run strategy " + name + " (" + kHow[*strategy] + ")");
    }
    action.depth[static_cast<std::size_t>(*strategy)] = depth;
    begin = end + 1;
  }
  return action;
}

std::array<bool, retrieve::kNumStrategies> SearchPipeline::available(const retrieve::MemoryIndex* memory) const {
  std::array<bool, retrieve::kNumStrategies> out{};
  out[retrieve::kLexicalStrategy] = true;
  out[retrieve::kStructuredStrategy] = true;
  out[retrieve::kVectorStrategy] = vectors_ != nullptr;
  out[retrieve::kMemoryStrategy] = memory != nullptr || memory_ != nullptr;
  out[retrieve::kGraphStrategy] = related_ != nullptr;
  out[retrieve::kPopularityStrategy] = !popular_->empty();
  return out;
}

nlohmann::json SearchPipeline::ranker_inputs() const {
  return {{"vector", vector_default_}, {"classifier", classifier_ != nullptr}};
}

Result<std::string> SearchPipeline::memory_key(std::string_view query, std::string_view locale) const {
  auto& analyzer = analyzers_[std::string(locale)];
  if (!analyzer) {
    AISLE_ASSIGN_OR_RETURN(analyzer, text::Analyzer::create(locale));
  }
  return retrieve::memory_key(locale, analyzer->terms(query));
}

Result<CandidateSet> SearchPipeline::retrieve(std::string_view query, const PipelineOptions& options,
                                              const std::unordered_map<std::uint32_t, float>* exclude) const {
  static_assert(retrieve::kNumStrategies == retrieve::kStrategyBits);
  CandidateSet out;
  PipelineResult& result = out.result;
  AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(options.locale));
  // The candidates' listings are read in one snapshot, taking the database lock once.
  AISLE_ASSIGN_OR_RETURN(store::Store::ReadScope snapshot, store_->read_scope());
  AISLE_ASSIGN_OR_RETURN(const retrieve::PolicyAction action, action_for(options));
  for (const text::AttributeRange& range : options.filter.attributes) {
    if (!catalog_->index->has_numeric_attribute(range.name)) {
      std::string known;
      for (const std::string& name : catalog_->index->numeric_attributes()) known += (known.empty() ? "" : ", ") + name;
      return Status::bad_input("unknown filter " + range.name + ": no product has a numeric attribute of that name (filters: brand, color, category, locale, price" +
                                   (known.empty() ? std::string(")") : "; numeric attributes: " + known + ")"),
                               Where("", 0, "filters"));
    }
  }
  const std::vector<std::string>& declared = catalog_->config.facet_attributes;
  for (const auto& [name, values] : options.filter.attribute_values) {
    if (std::none_of(declared.begin(), declared.end(), [&](const std::string& d) { return ascii_iequals(d, name); })) {
      return Status::bad_input(fmt::format("filter {}={}: {} is not a declared attribute facet (declare it in [facets] "
                                           "attributes of {}; declared: {}); a numeric attribute takes a number: NAME=NUMBER or "
                                           "NAME=MIN..MAX",
                                           name, values.front(), name, config_path(data_dir_).filename().string(),
                                           declared.empty() ? std::string("none") : fmt::format("{}", fmt::join(declared, ", "))),
                               Where("", 0, "filters"));
    }
  }
  result.action = action;
  result.strategy = action.describe();
  auto depth_of = [&](int strategy) { return action.depth[static_cast<std::size_t>(strategy)]; };

  text::SearchOptions search;
  search.locale = locale.code();
  search.facets = options.facets;
  search.typo.enabled = options.typos;
  search.filter = options.filter;
  // Category keys once per search: passes() compares stored listings' paths with them (the
  // index's own filter keys them again, to the same keys).
  for (std::string& category : search.filter.categories) category = catalog_->index->category_key(category);
  search.synonyms = catalog_->synonyms.get();
  // Results in the query's locale unless the caller asks for others.
  if (search.filter.locales.empty() && !options.all_locales) search.filter.locales = {search.locale};
  // Lexical search runs for the terms and facets even when its hits are not wanted.
  search.k = std::max(1, depth_of(retrieve::kLexicalStrategy));
  AISLE_ASSIGN_OR_RETURN(result.lexical, catalog_->index->search(query, search));
  if (!action.uses(retrieve::kLexicalStrategy)) result.lexical.hits.clear();
  std::vector<text::Hit> structured_hits;
  if (action.uses(retrieve::kStructuredStrategy)) {
    text::SearchOptions structured_search = search;
    structured_search.k = depth_of(retrieve::kStructuredStrategy);
    structured_search.facets = false;
    AISLE_ASSIGN_OR_RETURN(auto structured,
                           retrieve::structured_search(*catalog_->index, *catalog_->understanding, query, structured_search));
    structured_hits = std::move(structured.result.hits);
    result.analysis = std::move(structured.analysis);
    result.slot_filter = std::move(structured.filter);
    result.relaxed = structured.relaxed;
    if (!action.uses(retrieve::kLexicalStrategy)) {
      result.lexical.terms = std::move(structured.result.terms);
      if (options.facets) result.lexical.facets = std::move(structured.result.facets);
    }
  } else {
    AISLE_ASSIGN_OR_RETURN(result.analysis, catalog_->understanding->understand(query, search.locale));
  }

  std::vector<retrieve::RankedList> lists;
  std::unordered_map<std::uint32_t, float> priors;
  auto add_text_list = [&](std::uint32_t bit, const std::vector<text::Hit>& hits) {
    retrieve::RankedList list;
    list.strategy = bit;
    for (const text::Hit& hit : hits) {
      list.products.push_back(hit.product);
      list.scores.push_back(hit.score);
      priors[hit.product.value()] = hit.prior;
    }
    lists.push_back(std::move(list));
  };
  if (action.uses(retrieve::kLexicalStrategy)) add_text_list(retrieve::kFoundLexical, result.lexical.hits);
  if (action.uses(retrieve::kStructuredStrategy)) add_text_list(retrieve::kFoundStructured, structured_hits);

  const text::Filter& filter = search.filter;
  // Candidates of the strategies that do not filter in their index: checked on the listing.
  auto keep = [&](ProductId product) -> Result<bool> {
    AISLE_ASSIGN_OR_RETURN(auto stored, store_->get_product(product));
    if (!stored) return false;
    return passes(filter, stored->record, *catalog_->index);
  };
  if (action.uses(retrieve::kVectorStrategy)) {
    const int depth = depth_of(retrieve::kVectorStrategy);
    vector::VectorSearchOptions vector_options;
    const bool post_filter = !filter.brands.empty() || !filter.colors.empty() || filter.min_price || filter.max_price ||
                             filter.locales.size() > 1 || filter.categories.size() > 1 || !filter.attributes.empty();
    vector_options.k = post_filter ? depth * 4 : depth;
    vector_options.ef = std::max(options.ef, vector_options.k);
    if (filter.locales.size() == 1) vector_options.filter.locale = filter.locales[0];
    // The vector index holds the listings' paths as written (search.filter's are keyed).
    if (filter.categories.size() == 1) vector_options.filter.category_prefix = options.filter.categories[0];
    AISLE_ASSIGN_OR_RETURN(auto neighbours, vectors_->search(query, search.locale, vector_options));
    retrieve::RankedList list;
    list.strategy = retrieve::kFoundVector;
    for (const vector::Neighbor& n : neighbours) {
      // Below the calibrated floor a neighbour is not a match, only the nearest of nothing.
      if (vector_floor_ && n.score < *vector_floor_) break;
      if (post_filter) {
        AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(n.product));
        if (!product || !passes(filter, product->record, *catalog_->index)) continue;
      }
      if (static_cast<int>(list.products.size()) >= depth) break;
      list.products.push_back(n.product);
      list.scores.push_back(n.score);
    }
    lists.push_back(std::move(list));
  }
  std::unordered_map<std::uint32_t, float> memory_scores;
  if (action.uses(retrieve::kMemoryStrategy)) {
    const retrieve::MemoryIndex* memory = options.memory ? options.memory : memory_.get();
    AISLE_ASSIGN_OR_RETURN(const std::string key, memory_key(query, search.locale));
    const std::int64_t now = options.now_ms != 0 ? options.now_ms
                                                 : std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch()).count();
    const int depth = depth_of(retrieve::kMemoryStrategy);
    retrieve::RankedList list;
    list.strategy = retrieve::kFoundMemory;
    // Filtered-out entries make room for the next ones: look further than the depth.
    for (const retrieve::MemoryHit& hit : memory->lookup(key, 4 * depth, now)) {
      if (static_cast<int>(list.products.size()) >= depth) break;
      AISLE_ASSIGN_OR_RETURN(const bool kept, keep(hit.product));
      if (!kept) continue;
      list.products.push_back(hit.product);
      list.scores.push_back(static_cast<float>(hit.score));
      memory_scores[hit.product.value()] = static_cast<float>(hit.score);
    }
    lists.push_back(std::move(list));
  }
  if (action.uses(retrieve::kGraphStrategy)) {
    // Seeds: the best candidates of the other strategies.
    const auto seeds_fused = retrieve::fuse(lists, static_cast<std::size_t>(std::max(0, options.graph_seeds)));
    std::vector<std::string> seeds;
    for (const retrieve::FusedHit& hit : seeds_fused) {
      AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(hit.product));
      if (product) seeds.push_back(product->record.id);
    }
    const int depth = depth_of(retrieve::kGraphStrategy);
    retrieve::RankedList list;
    list.strategy = retrieve::kFoundGraph;
    for (const retrieve::RelatedHit& hit : related_->expand(seeds, 4 * depth)) {
      if (static_cast<int>(list.products.size()) >= depth) break;
      AISLE_ASSIGN_OR_RETURN(auto product, store_->find_product(search.locale, hit.external_id));
      if (!product || !passes(filter, product->record, *catalog_->index)) continue;
      list.products.push_back(product->id);
      list.scores.push_back(hit.score);
    }
    lists.push_back(std::move(list));
  }
  if (action.uses(retrieve::kPopularityStrategy)) {
    const int depth = depth_of(retrieve::kPopularityStrategy);
    retrieve::RankedList list;
    list.strategy = retrieve::kFoundPopularity;
    // The lists are per locale (the query's): a locale filter needs a check only when it leaves
    // that locale out.
    const bool locale_filtered =
        !filter.locales.empty() && std::find(filter.locales.begin(), filter.locales.end(), search.locale) == filter.locales.end();
    const bool filtered = !filter.brands.empty() || !filter.colors.empty() || !filter.categories.empty() ||
                          locale_filtered || filter.min_price || filter.max_price || !filter.attributes.empty() ||
                          !filter.attribute_values.empty();
    for (const ProductId product : popular_->first(search.locale, static_cast<std::size_t>(depth) * 20)) {
      if (static_cast<int>(list.products.size()) >= depth) break;
      if (filtered) {
        AISLE_ASSIGN_OR_RETURN(const bool kept, keep(product));
        if (!kept) continue;
      }
      list.products.push_back(product);
      list.scores.push_back(static_cast<float>(list.products.size()) * -1.0f);  // rank order
    }
    lists.push_back(std::move(list));
  }
  for (const retrieve::RankedList& list : lists) {
    result.result_counts[static_cast<std::size_t>(std::countr_zero(list.strategy))] = static_cast<int>(list.products.size());
  }
  const std::vector<retrieve::FusedHit> fused = retrieve::fuse(lists, static_cast<std::size_t>(std::max(options.k, action.candidates())));

  // Documents, in fused order; products gone from the store since indexing are skipped.
  std::vector<const retrieve::FusedHit*> kept;
  for (const retrieve::FusedHit& hit : fused) {
    AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(hit.product));
    if (!product) continue;
    // Attribute values are not in the index: every strategy's candidates are checked here.
    if (!search.filter.attribute_values.empty() && !passes(search.filter, product->record, *catalog_->index)) continue;
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
  // The cosine is a learned feature: only an encoder that passed its gate supplies it (in-sample
  // cosines of a losing encoder teach the ranker to trust it on queries where it fails).
  const bool cosine = vectors_ != nullptr && vector_default_;
  const std::size_t dim = cosine ? static_cast<std::size_t>(vectors_->encoder().dim()) : 0;
  if (cosine) {
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
    // A query word the catalog does not have, which a synonym rule of the shop's settings
    // stands in for ("sneakers" -> "running shoes"), means to the classifier what it means to
    // the search: the synonym phrases are added to the text it reads. Known words keep the
    // query as typed (and its node in the engagement graph). A misspelled word the search
    // corrected reads as the correction ("runing shoos" -> "running shoes", what "did you
    // mean" offers), spelled as the candidates spell it.
    std::string classified(query);
    if (std::any_of(result.lexical.terms.begin(), result.lexical.terms.end(), [](const text::QueryTerm& t) { return !t.expanded_from.empty(); })) {
      std::vector<std::string> titles;
      for (const text::Document& document : out.documents) titles.push_back(document.title);
      if (auto corrected = corrected_query(*catalog_->index, query, search.locale, result.lexical.terms, titles)) classified = *corrected;
    }
    for (const text::QueryTerm& term : result.lexical.terms) {
      if (term.synonym_phrase.empty() || term.df == 0) continue;
      const std::vector<std::string> words = text::query_words(term);
      const bool unknown_source = std::any_of(result.lexical.terms.begin(), result.lexical.terms.end(), [&](const text::QueryTerm& t) {
        return t.synonym_of.empty() && t.expanded_from.empty() && t.df == 0 &&
               std::find(words.begin(), words.end(), t.term) != words.end();
      });
      if (unknown_source && classified.find(term.synonym_phrase) == std::string::npos) classified += " " + term.synonym_phrase;
    }
    std::vector<models::PairInput> pairs;
    for (const text::Document& document : out.documents) pairs.push_back(models::PairInput{classified, search.locale, &document});
    auto predicted = classifier_->predict(pairs, graph_.get());
    if (predicted.is_ok()) {
      esci = std::move(*predicted);
    } else if (predicted.status().code() != StatusCode::kBadInput) {
      return predicted.status();
    }
  }
  std::vector<Candidate> candidates;
  const bool lexical_alone = lists.size() == 1 && action.uses(retrieve::kLexicalStrategy);
  const bool vector_alone = lists.size() == 1 && action.uses(retrieve::kVectorStrategy);
  for (std::size_t i = 0; i < kept.size(); ++i) {
    const retrieve::FusedHit& hit = *kept[i];
    Candidate candidate;
    candidate.document = &out.documents[i];
    candidate.provenance.found_by = hit.found_by;
    candidate.provenance.lexical_rank = hit.ranks[retrieve::kLexicalStrategy];
    candidate.provenance.structured_rank = hit.ranks[retrieve::kStructuredStrategy];
    candidate.provenance.vector_rank = hit.ranks[retrieve::kVectorStrategy];
    // The index's score: the lexical one when both text strategies found it.
    candidate.provenance.lexical_score = hit.ranks[retrieve::kLexicalStrategy] > 0 ? hit.scores[retrieve::kLexicalStrategy]
                                                                                    : hit.scores[retrieve::kStructuredStrategy];
    if (auto memory = memory_scores.find(hit.product.value()); memory != memory_scores.end()) {
      candidate.memory_score = memory->second;
    }
    if (cosine && has_vector[i]) candidate.vector = std::span<const float>(vectors.data() + i * dim, dim);
    auto stats = product_stats_->find(hit.product.value());
    float count = 0, sum = 0;
    if (stats != product_stats_->end()) count = stats->second.queries, sum = stats->second.grade_sum;
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
    row.score = lexical_alone  ? hit.scores[retrieve::kLexicalStrategy]
                : vector_alone ? hit.scores[retrieve::kVectorStrategy]
                               : hit.score;
    row.provenance = candidate.provenance;
    row.vector_score = hit.scores[retrieve::kVectorStrategy];
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
  AISLE_RETURN_IF_ERROR(rank_candidates(set, options, &result));
  AISLE_RETURN_IF_ERROR(drop_typo_matches(set.documents, &result));
  result.intent = intent(result.analysis, set.documents, *catalog_->index, &result.hits);
  if (options.sort != SortOrder::kRelevance) {
    // intent() re-orders the hits only: the documents follow them again.
    std::unordered_map<std::uint32_t, std::size_t> at;
    for (std::size_t i = 0; i < set.documents.size(); ++i) at.emplace(set.documents[i].product.value(), i);
    std::vector<text::Document> documents;
    documents.reserve(result.hits.size());
    for (const PipelineHit& hit : result.hits) documents.push_back(std::move(set.documents[at.at(hit.product.value())]));
    set.documents = std::move(documents);
    sort_results(set.documents, options, &result);
  }
  AISLE_RETURN_IF_ERROR(respond(query, options, set.documents, &result));
  return result;
}

Status SearchPipeline::rank_candidates(CandidateSet& set, const PipelineOptions& options, PipelineResult* result) const {
  const std::size_t width = extractor_->schema().size();
  if (!ranker_ || !options.rank || result->hits.empty()) {
    if (options.explain) attach_features(set.features, width, &result->hits);
    return Status::ok();
  }
  AISLE_ASSIGN_OR_RETURN(std::vector<float> scores, ranker_->score(set.features));
  for (std::size_t i = 0; i < result->hits.size(); ++i) {
    result->hits[i].ranker_score = scores[i];
    result->hits[i].score = scores[i];
  }
  if (options.explain) {
    AISLE_ASSIGN_OR_RETURN(std::vector<float> contributions, ranker_->contributions(set.features));
    for (std::size_t i = 0; i < result->hits.size(); ++i) {
      const float* row = contributions.data() + i * (width + 1);
      std::vector<std::pair<std::string, float>>& out = result->hits[i].contributions;
      for (std::size_t f = 0; f < width; ++f) {
        if (row[f] != 0.0f) out.emplace_back(extractor_->schema().names[f], row[f]);
      }
      std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return std::abs(a.second) > std::abs(b.second); });
      result->hits[i].contribution_bias = row[width];
    }
    attach_features(set.features, width, &result->hits);
  }
  // Stable: ties keep the fused order. The documents follow their hits.
  std::vector<std::size_t> order(result->hits.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::vector<PipelineHit> sorted;
  std::vector<text::Document> documents;
  for (std::size_t i : order) {
    sorted.push_back(std::move(result->hits[i]));
    documents.push_back(std::move(set.documents[i]));
  }
  result->hits = std::move(sorted);
  set.documents = std::move(documents);
  result->ranked = true;
  return Status::ok();
}

void SearchPipeline::attach_features(std::span<const float> features, std::size_t width, std::vector<PipelineHit>* hits) const {
  for (std::size_t i = 0; i < hits->size(); ++i) {
    for (std::size_t f = 0; f < width; ++f) {
      const float value = features[i * width + f];
      if (!std::isnan(value)) (*hits)[i].features.emplace_back(extractor_->schema().names[f], value);
    }
  }
}

Status SearchPipeline::drop_typo_matches(std::vector<text::Document>& documents, PipelineResult* result) const {
  const std::vector<text::QueryTerm>& terms = result->lexical.terms;
  std::vector<std::string> corrected;  // query words with typo expansions
  for (const text::QueryTerm& term : terms) {
    if (!term.expanded_from.empty() &&
        std::find(corrected.begin(), corrected.end(), term.expanded_from) == corrected.end()) {
      corrected.push_back(term.expanded_from);
    }
  }
  if (corrected.empty()) return Status::ok();
  constexpr std::uint32_t kText = retrieve::kFoundLexical | retrieve::kFoundStructured;
  std::vector<PipelineHit> hits;
  std::vector<text::Document> kept;
  for (std::size_t i = 0; i < result->hits.size(); ++i) {
    PipelineHit& hit = result->hits[i];
    bool keep = (hit.provenance.found_by & ~kText) != 0;  // another strategy found it on its own
    if (!keep) {
      const text::DocumentMatch match = catalog_->index->match(documents[i], terms);
      std::vector<std::string> matched;  // words matched, as typed (a correction counts for its word)
      bool via_correction = false;
      for (std::size_t t = 0; t < terms.size(); ++t) {
        const auto& tf = match.terms[t].tf;
        if (std::all_of(tf.begin(), tf.end(), [](int n) { return n == 0; })) continue;
        for (std::string& word : text::query_words(terms[t])) matched.push_back(std::move(word));
        via_correction = via_correction || !terms[t].expanded_from.empty();
      }
      keep = !via_correction || std::all_of(corrected.begin(), corrected.end(), [&](const std::string& word) {
               return std::find(matched.begin(), matched.end(), word) != matched.end();
             });
    }
    if (!keep) continue;
    hits.push_back(std::move(hit));
    kept.push_back(std::move(documents[i]));
  }
  result->hits = std::move(hits);
  documents = std::move(kept);
  return Status::ok();
}

namespace {

// The strategies that read the query: popularity and graph neighbours return k products for any
// text.
constexpr std::uint32_t kReadsQuery =
    retrieve::kFoundLexical | retrieve::kFoundStructured | retrieve::kFoundVector | retrieve::kFoundMemory;

}  // namespace

void SearchPipeline::sort_results(std::vector<text::Document>& documents, const PipelineOptions& options,
                                  PipelineResult* result) const {
  if (options.sort == SortOrder::kRelevance) return;
  AISLE_CHECK(documents.size() == result->hits.size(), "the documents follow their hits");
  // The relevant set. Sorting by price must not bring the cheapest product that shares one word
  // with the query to the top ("running shoes" -> running socks): the set is the hits that
  // match every word of the query (or its typo correction) in a prominent field (title, brand,
  // color, category, attributes) and contradict none of the query's confident slots. When no
  // hit matches every word, the hits without a conflict that a strategy reading the query
  // found; never popularity or graph neighbours alone.
  const std::vector<text::QueryTerm>& terms = result->lexical.terms;
  std::vector<std::string> words;  // as typed: a correction or a synonym counts for its words
  for (const text::QueryTerm& term : terms) {
    for (std::string& word : text::query_words(term)) {
      if (std::find(words.begin(), words.end(), word) == words.end()) words.push_back(std::move(word));
    }
  }
  std::vector<std::size_t> strict, loose;
  for (std::size_t i = 0; i < result->hits.size(); ++i) {
    const PipelineHit& hit = result->hits[i];
    if ((hit.provenance.found_by & kReadsQuery) == 0 || hit.slot_conflicts > 0) continue;
    loose.push_back(i);
    if (words.empty()) continue;
    const text::DocumentMatch match = catalog_->index->match(documents[i], terms);
    std::vector<std::string> present;  // the terms found in a prominent field
    for (std::size_t t = 0; t < terms.size(); ++t) {
      const auto& tf = match.terms[t].tf;
      if (tf[static_cast<int>(text::Field::kTitle)] + tf[static_cast<int>(text::Field::kBrand)] +
              tf[static_cast<int>(text::Field::kColor)] + tf[static_cast<int>(text::Field::kCategory)] +
              tf[static_cast<int>(text::Field::kAttributes)] > 0) {
        present.push_back(terms[t].term);
      }
    }
    std::vector<std::string> matched;  // a synonym phrase counts only when all of it is present
    for (const text::QueryTerm& term : terms) {
      if (std::find(present.begin(), present.end(), term.term) == present.end()) continue;
      for (std::string& word : text::matched_query_words(term, present)) matched.push_back(std::move(word));
    }
    if (std::all_of(words.begin(), words.end(), [&](const std::string& word) {
          return std::find(matched.begin(), matched.end(), word) != matched.end();
        })) {
      strict.push_back(i);
    }
  }
  std::vector<std::size_t> order = strict.empty() ? loose : strict;
  auto price = [&](std::size_t i) { return documents[i].price; };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    switch (options.sort) {
      case SortOrder::kPriceAscending:
      case SortOrder::kPriceDescending: {
        // Listings without a price come last either way.
        if (!price(a) || !price(b)) return price(a).has_value() && !price(b).has_value();
        return options.sort == SortOrder::kPriceAscending ? *price(a) < *price(b) : *price(a) > *price(b);
      }
      case SortOrder::kPopularity:
        return documents[a].popularity.value_or(0.0) > documents[b].popularity.value_or(0.0);
      case SortOrder::kNewest:  // the store numbers listings in the order they were first added
        return result->hits[a].product.value() > result->hits[b].product.value();
      case SortOrder::kRelevance: break;
    }
    return false;
  });
  std::vector<PipelineHit> hits;
  std::vector<text::Document> sorted_documents;
  for (std::size_t i : order) {
    hits.push_back(std::move(result->hits[i]));
    sorted_documents.push_back(std::move(documents[i]));
  }
  result->hits = std::move(hits);
  documents = std::move(sorted_documents);
}

Status SearchPipeline::respond(std::string_view query, const PipelineOptions& options,
                               std::span<const text::Document> documents, PipelineResult* result) const {
  // A query needs an answer from a strategy that read it.
  const bool answered = std::any_of(result->hits.begin(), result->hits.end(),
                                    [](const PipelineHit& hit) { return (hit.provenance.found_by & kReadsQuery) != 0; });
  if (!answered && !result->hits.empty() && (result->action.mask() & kReadsQuery) != 0) {
    result->hits.clear();
    result->notice = "nothing in the catalog matches \"" + std::string(query) + "\"";
  }
  result->total = result->hits.size();
  if (options.facets) {
    std::vector<ProductId> products;
    products.reserve(result->hits.size());
    for (const PipelineHit& hit : result->hits) products.push_back(hit.product);
    result->facets = catalog_->index->facets(products);
    // Declared attribute facets: values counted over the result set's listings (the documents
    // are the hits', in another order), grouped without case, shown as first seen.
    for (const std::string& name : catalog_->config.facet_attributes) {
      std::vector<text::FacetValue> values;
      std::unordered_map<std::string, std::size_t> at;  // lower-cased value -> index in values
      if (!result->hits.empty()) {
        for (const text::Document& document : documents) {
          for (const auto& [attribute, value] : document.attributes) {
            if (!ascii_iequals(attribute, name)) continue;
            std::string key = value;
            for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            auto [found, added] = at.emplace(key, values.size());
            if (added) values.push_back(text::FacetValue{value, 0});
            ++values[found->second].count;
            break;  // the first value of a name, as filters read it
          }
        }
      }
      std::stable_sort(values.begin(), values.end(), [](const text::FacetValue& a, const text::FacetValue& b) { return a.count > b.count; });
      if (values.size() > 20) values.resize(20);
      if (!values.empty()) result->facets[name] = std::move(values);
    }
  }
  if (result->hits.size() > static_cast<std::size_t>(options.k)) result->hits.resize(static_cast<std::size_t>(options.k));
  // Cross-listing fallback: the product is sold in another locale and not in this one.
  if (result->hits.size() < static_cast<std::size_t>(options.k) && !options.all_locales && options.filter.locales.empty() &&
      (result->action.mask() & (retrieve::kFoundLexical | retrieve::kFoundStructured)) != 0) {
    text::SearchOptions search;
    search.locale = options.locale;
    search.k = std::max(options.k, options.depth);
    search.typo.enabled = options.typos;
    search.filter = options.filter;
    search.synonyms = catalog_->synonyms.get();
    AISLE_ASSIGN_OR_RETURN(const text::SearchResult elsewhere, catalog_->index->search(query, search));
    std::vector<std::string> groups;  // one listing per product: the best of its group
    for (const text::Hit& hit : elsewhere.hits) {
      if (result->hits.size() >= static_cast<std::size_t>(options.k)) break;
      if (hit.locale == options.locale) continue;
      AISLE_ASSIGN_OR_RETURN(auto product, store_->get_product(hit.product));
      if (!product || product->record.group.empty()) continue;
      if (std::find(groups.begin(), groups.end(), product->record.group) != groups.end()) continue;
      groups.push_back(product->record.group);
      AISLE_ASSIGN_OR_RETURN(const bool here, store_->group_has_locale(product->record.group, options.locale));
      if (here) continue;
      PipelineHit row;
      row.product = hit.product;
      row.score = hit.score;
      row.prior = hit.prior;
      row.provenance.found_by = retrieve::kFoundLexical;
      row.provenance.lexical_score = hit.score;
      row.other_locale = true;
      result->hits.push_back(std::move(row));
    }
  }
  result->total = std::max(result->total, result->hits.size());
  if (result->hits.empty() && result->notice.empty()) {
    result->notice = "nothing in the catalog matches \"" + std::string(query) + "\"";
  }
  return Status::ok();
}

}  // namespace aisle::rank
