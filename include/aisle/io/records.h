// The records the readers produce: products, judgments and feedback events.
// Plain values; every record remembers where it was read (file and line) for error messages.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "aisle/core/locale.h"
#include "aisle/core/status.h"

namespace aisle::io {

// One product listing in one locale. `id` is the external id from the input (an ASIN, a
// product_uid); (locale, id) identifies a listing. Listings of the same product in several
// locales share a `group`.
struct ProductRecord {
  std::string id;
  std::string locale;  // a Locale code
  std::string title;
  std::string description;
  std::vector<std::string> bullets;
  std::string brand;
  std::string color;
  std::vector<std::string> category;  // path from the root: {"Shoes", "Running"}
  std::vector<std::pair<std::string, std::string>> attributes;  // name -> value, input order
  std::optional<double> price;       // >= 0, finite, in the listing's currency
  std::optional<double> popularity;  // >= 0, finite; larger is more popular
  std::string group;
  std::string image;  // an http(s) URL of the product's picture, or empty
  Where where;
};

// ESCI relevance classes (Reddy et al. 2022, "Shopping Queries Dataset").
enum class EsciLabel { kExact, kSubstitute, kComplement, kIrrelevant };

// "E", "S", "C", "I" (also "exact", "substitute", ...), case-insensitive.
std::optional<EsciLabel> parse_esci_label(std::string_view text);
char esci_label_letter(EsciLabel label);
// The gain the ESCI paper uses for nDCG: E 1.0, S 0.1, C 0.01, I 0.0.
double esci_gain(EsciLabel label);

// A (query, product) relevance judgment. `grade` is on the input's own scale (Home Depot
// 1-3, CrowdFlower 1-4); for ESCI labels it is esci_gain(label). When the input row also
// describes the product (Home Depot, CrowdFlower), `product` holds it.
struct JudgmentRecord {
  std::string query;
  std::string query_id;  // external query id when the input has one, else empty
  std::string locale;
  std::string product_id;
  std::optional<EsciLabel> label;
  double grade = 0.0;
  std::string split;  // "train", "test", ... or empty
  std::optional<ProductRecord> product;
  Where where;
};

enum class EventType { kImpression, kClick, kAddToCart, kPurchase };
std::optional<EventType> parse_event_type(std::string_view text);
std::string_view event_type_name(EventType type);

// One feedback event from a search session.
struct EventRecord {
  std::int64_t ts_ms = 0;  // Unix time in milliseconds, UTC
  std::string session;
  std::string query;
  std::string locale;
  std::string product_id;
  EventType type = EventType::kImpression;
  std::optional<std::int32_t> position;  // 1-based rank at which the product was shown
  Where where;
};

// Events may be at most this far after the reading machine's clock (clock skew); later ones are
// refused by every reader (a far-future time would outweigh every real event in the decayed
// memory index). Earlier times are fine: logs are replayed.
inline constexpr std::int64_t kMaxEventFutureMs = 24LL * 3600 * 1000;
// The latest event time accepted now: the clock plus kMaxEventFutureMs.
std::int64_t latest_event_ts_ms();

// Parses an ISO-8601 UTC or offset timestamp ("2026-11-01T10:00:00Z",
// "2026-11-01T10:00:00.250+01:00", "2026-11-01 10:00:00" taken as UTC) to Unix ms.
std::optional<std::int64_t> parse_timestamp_ms(std::string_view text);

}  // namespace aisle::io
