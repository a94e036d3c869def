#include "aisle/text/document.h"

#include <array>

namespace aisle::text {
namespace {

constexpr std::array<std::string_view, kNumFields> kFieldNames = {
    "title", "brand", "color", "category", "description", "bullets", "attributes"};

}  // namespace

std::string_view field_name(Field field) { return kFieldNames[static_cast<std::size_t>(field)]; }

std::optional<Field> parse_field(std::string_view name) {
  for (std::size_t i = 0; i < kFieldNames.size(); ++i) {
    if (kFieldNames[i] == name) return static_cast<Field>(i);
  }
  return std::nullopt;
}

std::string category_path_string(const std::vector<std::string>& path) {
  std::string out;
  for (const std::string& part : path) {
    if (!out.empty()) out += " > ";
    out += part;
  }
  return out;
}

}  // namespace aisle::text
