// CsvReader: RFC 4180 CSV with a header row, streamed record by record.
//
// Quoted fields may hold delimiters, doubled quotes and newlines ("\r\n" inside a quoted
// field is read as "\n"). Like Python's csv module, a quote inside an unquoted field and text
// after a closing quote are kept literally. Blank lines are skipped. Every record must have
// as many fields as the header. Each field is checked against max_field_bytes and the UTF-8
// policy, and errors name file:line:column, where line is the record's first line.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aisle/core/status.h"
#include "aisle/io/line_reader.h"

namespace aisle::io {

struct CsvOptions {
  TextOptions text;
  char delimiter = ',';
  // The first column may have an empty name (a row index written by pandas).
  bool unnamed_index_column = false;
};

struct CsvRecord {
  std::vector<std::string> fields;
  std::uint64_t line = 0;  // line on which the record starts
};

class CsvReader {
 public:
  // Reads the header. kBadInput for an empty file, an empty or duplicate column name.
  static Result<std::unique_ptr<CsvReader>> open(std::unique_ptr<ByteSource> source,
                                                 CsvOptions options = {});

  const std::vector<std::string>& header() const { return header_; }
  // Index of the column named `name` (exact match), or nullopt.
  std::optional<std::size_t> column(std::string_view name) const;

  // Reads the next record. Returns true, false at the end, or kBadInput for a bad record
  // (after which the next call reads the following record), or kIoError.
  Result<bool> next(CsvRecord* record);

  const std::string& name() const { return lines_.name(); }
  std::uint64_t bytes_read() const { return lines_.bytes_read(); }
  std::optional<std::uint64_t> size() const { return lines_.size(); }
  std::size_t utf8_replacements() const { return utf8_replacements_; }

 private:
  CsvReader(std::unique_ptr<ByteSource> source, CsvOptions options);
  // Splits one record into fields; `record->line` is set. No header checks.
  Result<bool> read_fields(CsvRecord* record);
  std::string column_name(std::size_t index) const;

  CsvOptions options_;
  LineReader lines_;
  std::vector<std::string> header_;
  std::size_t utf8_replacements_ = 0;
};

}  // namespace aisle::io
