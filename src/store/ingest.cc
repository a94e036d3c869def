#include "aisle/store/ingest.h"

#include <chrono>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "aisle/core/errors.h"

namespace aisle::store {

namespace {

// Detects duplicates within one file. Products: an error (a catalog lists each listing
// once). Judgments: counted, the later row wins (CrowdFlower repeats some pairs).
class DuplicateCheck {
 public:
  Status check(const io::ProductRecord& record, IngestReport*) {
    auto [entry, inserted] = first_line_.try_emplace(record.locale + '\x1f' + record.id, record.where.line);
    if (inserted) return Status::ok();
    return Status::bad_input(
        fmt::format("duplicate product id {} in locale {}: first listed at line {}",
                    errors::quote(record.id), record.locale, entry->second),
        {record.where.file, record.where.line, "id"});
  }
  Status check(const io::JudgmentRecord& record, IngestReport* report) {
    // Only counted, so a 64-bit hash of the key is enough (8 bytes a row, not the key).
    std::uint64_t key = std::hash<std::string>()(record.locale + '\x1f' + record.query + '\x1f' + record.product_id);
    if (!seen_pairs_.insert(key).second) ++report->duplicate_judgments;
    return Status::ok();
  }
  Status check(const io::EventRecord&, IngestReport*) { return Status::ok(); }

 private:
  std::unordered_map<std::string, std::uint64_t> first_line_;  // product key -> first line
  std::unordered_set<std::uint64_t> seen_pairs_;                 // judgment key hashes
};

Status write(Store& store, std::int64_t run, std::span<const io::ProductRecord> batch, std::int64_t line) {
  return store.write_products(run, batch, line);
}
Status write(Store& store, std::int64_t run, std::span<const io::JudgmentRecord> batch, std::int64_t line) {
  return store.write_judgments(run, batch, line);
}
Status write(Store& store, std::int64_t run, std::span<const io::EventRecord> batch, std::int64_t line) {
  return store.write_events(run, batch, line);
}

template <typename Record>
Status run_ingest(Store& store, const Context& context, io::RecordReader<Record>& reader,
                  const IngestOptions& options, IngestReport* report) {
  auto progress = context.progress(std::filesystem::path(report->file).filename().string(),
                                   reader.total_bytes().value_or(0), ProgressUnit::kBytes);
  DuplicateCheck duplicates;
  std::vector<Record> batch;
  batch.reserve(options.batch_size);
  std::int64_t last_line = 0;

  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::ok();
    AISLE_RETURN_IF_ERROR(write(store, report->run_id, std::span<const Record>(batch), last_line));
    report->rows_written += static_cast<std::int64_t>(batch.size());
    ++report->batches;
    if (options.on_commit) {
      options.on_commit(BatchCommitted{report->file, report->batches,
                                       static_cast<std::int64_t>(batch.size()),
                                       report->rows_written, last_line});
    }
    progress->set_note(fmt::format("{} rows", report->rows_written));
    batch.clear();
    return Status::ok();
  };

  Record record;
  while (true) {
    Result<bool> next = reader.next(&record);
    Status bad = next.is_ok() ? Status::ok() : next.status();
    if (next.is_ok() && !*next) break;
    if (next.is_ok()) bad = duplicates.check(record, report);
    if (!bad.is_ok()) {
      if (bad.code() != StatusCode::kBadInput) {
        AISLE_RETURN_IF_ERROR(flush());
        return bad;
      }
      ++report->bad_rows;
      if (report->errors.size() < IngestReport::kMaxReportedErrors) report->errors.push_back(bad);
      if (static_cast<std::size_t>(report->bad_rows) > options.max_errors) {
        AISLE_RETURN_IF_ERROR(flush());
        return bad;
      }
      ++report->skipped_rows;
      context.logger().warn("skipped bad row: {}", bad.to_string());
      continue;
    }
    ++report->rows_read;
    last_line = static_cast<std::int64_t>(record.where.line);
    batch.push_back(std::move(record));
    if (batch.size() >= options.batch_size) {
      AISLE_RETURN_IF_ERROR(flush());
      progress->set(reader.bytes_read());
    }
  }
  AISLE_RETURN_IF_ERROR(flush());
  progress->set(reader.bytes_read());
  if (report->rows_read == 0 && report->bad_rows == 0) {
    return Status::bad_input(errors::expected_found("at least one record", "an empty file"),
                             {report->file});
  }
  return Status::ok();
}

template <typename Record>
Status ingest_with(Store& store, const Context& context, Result<std::unique_ptr<io::RecordReader<Record>>> reader,
                   const IngestOptions& options, IngestReport* report) {
  AISLE_RETURN_IF_ERROR(reader);
  AISLE_ASSIGN_OR_RETURN(report->run_id,
                         store.begin_run(report->file, std::string(io::record_kind_name(options.kind)),
                                         std::string(io::format_name(report->format))));
  Status status = run_ingest(store, context, **reader, options, report);
  report->utf8_replacements = (*reader)->utf8_replacements();
  std::string message = status.is_ok() ? fmt::format("{} rows", report->rows_written) : status.to_string();
  Status finished = store.finish_run(report->run_id, status.is_ok(), message);
  return status.is_ok() ? finished : status;
}

}  // namespace

Status ingest_file(Store& store, const Context& context, const std::filesystem::path& path,
                   const IngestOptions& options, IngestReport* report) {
  auto start = std::chrono::steady_clock::now();
  *report = IngestReport();
  report->file = path.string();
  io::ReaderOptions reader_options = options.reader;
  if (options.batch_size == 0) {
    return Status::bad_input(errors::expected_found("a batch size >= 1", "0"), {"", 0, "batch-size"});
  }
  if (reader_options.format == io::Format::kAuto) {
    AISLE_ASSIGN_OR_RETURN(reader_options.format, io::detect_format(path, options.kind, reader_options.text));
  } else if (io::format_kind(reader_options.format) != options.kind) {
    return Status::bad_input(fmt::format("format {} holds {}, not {}", io::format_name(reader_options.format),
                                         io::record_kind_name(io::format_kind(reader_options.format)),
                                         io::record_kind_name(options.kind)),
                             {report->file, 0, "format"});
  }
  report->format = reader_options.format;
  AISLE_ASSIGN_OR_RETURN(auto source, io::open_file(path));
  Status status;
  switch (options.kind) {
    case io::RecordKind::kProducts:
      status = ingest_with(store, context, io::open_product_reader(std::move(source), reader_options), options, report);
      break;
    case io::RecordKind::kJudgments:
      status = ingest_with(store, context, io::open_judgment_reader(std::move(source), reader_options), options, report);
      break;
    case io::RecordKind::kEvents:
      status = ingest_with(store, context, io::open_event_reader(std::move(source), reader_options), options, report);
      break;
  }
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return status;
}

}  // namespace aisle::store
