// A search's result as JSON (the `aisle search --json` and HTTP /search shape; docs/api.md)
// and the filter syntax shared by the CLI and the API.
#pragma once

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
