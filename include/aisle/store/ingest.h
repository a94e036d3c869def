// Ingest: reads one input file with the io readers and writes it to the Store in batches.
//
// Each batch is one transaction that also advances the run's entry in the ingest log, so a
// crash loses at most the batch in flight, never one reported as committed (on_commit runs
// after the commit returns). Re-running an ingest is idempotent (the Store upserts).
// A catalog file that lists the same (locale, id) twice is bad input at the second line.
// Bad rows: each is reported with file:line:field; up to max_errors of them are skipped, and
// the next one stops the ingest after committing the good rows read before it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aisle/core/context.h"
#include "aisle/core/status.h"
#include "aisle/io/readers.h"
#include "aisle/store/store.h"

namespace aisle::store {

struct BatchCommitted {
  std::string file;
  std::int64_t batch = 0;          // 1-based
  std::int64_t rows = 0;           // rows in this batch
  std::int64_t rows_committed = 0; // rows of this file committed so far
  std::int64_t last_line = 0;      // last input line in this batch
};

struct IngestOptions {
  io::RecordKind kind = io::RecordKind::kProducts;
  // reader.format kAuto: decided by io::detect_format.
  io::ReaderOptions reader;
  // Rows per transaction. Larger batches ingest faster; each is lost whole by a crash.
  std::size_t batch_size = 2000;
  // Bad rows skipped (and reported) before the ingest stops.
  std::size_t max_errors = 0;
  // Called after each batch is durably committed.
  std::function<void(const BatchCommitted&)> on_commit;
};

struct IngestReport {
  std::string file;
  io::Format format = io::Format::kAuto;
  std::int64_t run_id = 0;
  std::int64_t rows_read = 0;     // good rows read
  std::int64_t rows_written = 0;  // rows committed
  std::int64_t batches = 0;
  std::int64_t bad_rows = 0;      // bad rows seen, the one that stopped the ingest included
  std::int64_t skipped_rows = 0;  // bad rows skipped under max_errors
  std::int64_t duplicate_judgments = 0;  // same (query, product) again in this file: last wins
  std::size_t utf8_replacements = 0;
  double seconds = 0.0;
  std::vector<Status> errors;  // the bad rows, at most kMaxReportedErrors
  static constexpr std::size_t kMaxReportedErrors = 20;
};

// Ingests `path` into `store`. *report is filled in every case. Returns OK, the first bad row
// past max_errors (kBadInput, file:line:field), or the I/O / store error that stopped it.
Status ingest_file(Store& store, const Context& context, const std::filesystem::path& path,
                   const IngestOptions& options, IngestReport* report);

}  // namespace aisle::store
