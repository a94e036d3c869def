#include "aisle/io/line_reader.h"

#include <cstring>

#include "aisle/core/errors.h"
#include "aisle/io/utf8.h"

namespace aisle::io {

namespace {
constexpr std::size_t kBufferBytes = std::size_t{1} << 18;
}

LineReader::LineReader(std::unique_ptr<ByteSource> source, TextOptions options)
    : source_(std::move(source)), options_(options), buffer_(kBufferBytes, '\0') {}

Result<bool> LineReader::fill() {
  AISLE_ASSIGN_OR_RETURN(std::size_t count, source_->read(buffer_.data(), buffer_.size()));
  begin_ = 0;
  end_ = count;
  bytes_read_ += count;
  if (count == 0) eof_ = true;
  if (at_start_ && count > 0) {
    at_start_ = false;
    if (options_.encoding == Encoding::kUtf8 && count >= 3 &&
        std::memcmp(buffer_.data(), "\xEF\xBB\xBF", 3) == 0) {
      begin_ = 3;
    }
  }
  return count > 0;
}

Result<bool> LineReader::next(std::string_view* line) {
  line_.clear();
  bool have_bytes = false;  // true once any byte of this line was seen
  bool too_long = false;
  std::size_t length = 0;  // bytes of this line, counted even when it is too long to keep
  std::string_view result;
  while (true) {
    if (begin_ == end_) {
      if (eof_) break;
      AISLE_ASSIGN_OR_RETURN(bool more, fill());
      if (!more) break;
    }
    const char* start = buffer_.data() + begin_;
    const char* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    std::size_t take = newline ? static_cast<std::size_t>(newline - start) : end_ - begin_;
    have_bytes = true;
    length += take;
    if (!too_long) {
      if (line_.size() + take > options_.max_line_bytes) {
        too_long = true;  // keep consuming up to the newline, storing nothing
        line_.clear();
      } else if (newline && line_.empty()) {
        result = std::string_view(start, take);  // the common case: no copy
      } else {
        line_.append(start, take);
      }
    }
    begin_ += take + (newline ? 1 : 0);
    if (newline) {
      if (result.data() == nullptr) result = line_;
      break;
    }
  }
  if (!have_bytes) return false;
  ++line_number_;
  if (too_long) {
    return Status::bad_input(
        errors::too_large("the line", length, options_.max_line_bytes, "--max-line-bytes"),
        {source_->name(), line_number_});
  }
  if (result.data() == nullptr) result = line_;
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  if (options_.encoding == Encoding::kLatin1) {
    transcoded_.clear();
    append_latin1_as_utf8(result, &transcoded_);
    result = transcoded_;
  }
  *line = result;
  return true;
}

}  // namespace aisle::io
