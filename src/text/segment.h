// A segment: an immutable inverted index over a contiguous range of documents, in the byte
// layout of its file (docs/formats.md, "Index segment"), so the same code reads a segment
// built in memory and one mapped from disk.
//
// Layout: SegmentHeader | TermEntry[num_terms] (sorted by term) | term bytes |
//         BlockEntry[num_blocks] | postings (per block: stream-vbyte delta-coded doc numbers,
//         then `count` impact bytes, then `count` field-mask bytes) | forward section (version
//         2) | 16 bytes of padding.
// Document numbers inside a segment are local (0 .. num_docs-1).
//
// The forward section (version 2; a version 1 segment has none and still loads): at
// forward_offset (4-aligned), uint32 offsets[num_docs + 1] into the forward bytes that follow;
// a document's bytes are its analyzed occurrences in field order, then text order, each a
// LEB128 varint of (term number * 8 + field); a document with offsets[d] == offsets[d + 1]
// has no entry. The section ends with the uint64 forward_offset itself, just before the
// padding. It lets InvertedIndex::match read a candidate's analyzed fields instead of
// analyzing its text again per query.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "aisle/core/status.h"
#include "file_util.h"

namespace aisle::text {

inline constexpr std::uint32_t kBlockSize = 128;
inline constexpr std::uint32_t kEndOfList = 0xffffffffu;

struct SegmentHeader {
  char magic[8];  // "AISLESEG"
  std::uint32_t version;
  std::uint32_t num_docs;
  std::uint32_t num_terms;
  std::uint32_t reserved;
  std::uint64_t num_postings;
  std::uint64_t num_blocks;
  std::uint64_t terms_offset;
  std::uint64_t strings_offset;
  std::uint64_t blocks_offset;
  std::uint64_t postings_offset;
  std::uint64_t total_bytes;
  std::uint64_t checksum;  // checksum64 of every byte after the header
};
static_assert(sizeof(SegmentHeader) == 88);

struct TermEntry {
  std::uint64_t string_offset;  // relative to strings_offset
  std::uint32_t string_length;
  std::uint32_t df;
  std::uint32_t first_block;
  std::uint32_t num_blocks;
  std::uint8_t max_impact;
  std::uint8_t padding[7];
};
static_assert(sizeof(TermEntry) == 32);

struct BlockEntry {
  std::uint32_t last_doc;
  std::uint32_t data_offset;  // relative to postings_offset
  std::uint16_t encoded_bytes;
  std::uint8_t count_minus_one;
  std::uint8_t max_impact;
};
static_assert(sizeof(BlockEntry) == 12);

class Segment {
 public:
  // Checks and wraps a segment's bytes. kCorruption naming `name` when the magic, version,
  // sizes, offsets or checksum are wrong.
  static Result<std::unique_ptr<Segment>> load(std::shared_ptr<const Bytes> bytes, const std::string& name);

  std::uint32_t num_docs() const { return header_->num_docs; }
  std::uint32_t num_terms() const { return header_->num_terms; }
  std::uint64_t num_postings() const { return header_->num_postings; }
  std::uint64_t postings_bytes() const;
  std::uint64_t total_bytes() const { return header_->total_bytes; }
  std::span<const std::uint8_t> bytes() const { return bytes_->data(); }

  const TermEntry& term(std::uint32_t index) const { return terms_[index]; }
  std::string_view term_string(std::uint32_t index) const;
  // The entry of `term`, or nullptr (binary search over the sorted terms).
  const TermEntry* find(std::string_view term) const;

  const BlockEntry* blocks() const { return blocks_; }
  const std::uint8_t* postings() const { return postings_; }

