// File: tag_hierarchy.h
//
// The tag hierarchy as a Boost.Graph DAG (edge child → parent). Holding a tag implies holding
// every ancestor; a cycle is an error. Built once when the tag library loads, then read-only.
#ifndef POLMATCH_GRAPH_TAG_HIERARCHY_H_
#define POLMATCH_GRAPH_TAG_HIERARCHY_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace polmatch {

struct TagHierarchy {
  // ancestors[t]: t itself and every ancestor, nearest first.
  std::vector<std::vector<uint32_t>> ancestors;
  // descendants[t]: t itself and every descendant, in topological order.
  std::vector<std::vector<uint32_t>> descendants;
};

// `parent[t]` is t's parent or nullopt for a root. On a cycle returns FailedPrecondition naming a
// tag index on it (as "cycle:<index>"); when a tag has more than `max_depth` tags on its chain to
// the root (itself included), OutOfRange naming the first such tag (as "deep:<index>"), since
// the ancestor and descendant lists grow with tags × depth. Time and memory O(tags × depth).
absl::StatusOr<TagHierarchy> BuildTagHierarchy(const std::vector<std::optional<uint32_t>>& parent,
                                               int max_depth = 64);

}  // namespace polmatch

#endif  // POLMATCH_GRAPH_TAG_HIERARCHY_H_
