// The transient requirements of a ground plan: the steps that establish each just before
// its action and put it back right after (engine/plan/ground.h, expand_transients).
#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "engine/plan/ground.h"

namespace converge::grounding {

namespace {

using planning::Facts;

/// "LOC/TYPE[NAME]." of a resource's fact: the facts of one resource share it.
std::string subject_prefix(const std::string& fact) {
  auto close = fact.find("].");
  return close == std::string::npos ? fact : fact.substr(0, close + 2);
}

/// Facts as the plan changes them: the initial state and what has changed since, so
/// that a step costs what it changes, not a copy of every fact.
struct Overlay {
  const Facts* base = nullptr;
  Facts changed;

  [[nodiscard]] bool holds(const planning::Condition& c) const {
    auto it = changed.find(c.fact);
    if (it == changed.end()) return planning::holds(c, *base);
    return std::find(c.any_of.begin(), c.any_of.end(), it->second) != c.any_of.end();
  }
  /// Every fact of one resource ("LOC/TYPE[NAME]." prefix) with its current value.
  [[nodiscard]] std::vector<std::pair<std::string, Value>> under(const std::string& prefix) const {
    std::map<std::string, Value> out;
    for (auto it = base->lower_bound(prefix); it != base->end() && it->first.starts_with(prefix); ++it) out.insert(*it);
    for (auto it = changed.lower_bound(prefix); it != changed.end() && it->first.starts_with(prefix); ++it)
      out[it->first] = it->second;
    return {out.begin(), out.end()};
  }
};

/// The actions that change only one resource's facts, by that resource's prefix.
std::map<std::string, std::vector<int>> helpers_by_subject(const Grounded& g, bool node_disruption) {
  std::map<std::string, std::vector<int>> out;
  for (int i = 0; i < static_cast<int>(g.problem.actions.size()); ++i) {
    const auto& a = g.problem.actions[i];
    if (a.effects.empty() || (!node_disruption && a.disruption == planning::Disruption::node)) continue;
    const std::string prefix = subject_prefix(a.effects.front().first);
    bool own = std::all_of(a.effects.begin(), a.effects.end(), [&](const auto& e) { return e.first.starts_with(prefix); });
    if (own) out[prefix].push_back(i);
  }
  return out;
}

/// The shortest sequence of `helpers` (actions on one resource, pre holding in `facts`)
/// that reaches `want` (fact -> acceptable values). Empty optional: none.
std::optional<std::vector<int>> reach(const Grounded& g, const Overlay& facts, const std::vector<int>& helpers,
                                      const std::vector<planning::Condition>& want) {
  struct Node {
    Facts f;  // this resource's facts changed on the way
    std::vector<int> path;
  };
  auto holds = [&](const Node& n, const planning::Condition& c) {
    auto it = n.f.find(c.fact);
    if (it == n.f.end()) return facts.holds(c);
    return std::find(c.any_of.begin(), c.any_of.end(), it->second) != c.any_of.end();
  };
  auto done = [&](const Node& n) { return std::all_of(want.begin(), want.end(), [&](const auto& c) { return holds(n, c); }); };
  std::deque<Node> q{{{}, {}}};
  std::set<std::string> seen;
  while (!q.empty()) {
    Node n = std::move(q.front());
    q.pop_front();
    if (done(n)) return n.path;
    if (n.path.size() >= 4) continue;
    for (int i : helpers) {
      const auto& a = g.problem.actions[i];
      if (!std::all_of(a.pre.begin(), a.pre.end(), [&](const auto& c) { return holds(n, c); })) continue;
      Node next{n.f, n.path};
      for (const auto& [k, v] : a.effects) next.f[k] = v;
      std::string key;
      for (const auto& [k, v] : next.f) key += k + "=" + v.to_json() + ";";
      if (!seen.insert(key).second) continue;
      next.path.push_back(i);
      q.push_back(std::move(next));
    }
  }
  return std::nullopt;
}

}  // namespace

const char* step_kind_word(StepKind k) {
  switch (k) {
    case StepKind::establish: return "establish";
    case StepKind::restore: return "restore";
    case StepKind::planned: return "planned";
  }
  return "?";
}

std::expected<planning::Plan, planning::Refusal> expand_transients(Grounded& g, const planning::Plan& plan,
                                                                  bool node_disruption) {
  const auto helpers = helpers_by_subject(g, node_disruption);
  static const std::vector<int> none;
  auto helpers_of = [&](const std::string& prefix) -> const std::vector<int>& {
    auto it = helpers.find(prefix);
    return it == helpers.end() ? none : it->second;
  };
  // Each chain is expanded on its own (chains share no fact), then scheduled again with
  // its new length.
  int chain_count = plan.chains;
  for (const auto& st : plan.steps) chain_count = std::max(chain_count, st.chain + 1);
  std::vector<std::vector<int>> chains(chain_count);
  std::vector<std::vector<StepKind>> kinds(chain_count);
  Overlay facts{&g.problem.initial, {}};
  auto push = [&](int chain, int a, StepKind kind) {
    chains[chain].push_back(a);
    kinds[chain].push_back(kind);
    for (const auto& [k, v] : g.problem.actions[a].effects) facts.changed[k] = v;
  };
  for (const auto& step : plan.steps) {
    const auto& transient = g.actions[step.action].transient;
    // Group the unmet requirements by resource; remember what each resource was.
    std::map<std::string, std::vector<planning::Condition>> by_subject;
    for (const auto& c : transient)
      if (!facts.holds(c)) by_subject[subject_prefix(c.fact)].push_back(c);
    std::map<std::string, std::vector<planning::Condition>> saved;
    for (const auto& [prefix, want] : by_subject) {
      auto& keep = saved[prefix];
      for (const auto& [k, v] : facts.under(prefix)) keep.push_back({k, {v}});
      auto path = reach(g, facts, helpers_of(prefix), want);
      if (!path)
        return std::unexpected(planning::Refusal{"transient", want.front().fact,
                                                 "no action establishes " + want.front().fact + " for " +
                                                     g.problem.actions[step.action].name});
      for (int a : *path) push(step.chain, a, StepKind::establish);
    }
    push(step.chain, step.action, StepKind::planned);
    for (const auto& [prefix, want] : saved) {
      auto path = reach(g, facts, helpers_of(prefix), want);
      if (!path)
        return std::unexpected(planning::Refusal{"transient", prefix,
                                                 "no action puts back " + prefix + " after " + g.problem.actions[step.action].name});
      for (int a : *path) push(step.chain, a, StepKind::restore);
    }
  }
  auto out = planning::schedule(g.problem, chains);
  if (!out)
    return std::unexpected(planning::Refusal{"max_disrupted", "",
                                             "no schedule of the expanded plan: its chains wait on each other, or the steps that "
                                             "establish and put back a transient requirement disrupt more nodes at once than "
                                             "max_disrupted allows"});
  g.step_kind.clear();
  std::vector<std::size_t> next(chain_count, 0);
  for (const auto& st : out->steps) g.step_kind.push_back(kinds[st.chain][next[st.chain]++]);
  if (auto v = planning::verify(g.problem, *out); !v) return std::unexpected(v.error());
  out->outage_s = planning::planned_outage(g.problem, *out);
  return std::move(*out);
}

}  // namespace converge::grounding
