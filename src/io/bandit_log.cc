#include "aisle/io/bandit_log.h"

#include <charconv>
#include <cmath>

#include "aisle/core/errors.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/csv_reader.h"
#include "aisle/io/records.h"

namespace aisle::io {
namespace {

template <typename T>
bool parse_number(const std::string& text, T* value) {
  const char* end = text.data() + text.size();
  auto [pointer, error] = std::from_chars(text.data(), end, *value);
  return error == std::errc() && pointer == end;
}

}  // namespace

Result<BanditLog> read_bandit_log(const std::filesystem::path& path) {
  AISLE_ASSIGN_OR_RETURN(auto source, open_file(path));
  CsvOptions csv;
  csv.unnamed_index_column = true;  // the Open Bandit Dataset's files start with pandas' index
  AISLE_ASSIGN_OR_RETURN(auto reader, CsvReader::open(std::move(source), csv));
  const char* required[] = {"timestamp", "item_id", "position", "click", "propensity_score"};
  std::size_t at[5];
  for (int i = 0; i < 5; ++i) {
    auto column = reader->column(required[i]);
    if (!column) {
      return Status::bad_input(errors::expected_found(std::string("a column named ") + required[i], "none"), Where(reader->name(), 1));
    }
    at[i] = *column;
  }
  BanditLog log;
  std::vector<std::size_t> user_columns, affinity_columns;
  for (std::size_t c = 0; c < reader->header().size(); ++c) {
    const std::string& name = reader->header()[c];
    if (name.starts_with("user_feature_")) user_columns.push_back(c), log.user_feature_names.push_back(name);
    if (name.starts_with("user-item_affinity_")) affinity_columns.push_back(c);
  }
  CsvRecord record;
  while (true) {
    AISLE_ASSIGN_OR_RETURN(bool more, reader->next(&record));
    if (!more) break;
    auto bad = [&](std::size_t column, std::string_view expected) {
      return Status::bad_input(errors::expected_found(expected, errors::quote(record.fields[column])),
                               Where(reader->name(), record.line, reader->header()[column]));
    };
    BanditRound round;
    round.line = record.line;
    auto ts = parse_timestamp_ms(record.fields[at[0]]);
    if (!ts) return bad(at[0], "an ISO-8601 timestamp");
    round.ts_ms = *ts;
    if (!parse_number(record.fields[at[1]], &round.action) || round.action < 0 || round.action > 1000000) return bad(at[1], "an item id in 0..1000000");
    if (!parse_number(record.fields[at[2]], &round.position) || round.position < 1 || round.position > 1000) return bad(at[2], "a position in 1..1000");
    if (!parse_number(record.fields[at[3]], &round.reward) || (round.reward != 0 && round.reward != 1)) return bad(at[3], "0 or 1");
    if (!parse_number(record.fields[at[4]], &round.propensity) || !(round.propensity > 0) || round.propensity > 1) {
      return bad(at[4], "a probability in (0, 1]");
    }
    for (std::size_t c : user_columns) round.user_features.push_back(std::move(record.fields[c]));
    for (std::size_t c : affinity_columns) {
      double value = 0;
      if (!parse_number(record.fields[c], &value) || !std::isfinite(value)) return bad(c, "a finite number");
      round.affinities.push_back(value);
    }
    log.actions = std::max(log.actions, round.action + 1);
    log.positions = std::max(log.positions, round.position);
    log.rounds.push_back(std::move(round));
  }
  if (log.rounds.empty()) return Status::bad_input("no rounds", Where(reader->name(), 1));
  return log;
}

}  // namespace aisle::io
