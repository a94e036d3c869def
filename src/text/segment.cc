#include "segment.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <streamvbyte.h>
#include <streamvbytedelta.h>

#include "aisle/core/check.h"

namespace aisle::text {
namespace {

constexpr char kMagic[8] = {'A', 'I', 'S', 'L', 'E', 'S', 'E', 'G'};
constexpr std::uint32_t kSegmentVersion = 2;  // 1: no forward section (still read)
constexpr std::size_t kPadding = 16;  // stream-vbyte's vector decoder may read past the end

template <typename T>
void append(std::vector<std::uint8_t>* out, const T& value) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(&value);
  out->insert(out->end(), bytes, bytes + sizeof(T));
}

}  // namespace

Result<std::unique_ptr<Segment>> Segment::load(std::shared_ptr<const Bytes> bytes, const std::string& name) {
  std::span<const std::uint8_t> data = bytes->data();
  auto corrupt = [&](const std::string& what) {
    return Status::corruption("index segment " + name + ": " + what);
  };
  if (data.size() < sizeof(SegmentHeader)) return corrupt("shorter than its header");
  if (reinterpret_cast<std::uintptr_t>(data.data()) % alignof(SegmentHeader) != 0) {
    return corrupt("misaligned buffer");
  }
  const auto* header = reinterpret_cast<const SegmentHeader*>(data.data());
  if (std::memcmp(header->magic, kMagic, sizeof(kMagic)) != 0) return corrupt("not an Aisle segment (bad magic)");
  if (header->version != 1 && header->version != kSegmentVersion) {
    return corrupt("format version " + std::to_string(header->version) + ", expected 1 or " +
                   std::to_string(kSegmentVersion));
  }
  if (header->total_bytes != data.size()) {
    return corrupt("size " + std::to_string(data.size()) + " bytes, header says " +
                   std::to_string(header->total_bytes) + " (truncated?)");
  }
  const std::uint64_t size = data.size();
  if (header->terms_offset + std::uint64_t{header->num_terms} * sizeof(TermEntry) > header->strings_offset ||
      header->strings_offset > header->blocks_offset ||
      header->blocks_offset + header->num_blocks * sizeof(BlockEntry) > header->postings_offset ||
      header->postings_offset + kPadding > size || header->terms_offset % 8 != 0 ||
      header->blocks_offset % 4 != 0) {
    return corrupt("section offsets out of bounds");
  }
  if (checksum64(data.subspan(sizeof(SegmentHeader))) != header->checksum) return corrupt("checksum mismatch");
  auto segment = std::unique_ptr<Segment>(new Segment());
  segment->header_ = header;
  segment->terms_ = reinterpret_cast<const TermEntry*>(data.data() + header->terms_offset);
  segment->strings_ = reinterpret_cast<const char*>(data.data() + header->strings_offset);
  segment->blocks_ = reinterpret_cast<const BlockEntry*>(data.data() + header->blocks_offset);
  segment->postings_ = data.data() + header->postings_offset;
  // Every term and block must point inside the file: checked once here so that searches never
  // read out of bounds, even on a file that was damaged but kept its checksum.
  const std::uint64_t strings_bytes = header->blocks_offset - header->strings_offset;
  std::uint64_t postings_end = size - kPadding;
  if (header->version >= 2) {
    // The forward section: its offset just before the padding, then offsets and entries.
    if (postings_end < header->postings_offset + sizeof(std::uint64_t)) return corrupt("no forward section");
    std::uint64_t forward_offset = 0;
    std::memcpy(&forward_offset, data.data() + postings_end - sizeof(std::uint64_t), sizeof(forward_offset));
    const std::uint64_t table_bytes = (std::uint64_t{header->num_docs} + 1) * sizeof(std::uint32_t);
    const std::uint64_t section_end = postings_end - sizeof(std::uint64_t);
    if (forward_offset < header->postings_offset || forward_offset % 4 != 0 ||
        forward_offset + table_bytes > section_end) {
      return corrupt("forward section out of bounds");
    }
    const auto* offsets = reinterpret_cast<const std::uint32_t*>(data.data() + forward_offset);
    const std::uint8_t* bytes_begin = data.data() + forward_offset + table_bytes;
    const std::uint64_t forward_bytes = section_end - forward_offset - table_bytes;
    for (std::uint32_t d = 0; d < header->num_docs; ++d) {
      if (offsets[d] > offsets[d + 1] || offsets[d + 1] > forward_bytes) return corrupt("forward table out of bounds");
      for (std::uint64_t at = offsets[d]; at < offsets[d + 1];) {
        std::uint64_t value = 0;
        int shift = 0;
        for (;; shift += 7) {
          if (at >= offsets[d + 1] || shift > 28) return corrupt("forward entry of document " + std::to_string(d) + " is damaged");
          const std::uint8_t byte = bytes_begin[at++];
          value |= std::uint64_t{byte & 0x7fu} << shift;
          if ((byte & 0x80u) == 0) break;
        }
        if ((value >> 3) >= header->num_terms) return corrupt("forward entry of document " + std::to_string(d) + " names no term");
      }
    }
    segment->forward_offsets_ = offsets;
    segment->forward_bytes_ = bytes_begin;
    postings_end = forward_offset;
  }
  segment->postings_end_ = postings_end;
  const std::uint64_t postings_bytes = postings_end - header->postings_offset;
  for (std::uint32_t i = 0; i < header->num_terms; ++i) {
    const TermEntry& term = segment->terms_[i];
    // Written so that no sum wraps around: offsets come from the file.
    if (term.string_offset > strings_bytes || term.string_length > strings_bytes - term.string_offset ||
        std::uint64_t{term.first_block} + term.num_blocks > header->num_blocks || term.num_blocks == 0) {
      return corrupt("term " + std::to_string(i) + " points outside the file");
    }
  }
  for (std::uint64_t i = 0; i < header->num_blocks; ++i) {
    const BlockEntry& block = segment->blocks_[i];
    const std::uint64_t count = std::uint64_t{block.count_minus_one} + 1;
    if (std::uint64_t{block.data_offset} + block.encoded_bytes + 2 * count > postings_bytes ||
        block.last_doc >= header->num_docs) {
      return corrupt("block " + std::to_string(i) + " points outside the file");
    }
  }
  // Every block decoded once: its document numbers must rise (from the term's previous block)
  // and end at its last_doc. Searches rely on that: they index the document table with these
  // numbers and scan a block until a target without a bound. The checksum catches damage;
  // this catches a well-formed file that lies (about the cost of the checksum pass).
  const std::uint8_t* postings = data.data() + header->postings_offset;
  std::uint32_t docs[kBlockSize];
  for (std::uint32_t i = 0; i < header->num_terms; ++i) {
    const TermEntry& term = segment->terms_[i];
    std::uint32_t previous = 0;
    for (std::uint32_t b = term.first_block; b < term.first_block + term.num_blocks; ++b) {
      const BlockEntry& block = segment->blocks_[b];
      const std::uint32_t count = std::uint32_t{block.count_minus_one} + 1;
      if (count > kBlockSize) return corrupt("block " + std::to_string(b) + " holds more than " + std::to_string(kBlockSize) + " postings");
      // The decoder trusts the control bytes (2 bits a value: its length - 1): they must
      // account for exactly the block's encoded bytes, or it reads past them.
      const std::uint8_t* control = postings + block.data_offset;
      const std::uint32_t control_bytes = (count + 3) / 4;
      std::uint64_t encoded = control_bytes;
      if (control_bytes > block.encoded_bytes) return corrupt("block " + std::to_string(b) + " is shorter than its control bytes");
      for (std::uint32_t k = 0; k < count; ++k) encoded += ((control[k / 4] >> (2 * (k % 4))) & 3) + 1;
      if (encoded != block.encoded_bytes) {
        return corrupt("the postings of block " + std::to_string(b) + " (term " + std::to_string(i) + ") are damaged");
      }
      streamvbyte_delta_decode(postings + block.data_offset, docs, count, previous);
      bool rising = b != term.first_block ? docs[0] > previous : true;
      for (std::uint32_t k = 1; k < count && rising; ++k) rising = docs[k] > docs[k - 1];
      if (!rising || docs[count - 1] != block.last_doc) {
        return corrupt("the postings of block " + std::to_string(b) + " (term " + std::to_string(i) + ") are damaged");
      }
      previous = block.last_doc;
    }
  }
  segment->bytes_ = std::move(bytes);
  return segment;
}

