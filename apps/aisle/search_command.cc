// aisle index, aisle search.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/core/files.h"
#include "aisle/rank/clicks.h"
#include "aisle/rank/online.h"
#include "aisle/rank/pipeline.h"
#include "aisle/rank/result_json.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/store/store.h"
#include "commands.h"

namespace aisle::cli {

Command add_index(CLI::App& app) {
  struct Args {
    std::string data_dir;
    bool rebuild = false;
    bool no_vectors = false;
  };
  auto args = std::make_shared<Args>();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_flag("--rebuild", args->rebuild, "Rebuild from scratch instead of applying changes");
  app.add_flag("--no-vectors", args->no_vectors, "Skip embedding products even when an encoder exists");
  return [args](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir));
    AISLE_ASSIGN_OR_RETURN(const DirectoryLock lock, DirectoryLock::acquire(args->data_dir, "aisle index"));
    retrieve::IndexUpdateOptions options;
    options.rebuild = args->rebuild;
    options.apply_settings = true;
    retrieve::IndexUpdateReport report;
    AISLE_RETURN_IF_ERROR(retrieve::update_index(*store, context, args->data_dir, options, &report));
    for (const std::string& change : report.settings_changed) say("settings changed, index rebuilt: {}", change);
    say("index {}: {} documents ({} added, {} updated, {} removed, {} unchanged), {} segment(s), {:.1f} MB, "
        "{} query-understanding phrases, {:.2f} s",
        report.created ? "built" : "updated", report.documents, report.added, report.updated, report.removed,
        report.unchanged, report.segments, static_cast<double>(report.index_bytes) / 1e6, report.phrases,
        report.seconds);
    retrieve::MemoryBuildReport memory_report;
    rank::PositionBias bias;
    AISLE_ASSIGN_OR_RETURN(auto memory, rank::update_memory(*store, args->data_dir, args->rebuild, context, &memory_report, &bias));
    say("memory {}: {} events read ({} without a query or a stored product), {} queries, {} entries, {} predicted, "
        "{} positions of click propensities, {:.2f} s",
        memory_report.created ? "built" : "updated", memory_report.events_read, memory_report.events_skipped, memory->num_keys(),
        memory->num_entries(), memory_report.predicted, bias.propensity.size(), memory_report.seconds);
    if (args->no_vectors) return Status::ok();
    if (!std::filesystem::exists(retrieve::encoder_path(args->data_dir))) {
      say("vectors: no encoder in {} (run `aisle train encoder` for the vector strategy)", args->data_dir);
      return Status::ok();
    }
    AISLE_ASSIGN_OR_RETURN(auto encoder, models::TextEncoder::load(retrieve::encoder_path(args->data_dir), context));
    retrieve::VectorIndexReport vectors;
    AISLE_RETURN_IF_ERROR(retrieve::build_vector_index(*store, *encoder, context, args->data_dir, &vectors));
    say("vectors built: {} products x {} dims ({} encoder), encode {:.2f} s, HNSW {:.2f} s", vectors.products,
        encoder->dim(), models::architecture_name(encoder->config().architecture), vectors.encode_seconds,
        vectors.build_seconds);
    return Status::ok();
  };
}

Command add_delete(CLI::App& app) {
  struct Args {
    std::string data_dir, locale = "en";
    std::vector<std::string> ids;
  };
  auto args = std::make_shared<Args>();
  app.add_option("ids", args->ids, "External ids of the listings to delete")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--locale", args->locale, "The listings' locale")->capture_default_str();
  return [args](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(args->locale));
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir));
    // A running server holds the directory: delete through its API then (its index and
    // vectors would not see this process's changes).
    AISLE_ASSIGN_OR_RETURN(const DirectoryLock lock, DirectoryLock::acquire(args->data_dir, "aisle delete"));
    std::vector<ProductId> deleted;
    for (const std::string& id : args->ids) {
      AISLE_ASSIGN_OR_RETURN(const std::optional<ProductId> product, store->delete_product(locale.code(), id));
      if (!product) return Status::not_found("no product " + id + " in locale " + locale.code());
      deleted.push_back(*product);
    }
    // The derived indexes: the lexical index drops what the store no longer has; the vectors,
    // when the data directory has them, are saved without them.
    retrieve::IndexUpdateReport report;
    AISLE_RETURN_IF_ERROR(retrieve::update_index(*store, context, args->data_dir, {}, &report));
    std::string vectors = "no vectors";
    if (std::filesystem::exists(retrieve::vector_index_path(args->data_dir))) {
      AISLE_ASSIGN_OR_RETURN(auto strategy, retrieve::VectorStrategy::open(args->data_dir, context));
      strategy->remove(deleted);
      AISLE_RETURN_IF_ERROR(strategy->save(args->data_dir));
      vectors = "vectors saved without them";
    }
    say("deleted {} listing(s); index: {} documents ({} removed); {}", deleted.size(), report.documents, report.removed, vectors);
    return Status::ok();
  };
}

