#include "aisle/io/readers.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace aisle::io {
namespace {

using aisle::testing::test_data;

template <typename Reader, typename Record>
std::vector<Record> read_all(Reader& reader, std::vector<Status>* errors = nullptr) {
  std::vector<Record> records;
  Record record;
  while (true) {
    Result<bool> next = reader.next(&record);
    if (!next.is_ok()) {
      if (errors == nullptr) ADD_FAILURE() << next.status().to_string();
      else errors->push_back(next.status());
      if (next.status().code() != StatusCode::kBadInput) break;
      continue;
    }
    if (!*next) break;
    records.push_back(record);
  }
  return records;
}

std::vector<ProductRecord> products_from(std::string_view name, std::string_view bytes, Format format,
                                         std::vector<Status>* errors = nullptr,
                                         ReaderOptions options = {}) {
  options.format = format;
  auto reader = open_product_reader(memory_source(std::string(name), bytes), options);
  if (!reader.is_ok()) {
    if (errors) errors->push_back(reader.status());
    else ADD_FAILURE() << reader.status().to_string();
    return {};
  }
  return read_all<ProductReader, ProductRecord>(**reader, errors);
}

// The first error of reading a one-line catalog.
Status catalog_error(std::string_view line, ReaderOptions options = {}) {
  std::vector<Status> errors;
  products_from("c.jsonl", line, Format::kCatalogJsonl, &errors, options);
  return errors.empty() ? Status::ok() : errors.front();
}

TEST(CatalogJsonlTest, ReadsEveryField) {
  auto source = open_file(test_data("catalog_small.jsonl"));
  ASSERT_TRUE(source.is_ok());
  ReaderOptions options;
  options.format = Format::kCatalogJsonl;
  auto reader = open_product_reader(std::move(source).value(), options);
  ASSERT_TRUE(reader.is_ok());
  auto products = read_all<ProductReader, ProductRecord>(**reader);
  ASSERT_EQ(products.size(), 3u);
  const ProductRecord& p = products[0];
  EXPECT_EQ(p.id, "P1");
  EXPECT_EQ(p.locale, "en");
  EXPECT_EQ(p.title, "Nimbus Pro Running Shoes - Red");
  EXPECT_EQ(p.bullets, (std::vector<std::string>{"mesh upper", "foam sole"}));
  EXPECT_EQ(p.category, (std::vector<std::string>{"Shoes", "Running"}));
  EXPECT_EQ(p.attributes, (std::vector<std::pair<std::string, std::string>>{
                              {"size", "8, 9"}, {"waterproof", "false"}, {"weight_g", "240"}}));
  EXPECT_EQ(p.price, 89.5);
  EXPECT_EQ(p.popularity, 12.0);
  EXPECT_EQ(p.group, "G1");
  EXPECT_EQ(p.where.line, 1u);
  EXPECT_EQ(products[1].category, (std::vector<std::string>{"Calzado", "Running"}));
  EXPECT_EQ(products[2].id, "42");
  EXPECT_EQ(products[2].locale, "en");
  EXPECT_EQ(products[2].where.line, 4u);  // the blank line 3 is skipped
}

TEST(CatalogJsonlTest, EachBadRowGetsItsPreciseError) {
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "titel": "typo"})").to_string(),
            "c.jsonl:1:titel: unknown key (known: attributes, brand, bullets, category, color, "
            "description, group, id, image, locale, popularity, price, title; --allow-unknown-fields "
            "ignores it)");
  // An image is an http(s) URL that is safe inside an HTML attribute.
  EXPECT_TRUE(catalog_error(R"({"id": "1", "title": "t", "image": "https://img.example/1.jpg"})").is_ok());
  for (const char* bad : {"javascript:alert(1)", "/relative.png", "https://", "https://a b", "https://x/\"onerror=1",
                          "https://x/<svg>", "ftp://x/y"}) {
    const nlohmann::json row = {{"id", "1"}, {"title", "t"}, {"image", bad}};
    EXPECT_EQ(catalog_error(row.dump()).where().to_string(), "c.jsonl:1:image") << bad;
  }
  EXPECT_EQ(catalog_error("{\"id\": \"1\", \"title\": \"t\", \"image\": \"https://x/" + std::string(2050, 'a') + "\"}")
                .where()
                .field,
            "image");
  ReaderOptions lenient;
  lenient.allow_unknown_fields = true;
  EXPECT_TRUE(catalog_error(R"({"id": "1", "title": "t", "titel": "typo"})", lenient).is_ok());
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "locale": "xx"})").where().to_string(), "c.jsonl:1:locale");
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "price": "cheap"})").to_string(),
            "c.jsonl:1:price: expected a number, found a string \"\\\"cheap\\\"\"");
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "price": 1e400})").where().field, "price");
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "price": -3})").to_string(),
            "c.jsonl:1:price: expected a number >= 0, found -3");
  EXPECT_EQ(catalog_error(R"({"title": "no id"})").to_string(), "c.jsonl:1:id: missing required key");
  // An id is what /products/ID names: no '/', no control characters, at most 256 bytes.
  EXPECT_EQ(catalog_error(R"({"id": "a/b", "title": "t"})").to_string(),
            "c.jsonl:1:id: a product id must not contain '/' or control characters");
  EXPECT_EQ(catalog_error(R"({"id": "a\tb", "title": "t"})").where().field, "id");
  EXPECT_EQ(catalog_error("{\"id\": \"" + std::string(257, 'x') + "\", \"title\": \"t\"}").to_string(),
            "c.jsonl:1:id: a product id is at most 256 bytes (this one has 257)");
  EXPECT_TRUE(catalog_error("{\"id\": \"" + std::string(256, 'x') + "\", \"title\": \"t\"}").is_ok());
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": ""})").to_string(),
            "c.jsonl:1:title: expected a non-empty string, found an empty one");
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "bullets": [1]})").where().field, "bullets");
  EXPECT_EQ(catalog_error(R"({"id": "1", "title": "t", "attributes": {"a": {"b": 1}}})").where().field,
            "attributes.a");
  EXPECT_EQ(catalog_error(R"(["not", "an object"])").to_string(),
            "c.jsonl:1: expected a JSON object, found an array \"[\\\"not\\\",\\\"an object\\\"]\"");
}

