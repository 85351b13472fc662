#include "engine/plan/planner_search.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <queue>
#include <set>
#include <unordered_map>

#include "engine/model/duration.h"

namespace converge::planning::detail {

std::string describe(const Condition& c) {
  std::string out = c.fact + " = ";
  for (std::size_t i = 0; i < c.any_of.size(); ++i) out += (i ? " or " : "") + c.any_of[i].to_string();
  return out;
}

namespace {

constexpr int kDead = 1 << 20;
constexpr std::int64_t kInf = INT64_MAX / 4;

/// The problem with facts, values and nodes interned.
class Compact {
 public:
  struct Cond {
    int fact = 0;
    std::uint64_t mask = 0;  ///< bit v: value id v accepted (0 = no value)
  };
  struct Act {
    std::vector<Cond> pre;
    std::vector<std::pair<int, std::uint8_t>> eff;
    int node = 0;
    Disruption disruption = Disruption::none;
    std::int64_t seconds = 0;
    std::vector<char> takes_down;           ///< per group: listed in outages, or sets it offline
    std::vector<std::int64_t> down_seconds; ///< per group: seconds it is down while this runs (bound)
    std::vector<int> order_set;             ///< per order constraint: its set's index, or -1
    // relaxation
    std::vector<std::vector<int>> pre_atoms;
    std::vector<int> eff_atoms;
    std::vector<std::pair<int, std::vector<int>>> drain;  ///< per group: (offline atom, other-owner atoms)
  };
  struct Group {
    int owner = 0, online = 0;
    std::uint8_t online_true = 0, online_false = 0;
    std::int64_t budget = -1;
    std::string name;
  };
  struct State {
    std::string facts;  ///< one byte per fact: its value id
    std::uint64_t open = 0;
    std::vector<std::int64_t> outage;
    std::int64_t elapsed = 0;
  };

  const Problem& p;
  bool ok = true;  ///< false: more than 64 nodes or values on a fact (the caller falls back)
  std::vector<std::string> facts;
  std::unordered_map<std::string, int> fact_id;
  std::vector<std::vector<Value>> values;  ///< per fact, index = value id (0 = null)
  std::vector<int> atom_base;              ///< per fact: its first atom
  int atoms = 0;
  std::vector<std::string> nodes;
  std::unordered_map<std::string, int> node_id;
  std::vector<Act> acts;
  std::vector<Cond> goal;
  std::vector<int> goal_node;
  std::vector<std::vector<int>> goals_on;  ///< per node
  std::vector<Group> groups;
  std::vector<std::pair<int, std::uint64_t>> max_disrupted;  ///< k, node mask
  std::vector<std::vector<std::vector<int>>> order;          ///< per constraint: sets of node ids

