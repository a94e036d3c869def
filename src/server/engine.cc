#include "aisle/server/engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aisle/core/locale.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/readers.h"
#include "aisle/io/utf8.h"
#include "aisle/models/text_encoder.h"
#include "aisle/rank/clicks.h"
#include "aisle/rank/result_json.h"
#include "aisle/retrieve/lexical.h"

namespace aisle::server {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Status field_error(std::string_view field, std::string message) {
  return Status::bad_input(std::move(message), Where("", 0, std::string(field)));
}

// Request fields. A GET's parameters arrive as strings, so numbers and booleans may be strings.
Result<std::string> string_field(const nlohmann::json& request, std::string_view key, std::string fallback, bool required,
                                 std::size_t max_bytes) {
  auto found = request.find(key);
  if (found == request.end() || found->is_null()) {
    if (required) return field_error(key, std::string(key) + " is required");
    return fallback;
  }
  if (!found->is_string()) return field_error(key, std::string(key) + " must be a string");
  std::string value = found->get<std::string>();
  if (io::find_invalid_utf8(value)) return field_error(key, std::string(key) + " is not valid UTF-8");
  if (value.size() > max_bytes) return field_error(key, fmt::format("{} is longer than {} bytes", key, max_bytes));
  if (required && value.empty()) return field_error(key, std::string(key) + " must not be empty");
  return value;
}

Result<int> int_field(const nlohmann::json& request, std::string_view key, int fallback, int low, int high) {
  auto found = request.find(key);
  if (found == request.end() || found->is_null()) return fallback;
  double value = 0;
  if (found->is_number()) {
    value = found->get<double>();
  } else if (found->is_string()) {
    const std::string text = found->get<std::string>();
    char* end = nullptr;
    value = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) return field_error(key, std::string(key) + " must be a number");
  } else {
    return field_error(key, std::string(key) + " must be a number");
  }
  if (!std::isfinite(value) || value != std::floor(value) || value < low || value > high) {
    return field_error(key, fmt::format("{} must be an integer in {}..{}", key, low, high));
  }
  return static_cast<int>(value);
}

Result<bool> bool_field(const nlohmann::json& request, std::string_view key, bool fallback) {
  auto found = request.find(key);
  if (found == request.end() || found->is_null()) return fallback;
  if (found->is_boolean()) return found->get<bool>();
  if (found->is_string()) {
    const std::string text = found->get<std::string>();
    if (text == "true" || text == "1" || text.empty()) return true;
    if (text == "false" || text == "0") return false;
  }
  return field_error(key, std::string(key) + " must be true or false");
}

// A batch: an array, or an object holding one under `key`.
Result<const nlohmann::json*> batch_field(const nlohmann::json& request, std::string_view key, std::size_t max_batch) {
  const nlohmann::json* batch = &request;
  if (request.is_object()) {
    auto found = request.find(key);
    if (found == request.end()) return field_error(key, std::string(key) + " is required (an array of objects)");
    batch = &*found;
  }
  if (!batch->is_array()) return field_error(key, std::string(key) + " must be an array of objects");
  if (batch->empty()) return field_error(key, std::string(key) + " must not be empty");
  if (batch->size() > max_batch) return field_error(key, fmt::format("{} holds more than {} records", key, max_batch));
  for (std::size_t i = 0; i < batch->size(); ++i) {
    if (!(*batch)[i].is_object()) return Status::bad_input("a record must be an object", Where("body", i + 1, std::string(key)));
  }
  return batch;
}

// The records of a batch as JSONL (line i = record i), for the file readers, which validate
// every field and name body:LINE:field.
std::string to_jsonl(const nlohmann::json& batch) {
  std::string text;
  for (const nlohmann::json& record : batch) {
    text += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::strict);
    text += '\n';
  }
  return text;
}

template <typename Record, typename Open>
Result<std::vector<Record>> read_batch(const std::string& jsonl, io::Format format, Open open) {
  io::ReaderOptions options;
  options.format = format;
  AISLE_ASSIGN_OR_RETURN(auto reader, open(io::memory_source("body", jsonl), options));
  std::vector<Record> records;
  Record record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(const bool more, reader->next(&record));
    if (!more) break;
    records.push_back(std::move(record));
  }
  return records;
}

}  // namespace

