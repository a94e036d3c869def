// aisle index, aisle search.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/rank/clicks.h"
#include "aisle/rank/pipeline.h"
#include "aisle/retrieve/lexical.h"
#include "aisle/retrieve/vector_strategy.h"
#include "aisle/store/store.h"
#include "commands.h"

namespace aisle::cli {
namespace {

// "brand=Nike", "category=Shoes > Running", "price=10..100", "locale=en", "color=red".
Status parse_filter(const std::string& text, text::Filter* filter) {
  auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0 || equals + 1 == text.size()) {
    return Status::bad_input("expected KEY=VALUE, found " + text, Where("", 0, "--filter"));
  }
  std::string key = text.substr(0, equals);
  std::string value = text.substr(equals + 1);
  if (key == "brand") {
    filter->brands.push_back(value);
  } else if (key == "color") {
    filter->colors.push_back(value);
  } else if (key == "category") {
    filter->categories.push_back(value);
  } else if (key == "locale") {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(value));
    filter->locales.push_back(locale.code());
  } else if (key == "price") {
    auto dots = value.find("..");
    if (dots == std::string::npos) {
      return Status::bad_input("expected price=MIN..MAX (either may be empty), found " + value, Where("", 0, "--filter"));
    }
    try {
      if (dots > 0) filter->min_price = std::stod(value.substr(0, dots));
      if (dots + 2 < value.size()) filter->max_price = std::stod(value.substr(dots + 2));
    } catch (const std::exception&) {
      return Status::bad_input("expected numbers in price=MIN..MAX, found " + value, Where("", 0, "--filter"));
    }
  } else {
    return Status::bad_input("unknown filter " + key + " (expected brand, color, category, locale or price)",
                             Where("", 0, "--filter"));
  }
  return Status::ok();
}

}  // namespace

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
    retrieve::IndexUpdateOptions options;
    options.rebuild = args->rebuild;
    retrieve::IndexUpdateReport report;
    AISLE_RETURN_IF_ERROR(retrieve::update_index(*store, context, args->data_dir, options, &report));
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

