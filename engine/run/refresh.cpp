#include "engine/run/refresh.h"

#include <unordered_map>

#include "engine/model/graph.h"

namespace converge {

namespace {
const std::string kPrefix = "refresh:";
}

std::string refresh_key(const std::string& id) { return kPrefix + id; }

std::vector<std::vector<int>> subscriptions(const Manifest& m) {
  std::unordered_map<std::string, int> by_id;
  for (int i = 0; i < static_cast<int>(m.resources.size()); ++i) by_id.emplace(m.resources[i].id(), i);
  std::vector<std::vector<int>> subs(m.resources.size());
  for (std::size_t i = 0; i < m.resources.size(); ++i)
    for (const auto& id : m.resources[i].subscribe)
      if (auto it = by_id.find(id); it != by_id.end()) subs[i].push_back(it->second);
  return subs;
}

std::vector<char> refresh_closure(const Manifest& m, const std::vector<char>& changing) {
  const auto subs = subscriptions(m);
  std::vector<char> owes(m.resources.size(), 0);
  // A subscription is a dependency too: in topological order every source comes first.
  for (int i : topo_order(build_graph(m.resources)))
    for (int s : subs[i])
      if (changing[s] || owes[s]) owes[i] = 1;
  return owes;
}

std::set<std::string> owed_refreshes(const std::vector<std::pair<std::string, std::string>>& meta) {
  std::set<std::string> out;
  for (const auto& [k, v] : meta)
    if (k.starts_with(kPrefix) && !v.empty()) out.insert(k.substr(kPrefix.size()));
  return out;
}

}  // namespace converge
