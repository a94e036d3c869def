#include "aisle/io/record_pairs.h"

#include <unordered_map>

#include "aisle/core/errors.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/csv_reader.h"
#include "aisle/io/line_reader.h"
#include "aisle/io/utf8.h"

namespace aisle::io {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The position of the next " COL " marker at or after `from` (or the start when text begins
// with "COL "), npos when none.
std::size_t find_marker(std::string_view text, std::string_view marker, std::size_t from) {
  while (true) {
    std::size_t at = text.find(marker, from);
    if (at == std::string_view::npos) return at;
    const bool starts = at == 0 || text[at - 1] == ' ';
    const bool ends = at + marker.size() == text.size() || text[at + marker.size()] == ' ';
    if (starts && ends) return at;
    from = at + 1;
  }
}

Result<int> parse_label(std::string_view text) {
  text = trim(text);
  if (text == "1") return 1;
  if (text == "0") return 0;
  return Status::bad_input(errors::expected_found("0 or 1", errors::quote(text)));
}

}  // namespace

const std::string& ProductRecord::value(std::string_view attribute) const {
  static const std::string empty;
  for (const auto& [name, value] : fields) {
    if (name == attribute) return value;
  }
  return empty;
}

Result<ProductRecord> parse_serialized_record(std::string_view text) {
  text = trim(text);
  ProductRecord record;
  if (text.empty()) return record;
  if (find_marker(text, "COL", 0) != 0) {
    return Status::bad_input(errors::expected_found("COL attr VAL value ...", errors::quote(text)));
  }
  std::size_t at = 0;
  while (at != std::string_view::npos) {
    std::size_t next = find_marker(text, "COL", at + 3);
    std::string_view chunk = text.substr(at + 3, next == std::string_view::npos ? std::string_view::npos : next - at - 3);
    std::size_t val = find_marker(chunk, "VAL", 0);
    if (val == std::string_view::npos) {
      return Status::bad_input(errors::expected_found("VAL after COL " + std::string(trim(chunk)), "none"));
    }
    std::string_view name = trim(chunk.substr(0, val));
    if (name.empty()) return Status::bad_input("a COL without an attribute name");
    record.fields.emplace_back(std::string(name), std::string(trim(chunk.substr(val + 3))));
    at = next;
  }
  return record;
}

Result<std::vector<RecordPair>> read_serialized_pairs(const std::filesystem::path& path) {
  AISLE_ASSIGN_OR_RETURN(auto source, open_file(path));
  LineReader reader(std::move(source), TextOptions{});
  std::vector<RecordPair> pairs;
  std::string_view line;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader.next(&line));
    if (!more) break;
    if (trim(line).empty()) continue;
    const Where where(path.string(), reader.line_number());
    if (io::find_invalid_utf8(line)) return Status::bad_input("invalid UTF-8", where);
    std::size_t first = line.find('\t');
    std::size_t second = first == std::string_view::npos ? first : line.find('\t', first + 1);
    if (second == std::string_view::npos || line.find('\t', second + 1) != std::string_view::npos) {
      return Status::bad_input(errors::expected_found("left TAB right TAB label", "another number of fields"),
                               Where(path.string(), reader.line_number(), first == std::string_view::npos ? "right" : "label"));
    }
    RecordPair pair;
    pair.line = reader.line_number();
    auto left = parse_serialized_record(line.substr(0, first));
    if (!left.is_ok()) return Status::bad_input(left.status().message(), Where(path.string(), pair.line, "left"));
    auto right = parse_serialized_record(line.substr(first + 1, second - first - 1));
    if (!right.is_ok()) return Status::bad_input(right.status().message(), Where(path.string(), pair.line, "right"));
    auto label = parse_label(line.substr(second + 1));
    if (!label.is_ok()) return Status::bad_input(label.status().message(), Where(path.string(), pair.line, "label"));
    pair.left = std::move(*left);
    pair.right = std::move(*right);
    pair.label = *label;
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

namespace {

Result<std::unordered_map<std::string, ProductRecord>> read_table(const std::filesystem::path& path) {
  AISLE_ASSIGN_OR_RETURN(auto source, open_file(path));
  AISLE_ASSIGN_OR_RETURN(auto reader, CsvReader::open(std::move(source)));
  auto id = reader->column("id");
  if (!id) return Status::bad_input("the header has no id column", Where(path.string(), 1));
  std::unordered_map<std::string, ProductRecord> table;
  CsvRecord row;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&row));
    if (!more) break;
    const std::string& key = row.fields[*id];
    if (key.empty()) return Status::bad_input("empty id", Where(path.string(), row.line, "id"));
    ProductRecord record;
    for (std::size_t c = 0; c < row.fields.size(); ++c) {
      if (c != *id) record.fields.emplace_back(reader->header()[c], std::move(row.fields[c]));
    }
    if (!table.emplace(key, std::move(record)).second) {
      return Status::bad_input("duplicate id " + errors::quote(key), Where(path.string(), row.line, "id"));
    }
  }
  return table;
}

}  // namespace

Result<std::vector<RecordPair>> read_table_pairs(const std::filesystem::path& left_table,
                                                 const std::filesystem::path& right_table,
                                                 const std::filesystem::path& pairs_path) {
  AISLE_ASSIGN_OR_RETURN(auto left, read_table(left_table));
  AISLE_ASSIGN_OR_RETURN(auto right, read_table(right_table));
  AISLE_ASSIGN_OR_RETURN(auto source, open_file(pairs_path));
  AISLE_ASSIGN_OR_RETURN(auto reader, CsvReader::open(std::move(source)));
  auto left_column = reader->column("left_id");
  if (!left_column) left_column = reader->column("ltable_id");
  auto right_column = reader->column("right_id");
  if (!right_column) right_column = reader->column("rtable_id");
  auto label_column = reader->column("label");
  if (!left_column || !right_column || !label_column) {
    return Status::bad_input("the header needs left_id, right_id and label columns", Where(pairs_path.string(), 1));
  }
  std::vector<RecordPair> pairs;
  CsvRecord row;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&row));
    if (!more) break;
    RecordPair pair;
    pair.line = row.line;
    auto l = left.find(row.fields[*left_column]);
    if (l == left.end()) {
      return Status::bad_input("no record " + errors::quote(row.fields[*left_column]) + " in " + left_table.string(),
                               Where(pairs_path.string(), row.line, reader->header()[*left_column]));
    }
    auto r = right.find(row.fields[*right_column]);
    if (r == right.end()) {
      return Status::bad_input("no record " + errors::quote(row.fields[*right_column]) + " in " + right_table.string(),
                               Where(pairs_path.string(), row.line, reader->header()[*right_column]));
    }
    auto label = parse_label(row.fields[*label_column]);
    if (!label.is_ok()) return Status::bad_input(label.status().message(), Where(pairs_path.string(), row.line, "label"));
    pair.left = l->second;
    pair.right = r->second;
    pair.label = *label;
    pairs.push_back(std::move(pair));
  }
  return pairs;
}

Result<std::vector<RecordPair>> read_record_pairs(const std::filesystem::path& path) {
  if (path.extension() == ".csv") {
    return read_table_pairs(path.parent_path() / "left.csv", path.parent_path() / "right.csv", path);
  }
  return read_serialized_pairs(path);
}

}  // namespace aisle::io