Reply error_reply(int http_status, std::string_view code, std::string_view message, std::string_view field) {
  Reply reply;
  reply.status = http_status;
  reply.body = {{"error", {{"code", code}, {"message", message}}}};
  if (!field.empty()) reply.body["error"]["field"] = field;
  return reply;
}

Reply error_reply(const Status& status) {
  const Where& where = status.where();
  std::string field = where.field;
  if (!where.file.empty() || where.line > 0) field = where.to_string();
  switch (status.code()) {
    case StatusCode::kBadInput: return error_reply(400, "bad_input", status.message(), field);
    case StatusCode::kNotFound: return error_reply(404, "not_found", status.message(), field);
    default: return error_reply(500, std::string(status_code_name(status.code())), status.message());
  }
}

// A pipeline checked out of the pool; returned on destruction.
class Engine::Lease {
 public:
  Lease(Engine* engine, Slot slot) : engine_(engine), slot_(std::move(slot)) {}
  Lease(Lease&& other) noexcept : engine_(std::exchange(other.engine_, nullptr)), slot_(std::move(other.slot_)) {}
  ~Lease() {
    if (engine_ != nullptr) engine_->release(std::move(slot_));
  }
  rank::SearchPipeline& operator*() { return *slot_.pipeline; }
  rank::SearchPipeline* operator->() { return slot_.pipeline.get(); }
  Slot& slot() { return slot_; }

 private:
  Engine* engine_;
  Slot slot_;
};

Engine::Engine(const EngineOptions& options, const Context& context) : options_(options), context_(context) {}

Engine::~Engine() { (void)close(); }

