#include "jsonl.h"

#include <cmath>

#include <fmt/format.h>

#include "aisle/core/errors.h"
#include "aisle/io/utf8.h"

namespace aisle::io {

namespace {

struct LineScan {
  int max_depth = 0;
  std::string key_at_offset;  // the top-level key whose value holds `offset`
};

// One pass over a JSON text outside of strings: nesting depth and, for error messages, the
// top-level key whose value contains byte `offset`.
LineScan scan_json(std::string_view text, std::size_t offset) {
  LineScan scan;
  int depth = 0;
  bool in_string = false;
  std::size_t string_start = 0;
  std::string_view last_string;
  std::string_view current_key;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == offset) scan.key_at_offset = std::string(current_key);
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
        if (i == offset) scan.key_at_offset = std::string(current_key);
      } else if (c == '"') {
        in_string = false;
        last_string = text.substr(string_start, i - string_start);
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        string_start = i + 1;
        break;
      case ':':
        if (depth == 1) current_key = last_string;
        break;
      case '{':
      case '[':
        scan.max_depth = std::max(scan.max_depth, ++depth);
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return scan;
}

std::string_view json_type_name(const nlohmann::json& value) {
  if (value.is_string()) return "a string";
  if (value.is_number()) return "a number";
  if (value.is_boolean()) return "a boolean";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

std::string excerpt(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return fmt::format("{} {}", json_type_name(value), errors::quote(text, 40));
}

}  // namespace

JsonlObjectReader::JsonlObjectReader(std::unique_ptr<ByteSource> source,
                                     const TextOptions& options)
    : lines_(std::move(source), options) {}

Result<bool> JsonlObjectReader::next(nlohmann::json* object, std::uint64_t* line_number) {
  std::string_view line;
  do {
    AISLE_ASSIGN_OR_RETURN(bool more, lines_.next(&line));
    if (!more) return false;
  } while (line.find_first_not_of(" \t") == std::string_view::npos);
  *line_number = lines_.line_number();
  Where where{lines_.name(), *line_number};

  if (auto problem = find_invalid_utf8(line)) {
    if (lines_.options().invalid_utf8 == InvalidUtf8::kError) {
      where.field = scan_json(line, problem->offset).key_at_offset;
      return Status::bad_input(
          fmt::format("invalid UTF-8 at byte {} of the line: {} (--encoding latin-1 reads "
                      "Latin-1 files; --invalid-utf8 replace substitutes U+FFFD)",
                      problem->offset + 1, problem->reason),
          where);
    }
    repaired_.clear();
    utf8_replacements_ += append_replacing_invalid_utf8(line, &repaired_);
    line = repaired_;
  }
  if (scan_json(line, std::string_view::npos).max_depth > kMaxDepth) {
    return Status::bad_input(
        errors::expected_found(fmt::format("JSON nested at most {} levels deep", kMaxDepth),
                               "deeper nesting"),
        where);
  }
  // nlohmann reports some failures (number overflow) by exception even when asked not to,
  // so parse with exceptions and turn every one into this line's error.
  try {
    *object = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception& error) {
    std::string reason = error.what();
    if (auto cut = reason.find("] "); cut != std::string::npos) reason = reason.substr(cut + 2);
    // Name the key whose value failed: parse errors carry a byte position; a number
    // overflow names the token ("number overflow parsing '1e400'").
    std::size_t offset = std::string_view::npos;
    if (const auto* parse_error = dynamic_cast<const nlohmann::json::parse_error*>(&error)) {
      if (parse_error->byte > 0) offset = parse_error->byte - 1;
    } else if (auto quote = reason.find("parsing '"); quote != std::string::npos) {
      std::string token = reason.substr(quote + 9, reason.rfind('\'') - quote - 9);
      if (!token.empty()) offset = line.find(token);
    }
    if (offset != std::string_view::npos) where.field = scan_json(line, offset).key_at_offset;
    return Status::bad_input(fmt::format("malformed JSON: {}", reason), where);
  }
  if (!object->is_object()) {
    return Status::bad_input(errors::expected_found("a JSON object", excerpt(*object)), where);
  }
  return true;
}

JsonFields::JsonFields(const nlohmann::json& object, Where where, std::size_t max_field_bytes)
    : object_(object), where_(std::move(where)), max_field_bytes_(max_field_bytes) {}

Where JsonFields::at(std::string_view key) const {
  return Where{where_.file, where_.line, std::string(key)};
}

const nlohmann::json* JsonFields::find(std::string_view key) {
  used_.emplace(key);
  auto found = object_.find(key);
  if (found == object_.end() || found->is_null()) return nullptr;
  return &*found;
}

Status JsonFields::check_size(std::string_view key, const std::string& value) const {
  if (value.size() > max_field_bytes_) {
    return Status::bad_input(
        errors::too_large("the value", value.size(), max_field_bytes_, "--max-field-bytes"),
        at(key));
  }
  return Status::ok();
}

Result<std::string> JsonFields::string(std::string_view key, bool required) {
  const nlohmann::json* value = find(key);
  std::string text;
  if (value == nullptr) {
    if (required) return Status::bad_input("missing required key", at(key));
    return text;
  }
  if (value->is_string()) {
    text = value->get<std::string>();
  } else if (value->is_number_integer() || value->is_number_unsigned()) {
    text = value->dump();
  } else {
    return Status::bad_input(errors::expected_found("a string", excerpt(*value)), at(key));
  }
  AISLE_RETURN_IF_ERROR(check_size(key, text));
  if (required && text.find_first_not_of(" \t") == std::string::npos) {
    return Status::bad_input(errors::expected_found("a non-empty string", "an empty one"), at(key));
  }
  return text;
}

Result<std::optional<double>> JsonFields::number(std::string_view key) {
  const nlohmann::json* value = find(key);
  if (value == nullptr) return std::optional<double>();
  double number;
  if (value->is_number()) {
    number = value->get<double>();
  } else if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    char* end = nullptr;
    number = std::strtod(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size()) {
      return Status::bad_input(errors::expected_found("a number", excerpt(*value)), at(key));
    }
  } else {
    return Status::bad_input(errors::expected_found("a number", excerpt(*value)), at(key));
  }
  if (!std::isfinite(number)) {
    return Status::bad_input(errors::expected_found("a finite number", excerpt(*value)), at(key));
  }
  return std::optional<double>(number);
}