  explicit Compact(const Problem& prob) : p(prob) {
    auto fact = [&](const std::string& k) {
      auto [it, fresh] = fact_id.emplace(k, static_cast<int>(facts.size()));
      if (fresh) facts.push_back(k), values.push_back({Value()});
      return it->second;
    };
    auto value = [&](int f, const Value& v) -> std::uint8_t {
      auto& vs = values[f];
      for (std::size_t i = 0; i < vs.size(); ++i)
        if (vs[i] == v) return static_cast<std::uint8_t>(i);
      vs.push_back(v);
      if (vs.size() > 64) ok = false;
      return static_cast<std::uint8_t>(vs.size() - 1);
    };
    auto node = [&](const std::string& n) {
      auto [it, fresh] = node_id.emplace(n, static_cast<int>(nodes.size()));
      if (fresh) nodes.push_back(n);
      if (nodes.size() > 64) ok = false;
      return it->second;
    };
    auto cond = [&](const Condition& c) {
      Cond x{fact(c.fact), 0};
      for (const auto& v : c.any_of) {
        std::uint8_t id = value(x.fact, v);
        if (id < 64) x.mask |= std::uint64_t{1} << id;
      }
      return x;
    };
    for (const auto& [k, v] : p.initial) value(fact(k), v);
    for (const auto& g : p.goal) {
      goal.push_back(cond(g));
      goal_node.push_back(node(fact_node(g.fact)));
    }
    for (const auto& av : p.available) {
      Group g;
      g.name = av.group;
      g.owner = fact(av.owner_fact);
      g.online = fact(av.online_fact);
      g.online_true = value(g.online, Value(true));
      g.online_false = value(g.online, Value(false));
      g.budget = av.budget_s;
      groups.push_back(g);
    }
    for (const auto& m : p.max_disrupted) {
      std::uint64_t mask = 0;
      for (const auto& n : m.nodes) {
        int id = node(n);
        if (id < 64) mask |= std::uint64_t{1} << id;
      }
      max_disrupted.push_back({m.k, mask});
    }
    for (const auto& o : p.order) {
      std::vector<std::vector<int>> sets;
      for (const auto& s : o.sets) {
        sets.emplace_back();
        for (const auto& n : s) sets.back().push_back(node(n));
      }
      order.push_back(std::move(sets));
    }
    for (const auto& a : p.actions) {
      Act x;
      x.node = node(a.node);
      x.disruption = a.disruption;
      x.seconds = a.seconds;
      if (a.search) {
        for (const auto& c : a.pre) x.pre.push_back(cond(c));
        for (const auto& [k, v] : a.effects) {
          int f = fact(k);
          x.eff.push_back({f, value(f, v)});
        }
      }
      for (std::size_t gi = 0; gi < groups.size(); ++gi) {
        const Group& g = groups[gi];
        bool down = std::find(a.outages.begin(), a.outages.end(), g.name) != a.outages.end();
        bool offline_pre = false;
        for (const auto& [f, v] : x.eff) down = down || (f == g.online && v == g.online_false);
        for (const auto& c : x.pre)
          offline_pre = offline_pre || (c.fact == g.online && c.mask == (std::uint64_t{1} << g.online_false));
        x.takes_down.push_back(down);
        x.down_seconds.push_back(down || offline_pre ? a.seconds : 0);
      }
      for (const auto& o : p.order) {
        int mine = -1;
        for (std::size_t i = 0; i < o.sets.size() && mine < 0; ++i)
          if (std::find(o.sets[i].begin(), o.sets[i].end(), a.node) != o.sets[i].end()) mine = static_cast<int>(i);
        x.order_set.push_back(mine);
      }
      acts.push_back(std::move(x));
    }
    goals_on.resize(nodes.size());
    for (std::size_t i = 0; i < goal.size(); ++i) goals_on[goal_node[i]].push_back(static_cast<int>(i));
    // Atoms for the relaxations: one per (fact, value).
    for (const auto& vs : values) {
      atom_base.push_back(atoms);
      atoms += static_cast<int>(vs.size());
    }
    auto atom_list = [&](const Cond& c) {
      std::vector<int> out;
      for (std::size_t v = 0; v < values[c.fact].size() && v < 64; ++v)
        if (c.mask >> v & 1) out.push_back(atom_base[c.fact] + static_cast<int>(v));
      return out;
    };
    for (std::size_t ai = 0; ai < acts.size(); ++ai) {
      Act& x = acts[ai];
      for (const auto& c : x.pre) x.pre_atoms.push_back(atom_list(c));
      for (const auto& [f, v] : x.eff) x.eff_atoms.push_back(atom_base[f] + v);
      if (x.disruption == Disruption::node)
        for (const auto& g : groups) {
          std::vector<int> other;
          for (std::size_t v = 1; v < values[g.owner].size(); ++v)
            if (!(values[g.owner][v] == Value(nodes[x.node]))) other.push_back(atom_base[g.owner] + static_cast<int>(v));
          x.drain.push_back({atom_base[g.online] + g.online_false, other});
        }
    }
  }

  State start() const {
    State s;
    s.facts.assign(facts.size(), '\0');
    for (const auto& [k, v] : p.initial) {
      int f = fact_id.at(k);
      for (std::size_t i = 0; i < values[f].size(); ++i)
        if (values[f][i] == v) s.facts[f] = static_cast<char>(i);
    }
    s.outage.assign(groups.size(), 0);
    return s;
  }

  static std::uint8_t at(const State& s, int f) { return static_cast<std::uint8_t>(s.facts[f]); }
  static bool holds(const Cond& c, const State& s) { return c.mask >> at(s, c.fact) & 1; }

  bool goal_unmet_on(int n, const State& s) const {
    for (int g : goals_on[n])
      if (!holds(goal[g], s)) return true;
    return false;
  }

  int unmet(const State& s) const {
    int n = 0;
    for (const auto& g : goal) n += holds(g, s) ? 0 : 1;
    return n;
  }