TEST(CatalogJsonlTest, TruncatedAndMalformedLines) {
  std::vector<Status> errors;
  auto products = products_from("t.jsonl",
                                "{\"id\": \"1\", \"title\": \"ok\"}\n{\"id\": \"2\", \"title\": \"cut sh",
                                Format::kCatalogJsonl, &errors);
  EXPECT_EQ(products.size(), 1u);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where().to_string(), "t.jsonl:2");
  EXPECT_NE(errors[0].message().find("malformed JSON"), std::string::npos);
}

TEST(CatalogJsonlTest, InvalidUtf8NamesTheKey) {
  Status status = catalog_error("{\"id\": \"1\", \"title\": \"caf\xE9\"}");
  EXPECT_EQ(status.where().to_string(), "c.jsonl:1:title");
  EXPECT_NE(status.message().find("invalid UTF-8 at byte 26"), std::string::npos);
  ReaderOptions replace;
  replace.text.invalid_utf8 = InvalidUtf8::kReplace;
  replace.format = Format::kCatalogJsonl;
  auto reader = open_product_reader(memory_source("c.jsonl", "{\"id\": \"1\", \"title\": \"caf\xE9\"}"), replace);
  ProductRecord record;
  ASSERT_TRUE(*(*reader)->next(&record));
  EXPECT_EQ(record.title, "caf\xEF\xBF\xBD");
  EXPECT_EQ((*reader)->utf8_replacements(), 1u);
}

