// Streaming readers for every input layout of docs/formats.md.
//
// Each reader yields one record per call and never holds the file whole. A bad record is a
// kBadInput Status naming file:line:field; the reader then stays usable and the next call
// reads the following record, so a caller may skip bad rows (ingest's --max-errors). Any
// other error code (I/O) ends reading. Readers are used by one thread at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/status.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/records.h"
#include "aisle/io/text_options.h"

namespace aisle::io {

enum class Format {
  kAuto,            // decided by detect_format()
  kCatalogJsonl,    // catalog-jsonl: one product object a line
  kCatalogCsv,      // catalog-csv: products from CSV with a header mapping
  kEsciProducts,    // esci-products: the Shopping Queries products CSV
  kEsciExamples,    // esci-examples: the Shopping Queries examples CSV (judgments)
  kHomeDepot,       // homedepot: id,product_uid,product_title,search_term,relevance
  kCrowdFlower,     // crowdflower: id,query,product_title,product_description,median_relevance,...
  kJudgmentsCsv,    // judgments-csv: judgments from CSV with a header mapping
  kJudgmentsJsonl,  // judgments-jsonl: one judgment object a line
  kEventsJsonl,     // events-jsonl: one feedback event a line
};

std::string_view format_name(Format format);
Result<Format> parse_format(std::string_view name);

// What a file holds; each Format belongs to one kind.
enum class RecordKind { kProducts, kJudgments, kEvents };
RecordKind format_kind(Format format);
std::string_view record_kind_name(RecordKind kind);

// Which CSV column holds each role. Product roles: id, title, description, bullets, brand,
// color, category, price, popularity, group, locale. Judgment roles: query, query_id,
// product_id, grade, label, split, plus the product roles for rows that describe the
// product. Unmapped columns are ignored.
struct CsvMapping {
  std::map<std::string, std::string> columns;  // role -> column name

  // Parses "query=search_term,product_id=product_uid". kBadInput on an unknown role.
  static Result<CsvMapping> parse(std::string_view text);
  // The mapping behind a CSV preset (esci-products, homedepot, ...); empty for others.
  static CsvMapping preset(Format format);
};

struct ReaderOptions {
  TextOptions text;
  Format format = Format::kAuto;
  // Required for catalog-csv and judgments-csv; overrides a preset's mapping when set.
  std::optional<CsvMapping> mapping;
  // Locale of rows whose layout has no locale column.
  std::string default_locale = "en";
  // Split of judgments whose layout has no split column ("" = none).
  std::string default_split;
  // JSONL: ignore keys the format does not define instead of failing on them.
  bool allow_unknown_fields = false;
};

// Guesses a file's format from its extension and first line: a ".jsonl"/".json" file or one
// whose first line starts with "{" is JSONL of `kind`; a CSV is matched by its header
// against the presets. kBadInput when nothing matches, listing the formats for --format.
Result<Format> detect_format(const std::filesystem::path& path, RecordKind kind,
                             const TextOptions& text);

// The shape every reader shares.
template <typename Record>
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // Reads the next record. true: *out holds it; false: end of input; kBadInput: this record
  // is bad (reading may go on); other codes: reading must stop.
  virtual Result<bool> next(Record* out) = 0;
  virtual Format format() const = 0;
  virtual std::uint64_t bytes_read() const = 0;
  virtual std::optional<std::uint64_t> total_bytes() const = 0;
  // How many invalid UTF-8 sequences were replaced (InvalidUtf8::kReplace).
  virtual std::size_t utf8_replacements() const = 0;
};

using ProductReader = RecordReader<ProductRecord>;
using JudgmentReader = RecordReader<JudgmentRecord>;
using EventReader = RecordReader<EventRecord>;

// Opens a reader for `source` in `options.format` (which must not be kAuto here) .
// kBadInput when the format holds another kind of record, a header lacks a mapped column,
// or the mapping lacks a required role.
Result<std::unique_ptr<ProductReader>> open_product_reader(std::unique_ptr<ByteSource> source,
                                                           const ReaderOptions& options);
Result<std::unique_ptr<JudgmentReader>> open_judgment_reader(std::unique_ptr<ByteSource> source,
                                                             const ReaderOptions& options);
Result<std::unique_ptr<EventReader>> open_event_reader(std::unique_ptr<ByteSource> source,
                                                       const ReaderOptions& options);

}  // namespace aisle::io
