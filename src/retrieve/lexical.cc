#include "aisle/retrieve/lexical.h"

#include <chrono>
#include <unordered_set>

namespace aisle::retrieve {
namespace {

std::uint64_t fnv1a(std::uint64_t hash, std::string_view text) {
  for (char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return (hash ^ 0x1f) * 0x100000001b3ULL;  // a separator, so ("ab","c") != ("a","bc")
}

std::uint64_t content_hash(const text::Document& document) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  hash = fnv1a(hash, document.external_id);
  hash = fnv1a(hash, document.locale);
  hash = fnv1a(hash, document.title);
  hash = fnv1a(hash, document.brand);
  hash = fnv1a(hash, document.color);
  for (const std::string& level : document.category) hash = fnv1a(hash, level);
  hash = fnv1a(hash, document.description);
  for (const std::string& bullet : document.bullets) hash = fnv1a(hash, bullet);
  for (const auto& [name, value] : document.attributes) hash = fnv1a(fnv1a(hash, name), value);
  hash = fnv1a(hash, document.price ? std::to_string(*document.price) : "");
  hash = fnv1a(hash, document.popularity ? std::to_string(*document.popularity) : "");
  return hash;
}

}  // namespace

text::Document to_document(const store::Product& product) {
  const io::ProductRecord& record = product.record;
  text::Document document;
  document.product = product.id;
  document.external_id = record.id;
  document.locale = record.locale;
  document.title = record.title;
  document.brand = record.brand;
  document.color = record.color;
  document.category = record.category;
  document.description = record.description;
  document.bullets = record.bullets;
  document.attributes = record.attributes;
  document.price = record.price;
  document.popularity = record.popularity;
  document.version = content_hash(document);
  return document;
}

std::filesystem::path index_path(const std::filesystem::path& data_dir) { return data_dir / "index"; }

Status update_index(store::Store& store, const Context& context, const std::filesystem::path& data_dir,
                    const IndexUpdateOptions& options, IndexUpdateReport* report) {
  const auto started = std::chrono::steady_clock::now();
  *report = IndexUpdateReport{};
  const std::filesystem::path dir = index_path(data_dir);
  DataConfig read;
  if (options.config == nullptr) {
    AISLE_ASSIGN_OR_RETURN(read, load_config(data_dir));
  }
  const text::IndexOptions wanted = text::index_options(options.config != nullptr ? *options.config : read);
  std::unique_ptr<text::InvertedIndex> index;
  if (!options.rebuild) {
    auto opened = text::InvertedIndex::open(dir, wanted);
    if (opened.is_ok()) {
      index = std::move(*opened);
      std::vector<std::string> changes = text::index_settings_changes(index->options(), wanted);
      if (!changes.empty() && options.apply_settings) {
        report->settings_changed = std::move(changes);
        index.reset();
      } else {
        report->settings_pending = std::move(changes);
      }
    } else if (opened.status().code() != StatusCode::kNotFound) {
      return opened.status();
    }
  }
  if (index == nullptr) {
    index = text::InvertedIndex::create(wanted);
    report->created = true;
  }
  std::vector<text::Document> batch;
  std::unordered_set<std::uint32_t> seen;
  QueryUnderstanding::Builder understanding;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    AISLE_RETURN_IF_ERROR(index->upsert(batch, context));
    batch.clear();
    return Status::ok();
  };
  auto visit = [&](store::Product&& product) -> Status {
    text::Document document = to_document(product);
    seen.insert(product.id.value());
    AISLE_RETURN_IF_ERROR(understanding.add(document));
    std::optional<std::uint64_t> indexed = index->version(product.id);
    if (indexed && *indexed == document.version) {
      ++report->unchanged;
      return Status::ok();
    }
    ++(indexed ? report->updated : report->added);
    batch.push_back(std::move(document));
    if (batch.size() >= options.batch_size) return flush();
    return Status::ok();
  };
  AISLE_RETURN_IF_ERROR(store.for_each_product(visit));
  AISLE_RETURN_IF_ERROR(flush());
  std::vector<ProductId> gone;
  for (ProductId product : index->products()) {
    if (!seen.contains(product.value())) gone.push_back(product);
  }
  report->removed = index->remove(gone);
  if (report->created || index->stats().deleted * 4 > index->stats().documents) index->compact();
  auto count = [&](store::Product&& product) { return understanding.count(to_document(product)); };
  AISLE_RETURN_IF_ERROR(store.for_each_product(count));
  std::unique_ptr<QueryUnderstanding> learned = understanding.build();
  AISLE_RETURN_IF_ERROR(index->commit(dir));
  AISLE_RETURN_IF_ERROR(learned->save(dir / "qu.json"));
  const text::IndexStats stats = index->stats();
  report->documents = stats.documents;
  report->segments = stats.segments;
  report->index_bytes = stats.total_bytes;
  report->phrases = static_cast<std::int64_t>(learned->phrase_count());
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return Status::ok();
}