TEST(CatalogJsonlTest, HostileInputIsRefusedNotCrashed) {
  std::string deep = "{\"id\": \"1\", \"title\": \"t\", \"attributes\": " + std::string(100000, '[') + "}";
  Status status = catalog_error(deep);
  EXPECT_EQ(status.code(), StatusCode::kBadInput);
  EXPECT_NE(status.message().find("nested at most 32 levels"), std::string::npos);
  std::string big = "{\"id\": \"1\", \"title\": \"" + std::string(10 << 20, 'x') + "\"}";
  EXPECT_EQ(catalog_error(big).to_string(),
            "c.jsonl:1:title: the value is 10485760 bytes, over the limit of 1048576 bytes "
            "(--max-field-bytes raises it)");
}

TEST(EsciProductsTest, ReadsThePreset) {
  auto source = open_file(test_data("esci_products_small.csv"));
  ReaderOptions options;
  options.format = Format::kEsciProducts;
  auto reader = open_product_reader(std::move(source).value(), options);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  auto products = read_all<ProductReader, ProductRecord>(**reader);
  ASSERT_EQ(products.size(), 3u);
  EXPECT_EQ(products[0].bullets, (std::vector<std::string>{"Grippy sole", "Breathable"}));
  EXPECT_EQ(products[0].locale, "en");
  EXPECT_EQ(products[1].locale, "es");
  EXPECT_EQ(products[2].locale, "ja");
  EXPECT_EQ(products[2].where.line, 5u);
}

TEST(MappedCsvTest, MissingColumnAndUnknownRole) {
  ReaderOptions options;
  options.format = Format::kCatalogCsv;
  std::vector<Status> errors;
  products_from("m.csv", "sku,name\n1,x\n", Format::kCatalogCsv, &errors, options);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "m.csv: the catalog-csv layout needs --map role=column,...");
  options.mapping = CsvMapping::parse("id=sku,title=title").value();
  errors.clear();
  products_from("m.csv", "sku,name\n1,x\n", Format::kCatalogCsv, &errors, options);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "m.csv:1: the header has no column \"title\" (mapped to role \"title\"); columns: sku, name");
  options.mapping = CsvMapping::parse("id=sku,title=name").value();
  auto products = products_from("m.csv", "sku,name\n1,x\n", Format::kCatalogCsv, nullptr, options);
  ASSERT_EQ(products.size(), 1u);
  EXPECT_EQ(products[0].title, "x");
  EXPECT_FALSE(CsvMapping::parse("colour=c").is_ok());
  EXPECT_FALSE(CsvMapping::parse("id").is_ok());
}

std::vector<JudgmentRecord> judgments_from(const std::string& file, Format format) {
  ReaderOptions options;
  options.format = format;
  options.default_split = "train";
  auto reader = open_judgment_reader(std::move(open_file(file)).value(), options);
  EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
  if (!reader.is_ok()) return {};
  return read_all<JudgmentReader, JudgmentRecord>(**reader);
}

TEST(JudgmentsTest, HomeDepotLayout) {
  auto judgments = judgments_from(test_data("homedepot_small.csv"), Format::kHomeDepot);
  ASSERT_EQ(judgments.size(), 4u);
  EXPECT_EQ(judgments[0].query, "angle bracket");
  EXPECT_EQ(judgments[0].product_id, "100001");
  EXPECT_EQ(judgments[0].grade, 3.0);
  EXPECT_EQ(judgments[0].split, "train");
  ASSERT_TRUE(judgments[0].product);
  EXPECT_EQ(judgments[0].product->title, "Simpson Strong-Tie 12-Gauge Angle");
  EXPECT_EQ(judgments[3].grade, 2.33);
}

TEST(JudgmentsTest, CrowdFlowerLayoutDerivesStableProductIds) {
  auto judgments = judgments_from(test_data("crowdflower_small.csv"), Format::kCrowdFlower);
  ASSERT_EQ(judgments.size(), 3u);
  EXPECT_EQ(judgments[0].product->description, "Red satin accent pillow.\n8\" x 8\".");
  EXPECT_EQ(judgments[0].grade, 1.0);
  EXPECT_EQ(judgments[1].product_id, judgments[2].product_id);
  EXPECT_NE(judgments[0].product_id, judgments[1].product_id);
  EXPECT_EQ(judgments[1].product_id.size(), 17u);
  EXPECT_EQ(judgments[2].where.line, 5u);
}

