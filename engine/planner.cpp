#include "engine/planner.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <climits>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <set>
#include <unordered_map>

#include "engine/duration.h"

namespace converge::planning {

namespace {

bool holds(const Condition& c, const Facts& f) {
  auto it = f.find(c.fact);
  const Value v = it == f.end() ? Value() : it->second;
  return std::find(c.any_of.begin(), c.any_of.end(), v) != c.any_of.end();
}

std::string describe(const Condition& c) {
  std::string out = c.fact + " = ";
  for (std::size_t i = 0; i < c.any_of.size(); ++i) out += (i ? " or " : "") + c.any_of[i].to_string();
  return out;
}

std::string set_text(const std::vector<std::string>& s) {
  std::string out;
  for (const auto& n : s) out += (out.empty() ? "" : ", ") + n;
  return "[" + out + "]";
}

struct SearchState {
  Facts facts;
  std::set<std::string> open;
  std::map<std::string, std::int64_t> outage;
  std::int64_t elapsed = 0;
};

/// What the constraints say about one action in one state.
class Checker {
 public:
  explicit Checker(const Problem& p) : p_(p) {}

  bool goal_unmet_on(const std::string& node, const Facts& f) const {
    for (const auto& g : p_.goal)
      if (fact_node(g.fact) == node && !holds(g, f)) return true;
    return false;
  }

  /// Empty when `a` may run now; else the constraint it would break.
  std::string violation(const SearchState& s, const Action& a) const {
    for (const auto& o : p_.order) {
      std::size_t mine = o.sets.size();
      for (std::size_t i = 0; i < o.sets.size() && mine == o.sets.size(); ++i)
        if (std::find(o.sets[i].begin(), o.sets[i].end(), a.node) != o.sets[i].end()) mine = i;
      for (std::size_t j = 0; j < mine && mine < o.sets.size(); ++j)
        for (const auto& n : o.sets[j])
          if (goal_unmet_on(n, s.facts)) return "order: " + set_text(o.sets[j]) + " before " + set_text(o.sets[mine]);
    }
    if (a.disruption != Disruption::none && !s.open.count(a.node)) {
      for (const auto& m : p_.max_disrupted) {
        if (std::find(m.nodes.begin(), m.nodes.end(), a.node) == m.nodes.end()) continue;
        int open = 0;
        for (const auto& n : m.nodes) open += s.open.count(n) ? 1 : 0;
        if (open >= m.k) return "max_disrupted: " + std::to_string(m.k) + " of " + set_text(m.nodes);
      }
    }
    for (const auto& g : p_.available) {
      auto on = s.facts.find(g.online_fact);
      auto owner = s.facts.find(g.owner_fact);
      bool online = on != s.facts.end() && on->second == Value(true);
      if (a.disruption == Disruption::node && online && owner != s.facts.end() && owner->second == Value(a.node))
        return "available: " + g.group + " (" + a.name + " on " + a.node + " would take it down unplanned)";
      if (g.budget_s >= 0) {
        std::int64_t next = outage_after(s, a, g);
        if (next > g.budget_s)
          return "available: " + g.group + " outage_budget " + format_duration_ms(g.budget_s * 1000) + " (would reach " +
                 format_duration_ms(next * 1000) + ")";
      }
    }
    return {};
  }

  std::int64_t outage_after(const SearchState& s, const Action& a, const Available& g) const {
    auto on = s.facts.find(g.online_fact);
    bool online = on != s.facts.end() && on->second == Value(true);
    bool down = !online || std::find(a.outages.begin(), a.outages.end(), g.group) != a.outages.end();
    for (const auto& [k, v] : a.effects) down = down || (k == g.online_fact && v == Value(false));
    auto it = s.outage.find(g.group);
    return (it == s.outage.end() ? 0 : it->second) + (down ? a.seconds : 0);
  }

