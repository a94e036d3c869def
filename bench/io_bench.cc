// io micro-benchmarks (Google Benchmark). Workloads, all on data generated in memory, so
// they run without ../shared/data:
//   BM_Utf8Validate/ascii, BM_Utf8Validate/mixed   find_invalid_utf8 over 1 MiB
//   BM_CsvRecords                                  CsvReader over a Home Depot-shaped CSV (20k rows)
//   BM_HomeDepotJudgments                          the homedepot judgment reader over the same CSV
//   BM_CatalogJsonl                                the catalog JSONL reader over 20k products
// Run: build/bench/io_bench   (make bench runs it with the ingest benchmark)
#include <benchmark/benchmark.h>

#include <string>

#include "aisle/io/csv_reader.h"
#include "aisle/io/readers.h"
#include "aisle/io/utf8.h"

namespace {

using namespace aisle::io;

std::string homedepot_csv(int rows) {
  std::string text = "id,product_uid,product_title,search_term,relevance\n";
  for (int i = 0; i < rows; ++i) {
    text += std::to_string(i) + "," + std::to_string(100000 + i / 3) +
            ",\"BEHR Premium Textured DeckOver 1-gal. #SC-141 Tugboat, Wood and Concrete Coating " +
            std::to_string(i) + "\",deck over " + std::to_string(i % 50) + "," + (i % 2 ? "2.33" : "3") + "\n";
  }
  return text;
}

std::string catalog_jsonl(int rows) {
  std::string text;
  for (int i = 0; i < rows; ++i) {
    text += "{\"id\": \"P" + std::to_string(i) +
            "\", \"locale\": \"en\", \"title\": \"Nimbus Pro Running Shoes - Red " + std::to_string(i) +
            "\", \"description\": \"Light and fast shoes with a breathable mesh upper.\", \"bullets\": "
            "[\"mesh upper\", \"foam sole\"], \"brand\": \"Nimbus\", \"color\": \"red\", \"category\": "
            "\"Shoes > Running\", \"attributes\": {\"size\": \"9\"}, \"price\": 89.5, \"popularity\": 12}\n";
  }
  return text;
}

void BM_Utf8Validate(benchmark::State& state) {
  std::string text;
  while (text.size() < (1 << 20)) text += state.range(0) ? "caf\xC3\xA9 \xE3\x83\xA8 running shoes " : "running shoes, red ";
  for (auto _ : state) benchmark::DoNotOptimize(find_invalid_utf8(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Utf8Validate)->Arg(0)->Arg(1)->ArgNames({"mixed"});

void BM_CsvRecords(benchmark::State& state) {
  const std::string text = homedepot_csv(20000);
  for (auto _ : state) {
    auto csv = std::move(CsvReader::open(memory_source("bench.csv", text), {})).value();
    CsvRecord record;
    std::int64_t rows = 0;
    while (*csv->next(&record)) ++rows;
    benchmark::DoNotOptimize(rows);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(state.iterations() * 20000);
}
BENCHMARK(BM_CsvRecords)->Unit(benchmark::kMillisecond);

void BM_HomeDepotJudgments(benchmark::State& state) {
  const std::string text = homedepot_csv(20000);
  ReaderOptions options;
  options.format = Format::kHomeDepot;
  for (auto _ : state) {
    auto reader = std::move(open_judgment_reader(memory_source("bench.csv", text), options)).value();
    JudgmentRecord record;
    while (*reader->next(&record)) benchmark::DoNotOptimize(record.grade);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(state.iterations() * 20000);
}
BENCHMARK(BM_HomeDepotJudgments)->Unit(benchmark::kMillisecond);

void BM_CatalogJsonl(benchmark::State& state) {
  const std::string text = catalog_jsonl(20000);
  ReaderOptions options;
  options.format = Format::kCatalogJsonl;
  for (auto _ : state) {
    auto reader = std::move(open_product_reader(memory_source("bench.jsonl", text), options)).value();
    ProductRecord record;
    while (*reader->next(&record)) benchmark::DoNotOptimize(record.price);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(state.iterations() * 20000);
}
BENCHMARK(BM_CatalogJsonl)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