TEST(JudgmentsTest, JsonlWithLabelsOrGrades) {
  auto judgments = judgments_from(test_data("judgments_small.jsonl"), Format::kJudgmentsJsonl);
  ASSERT_EQ(judgments.size(), 2u);
  EXPECT_EQ(judgments[0].label, EsciLabel::kExact);
  EXPECT_EQ(judgments[0].grade, 1.0);
  EXPECT_EQ(judgments[1].locale, "es");
  EXPECT_FALSE(judgments[1].label);
  EXPECT_EQ(judgments[1].grade, 2.5);
  EXPECT_EQ(judgments[1].split, "train");  // the default split
}

TEST(JudgmentsTest, EsciExamplesRejectUnknownLabels) {
  ReaderOptions options;
  options.format = Format::kEsciExamples;
  auto reader = open_judgment_reader(
      memory_source("x.csv", "query_id,query,product_id,product_locale,esci_label,split\n"
                             "1,shoes,B1,us,E,train\n2,shoes,B2,us,X,train\n3,shoes,B3,mars,E,test\n"),
      options);
  ASSERT_TRUE(reader.is_ok());
  std::vector<Status> errors;
  auto judgments = read_all<JudgmentReader, JudgmentRecord>(**reader, &errors);
  ASSERT_EQ(judgments.size(), 1u);
  EXPECT_EQ(judgments[0].locale, "en");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].to_string(), "x.csv:3:esci_label: expected an ESCI label (E, S, C, I), found \"X\"");
  EXPECT_EQ(errors[1].where().to_string(), "x.csv:4:product_locale");
}

TEST(EventsTest, ReadsIsoAndEpochTimes) {
  ReaderOptions options;
  options.format = Format::kEventsJsonl;
  auto reader = open_event_reader(std::move(open_file(test_data("events_small.jsonl"))).value(), options);
  ASSERT_TRUE(reader.is_ok());
  auto events = read_all<EventReader, EventRecord>(**reader);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].ts_ms, 1793527200000);
  EXPECT_EQ(events[0].type, EventType::kImpression);
  EXPECT_EQ(events[0].position, 1);
  EXPECT_EQ(events[1].ts_ms, 1793527205500);
  EXPECT_EQ(events[1].type, EventType::kClick);
  EXPECT_EQ(events[2].ts_ms, 1793527230250 - 0);  // 11:00:30.250+01:00 is 10:00:30.250Z
  EXPECT_FALSE(events[2].position);
  EXPECT_EQ(events[2].locale, "en");
}

TEST(EventsTest, BadEvents) {
  ReaderOptions options;
  options.format = Format::kEventsJsonl;
  auto reader = open_event_reader(
      memory_source("e.jsonl",
                    R"({"ts": "yesterday", "session": "s", "product_id": "P", "type": "click"})" "\n"
                    R"({"ts": 1, "session": "s", "product_id": "P", "type": "like"})" "\n"
                    R"({"ts": 1, "session": "s", "product_id": "P", "type": "click", "position": 1e12})" "\n"
                    R"({"ts": 1, "session": "s", "product_id": "P", "type": "click", "position": 0})" "\n"
                    R"({"ts": "9999-12-31T00:00:00Z", "session": "s", "product_id": "P", "type": "click"})" "\n"
                    R"({"ts": 253402214400, "session": "s", "product_id": "P", "type": "click"})" "\n"),
      options);
  std::vector<Status> errors;
  auto events = read_all<EventReader, EventRecord>(**reader, &errors);
  EXPECT_TRUE(events.empty());
  ASSERT_EQ(errors.size(), 6u);
  // Far-future times (ISO and Unix seconds) would outweigh every real event: refused.
  EXPECT_EQ(errors[4].where().to_string(), "e.jsonl:5:ts");
  EXPECT_EQ(errors[5].where().to_string(), "e.jsonl:6:ts");
  EXPECT_NE(errors[5].message().find("at most one day after now"), std::string::npos);
  EXPECT_EQ(errors[0].where().to_string(), "e.jsonl:1:ts");
  EXPECT_EQ(errors[1].to_string(),
            "e.jsonl:2:type: expected an event type (impression, click, add_to_cart, purchase), found \"like\"");
  EXPECT_EQ(errors[2].where().to_string(), "e.jsonl:3:position");
  EXPECT_EQ(errors[3].where().to_string(), "e.jsonl:4:position");
}

