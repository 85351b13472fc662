// engine/model/graph.h — the dependency graph of resources: edges, cycles, deterministic order.
//
// Edges come from explicit `depends_on` and from one implicit rule: a resource with a
// `path` depends on the `directory` resource managing its nearest ancestor on the same node,
// or, when both are `ensure: absent`, the directory depends on it (a tree is removed
// leaves first; a stated dependency of the resource on that directory is dropped then).
// Pure: no I/O.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/model/manifest.h"

namespace converge {

/// Adjacency by index into the resource vector.
struct Graph {
  std::vector<std::vector<int>> deps;        ///< deps[i]: what i needs first (sorted, unique)
  std::vector<std::vector<int>> dependents;  ///< the reverse edges
};

/// For each resource, the index of the `directory` resource managing its path's nearest
/// ancestor on the same node, or -1.
[[nodiscard]] std::vector<int> managed_parents(const std::vector<ResourceSpec>& resources);

/// Builds the graph. REQUIRES: every depends_on id names a resource in `resources`.
[[nodiscard]] Graph build_graph(const std::vector<ResourceSpec>& resources);

/// A cycle as resource indices, listed in edge direction (each needs the next); nullopt
/// when the graph is acyclic. Canonical: it depends on the resources' ids only, not on
/// their order. It starts at the smallest id on any cycle and is the shortest way back to
/// it, preferring smaller ids at each step.
[[nodiscard]] std::optional<std::vector<int>> find_cycle(const Graph& g, const std::vector<ResourceSpec>& resources);

/// A topological order (dependencies first); among ready resources, declaration order.
/// REQUIRES: acyclic.
[[nodiscard]] std::vector<int> topo_order(const Graph& g);

}  // namespace converge
