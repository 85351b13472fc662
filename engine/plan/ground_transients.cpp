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

/// The shortest sequence of actions on one resource (pre on its own facts, or holding in
/// `facts`) that reaches `want` (fact -> acceptable values). Empty optional: none.
std::optional<std::vector<int>> reach(const Grounded& g, const Facts& facts, const std::string& prefix,
                                      const std::vector<planning::Condition>& want, bool node_disruption) {
  struct Node {
    Facts f;
    std::vector<int> path;
  };
  std::vector<int> helpers;
  for (int i = 0; i < static_cast<int>(g.problem.actions.size()); ++i) {
    const auto& a = g.problem.actions[i];
    bool own = !a.effects.empty() && (node_disruption || a.disruption != planning::Disruption::node);
    for (const auto& [k, _] : a.effects) own = own && k.starts_with(prefix);
    if (own) helpers.push_back(i);
  }
  auto done = [&](const Facts& f) {
    return std::all_of(want.begin(), want.end(), [&](const auto& c) { return planning::holds(c, f); });
  };
  std::deque<Node> q{{facts, {}}};
  std::set<std::string> seen;
  while (!q.empty()) {
    Node n = std::move(q.front());
    q.pop_front();
    if (done(n.f)) return n.path;
    if (n.path.size() >= 4) continue;
    for (int i : helpers) {
      const auto& a = g.problem.actions[i];
      if (!std::all_of(a.pre.begin(), a.pre.end(), [&](const auto& c) { return planning::holds(c, n.f); })) continue;
      Node next{n.f, n.path};
      for (const auto& [k, v] : a.effects) next.f[k] = v;
      std::string key;
      for (const auto& [k, v] : next.f)
        if (k.starts_with(prefix)) key += k + "=" + v.to_json() + ";";
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
  planning::Plan out;
  g.step_kind.clear();
  Facts facts = g.problem.initial;
  std::int64_t t = 0;
  auto push = [&](int a, StepKind kind) {
    const auto& act = g.problem.actions[a];
    out.steps.push_back({a, t, t + act.seconds});
    t += act.seconds;
    for (const auto& [k, v] : act.effects) facts[k] = v;
    g.step_kind.push_back(kind);
  };
  for (const auto& step : plan.steps) {
    const auto& transient = g.actions[step.action].transient;
    // Group the unmet requirements by resource; remember what each resource was.
    std::map<std::string, std::vector<planning::Condition>> by_subject;
    for (const auto& c : transient)
      if (!planning::holds(c, facts)) by_subject[subject_prefix(c.fact)].push_back(c);
    std::map<std::string, std::vector<planning::Condition>> saved;
    for (const auto& [prefix, want] : by_subject) {
      auto& keep = saved[prefix];
      for (const auto& [k, v] : facts)
        if (k.starts_with(prefix)) keep.push_back({k, {v}});
      auto path = reach(g, facts, prefix, want, node_disruption);
      if (!path)
        return std::unexpected(planning::Refusal{"transient", want.front().fact,
                                                 "no action establishes " + want.front().fact + " for " +
                                                     g.problem.actions[step.action].name});
      for (int a : *path) push(a, StepKind::establish);
    }
    push(step.action, StepKind::planned);
    for (const auto& [prefix, want] : saved) {
      auto path = reach(g, facts, prefix, want, node_disruption);
      if (!path)
        return std::unexpected(planning::Refusal{"transient", prefix,
                                                 "no action puts back " + prefix + " after " + g.problem.actions[step.action].name});
      for (int a : *path) push(a, StepKind::restore);
    }
  }
  out.makespan_s = t;
  if (auto v = planning::verify(g.problem, out); !v) return std::unexpected(v.error());
  out.outage_s = planning::planned_outage(g.problem, out);
  return out;
}

}  // namespace converge::grounding