TEST(EventsTest, AcceptsTimesUpToADayAhead) {
  ReaderOptions options;
  options.format = Format::kEventsJsonl;
  const std::int64_t in_an_hour = (latest_event_ts_ms() - kMaxEventFutureMs) / 1000 + 3600;
  auto reader = open_event_reader(
      memory_source("e.jsonl", R"({"ts": )" + std::to_string(in_an_hour) + R"(, "session": "s", "product_id": "P", "type": "click"})" "\n"),
      options);
  std::vector<Status> errors;
  auto events = read_all<EventReader, EventRecord>(**reader, &errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(events.size(), 1u);  // clock skew of an hour is fine
}

TEST(TimestampTest, ParsesIsoForms) {
  EXPECT_EQ(parse_timestamp_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_timestamp_ms("2026-11-01 10:00:00"), 1793527200000);
  EXPECT_EQ(parse_timestamp_ms("2026-11-01T10:00:00.5Z"), 1793527200500);
  EXPECT_EQ(parse_timestamp_ms("2026-11-01T12:00:00+02:00"), 1793527200000);
  EXPECT_EQ(parse_timestamp_ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_FALSE(parse_timestamp_ms("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp_ms("2026-13-01T00:00:00Z"));
  EXPECT_FALSE(parse_timestamp_ms("2026-11-01"));
  EXPECT_FALSE(parse_timestamp_ms("2026-11-01T10:00:00Zjunk"));
}

TEST(DetectFormatTest, ByExtensionAndHeader) {
  EXPECT_EQ(*detect_format(test_data("homedepot_small.csv"), RecordKind::kJudgments, {}), Format::kHomeDepot);
  EXPECT_EQ(*detect_format(test_data("crowdflower_small.csv"), RecordKind::kJudgments, {}), Format::kCrowdFlower);
  EXPECT_EQ(*detect_format(test_data("esci_products_small.csv"), RecordKind::kProducts, {}), Format::kEsciProducts);
  EXPECT_EQ(*detect_format(test_data("catalog_small.jsonl"), RecordKind::kProducts, {}), Format::kCatalogJsonl);
  EXPECT_EQ(*detect_format(test_data("events_small.jsonl"), RecordKind::kEvents, {}), Format::kEventsJsonl);
  Result<Format> unknown = detect_format(test_data("homedepot_small.csv"), RecordKind::kProducts, {});
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_NE(unknown.status().message().find("--format"), std::string::npos);
  EXPECT_EQ(detect_format("/nonexistent.csv", RecordKind::kProducts, {}).status().code(), StatusCode::kNotFound);
}

TEST(FormatTest, NamesRoundTrip) {
  for (Format format : {Format::kCatalogJsonl, Format::kCatalogCsv, Format::kEsciProducts, Format::kEsciExamples,
                        Format::kHomeDepot, Format::kCrowdFlower, Format::kJudgmentsCsv,
                        Format::kJudgmentsJsonl, Format::kEventsJsonl}) {
    EXPECT_EQ(*parse_format(format_name(format)), format);
  }
  EXPECT_FALSE(parse_format("parquet").is_ok());
}

}  // namespace
}  // namespace aisle::io