  SearchState apply(const SearchState& s, const Action& a) const {
    SearchState n = s;
    for (const auto& g : p_.available) n.outage[g.group] = outage_after(s, a, g);
    for (const auto& [k, v] : a.effects) n.facts[k] = v;
    n.elapsed += a.seconds;
    if (a.disruption != Disruption::none) n.open.insert(a.node);
    for (auto it = n.open.begin(); it != n.open.end();) it = goal_unmet_on(*it, n.facts) ? std::next(it) : n.open.erase(it);
    return n;
  }

  /// h_add: the summed cost of reaching each goal when nothing is ever undone (a relaxed
  /// problem), in actions. kDead when some goal cannot be reached even so: a dead end
  /// (both CCR nodes upgraded while the CMS is still RTM) is pruned at once. Computed over
  /// integer atoms (fact = value) compiled once per problem.
  static constexpr int kDead = 1 << 20;
  int relaxed_cost(const Facts& f) const {
    compile();
    const Compiled& c = *compiled_;
    std::vector<int> cost(c.atoms.size(), kDead);
    std::vector<char> present(c.facts.size(), 0);
    for (const auto& [k, v] : f) {
      auto fi = c.fact_id.find(k);
      if (fi == c.fact_id.end()) continue;
      present[fi->second] = 1;
      for (const auto& [value, id] : c.fact_atoms[fi->second])
        if (value == v) cost[id] = 0;
    }
    auto cond_cost = [&](const CCond& cc) {
      int best = cc.null_ok && !present[cc.fact] ? 0 : kDead;
      for (int a : cc.atoms) best = std::min(best, cost[a]);
      return best;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& a : c.actions) {
        int k = 1;
        for (const auto& pre : a.pre) k = std::min(kDead, k + cond_cost(pre));
        // A node-disruptive action on the owner of an available group needs the group gone
        // from it first (moved, or stopped): the constraint, seen by the relaxation too.
        for (const auto& [offline, other_owner] : a.drain) {
          int best = offline >= 0 ? cost[offline] : kDead;
          for (int o : other_owner) best = std::min(best, cost[o]);
          k = std::min(kDead, k + best);
        }
        if (k >= kDead) continue;
        for (int e : a.effects)
          if (k < cost[e]) cost[e] = k, changed = true;
      }
    }
    int h = 0;
    for (const auto& g : c.goal) h = std::min(kDead, h + cond_cost(g));
    return h;
  }

  /// A lower bound on the outage group `g` still has to take before every goal holds:
  /// h_max over the relaxed problem where an action costs its seconds when it runs while
  /// the group is down (it needs the group offline, takes it down, or lists it in
  /// outages) and nothing otherwise. Admissible, so a state whose outage so far plus this
  /// bound passes the budget can be dropped, and a root that does is refused at once.
  std::int64_t outage_bound(const Facts& f, std::size_t g) const {
    compile();
    const Compiled& c = *compiled_;
    constexpr std::int64_t kInf = INT64_MAX / 4;
    std::vector<std::int64_t> cost(c.atoms.size(), kInf);
    std::vector<char> present(c.facts.size(), 0);
    for (const auto& [k, v] : f) {
      auto fi = c.fact_id.find(k);
      if (fi == c.fact_id.end()) continue;
      present[fi->second] = 1;
      for (const auto& [value, id] : c.fact_atoms[fi->second])
        if (value == v) cost[id] = 0;
    }
    auto cond_cost = [&](const CCond& cc) {
      std::int64_t best = cc.null_ok && !present[cc.fact] ? 0 : kInf;
      for (int a : cc.atoms) best = std::min(best, cost[a]);
      return best;
    };
    for (bool changed = true; changed;) {
      changed = false;
      for (const auto& a : c.actions) {
        std::int64_t k = 0;
        for (const auto& pre : a.pre) k = std::max(k, cond_cost(pre));
        if (k >= kInf) continue;
        k += a.down_seconds[g];
        for (int e : a.effects)
          if (k < cost[e]) cost[e] = k, changed = true;
      }
    }
    std::int64_t h = 0;
    for (const auto& goal : c.goal) h = std::max(h, cond_cost(goal));
    return h;
  }

