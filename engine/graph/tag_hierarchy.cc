#include "engine/graph/tag_hierarchy.h"

#include <algorithm>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/topological_sort.hpp"

namespace polmatch {

absl::StatusOr<TagHierarchy> BuildTagHierarchy(
    const std::vector<std::optional<uint32_t>>& parent, int max_depth) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  const size_t n = parent.size();
  Graph g(n);
  for (size_t t = 0; t < n; ++t) {
    if (parent[t]) boost::add_edge(t, *parent[t], g);
  }
  std::vector<size_t> order;  // reverse topological: parents before children after reversing
  try {
    boost::topological_sort(g, std::back_inserter(order));
  } catch (const boost::not_a_dag&) {
    // Find one tag on a cycle by walking parents, each tag once: 1 = on the walk in progress,
    // 2 = leads to a root.
    std::vector<uint8_t> state(n, 0);
    for (size_t t = 0; t < n; ++t) {
      std::vector<size_t> walk;
      for (size_t cur = t; state[cur] != 2;) {
        if (state[cur] == 1) return absl::FailedPreconditionError(absl::StrCat("cycle:", cur));
        state[cur] = 1;
        walk.push_back(cur);
        if (!parent[cur]) break;
        cur = *parent[cur];
      }
      for (size_t w : walk) state[w] = 2;
    }
    return absl::FailedPreconditionError("cycle:0");
  }
  // Depths first (parents come first in `order`), so a deep chain is refused before its
  // quadratic ancestor lists are built.
  std::vector<int> depth(n, 1);
  for (size_t v : order) {
    if (parent[v]) depth[v] = depth[*parent[v]] + 1;
    if (depth[v] > max_depth) return absl::OutOfRangeError(absl::StrCat("deep:", v));
  }
  TagHierarchy h;
  h.ancestors.resize(n);
  h.descendants.resize(n);
  // topological_sort emits a vertex after all it points to, i.e. parents first.
  for (size_t v : order) {
    h.ancestors[v].push_back(static_cast<uint32_t>(v));
    if (parent[v]) {
      const auto& up = h.ancestors[*parent[v]];
      h.ancestors[v].insert(h.ancestors[v].end(), up.begin(), up.end());
    }
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const uint32_t v = static_cast<uint32_t>(*it);
    for (uint32_t a : h.ancestors[v]) h.descendants[a].push_back(v);
  }
  return h;
}

}  // namespace polmatch
