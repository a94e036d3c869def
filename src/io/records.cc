#include "aisle/io/records.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

namespace aisle::io {

namespace {
std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}
}  // namespace

std::optional<EsciLabel> parse_esci_label(std::string_view text) {
  std::string name = lower(text);
  if (name == "e" || name == "exact") return EsciLabel::kExact;
  if (name == "s" || name == "substitute") return EsciLabel::kSubstitute;
  if (name == "c" || name == "complement") return EsciLabel::kComplement;
  if (name == "i" || name == "irrelevant") return EsciLabel::kIrrelevant;
  return std::nullopt;
}

char esci_label_letter(EsciLabel label) {
  switch (label) {
    case EsciLabel::kExact: return 'E';
    case EsciLabel::kSubstitute: return 'S';
    case EsciLabel::kComplement: return 'C';
    case EsciLabel::kIrrelevant: return 'I';
  }
  return '?';
}

double esci_gain(EsciLabel label) {
  switch (label) {
    case EsciLabel::kExact: return 1.0;
    case EsciLabel::kSubstitute: return 0.1;
    case EsciLabel::kComplement: return 0.01;
    case EsciLabel::kIrrelevant: return 0.0;
  }
  return 0.0;
}

std::optional<EventType> parse_event_type(std::string_view text) {
  std::string name = lower(text);
  if (name == "impression") return EventType::kImpression;
  if (name == "click") return EventType::kClick;
  if (name == "add_to_cart") return EventType::kAddToCart;
  if (name == "purchase") return EventType::kPurchase;
  return std::nullopt;
}

std::string_view event_type_name(EventType type) {
  switch (type) {
    case EventType::kImpression: return "impression";
    case EventType::kClick: return "click";
    case EventType::kAddToCart: return "add_to_cart";
    case EventType::kPurchase: return "purchase";
  }
  return "?";
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
// Low-Level Date Algorithms", days_from_civil).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

bool read_digits(std::string_view text, std::size_t* pos, std::size_t count, int* value) {
  if (*pos + count > text.size()) return false;
  int result = 0;
  for (std::size_t k = 0; k < count; ++k) {
    char c = text[*pos + k];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *pos += count;
  *value = result;
  return true;
}
}  // namespace

std::int64_t latest_event_ts_ms() {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
  return now.count() + kMaxEventFutureMs;
}

std::optional<std::int64_t> parse_timestamp_ms(std::string_view text) {
  std::size_t pos = 0;
  int year, month, day, hour, minute, second;
  auto expect = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  if (!read_digits(text, &pos, 4, &year) || !expect('-') || !read_digits(text, &pos, 2, &month) ||
      !expect('-') || !read_digits(text, &pos, 2, &day)) {
    return std::nullopt;
  }
  if (!(expect('T') || expect(' '))) return std::nullopt;
  if (!read_digits(text, &pos, 2, &hour) || !expect(':') || !read_digits(text, &pos, 2, &minute) ||
      !expect(':') || !read_digits(text, &pos, 2, &second)) {
    return std::nullopt;
  }
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDaysInMonth[month - 1] || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && day == 29 && !leap) return std::nullopt;
  int millis = 0;
  if (expect('.')) {
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) millis *= 10;
  }
  int offset_minutes = 0;
  if (expect('Z') || expect('z')) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int offset_hour, offset_minute;
    if (!read_digits(text, &pos, 2, &offset_hour) || !expect(':') ||
        !read_digits(text, &pos, 2, &offset_minute) || offset_hour > 23 || offset_minute > 59) {
      return std::nullopt;
    }
    offset_minutes = sign * (offset_hour * 60 + offset_minute);
  }
  if (pos != text.size()) return std::nullopt;
  std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return seconds * 1000 + millis;
}

}  // namespace aisle::io
