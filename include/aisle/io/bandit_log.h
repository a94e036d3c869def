// Logged bandit feedback in the Open Bandit Dataset layout (Saito et al., 2021): one
// impression a row, with the action shown, its slot, the click and the logging policy's
// probability of that action in that slot (docs/formats.md):
//   [index,]timestamp,item_id,position,click,propensity_score,user_feature_*,user-item_affinity_*
// timestamp: ISO-8601 (io::parse_timestamp_ms); item_id: integer >= 0; position: integer >= 1;
// click: 0 or 1; propensity_score: in (0, 1]; user_feature_*: categorical strings;
// user-item_affinity_*: finite numbers. Other columns are ignored. Errors name file:line:column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "aisle/core/status.h"

namespace aisle::io {

struct BanditRound {
  std::int64_t ts_ms = 0;
  int action = 0;    // item_id
  int position = 0;  // 1-based slot
  int reward = 0;    // click
  double propensity = 0;
  std::vector<std::string> user_features;
  std::vector<double> affinities;
  std::uint64_t line = 0;
};

struct BanditLog {
  std::vector<std::string> user_feature_names;
  std::vector<BanditRound> rounds;  // file order
  int actions = 0;    // 1 + the largest item_id
  int positions = 0;  // the largest position
};

// kNotFound / kBadInput naming file:line:column.
Result<BanditLog> read_bandit_log(const std::filesystem::path& path);

}  // namespace aisle::io
