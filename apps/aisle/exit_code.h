// The one place where a Status becomes the process's exit code:
//   0 ok; 2 bad input (a bad row, an unknown option, a missing input file); 1 anything else.
#pragma once

#include "aisle/core/status.h"

namespace aisle::cli {

constexpr int kExitOk = 0;
constexpr int kExitInternal = 1;
constexpr int kExitBadInput = 2;

inline int exit_code(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kBadInput:
    case StatusCode::kNotFound: return kExitBadInput;
    case StatusCode::kIoError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

}  // namespace aisle::cli
