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

/// `actions` one after another from time 0.
Plan sequential(const Problem& p, const std::vector<int>& actions) {
  Plan out;
  out.chains = 1;
  for (int a : actions) {
    out.steps.push_back({a, out.makespan_s, out.makespan_s + p.actions[a].seconds, 0});
    out.makespan_s += p.actions[a].seconds;
  }
  out.lower_bound_s = out.makespan_s;
  return out;
}

/// The wall-time outage of each available group along a plan; `over` names the first group
/// found over its budget (when a caller asks).
std::map<std::string, std::int64_t> outage_by_time(const Problem& p, const Plan& plan, const Available** over = nullptr) {
  std::map<std::string, std::int64_t> total;
  if (p.available.empty()) return total;
  // Each group's state follows from the steps that set its online fact.
  std::vector<std::optional<std::int64_t>> down_since(p.available.size());
  for (std::size_t i = 0; i < p.available.size(); ++i) {
    total[p.available[i].group] += 0;
    auto in = p.initial.find(p.available[i].online_fact);
    if (in == p.initial.end() || !(in->second == Value(true))) down_since[i] = 0;
  }
  auto close = [&](std::size_t i, std::int64_t at) {
    const Available& g = p.available[i];
    total[g.group] += at - *down_since[i];
    down_since[i].reset();
    if (over && !*over && g.budget_s >= 0 && total[g.group] > g.budget_s) *over = &g;
  };
  for (const auto& s : plan.steps) {
    const Operator& a = p.actions[s.action];
    for (std::size_t i = 0; i < p.available.size(); ++i) {
      const Available& g = p.available[i];
      std::optional<bool> sets;
      for (const auto& [k, v] : a.effects)
        if (k == g.online_fact) sets = v == Value(true);
      bool lists = std::find(a.outages.begin(), a.outages.end(), g.group) != a.outages.end();
      if (down_since[i]) {
        if (sets && *sets) close(i, s.end_s);
      } else if (sets && !*sets) {
        down_since[i] = s.start_s;
      } else if (lists) {
        down_since[i] = s.start_s;
        close(i, s.end_s);
      }
    }
  }
  for (std::size_t i = 0; i < p.available.size(); ++i)
    if (down_since[i]) close(i, plan.makespan_s);
  return total;
}

}  // namespace

std::string fact_node(const std::string& fact) { return fact.substr(0, fact.find('/')); }

