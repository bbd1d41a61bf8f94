#include "engine/graph/tag_hierarchy.h"

#include <algorithm>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "boost/graph/adjacency_list.hpp"
#include "boost/graph/topological_sort.hpp"

namespace polmatch {

absl::StatusOr<TagHierarchy> BuildTagHierarchy(
    const std::vector<std::optional<uint32_t>>& parent) {
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
    // Find one tag on a cycle by walking parents.
    for (size_t t = 0; t < n; ++t) {
      std::vector<bool> seen(n, false);
      size_t cur = t;
      while (parent[cur] && !seen[cur]) {
        seen[cur] = true;
        cur = *parent[cur];
      }
      if (parent[cur] && cur == t) {
        return absl::FailedPreconditionError(absl::StrCat("cycle:", t));
      }
    }
    return absl::FailedPreconditionError("cycle:0");
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