std::uint64_t Segment::postings_bytes() const { return postings_end_ - header_->blocks_offset; }

std::string_view Segment::term_string(std::uint32_t index) const {
  const TermEntry& entry = terms_[index];
  return {strings_ + entry.string_offset, entry.string_length};
}

const TermEntry* Segment::find(std::string_view term) const {
  std::uint32_t lo = 0;
  std::uint32_t hi = header_->num_terms;
  while (lo < hi) {
    std::uint32_t middle = lo + (hi - lo) / 2;
    if (term_string(middle) < term) {
      lo = middle + 1;
    } else {
      hi = middle;
    }
  }
  return lo < header_->num_terms && term_string(lo) == term ? &terms_[lo] : nullptr;
}

std::uint32_t SegmentBuilder::term_id(const std::string& term) {
  auto [it, inserted] = ids_.try_emplace(term, static_cast<std::uint32_t>(strings_.size()));
  if (inserted) strings_.push_back(term);
  return it->second;
}

std::uint32_t SegmentBuilder::term_id(std::string_view term) { return term_id(std::string(term)); }

void SegmentBuilder::add(std::uint32_t term, std::uint32_t doc, std::uint8_t impact, std::uint8_t field_mask) {
  postings_.push_back(Posting{term, doc, impact, field_mask});
}