  /// Empty when the outage bound fits every budget from `s`; else the constraint.
  std::string over_budget(const SearchState& s) const {
    for (std::size_t g = 0; g < p_.available.size(); ++g) {
      const auto& av = p_.available[g];
      if (av.budget_s < 0) continue;
      auto it = s.outage.find(av.group);
      std::int64_t so_far = it == s.outage.end() ? 0 : it->second;
      std::int64_t bound = outage_bound(s.facts, g);
      if (so_far + bound > av.budget_s)
        return "available: " + av.group + " outage_budget " + format_duration_ms(av.budget_s * 1000) + " (at least " +
               format_duration_ms((so_far + std::min<std::int64_t>(bound, 1LL << 40)) * 1000) + " of outage needed)";
    }
    return {};
  }

  int unmet(const Facts& f) const {
    int n = 0;
    for (const auto& g : p_.goal) n += holds(g, f) ? 0 : 1;
    return n;
  }

  bool changes(const SearchState& s, const Action& a) const {
    for (const auto& [k, v] : a.effects) {
      auto it = s.facts.find(k);
      if (it == s.facts.end() ? !v.is_null() : !(it->second == v)) return true;
    }
    return false;
  }

 private:
  struct CCond {
    int fact = 0;
    bool null_ok = false;
    std::vector<int> atoms;
  };
  struct CAction {
    std::vector<CCond> pre;
    std::vector<int> effects;
    std::vector<std::pair<int, std::vector<int>>> drain;  ///< per available group: (online=false, owner=other)
    std::vector<std::int64_t> down_seconds;               ///< per available group: seconds it is down meanwhile
  };
  struct Compiled {
    std::unordered_map<std::string, int> fact_id, atom_id;
    std::vector<std::string> facts, atoms;
    std::vector<std::vector<std::pair<Value, int>>> fact_atoms;  ///< per fact: its values' atoms
    std::vector<CAction> actions;
    std::vector<CCond> goal;
  };

  void compile() const {
    if (compiled_) return;
    auto c = std::make_unique<Compiled>();
    auto fact = [&](const std::string& k) {
      auto [it, fresh] = c->fact_id.emplace(k, static_cast<int>(c->facts.size()));
      if (fresh) c->facts.push_back(k);
      return it->second;
    };
    auto atom = [&](const std::string& k, const Value& v) {
      int fi = fact(k);
      std::string key = k + '\x1f' + v.to_json();
      auto [it, fresh] = c->atom_id.emplace(key, static_cast<int>(c->atoms.size()));
      if (fresh) {
        c->atoms.push_back(key);
        if (c->fact_atoms.size() <= static_cast<std::size_t>(fi)) c->fact_atoms.resize(fi + 1);
        c->fact_atoms[fi].push_back({v, it->second});
      }
      return it->second;
    };
    auto cond = [&](const Condition& x) {
      CCond cc;
      cc.fact = fact(x.fact);
      for (const auto& v : x.any_of) {
        if (v.is_null()) cc.null_ok = true;
        cc.atoms.push_back(atom(x.fact, v));
      }
      return cc;
    };
    // Owner values of each available group, for the drain requirement.
    std::vector<std::vector<std::pair<Value, int>>> owners(p_.available.size());
    for (const auto& a : p_.actions)
      for (const auto& [k, v] : a.effects)
        for (std::size_t g = 0; g < p_.available.size(); ++g)
          if (k == p_.available[g].owner_fact) owners[g].push_back({v, atom(k, v)});
    for (std::size_t g = 0; g < p_.available.size(); ++g)
      if (auto it = p_.initial.find(p_.available[g].owner_fact); it != p_.initial.end())
        owners[g].push_back({it->second, atom(p_.available[g].owner_fact, it->second)});
    for (const auto& a : p_.actions) {
      if (!a.search) continue;
      CAction ca;
      for (const auto& x : a.pre) ca.pre.push_back(cond(x));
      for (const auto& [k, v] : a.effects) ca.effects.push_back(atom(k, v));
      for (const auto& g : p_.available) {
        bool down = std::find(a.outages.begin(), a.outages.end(), g.group) != a.outages.end();
        for (const auto& x : a.pre)
          down = down || (x.fact == g.online_fact && x.any_of == std::vector<Value>{Value(false)});
        for (const auto& [k, v] : a.effects) down = down || (k == g.online_fact && v == Value(false));
        ca.down_seconds.push_back(down ? a.seconds : 0);
      }
      if (a.disruption == Disruption::node)
        for (std::size_t g = 0; g < p_.available.size(); ++g) {
          std::vector<int> other;
          for (const auto& [v, id] : owners[g])
            if (!(v == Value(a.node))) other.push_back(id);
          ca.drain.push_back({atom(p_.available[g].online_fact, Value(false)), other});
        }
      c->actions.push_back(std::move(ca));
    }
    for (const auto& g : p_.goal) c->goal.push_back(cond(g));
    c->fact_atoms.resize(c->facts.size());
    compiled_ = std::move(c);
  }