retrieve::IndexUpdateOptions Engine::index_update_options() const {
  retrieve::IndexUpdateOptions update;
  update.config = &config_;  // the settings read at open(): a file edited since waits for a restart
  return update;
}

Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& options, const Context& context) {
  if (options.pipelines < 1) return Status::bad_input("pipelines must be >= 1");
  auto engine = std::unique_ptr<Engine>(new Engine(options, context));
  // One load of the indexes and models; every pipeline shares them with its own connection.
  AISLE_ASSIGN_OR_RETURN(auto first, rank::SearchPipeline::open(options.data_dir, context));
  AISLE_ASSIGN_OR_RETURN(engine->store_, store::Store::open(options.data_dir));
  // The store is the source of truth: listings it holds that the lexical index lacks (a
  // process killed between the store's commit and the index's) are indexed before serving.
  retrieve::IndexUpdateReport caught_up;
  engine->config_ = first->catalog().config;
  engine->settings_pending_ = first->catalog().settings_pending;
  AISLE_RETURN_IF_ERROR(
      retrieve::update_index(*engine->store_, context, options.data_dir, engine->index_update_options(), &caught_up));
  for (const std::string& change : first->catalog().settings_pending) {
    context.logger().warn("{}: the index was built with other settings ({}); `aisle index` applies the file's",
                          config_path(options.data_dir).string(), change);
  }
  if (caught_up.added + caught_up.updated + caught_up.removed > 0) AISLE_RETURN_IF_ERROR(first->reload_lexical());
  // Likewise the vectors: those upserted since the last save died with a killed process.
  AISLE_ASSIGN_OR_RETURN(const std::size_t embedded, first->catch_up_vectors(context));
  if (embedded > 0) AISLE_RETURN_IF_ERROR(first->save_vectors());
  engine->documents_ = first->catalog().index->stats().documents;
  {
    // The index outlives the suggester: every pipeline shares it until the engine closes.
    const text::InvertedIndex* index = first->catalog().index.get();
    // A query is suggested when every word of it is in the catalog's vocabulary as typed (no
    // typo correction) and it finds something.
    engine->keep_query_ = [index](const std::string& query, const std::string& locale) {
      text::SearchOptions search;
      search.locale = locale;
      search.k = 1;
      search.typo.enabled = false;
      search.filter.locales = {locale};
      auto result = index->search(query, search);
      return result.is_ok() && !result->hits.empty() && !result->terms.empty() &&
             std::all_of(result->terms.begin(), result->terms.end(), [](const text::QueryTerm& term) { return term.df > 0; });
    };
    const auto started = std::chrono::steady_clock::now();
    AISLE_ASSIGN_OR_RETURN(engine->suggester_,
                           retrieve::Suggester::build(
                               *engine->store_, [index](std::string_view text) { return index->normalize(text); },
                               engine->keep_query_));
    context.logger().info("suggestions: {} entries, built in {:.1f} s", engine->suggester_->size(),
                          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  engine->layers_ = rank::layers_json(*first);
  engine->layers_["policy"] = {
      {"present", true},
      {"active", false},
      {"reason", "off in the default search: the bandit has no validation verdict against the best fixed strategy "
                 "set; it chooses only for requests with strategy \"policy\""}};
  for (int i = 1; i < options.pipelines; ++i) {
    AISLE_ASSIGN_OR_RETURN(auto sibling, first->open_sibling());
    engine->free_.push_back(Slot{std::move(sibling), 0});
  }
  engine->free_.push_back(Slot{std::move(first), 0});
  // Requests run side by side, one per worker: each model call (query encoding, the ESCI
  // classifier) takes one thread. Intra-op threads would only contend with the other requests
  // for the same cores (loading the models set torch's count from the Context).
  models::TextEncoder::set_threads(1);
  // The memory index, caught up with events stored since it was saved.
  retrieve::MemoryBuildReport report;
  AISLE_ASSIGN_OR_RETURN(engine->memory_, rank::update_memory(*engine->store_, options.data_dir, false, context, &report, nullptr));
  AISLE_ASSIGN_OR_RETURN(engine->policy_, rank::OnlinePolicy::open(options.data_dir, options.online, context.seed()));
  AISLE_ASSIGN_OR_RETURN(store::StoreStats stats, engine->store_->stats());
  engine->events_stored_ = stats.events;
  for (const auto& [locale, count] : stats.products_per_locale) {
    if (count > 0) engine->locales_.push_back(locale);
  }
  engine->closed_ = false;
  return engine;
}

Result<Engine::Lease> Engine::acquire() {
  Slot slot;
  {
    std::unique_lock lock(pool_mutex_);
    pool_ready_.wait(lock, [&] { return !free_.empty(); });
    slot = std::move(free_.back());
    free_.pop_back();
  }
  Lease lease(this, std::move(slot));
  // A write committed products since this pipeline opened the index: reopen it.
  if (const std::int64_t generation = generation_.load(); lease.slot().generation != generation) {
    AISLE_RETURN_IF_ERROR(lease->reload_lexical());
    lease.slot().generation = generation;
  }
  return lease;
}

void Engine::release(Slot slot) {
  {
    std::lock_guard lock(pool_mutex_);
    free_.push_back(std::move(slot));
  }
  pool_ready_.notify_one();
}

Result<nlohmann::json> Engine::run_search(const nlohmann::json& request) {
  if (!request.is_object()) return field_error("body", "the request must be a JSON object");
  // A misspelled parameter ("fliters", "limit") would otherwise be ignored without a word.
  static const char* const kKnown[] = {"query", "locale", "k", "offset", "page", "sort", "filters", "explain",
                                       "facets", "highlight", "strategy", "depth", "all_locales", "rank"};
  for (const auto& [key, value] : request.items()) {
    if (std::find_if(std::begin(kKnown), std::end(kKnown), [&](const char* known) { return key == known; }) == std::end(kKnown)) {
      std::string expected;
      for (const char* known : kKnown) expected += (expected.empty() ? "" : ", ") + std::string(known);
      return field_error(key, "unknown parameter \"" + key + "\" (expected one of: " + expected + ")");
    }
  }
  rank::PipelineOptions options;
  AISLE_ASSIGN_OR_RETURN(const std::string query, string_field(request, "query", "", true, options_.max_query_bytes));
  AISLE_ASSIGN_OR_RETURN(const std::string locale_text, string_field(request, "locale", "en", false, 64));
  auto locale = Locale::parse(locale_text);
  if (!locale.is_ok()) return field_error("locale", locale.status().message());
  options.locale = locale->code();
  AISLE_ASSIGN_OR_RETURN(options.k, int_field(request, "k", 10, 1, options_.max_k));
  // Paging: the pipeline ranks offset + k results and the reply keeps the last k, so pages of
  // one query never overlap or skip (the order is deterministic). Deep pages cost like a large k.
  const int page_size = options.k;
  const int max_offset = options_.max_depth - page_size;
  AISLE_ASSIGN_OR_RETURN(int offset, int_field(request, "offset", 0, 0, max_offset));
  AISLE_ASSIGN_OR_RETURN(const int page, int_field(request, "page", 0, 1, max_offset / page_size + 1));
  if (page > 0) {
    if (request.contains("offset")) return field_error("page", "give offset or page, not both");
    offset = (page - 1) * page_size;
  }
  options.k = offset + page_size;
  AISLE_ASSIGN_OR_RETURN(options.explain, bool_field(request, "explain", false));
  AISLE_ASSIGN_OR_RETURN(options.facets, bool_field(request, "facets", true));
  AISLE_ASSIGN_OR_RETURN(options.highlight, bool_field(request, "highlight", true));
  AISLE_ASSIGN_OR_RETURN(options.all_locales, bool_field(request, "all_locales", false));
  AISLE_ASSIGN_OR_RETURN(options.rank, bool_field(request, "rank", true));
  AISLE_ASSIGN_OR_RETURN(const std::string sort, string_field(request, "sort", "relevance", false, 32));
  {
    auto parsed = rank::parse_sort(sort);
    if (!parsed.is_ok()) return field_error("sort", parsed.status().message());
    options.sort = *parsed;
  }
  AISLE_ASSIGN_OR_RETURN(const std::string strategy, string_field(request, "strategy", "", false, 200));
  AISLE_ASSIGN_OR_RETURN(const int depth, int_field(request, "depth", 100, 1, options_.max_depth));
  if (auto filters = request.find("filters"); filters != request.end() && !filters->is_null()) {
    std::vector<std::string> list;
    if (filters->is_string()) {
      list.push_back(filters->get<std::string>());
    } else if (filters->is_array()) {
      for (const nlohmann::json& f : *filters) {
        if (!f.is_string()) return field_error("filters", "filters must be strings KEY=VALUE");
        list.push_back(f.get<std::string>());
      }
    } else {
      return field_error("filters", "filters must be a list of strings KEY=VALUE");
    }
    for (const std::string& filter : list) {
      Status parsed = rank::parse_filter(filter, &options.filter);
      if (!parsed.is_ok()) return field_error("filters", parsed.message());
    }
  }

  AISLE_ASSIGN_OR_RETURN(Lease pipeline, acquire());
  // One snapshot of the catalog for the policy, the pipeline and the reply's listings.
  AISLE_ASSIGN_OR_RETURN(store::Store::ReadScope snapshot, pipeline->store().read_scope());
  const std::int64_t now = now_ms();
  std::shared_lock memory_lock(memory_mutex_);
  options.memory = memory_.get();
  options.now_ms = now;
  std::optional<rank::OnlineDecision> decision;
  std::string chosen_by;
  // One search path: without a strategy the server runs the CLI's default pipeline (the
  // settings file's default_strategy, "auto" without one). The bandit chooses only when asked
  // (strategy "policy", or a default_strategy "policy"): it has no validation verdict against
  // the best fixed strategy set yet, so it may not change what shoppers see by default.
  options.depth = std::max(options.k, depth);
  if (strategy == "policy" || (strategy.empty() && config_.default_strategy == "policy")) {
    AISLE_ASSIGN_OR_RETURN(decision, policy_->choose(*pipeline, query, options.locale, memory_.get(), now));
    options.action = decision->action;
    chosen_by = policy_->config().algorithm;
  } else if (!strategy.empty()) {
    options.strategy = strategy;
  }
  auto result = pipeline->search(query, options);
  if (!result.is_ok()) {
    if (result.status().code() == StatusCode::kBadInput && !strategy.empty()) return field_error("strategy", result.status().message());
    return result.status();
  }
  AISLE_ASSIGN_OR_RETURN(nlohmann::json out, rank::search_result_json(*pipeline, query, *result, options));
  memory_lock.unlock();
  {
    nlohmann::json& results = out["results"];
    const std::size_t available = results.size(), end = static_cast<std::size_t>(offset + page_size);
    nlohmann::json shown = nlohmann::json::array();
    for (std::size_t i = static_cast<std::size_t>(offset); i < std::min(available, end); ++i) shown.push_back(std::move(results[i]));
    results = std::move(shown);
    out["offset"] = offset;
    // A next page when the result set reaches beyond this one.
    const bool more = available >= end && result->total > end;
    out["next_offset"] = more && offset + 2 * page_size <= options_.max_depth ? nlohmann::json(end) : nlohmann::json();
  }
  if (decision) {
    policy_->record(*decision, *result, now);
    out["search_id"] = decision->search_id;
    out["policy"] = chosen_by;
  }
  AISLE_RETURN_IF_ERROR(policy_->settle(now, false));
  return out;
}

Reply Engine::search(const nlohmann::json& request) {
  auto out = run_search(request);
  if (!out.is_ok()) return error_reply(out.status());
  return Reply{200, std::move(*out)};
}

Reply Engine::suggest(const nlohmann::json& request) {
  auto run = [&]() -> Result<nlohmann::json> {
    if (!request.is_object()) return field_error("body", "the request must be a JSON object");
    for (const auto& [key, value] : request.items()) {
      if (key != "prefix" && key != "locale" && key != "k") {
        return field_error(key, "unknown parameter \"" + key + "\" (expected one of: prefix, locale, k)");
      }
    }
    AISLE_ASSIGN_OR_RETURN(const std::string prefix, string_field(request, "prefix", "", true, 200));
    AISLE_ASSIGN_OR_RETURN(const std::string locale_text, string_field(request, "locale", "en", false, 64));
    auto locale = Locale::parse(locale_text);
    if (!locale.is_ok()) return field_error("locale", locale.status().message());
    AISLE_ASSIGN_OR_RETURN(const int k, int_field(request, "k", 8, 1, static_cast<int>(retrieve::Suggester::kMaxK)));
    const retrieve::Suggestions found = suggester_->suggest(prefix, locale->code(), static_cast<std::size_t>(k));
    nlohmann::json queries = nlohmann::json::array(), products = nlohmann::json::array();
    for (const retrieve::Suggestion& query : found.queries) queries.push_back({{"text", query.text}});
    for (const retrieve::Suggestion& product : found.products) {
      nlohmann::json entry = {{"product_id", product.product_id}, {"title", product.text}};
      if (product.price) entry["price"] = *product.price;
      products.push_back(std::move(entry));
    }
    return nlohmann::json{{"prefix", prefix}, {"locale", locale->code()}, {"queries", queries}, {"products", products}};
  };
  auto out = run();
  if (!out.is_ok()) return error_reply(out.status());
  return Reply{200, std::move(*out)};
}

Reply Engine::related(const std::string& product_id, const std::string& locale, int k, bool all_locales) {
  if (k < 1 || k > options_.max_k) return error_reply(400, "bad_input", fmt::format("k must be in 1..{}", options_.max_k), "k");
  auto lease = acquire();
  if (!lease.is_ok()) return error_reply(lease.status());
  rank::SearchPipeline& pipeline = **lease;
  if (pipeline.related() == nullptr) {
    return error_reply(404, "not_found", "this data directory has no related-products model (run `aisle train related`)");
  }
  auto listings = retrieve::related_listings(*pipeline.related(), pipeline.store(), product_id, locale, k, all_locales);
  if (!listings.is_ok()) return error_reply(listings.status());
  nlohmann::json list = nlohmann::json::array();
  for (const retrieve::RelatedListing& related : *listings) {
    nlohmann::json entry = {{"product_id", related.hit.external_id}, {"score", related.hit.score}};
    if (related.listing) {
      entry["title"] = related.listing->record.title;
      entry["brand"] = related.listing->record.brand;
      if (related.listing->record.price) entry["price"] = *related.listing->record.price;
      if (!related.listing->record.image.empty()) entry["image"] = related.listing->record.image;
    }
    list.push_back(std::move(entry));
  }
  return Reply{200, {{"product_id", product_id}, {"related", std::move(list)}}};
}

Reply Engine::classify(const nlohmann::json& request) {
  if (!request.is_object()) return error_reply(400, "bad_input", "the request must be a JSON object", "body");
  auto query = string_field(request, "query", "", true, options_.max_query_bytes);
  if (!query.is_ok()) return error_reply(query.status());
  auto product_id = string_field(request, "product_id", "", true, 256);
  if (!product_id.is_ok()) return error_reply(product_id.status());
  auto locale = string_field(request, "locale", "en", false, 64);
  if (!locale.is_ok()) return error_reply(locale.status());
  auto lease = acquire();
  if (!lease.is_ok()) return error_reply(lease.status());
  rank::SearchPipeline& pipeline = **lease;
  if (pipeline.classifier() == nullptr) {
    return error_reply(404, "not_found", "this data directory has no ESCI classifier (run `aisle train classifier`)");
  }
  auto product = pipeline.store().find_product(*locale, *product_id);
  if (!product.is_ok()) return error_reply(product.status());
  if (!*product) return error_reply(404, "not_found", "no product " + *product_id + " in locale " + *locale, "product_id");
  const text::Document document = retrieve::to_document(**product);
  const models::PairInput pair{*query, *locale, &document};
  auto predicted = pipeline.classifier()->predict(std::span<const models::PairInput>(&pair, 1), pipeline.engagement_graph());
  if (!predicted.is_ok()) return error_reply(predicted.status());
  static const char* kNames[4] = {"E", "S", "C", "I"};
  const auto& p = *predicted;
  const auto best = std::max_element(p.begin(), p.begin() + 4) - p.begin();
  return Reply{200,
               {{"query", *query}, {"product_id", *product_id}, {"locale", *locale}, {"label", kNames[best]},
                {"probabilities", {{"E", p[0]}, {"S", p[1]}, {"C", p[2]}, {"I", p[3]}}}}};
}

Reply Engine::product(const std::string& product_id, const std::string& locale) {
  std::lock_guard lock(write_mutex_);
  auto product = store_->find_product(locale, product_id);
  if (!product.is_ok()) return error_reply(product.status());
  if (!*product) return error_reply(404, "not_found", "no product " + product_id + " in locale " + locale, "id");
  const io::ProductRecord& r = (*product)->record;
  nlohmann::json out = {{"id", r.id},         {"locale", r.locale}, {"title", r.title},       {"description", r.description},
                        {"bullets", r.bullets}, {"brand", r.brand}, {"color", r.color},       {"category", r.category}};
  nlohmann::json attributes = nlohmann::json::object();
  for (const auto& [name, value] : r.attributes) attributes[name] = value;
  out["attributes"] = attributes;
  if (r.price) out["price"] = *r.price;
  if (r.popularity) out["popularity"] = *r.popularity;
  if (!r.group.empty()) out["group"] = r.group;
  if (!r.image.empty()) out["image"] = r.image;
  return Reply{200, std::move(out)};
}

Reply Engine::delete_product(const std::string& product_id, const std::string& locale_text) {
  auto locale = Locale::parse(locale_text);
  if (!locale.is_ok()) return error_reply(400, "bad_input", locale.status().message(), "locale");
  std::lock_guard lock(write_mutex_);
  auto run = [&]() -> Result<nlohmann::json> {
    AISLE_ASSIGN_OR_RETURN(const std::optional<ProductId> deleted, store_->delete_product(locale->code(), product_id));
    if (!deleted) return Status::not_found("no product " + product_id + " in locale " + locale->code());
    retrieve::IndexUpdateReport report;
    AISLE_RETURN_IF_ERROR(retrieve::update_index(*store_, context_, options_.data_dir, index_update_options(), &report));
    ++generation_;  // pipelines reopen the index on their next checkout
    documents_ = report.documents;
    suggester_->remove_product(locale->code(), product_id);
    // The language menu offers the catalog's locales: not one whose last listing just went.
    AISLE_ASSIGN_OR_RETURN(const bool locale_left, store_->has_locale(locale->code()));
    if (!locale_left) {
      std::lock_guard locales_lock(locales_mutex_);
      std::erase(locales_, locale->code());
    }
    {
      AISLE_ASSIGN_OR_RETURN(Lease pipeline, acquire());
      pipeline->removed(std::span<const ProductId>(&*deleted, 1));
      if (pipeline->has_vectors()) vectors_changed_ = true;
    }
    return nlohmann::json{{"deleted", product_id}, {"locale", locale->code()}, {"documents", report.documents}};
  };
  auto out = run();
  if (!out.is_ok()) return error_reply(out.status());
  return Reply{200, std::move(*out)};
}

Reply Engine::upsert_products(const nlohmann::json& request) {
  auto batch = batch_field(request, "products", options_.max_batch);
  if (!batch.is_ok()) return error_reply(batch.status());
  auto records = read_batch<io::ProductRecord>(to_jsonl(**batch), io::Format::kCatalogJsonl,
                                               [](auto source, const io::ReaderOptions& o) { return io::open_product_reader(std::move(source), o); });
  if (!records.is_ok()) return error_reply(records.status());
  std::lock_guard lock(write_mutex_);
  auto write = [&]() -> Result<retrieve::IndexUpdateReport> {
    AISLE_ASSIGN_OR_RETURN(const std::int64_t run, store_->begin_run("api", "products", "catalog-jsonl"));
    Status written = store_->write_products(run, *records, static_cast<std::int64_t>(records->size()));
    AISLE_RETURN_IF_ERROR(store_->finish_run(run, written.is_ok(), written.is_ok() ? "" : written.message()));
    AISLE_RETURN_IF_ERROR(written);
    retrieve::IndexUpdateReport report;
    AISLE_RETURN_IF_ERROR(retrieve::update_index(*store_, context_, options_.data_dir, index_update_options(), &report));
    return report;
  };
  auto report = write();
  if (!report.is_ok()) return error_reply(report.status());
  // Pipelines reopen the index on their next checkout.
  ++generation_;
  {
    std::lock_guard locales_lock(locales_mutex_);
    for (const io::ProductRecord& record : *records) {
      if (std::find(locales_.begin(), locales_.end(), record.locale) == locales_.end()) locales_.push_back(record.locale);
    }
    std::sort(locales_.begin(), locales_.end());
  }
  documents_ = report->documents;
  products_written_ += static_cast<std::int64_t>(records->size());
  // The new and changed listings in what every pipeline shares: their vectors (the vector
  // strategy and the cosine feature see them on the next search; saved at close()) and their
  // place in the popularity lists.
  auto embed = [&]() -> Result<std::size_t> {
    std::vector<store::Product> stored;
    for (const io::ProductRecord& record : *records) {
      AISLE_ASSIGN_OR_RETURN(auto product, store_->find_product(record.locale, record.id));
      if (product) stored.push_back(std::move(*product));
    }
    suggester_->add_products(stored);
    AISLE_ASSIGN_OR_RETURN(Lease pipeline, acquire());
    AISLE_RETURN_IF_ERROR(pipeline->upserted(stored, context_));
    if (!pipeline->has_vectors()) return std::size_t{0};
    vectors_upserted_ += static_cast<std::int64_t>(stored.size());
    vectors_changed_ = true;
    return stored.size();
  };
  auto embedded = embed();
  if (!embedded.is_ok()) {
    // The listings are stored and searchable by text; only their vectors are missing (`aisle
    // index` embeds them). A machine failure, reported as one.
    return error_reply(Status::internal("the products are stored and indexed, their vectors failed: " +
                                        embedded.status().message()));
  }
  return Reply{200,
               {{"written", records->size()},
                {"index", {{"added", report->added}, {"updated", report->updated},
                           {"documents", report->documents}, {"seconds", report->seconds}}},
                {"vectors", *embedded}}};
}

Reply Engine::add_events(const nlohmann::json& request) {
  auto batch = batch_field(request, "events", options_.max_batch);
  if (!batch.is_ok()) return error_reply(batch.status());
  // search_id is the API's own field: taken out before the events reader sees the records.
  nlohmann::json events = **batch;
  std::vector<std::string> search_ids;
  for (std::size_t i = 0; i < events.size(); ++i) {
    std::string id;
    if (auto found = events[i].find("search_id"); found != events[i].end()) {
      if (!found->is_string() && !found->is_null()) return error_reply(Status::bad_input("search_id must be a string", Where("body", i + 1, "search_id")));
      if (found->is_string()) id = found->get<std::string>();
      events[i].erase("search_id");
    }
    search_ids.push_back(std::move(id));
  }
  auto records = read_batch<io::EventRecord>(to_jsonl(events), io::Format::kEventsJsonl,
                                             [](auto source, const io::ReaderOptions& o) { return io::open_event_reader(std::move(source), o); });
  if (!records.is_ok()) return error_reply(records.status());
  std::lock_guard lock(write_mutex_);
  auto write = [&]() -> Status {
    AISLE_ASSIGN_OR_RETURN(const std::int64_t run, store_->begin_run("api", "events", "events-jsonl"));
    Status written = store_->write_events(run, *records, static_cast<std::int64_t>(records->size()));
    AISLE_RETURN_IF_ERROR(store_->finish_run(run, written.is_ok(), written.is_ok() ? "" : written.message()));
    return written;
  };
  Status written = write();
  if (!written.is_ok()) return error_reply(written);
  // Committed: from here on the batch is acknowledged. The memory index and the bandit learn
  // it; the memory index reads exactly the rows this batch added (writes are serialized), so
  // its count tells stored events from duplicates the store already had (same session, time,
  // type, product, query and position).
  retrieve::MemoryBuildReport report;
  {
    std::unique_lock memory_lock(memory_mutex_);
    Status caught_up = retrieve::add_stored_events(*store_, memory_.get(), &report);
    if (!caught_up.is_ok()) return error_reply(caught_up);
  }
  events_stored_ += report.events_read;
  // Suggestions learn the engaged queries at once. A batch holding events the store already
  // had (a retry) is not counted again: only a batch stored whole adds weight.
  if (report.events_read == static_cast<std::int64_t>(records->size())) {
    std::map<std::pair<std::string, std::string>, double> engaged;  // (locale, query) -> events
    for (const io::EventRecord& event : *records) {
      if (event.type != io::EventType::kImpression && !event.query.empty()) engaged[{event.locale, event.query}] += 1;
    }
    std::vector<retrieve::Suggestion> queries;
    for (const auto& [key, count] : engaged) {
      retrieve::Suggestion query;
      query.locale = key.first;
      query.text = key.second;
      query.weight = count;
      queries.push_back(std::move(query));
    }
    if (!queries.empty()) suggester_->add_query_engagement(queries, keep_query_);
  }
  std::int64_t rewarded = 0;
  for (std::size_t i = 0; i < records->size(); ++i) {
    if (search_ids[i].empty()) continue;
    const io::EventRecord& event = (*records)[i];
    auto product = store_->find_product(event.locale, event.product_id);
    if (!product.is_ok()) return error_reply(product.status());
    if (*product && policy_->reward(search_ids[i], (*product)->id, event.type)) ++rewarded;
  }
  Status settled = policy_->settle(now_ms(), false);
  if (!settled.is_ok()) return error_reply(settled);
  return Reply{200,
               {{"stored", report.events_read},
                {"duplicates", static_cast<std::int64_t>(records->size()) - report.events_read},
                {"rewarded", rewarded}}};
}

Reply Engine::health() {
  std::vector<std::string> locales;
  {
    std::lock_guard lock(locales_mutex_);
    locales = locales_;
  }
  nlohmann::json currencies = nlohmann::json::object();
  for (const std::string& locale : locales) currencies[locale] = config_.currency(locale);
  nlohmann::json settings = {{"file", config_.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(config_.file.string())},
                             {"default_strategy", config_.default_strategy},
                             {"pending_reindex", settings_pending_}};
  return Reply{200, {{"status", "ok"}, {"documents", documents_.load()}, {"events", events_stored_.load()}, {"locales", locales},
                     {"currencies", currencies}, {"settings", settings}, {"layers", layers_}}};
}

std::vector<std::tuple<std::string, std::string, double>> Engine::gauges() {
  std::vector<std::tuple<std::string, std::string, double>> out;
  out.emplace_back("aisle_index_documents", "Live documents in the lexical index", static_cast<double>(documents_.load()));
  out.emplace_back("aisle_events_stored", "Feedback events in the store", static_cast<double>(events_stored_.load()));
  out.emplace_back("aisle_products_written", "Products written through the API since start",
                   static_cast<double>(products_written_.load()));
  {
    std::shared_lock lock(memory_mutex_);
    out.emplace_back("aisle_memory_queries", "Queries in the memory index", static_cast<double>(memory_->num_keys()));
    out.emplace_back("aisle_memory_entries", "Query-product entries in the memory index", static_cast<double>(memory_->num_entries()));
  }
  const rank::OnlineStats stats = policy_->stats();
  out.emplace_back("aisle_policy_searches", "Searches whose strategies the policy chose since start", static_cast<double>(stats.searches));
  out.emplace_back("aisle_policy_updates", "Policy updates (settled searches), all time", static_cast<double>(stats.updates));
  out.emplace_back("aisle_policy_pending", "Searches awaiting feedback", static_cast<double>(stats.pending));
  out.emplace_back("aisle_policy_rewarded_events", "Events credited to a search since start", static_cast<double>(stats.rewarded_events));
  return out;
}

Status Engine::close() {
  std::lock_guard lock(write_mutex_);
  if (closed_) return Status::ok();
  closed_ = true;
  AISLE_RETURN_IF_ERROR(policy_->settle(now_ms(), true));
  AISLE_RETURN_IF_ERROR(policy_->save());
  if (vectors_changed_) {
    std::unique_lock pool_lock(pool_mutex_);
    if (!free_.empty()) AISLE_RETURN_IF_ERROR(free_.front().pipeline->save_vectors());
  }
  std::unique_lock memory_lock(memory_mutex_);
  return memory_->save(retrieve::memory_path(options_.data_dir));
}

}  // namespace aisle::server
