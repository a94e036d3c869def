#include "aisle/io/edges.h"

#include <charconv>
#include <cmath>
#include <optional>

#include "aisle/core/errors.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/csv_reader.h"

namespace aisle::io {
namespace {

std::optional<std::size_t> first_column(const CsvReader& reader, std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) {
    if (auto at = reader.column(name)) return at;
  }
  return std::nullopt;
}

}  // namespace

Status read_edges(const std::filesystem::path& path, const std::function<Status(EdgeRecord&&)>& visit) {
  AISLE_ASSIGN_OR_RETURN(auto source, open_file(path));
  AISLE_ASSIGN_OR_RETURN(auto reader, CsvReader::open(std::move(source)));
  const auto source_column = first_column(*reader, {"source", "src"});
  const auto target_column = first_column(*reader, {"target", "dst"});
  if (!source_column || !target_column) {
    return Status::bad_input(errors::expected_found("a header with source (or src) and target (or dst) columns",
                                                    errors::quote(reader->header().empty() ? "" : reader->header()[0])),
                             Where(reader->name(), 1));
  }
  const auto weight_column = reader->column("weight");
  const auto type_column = reader->column("type");
  CsvRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    EdgeRecord edge;
    edge.line = record.line;
    edge.source = std::move(record.fields[*source_column]);
    edge.target = std::move(record.fields[*target_column]);
    if (edge.source.empty() || edge.target.empty()) {
      return Status::bad_input(errors::expected_found("a node id", "an empty field"),
                               Where(reader->name(), record.line, reader->header()[edge.source.empty() ? *source_column : *target_column]));
    }
    if (weight_column && !record.fields[*weight_column].empty()) {
      const std::string& text = record.fields[*weight_column];
      const char* end = text.data() + text.size();
      auto [pointer, error] = std::from_chars(text.data(), end, edge.weight);
      if (error != std::errc() || pointer != end || !std::isfinite(edge.weight) || edge.weight <= 0) {
        return Status::bad_input(errors::expected_found("a finite weight > 0", errors::quote(text)),
                                 Where(reader->name(), record.line, "weight"));
      }
    }
    if (type_column) edge.type = std::move(record.fields[*type_column]);
    AISLE_RETURN_IF_ERROR(visit(std::move(edge)));
  }
  return Status::ok();
}

}  // namespace aisle::io