void SegmentBuilder::add_forward(std::uint32_t doc, std::span<const std::uint32_t> occurrences) {
  AISLE_CHECK(forward_docs_.empty() || forward_docs_.back() < doc, "forward entries in increasing document order");
  if (forward_starts_.empty()) forward_starts_.push_back(0);
  forward_docs_.push_back(doc);
  forward_ids_.insert(forward_ids_.end(), occurrences.begin(), occurrences.end());
  forward_starts_.push_back(forward_ids_.size());
}

std::vector<std::uint8_t> SegmentBuilder::finish(std::uint32_t num_docs) {
  const auto num_terms = static_cast<std::uint32_t>(strings_.size());
  // Terms in byte order; rank[old id] is the new id.
  std::vector<std::uint32_t> order(num_terms);
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return strings_[a] < strings_[b]; });
  std::vector<std::uint32_t> rank(num_terms);
  for (std::uint32_t i = 0; i < num_terms; ++i) rank[order[i]] = i;

  // Counting sort of the postings by term; stable, so each term's documents stay ascending.
  std::vector<std::uint64_t> starts(std::size_t{num_terms} + 1, 0);
  for (const Posting& posting : postings_) ++starts[rank[posting.term] + 1];
  for (std::uint32_t i = 0; i < num_terms; ++i) starts[i + 1] += starts[i];
  std::vector<std::uint32_t> docs(postings_.size());
  std::vector<std::uint8_t> impacts(postings_.size());
  std::vector<std::uint8_t> masks(postings_.size());
  {
    std::vector<std::uint64_t> fill(starts.begin(), starts.end() - 1);
    for (const Posting& posting : postings_) {
      std::uint64_t at = fill[rank[posting.term]]++;
      docs[at] = posting.doc;
      impacts[at] = posting.impact;
      masks[at] = posting.field_mask;
    }
  }
  postings_.clear();
  postings_.shrink_to_fit();

  std::vector<TermEntry> terms;
  terms.reserve(num_terms);
  std::vector<std::uint32_t> number_of_rank(num_terms, kEndOfList);  // the written term number
  std::vector<BlockEntry> blocks;
  std::vector<std::uint8_t> data;
  std::string strings;
  std::vector<std::uint8_t> encoded(streamvbyte_max_compressedbytes(kBlockSize));
  for (std::uint32_t t = 0; t < num_terms; ++t) {
    // Terms whose every posting was dropped (a merge of deleted documents) are left out.
    if (starts[t] == starts[t + 1]) continue;
    const std::string& text = strings_[order[t]];
    number_of_rank[t] = static_cast<std::uint32_t>(terms.size());
    TermEntry& entry = terms.emplace_back();
    std::memset(&entry, 0, sizeof(entry));
    entry.string_offset = strings.size();
    entry.string_length = static_cast<std::uint32_t>(text.size());
    strings += text;
    const std::uint64_t begin = starts[t];
    const std::uint64_t end = starts[t + 1];
    entry.df = static_cast<std::uint32_t>(end - begin);
    entry.first_block = static_cast<std::uint32_t>(blocks.size());
    std::uint32_t previous = 0;
    for (std::uint64_t at = begin; at < end; at += kBlockSize) {
      const auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(kBlockSize, end - at));
      BlockEntry block{};
      block.last_doc = docs[at + count - 1];
      block.data_offset = static_cast<std::uint32_t>(data.size());
      block.count_minus_one = static_cast<std::uint8_t>(count - 1);
      std::size_t bytes = streamvbyte_delta_encode(&docs[at], count, encoded.data(), previous);
      block.encoded_bytes = static_cast<std::uint16_t>(bytes);
      data.insert(data.end(), encoded.begin(), encoded.begin() + static_cast<std::ptrdiff_t>(bytes));
      data.insert(data.end(), impacts.begin() + static_cast<std::ptrdiff_t>(at),
                  impacts.begin() + static_cast<std::ptrdiff_t>(at + count));
      data.insert(data.end(), masks.begin() + static_cast<std::ptrdiff_t>(at),
                  masks.begin() + static_cast<std::ptrdiff_t>(at + count));
      block.max_impact = *std::max_element(impacts.begin() + static_cast<std::ptrdiff_t>(at),
                                           impacts.begin() + static_cast<std::ptrdiff_t>(at + count));
      entry.max_impact = std::max(entry.max_impact, block.max_impact);
      previous = block.last_doc;
      blocks.push_back(block);
      ++entry.num_blocks;
    }
  }

  // The forward section, laid out after the postings (4-aligned).
  std::vector<std::uint32_t> forward_table(std::size_t{num_docs} + 1, 0);
  std::vector<std::uint8_t> forward;
  {
    std::size_t next = 0;  // into forward_docs_
    for (std::uint32_t d = 0; d < num_docs; ++d) {
      forward_table[d] = static_cast<std::uint32_t>(forward.size());
      if (next < forward_docs_.size() && forward_docs_[next] == d) {
        for (std::size_t i = forward_starts_[next]; i < forward_starts_[next + 1]; ++i) {
          const std::uint32_t occurrence = forward_ids_[i];
          const std::uint32_t number = number_of_rank[rank[occurrence >> 3]];
          AISLE_CHECK(number != kEndOfList, "a forward entry names a term without postings");
          std::uint32_t value = (number << 3) | (occurrence & 7u);
          while (value >= 0x80u) {
            forward.push_back(static_cast<std::uint8_t>(value | 0x80u));
            value >>= 7;
          }
          forward.push_back(static_cast<std::uint8_t>(value));
        }
        ++next;
      }
    }
    forward_table[num_docs] = static_cast<std::uint32_t>(forward.size());
    AISLE_CHECK(next == forward_docs_.size(), "a forward entry of a document past num_docs");
  }

  SegmentHeader header{};
  std::memcpy(header.magic, kMagic, sizeof(kMagic));
  header.version = kSegmentVersion;
  header.num_docs = num_docs;
  header.num_terms = static_cast<std::uint32_t>(terms.size());
  header.num_postings = docs.size();
  header.num_blocks = blocks.size();
  header.terms_offset = sizeof(SegmentHeader);
  header.strings_offset = header.terms_offset + terms.size() * sizeof(TermEntry);
  header.blocks_offset = (header.strings_offset + strings.size() + 7) / 8 * 8;
  header.postings_offset = header.blocks_offset + blocks.size() * sizeof(BlockEntry);
  const std::uint64_t forward_offset = (header.postings_offset + data.size() + 3) / 4 * 4;
  const std::uint64_t forward_end = forward_offset + forward_table.size() * sizeof(std::uint32_t) + forward.size();
  header.total_bytes = forward_end + sizeof(std::uint64_t) + kPadding;

  std::vector<std::uint8_t> out;
  out.reserve(header.total_bytes);
  append(&out, header);
  for (const TermEntry& entry : terms) append(&out, entry);
  out.insert(out.end(), strings.begin(), strings.end());
  out.resize(header.blocks_offset, 0);
  for (const BlockEntry& block : blocks) append(&out, block);
  out.insert(out.end(), data.begin(), data.end());
  out.resize(forward_offset, 0);
  for (const std::uint32_t offset : forward_table) append(&out, offset);
  out.insert(out.end(), forward.begin(), forward.end());
  append(&out, forward_offset);
  out.resize(header.total_bytes, 0);
  std::uint64_t checksum = checksum64(std::span<const std::uint8_t>(out).subspan(sizeof(SegmentHeader)));
  std::memcpy(out.data() + offsetof(SegmentHeader, checksum), &checksum, sizeof(checksum));
  strings_.clear();
  ids_.clear();
  forward_docs_.clear();
  forward_starts_.clear();
  forward_ids_.clear();
  return out;
}