  bool changes(const State& s, const Act& a) const {
    for (const auto& [f, v] : a.eff)
      if (at(s, f) != v) return true;
    return false;
  }

  std::int64_t outage_after(const State& s, const Act& a, std::size_t g) const {
    bool online = at(s, groups[g].online) == groups[g].online_true;
    return s.outage[g] + (!online || a.takes_down[g] ? a.seconds : 0);
  }

  bool allowed(const State& s, const Act& a) const {
    for (std::size_t o = 0; o < order.size(); ++o) {
      int mine = a.order_set[o];
      for (int j = 0; j < mine; ++j)
        for (int n : order[o][j])
          if (goal_unmet_on(n, s)) return false;
    }
    const std::uint64_t bit = std::uint64_t{1} << a.node;
    if (a.disruption != Disruption::none && !(s.open & bit))
      for (const auto& [k, mask] : max_disrupted)
        if ((mask & bit) && std::popcount(s.open & mask) >= k) return false;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const Group& gr = groups[g];
      bool online = at(s, gr.online) == gr.online_true;
      if (a.disruption == Disruption::node && online && values[gr.owner][at(s, gr.owner)] == Value(nodes[a.node])) return false;
      if (gr.budget >= 0 && outage_after(s, a, g) > gr.budget) return false;
    }
    return true;
  }

  State apply(const State& s, const Act& a) const {
    State n = s;
    for (std::size_t g = 0; g < groups.size(); ++g) n.outage[g] = outage_after(s, a, g);
    for (const auto& [f, v] : a.eff) n.facts[f] = static_cast<char>(v);
    n.elapsed += a.seconds;
    if (a.disruption != Disruption::none) n.open |= std::uint64_t{1} << a.node;
    for (std::uint64_t bits = n.open; bits;) {
      int i = std::countr_zero(bits);
      bits &= bits - 1;
      if (!goal_unmet_on(i, n)) n.open &= ~(std::uint64_t{1} << i);
    }
    return n;
  }

  std::string key(const State& s) const {
    std::string k = s.facts;
    k.append(reinterpret_cast<const char*>(&s.open), sizeof s.open);
    for (std::int64_t o : s.outage) {
      std::int64_t minutes = o / 60;  // states seconds of outage apart are one state...
      k.append(reinterpret_cast<const char*>(&minutes), sizeof minutes);
    }
    return k;
  }