Result<std::vector<std::string>> JsonFields::string_list(std::string_view key, char separator) {
  const nlohmann::json* value = find(key);
  std::vector<std::string> items;
  if (value == nullptr) return items;
  if (value->is_string()) {
    const std::string& text = value->get_ref<const std::string&>();
    AISLE_RETURN_IF_ERROR(check_size(key, text));
    if (separator != '\0') return split_trimmed(text, separator);
    if (!text.empty()) items.push_back(text);
    return items;
  }
  if (!value->is_array()) {
    return Status::bad_input(errors::expected_found("a string or an array of strings", excerpt(*value)),
                             at(key));
  }
  std::size_t total = 0;
  for (const auto& item : *value) {
    if (!item.is_string()) {
      return Status::bad_input(
          errors::expected_found("an array of strings", fmt::format("an item that is {}", excerpt(item))),
          at(key));
    }
    items.push_back(item.get<std::string>());
    total += items.back().size();
    if (total > max_field_bytes_) {
      return Status::bad_input(errors::too_large("the list", total, max_field_bytes_, "--max-field-bytes"),
                               at(key));
    }
  }
  return items;
}

Result<std::vector<std::pair<std::string, std::string>>> JsonFields::string_map(std::string_view key) {
  const nlohmann::json* value = find(key);
  std::vector<std::pair<std::string, std::string>> pairs;
  if (value == nullptr) return pairs;
  if (!value->is_object()) {
    return Status::bad_input(errors::expected_found("an object", excerpt(*value)), at(key));
  }
  auto scalar = [](const nlohmann::json& item, std::string* out) {
    if (item.is_string()) *out = item.get<std::string>();
    else if (item.is_number() || item.is_boolean()) *out = item.dump();
    else return false;
    return true;
  };
  std::size_t total = 0;
  for (const auto& [name, item] : value->items()) {
    std::string text;
    if (item.is_array()) {
      for (const auto& element : item) {
        std::string part;
        if (!scalar(element, &part)) {
          return Status::bad_input(errors::expected_found("scalar values", excerpt(element)),
                                   at(fmt::format("{}.{}", key, name)));
        }
        if (!text.empty()) text += ", ";
        text += part;
      }
    } else if (!scalar(item, &text)) {
      return Status::bad_input(errors::expected_found("a string, number, boolean or array", excerpt(item)),
                               at(fmt::format("{}.{}", key, name)));
    }
    total += name.size() + text.size();
    if (total > max_field_bytes_) {
      return Status::bad_input(errors::too_large("the object", total, max_field_bytes_, "--max-field-bytes"),
                               at(key));
    }
    pairs.emplace_back(name, std::move(text));
  }
  return pairs;
}

Status JsonFields::check_unknown(bool allow) const {
  if (allow) return Status::ok();
  for (const auto& [key, value] : object_.items()) {
    if (used_.find(key) == used_.end()) {
      std::string shown = errors::quote(key, 40);  // printable, without the quotes
      return Status::bad_input(
          fmt::format("unknown key (known: {}; --allow-unknown-fields ignores it)",
                      fmt::join(used_, ", ")),
          at(shown.substr(1, shown.size() - 2)));
    }
  }
  return Status::ok();
}

std::vector<std::string> split_trimmed(std::string_view text, char separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    std::size_t first = part.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos) {
      std::size_t last = part.find_last_not_of(" \t\r\n");
      parts.emplace_back(part.substr(first, last - first + 1));
    }
    start = end + 1;
  }
  return parts;
}

}  // namespace aisle::io