namespace {

// highlight_html()'s HTML for a terminal: <mark>word</mark> as *word*, entities decoded.
std::string marked_text(std::string_view html) {
  static constexpr std::pair<std::string_view, std::string_view> kReplacements[] = {
      {"<mark>", "*"}, {"</mark>", "*"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}, {"&amp;", "&"}};
  std::string out;
  for (std::size_t at = 0; at < html.size();) {
    bool replaced = false;
    for (const auto& [from, to] : kReplacements) {
      if (html.substr(at, from.size()) == from) {
        out += to;
        at += from.size();
        replaced = true;
        break;
      }
    }
    if (!replaced) out.push_back(html[at++]);
  }
  return out;
}

}  // namespace

Command add_search(CLI::App& app) {
  struct Args {
    std::string data_dir, query;
    std::vector<std::string> filters;
    std::string sort = "relevance";
    rank::PipelineOptions options;
    bool json = false, no_typos = false, no_rank = false;
  };
  auto args = std::make_shared<Args>();
  rank::PipelineOptions& o = args->options;
  app.add_option("query", args->query, "Query text")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--locale", o.locale, "The query's language")->capture_default_str();
  app.add_option("--filter", args->filters,
                 "KEY=VALUE: brand, color, category (path), locale, price=MIN..MAX, or a numeric attribute: NAME=MIN..MAX, "
                 "NAME=NUMBER (either end of a range may be empty)");
  app.add_option("--sort", args->sort,
                 "relevance, price_asc, price_desc, popularity or newest (the relevant results re-ordered)")
      ->capture_default_str();
  app.add_option("-k,--k", o.k, "Number of results")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--strategy", o.strategy,
                 "auto (the default pipeline: lexical, plus vector when the encoder passed its validation gate), hybrid (lexical + "
                 "vector), policy (the bandit's choice, from <data-dir>/index/policy.json or a new policy), or "
                 "strategies joined by + from lexical, structured, vector, memory, graph, popularity (default: "
                 "default_strategy of <data-dir>/aisle.toml, else auto)");
  app.add_option("--depth", o.depth, "Candidates per strategy for the ranker")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--ef", o.ef, "HNSW beam width (vector, hybrid)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_flag("--explain", o.explain,
               "Per-field score breakdown, query-understanding slots, and the ranker's feature contributions");
  app.add_flag("--facets", o.facets, "Count brand, color, category, locale, price and declared attribute facets (aisle.toml) over the result set");
  app.add_flag("--highlight", o.highlight,
               "Mark the query's words in titles and description snippets (<mark> in --json, *word* in text)");
  app.add_flag("--no-typos", args->no_typos, "Switch typo tolerance off");
  app.add_flag("--no-rank", args->no_rank, "Keep the strategies' (fused) order even when a ranker is active");
  app.add_flag("--all-locales", o.all_locales,
               "Results from every locale (default: the query's locale, plus listings sold only in another locale "
               "when fewer than k match)");
  app.add_flag("--json", args->json, "Print JSON instead of text");
  return [args](const Context& context) -> Status {
    rank::PipelineOptions options = args->options;
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(options.locale));
    options.locale = locale.code();
    options.typos = !args->no_typos;
    options.rank = !args->no_rank;
    for (const std::string& filter : args->filters) AISLE_RETURN_IF_ERROR(rank::parse_filter(filter, &options.filter));
    AISLE_ASSIGN_OR_RETURN(options.sort, rank::parse_sort(args->sort));
    AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(args->data_dir, context));
    std::string chosen_by;
    if (options.strategy.empty()) options.strategy = pipeline->catalog().config.default_strategy;
    if (options.strategy == "policy") {
      rank::OnlineOptions online;
      online.persist = false;  // a one-off search: nothing to learn from
      AISLE_ASSIGN_OR_RETURN(auto policy, rank::OnlinePolicy::open(args->data_dir, online, context.seed()));
      const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch()).count();
      AISLE_ASSIGN_OR_RETURN(rank::OnlineDecision decision, policy->choose(*pipeline, args->query, options.locale, nullptr, now));
      options.action = decision.action;
      chosen_by = fmt::format("{} after {} updates", policy->config().algorithm, policy->stats().updates);
    }
    AISLE_ASSIGN_OR_RETURN(rank::PipelineResult result, pipeline->search(args->query, options));
    AISLE_ASSIGN_OR_RETURN(nlohmann::json out, rank::search_result_json(*pipeline, args->query, result, options));
    const nlohmann::json& hits = out["results"];
    if (!chosen_by.empty()) out["policy"] = chosen_by;
    if (args->json) {
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("query: {} [{}{}{}] ({} of {} results{})", args->query, result.strategy, chosen_by.empty() ? "" : ", chosen by " + chosen_by,
        result.ranked ? fmt::format(", ranked {} candidates", result.candidates) : "", result.hits.size(), result.total,
        options.sort == rank::SortOrder::kRelevance ? "" : fmt::format(", sorted by {}", rank::sort_name(options.sort)));
    if (!result.notice.empty()) say("  {}", result.notice);
    if (out.contains("did_you_mean")) say("  did you mean: {}", out["did_you_mean"].get<std::string>());
    if (!result.intent.empty()) say("  intent: {}", fmt::join(result.intent, ", "));
    if (options.explain) {
      for (const rank::LayerState& layer : pipeline->layers()) say("  layer {}: {}", layer.name, layer.reason);
    }
    for (const auto& term : result.lexical.terms) {
      if (!term.expanded_from.empty()) say("  typo: {} -> {} ({} edit(s), df {})", term.expanded_from, term.term, term.edits, term.df);
      if (!term.synonym_of.empty()) say("  synonym: {} -> {} (df {})", term.synonym_of, term.term, term.df);
    }
    if (!result.slot_filter.brands.empty() || !result.slot_filter.colors.empty()) {
      say("  slot filters: brand [{}] color [{}]{}", fmt::join(result.slot_filter.brands, ", "),
          fmt::join(result.slot_filter.colors, ", "), result.relaxed ? " (too few matches: filled up without them)" : "");
    }
    for (const auto& hit : hits) {
      std::string esci_badge;
      if (hit.contains("esci")) {
        const std::string label = hit["esci"]["label"].get<std::string>();
        esci_badge = fmt::format("  {} {:.2f}", label, hit["esci"][label].get<double>());
      }
      say("  {:2}. {:7.3f}  [{}] {:<12} {}{}{}  <{}>{}{}", hit["rank"].get<int>(), hit["score"].get<double>(),
          hit.value("locale", ""), hit.value("product_id", ""),
          hit.contains("highlight") ? marked_text(hit["highlight"]["title"].get<std::string>()) : hit.value("title", ""),
          hit.value("brand", "").empty() ? "" : "  (" + hit.value("brand", "") + ")",
          hit.contains("price") ? fmt::format("  {:.2f}", hit["price"].get<double>()) : "", hit["found_by"].get<std::string>(),
          esci_badge, hit.value("other_locale", false) ? "  (sold only in another locale)" : "");
      if (hit.contains("highlight") && hit["highlight"].contains("description")) {
        say("        {}", marked_text(hit["highlight"]["description"].get<std::string>()));
      }
      if (!options.explain || !hit.contains("explain")) continue;
      for (const auto& term : hit["explain"]) {
        std::string fields;
        for (const auto& [name, field] : term["fields"].items()) {
          fields += fmt::format(" {}:tf={} ({:.2f})", name, field["tf"].get<int>(), field["weighted_tf"].get<double>());
        }
        say("        {:<12} idf {:.2f} x weight {:.2f} -> {:.3f} |{}", term["term"].get<std::string>(),
            term["idf"].get<double>(), term["weight"].get<double>(), term["score"].get<double>(), fields);
      }
      if (hit.value("prior", 0.0) > 0) say("        popularity prior {:.3f}", hit.value("prior", 0.0));
      if (hit.contains("vector_score")) {
        say("        vector: cosine {:.3f}, rank {}", hit["vector_score"].get<double>(), hit["vector_rank"].get<int>());
      }
      if (hit.contains("ranker")) {
        std::string parts;
        int shown = 0;
        for (const auto& c : hit["ranker"]["contributions"]) {
          if (shown++ == 6) break;
          parts += fmt::format(" {}{:+.3f}", c["feature"].get<std::string>(), c["contribution"].get<double>());
        }
        say("        ranker: {:.3f} (was #{}) = bias {:+.3f} +{}", hit["ranker"]["score"].get<double>(),
            hit["rank_before_ranker"].get<int>(), hit["ranker"]["bias"].get<double>(), parts);
      }
    }
    if (options.explain) {
      for (const auto& interpretation : result.analysis.interpretations) {
        std::string slots;
        for (const auto& slot : interpretation.slots) {
          slots += fmt::format(" {}{}{} ({:.2f})", slot.type, slot.type == "category" ? "~" : "=", slot.value, slot.likelihood);
        }
        say("  interpretation {:.2f}:{} | free text: {}", interpretation.likelihood, slots,
            fmt::join(interpretation.remainder, " "));
      }
    }
    if (options.facets) {
      say("  keyword matches {}; facets over the {} results:", result.lexical.matched, result.total);
      for (const auto& [name, values] : result.facets) {
        std::string list;
        for (const auto& value : values) list += fmt::format(" {} ({})", value.value, value.count);
        if (!values.empty()) say("  {}:{}", name, list);
      }
    }
    return Status::ok();
  };
}

}  // namespace aisle::cli
