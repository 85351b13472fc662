#include "engine/model/graph.h"

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
      if (absent(a) && absent(i)) {
        // Emptied before it is removed; a stated "after its directory" has nothing left
        // to order when both go, and would only close a cycle.
        g.deps[a].push_back(i);
        std::erase(g.deps[i], a);
      } else {
        g.deps[i].push_back(a);
      }
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
  // Which resources lie on a cycle: the strongly connected components (Tarjan, iterative)
  // of more than one resource, or of one that needs itself.
  std::vector<int> index(n, -1), low(n, 0), comp(n, -1), stack;
  std::vector<char> on_stack(n, 0);
  int next_index = 0, comps = 0;
  for (int root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    std::vector<std::pair<int, std::size_t>> call{{root, 0}};
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = 1;
    while (!call.empty()) {
      auto& [v, next] = call.back();
      if (next < g.deps[v].size()) {
        int w = g.deps[v][next++];
        if (index[w] < 0) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = 1;
          call.push_back({w, 0});
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      if (low[v] == index[v]) {
        for (int w = -1; w != v;) {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = 0;
          comp[w] = comps;
        }
        ++comps;
      }
      int done = v;
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
    }
  }
  std::vector<int> size(comps, 0);
  for (int v = 0; v < n; ++v) ++size[comp[v]];
  auto cyclic = [&](int v) {
    return size[comp[v]] > 1 || std::find(g.deps[v].begin(), g.deps[v].end(), v) != g.deps[v].end();
  };
  // The canonical cycle depends on the ids alone, never on declaration order: it starts at
  // the smallest id on any cycle and is the shortest way back to it, at each step taking
  // the smallest id first.
  auto by_id = [&](int a, int b) { return resources[a].id() < resources[b].id(); };
  int start = -1;
  for (int v = 0; v < n; ++v)
    if (cyclic(v) && (start < 0 || by_id(v, start))) start = v;
  if (start < 0) return std::nullopt;
  if (std::find(g.deps[start].begin(), g.deps[start].end(), start) != g.deps[start].end())
    return std::vector<int>{start};
  std::vector<int> from(n, -1);
  std::vector<int> frontier{start};
  from[start] = start;
  while (!frontier.empty()) {
    std::vector<int> next;
    for (int v : frontier) {
      std::vector<int> out;
      for (int w : g.deps[v])
        if (comp[w] == comp[start]) out.push_back(w);
      std::sort(out.begin(), out.end(), by_id);
      for (int w : out) {
        if (w == start) {
          std::vector<int> cycle;
          for (int x = v; x != start; x = from[x]) cycle.push_back(x);
          cycle.push_back(start);
          std::reverse(cycle.begin(), cycle.end());  // start needs ... needs v needs start
          return cycle;
        }
        if (from[w] < 0) {
          from[w] = v;
          next.push_back(w);
        }
      }
    }
    frontier.swap(next);
  }
  return std::nullopt;  // unreachable: start lies on a cycle within its component
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
