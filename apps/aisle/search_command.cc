// aisle index, aisle search.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

// The vector strategy only filters by locale and category inside the index; brand, color and
// price are checked on the stored listing.
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

// One result row whatever strategy found it.
struct Row {
  ProductId product;
  double score = 0;
  std::uint32_t found_by = 0;
  const text::Hit* lexical = nullptr;  // when the lexical or structured strategy found it
  float vector_score = 0;
  int lexical_rank = 0, vector_rank = 0;
};

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
    std::string data_dir, query, locale = "en", strategy = "auto";
    std::vector<std::string> filters;
    int k = 10;
    int ef = 128;
    bool explain = false, json = false, facets = false, no_typos = false;
  };
  auto args = std::make_shared<Args>();
  app.add_option("query", args->query, "Query text")->required();
  app.add_option("--data-dir", args->data_dir, "Data directory")->required();
  app.add_option("--locale", args->locale, "The query's language")->capture_default_str();
  app.add_option("--filter", args->filters, "KEY=VALUE: brand, color, category (path), locale, price=MIN..MAX");
  app.add_option("-k,--k", args->k, "Number of results")->capture_default_str()->check(CLI::Range(1, 10000));
  app.add_option("--strategy", args->strategy,
                 "lexical, structured, vector, hybrid (lexical + vector, fused) or auto (hybrid when the data "
                 "directory has product vectors, else lexical)")
      ->check(CLI::IsMember({"auto", "lexical", "structured", "vector", "hybrid"}))
      ->capture_default_str();
  app.add_option("--ef", args->ef, "HNSW beam width (vector, hybrid)")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_flag("--explain", args->explain, "Per-field score breakdown and query-understanding slots");
  app.add_flag("--facets", args->facets, "Count brand, color, category, locale and price facets");
  app.add_flag("--no-typos", args->no_typos, "Switch typo tolerance off");
  app.add_flag("--json", args->json, "Print JSON instead of text");
  return [args](const Context& context) -> Status {
    AISLE_ASSIGN_OR_RETURN(Locale locale, Locale::parse(args->locale));
    std::string strategy = args->strategy;
    if (strategy == "auto") {
      strategy = std::filesystem::exists(retrieve::vector_index_path(args->data_dir) / "MANIFEST.json") ? "hybrid" : "lexical";
    }
    const bool use_vectors = strategy == "vector" || strategy == "hybrid";
    const bool use_lexical = strategy != "vector";
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
    // The fusion needs deeper lists than the k shown.
    const int depth = strategy == "hybrid" ? std::max(args->k, 100) : args->k;
    options.k = depth;
    if (!use_lexical) {
      if (args->explain) {
        AISLE_ASSIGN_OR_RETURN(analysis, catalog.understanding->understand(args->query, options.locale));
      }
    } else if (strategy == "structured") {
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

    std::vector<Row> rows;
    const std::uint32_t lexical_bit = strategy == "structured" ? retrieve::kFoundStructured : retrieve::kFoundLexical;
    for (std::size_t rank = 0; rank < result.hits.size(); ++rank) {
      const text::Hit& hit = result.hits[rank];
      rows.push_back(Row{hit.product, hit.score, lexical_bit, &hit, 0.0f, static_cast<int>(rank + 1), 0});
    }
    if (use_vectors) {
      AISLE_ASSIGN_OR_RETURN(auto vectors, retrieve::VectorStrategy::open(args->data_dir, context));
      vector::VectorSearchOptions vector_options;
      const bool post_filter = !options.filter.brands.empty() || !options.filter.colors.empty() ||
                               options.filter.min_price || options.filter.max_price ||
                               options.filter.locales.size() > 1 || options.filter.categories.size() > 1;
      vector_options.k = post_filter ? depth * 4 : depth;
      vector_options.ef = std::max(args->ef, vector_options.k);
      if (options.filter.locales.size() == 1) vector_options.filter.locale = options.filter.locales[0];
      if (options.filter.categories.size() == 1) vector_options.filter.category_prefix = options.filter.categories[0];
      AISLE_ASSIGN_OR_RETURN(auto neighbours, vectors->search(args->query, options.locale, vector_options));
      retrieve::RankedList lists[2];
      lists[0].strategy = lexical_bit;
      for (const Row& row : rows) {
        lists[0].products.push_back(row.product);
        lists[0].scores.push_back(static_cast<float>(row.score));
      }
      lists[1].strategy = retrieve::kFoundVector;
      for (const vector::Neighbor& n : neighbours) {
        if (post_filter) {
          AISLE_ASSIGN_OR_RETURN(auto product, store->get_product(n.product));
          if (!product || !passes(options.filter, product->record)) continue;
        }
        if (static_cast<int>(lists[1].products.size()) >= depth) break;
        lists[1].products.push_back(n.product);
        lists[1].scores.push_back(n.score);
      }
      std::span<const retrieve::RankedList> fused_lists(lists, 2);
      if (!use_lexical) fused_lists = fused_lists.subspan(1);
      std::vector<Row> fused_rows;
      for (const retrieve::FusedHit& hit : retrieve::fuse(fused_lists, static_cast<std::size_t>(args->k))) {
        Row row{hit.product, hit.score, hit.found_by, nullptr, 0.0f, 0, 0};
        const int lexical_index = lexical_bit == retrieve::kFoundLexical ? 0 : 1;
        row.lexical_rank = hit.ranks[lexical_index];
        row.vector_rank = hit.ranks[2];
        row.vector_score = hit.scores[2];
        if (row.lexical_rank > 0) row.lexical = rows[static_cast<std::size_t>(row.lexical_rank - 1)].lexical;
        if (!use_lexical) row.score = hit.scores[2];
        fused_rows.push_back(row);
      }
      rows = std::move(fused_rows);
    }
    if (static_cast<int>(rows.size()) > args->k) rows.resize(static_cast<std::size_t>(args->k));

    nlohmann::json out;
    out["query"] = args->query;
    out["strategy"] = strategy;
    out["relaxed"] = relaxed;
    nlohmann::json hits = nlohmann::json::array();
    for (std::size_t rank = 0; rank < rows.size(); ++rank) {
      const Row& row = rows[rank];
      AISLE_ASSIGN_OR_RETURN(auto product, store->get_product(row.product));
      nlohmann::json entry = {{"rank", rank + 1}, {"score", row.score}, {"found_by", retrieve::strategy_names(row.found_by)}};
      if (row.lexical != nullptr) {
        entry["lexical_score"] = row.lexical->score;
        entry["lexical_rank"] = row.lexical_rank;
        entry["prior"] = row.lexical->prior;
      }
      if (row.found_by & retrieve::kFoundVector) {
        entry["vector_score"] = row.vector_score;
        entry["vector_rank"] = row.vector_rank;
      }
      if (product) {
        entry["product_id"] = product->record.id;
        entry["locale"] = product->record.locale;
        entry["title"] = product->record.title;
        entry["brand"] = product->record.brand;
        if (product->record.price) entry["price"] = *product->record.price;
        if (args->explain) {
          nlohmann::json terms = nlohmann::json::array();
          for (const auto& term : use_lexical ? catalog.index->explain(retrieve::to_document(*product), result.terms)
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
    say("query: {} [{}] ({} results)", args->query, strategy, rows.size());
    for (const auto& term : result.terms) {
      if (!term.expanded_from.empty()) say("  typo: {} -> {} ({} edit(s), df {})", term.expanded_from, term.term, term.edits, term.df);
    }
    if (!slot_filter.brands.empty() || !slot_filter.colors.empty()) {
      say("  slot filters: brand [{}] color [{}]{}", fmt::join(slot_filter.brands, ", "), fmt::join(slot_filter.colors, ", "),
          relaxed ? " (too few matches: filled up without them)" : "");
    }
    for (const auto& hit : hits) {
      say("  {:2}. {:7.3f}  [{}] {:<12} {}{}  <{}>", hit["rank"].get<int>(), hit["score"].get<double>(),
          hit.value("locale", ""), hit.value("product_id", ""), hit.value("title", ""),
          hit.value("brand", "").empty() ? "" : "  (" + hit.value("brand", "") + ")", hit["found_by"].get<std::string>());
      if (!args->explain || !hit.contains("explain")) continue;
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
