// aisle index, aisle search.
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aisle/retrieve/lexical.h"
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
  };
  auto args = std::make_shared<Args>();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_flag("--rebuild", args->rebuild, "Rebuild from scratch instead of applying changes");
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
    return Status::ok();
  };
}

Command add_search(CLI::App& app) {
  struct Args {
    std::string data_dir, query, locale = "en", strategy = "lexical";
    std::vector<std::string> filters;
    int k = 10;
    bool explain = false, json = false, facets = false, no_typos = false;
  };
  auto args = std::make_shared<Args>();
  app.add_option("query", args->query, "Query text")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--locale", args->locale, "The query's language")->capture_default_str();
  app.add_option("--filter", args->filters, "KEY=VALUE: brand, color, category (path), locale, price=MIN..MAX");
  app.add_option("-k,--k", args->k, "Number of results")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--strategy", args->strategy, "lexical or structured")
      ->check(CLI::IsMember({"lexical", "structured"}))
      ->capture_default_str();
  app.add_flag("--explain", args->explain, "Per-field score breakdown and query-understanding slots");
  app.add_flag("--facets", args->facets, "Count brand, color, category, locale and price facets");
  app.add_flag("--no-typos", args->no_typos, "Switch typo tolerance off");
  app.add_flag("--json", args->json, "Print JSON instead of text");
  return [args](const Context&) -> Status {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(args->locale));
    text::SearchOptions options;
    options.locale = locale.code();
    options.k = args->k;
    options.facets = args->facets;
    options.typo.enabled = !args->no_typos;
    for (const std::string& filter : args->filters) AISLE_RETURN_IF_ERROR(parse_filter(filter, &options.filter));
    AISLE_ASSIGN_OR_RETURN(retrieve::LexicalCatalog catalog, retrieve::open_lexical(args->data_dir));
    store::StoreOptions store_options;
    store_options.read_only = true;
    AISLE_ASSIGN_OR_RETURN(auto store, store::Store::open(args->data_dir, store_options));

    text::SearchResult result;
    retrieve::QueryAnalysis analysis;
    text::Filter slot_filter;
    bool relaxed = false;
    if (args->strategy == "structured") {
      AISLE_ASSIGN_OR_RETURN(auto structured, retrieve::structured_search(*catalog.index, *catalog.understanding,
                                                                          args->query, options));
      result = std::move(structured.result);
      analysis = std::move(structured.analysis);
      slot_filter = std::move(structured.filter);
      relaxed = structured.relaxed;
    } else {
      AISLE_ASSIGN_OR_RETURN(result, catalog.index->search(args->query, options));
      if (args->explain) {
        AISLE_ASSIGN_OR_RETURN(analysis, catalog.understanding->understand(args->query, options.locale));
      }
    }

    nlohmann::json out;
    out["query"] = args->query;
    out["strategy"] = args->strategy;
    out["relaxed"] = relaxed;
    nlohmann::json hits = nlohmann::json::array();
    for (std::size_t rank = 0; rank < result.hits.size(); ++rank) {
      const text::Hit& hit = result.hits[rank];
      AISLE_ASSIGN_OR_RETURN(auto product, store->get_product(hit.product));
      nlohmann::json entry = {{"rank", rank + 1}, {"product_id", hit.external_id}, {"locale", hit.locale},
                              {"score", hit.score}, {"prior", hit.prior}, {"found_by", args->strategy}};
      if (product) {
        entry["title"] = product->record.title;
        entry["brand"] = product->record.brand;
        if (product->record.price) entry["price"] = *product->record.price;
        if (args->explain) {
          nlohmann::json terms = nlohmann::json::array();
          for (const auto& term : catalog.index->explain(retrieve::to_document(*product), result.terms)) {
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
        }
      }
      hits.push_back(entry);
    }
    out["results"] = hits;
    nlohmann::json terms = nlohmann::json::array();
    for (const text::QueryTerm& term : result.terms) {
      nlohmann::json entry = {{"term", term.term}, {"df", term.df}, {"idf", term.idf}, {"weight", term.weight}};
      if (!term.expanded_from.empty()) {
        entry["expanded_from"] = term.expanded_from;
        entry["edits"] = term.edits;
      }
      terms.push_back(entry);
    }
    out["terms"] = terms;
    nlohmann::json interpretations = nlohmann::json::array();
    for (const retrieve::Interpretation& interpretation : analysis.interpretations) {
      nlohmann::json slots = nlohmann::json::array();
      for (const retrieve::Slot& slot : interpretation.slots) {
        slots.push_back({{"type", slot.type}, {"value", slot.value}, {"phrase", slot.phrase},
                         {"likelihood", slot.likelihood}});
      }
      interpretations.push_back({{"likelihood", interpretation.likelihood}, {"slots", slots},
                                 {"remainder", interpretation.remainder}});
    }
    if (!analysis.interpretations.empty()) out["interpretations"] = interpretations;
    if (args->facets) {
      nlohmann::json facets = nlohmann::json::object();
      for (const auto& [name, values] : result.facets) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& value : values) list.push_back({{"value", value.value}, {"count", value.count}});
        facets[name] = list;
      }
      out["facets"] = facets;
      out["matched"] = result.matched;
    }
    if (args->json) {
      say("{}", out.dump(2));
      return Status::ok();
    }
    say("query: {} [{}] ({} results)", args->query, args->strategy, result.hits.size());
    for (const auto& term : result.terms) {
      if (!term.expanded_from.empty()) say("  typo: {} -> {} ({} edit(s), df {})", term.expanded_from, term.term, term.edits, term.df);
    }
    if (!slot_filter.brands.empty() || !slot_filter.colors.empty()) {
      say("  slot filters: brand [{}] color [{}]{}", fmt::join(slot_filter.brands, ", "), fmt::join(slot_filter.colors, ", "),
          relaxed ? " (too few matches: filled up without them)" : "");
    }
    for (const auto& hit : hits) {
      say("  {:2}. {:7.3f}  [{}] {:<12} {}{}", hit["rank"].get<int>(), hit["score"].get<double>(),
          hit["locale"].get<std::string>(), hit["product_id"].get<std::string>(), hit.value("title", ""),
          hit.value("brand", "").empty() ? "" : "  (" + hit.value("brand", "") + ")");
      if (!args->explain || !hit.contains("explain")) continue;
      for (const auto& term : hit["explain"]) {
        std::string fields;
        for (const auto& [name, field] : term["fields"].items()) {
          fields += fmt::format(" {}:tf={} ({:.2f})", name, field["tf"].get<int>(), field["weighted_tf"].get<double>());
        }
        say("        {:<12} idf {:.2f} x weight {:.2f} -> {:.3f} |{}", term["term"].get<std::string>(),
            term["idf"].get<double>(), term["weight"].get<double>(), term["score"].get<double>(), fields);
      }
      if (hit["prior"].get<double>() > 0) say("        popularity prior {:.3f}", hit["prior"].get<double>());
    }
    if (args->explain) {
      for (const auto& interpretation : analysis.interpretations) {
        std::string slots;
        for (const auto& slot : interpretation.slots) {
          slots += fmt::format(" {}{}{} ({:.2f})", slot.type, slot.type == "category" ? "~" : "=", slot.value, slot.likelihood);
        }
        say("  interpretation {:.2f}:{} | free text: {}", interpretation.likelihood, slots,
            fmt::join(interpretation.remainder, " "));
      }
    }
    if (args->facets) {
      say("  matched {}", result.matched);
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