Command add_search(CLI::App& app) {
  struct Args {
    std::string data_dir, query;
    std::vector<std::string> filters;
    rank::PipelineOptions options;
    bool json = false, no_typos = false, no_rank = false;
  };
  auto args = std::make_shared<Args>();
  rank::PipelineOptions& o = args->options;
  app.add_option("query", args->query, "Query text")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--locale", o.locale, "The query's language")->capture_default_str();
  app.add_option("--filter", args->filters, "KEY=VALUE: brand, color, category (path), locale, price=MIN..MAX");
  app.add_option("-k,--k", o.k, "Number of results")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--strategy", o.strategy,
                 "lexical, structured, vector, hybrid (lexical + vector, fused) or auto (hybrid when the data "
                 "directory has product vectors, else lexical)")
      ->check(CLI::IsMember({"auto", "lexical", "structured", "vector", "hybrid"}))
      ->capture_default_str();
  app.add_option("--depth", o.depth, "Candidates per strategy for the ranker")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--ef", o.ef, "HNSW beam width (vector, hybrid)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_flag("--explain", o.explain,
               "Per-field score breakdown, query-understanding slots, and the ranker's feature contributions");
  app.add_flag("--facets", o.facets, "Count brand, color, category, locale and price facets");
  app.add_flag("--no-typos", args->no_typos, "Switch typo tolerance off");
  app.add_flag("--no-rank", args->no_rank, "Keep the strategies' (fused) order even when a ranker exists");
  app.add_flag("--json", args->json, "Print JSON instead of text");
  return [args](const Context& context) -> Status {
    rank::PipelineOptions options = args->options;
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(options.locale));
    options.locale = locale.code();
    options.typos = !args->no_typos;
    options.rank = !args->no_rank;
    for (const std::string& filter : args->filters) AISLE_RETURN_IF_ERROR(parse_filter(filter, &options.filter));
    // Without a ranker the shown list is a strategy's own: no deeper candidates needed.
    AISLE_ASSIGN_OR_RETURN(auto pipeline, rank::SearchPipeline::open(args->data_dir, context));
    if (pipeline->ranker() == nullptr || !options.rank) {
      const bool fused = options.strategy == "hybrid" || (options.strategy == "auto" && pipeline->has_vectors());
      options.depth = fused ? std::max(options.k, 100) : options.k;
    }
    AISLE_ASSIGN_OR_RETURN(rank::PipelineResult result, pipeline->search(args->query, options));
    const bool use_lexical = result.strategy != "vector";

    nlohmann::json out;
    out["query"] = args->query;
    out["strategy"] = result.strategy;
    out["ranked"] = result.ranked;
    out["candidates"] = result.candidates;
    out["relaxed"] = result.relaxed;
    nlohmann::json hits = nlohmann::json::array();
    for (std::size_t rank = 0; rank < result.hits.size(); ++rank) {
      const rank::PipelineHit& hit = result.hits[rank];
      AISLE_ASSIGN_OR_RETURN(auto product, pipeline->store().get_product(hit.product));
      const rank::Provenance& p = hit.provenance;
      nlohmann::json entry = {{"rank", rank + 1}, {"score", hit.score}, {"found_by", retrieve::strategy_names(p.found_by)}};
      if (p.found_by & (retrieve::kFoundLexical | retrieve::kFoundStructured)) {
        entry["lexical_score"] = p.lexical_score;
        entry["lexical_rank"] = p.lexical_rank > 0 ? p.lexical_rank : p.structured_rank;
        entry["prior"] = hit.prior;
      }
      if (p.found_by & retrieve::kFoundVector) {
        entry["vector_score"] = hit.vector_score;
        entry["vector_rank"] = p.vector_rank;
      }
      if (hit.ranker_score) {
        entry["ranker_score"] = *hit.ranker_score;
        entry["rank_before_ranker"] = hit.fused_rank;
      }
      if (hit.esci) {
        const auto& p_esci = *hit.esci;
        static const char* kNames[4] = {"E", "S", "C", "I"};
        const auto best = std::max_element(p_esci.begin(), p_esci.end()) - p_esci.begin();
        entry["esci"] = {{"label", kNames[best]}, {"E", p_esci[0]}, {"S", p_esci[1]}, {"C", p_esci[2]}, {"I", p_esci[3]}};
      }
      if (product) {
        entry["product_id"] = product->record.id;
        entry["locale"] = product->record.locale;
        entry["title"] = product->record.title;
        entry["brand"] = product->record.brand;
        if (product->record.price) entry["price"] = *product->record.price;
        if (options.explain) {
          nlohmann::json terms = nlohmann::json::array();
          for (const auto& term : use_lexical ? pipeline->catalog().index->explain(retrieve::to_document(*product), result.lexical.terms)
                                              : std::vector<text::TermExplanation>()) {
            nlohmann::json fields = nlohmann::json::object();
            for (int f = 0; f < text::kNumFields; ++f) {
              if (term.tf[f] == 0) continue;
              fields[std::string(text::field_name(static_cast<text::Field>(f)))] = {
                  {"tf", term.tf[f]}, {"weighted_tf", term.field_contribution[f]}};
            }
            terms.push_back({{"term", term.term}, {"idf", term.idf}, {"weight", term.weight},
                             {"score", term.score}, {"fields", fields}});
          }
          entry["explain"] = terms;
          if (hit.ranker_score) {
            nlohmann::json contributions = nlohmann::json::array();
            for (const auto& [name, value] : hit.contributions) contributions.push_back({{"feature", name}, {"contribution", value}});
            entry["ranker"] = {{"score", *hit.ranker_score}, {"bias", hit.contribution_bias}, {"contributions", contributions}};
          }
          nlohmann::json features = nlohmann::json::object();
          for (const auto& [name, value] : hit.features) features[name] = value;
          entry["features"] = features;
        }
      }
      hits.push_back(entry);
    }
    out["results"] = hits;
    nlohmann::json terms = nlohmann::json::array();
    for (const text::QueryTerm& term : result.lexical.terms) {
      nlohmann::json entry = {{"term", term.term}, {"df", term.df}, {"idf", term.idf}, {"weight", term.weight}};
      if (!term.expanded_from.empty()) {
        entry["expanded_from"] = term.expanded_from;
        entry["edits"] = term.edits;
      }
      terms.push_back(entry);
    }
    out["terms"] = terms;
    nlohmann::json interpretations = nlohmann::json::array();
    for (const retrieve::Interpretation& interpretation : result.analysis.interpretations) {
      nlohmann::json slots = nlohmann::json::array();
      for (const retrieve::Slot& slot : interpretation.slots) {
        slots.push_back({{"type", slot.type}, {"value", slot.value}, {"phrase", slot.phrase},
                         {"likelihood", slot.likelihood}});
      }
      interpretations.push_back({{"likelihood", interpretation.likelihood}, {"slots", slots},
                                 {"remainder", interpretation.remainder}});
    }
    if ((options.explain || result.strategy == "structured") && !result.analysis.interpretations.empty()) {
      out["interpretations"] = interpretations;
    }
    if (options.facets) {
      nlohmann::json facets = nlohmann::json::object();
      for (const auto& [name, values] : result.lexical.facets) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& value : values) list.push_back({{"value", value.value}, {"count", value.count}});
        facets[name] = list;
      }
      out["facets"] = facets;
      out["matched"] = result.lexical.matched;
    }
    if (args->json) {
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("query: {} [{}{}] ({} results)", args->query, result.strategy,
        result.ranked ? fmt::format(", ranked {} candidates", result.candidates) : "", result.hits.size());
    for (const auto& term : result.lexical.terms) {
      if (!term.expanded_from.empty()) say("  typo: {} -> {} ({} edit(s), df {})", term.expanded_from, term.term, term.edits, term.df);
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
      say("  {:2}. {:7.3f}  [{}] {:<12} {}{}  <{}>{}", hit["rank"].get<int>(), hit["score"].get<double>(),
          hit.value("locale", ""), hit.value("product_id", ""), hit.value("title", ""),
          hit.value("brand", "").empty() ? "" : "  (" + hit.value("brand", "") + ")", hit["found_by"].get<std::string>(),
          esci_badge);
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
      say("  matched {}", result.lexical.matched);
      for (const auto& [name, values] : result.lexical.facets) {
        std::string list;
        for (const auto& value : values) list += fmt::format(" {} ({})", value.value, value.count);
        if (!values.empty()) say("  {}:{}", name, list);
      }
    }
    return Status::ok();
  };
}

}  // namespace aisle::cli
