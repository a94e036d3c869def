// libFuzzer target for one reader, chosen at compile time by AISLE_FUZZ_FORMAT (a Format name,
// or "csv" for the bare CsvReader). The first input byte picks the text options, so one
// corpus explores UTF-8 and Latin-1, the error and replace policies, and small size limits.
// The property checked: any input gives records or Status errors, never a crash, a sanitizer
// report, or a reader that keeps going forever.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "aisle/io/csv_reader.h"
#include "aisle/io/readers.h"

namespace {

using namespace aisle;
using namespace aisle::io;

TextOptions options_from(std::uint8_t flags) {
  TextOptions text;
  text.encoding = (flags & 1) ? Encoding::kLatin1 : Encoding::kUtf8;
  text.invalid_utf8 = (flags & 2) ? InvalidUtf8::kReplace : InvalidUtf8::kError;
  if (flags & 4) text.max_line_bytes = 64;
  if (flags & 8) text.max_field_bytes = 16;
  return text;
}

// Reads until the end; `reader` is a CsvReader or a RecordReader (anything with next(Record*)).
template <typename Record, typename Reader>
void drain(Reader& reader, std::size_t size) {
  Record record;
  // Each call consumes at least one line, so the loop ends; the bound catches a regression.
  for (std::size_t calls = 0; calls <= size + 2; ++calls) {
    Result<bool> next = reader.next(&record);
    if (next.is_ok() && !*next) return;
    if (!next.is_ok() && next.status().code() != StatusCode::kBadInput) return;
  }
  __builtin_trap();
}

template <typename Record>
void drain_opened(Result<std::unique_ptr<RecordReader<Record>>> reader, std::size_t size) {
  if (reader.is_ok()) drain<Record>(**reader, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view format_name = AISLE_FUZZ_FORMAT;
  ReaderOptions options;
  options.text = options_from(data[0]);
  options.allow_unknown_fields = (data[0] & 16) != 0;
  if (format_name == "csv") {
    CsvOptions csv_options;
    csv_options.text = options.text;
    auto csv = CsvReader::open(memory_source("fuzz.csv", bytes), csv_options);
    if (csv.is_ok()) drain<CsvRecord>(**csv, size);
    return 0;
  }
  options.format = parse_format(format_name).value();
  if (options.format == Format::kCatalogCsv || options.format == Format::kJudgmentsCsv) {
    options.mapping = CsvMapping::parse(options.format == Format::kCatalogCsv
                                            ? "id=id,title=title,price=price,category=category,locale=locale"
                                            : "query=q,product_id=p,grade=g,label=l,split=s")
                          .value();
  }
  auto source = memory_source("fuzz", bytes);
  switch (format_kind(options.format)) {
    case RecordKind::kProducts: drain_opened(open_product_reader(std::move(source), options), size); break;
    case RecordKind::kJudgments: drain_opened(open_judgment_reader(std::move(source), options), size); break;
    case RecordKind::kEvents: drain_opened(open_event_reader(std::move(source), options), size); break;
  }
  return 0;
}