Result<LexicalCatalog> open_lexical(const std::filesystem::path& data_dir, const LexicalCatalog* previous) {
  LexicalCatalog catalog;
  auto index = text::InvertedIndex::open(index_path(data_dir));
  if (!index.is_ok()) {
    if (index.status().code() == StatusCode::kNotFound) {
      return Status::not_found("no index in " + data_dir.string() + ": run `aisle index --data-dir " +
                               data_dir.string() + "` first");
    }
    return index.status();
  }
  catalog.index = std::move(*index);
  AISLE_ASSIGN_OR_RETURN(catalog.understanding, QueryUnderstanding::load(index_path(data_dir) / "qu.json"));
  if (previous != nullptr) {
    catalog.config = previous->config;
    catalog.synonyms = previous->synonyms;
  } else {
    AISLE_ASSIGN_OR_RETURN(catalog.config, load_config(data_dir));
    AISLE_ASSIGN_OR_RETURN(text::Synonyms synonyms, text::Synonyms::compile(catalog.config, catalog.index->options().analyzer));
    catalog.synonyms = std::make_shared<const text::Synonyms>(std::move(synonyms));
  }
  catalog.settings_pending = text::index_settings_changes(catalog.index->options(), text::index_options(catalog.config));
  return catalog;
}

Result<StructuredResult> structured_search(const text::InvertedIndex& index, const QueryUnderstanding& understanding,
                                           std::string_view query, const text::SearchOptions& options,
                                           const StructuredOptions& structured) {
  StructuredResult out;
  AISLE_ASSIGN_OR_RETURN(out.analysis, understanding.understand(query, options.locale));
  text::SearchOptions search = options;
  search.analyzed_query = true;
  std::vector<std::string> query_terms = out.analysis.terms;
  if (!out.analysis.interpretations.empty()) {
    const Interpretation& best = out.analysis.interpretations.front();
    out.remainder = best.remainder;
    std::vector<std::string> slot_terms;
    for (const Slot& slot : best.slots) {
      std::vector<std::string> terms;
      for (std::size_t start = 0; start <= slot.phrase.size();) {
        std::size_t end = std::min(slot.phrase.find(' ', start), slot.phrase.size());
        if (end > start) terms.push_back(slot.phrase.substr(start, end - start));
        start = end + 1;
      }
      slot_terms.insert(slot_terms.end(), terms.begin(), terms.end());
      bool filter = slot.likelihood >= structured.filter_threshold && (slot.type == "brand" || slot.type == "color");
      if (filter) {
        (slot.type == "brand" ? out.filter.brands : out.filter.colors).push_back(slot.value);
      } else {
        for (const std::string& term : terms) {
          out.boosted.push_back(term);
          search.boosts.push_back(text::TermBoost{term, structured.boost_weight});
        }
      }
    }
    query_terms = out.remainder.empty() ? slot_terms : out.remainder;
  } else {
    out.remainder = out.analysis.terms;
  }
  std::string text;
  for (const std::string& term : query_terms) (text += term) += ' ';
  text::SearchOptions filtered = search;
  auto add = [](std::vector<std::string>* to, const std::vector<std::string>& from) {
    to->insert(to->end(), from.begin(), from.end());
  };
  if (!out.filter.brands.empty() && !filtered.filter.brands.empty()) out.filter.brands.clear();
  if (!out.filter.colors.empty() && !filtered.filter.colors.empty()) out.filter.colors.clear();
  add(&filtered.filter.brands, out.filter.brands);
  add(&filtered.filter.colors, out.filter.colors);
  AISLE_ASSIGN_OR_RETURN(out.result, index.search(text, filtered));
  if (out.filter.empty() || out.result.hits.size() >= static_cast<std::size_t>(options.k)) return out;
  // Too few with the slot filters: fill up from the unfiltered search, filtered hits first.
  AISLE_ASSIGN_OR_RETURN(text::SearchResult relaxed, index.search(text, search));
  out.relaxed = true;
  std::unordered_set<std::uint32_t> have;
  for (const text::Hit& hit : out.result.hits) have.insert(hit.product.value());
  for (const text::Hit& hit : relaxed.hits) {
    if (out.result.hits.size() >= static_cast<std::size_t>(options.k)) break;
    if (!have.contains(hit.product.value())) out.result.hits.push_back(hit);
  }
  return out;
}

}  // namespace aisle::retrieve
