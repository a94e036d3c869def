// Document: a product listing as the text index sees it. Plain values; the retrieve
// subsystem converts stored products into Documents.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aisle/core/ids.h"

namespace aisle::text {

// The indexed fields. Category is the path joined by spaces; bullets are joined; attributes
// index "name value" for every pair.
enum class Field : std::uint8_t {
  kTitle,
  kBrand,
  kColor,
  kCategory,
  kDescription,
  kBullets,
  kAttributes,
};
inline constexpr int kNumFields = 7;

std::string_view field_name(Field field);
// "title", "brand", ...; nullopt for another name.
std::optional<Field> parse_field(std::string_view name);

struct Document {
  ProductId product;        // the store's id; unique within an index
  std::string external_id;  // shown in results
  std::string locale;       // a Locale code; chooses the analyzer
  std::string title;
  std::string brand;
  std::string color;
  std::vector<std::string> category;  // path from the root
  std::string description;
  std::vector<std::string> bullets;
  std::vector<std::pair<std::string, std::string>> attributes;
  std::optional<double> price;       // filters and facets; absent: matches no price filter
  std::optional<double> popularity;  // the prior; absent counts as 0
  // The caller's version of the content (a hash): kept per document so that an updater can
  // tell which documents changed (InvertedIndex::version).
  std::uint64_t version = 0;
};

// "Shoes > Running": the display form of a category path.
std::string category_path_string(const std::vector<std::string>& path);

}  // namespace aisle::text
