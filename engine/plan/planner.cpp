#include "engine/plan/planner.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <optional>
#include <set>

#include "engine/model/duration.h"
#include "engine/plan/planner_search.h"

namespace converge::planning {

namespace {

using detail::describe;
using detail::Found;
using detail::search;

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

  std::int64_t outage_after(const SearchState& s, const Operator& a, const Available& g) const {
    auto on = s.facts.find(g.online_fact);
    bool online = on != s.facts.end() && on->second == Value(true);
    bool down = !online || std::find(a.outages.begin(), a.outages.end(), g.group) != a.outages.end();
    for (const auto& [k, v] : a.effects) down = down || (k == g.online_fact && v == Value(false));
    auto it = s.outage.find(g.group);
    return (it == s.outage.end() ? 0 : it->second) + (down ? a.seconds : 0);
  }

  SearchState apply(const SearchState& s, const Operator& a) const {
    SearchState n = s;
    for (const auto& g : p_.available) n.outage[g.group] = outage_after(s, a, g);
    for (const auto& [k, v] : a.effects) n.facts[k] = v;
    n.elapsed += a.seconds;
    if (a.disruption != Disruption::none) n.open.insert(a.node);
    for (auto it = n.open.begin(); it != n.open.end();) it = goal_unmet_on(*it, n.facts) ? std::next(it) : n.open.erase(it);
    return n;
  }

 private:
  const Problem& p_;
};

/// `actions` one after another from time 0.
Plan sequential(const Problem& p, const std::vector<int>& actions) {
  Plan out;
  for (int a : actions) {
    out.steps.push_back({a, out.makespan_s, out.makespan_s + p.actions[a].seconds});
    out.makespan_s += p.actions[a].seconds;
  }
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
  // By start; steps that start together keep their node's order (an instant step and the
  // step after it start at the same second).
  std::stable_sort(out.steps.begin(), out.steps.end(), [](const Step& a, const Step& b) { return a.start_s < b.start_s; });
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
    const Operator& a = p.actions[s.action];
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
    const Operator& a = p.actions[s.action];
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

std::map<std::string, std::int64_t> planned_outage(const Problem& p, const Plan& plan) {
  if (p.available.empty()) return {};
  Checker ck(p);
  SearchState st{p.initial, {}, {}, 0};
  for (const auto& s : plan.steps) st = ck.apply(st, p.actions[s.action]);
  return st.outage;
}

namespace {

/// The first held goal on a node of `set` that is unmet now (and stays so: nothing in the
/// run pursues it); null when there is none.
const Condition* unmet_held(const Problem& p, const std::vector<std::string>& set) {
  for (const auto& h : p.held)
    if (std::count(set.begin(), set.end(), fact_node(h.fact)) && !holds(h, p.initial)) return &h;
  return nullptr;
}

/// A limited run (held goals) that an order constraint forbids: a held goal unmet on a
/// node of one set while a goal is unmet on a node of a later set.
std::optional<Refusal> held_by_order(const Problem& p) {
  for (const auto& o : p.order)
    for (std::size_t i = 0; i + 1 < o.sets.size(); ++i) {
      auto on = [](const std::vector<std::string>& set, const Condition& c) {
        return std::count(set.begin(), set.end(), fact_node(c.fact)) > 0;
      };
      const Condition* first = unmet_held(p, o.sets[i]);
      if (!first) continue;
      for (std::size_t j = i + 1; j < o.sets.size(); ++j)
        for (const auto& g : p.goal)
          if (on(o.sets[j], g) && !holds(g, p.initial)) {
            std::string text = "order " + set_text(o.sets[i]) + " before " + set_text(o.sets[j]);
            return Refusal{text, g.fact,
                           "no plan satisfies " + text + ": the run leaves out " + first->fact + ", which must change first (--limit/--tags); blocked: " + g.fact};
          }
    }
  return std::nullopt;
}

/// A plan with a step on a node of an order constraint's later set while a held goal on an
/// earlier set is unmet (it stays unmet: the run leaves it out).
std::optional<Refusal> step_after_held(const Problem& p, const Plan& plan) {
  for (const auto& o : p.order)
    for (std::size_t i = 0; i + 1 < o.sets.size(); ++i) {
      const Condition* first = unmet_held(p, o.sets[i]);
      if (!first) continue;
      for (const auto& s : plan.steps)
        for (std::size_t j = i + 1; j < o.sets.size(); ++j)
          if (std::count(o.sets[j].begin(), o.sets[j].end(), p.actions[s.action].node)) {
            std::string text = "order " + set_text(o.sets[i]) + " before " + set_text(o.sets[j]);
            return Refusal{text, p.actions[s.action].name,
                           "no plan satisfies " + text + ": the run leaves out " + first->fact +
                               ", which must change first (--limit/--tags); blocked: " + p.actions[s.action].name + " on " +
                               p.actions[s.action].node};
          }
    }
  return std::nullopt;
}

}  // namespace

std::expected<Plan, Refusal> plan(const Problem& full) {
  if (auto r = held_by_order(full)) return std::unexpected(*r);
  const Problem p = for_search(full);
  std::expected<Plan, Refusal> result;
  if (separable(p)) {
    result = plan_separable(p);
  } else {
    Found f = search(p);
    if (!f.ok && f.too_big)
      return std::unexpected(Refusal{"(search limit)", "", f.blocked.empty() ? "the problem is too large" : f.blocked.front()});
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
    // Drop steps the plan does not need (a Remote Registry cycle before a reboot that
    // undoes it): earliest first, a step goes when the plan without it still verifies.
    std::vector<int> actions = f.actions;
    for (std::size_t i = 0; i < actions.size();) {
      std::vector<int> without = actions;
      without.erase(without.begin() + static_cast<long>(i));
      if (verify(full, sequential(full, without))) actions = std::move(without);
      else ++i;
    }
    result = sequential(full, actions);
  }
  if (!result) return result;
  if (auto v = verify(full, *result); !v) return std::unexpected(v.error());
  if (auto r = step_after_held(full, *result)) return std::unexpected(*r);
  // Outage per group as planned (only groups that must stay available are counted).
  result->outage_s = planned_outage(full, *result);
  return result;
}

}  // namespace converge::planning