  const Problem& p_;
  mutable std::unique_ptr<Compiled> compiled_;
};

std::string state_key(const SearchState& s) {
  std::string k;
  for (const auto& [f, v] : s.facts) k += f + "=" + v.to_json() + ";";
  k += "|";
  for (const auto& n : s.open) k += n + ",";
  k += "|";
  for (const auto& [g, o] : s.outage) k += g + ":" + std::to_string(o / 60) + ",";
  return k;
}

struct Found {
  std::vector<int> actions;
  bool ok = false;
  std::string refused_by;            ///< a constraint that already fails at the start
  std::vector<std::string> blocked;  ///< goals unmet in the closest state reached
};

/// independent[a][b]: a and b run on different nodes, touch no fact in common, disrupt
/// nothing and take no group down, so "a then b" and "b then a" reach the same state under
/// the same constraints; the search keeps only the order with the smaller index first.
std::vector<std::vector<char>> independence(const Problem& p) {
  const std::size_t n = p.actions.size();
  std::vector<std::set<std::string>> touched(n);
  std::vector<char> quiet(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const Action& a = p.actions[i];
    for (const auto& c : a.pre) touched[i].insert(c.fact);
    for (const auto& [k, v] : a.effects) touched[i].insert(k);
    quiet[i] = a.disruption == Disruption::none && a.outages.empty();
    for (const auto& g : p.available) quiet[i] = quiet[i] && !touched[i].count(g.online_fact) && !touched[i].count(g.owner_fact);
  }
  std::vector<std::vector<char>> ind(n, std::vector<char>(n, 0));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      if (i == j || !quiet[i] || !quiet[j] || p.actions[i].node == p.actions[j].node) continue;
      bool shared = false;
      for (const auto& f : touched[i]) shared = shared || touched[j].count(f);
      ind[i][j] = !shared;
    }
  return ind;
}

