#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "aisle/core/errors.h"
#include "aisle/io/csv_reader.h"
#include "aisle/io/line_reader.h"
#include "aisle/io/readers.h"

namespace aisle::io {

namespace {

struct FormatInfo {
  Format format;
  std::string_view name;
  RecordKind kind;
};

constexpr std::array<FormatInfo, 10> kFormats = {{
    {Format::kAuto, "auto", RecordKind::kProducts},
    {Format::kCatalogJsonl, "catalog-jsonl", RecordKind::kProducts},
    {Format::kCatalogCsv, "catalog-csv", RecordKind::kProducts},
    {Format::kEsciProducts, "esci-products", RecordKind::kProducts},
    {Format::kEsciExamples, "esci-examples", RecordKind::kJudgments},
    {Format::kHomeDepot, "homedepot", RecordKind::kJudgments},
    {Format::kCrowdFlower, "crowdflower", RecordKind::kJudgments},
    {Format::kJudgmentsCsv, "judgments-csv", RecordKind::kJudgments},
    {Format::kJudgmentsJsonl, "judgments-jsonl", RecordKind::kJudgments},
    {Format::kEventsJsonl, "events-jsonl", RecordKind::kEvents},
}};

constexpr std::array<std::string_view, 12> kProductRoles = {
    "id", "title", "description", "bullets", "brand", "color",
    "category", "price", "popularity", "group", "locale", "image"};
constexpr std::array<std::string_view, 6> kJudgmentRoles = {"query", "query_id", "product_id",
                                                            "grade", "label", "split"};

const FormatInfo& info(Format format) {
  for (const FormatInfo& entry : kFormats) {
    if (entry.format == format) return entry;
  }
  AISLE_CHECK(false, "a Format without an entry in kFormats");
  return kFormats[0];
}

// The CSV presets, tried in this order by detect_format: the first whose mapped columns are
// all in the header wins, so the more specific layouts come first.
constexpr std::array<Format, 4> kCsvPresets = {Format::kEsciExamples, Format::kEsciProducts,
                                               Format::kHomeDepot, Format::kCrowdFlower};

}  // namespace

std::string_view format_name(Format format) { return info(format).name; }

Result<Format> parse_format(std::string_view name) {
  for (const FormatInfo& entry : kFormats) {
    if (entry.name == name) return entry.format;
  }
  std::vector<std::string_view> names;
  for (const FormatInfo& entry : kFormats) names.push_back(entry.name);
  return Status::bad_input(
      errors::expected_found(fmt::format("a format ({})", fmt::join(names, ", ")),
                             errors::quote(name)),
      {"", 0, "format"});
}

RecordKind format_kind(Format format) { return info(format).kind; }

std::string_view record_kind_name(RecordKind kind) {
  switch (kind) {
    case RecordKind::kProducts: return "catalog";
    case RecordKind::kJudgments: return "judgments";
    case RecordKind::kEvents: return "events";
  }
  return "?";
}

Result<CsvMapping> CsvMapping::parse(std::string_view text) {
  CsvMapping mapping;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view pair = text.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    std::size_t equals = pair.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == pair.size()) {
      return Status::bad_input(
          errors::expected_found("role=column", errors::quote(pair)), {"", 0, "map"});
    }
    std::string role(pair.substr(0, equals));
    bool known = std::find(kProductRoles.begin(), kProductRoles.end(), role) != kProductRoles.end() ||
                 std::find(kJudgmentRoles.begin(), kJudgmentRoles.end(), role) != kJudgmentRoles.end();
    if (!known) {
      return Status::bad_input(
          errors::expected_found(fmt::format("a role ({}, {})", fmt::join(kProductRoles, ", "),
                                             fmt::join(kJudgmentRoles, ", ")),
                                 errors::quote(role)),
          {"", 0, "map"});
    }
    mapping.columns[role] = std::string(pair.substr(equals + 1));
  }
  if (mapping.columns.empty()) {
    return Status::bad_input(errors::expected_found("role=column pairs", "nothing"),
                             {"", 0, "map"});
  }
  return mapping;
}

CsvMapping CsvMapping::preset(Format format) {
  CsvMapping mapping;
  switch (format) {
    case Format::kEsciProducts:
      mapping.columns = {{"id", "product_id"},          {"title", "product_title"},
                         {"description", "product_description"},
                         {"bullets", "product_bullet_point"}, {"brand", "product_brand"},
                         {"color", "product_color"},    {"locale", "product_locale"}};
      break;
    case Format::kEsciExamples:
      mapping.columns = {{"query_id", "query_id"},  {"query", "query"},
                         {"product_id", "product_id"}, {"locale", "product_locale"},
                         {"label", "esci_label"},   {"split", "split"}};
      break;
    case Format::kHomeDepot:
      mapping.columns = {{"product_id", "product_uid"}, {"title", "product_title"},
                         {"query", "search_term"},      {"grade", "relevance"}};
      break;
    case Format::kCrowdFlower:
      mapping.columns = {{"query", "query"},
                         {"title", "product_title"},
                         {"description", "product_description"},
                         {"grade", "median_relevance"}};
      break;
    default:
      break;
  }
  return mapping;
}

Result<Format> detect_format(const std::filesystem::path& path, RecordKind kind,
                             const TextOptions& text) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto jsonl_format = [&]() -> Format {
    switch (kind) {
      case RecordKind::kProducts: return Format::kCatalogJsonl;
      case RecordKind::kJudgments: return Format::kJudgmentsJsonl;
      case RecordKind::kEvents: return Format::kEventsJsonl;
    }
    return Format::kAuto;
  };
  if (extension == ".jsonl" || extension == ".json" || extension == ".ndjson") return jsonl_format();

  AISLE_ASSIGN_OR_RETURN(auto source, open_file(path));
  LineReader lines(std::move(source), text);
  std::string_view first;
  AISLE_ASSIGN_OR_RETURN(bool found, lines.next(&first));
  if (!found) {
    return Status::bad_input(errors::expected_found("a header or a first record", "an empty file"),
                             {path.string(), 1});
  }
  if (first.find_first_not_of(" \t") != std::string_view::npos &&
      first[first.find_first_not_of(" \t")] == '{') {
    return jsonl_format();
  }
  AISLE_ASSIGN_OR_RETURN(auto csv_source, open_file(path));
  CsvOptions csv_options;
  csv_options.text = text;
  AISLE_ASSIGN_OR_RETURN(auto csv, CsvReader::open(std::move(csv_source), csv_options));
  for (Format preset : kCsvPresets) {
    if (format_kind(preset) != kind) continue;
    const CsvMapping mapping = CsvMapping::preset(preset);
    bool all = std::all_of(mapping.columns.begin(), mapping.columns.end(),
                           [&](const auto& entry) { return csv->column(entry.second).has_value(); });
    if (all) return preset;
  }
  return Status::bad_input(
      fmt::format("cannot tell the layout of this {} file from its header ({}); name it with "
                  "--format ({} with --map for other CSV layouts)",
                  record_kind_name(kind), errors::quote(fmt::format("{}", fmt::join(csv->header(), ",")), 120),
                  kind == RecordKind::kProducts ? "catalog-csv" : "judgments-csv"),
      {path.string(), 1});
}

}  // namespace aisle::io
