#include "aisle/io/csv_reader.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "aisle/core/errors.h"
#include "aisle/io/utf8.h"

namespace aisle::io {

CsvReader::CsvReader(std::unique_ptr<ByteSource> source, CsvOptions options)
    : options_(options), lines_(std::move(source), options.text) {}

Result<std::unique_ptr<CsvReader>> CsvReader::open(std::unique_ptr<ByteSource> source,
                                                   CsvOptions options) {
  std::unique_ptr<CsvReader> reader(new CsvReader(std::move(source), options));
  CsvRecord header;
  AISLE_ASSIGN_OR_RETURN(bool found, reader->read_fields(&header));
  if (!found) {
    return Status::bad_input(
        errors::expected_found("a CSV header line", "an empty file"), {reader->name(), 1});
  }
  for (std::size_t k = 0; k < header.fields.size(); ++k) {
    std::string& name = header.fields[k];
    Where where{reader->name(), header.line, fmt::format("column {}", k + 1)};
    AISLE_RETURN_IF_ERROR(enforce_utf8(&name, options.text.invalid_utf8, where,
                                       &reader->utf8_replacements_));
    if (name.empty() && !(k == 0 && options.unnamed_index_column)) {
      return Status::bad_input(errors::expected_found("a column name", "an empty one"), where);
    }
    auto previous = std::find(header.fields.begin(), header.fields.begin() + static_cast<long>(k), name);
    if (previous != header.fields.begin() + static_cast<long>(k)) {
      return Status::bad_input(
          fmt::format("duplicate column name {} (also column {})", errors::quote(name),
                      previous - header.fields.begin() + 1),
          where);
    }
  }
  reader->header_ = std::move(header.fields);
  return reader;
}

std::optional<std::size_t> CsvReader::column(std::string_view name) const {
  auto found = std::find(header_.begin(), header_.end(), name);
  if (found == header_.end()) return std::nullopt;
  return static_cast<std::size_t>(found - header_.begin());
}

std::string CsvReader::column_name(std::size_t index) const {
  if (index < header_.size()) return header_[index];
  return fmt::format("column {}", index + 1);
}

Result<bool> CsvReader::read_fields(CsvRecord* record) {
  record->fields.clear();
  std::string_view line;
  do {
    AISLE_ASSIGN_OR_RETURN(bool more, lines_.next(&line));
    if (!more) return false;
  } while (line.empty());
  record->line = lines_.line_number();

  const char delimiter = options_.delimiter;
  std::string field;
  bool in_quotes = false;
  bool at_field_start = true;
  std::size_t record_bytes = line.size();
  bool record_too_long = false;
  std::size_t i = 0;
  while (true) {
    if (i == line.size()) {
      if (!in_quotes) {
        record->fields.push_back(std::move(field));
        break;
      }
      // A newline inside a quoted field: the record goes on on the next physical line.
      AISLE_ASSIGN_OR_RETURN(bool more, lines_.next(&line));
      if (!more) {
        return Status::bad_input(
            fmt::format("unterminated quoted field: the quote opened in this record is never "
                        "closed before the end of the file (line {})",
                        lines_.line_number()),
            {name(), record->line, column_name(record->fields.size())});
      }
      record_bytes += line.size() + 1;
      if (record_bytes > options_.text.max_line_bytes) record_too_long = true;
      if (!record_too_long) field.push_back('\n');
      i = 0;
      continue;
    }
    if (in_quotes) {
      // Copy the run up to the next quote at once.
      const char* start = line.data() + i;
      const char* quote = static_cast<const char*>(std::memchr(start, '"', line.size() - i));
      std::size_t run = quote ? static_cast<std::size_t>(quote - start) : line.size() - i;
      if (!record_too_long) field.append(start, run);
      i += run;
      if (!quote) continue;
      ++i;  // the quote
      if (i < line.size() && line[i] == '"') {
        if (!record_too_long) field.push_back('"');
        ++i;
      } else {
        in_quotes = false;
      }
      continue;
    }
    char c = line[i++];
    if (c == delimiter) {
      record->fields.push_back(std::move(field));
      field.clear();
      at_field_start = true;
      continue;
    }
    if (c == '"' && at_field_start) {
      in_quotes = true;
      at_field_start = false;
      continue;
    }
    at_field_start = false;
    if (!record_too_long) field.push_back(c);
  }
  if (record_too_long) {
    return Status::bad_input(errors::too_large("the record (with its quoted newlines)",
                                               record_bytes, options_.text.max_line_bytes,
                                               "--max-line-bytes"),
                             {name(), record->line});
  }
  return true;
}

Result<bool> CsvReader::next(CsvRecord* record) {
  AISLE_ASSIGN_OR_RETURN(bool found, read_fields(record));
  if (!found) return false;
  if (record->fields.size() != header_.size()) {
    return Status::bad_input(
        errors::expected_found(fmt::format("{} fields (as in the header)", header_.size()),
                               std::to_string(record->fields.size())),
        {name(), record->line});
  }
  for (std::size_t k = 0; k < record->fields.size(); ++k) {
    std::string& field = record->fields[k];
    Where where{name(), record->line, header_[k]};
    if (field.size() > options_.text.max_field_bytes) {
      return Status::bad_input(errors::too_large("the field", field.size(),
                                                 options_.text.max_field_bytes,
                                                 "--max-field-bytes"),
                               where);
    }
    AISLE_RETURN_IF_ERROR(
        enforce_utf8(&field, options_.text.invalid_utf8, where, &utf8_replacements_));
  }
  return true;
}

}  // namespace aisle::io
