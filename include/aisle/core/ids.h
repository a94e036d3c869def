// Typed identifiers and score types shared by every subsystem.
//
// An id is a small value type around an unsigned integer with a distinct C++ type per kind,
// so a ProductId cannot be passed where a QueryId is expected. Ids are dense internal row
// numbers assigned by the store; the external ids found in input files (ASINs, product_uid)
// stay strings and travel in records, never in these types.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace aisle {

template <typename Tag, typename Rep = std::uint32_t>
class StrongId {
 public:
  using rep_type = Rep;

  // The default-constructed id is invalid(); it compares unequal to every valid id.
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}

  static constexpr StrongId invalid() { return StrongId(); }
  constexpr bool valid() const { return value_ != kInvalid; }
  constexpr Rep value() const { return value_; }

  constexpr auto operator<=>(const StrongId&) const = default;

 private:
  static constexpr Rep kInvalid = std::numeric_limits<Rep>::max();
  Rep value_ = kInvalid;
};

using ProductId = StrongId<struct ProductIdTag>;
using QueryId = StrongId<struct QueryIdTag>;
using TermId = StrongId<struct TermIdTag>;
using NodeId = StrongId<struct NodeIdTag>;
using EventId = StrongId<struct EventIdTag, std::uint64_t>;

// A relevance or ranking score. Higher is better unless a function says otherwise.
using Score = float;

}  // namespace aisle

template <typename Tag, typename Rep>
struct std::hash<aisle::StrongId<Tag, Rep>> {
  std::size_t operator()(const aisle::StrongId<Tag, Rep>& id) const noexcept {
    return std::hash<Rep>()(id.value());
  }
};
