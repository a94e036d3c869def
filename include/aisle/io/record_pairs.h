// Labelled pairs of product records for record matching (two catalogs to merge).
//
// Two layouts:
//  - serialized pairs (the DeepMatcher benchmarks as Ditto ships them), one pair a line:
//      COL attr VAL value COL attr VAL value ... TAB COL attr VAL value ... TAB 0|1
//    Each side is a list of (attribute, value) fields in order; values may be empty.
//  - two CSV tables and a gold-pairs CSV: each table has an `id` column and any attribute
//    columns (every column but `id` becomes a field, in header order); the pairs file has
//    `left_id`, `right_id` and `label` (0 or 1) columns (ltable_id/rtable_id, the Magellan
//    names, are accepted too).
// Errors name file:line:field (left, right or label; the CSV column for tables).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::io {

struct ProductRecord {
  std::vector<std::pair<std::string, std::string>> fields;  // (attribute, value) in order
  // The value of `attribute`, or an empty string.
  const std::string& value(std::string_view attribute) const;
};

struct RecordPair {
  ProductRecord left, right;
  int label = 0;  // 1: the same product
  std::uint64_t line = 0;
};

// Parses one serialized side ("COL attr VAL value ..."); kBadInput (message only) when it does
// not start with COL or a COL has no VAL.
Result<ProductRecord> parse_serialized_record(std::string_view text);

Result<std::vector<RecordPair>> read_serialized_pairs(const std::filesystem::path& path);

Result<std::vector<RecordPair>> read_table_pairs(const std::filesystem::path& left_table,
                                                 const std::filesystem::path& right_table,
                                                 const std::filesystem::path& pairs);

// A .csv path (the pairs file of read_table_pairs, with `left.csv` and `right.csv` beside it
// unless given) or the serialized format otherwise.
Result<std::vector<RecordPair>> read_record_pairs(const std::filesystem::path& path);

}  // namespace aisle::io
