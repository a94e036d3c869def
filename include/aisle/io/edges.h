// The product-graph CSV: `source,target[,weight][,type]`, one directed edge a row
// (docs/formats.md). The header names the columns; `src`/`dst` are accepted for
// source/target (the citation graphs' layout). weight: a finite number > 0, default 1.
// Unknown columns are ignored. Errors name file:line:column.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "aisle/core/status.h"

namespace aisle::io {

struct EdgeRecord {
  std::string source, target;
  double weight = 1.0;
  std::string type;
  std::uint64_t line = 0;
};

// Calls `visit` for every edge; stops at and returns the first error (of the file or of visit).
Status read_edges(const std::filesystem::path& path, const std::function<Status(EdgeRecord&&)>& visit);

}  // namespace aisle::io
