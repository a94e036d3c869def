// The lexical and structured retrieval strategies over the catalog of a data directory.
//
// <data_dir>/index/ holds the inverted index (text::InvertedIndex's files) and qu.json (the
// QueryUnderstanding dictionaries), both derived from the store by update_index().
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/config.h"
#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/retrieve/query_understanding.h"
#include "aisle/store/store.h"
#include "aisle/text/inverted_index.h"

namespace aisle::retrieve {

// A stored listing as the index sees it; version is a hash of every indexed field.
text::Document to_document(const store::Product& product);

std::filesystem::path index_path(const std::filesystem::path& data_dir);

struct IndexUpdateOptions {
  bool rebuild = false;  // recompute everything instead of applying the differences
  // When the settings file's index-time settings (field weights, stop words) differ from those
  // the index was built with: rebuild with the file's (`aisle index`), or keep the index's and
  // report the difference (a server catching up must not rebuild behind a write).
  bool apply_settings = false;
  // The settings to use; null: read the data directory's settings file.
  const DataConfig* config = nullptr;
  std::size_t batch_size = 20000;
};

struct IndexUpdateReport {
  bool created = false;  // no index existed (or rebuild)
  std::int64_t added = 0;
  std::int64_t updated = 0;
  std::int64_t removed = 0;
  std::int64_t unchanged = 0;
  std::int64_t documents = 0;
  std::int64_t segments = 0;
  std::int64_t index_bytes = 0;
  std::int64_t phrases = 0;  // query-understanding phrases learned
  // index_settings_changes() between the index and the settings file: applied (a rebuild) or
  // pending (without apply_settings).
  std::vector<std::string> settings_changed, settings_pending;
  double seconds = 0;
};

// Brings <data_dir>/index up to date with the store: adds new listings, re-indexes changed
// ones (by content hash), deletes listings no longer stored, relearns the query-understanding
// dictionaries, and commits crash-safely. Without an index (or with rebuild) it builds one.
Status update_index(store::Store& store, const Context& context, const std::filesystem::path& data_dir,
                    const IndexUpdateOptions& options, IndexUpdateReport* report);

struct LexicalCatalog {
  std::unique_ptr<text::InvertedIndex> index;
  std::unique_ptr<QueryUnderstanding> understanding;
  DataConfig config;  // the data directory's settings file (defaults without one)
  // Its synonym rules, compiled with the index's analyzer options (never null).
  std::shared_ptr<const text::Synonyms> synonyms;
  // Index-time settings of the file the index was not built with (`aisle index` applies them).
  std::vector<std::string> settings_pending;
};

// Opens what update_index() wrote, with the settings file. kNotFound (saying to run `aisle
// index`) when missing; kBadInput (file:line:key) for a settings file in error. With
// `previous` (a reload after update_index(), which keeps the index's settings), its settings
// and compiled synonyms are kept: the file is read once per process, not on every reload.
Result<LexicalCatalog> open_lexical(const std::filesystem::path& data_dir, const LexicalCatalog* previous = nullptr);

struct StructuredOptions {
  // Brand and color slots at least this likely become filters; other slots become boosts.
  double filter_threshold = 0.8;
  float boost_weight = 0.5;  // weight of a boosted slot's terms (a query term weighs 1)
};

struct StructuredResult {
  QueryAnalysis analysis;
  text::Filter filter;                // the filters taken from slots (added to the caller's)
  std::vector<std::string> boosted;   // terms of slots used as boosts
  std::vector<std::string> remainder; // the free text searched
  bool relaxed = false;  // the filtered search found fewer than k; filled up without filters
  text::SearchResult result;
};

// The structured strategy: the best interpretation's confident brand/color slots filter, the
// others boost, and the free-text remainder is searched (the slot phrases when nothing
// remains). kBadInput for an unknown locale.
Result<StructuredResult> structured_search(const text::InvertedIndex& index, const QueryUnderstanding& understanding,
                                           std::string_view query, const text::SearchOptions& options,
                                           const StructuredOptions& structured = {});

}  // namespace aisle::retrieve
