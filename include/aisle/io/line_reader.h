// LineReader: streams the physical lines of a ByteSource with their 1-based numbers.
//
// Lines end at "\n"; a trailing "\r" is dropped, as is a UTF-8 byte order mark at the start.
// Latin-1 input is transcoded to UTF-8 here; UTF-8 validation is left to the record readers,
// which know the field a bad byte belongs to. Memory: one buffer plus the longest line.
// Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "aisle/core/status.h"
#include "aisle/io/byte_source.h"
#include "aisle/io/text_options.h"

namespace aisle::io {

class LineReader {
 public:
  LineReader(std::unique_ptr<ByteSource> source, TextOptions options);

  // Reads the next line into *line (valid until the next call). Returns true, false at the
  // end of input, kBadInput for a line over max_line_bytes (the line is skipped, so the next
  // call reads the line after it), or kIoError.
  Result<bool> next(std::string_view* line);

  // Number of the line last returned (or failed); 0 before the first.
  std::uint64_t line_number() const { return line_number_; }
  // Bytes consumed from the source so far, for progress.
  std::uint64_t bytes_read() const { return bytes_read_; }
  const std::string& name() const { return source_->name(); }
  std::optional<std::uint64_t> size() const { return source_->size(); }
  const TextOptions& options() const { return options_; }

 private:
  Result<bool> fill();

  std::unique_ptr<ByteSource> source_;
  TextOptions options_;
  std::string buffer_;
  std::size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  std::size_t end_ = 0;
  bool eof_ = false;
  bool at_start_ = true;
  std::string line_;        // a line assembled across buffer refills
  std::string transcoded_;  // Latin-1 lines as UTF-8
  std::uint64_t line_number_ = 0;
  std::uint64_t bytes_read_ = 0;
};

}  // namespace aisle::io