/// Weighted A* over whole states. Sequential plans.
Found search(const Problem& p) {
  Checker ck(p);
  const auto independent = independence(p);
  // Nodes live in a deque (stable addresses); a path is rebuilt from parent links.
  struct Node {
    SearchState st;
    std::size_t parent = SIZE_MAX;
    int action = -1;
    int depth = 0;
  };
  std::deque<Node> nodes;
  using Entry = std::tuple<std::int64_t, std::int64_t, std::size_t>;  // f, tie-break, node index
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> open;
  std::unordered_map<std::string, std::int64_t> best;
  SearchState start{p.initial, {}, {}, 0};
  if (std::string why = ck.over_budget(start); !why.empty()) {
    Found r;
    r.refused_by = why;
    // The blocked change: an unmet goal on the group's own resource, else the first unmet.
    for (const auto& av : p.available) {
      const std::string prefix = av.online_fact.substr(0, av.online_fact.rfind('.') + 1);
      if (why.find("available: " + av.group + " ") != 0) continue;
      for (const auto& g : p.goal)
        if (g.fact.starts_with(prefix) && !holds(g, p.initial)) r.blocked.push_back(describe(g));
    }
    for (const auto& g : p.goal)
      if (!holds(g, p.initial)) r.blocked.push_back(describe(g));
    return r;
  }
  nodes.push_back({start});
  open.push({0, 0, 0});
  best[state_key(start)] = 0;
  Found out;
  int closest = ck.unmet(p.initial);
  SearchState closest_state = start;
  std::size_t expansions = 0, counter = 0;
  while (!open.empty() && expansions < p.max_expansions) {
    auto [f, tie, idx] = open.top();
    open.pop();
    const Node& cur = nodes[idx];
    int h = ck.unmet(cur.st.facts);
    if (h == 0 && cur.st.open.empty()) {
      if (std::getenv("CONVERGE_PLAN_STATS"))
        std::fprintf(stderr, "search: %zu expansions, %zu states\n", expansions, nodes.size());
      out.ok = true;
      for (std::size_t i = idx; nodes[i].action >= 0; i = nodes[i].parent) out.actions.push_back(nodes[i].action);
      std::reverse(out.actions.begin(), out.actions.end());
      return out;
    }
    if (h < closest) closest = h, closest_state = cur.st;
    ++expansions;
    for (int a = 0; a < static_cast<int>(p.actions.size()); ++a) {
      const Action& act = p.actions[a];
      if (!act.search) continue;
      if (cur.action >= 0 && a < cur.action && independent[cur.action][a]) continue;
      bool ready = ck.changes(cur.st, act);
      for (const auto& c : act.pre) ready = ready && holds(c, cur.st.facts);
      if (!ready || !ck.violation(cur.st, act).empty()) continue;
      SearchState next = ck.apply(cur.st, act);
      std::string key = state_key(next);
      auto it = best.find(key);
      if (it != best.end() && it->second <= next.elapsed) continue;
      best[key] = next.elapsed;
      int h_next = ck.relaxed_cost(next.facts);
      if (h_next >= Checker::kDead) continue;  // the goal is out of reach from there
      if (!ck.over_budget(next).empty()) continue;  // the budget cannot hold from there
      // Cost: steps, plus minutes of planned outage (so that the search keeps groups up),
      // plus the weighted distance to the goal.
      std::int64_t down = 0;
      for (const auto& [g, o] : next.outage) down += o;
      const int depth = cur.depth + 1;
      std::int64_t fn = depth + down / 60 + 10 * h_next;
      nodes.push_back({std::move(next), idx, a, depth});
      open.push({fn, static_cast<std::int64_t>(++counter), nodes.size() - 1});
    }
  }
  for (const auto& g : p.goal)
    if (!holds(g, closest_state.facts)) out.blocked.push_back(describe(g));
  return out;
}

/// True when no action touches another node's facts and no group must stay available:
/// the nodes can then be planned one by one and scheduled in batches.
bool separable(const Problem& p) {
  if (!p.available.empty()) return false;
  for (const auto& a : p.actions) {
    if (!a.search) continue;
    for (const auto& c : a.pre)
      if (fact_node(c.fact) != a.node) return false;
    for (const auto& [k, v] : a.effects)
      if (fact_node(k) != a.node) return false;
  }
  return true;
}

