#include "engine/graph.h"

#include <algorithm>
#include <map>
#include <queue>
#include <unordered_map>

namespace converge {

namespace {
std::string parent_path(const std::string& p) {
  auto slash = p.find_last_of('/');
  if (slash == std::string::npos || slash == 0) return p.size() > 1 && slash == 0 ? "/" : "";
  return p.substr(0, slash);
}
}  // namespace

std::vector<int> managed_parents(const std::vector<ResourceSpec>& resources) {
  const int n = static_cast<int>(resources.size());
  std::vector<int> parent(n, -1);
  std::map<std::pair<std::string, std::string>, int> dirs;  // (node, path) -> directory resource
  for (int i = 0; i < n; ++i)
    if (resources[i].type == "directory") dirs.emplace(std::pair(resources[i].node, resources[i].prop_string("path")), i);
  if (dirs.empty()) return parent;
  for (int i = 0; i < n; ++i) {
    std::string p = resources[i].prop_string("path");
    for (p = parent_path(p); !p.empty(); p = p == "/" ? "" : parent_path(p)) {
      if (auto it = dirs.find({resources[i].node, p}); it != dirs.end() && it->second != i) {
        parent[i] = it->second;
        break;
      }
    }
  }
  return parent;
}

Graph build_graph(const std::vector<ResourceSpec>& resources) {
  const int n = static_cast<int>(resources.size());
  Graph g;
  g.deps.resize(n);
  g.dependents.resize(n);
  std::unordered_map<std::string, int> by_id;
  by_id.reserve(resources.size());
  for (int i = 0; i < n; ++i) by_id.emplace(resources[i].id(), i);
  auto absent = [&](int i) { return resources[i].prop_string("ensure") == "absent"; };
  const std::vector<int> parent = managed_parents(resources);
  for (int i = 0; i < n; ++i) {
    for (const auto& d : resources[i].depends_on)
      if (auto it = by_id.find(d); it != by_id.end()) g.deps[i].push_back(it->second);
    if (int a = parent[i]; a >= 0) {
      if (absent(a) && absent(i)) g.deps[a].push_back(i);  // emptied before it is removed
      else g.deps[i].push_back(a);
    }
  }
  for (int i = 0; i < n; ++i) {
    std::sort(g.deps[i].begin(), g.deps[i].end());
    g.deps[i].erase(std::unique(g.deps[i].begin(), g.deps[i].end()), g.deps[i].end());
    for (int d : g.deps[i]) g.dependents[d].push_back(i);
  }
  return g;
}

std::optional<std::vector<int>> find_cycle(const Graph& g, const std::vector<ResourceSpec>& resources) {
  const int n = static_cast<int>(g.deps.size());
  // Iterative DFS in index order; colors: 0 new, 1 on stack, 2 done.
  std::vector<int> color(n, 0), parent(n, -1);
  std::optional<std::vector<int>> best;
  for (int root = 0; root < n && !best; ++root) {
    if (color[root]) continue;
    std::vector<std::pair<int, std::size_t>> stack{{root, 0}};
    color[root] = 1;
    while (!stack.empty() && !best) {
      auto& [v, next] = stack.back();
      if (next < g.deps[v].size()) {
        int w = g.deps[v][next++];
        if (color[w] == 0) {
          color[w] = 1;
          parent[w] = v;
          stack.push_back({w, 0});
        } else if (color[w] == 1) {
          std::vector<int> cyc;
          for (int x = v; x != w; x = parent[x]) cyc.push_back(x);
          cyc.push_back(w);
          std::reverse(cyc.begin(), cyc.end());  // w needs ... needs v needs w
          best = cyc;
        }
      } else {
        color[v] = 2;
        stack.pop_back();
      }
    }
  }
  if (!best) return std::nullopt;
  auto& c = *best;
  auto smallest = std::min_element(c.begin(), c.end(), [&](int a, int b) { return resources[a].id() < resources[b].id(); });
  std::rotate(c.begin(), smallest, c.end());
  return best;
}

std::vector<int> topo_order(const Graph& g) {
  const int n = static_cast<int>(g.deps.size());
  std::vector<int> indeg(n);
  for (int i = 0; i < n; ++i) indeg[i] = static_cast<int>(g.deps[i].size());
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int i = 0; i < n; ++i)
    if (indeg[i] == 0) ready.push(i);
  std::vector<int> out;
  out.reserve(n);
  while (!ready.empty()) {
    int v = ready.top();
    ready.pop();
    out.push_back(v);
    for (int d : g.dependents[v])
      if (--indeg[d] == 0) ready.push(d);
  }
  return out;
}

}  // namespace converge