PostingCursor::PostingCursor(const Segment& segment, const TermEntry& term)
    : blocks_(segment.blocks() + term.first_block),
      postings_(segment.postings()),
      num_blocks_(term.num_blocks),
      max_impact_(term.max_impact) {
  decode(0);
}

void PostingCursor::decode(std::uint32_t block) {
  block_ = block;
  if (block >= num_blocks_) {
    doc_ = kEndOfList;
    count_ = 0;
    position_ = 0;
    return;
  }
  const BlockEntry& entry = blocks_[block];
  const std::uint32_t previous = block == 0 ? 0 : blocks_[block - 1].last_doc;
  count_ = std::uint32_t{entry.count_minus_one} + 1;
  const std::uint8_t* data = postings_ + entry.data_offset;
  streamvbyte_delta_decode(data, docs_, count_, previous);
  impacts_ = data + entry.encoded_bytes;
  masks_ = impacts_ + count_;
  position_ = 0;
  doc_ = docs_[0];
  if (shallow_ < block) shallow_ = block;
}

void PostingCursor::next() {
  if (++position_ < count_) {
    doc_ = docs_[position_];
  } else {
    decode(block_ + 1);
  }
}

void PostingCursor::next_geq(std::uint32_t target) {
  if (doc_ >= target) return;
  if (blocks_[block_].last_doc < target) {
    std::uint32_t block = block_ + 1;
    while (block < num_blocks_ && blocks_[block].last_doc < target) ++block;
    decode(block);
    if (doc_ == kEndOfList) return;
  }
  while (docs_[position_] < target) ++position_;
  doc_ = docs_[position_];
}

void PostingCursor::shallow(std::uint32_t target) {
  if (shallow_ < block_) shallow_ = block_;
  while (shallow_ < num_blocks_ && blocks_[shallow_].last_doc < target) ++shallow_;
}

std::uint8_t PostingCursor::shallow_block_max() const {
  return shallow_ < num_blocks_ ? blocks_[shallow_].max_impact : 0;
}

std::uint32_t PostingCursor::shallow_block_last() const {
  return shallow_ < num_blocks_ ? blocks_[shallow_].last_doc : kEndOfList;
}

}  // namespace aisle::text