  // The term number (index into term()) of an entry find() returned.
  std::uint32_t term_number(const TermEntry* entry) const { return static_cast<std::uint32_t>(entry - terms_); }
  // Whether document `doc` has a forward entry.
  bool has_forward(std::uint32_t doc) const {
    return forward_offsets_ != nullptr && forward_offsets_[doc] != forward_offsets_[doc + 1];
  }
  // Calls visit(field, term number) for each analyzed occurrence of document `doc`, in field
  // then text order (checked at load: every entry decodes and names a term of this segment).
  template <typename Visit>
  void forward(std::uint32_t doc, Visit&& visit) const {
    const std::uint8_t* at = forward_bytes_ + forward_offsets_[doc];
    const std::uint8_t* end = forward_bytes_ + forward_offsets_[doc + 1];
    while (at < end) {
      std::uint32_t value = 0;
      for (int shift = 0;; shift += 7) {
        const std::uint8_t byte = *at++;
        value |= std::uint32_t{byte & 0x7fu} << shift;
        if ((byte & 0x80u) == 0) break;
      }
      visit(static_cast<int>(value & 7u), value >> 3);
    }
  }

 private:
  Segment() = default;
  std::shared_ptr<const Bytes> bytes_;
  const SegmentHeader* header_ = nullptr;
  const TermEntry* terms_ = nullptr;
  const char* strings_ = nullptr;
  const BlockEntry* blocks_ = nullptr;
  const std::uint8_t* postings_ = nullptr;
  const std::uint32_t* forward_offsets_ = nullptr;  // null: no forward section
  const std::uint8_t* forward_bytes_ = nullptr;
  std::uint64_t postings_end_ = 0;  // where the postings (and block data) end
};

// Collects postings (term, local doc, impact, field mask) and lays out a segment. Postings of
// one term must be added in increasing document order.
class SegmentBuilder {
 public:
  std::uint32_t term_id(const std::string& term);
  std::uint32_t term_id(std::string_view term);
  void add(std::uint32_t term, std::uint32_t doc, std::uint8_t impact, std::uint8_t field_mask);
  // The forward entry of document `doc`: its occurrences (term id * 8 + field, field < 8) in
  // field then text order. Documents in increasing order; one without a call has no entry.
  void add_forward(std::uint32_t doc, std::span<const std::uint32_t> occurrences);
  // The segment's bytes for `num_docs` documents.
  std::vector<std::uint8_t> finish(std::uint32_t num_docs);

 private:
  struct Posting {
    std::uint32_t term;
    std::uint32_t doc;
    std::uint8_t impact;
    std::uint8_t field_mask;
  };
  std::unordered_map<std::string, std::uint32_t> ids_;
  std::vector<std::string> strings_;
  std::vector<Posting> postings_;
  std::vector<std::uint32_t> forward_docs_;
  std::vector<std::size_t> forward_starts_;  // into forward_ids_, one past forward_docs_
  std::vector<std::uint32_t> forward_ids_;
};

// Iterates one term's postings in a segment, block by block (decoding one block at a time),
// with the shallow block moves block-max WAND needs.
class PostingCursor {
 public:
  PostingCursor(const Segment& segment, const TermEntry& term);

  std::uint32_t doc() const { return doc_; }
  std::uint8_t impact() const { return impacts_[position_]; }
  std::uint8_t field_mask() const { return masks_[position_]; }
  std::uint8_t max_impact() const { return max_impact_; }

  void next();
  // Moves to the first posting with doc >= target (kEndOfList when none).
  void next_geq(std::uint32_t target);
  // Moves the shallow block pointer to the block that would hold `target` without decoding.
  void shallow(std::uint32_t target);
  std::uint8_t shallow_block_max() const;
  // The last document of the shallow block (kEndOfList past the end).
  std::uint32_t shallow_block_last() const;

 private:
  void decode(std::uint32_t block);

  const BlockEntry* blocks_;
  const std::uint8_t* postings_;
  std::uint32_t num_blocks_;
  std::uint8_t max_impact_;
  std::uint32_t block_ = 0;    // decoded block
  std::uint32_t shallow_ = 0;  // block for block-max bounds
  std::uint32_t position_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t doc_ = kEndOfList;
  const std::uint8_t* impacts_ = nullptr;
  const std::uint8_t* masks_ = nullptr;
  std::uint32_t docs_[kBlockSize];
};

}  // namespace aisle::text
