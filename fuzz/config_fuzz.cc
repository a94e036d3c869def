// libFuzzer target for the settings file (aisle.toml): any bytes give a DataConfig or a
// kBadInput naming the file, never a crash or a sanitizer report; a config that parses compiles
// its synonyms (analyzed with the default analyzers) without crashing either, and maps to index
// options.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "aisle/core/config.h"
#include "aisle/text/inverted_index.h"
#include "aisle/text/synonyms.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aisle;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<DataConfig> config = parse_config(text, "aisle.toml");
  if (!config.is_ok()) {
    if (config.status().code() != StatusCode::kBadInput) __builtin_trap();
    return 0;
  }
  const text::IndexOptions options = text::index_options(*config);
  Result<text::Synonyms> synonyms = text::Synonyms::compile(*config, options.analyzer);
  if (!synonyms.is_ok() && synonyms.status().code() != StatusCode::kBadInput) __builtin_trap();
  return 0;
}