  /// The relaxation both estimates share: from the atoms true in `s` (cost 0), an action
  /// reaches its effects at `action_cost(action, costs)` until nothing improves.
  template <typename T, typename ActionCost>
  std::vector<T> relax(const State& s, T inf, ActionCost action_cost) const {
    std::vector<T> cost(static_cast<std::size_t>(atoms), inf);
    for (std::size_t f = 0; f < facts.size(); ++f) cost[atom_base[f] + at(s, static_cast<int>(f))] = 0;
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t i = 0; i < acts.size(); ++i) {
        if (!p.actions[i].search) continue;
        const T k = action_cost(acts[i], cost);
        if (k >= inf) continue;
        for (int e : acts[i].eff_atoms)
          if (k < cost[e]) cost[e] = k, changed = true;
      }
    }
    return cost;
  }

  template <typename T>
  static T cheapest(const std::vector<int>& alternatives, const std::vector<T>& cost, T inf) {
    T best = inf;
    for (int a : alternatives) best = std::min(best, cost[a]);
    return best;
  }

  /// The cheapest atom satisfying each goal, folded over the goals.
  template <typename T, typename Fold>
  T goal_cost(const std::vector<T>& cost, T inf, Fold fold) const {
    T h = 0;
    for (const auto& g : goal) {
      T best = inf;
      for (std::size_t v = 0; v < values[g.fact].size() && v < 64; ++v)
        if (g.mask >> v & 1) best = std::min(best, cost[atom_base[g.fact] + static_cast<int>(v)]);
      h = fold(h, best);
    }
    return h;
  }

  /// h_add's cost of every atom from `s`, in actions (a node-disruptive action on the owner
  /// of an available group also pays for draining it).
  std::vector<int> hadd(const State& s) const {
    return relax<int>(s, kDead, [](const Act& a, const std::vector<int>& c) {
      int k = 1;
      for (const auto& pre : a.pre_atoms) k = std::min(kDead, k + cheapest(pre, c, kDead));
      for (const auto& [offline, others] : a.drain) k = std::min(kDead, k + std::min(c[offline], cheapest(others, c, kDead)));
      return k;
    });
  }

  /// h_add over atoms, in actions; kDead when a goal is out of reach even relaxed.
  int relaxed_cost(const State& s) const {
    return goal_cost<int>(hadd(s), kDead, [](int h, int x) { return std::min(kDead, h + x); });
  }

  /// The goals out of reach even in the relaxation.
  std::vector<int> dead_goals(const State& s) const {
    const auto cost = hadd(s);
    std::vector<int> out;
    for (std::size_t i = 0; i < goal.size(); ++i) {
      int best = kDead;
      for (std::size_t v = 0; v < values[goal[i].fact].size() && v < 64; ++v)
        if (goal[i].mask >> v & 1) best = std::min(best, cost[atom_base[goal[i].fact] + static_cast<int>(v)]);
      if (best >= kDead) out.push_back(static_cast<int>(i));
    }
    return out;
  }

  /// h_max lower bound on group g's remaining outage.
  std::int64_t outage_bound(const State& s, std::size_t g) const {
    auto cost = relax<std::int64_t>(s, kInf, [g](const Act& a, const std::vector<std::int64_t>& c) {
      std::int64_t k = 0;
      for (const auto& pre : a.pre_atoms) k = std::max(k, cheapest(pre, c, kInf));
      return k >= kInf ? kInf : k + a.down_seconds[g];
    });
    return goal_cost<std::int64_t>(cost, kInf, [](std::int64_t h, std::int64_t x) { return std::max(h, x); });
  }

  /// Empty when every budget can still hold from `s`; else why not.
  std::string over_budget(const State& s) const {
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].budget < 0) continue;
      std::int64_t bound = outage_bound(s, g);
      if (bound >= kInf) continue;  // some goal is out of reach: relaxed_cost says so
      if (s.outage[g] + bound > groups[g].budget)
        return "available: " + groups[g].name + " outage_budget " + format_duration_ms(groups[g].budget * 1000) + " (at least " +
               format_duration_ms((s.outage[g] + bound) * 1000) + " of outage needed)";
    }
    return {};
  }
};

/// independent[a][b]: a and b run on different nodes, touch no fact in common, disrupt
/// nothing and take no group down, so "a then b" and "b then a" reach the same state under
/// the same constraints; the search keeps only the order with the smaller index first.
std::vector<std::vector<char>> independence(const Problem& p) {
  const std::size_t n = p.actions.size();
  std::vector<std::set<std::string>> touched(n);
  std::vector<char> quiet(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const Operator& a = p.actions[i];
    for (const auto& c : a.pre) touched[i].insert(c.fact);
    for (const auto& [k, v] : a.effects) touched[i].insert(k);
    quiet[i] = a.disruption == Disruption::none && a.outages.empty();
    for (const auto& g : p.available) quiet[i] = quiet[i] && !touched[i].count(g.online_fact) && !touched[i].count(g.owner_fact);
  }
  // Nodes in an order constraint: their steps' order matters to it.
  std::set<std::string> ordered;
  for (const auto& o : p.order)
    for (const auto& set : o.sets) ordered.insert(set.begin(), set.end());
  std::vector<std::vector<char>> ind(n, std::vector<char>(n, 0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j || !quiet[i] || !quiet[j] || p.actions[i].node == p.actions[j].node) continue;
      if (ordered.count(p.actions[i].node) || ordered.count(p.actions[j].node)) continue;
      bool shared = false;
      for (const auto& f : touched[i]) shared = shared || touched[j].count(f);
      ind[i][j] = !shared;
    }
  return ind;
}

}  // namespace