/// Plans each node alone (identical nodes share one search) and schedules them: order
/// sets one after another, disruptive nodes in batches of the tightest max_disrupted.
std::expected<Plan, Refusal> plan_separable(const Problem& p) {
  std::map<std::string, std::vector<int>> by_node;
  for (int i = 0; i < static_cast<int>(p.actions.size()); ++i)
    if (p.actions[i].search) by_node[p.actions[i].node].push_back(i);
  std::map<std::string, std::vector<Condition>> goals;
  for (const auto& g : p.goal) goals[fact_node(g.fact)].push_back(g);
  std::map<std::string, std::vector<std::pair<std::string, Value>>> initial_by_node;
  for (const auto& [k, v] : p.initial) initial_by_node[fact_node(k)].emplace_back(k, v);
  std::map<std::string, std::vector<int>> node_plan;
  std::map<std::string, std::vector<int>> memo;  // node-relative signature -> local action indices
  for (const auto& [node, gs] : goals) {
    Problem sub;
    sub.max_expansions = p.max_expansions;
    const std::string prefix = node + "/";
    std::string sig;
    for (const auto& [k, v] : initial_by_node[node]) sub.initial[k] = v, sig += k.substr(prefix.size()) + "=" + v.to_json() + ";";
    sub.goal = gs;
    for (const auto& g : gs) sig += "g:" + g.fact.substr(prefix.size()) + ";";
    for (int i : by_node[node]) {
      sub.actions.push_back(p.actions[i]);
      sig += "a:" + p.actions[i].name + ";";
    }
    std::vector<int> local;
    if (auto it = memo.find(sig); it != memo.end()) {
      local = it->second;
    } else {
      Found f = search(sub);
      if (!f.ok)
        return std::unexpected(Refusal{"", f.blocked.empty() ? node : f.blocked.front(),
                                       "no sequence of actions reaches the goal on " + node});
      local = f.actions;
      memo.emplace(sig, local);
    }
    for (int l : local) node_plan[node].push_back(by_node[node][l]);
  }
  // Phases from the order constraint (nodes outside every set go in the first phase).
  std::vector<std::vector<std::string>> phases(1);
  std::set<std::string> placed;
  for (const auto& o : p.order)
    for (std::size_t i = 0; i < o.sets.size(); ++i) {
      if (phases.size() < i + 1) phases.resize(i + 1);
      for (const auto& n : o.sets[i])
        if (placed.insert(n).second) phases[i].push_back(n);
    }
  for (const auto& [n, _] : node_plan)
    if (!placed.count(n)) phases[0].push_back(n);
  Plan out;
  std::int64_t t = 0;
  for (auto& phase : phases) {
    std::sort(phase.begin(), phase.end());
    std::vector<std::string> calm, disruptive;
    for (const auto& n : phase) {
      if (!node_plan.count(n) || node_plan[n].empty()) continue;
      bool d = std::any_of(node_plan[n].begin(), node_plan[n].end(),
                           [&](int a) { return p.actions[a].disruption != Disruption::none; });
      (d ? disruptive : calm).push_back(n);
    }
    auto run_node = [&](const std::string& n, std::int64_t start) {
      std::int64_t at = start;
      for (int a : node_plan[n]) {
        out.steps.push_back({a, at, at + p.actions[a].seconds});
        at += p.actions[a].seconds;
      }
      return at;
    };
    std::int64_t phase_end = t;
    for (const auto& n : calm) phase_end = std::max(phase_end, run_node(n, t));
    std::size_t k = disruptive.size();
    for (const auto& m : p.max_disrupted) k = std::min<std::size_t>(k, static_cast<std::size_t>(std::max(1, m.k)));
    std::int64_t batch_start = t;
    for (std::size_t i = 0; i < disruptive.size(); i += std::max<std::size_t>(k, 1)) {
      std::int64_t batch_end = batch_start;
      for (std::size_t j = i; j < std::min(disruptive.size(), i + k); ++j)
        batch_end = std::max(batch_end, run_node(disruptive[j], batch_start));
      batch_start = batch_end;
    }
    t = std::max(phase_end, batch_start);
  }
  std::stable_sort(out.steps.begin(), out.steps.end(),
                   [](const Step& a, const Step& b) { return std::tie(a.start_s, a.action) < std::tie(b.start_s, b.action); });
  out.makespan_s = t;
  return out;
}

}  // namespace

std::string fact_node(const std::string& fact) { return fact.substr(0, fact.find('/')); }

