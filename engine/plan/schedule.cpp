// engine/plan/schedule.cpp — an estate's plan from its components: which locations must be
// planned together (components), and the parallel schedule of the components' step chains
// under the constraints that span them (schedule). Pure: no I/O.
#include <algorithm>
#include <climits>
#include <numeric>
#include <queue>
#include <set>

#include "engine/plan/planner.h"
#include "engine/plan/planner_search.h"

namespace converge::planning {

namespace {

/// Union-find over location names.
class Joined {
 public:
  int id(const std::string& loc) {
    auto [it, fresh] = ids_.emplace(loc, static_cast<int>(parent_.size()));
    if (fresh) parent_.push_back(it->second), names_.push_back(loc);
    return it->second;
  }
  int find(int x) {
    while (parent_[x] != x) x = parent_[x] = parent_[parent_[x]];
    return x;
  }
  void join(const std::string& a, const std::string& b) {
    int x = find(id(a)), y = find(id(b));
    if (x != y) parent_[std::max(x, y)] = std::min(x, y);
  }
  [[nodiscard]] const std::string& name(int i) const { return names_[i]; }
  [[nodiscard]] int size() const { return static_cast<int>(parent_.size()); }
  [[nodiscard]] bool known(const std::string& loc) const { return ids_.count(loc) > 0; }

