#include "aisle/io/readers.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "aisle/core/errors.h"
#include "aisle/io/csv_reader.h"
#include "jsonl.h"

namespace aisle::io {

namespace {

// A product id is what URLs (/products/ID) and results name: at most kMaxProductIdBytes, no
// control characters, no '/'.
constexpr std::size_t kMaxProductIdBytes = 256;
// An image is an absolute http(s) URL of at most 2,048 bytes without spaces, control
// characters, quotes or angle brackets (it ends up in an HTML attribute).
Status check_image_url(std::string_view url, Where where) {
  if (url.empty()) return Status::ok();
  const bool scheme = url.starts_with("https://") || url.starts_with("http://");
  const bool clean = std::none_of(url.begin(), url.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' || c == '`';
  });
  if (!scheme || !clean || url.size() > 2048 || url.size() <= (url.starts_with("https://") ? 8u : 7u)) {
    return Status::bad_input(
        errors::expected_found("an http(s) URL (at most 2,048 bytes; no spaces, quotes or angle brackets)",
                               std::string(url.substr(0, 80))),
        where);
  }
  return Status::ok();
}

Status check_product_id(std::string_view id, Where where) {
  if (id.size() > kMaxProductIdBytes) {
    return Status::bad_input(fmt::format("a product id is at most {} bytes (this one has {})", kMaxProductIdBytes, id.size()),
                             std::move(where));
  }
  for (char c : id) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '/') {
      return Status::bad_input("a product id must not contain '/' or control characters", std::move(where));
    }
  }
  return Status::ok();
}

// Upper bound of a displayed position; larger ones are data errors, not real ranks.
constexpr double kMaxPosition = 1'000'000;

Result<std::string> locale_of(const std::string& text, const std::string& fallback,
                              const Where& where) {
  const std::string& code = text.empty() ? fallback : text;
  auto locale = Locale::parse(code);
  if (!locale.is_ok()) return Status::bad_input(locale.status().message(), where);
  return locale->code();
}

Status check_non_negative(const std::optional<double>& value, const Where& where) {
  if (value && *value < 0) {
    return Status::bad_input(errors::expected_found("a number >= 0", fmt::format("{}", *value)),
                             where);
  }
  return Status::ok();
}

// Derived product id for layouts without one (CrowdFlower): FNV-1a 64 of title and
// description, so the same listing gets the same id in every row and every run.
std::string derived_product_id(std::string_view title, std::string_view description) {
  std::uint64_t hash = 14695981039346656037ULL;
  auto mix = [&](std::string_view text) {
    for (char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 1099511628211ULL;
    }
  };
  mix(title);
  mix("\x1f");
  mix(description);
  return fmt::format("h{:016x}", hash);
}

// ---- JSONL -----------------------------------------------------------------------------------

template <typename Record>
class JsonlReader : public RecordReader<Record> {
 public:
  JsonlReader(std::unique_ptr<ByteSource> source, const ReaderOptions& options, Format format)
      : objects_(std::move(source), options.text), options_(options), format_(format) {}

  Result<bool> next(Record* out) override {
    nlohmann::json object;
    std::uint64_t line = 0;
    AISLE_ASSIGN_OR_RETURN(bool found, objects_.next(&object, &line));
    if (!found) return false;
    JsonFields fields(object, Where{objects_.lines().name(), line}, options_.text.max_field_bytes);
    *out = Record();
    out->where = Where{objects_.lines().name(), line};
    AISLE_RETURN_IF_ERROR(decode(fields, out));
    AISLE_RETURN_IF_ERROR(fields.check_unknown(options_.allow_unknown_fields));
    return true;
  }
  Format format() const override { return format_; }
  std::uint64_t bytes_read() const override { return objects_.lines().bytes_read(); }
  std::optional<std::uint64_t> total_bytes() const override { return objects_.lines().size(); }
  std::size_t utf8_replacements() const override { return objects_.utf8_replacements(); }

 protected:
  virtual Status decode(JsonFields& fields, Record* out) = 0;
  const ReaderOptions& options() const { return options_; }

 private:
  JsonlObjectReader objects_;
  ReaderOptions options_;
  Format format_;
};

class CatalogJsonlReader final : public JsonlReader<ProductRecord> {
 public:
  using JsonlReader::JsonlReader;

 protected:
  Status decode(JsonFields& fields, ProductRecord* out) override {
    AISLE_ASSIGN_OR_RETURN(out->id, fields.string("id", true));
    AISLE_RETURN_IF_ERROR(check_product_id(out->id, fields.at("id")));
    AISLE_ASSIGN_OR_RETURN(std::string locale, fields.string("locale"));
    AISLE_ASSIGN_OR_RETURN(out->locale, locale_of(locale, options().default_locale, fields.at("locale")));
    AISLE_ASSIGN_OR_RETURN(out->title, fields.string("title", true));
    AISLE_ASSIGN_OR_RETURN(out->description, fields.string("description"));
    AISLE_ASSIGN_OR_RETURN(out->bullets, fields.string_list("bullets"));
    AISLE_ASSIGN_OR_RETURN(out->brand, fields.string("brand"));
    AISLE_ASSIGN_OR_RETURN(out->color, fields.string("color"));
    AISLE_ASSIGN_OR_RETURN(out->category, fields.string_list("category", '>'));
    AISLE_ASSIGN_OR_RETURN(out->attributes, fields.string_map("attributes"));
    AISLE_ASSIGN_OR_RETURN(out->price, fields.number("price"));
    AISLE_RETURN_IF_ERROR(check_non_negative(out->price, fields.at("price")));
    AISLE_ASSIGN_OR_RETURN(out->popularity, fields.number("popularity"));
    AISLE_RETURN_IF_ERROR(check_non_negative(out->popularity, fields.at("popularity")));
    AISLE_ASSIGN_OR_RETURN(out->group, fields.string("group"));
    AISLE_ASSIGN_OR_RETURN(out->image, fields.string("image"));
    AISLE_RETURN_IF_ERROR(check_image_url(out->image, fields.at("image")));
    return Status::ok();
  }
};

Status decode_grade_or_label(JsonFields& fields, JudgmentRecord* out) {
  AISLE_ASSIGN_OR_RETURN(std::string label, fields.string("label"));
  AISLE_ASSIGN_OR_RETURN(std::optional<double> grade, fields.number("grade"));
  if (!label.empty()) {
    out->label = parse_esci_label(label);
    if (!out->label) {
      return Status::bad_input(
          errors::expected_found("an ESCI label (E, S, C, I)", errors::quote(label)),
          fields.at("label"));
    }
    out->grade = esci_gain(*out->label);
  }
  if (grade) out->grade = *grade;
  if (label.empty() && !grade) {
    return Status::bad_input("missing both \"grade\" and \"label\": a judgment needs one",
                             fields.at("grade"));
  }
  return Status::ok();
}

class JudgmentsJsonlReader final : public JsonlReader<JudgmentRecord> {
 public:
  using JsonlReader::JsonlReader;

 protected:
  Status decode(JsonFields& fields, JudgmentRecord* out) override {
    AISLE_ASSIGN_OR_RETURN(out->query, fields.string("query", true));
    AISLE_ASSIGN_OR_RETURN(out->query_id, fields.string("query_id"));
    AISLE_ASSIGN_OR_RETURN(std::string locale, fields.string("locale"));
    AISLE_ASSIGN_OR_RETURN(out->locale, locale_of(locale, options().default_locale, fields.at("locale")));
    AISLE_ASSIGN_OR_RETURN(out->product_id, fields.string("product_id", true));
    AISLE_RETURN_IF_ERROR(check_product_id(out->product_id, fields.at("product_id")));
    AISLE_RETURN_IF_ERROR(decode_grade_or_label(fields, out));
    AISLE_ASSIGN_OR_RETURN(out->split, fields.string("split"));
    if (out->split.empty()) out->split = options().default_split;
    return Status::ok();
  }
};

class EventsJsonlReader final : public JsonlReader<EventRecord> {
 public:
  using JsonlReader::JsonlReader;

 protected:
  Status decode(JsonFields& fields, EventRecord* out) override {
    AISLE_RETURN_IF_ERROR(decode_ts(fields, out));
    AISLE_ASSIGN_OR_RETURN(out->session, fields.string("session", true));
    AISLE_ASSIGN_OR_RETURN(out->query, fields.string("query"));
    AISLE_ASSIGN_OR_RETURN(std::string locale, fields.string("locale"));
    AISLE_ASSIGN_OR_RETURN(out->locale, locale_of(locale, options().default_locale, fields.at("locale")));
    AISLE_ASSIGN_OR_RETURN(out->product_id, fields.string("product_id", true));
    AISLE_RETURN_IF_ERROR(check_product_id(out->product_id, fields.at("product_id")));
    AISLE_ASSIGN_OR_RETURN(std::string type, fields.string("type", true));
    auto parsed = parse_event_type(type);
    if (!parsed) {
      return Status::bad_input(
          errors::expected_found("an event type (impression, click, add_to_cart, purchase)",
                                 errors::quote(type)),
          fields.at("type"));
    }
    out->type = *parsed;
    AISLE_ASSIGN_OR_RETURN(std::optional<double> position, fields.number("position"));
    if (position) {
      if (*position < 1 || *position > kMaxPosition || std::floor(*position) != *position) {
        return Status::bad_input(
            errors::expected_found(fmt::format("a whole position from 1 to {}", kMaxPosition),
                                   fmt::format("{}", *position)),
            fields.at("position"));
      }
      out->position = static_cast<std::int32_t>(*position);
    }
    return Status::ok();
  }

 private:
  // ts: an ISO-8601 string, or Unix seconds as a number.
  static Status decode_ts(JsonFields& fields, EventRecord* out) {
    Result<std::optional<double>> seconds = fields.number("ts");
    if (seconds.is_ok() && seconds->has_value()) {
      // Years 1970..9999 only: keeps the milliseconds well inside int64.
      if (**seconds < 0 || **seconds > 253402300799.0) {
        return Status::bad_input(errors::expected_found("Unix seconds from 0 to 253402300799",
                                                        fmt::format("{}", **seconds)),
                                 fields.at("ts"));
      }
      out->ts_ms = static_cast<std::int64_t>(std::llround(**seconds * 1000.0));
      return check_not_future(fields, out->ts_ms);
    }
    AISLE_ASSIGN_OR_RETURN(std::string text, fields.string("ts", true));
    auto ms = parse_timestamp_ms(text);
    if (!ms) {
      return Status::bad_input(
          errors::expected_found("an ISO-8601 time such as 2026-11-01T10:00:00Z, or Unix seconds",
                                 errors::quote(text)),
          fields.at("ts"));
    }
    out->ts_ms = *ms;
    return check_not_future(fields, out->ts_ms);
  }

  static Status check_not_future(JsonFields& fields, std::int64_t ts_ms) {
    const std::int64_t latest = latest_event_ts_ms();
    if (ts_ms <= latest) return Status::ok();
    return Status::bad_input(errors::expected_found(fmt::format("a time at most one day after now (Unix seconds <= {})", latest / 1000),
                                                    fmt::format("Unix seconds {}", ts_ms / 1000)),
                             fields.at("ts"));
  }
};

// ---- CSV with a header mapping ---------------------------------------------------------------

// Column indexes of the mapped roles of one CSV file.
class MappedColumns {
 public:
  static Result<MappedColumns> resolve(const CsvReader& csv, const CsvMapping& mapping) {
    MappedColumns columns;
    for (const auto& [role, column] : mapping.columns) {
      auto index = csv.column(column);
      if (!index) {
        return Status::bad_input(
            fmt::format("the header has no column {} (mapped to role \"{}\"); columns: {}",
                        errors::quote(column), role, fmt::join(csv.header(), ", ")),
            {csv.name(), 1});
      }
      columns.index_[role] = *index;
    }
    return columns;
  }

  bool has(std::string_view role) const { return index_.find(std::string(role)) != index_.end(); }

  // The field of `role` in `record`, or "" when the role is not mapped.
  const std::string& get(const CsvRecord& record, std::string_view role) const {
    static const std::string kEmpty;
    auto found = index_.find(std::string(role));
    return found == index_.end() ? kEmpty : record.fields[found->second];
  }

  Status require(std::initializer_list<std::string_view> roles, std::string_view file,
                 std::string_view format) const {
    for (std::string_view role : roles) {
      if (!has(role)) {
        return Status::bad_input(
            fmt::format("the {} layout needs the role \"{}\" in --map", format, role), {std::string(file)});
      }
    }
    return Status::ok();
  }

 private:
  std::map<std::string, std::size_t> index_;
};

Result<std::optional<double>> csv_number(const std::string& text, const Where& where) {
  std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return std::optional<double>();
  std::size_t last = text.find_last_not_of(" \t");
  double value = 0;
  const char* begin = text.data() + first;
  const char* end = text.data() + last + 1;
  auto [pointer, error] = std::from_chars(begin, end, value);
  if (error != std::errc() || pointer != end || !std::isfinite(value)) {
    return Status::bad_input(errors::expected_found("a finite number", errors::quote(text)), where);
  }
  return std::optional<double>(value);
}

template <typename Record>
class MappedCsvReader : public RecordReader<Record> {
 public:
  MappedCsvReader(std::unique_ptr<CsvReader> csv, MappedColumns columns,
                  const ReaderOptions& options, Format format)
      : csv_(std::move(csv)),
        columns_(std::move(columns)),
        mapping_(options.mapping ? *options.mapping : CsvMapping::preset(format)),
        options_(options),
        format_(format) {}

  Result<bool> next(Record* out) override {
    AISLE_ASSIGN_OR_RETURN(bool found, csv_->next(&record_));
    if (!found) return false;
    *out = Record();
    out->where = Where{csv_->name(), record_.line};
    AISLE_RETURN_IF_ERROR(decode(out));
    return true;
  }
  Format format() const override { return format_; }
  std::uint64_t bytes_read() const override { return csv_->bytes_read(); }
  std::optional<std::uint64_t> total_bytes() const override { return csv_->size(); }
  std::size_t utf8_replacements() const override { return csv_->utf8_replacements(); }

 protected:
  virtual Status decode(Record* out) = 0;

  // Where the field of `role` in the current record is, named by its column.
  Where at(std::string_view role) const { return Where{csv_->name(), record_.line, role_column(role)}; }
  const std::string& get(std::string_view role) const { return columns_.get(record_, role); }
  const ReaderOptions& options() const { return options_; }
  const MappedColumns& columns() const { return columns_; }

  // Fills the product fields present in the mapping.
  Status decode_product(ProductRecord* product) {
    product->title = get("title");
    product->description = get("description");
    product->bullets = split_trimmed(get("bullets"), '\n');
    product->brand = get("brand");
    product->color = get("color");
    product->category = split_trimmed(get("category"), '>');
    product->group = get("group");
    product->image = get("image");
    AISLE_RETURN_IF_ERROR(check_image_url(product->image, at("image")));
    AISLE_ASSIGN_OR_RETURN(product->locale, locale_of(get("locale"), options_.default_locale, at("locale")));
    AISLE_ASSIGN_OR_RETURN(product->price, csv_number(get("price"), at("price")));
    AISLE_RETURN_IF_ERROR(check_non_negative(product->price, at("price")));
    AISLE_ASSIGN_OR_RETURN(product->popularity, csv_number(get("popularity"), at("popularity")));
    AISLE_RETURN_IF_ERROR(check_non_negative(product->popularity, at("popularity")));
    return Status::ok();
  }

  Status require_non_empty(std::string_view role, const std::string& value) const {
    if (value.find_first_not_of(" \t") == std::string::npos) {
      return Status::bad_input(errors::expected_found("a value", "an empty field"), at(role));
    }
    return Status::ok();
  }

 private:
  std::string role_column(std::string_view role) const {
    auto found = mapping_.columns.find(std::string(role));
    return found == mapping_.columns.end() ? std::string(role) : found->second;
  }

  std::unique_ptr<CsvReader> csv_;
  MappedColumns columns_;
  CsvMapping mapping_;
  ReaderOptions options_;
  Format format_;
  CsvRecord record_;
};

class MappedProductReader final : public MappedCsvReader<ProductRecord> {
 public:
  using MappedCsvReader::MappedCsvReader;

 protected:
  Status decode(ProductRecord* out) override {
    out->id = get("id");
    AISLE_RETURN_IF_ERROR(require_non_empty("id", out->id));
    AISLE_RETURN_IF_ERROR(check_product_id(out->id, at("id")));
    AISLE_RETURN_IF_ERROR(decode_product(out));
    AISLE_RETURN_IF_ERROR(require_non_empty("title", out->title));
    return Status::ok();
  }
};

class MappedJudgmentReader final : public MappedCsvReader<JudgmentRecord> {
 public:
  using MappedCsvReader::MappedCsvReader;

 protected:
  Status decode(JudgmentRecord* out) override {
    out->query = get("query");
    AISLE_RETURN_IF_ERROR(require_non_empty("query", out->query));
    out->query_id = get("query_id");
    AISLE_ASSIGN_OR_RETURN(out->locale, locale_of(get("locale"), options().default_locale, at("locale")));
    if (columns().has("label")) {
      const std::string& label = get("label");
      out->label = parse_esci_label(label);
      if (!out->label) {
        return Status::bad_input(
            errors::expected_found("an ESCI label (E, S, C, I)", errors::quote(label)), at("label"));
      }
      out->grade = esci_gain(*out->label);
    }
    if (columns().has("grade")) {
      AISLE_ASSIGN_OR_RETURN(std::optional<double> grade, csv_number(get("grade"), at("grade")));
      if (!grade) return Status::bad_input(errors::expected_found("a grade", "an empty field"), at("grade"));
      out->grade = *grade;
    }
    out->split = columns().has("split") ? get("split") : options().default_split;
    if (columns().has("title")) {
      ProductRecord product;
      AISLE_RETURN_IF_ERROR(decode_product(&product));
      AISLE_RETURN_IF_ERROR(require_non_empty("title", product.title));
      product.id = columns().has("product_id") ? get("product_id")
                                                : derived_product_id(product.title, product.description);
      product.where = out->where;
      out->product = std::move(product);
    }
    out->product_id = out->product ? out->product->id : get("product_id");
    AISLE_RETURN_IF_ERROR(require_non_empty("product_id", out->product_id));
    AISLE_RETURN_IF_ERROR(check_product_id(out->product_id, at("product_id")));
    return Status::ok();
  }
};

Result<MappedColumns> open_mapped(std::unique_ptr<ByteSource>& source, const ReaderOptions& options,
                                  std::unique_ptr<CsvReader>* csv) {
  CsvOptions csv_options;
  csv_options.text = options.text;
  AISLE_ASSIGN_OR_RETURN(*csv, CsvReader::open(std::move(source), csv_options));
  CsvMapping mapping = options.mapping ? *options.mapping : CsvMapping::preset(options.format);
  if (mapping.columns.empty()) {
    return Status::bad_input(
        fmt::format("the {} layout needs --map role=column,...", format_name(options.format)),
        {(*csv)->name()});
  }
  return MappedColumns::resolve(**csv, mapping);
}

Status check_kind(const ReaderOptions& options, RecordKind kind, const std::string& name) {
  if (options.format == Format::kAuto) {
    return Status::bad_input("the format must be decided (detect_format) before opening a reader",
                             {name});
  }
  if (format_kind(options.format) != kind) {
    return Status::bad_input(
        fmt::format("format {} holds {}, not {}", format_name(options.format),
                    record_kind_name(format_kind(options.format)), record_kind_name(kind)),
        {name});
  }
  return Status::ok();
}

}  // namespace

Result<std::unique_ptr<ProductReader>> open_product_reader(std::unique_ptr<ByteSource> source,
                                                           const ReaderOptions& options) {
  AISLE_RETURN_IF_ERROR(check_kind(options, RecordKind::kProducts, source->name()));
  if (options.format == Format::kCatalogJsonl) {
    return std::unique_ptr<ProductReader>(
        std::make_unique<CatalogJsonlReader>(std::move(source), options, options.format));
  }
  std::unique_ptr<CsvReader> csv;
  AISLE_ASSIGN_OR_RETURN(MappedColumns columns, open_mapped(source, options, &csv));
  AISLE_RETURN_IF_ERROR(columns.require({"id", "title"}, csv->name(), format_name(options.format)));
  return std::unique_ptr<ProductReader>(
      std::make_unique<MappedProductReader>(std::move(csv), std::move(columns), options, options.format));
}

Result<std::unique_ptr<JudgmentReader>> open_judgment_reader(std::unique_ptr<ByteSource> source,
                                                             const ReaderOptions& options) {
  AISLE_RETURN_IF_ERROR(check_kind(options, RecordKind::kJudgments, source->name()));
  if (options.format == Format::kJudgmentsJsonl) {
    return std::unique_ptr<JudgmentReader>(
        std::make_unique<JudgmentsJsonlReader>(std::move(source), options, options.format));
  }
  std::unique_ptr<CsvReader> csv;
  AISLE_ASSIGN_OR_RETURN(MappedColumns columns, open_mapped(source, options, &csv));
  AISLE_RETURN_IF_ERROR(columns.require({"query"}, csv->name(), format_name(options.format)));
  if (!columns.has("grade") && !columns.has("label")) {
    return Status::bad_input("a judgments layout needs a \"grade\" or a \"label\" role in --map",
                             {csv->name()});
  }
  if (!columns.has("product_id") && !columns.has("title")) {
    return Status::bad_input(
        "a judgments layout needs a \"product_id\" role, or a \"title\" role to derive one from",
        {csv->name()});
  }
  return std::unique_ptr<JudgmentReader>(
      std::make_unique<MappedJudgmentReader>(std::move(csv), std::move(columns), options, options.format));
}

Result<std::unique_ptr<EventReader>> open_event_reader(std::unique_ptr<ByteSource> source,
                                                       const ReaderOptions& options) {
  AISLE_RETURN_IF_ERROR(check_kind(options, RecordKind::kEvents, source->name()));
  return std::unique_ptr<EventReader>(
      std::make_unique<EventsJsonlReader>(std::move(source), options, options.format));
}

}  // namespace aisle::io