std::expected<void, Refusal> verify(const Problem& p, const Plan& plan) {
  Checker ck(p);
  Facts facts = p.initial;
  std::map<std::string, std::int64_t> outage;
  // Preconditions and effects in start order (independent nodes commute).
  for (const auto& s : plan.steps) {
    const Action& a = p.actions[s.action];
    for (const auto& c : a.pre)
      if (!holds(c, facts))
        return std::unexpected(Refusal{"precondition", describe(c), a.name + " on " + a.node + " needs " + describe(c)});
    SearchState st;
    if (!p.available.empty()) st = SearchState{facts, {}, outage, 0};
    for (const auto& g : p.available) {
      auto on = facts.find(g.online_fact);
      auto owner = facts.find(g.owner_fact);
      if (a.disruption == Disruption::node && on != facts.end() && on->second == Value(true) && owner != facts.end() &&
          owner->second == Value(a.node))
        return std::unexpected(Refusal{"available: " + g.group, a.name, a.name + " takes " + g.group + " down unplanned"});
      outage[g.group] = ck.outage_after(st, a, g);
      if (g.budget_s >= 0 && outage[g.group] > g.budget_s)
        return std::unexpected(Refusal{"available: " + g.group + " outage_budget", a.name, "outage over budget"});
    }
    for (const auto& [k, v] : a.effects) facts[k] = v;
  }
  for (const auto& g : p.goal)
    if (!holds(g, facts)) return std::unexpected(Refusal{"goal", describe(g), "the plan does not reach " + describe(g)});
  // max_disrupted: a node is disrupted from the start of its first disruptive step until
  // the end of the step after which every goal on it holds (the search's "open" node).
  std::map<std::string, std::vector<const Condition*>> goals_on;
  for (const auto& g : p.goal) goals_on[fact_node(g.fact)].push_back(&g);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> window;  // node -> [open, close)
  std::set<std::string> open_now;
  Facts replay = p.initial;
  for (const auto& s : plan.steps) {
    const Action& a = p.actions[s.action];
    for (const auto& [k, v] : a.effects) replay[k] = v;
    if (a.disruption != Disruption::none && !open_now.count(a.node)) {
      open_now.insert(a.node);
      window[a.node] = {s.start_s, plan.makespan_s};
    }
    for (auto it = open_now.begin(); it != open_now.end();) {
      bool met = true;
      for (const Condition* g : goals_on[*it]) met = met && holds(*g, replay);
      if (met) {
        window[*it].second = s.end_s;
        it = open_now.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& m : p.max_disrupted) {
    std::vector<std::pair<std::int64_t, int>> edges;
    for (const auto& n : m.nodes)
      if (auto it = window.find(n); it != window.end()) edges.push_back({it->second.first, 1}), edges.push_back({it->second.second, -1});
    std::sort(edges.begin(), edges.end());  // an end (-1) sorts before a start at the same time
    int open = 0;
    for (const auto& [t, d] : edges)
      if ((open += d) > m.k)
        return std::unexpected(Refusal{"max_disrupted: " + std::to_string(m.k) + " of " + set_text(m.nodes), "",
                                       "more than " + std::to_string(m.k) + " nodes disrupted at once"});
  }
  // order: every step on a later set starts after the last step on an earlier set ends.
  for (const auto& o : p.order)
    for (std::size_t i = 1; i < o.sets.size(); ++i) {
      std::int64_t earlier_end = 0, later_start = INT64_MAX;
      for (const auto& s : plan.steps) {
        const std::string& n = p.actions[s.action].node;
        for (std::size_t j = 0; j < i; ++j)
          if (std::count(o.sets[j].begin(), o.sets[j].end(), n)) earlier_end = std::max(earlier_end, s.end_s);
        if (std::count(o.sets[i].begin(), o.sets[i].end(), n)) later_start = std::min(later_start, s.start_s);
      }
      if (later_start < earlier_end)
        return std::unexpected(Refusal{"order", set_text(o.sets[i]), "a step on " + set_text(o.sets[i]) + " starts too early"});
    }
  return {};
}

namespace {

/// The problem the search sees: only facts that a searchable action reads or changes (or
/// an available group's), and the goals on them or not holding already. Everything else is
/// constant during the search; verify() still replays the whole problem.
Problem for_search(const Problem& full) {
  std::set<std::string> live;
  for (const auto& a : full.actions) {
    if (!a.search) continue;
    for (const auto& c : a.pre) live.insert(c.fact);
    for (const auto& [k, _] : a.effects) live.insert(k);
  }
  for (const auto& g : full.available) live.insert(g.owner_fact), live.insert(g.online_fact);
  Problem q = full;
  q.initial.clear();
  for (const auto& [k, v] : full.initial)
    if (live.count(k)) q.initial.emplace(k, v);
  q.goal.clear();
  for (const auto& g : full.goal)
    if (live.count(g.fact) || !holds(g, full.initial)) q.goal.push_back(g);
  return q;
}

}  // namespace

std::expected<Plan, Refusal> plan(const Problem& full) {
  const Problem p = for_search(full);
  std::expected<Plan, Refusal> result;
  if (separable(p)) {
    result = plan_separable(p);
  } else {
    Found f = search(p);
    if (!f.ok && !f.refused_by.empty()) {
      std::string c = f.refused_by.substr(0, f.refused_by.find(" ("));
      return std::unexpected(Refusal{c, f.blocked.empty() ? "" : f.blocked.front(),
                                     "no plan satisfies " + f.refused_by + "; blocked: " +
                                         (f.blocked.empty() ? std::string("(nothing)") : f.blocked.front())});
    }
    if (!f.ok) {
      // Name the constraint: the first whose removal makes a plan exist.
      Refusal r{"", f.blocked.empty() ? "" : f.blocked.front(), "no plan satisfies the constraints"};
      auto try_without = [&](auto member, std::size_t i, const std::string& text) {
        if (!r.constraint.empty()) return;
        Problem q = p;
        auto& list = q.*member;
        list.erase(list.begin() + static_cast<long>(i));
        if (search(q).ok) r.constraint = text;
      };
      for (std::size_t i = 0; i < p.available.size(); ++i)
        try_without(&Problem::available, i, "available: " + p.available[i].group +
                                                 (p.available[i].budget_s >= 0 ? " outage_budget " + format_duration_ms(p.available[i].budget_s * 1000) : ""));
      for (std::size_t i = 0; i < p.max_disrupted.size(); ++i)
        try_without(&Problem::max_disrupted, i, "max_disrupted: " + std::to_string(p.max_disrupted[i].k) + " of " + set_text(p.max_disrupted[i].nodes));
      for (std::size_t i = 0; i < p.order.size(); ++i) try_without(&Problem::order, i, "order");
      if (r.constraint.empty()) r.constraint = "(none: the goal is unreachable with the available actions)";
      r.message = "no plan satisfies " + r.constraint + "; blocked: " + r.blocked;
      return std::unexpected(r);
    }
    Plan out;
    std::int64_t t = 0;
    for (int a : f.actions) {
      out.steps.push_back({a, t, t + p.actions[a].seconds});
      t += p.actions[a].seconds;
    }
    out.makespan_s = t;
    // Drop steps the plan does not need (a Remote Registry cycle before a reboot that
    // undoes it): earliest first, a step goes when the plan without it still verifies.
    for (std::size_t i = 0; i < out.steps.size();) {
      Plan q;
      std::int64_t at = 0;
      for (std::size_t j = 0; j < out.steps.size(); ++j) {
        if (j == i) continue;
        const auto& a = full.actions[out.steps[j].action];
        q.steps.push_back({out.steps[j].action, at, at + a.seconds});
        at += a.seconds;
      }
      q.makespan_s = at;
      if (verify(full, q)) out = std::move(q);
      else ++i;
    }
    result = out;
  }
  if (!result) return result;
  if (auto v = verify(full, *result); !v) return std::unexpected(v.error());
  // Outage per group as planned (a sequential replay; only groups that must stay available
  // are counted, so a tier without them skips this).
  if (!p.available.empty()) {
    Checker ck(p);
    SearchState st{p.initial, {}, {}, 0};
    for (const auto& s : result->steps) st = ck.apply(st, p.actions[s.action]);
    result->outage_s = st.outage;
  }
  return result;
}

}  // namespace converge::planning