 private:
  std::map<std::string, int> ids_;
  std::vector<int> parent_;
  std::vector<std::string> names_;
};

/// Adds `amount` to a usage step function (time -> usage from there to the next key) over
/// [from, to).
void occupy(std::map<std::int64_t, int>& usage, std::int64_t from, std::int64_t to, int amount) {
  if (to <= from || amount == 0) return;
  auto split = [&](std::int64_t t) {
    auto it = usage.upper_bound(t);
    int before = std::prev(it)->second;
    usage.emplace(t, before);
  };
  split(from);
  split(to);
  for (auto it = usage.find(from); it != usage.end() && it->first < to; ++it) it->second += amount;
}

/// Whether `amount` more fits under `k` over [from, to); when not, `next` is the earliest
/// time worth trying again (the end of the first segment that is too full).
bool room(const std::map<std::int64_t, int>& usage, std::int64_t from, std::int64_t to, int amount, int k,
          std::int64_t& next) {
  if (amount == 0 || to <= from) return true;
  for (auto it = std::prev(usage.upper_bound(from)); it != usage.end() && it->first < to; ++it)
    if (it->second + amount > k) {
      auto after = std::next(it);
      next = after == usage.end() ? to : after->first;
      return false;
    }
  return true;
}

}  // namespace

std::vector<std::vector<std::string>> components(const Problem& p) {
  Joined j;
  std::set<std::string> changing;  // facts some action changes
  for (const auto& a : p.actions)
    for (const auto& [k, _] : a.effects) changing.insert(k);
  std::map<std::string, const Condition*> goal_on;
  for (const auto& g : p.goal) goal_on[g.fact] = &g;
  // A condition on another location's fact that its goal satisfies is a wait, not a
  // coupling: the reader's chain runs after the chain that reaches that goal (schedule).
  auto waits = [&](const Condition& c) {
    if (!changing.count(c.fact)) return true;  // it never changes: nothing to wait for
    auto g = goal_on.find(c.fact);
    return g != goal_on.end() && !g->second->any_of.empty() &&
           std::all_of(g->second->any_of.begin(), g->second->any_of.end(), [&](const Value& v) {
             return std::find(c.any_of.begin(), c.any_of.end(), v) != c.any_of.end();
           });
  };
  for (const auto& a : p.actions) {
    j.id(a.node);
    for (const auto& c : a.pre)
      if (fact_node(c.fact) == a.node || !waits(c)) j.join(a.node, fact_node(c.fact));
    for (const auto& [k, _] : a.effects) j.join(a.node, fact_node(k));
  }
  for (const auto& g : p.goal) j.id(fact_node(g.fact));
  for (const auto& [a, b] : p.links) j.join(a, b);
  for (const auto& g : p.available) {
    const std::string loc = fact_node(g.owner_fact);
    j.join(loc, fact_node(g.online_fact));
    // Every node that may own the group: it may not restart while it does.
    auto own = [&](const Value& v) {
      if (v.is_string() && j.known(v.as_string())) j.join(loc, v.as_string());
    };
    if (auto it = p.initial.find(g.owner_fact); it != p.initial.end()) own(it->second);
    for (const auto& a : p.actions)
      for (const auto& [k, v] : a.effects)
        if (k == g.owner_fact) own(v);
  }
  std::map<int, std::vector<std::string>> by_root;
  for (int i = 0; i < j.size(); ++i) by_root[j.find(i)].push_back(j.name(i));
  std::vector<std::vector<std::string>> out;
  for (auto& [_, locs] : by_root) {
    std::sort(locs.begin(), locs.end());
    out.push_back(std::move(locs));
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace detail {

GoalsOn goals_on(const Problem& p) {
  GoalsOn out;
  for (const auto& g : p.goal) out[fact_node(g.fact)].push_back(&g);
  return out;
}

Windows open_windows(const Problem& p, const Plan& plan) { return open_windows(p, plan, goals_on(p)); }

Windows open_windows(const Problem& p, const Plan& plan, const GoalsOn& goals) {
  Windows window;  // node -> [open, close) each time
  std::set<std::string> open_now;
  // Only the facts the plan changes are copied; the rest are read from the initial state.
  Facts changed;
  auto holds_now = [&](const Condition& c) {
    auto it = changed.find(c.fact);
    if (it == changed.end()) return holds(c, p.initial);
    return std::find(c.any_of.begin(), c.any_of.end(), it->second) != c.any_of.end();
  };
  for (const auto& s : plan.steps) {
    const Operator& a = p.actions[s.action];
    for (const auto& [k, v] : a.effects) changed[k] = v;
    if (a.disruption != Disruption::none && !open_now.count(a.node)) {
      open_now.insert(a.node);
      window[a.node].push_back({s.start_s, plan.makespan_s});
    }
    // Only a node whose facts the step changed (or the step's own) may close.
    std::set<std::string> touched{a.node};
    for (const auto& [k, _] : a.effects) touched.insert(fact_node(k));
    for (const auto& node : touched) {
      if (!open_now.count(node)) continue;
      bool met = true;
      if (auto it = goals.find(node); it != goals.end())
        for (const Condition* g : it->second) met = met && holds_now(*g);
      if (met) {
        window[node].back().second = s.end_s;
        open_now.erase(node);
      }
    }
  }
  return window;
}

}  // namespace detail

namespace {

/// What each chain holds open of each max_disrupted set: the most of its nodes disrupted
/// at once when it runs alone. It holds that much for its whole length.
std::vector<std::vector<int>> demands(const Problem& p, const std::vector<std::vector<int>>& chains) {
  const int n = static_cast<int>(chains.size());
  std::vector<std::vector<int>> demand(n, std::vector<int>(p.max_disrupted.size(), 0));
  const auto goals = detail::goals_on(p);
  std::vector<std::set<std::string>> in_set(p.max_disrupted.size());
  for (std::size_t m = 0; m < p.max_disrupted.size(); ++m) in_set[m].insert(p.max_disrupted[m].nodes.begin(), p.max_disrupted[m].nodes.end());
  for (int c = 0; c < n; ++c) {
    Plan alone;
    for (int a : chains[c]) {
      alone.steps.push_back({a, alone.makespan_s, alone.makespan_s + p.actions[a].seconds, c});
      alone.makespan_s += p.actions[a].seconds;
    }
    auto windows = detail::open_windows(p, alone, goals);
    for (std::size_t m = 0; m < p.max_disrupted.size(); ++m) {
      std::vector<std::pair<std::int64_t, int>> edges;
      for (const auto& [node, ws] : windows)
        if (in_set[m].count(node))
          for (const auto& w : ws) edges.push_back({w.first, 1}), edges.push_back({w.second, -1});
      std::sort(edges.begin(), edges.end());
      int now = 0;
      for (const auto& [_, d] : edges) demand[c][m] = std::max(demand[c][m], now += d);
    }
  }
  return demand;
}

/// The chains each chain waits for: those that change a fact it reads (components()), and
/// by the order constraints every chain with steps on an earlier set.
std::vector<std::vector<int>> waits_for(const Problem& p, const std::vector<std::vector<int>>& chains) {
  const int n = static_cast<int>(chains.size());
  std::vector<std::set<std::string>> nodes(n);
  for (int c = 0; c < n; ++c)
    for (int a : chains[c]) nodes[c].insert(p.actions[a].node);
  std::vector<std::vector<int>> preds(n);
  std::map<std::string, int> writer;
  for (int c = 0; c < n; ++c)
    for (int a : chains[c])
      for (const auto& [k, _] : p.actions[a].effects) writer.emplace(k, c);
  for (int c = 0; c < n; ++c) {
    std::set<int> after;
    for (int a : chains[c])
      for (const auto& x : p.actions[a].pre)
        if (auto it = writer.find(x.fact); it != writer.end() && it->second != c) after.insert(it->second);
    preds[c].assign(after.begin(), after.end());
  }
  for (const auto& o : p.order) {
    std::map<std::string, int> set_index;
    for (std::size_t i = 0; i < o.sets.size(); ++i)
      for (const auto& node : o.sets[i]) set_index.emplace(node, static_cast<int>(i));
    std::vector<int> lowest(n, INT32_MAX), highest(n, -1);
    for (int c = 0; c < n; ++c)
      for (const auto& node : nodes[c])
        if (auto it = set_index.find(node); it != set_index.end())
          lowest[c] = std::min(lowest[c], it->second), highest[c] = std::max(highest[c], it->second);
    for (int x = 0; x < n; ++x)
      for (int y = 0; y < n; ++y)
        if (x != y && highest[x] >= 0 && lowest[y] < highest[x]) preds[x].push_back(y);
  }
  return preds;
}

}  // namespace

std::optional<Plan> schedule(const Problem& p, const std::vector<std::vector<int>>& chains) {
  const int n = static_cast<int>(chains.size());
  std::vector<std::int64_t> length(n, 0);
  for (int c = 0; c < n; ++c)
    for (int a : chains[c]) length[c] += p.actions[a].seconds;
  const auto demand = demands(p, chains);
  for (int c = 0; c < n; ++c)
    for (std::size_t m = 0; m < p.max_disrupted.size(); ++m)
      if (demand[c][m] > std::max(1, p.max_disrupted[m].k)) return std::nullopt;  // no room ever
  const auto preds = waits_for(p, chains);
  // Longest first among the chains whose predecessors are placed (Kahn's order).
  std::vector<int> waiting(n, 0);
  std::vector<std::vector<int>> succs(n);
  for (int x = 0; x < n; ++x)
    for (int y : preds[x]) ++waiting[x], succs[y].push_back(x);
  auto later = [&](int a, int b) { return length[a] != length[b] ? length[a] < length[b] : a > b; };
  std::priority_queue<int, std::vector<int>, decltype(later)> ready(later);
  for (int c = 0; c < n; ++c)
    if (waiting[c] == 0) ready.push(c);
  std::vector<std::map<std::int64_t, int>> usage(p.max_disrupted.size(), std::map<std::int64_t, int>{{0, 0}});
  std::vector<std::int64_t> start(n, 0);
  // A chain placed at t proves every earlier time too full for an identical chain: usage only grows.
  std::map<std::pair<std::int64_t, std::vector<int>>, std::int64_t> floor;
  std::vector<int> placed;
  while (!ready.empty()) {
    int c = ready.top();
    ready.pop();
    std::int64_t t = 0;
    for (int y : preds[c]) t = std::max(t, start[y] + length[y]);
    const auto key = std::make_pair(length[c], demand[c]);
    auto known = floor.find(key);
    // Only a search that tried every time from the floor on proves the times before its
    // result too full: not one that its predecessors started later.
    const bool from_floor = t <= (known == floor.end() ? 0 : known->second);
    if (known != floor.end()) t = std::max(t, known->second);
    for (bool fits = false; !fits;) {
      fits = true;
      for (std::size_t m = 0; m < usage.size() && fits; ++m) {
        std::int64_t next = t;
        if (!room(usage[m], t, t + length[c], demand[c][m], std::max(1, p.max_disrupted[m].k), next)) fits = false, t = next;
      }
    }
    for (std::size_t m = 0; m < usage.size(); ++m) occupy(usage[m], t, t + length[c], demand[c][m]);
    start[c] = t;
    if (from_floor) floor[key] = t;
    placed.push_back(c);
    for (int x : succs[c])
      if (--waiting[x] == 0) ready.push(x);
  }
  if (static_cast<int>(placed.size()) != n) return std::nullopt;  // chains wait on each other
  struct Timed {
    std::int64_t start;
    int rank;
    std::size_t pos;
    Step step;
  };
  std::vector<int> rank(n);
  for (int i = 0; i < n; ++i) rank[placed[i]] = i;
  std::vector<Timed> timed;
  Plan out;
  out.chains = n;
  for (int c = 0; c < n; ++c) {
    std::int64_t at = start[c];
    for (std::size_t i = 0; i < chains[c].size(); ++i) {
      const int a = chains[c][i];
      timed.push_back({at, rank[c], i, {a, at, at + p.actions[a].seconds, c}});
      at += p.actions[a].seconds;
    }
    out.makespan_s = std::max(out.makespan_s, at);
  }
  // The longest path of chains that wait on each other (placed: a topological order).
  std::vector<std::int64_t> path(n, 0);
  for (int c : placed) {
    for (int y : preds[c]) path[c] = std::max(path[c], path[y]);
    path[c] += length[c];
    out.lower_bound_s = std::max(out.lower_bound_s, path[c]);
  }
  // No chain that disrupts nodes of a set starts before the earliest of them may.
  for (std::size_t m = 0; m < p.max_disrupted.size(); ++m) {
    std::int64_t work = 0, earliest = INT64_MAX;
    for (int c = 0; c < n; ++c)
      if (demand[c][m] > 0) work += length[c] * demand[c][m], earliest = std::min(earliest, path[c] - length[c]);
    if (work == 0) continue;
    const std::int64_t k = std::max(1, p.max_disrupted[m].k);
    out.lower_bound_s = std::max(out.lower_bound_s, earliest + (work + k - 1) / k);
  }
  std::sort(timed.begin(), timed.end(), [](const Timed& a, const Timed& b) {
    return std::tie(a.start, a.rank, a.pos) < std::tie(b.start, b.rank, b.pos);
  });
  for (auto& t : timed) out.steps.push_back(t.step);
  return out;
}

}  // namespace converge::planning
