#include "engine/model/selection.h"

#include <algorithm>

namespace converge {

namespace {

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ",") + w;
  return out;
}

/// The nodes and clusters a limit word names; false when it names nothing.
bool resolve(const Manifest& m, const std::string& word, std::set<std::string>& into) {
  if (m.node(word)) {
    into.insert(word);
    return true;
  }
  if (auto g = m.groups.find(word); g != m.groups.end()) {
    into.insert(g->second.begin(), g->second.end());
    return true;
  }
  if (auto c = m.clusters.find(word); c != m.clusters.end()) {
    into.insert(word);
    into.insert(c->second.begin(), c->second.end());
    return true;
  }
  return false;
}

}  // namespace

std::string Selection::describe() const {
  std::string out;
  if (!limit.empty()) out += "--limit " + joined(limit);
  if (!tags.empty()) out += std::string(out.empty() ? "" : " ") + "--tags " + joined(tags);
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string w = text.substr(start, end - start);
    w.erase(0, w.find_first_not_of(" \t"));
    w.erase(w.find_last_not_of(" \t") + 1);
    if (!w.empty()) out.push_back(std::move(w));
    start = end + 1;
  }
  return out;
}

Result<SelectionSummary> select(Manifest& m, const Selection& s) {
  std::optional<std::set<std::string>> scope;
  if (!s.limit.empty()) {
    scope.emplace();
    for (const auto& w : s.limit)
      if (!resolve(m, w, *scope))
        return std::unexpected(make_error(ErrorCode::invalid_input,
                                          "--limit: '" + w + "' is no node, group or cluster of " + m.path));
    // A cluster is in scope when all of its members are.
    for (const auto& [cluster, members] : m.clusters)
      if (std::all_of(members.begin(), members.end(), [&](const std::string& n) { return scope->count(n) > 0; }))
        scope->insert(cluster);
  }
  for (const auto& t : s.tags) {
    bool carried = std::any_of(m.resources.begin(), m.resources.end(), [&](const ResourceSpec& r) {
      return std::find(r.tags.begin(), r.tags.end(), t) != r.tags.end();
    });
    if (!carried) return std::unexpected(make_error(ErrorCode::invalid_input, "--tags: no resource of " + m.path + " carries tag '" + t + "'"));
  }
  SelectionSummary sum;
  for (auto& r : m.resources) {
    const bool node_ok = !scope || scope->count(r.node) > 0;
    const bool tag_ok = s.tags.empty() || std::any_of(s.tags.begin(), s.tags.end(), [&](const std::string& t) {
                          return std::find(r.tags.begin(), r.tags.end(), t) != r.tags.end();
                        });
    r.excluded = !(node_ok && tag_ok);
    if (r.excluded) {
      ++sum.left_out;
      sum.nodes_left_out.insert(r.node);
    } else {
      ++sum.in_scope;
    }
  }
  m.limit = std::move(scope);
  return sum;
}

}  // namespace converge