std::expected<void, Refusal> verify(const Problem& p, const Plan& plan) {
  Facts facts = p.initial;
  // Preconditions and effects in start order (steps of different chains share no fact).
  for (const auto& s : plan.steps) {
    const Operator& a = p.actions[s.action];
    for (const auto& c : a.pre)
      if (!holds(c, facts))
        return std::unexpected(Refusal{"precondition", describe(c), a.name + " on " + a.node + " needs " + describe(c)});
    if (a.disruption == Disruption::node)
      for (const auto& g : p.available) {
        auto on = facts.find(g.online_fact);
        auto owner = facts.find(g.owner_fact);
        if (on != facts.end() && on->second == Value(true) && owner != facts.end() && owner->second == Value(a.node))
          return std::unexpected(Refusal{"available: " + g.group, a.name, a.name + " takes " + g.group + " down unplanned"});
      }
    for (const auto& [k, v] : a.effects) facts[k] = v;
  }
  for (const auto& g : p.goal)
    if (!holds(g, facts)) return std::unexpected(Refusal{"goal", describe(g), "the plan does not reach " + describe(g)});
  const Available* over = nullptr;
  (void)outage_by_time(p, plan, &over);
  if (over)
    return std::unexpected(Refusal{"available: " + over->group + " outage_budget", over->group, "outage over budget"});
  // max_disrupted: a node is disrupted from the start of its first disruptive step until
  // the end of the step after which every goal on it holds (the search's "open" node).
  const auto window = detail::open_windows(p, plan);
  for (const auto& m : p.max_disrupted) {
    std::vector<std::pair<std::int64_t, int>> edges;
    for (const auto& n : m.nodes)
      if (auto it = window.find(n); it != window.end())
        for (const auto& w : it->second) edges.push_back({w.first, 1}), edges.push_back({w.second, -1});
    std::sort(edges.begin(), edges.end());  // an end (-1) sorts before a start at the same time
    int open = 0;
    for (const auto& [t, d] : edges)
      if ((open += d) > m.k)
        return std::unexpected(Refusal{"max_disrupted: " + std::to_string(m.k) + " of " + set_text(m.nodes), "",
                                       "more than " + std::to_string(m.k) + " nodes disrupted at once"});
  }
  // order: every step on a later set starts after the last step on an earlier set ends.
  for (const auto& o : p.order) {
    std::map<std::string, std::size_t> set_of;
    for (std::size_t i = o.sets.size(); i-- > 0;)
      for (const auto& n : o.sets[i]) set_of[n] = i;  // a node in several sets: its first
    std::vector<std::int64_t> first_start(o.sets.size(), INT64_MAX), last_end(o.sets.size(), 0);
    for (const auto& s : plan.steps)
      if (auto it = set_of.find(p.actions[s.action].node); it != set_of.end()) {
        first_start[it->second] = std::min(first_start[it->second], s.start_s);
        last_end[it->second] = std::max(last_end[it->second], s.end_s);
      }
    std::int64_t earlier_end = 0;
    for (std::size_t i = 0; i < o.sets.size(); ++i) {
      if (i > 0 && first_start[i] < earlier_end)
        return std::unexpected(Refusal{"order", set_text(o.sets[i]), "a step on " + set_text(o.sets[i]) + " starts too early"});
      earlier_end = std::max(earlier_end, last_end[i]);
    }
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

std::map<std::string, std::int64_t> planned_outage(const Problem& p, const Plan& plan) { return outage_by_time(p, plan); }

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

namespace {

/// A sequential plan of one coupled problem (a component): the search, the constraint that
/// blocks when there is none, and without the steps it does not need.
std::expected<std::vector<int>, Refusal> plan_coupled(const Problem& p) {
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
    if (verify(p, sequential(p, without))) actions = std::move(without);
    else ++i;
  }
  return actions;
}

/// One component's own problem: its facts, goals, actions and groups, and the constraints
/// that span components cut down to its nodes. Its actions are sorted by `signature`, in
/// which the component's locations are numbered: components identical up to their names
/// have one signature, and a plan of one is a plan of the other, action for action.
struct Part {
  Problem problem;
  std::vector<int> global;          ///< the problem's action index of each local action
  std::set<std::string> reads;      ///< facts of other components its conditions read
  std::string signature;            ///< without the values of `reads`
};

/// Resources numbered among those of their type in their component ("CMS1" of one cluster
/// is "CMS2" of the next): per component, "TYPE[NAME]" -> "TYPE[#j]".
template <class CompOf>
std::vector<std::map<std::string, std::string>> subject_aliases(const Problem& p, std::size_t count, const CompOf& comp) {
  std::vector<std::map<std::string, std::set<std::string>>> names(count);  // type -> names
  auto note = [&](const std::string& f) {
    auto slash = f.find('/'), open = f.find('[', slash), close = f.find("].", open);
    if (slash == std::string::npos || open == std::string::npos || close == std::string::npos) return;
    if (int c = comp(f.substr(0, slash)); c >= 0) names[c][f.substr(slash + 1, open - slash - 1)].insert(f.substr(open + 1, close - open - 1));
  };
  for (const auto& [k, _] : p.initial) note(k);
  for (const auto& a : p.actions) {
    for (const auto& x : a.pre) note(x.fact);
    for (const auto& [k, _] : a.effects) note(k);
  }
  std::vector<std::map<std::string, std::string>> out(count);
  for (std::size_t c = 0; c < count; ++c)
    for (const auto& [type, set] : names[c]) {
      std::size_t i = 0;
      for (const auto& name : set) out[c][type + "[" + name + "]"] = type + "[\x01" + std::to_string(i++) + "]";
    }
  return out;
}

/// Splits `p` into its components' parts in one pass over it.
std::vector<Part> parts(const Problem& p, const std::vector<std::vector<std::string>>& comps) {
  std::map<std::string, int> comp_of;
  for (int c = 0; c < static_cast<int>(comps.size()); ++c)
    for (const auto& loc : comps[c]) comp_of[loc] = c;
  auto comp = [&](const std::string& loc) {
    auto it = comp_of.find(loc);
    return it == comp_of.end() ? -1 : it->second;
  };
  std::vector<Part> out(comps.size());
  std::vector<std::map<std::string, std::string>> alias(comps.size());
  for (std::size_t c = 0; c < comps.size(); ++c) {
    out[c].problem.max_expansions = p.max_expansions;
    char buf[32];
    for (std::size_t i = 0; i < comps[c].size(); ++i) {
      std::snprintf(buf, sizeof buf, "\x01%05zu", i);
      alias[c][comps[c][i]] = buf;
    }
  }
  auto loc_of = [&](int c, const std::string& loc) {
    auto it = alias[c].find(loc);
    return it == alias[c].end() ? loc : it->second;
  };
  const auto subject_alias = subject_aliases(p, comps.size(), comp);
  auto fact = [&](int c, const std::string& f) {
    auto slash = f.find('/');
    if (slash == std::string::npos) return loc_of(c, f);
    std::string rest = f.substr(slash + 1);
    if (auto close = rest.find("]."); close != std::string::npos)
      if (auto it = subject_alias[c].find(rest.substr(0, close + 1)); it != subject_alias[c].end())
        rest = it->second + rest.substr(close + 1);
    return loc_of(c, f.substr(0, slash)) + "/" + rest;
  };
  auto value = [&](int c, const Value& v) { return v.is_string() ? "s:" + loc_of(c, v.as_string()) : v.to_json(); };
  auto cond = [&](int c, const Condition& x) {
    std::string t = fact(c, x.fact) + "{";
    for (const auto& v : x.any_of) t += value(c, v) + ",";
    return t + "}";
  };
  std::vector<std::vector<std::string>> sig(comps.size());
  for (const auto& [k, v] : p.initial)
    if (int c = comp(fact_node(k)); c >= 0) out[c].problem.initial.emplace(k, v), sig[c].push_back("i " + fact(c, k) + "=" + value(c, v));
  for (const auto& g : p.goal)
    if (int c = comp(fact_node(g.fact)); c >= 0) out[c].problem.goal.push_back(g), sig[c].push_back("g " + cond(c, g));
  for (const auto& h : p.held)
    if (int c = comp(fact_node(h.fact)); c >= 0) out[c].problem.held.push_back(h), sig[c].push_back("h " + cond(c, h));
  std::map<std::string, std::string> group_fact;  // group -> its owner fact, for signatures
  for (const auto& g : p.available)
    if (int c = comp(fact_node(g.owner_fact)); c >= 0) {
      out[c].problem.available.push_back(g);
      group_fact[g.group] = fact(c, g.owner_fact);
      sig[c].push_back("v " + fact(c, g.owner_fact) + " " + fact(c, g.online_fact) + " " + std::to_string(g.budget_s));
    }
  for (std::size_t m = 0; m < p.max_disrupted.size(); ++m) {
    std::map<int, std::vector<std::string>> nodes;
    for (const auto& n : p.max_disrupted[m].nodes)
      if (int c = comp(n); c >= 0) nodes[c].push_back(n);
    for (auto& [c, ns] : nodes) {
      std::vector<std::string> named;
      for (const auto& n : ns) named.push_back(loc_of(c, n));
      std::sort(named.begin(), named.end());
      std::string t = "m" + std::to_string(m) + " " + std::to_string(p.max_disrupted[m].k);
      for (const auto& n : named) t += " " + n;
      sig[c].push_back(t);
      out[c].problem.max_disrupted.push_back({p.max_disrupted[m].k, std::move(ns)});
    }
  }
  for (std::size_t o = 0; o < p.order.size(); ++o) {
    std::map<int, Order> cut;
    for (std::size_t i = 0; i < p.order[o].sets.size(); ++i)
      for (const auto& n : p.order[o].sets[i])
        if (int c = comp(n); c >= 0) {
          auto& sets = cut[c].sets;
          sets.resize(p.order[o].sets.size());
          sets[i].push_back(n);
        }
    for (auto& [c, ord] : cut) {
      std::string t = "o" + std::to_string(o);
      for (const auto& set : ord.sets) {
        std::vector<std::string> named;
        for (const auto& n : set) named.push_back(loc_of(c, n));
        std::sort(named.begin(), named.end());
        t += " [";
        for (const auto& n : named) t += n + " ";
        t += "]";
      }
      sig[c].push_back(t);
      out[c].problem.order.push_back(std::move(ord));
    }
  }
  std::vector<std::vector<std::pair<std::string, int>>> acts(comps.size());
  for (int i = 0; i < static_cast<int>(p.actions.size()); ++i) {
    const Operator& a = p.actions[i];
    int c = comp(a.node);
    if (c < 0 || !a.search) continue;
    std::string t = "a " + loc_of(c, a.node) + " " + std::to_string(static_cast<int>(a.disruption)) + " " +
                    std::to_string(a.seconds);
    for (const auto& x : a.pre) {
      t += " p" + cond(c, x);
      if (comp(fact_node(x.fact)) != c) out[c].reads.insert(x.fact);
    }
    for (const auto& [k, v] : a.effects) t += " e" + fact(c, k) + "=" + value(c, v);
    for (const auto& g : a.outages) t += " d" + (group_fact.count(g) ? group_fact[g] : g);
    acts[c].push_back({std::move(t), i});
  }
  for (std::size_t c = 0; c < comps.size(); ++c) {
    std::stable_sort(acts[c].begin(), acts[c].end());
    for (const auto& [t, i] : acts[c]) {
      out[c].problem.actions.push_back(p.actions[i]);
      out[c].global.push_back(i);
      sig[c].push_back(t);
    }
    std::sort(sig[c].begin(), sig[c].end() - static_cast<long>(acts[c].size()));
    for (const auto& line : sig[c]) out[c].signature += line + "\n";
  }
  return out;
}

/// A component's chain (local action indices): with room for one disrupted node of each
/// set first, so that as many components as possible run at once; with the constraint's
/// own k when one is not enough.
std::expected<std::vector<int>, Refusal> plan_part(const Part& part) {
  bool all_met = std::all_of(part.problem.goal.begin(), part.problem.goal.end(),
                             [&](const Condition& g) { return holds(g, part.problem.initial); });
  if (all_met) return std::vector<int>{};
  bool narrower = std::any_of(part.problem.max_disrupted.begin(), part.problem.max_disrupted.end(),
                              [](const MaxDisrupted& m) { return m.k > 1; });
  if (narrower) {
    Problem one = part.problem;
    for (auto& m : one.max_disrupted) m.k = std::min(m.k, 1);
    if (auto r = plan_coupled(one)) return r;
  }
  return plan_coupled(part.problem);
}

/// Plans each component on its own (identical ones once) and schedules their chains;
/// std::nullopt when the chains cannot be scheduled apart (order constraints under which
/// components wait on each other).
std::optional<std::expected<Plan, Refusal>> plan_decomposed(const Problem& p,
                                                            const std::vector<std::vector<std::string>>& comps) {
  std::vector<Part> ps = parts(p, comps);
  // A component that reads another's facts is planned after it, from the values its chain
  // leaves (components() split them only where those are the goal's).
  std::map<std::string, int> comp_of;
  for (int c = 0; c < static_cast<int>(comps.size()); ++c)
    for (const auto& loc : comps[c]) comp_of[loc] = c;
  const int n = static_cast<int>(ps.size());
  std::vector<std::vector<int>> succs(n);
  std::vector<int> waiting(n, 0);
  for (int c = 0; c < n; ++c)
    for (const auto& f : ps[c].reads)
      if (auto it = comp_of.find(fact_node(f)); it != comp_of.end() && it->second != c)
        succs[it->second].push_back(c), ++waiting[c];
  std::vector<int> order;
  for (int c = 0; c < n; ++c)
    if (waiting[c] == 0) order.push_back(c);
  for (std::size_t i = 0; i < order.size(); ++i)
    for (int x : succs[order[i]])
      if (--waiting[x] == 0) order.push_back(x);
  if (static_cast<int>(order.size()) != n) return std::nullopt;  // components read each other
  Facts after;  // facts as the chains planned so far leave them (the rest: initial)
  std::map<std::string, std::vector<int>> memo;  // signature -> chain of local indices
  std::vector<std::vector<int>> chains;
  for (int c : order) {
    Part& part = ps[c];
    for (const auto& f : part.reads) {
      auto it = after.find(f);
      const Value* v = it != after.end() ? &it->second : nullptr;
      if (!v)
        if (auto in = p.initial.find(f); in != p.initial.end()) v = &in->second;
      if (v) part.problem.initial[f] = *v;
      part.signature += "r " + f + "=" + (v ? v->to_json() : "-") + "\n";
    }
    std::vector<int> local;
    if (auto it = memo.find(part.signature); it != memo.end()) {
      local = it->second;
    } else {
      auto r = plan_part(part);
      if (!r) return std::expected<Plan, Refusal>(std::unexpected(r.error()));
      local = *r;
      memo.emplace(part.signature, local);
    }
    if (local.empty()) continue;
    chains.emplace_back();
    for (int l : local) {
      chains.back().push_back(part.global[l]);
      for (const auto& [k, v] : p.actions[part.global[l]].effects) after[k] = v;
    }
  }
  auto s = schedule(p, chains);
  if (!s) return std::nullopt;
  return std::expected<Plan, Refusal>(std::move(*s));
}

}  // namespace

std::expected<Plan, Refusal> plan(const Problem& full) {
  if (auto r = held_by_order(full)) return std::unexpected(*r);
  const Problem p = for_search(full);
  std::expected<Plan, Refusal> result;
  const auto comps = components(p);
  std::optional<std::expected<Plan, Refusal>> decomposed;
  if (comps.size() > 1) decomposed = plan_decomposed(p, comps);
  if (decomposed) {
    result = std::move(*decomposed);
  } else {
    auto chain = plan_coupled(p);
    if (!chain) return std::unexpected(chain.error());
    result = sequential(full, *chain);
  }
  if (!result) return result;
  if (auto v = verify(full, *result); !v) return std::unexpected(v.error());
  if (auto r = step_after_held(full, *result)) return std::unexpected(*r);
  // Outage per group as planned (only groups that must stay available are counted).
  result->outage_s = planned_outage(full, *result);
  return result;
}

}  // namespace converge::planning
