// A search's result as JSON (the `aisle search --json` and HTTP /search shape; docs/api.md)
// and the filter syntax shared by the CLI and the API.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "aisle/core/status.h"
#include "aisle/rank/pipeline.h"
#include "aisle/text/inverted_index.h"

namespace aisle::rank {

// Adds one filter "KEY=VALUE" to `filter`: brand=Nike, color=red, category=Shoes > Running
// (a path prefix), locale=en, price=MIN..MAX (either side may be empty), and for any other
// key a numeric attribute: size=8..10, size=9 (exactly). kBadInput naming --filter and the
// text otherwise. Whether the catalog has the attribute is the pipeline's check.
Status parse_filter(const std::string& text, text::Filter* filter);

// "Did you mean": when typo tolerance corrected a word of `query` (a QueryTerm with
// expanded_from; only words the catalog does not contain are corrected), the query with each
// corrected word replaced by the catalog word its correction matched, as written in `texts`
// (the shown results' titles and descriptions, best first), ASCII letters lower-cased; the
// rest of the query as typed. nullopt when nothing was corrected or a correction matched no
// word of `texts`.
std::optional<std::string> corrected_query(const text::InvertedIndex& index, std::string_view query, std::string_view locale,
                                           std::span<const text::QueryTerm> terms, std::span<const std::string> texts);

// `text` as HTML, every character that means something in HTML escaped, with the `marked`
// byte ranges (ascending, not overlapping) inside <mark>...</mark>. With max_bytes > 0 and a
// longer text: a window of about max_bytes from shortly before the first mark (the start
// without one), cut at character boundaries (at spaces where there are any), "…" marking
// what was left out. Safe to insert as HTML whatever the text holds.
std::string highlight_html(std::string_view text, std::span<const std::pair<std::size_t, std::size_t>> marked,
                           std::size_t max_bytes = 0);

// {"query", "strategy", "strategy_results", "ranked", "candidates", "relaxed", "results": [{rank,
// score, found_by, product_id, locale, title, brand, price, esci {label, E, S, C, I}, lexical /
// vector / ranker details, other_locale (cross-listing fallback), intent {agrees, conflicts},
// with explain: term explanations, ranker contributions and feature values}], "total",
// "notice" (why nothing, when so), "intent" (the honoured slots), "terms", "interpretations"
// (structured or explain), with explain: "layers" (layers_json), with facets: "facets",
// "matched"}. Products are read from the pipeline's store.
// The pipeline's learned layers: {name: {present, active, reason, validation (the verdict)}}.
nlohmann::json layers_json(const SearchPipeline& pipeline);

Result<nlohmann::json> search_result_json(const SearchPipeline& pipeline, std::string_view query, const PipelineResult& result,
                                          const PipelineOptions& options);

}  // namespace aisle::rank