Found search(const Problem& p) {
  Found out;
  Compact c(p);
  if (!c.ok) {
    out.too_big = true;
    out.blocked.push_back("more than 64 nodes, or more than 63 values of one fact, take part in one coupled search");
    return out;
  }
  const auto independent = independence(p);
  struct Node {
    Compact::State st;
    std::size_t parent = SIZE_MAX;
    int action = -1;
    int depth = 0;
  };
  std::deque<Node> nodes;
  using Entry = std::tuple<std::int64_t, std::int64_t, std::size_t>;  // f, tie-break, node index
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> open;
  // ...and a state is dropped when one with the same key was reached no later. (Keeping
  // states apart by their exact outage as well multiplies the search twentyfold; the cost
  // of the rounding is that a plan within a minute of a budget may be missed: a refusal,
  // never a plan that breaks the budget, which every step still checks to the second.)
  std::unordered_map<std::string, std::int64_t> best;  // key -> elapsed
  Compact::State start = c.start();
  auto unmet_goals = [&](const Compact::State& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < c.goal.size(); ++i)
      if (!Compact::holds(c.goal[i], s)) out.push_back(describe(p.goal[i]));
    return out;
  };
  if (c.relaxed_cost(start) >= kDead) {  // out of reach whatever the search does
    for (int g : c.dead_goals(start)) out.blocked.push_back(describe(p.goal[g]));
    return out;
  }
  if (std::string why = c.over_budget(start); !why.empty()) {
    out.refused_by = why;
    // The blocked change: an unmet goal on the group's own resource, else the first unmet.
    for (const auto& av : p.available) {
      const std::string prefix = av.online_fact.substr(0, av.online_fact.rfind('.') + 1);
      if (why.find("available: " + av.group + " ") != 0) continue;
      for (const auto& g : p.goal)
        if (g.fact.starts_with(prefix) && !holds(g, p.initial)) out.blocked.push_back(describe(g));
    }
    for (const auto& g : unmet_goals(start)) out.blocked.push_back(g);
    return out;
  }
  nodes.push_back({start});
  open.push({0, 0, 0});
  best[c.key(start)] = 0;
  int closest = c.unmet(start);
  std::size_t closest_idx = 0;
  std::size_t counter = 0;
  while (!open.empty() && out.expansions < p.max_expansions) {
    auto [f, tie, idx] = open.top();
    open.pop();
    const Node& cur = nodes[idx];
    int h = c.unmet(cur.st);
    if (h == 0 && cur.st.open == 0) {
      if (std::getenv("CONVERGE_PLAN_STATS"))
        std::fprintf(stderr, "search: %zu expansions, %zu states\n", out.expansions, nodes.size());
      out.ok = true;
      for (std::size_t i = idx; nodes[i].action >= 0; i = nodes[i].parent) out.actions.push_back(nodes[i].action);
      std::reverse(out.actions.begin(), out.actions.end());
      return out;
    }
    if (h < closest) closest = h, closest_idx = idx;
    ++out.expansions;
    for (int a = 0; a < static_cast<int>(c.acts.size()); ++a) {
      if (!p.actions[a].search) continue;
      const Compact::Act& act = c.acts[a];
      if (cur.action >= 0 && a < cur.action && independent[cur.action][a]) continue;
      if (!c.changes(cur.st, act)) continue;
      bool ready = true;
      for (const auto& pre : act.pre) ready = ready && Compact::holds(pre, cur.st);
      if (!ready || !c.allowed(cur.st, act)) continue;
      Compact::State next = c.apply(cur.st, act);
      std::string key = c.key(next);
      auto it = best.find(key);
      if (it != best.end() && it->second <= next.elapsed) continue;
      best[key] = next.elapsed;
      int h_next = c.relaxed_cost(next);
      if (h_next >= kDead) continue;                  // the goal is out of reach from there
      if (!c.over_budget(next).empty()) continue;     // the budget cannot hold from there
      std::int64_t down = 0;
      for (std::int64_t o : next.outage) down += o;
      const int depth = cur.depth + 1;
      std::int64_t fn = depth + down / 60 + 10 * h_next;
      nodes.push_back({std::move(next), idx, a, depth});
      open.push({fn, static_cast<std::int64_t>(++counter), nodes.size() - 1});
    }
  }
  out.blocked = unmet_goals(nodes[closest_idx].st);
  return out;
}

}  // namespace converge::planning::detail

namespace converge::planning {

bool holds(const Condition& c, const Facts& f) {
  auto it = f.find(c.fact);
  const Value v = it == f.end() ? Value() : it->second;
  return std::find(c.any_of.begin(), c.any_of.end(), v) != c.any_of.end();
}

std::string set_text(const std::vector<std::string>& s) {
  std::string out;
  for (const auto& n : s) out += (out.empty() ? "" : ", ") + n;
  return "[" + out + "]";
}

}  // namespace converge::planning
