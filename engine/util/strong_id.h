// File: strong_id.h
//
// StrongId<Tag> is a dense uint32 index that cannot be mixed with another kind of index:
// a TagId is not a FactId even though both are small integers.
#ifndef POLMATCH_UTIL_STRONG_ID_H_
#define POLMATCH_UTIL_STRONG_ID_H_

#include <cstdint>
#include <utility>

namespace polmatch {

template <typename Tag>
struct StrongId {
  uint32_t value = 0;

  constexpr StrongId() = default;
  constexpr explicit StrongId(uint32_t v) : value(v) {}

  friend constexpr bool operator==(StrongId a, StrongId b) { return a.value == b.value; }
  friend constexpr bool operator!=(StrongId a, StrongId b) { return a.value != b.value; }
  friend constexpr bool operator<(StrongId a, StrongId b) { return a.value < b.value; }
  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.value);
  }
};

using TagId = StrongId<struct TagIdTag>;
using FactId = StrongId<struct FactIdTag>;
// Where id spaces meet: a policy's index in its Catalog (ascending policy id; not its index in a
// sub-catalog such as LimitPlacement's), and a row of a FirmStore (firms ordered by region, then
// credit code; not the firm's position in the merged input, FirmStore::source_index).
using CatalogIndex = StrongId<struct CatalogIndexTag>;
using FirmRow = StrongId<struct FirmRowTag>;

}  // namespace polmatch

#endif  // POLMATCH_UTIL_STRONG_ID_H_
