#include "engine/plan/plan_report.h"

#include <fstream>
#include <set>

#include "engine/model/duration.h"

namespace converge {

using grounding::Grounded;
using grounding::Subject;
using grounding::StepKind;
using grounding::step_kind_word;

namespace {

/// One step as a plan line: number, node, action (> establishes, < puts back), why, when.
std::string fmt_step(std::size_t n, const std::string& node, const std::string& name, const std::string& why,
                     std::int64_t at, std::int64_t secs, StepKind kind) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %3zu  %-8s %s%s  (%s)  +%s, %s\n", n, node.c_str(), kind == StepKind::planned ? "" : kind == StepKind::establish ? "  > " : "  < ",
                name.c_str(), why.c_str(), at == 0 ? "0s" : format_duration_ms(at * 1000).c_str(), format_duration_ms(secs * 1000).c_str());
  return buf;
}

}  // namespace

std::string constraint_text(const ConstraintSpec& c) {
  using K = ConstraintSpec::Kind;
  switch (c.kind) {
    case K::order: {
      std::string out = "order ";
      for (std::size_t i = 0; i < c.order.size(); ++i) out += (i ? " before " : "") + planning::set_text(c.order[i]);
      return out;
    }
    case K::max_disrupted: return "max_disrupted " + std::to_string(c.limit) + " of " + planning::set_text(c.nodes);
    case K::available:
      return "available " + c.subject + (c.seconds >= 0 ? " (outage budget " + format_duration_ms(c.seconds * 1000) + ")" : "");
    case K::precondition:
      return "precondition " + c.subject + (c.seconds >= 0 ? " (max age " + format_duration_ms(c.seconds * 1000) + ")" : "");
    case K::halt_after_failures: return "halt_after_failures " + std::to_string(c.limit);
  }
  return "?";
}

Map masked(const ResourceSpec& spec, Map props) {
  for (auto& [k, v] : props)
    if (spec.sensitive.count(k)) v = Value("(sensitive)");
  return props;
}


std::vector<std::string> explain_steps(const Grounded& g, const std::vector<Subject>& subjects, const planning::Plan& p) {
  std::vector<std::string> out;
  planning::Facts predicted = g.problem.initial;
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& a = g.problem.actions[p.steps[i].action];
    const auto& ga = g.actions[p.steps[i].action];
    const StepKind kind = g.kind(i);
    std::string change;
    const ResourceSpec& spec = subjects[ga.subject].spec;
    for (const auto& [prop, v] : ga.targets) {
      auto it = predicted.find(grounding::fact_key(subjects[ga.subject], prop));
      if (spec.sensitive.count(prop)) {
        change += (change.empty() ? "" : "; ") + prop + " (sensitive)";
        continue;
      }
      change += (change.empty() ? "" : "; ") + prop + " " + (it == predicted.end() ? std::string("(none)") : it->second.to_string()) +
                " -> " + v.to_string();
    }
    for (const auto& [k, v] : a.effects) predicted[k] = v;
    if (change.empty()) change = ga.action->doc.empty() ? ga.action->name : ga.action->doc;
    out.push_back(kind == StepKind::establish ? "for the next step; " + change : kind == StepKind::restore ? "put back; " + change : change);
  }
  return out;
}

PlanText describe(const Grounded& g, const std::vector<Subject>& subjects, const planning::Plan& p, const Manifest& m) {
  nlohmann::json steps = nlohmann::json::array();
  std::string text = "Plan: " + std::to_string(p.steps.size()) + " steps, " + format_duration_ms(p.makespan_s * 1000) +
                     " estimated";
  if (p.chains > 1)
    text += " (" + std::to_string(p.chains) + " chains side by side; lower bound " +
            format_duration_ms(p.lower_bound_s * 1000) + ")";
  for (const auto& [group, s] : p.outage_s) {
    std::int64_t budget = -1;
    for (const auto& a : g.problem.available)
      if (a.group == group) budget = a.budget_s;
    text += "; " + group + " planned outage " + format_duration_ms(s * 1000) +
            (budget >= 0 ? " of " + format_duration_ms(budget * 1000) : "");
  }
  text += "\n";
  nlohmann::json constraints = nlohmann::json::array();
  std::string checked;
  for (const auto& c : m.constraints) {
    constraints.push_back(constraint_text(c));
    checked += (checked.empty() ? "" : "; ") + constraint_text(c);
  }
  if (!checked.empty()) text += "Constraints checked in every state: " + checked + "\n";
  const auto whys = explain_steps(g, subjects, p);
  for (std::size_t i = 0; i < p.steps.size(); ++i) {
    const auto& st = p.steps[i];
    const auto& a = g.problem.actions[st.action];
    const auto& ga = g.actions[st.action];
    const StepKind kind = g.kind(i);
    const std::string& why = whys[i];
    text += fmt_step(i + 1, a.node, a.name, why, st.start_s, a.seconds, kind);
    steps.push_back({{"seq", i + 1},
                     {"node", a.node},
                     {"resource", subjects[ga.subject].spec.id()},
                     {"action", ga.action->name},
                     {"targets", nlohmann::json::parse(Value(masked(subjects[ga.subject].spec, ga.targets)).to_json())},
                     {"kind", step_kind_word(kind)},
                     {"reason", why},
                     {"disruption", disruption_word(a.disruption)},
                     {"start_s", st.start_s},
                     {"chain", st.chain},
                     {"seconds", a.seconds}});
  }
  nlohmann::json outage = nlohmann::json::object();
  for (const auto& [group, s] : p.outage_s) outage[group] = s;
  return {std::move(text), {{"steps", steps}, {"makespan_s", p.makespan_s}, {"lower_bound_s", p.lower_bound_s}, {"chains", p.chains}, {"outage_s", outage}, {"constraints", constraints}}};
}

Status write_plan_graph(const Grounded& g, const planning::Plan& p, const std::string& path) {
  const std::size_t n = p.steps.size();
  std::vector<std::set<std::string>> touch(n);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = g.problem.actions[p.steps[i].action];
    touch[i].insert("node:" + a.node);
    for (const auto& c : a.pre) touch[i].insert(c.fact);
    for (const auto& [k, _] : a.effects) touch[i].insert(k);
    if (a.disruption != planning::Disruption::none) touch[i].insert("disruption");
  }
  std::vector<std::vector<char>> dep(n, std::vector<char>(n, 0)), reach(n, std::vector<char>(n, 0));
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < j; ++i)
      for (const auto& f : touch[i])
        if (touch[j].count(f)) {
          dep[i][j] = 1;
          break;
        }
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = j; i-- > 0;)
      if (dep[i][j]) {
        reach[i][j] = 1;
        for (std::size_t k = 0; k < n; ++k)
          if (reach[j][k]) reach[i][k] = 1;
      }
  std::ofstream out(path);
  if (!out) return std::unexpected(make_error(ErrorCode::io, "cannot write the plan graph " + path));
  out << "digraph plan {\n  rankdir=TB;\n  node [shape=box, fontname=\"sans-serif\"];\n";
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = g.problem.actions[p.steps[i].action];
    std::string label = std::to_string(i + 1) + ". " + a.node + "\\n" + a.name;
    std::string esc;
    for (char ch : label) esc += ch == '"' ? std::string("\\\"") : std::string(1, ch);
    out << "  s" << i + 1 << " [label=\"" << esc << "\""
        << (a.disruption == planning::Disruption::node ? ", style=filled, fillcolor=\"#f4cccc\"" : "") << "];\n";
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j) {
      if (!dep[i][j]) continue;
      bool implied = false;
      for (std::size_t k = i + 1; k < j && !implied; ++k) implied = dep[i][k] && reach[k][j];
      if (!implied) out << "  s" << i + 1 << " -> s" << j + 1 << ";\n";
    }
  out << "}\n";
  out.close();
  if (!out) return std::unexpected(make_error(ErrorCode::io, "cannot write the plan graph " + path));
  return {};
}

void dump_problem(const planning::Problem& p, std::FILE* out) {
  auto cond = [](const planning::Condition& c) {
    std::string s = c.fact + " in {";
    for (const auto& v : c.any_of) s += v.to_string() + ",";
    return s + "}";
  };
  for (const auto& [k, v] : p.initial) std::fprintf(out, "init %s = %s\n", k.c_str(), v.to_string().c_str());
  for (const auto& g : p.goal) std::fprintf(out, "goal %s\n", cond(g).c_str());
  for (const auto& a : p.actions) {
    std::fprintf(out, "action%s %s @%s %llds\n", a.search ? "" : " (helper)", a.name.c_str(), a.node.c_str(),
                 static_cast<long long>(a.seconds));
    for (const auto& c : a.pre) std::fprintf(out, "    pre %s\n", cond(c).c_str());
    for (const auto& [k, v] : a.effects) std::fprintf(out, "    eff %s = %s\n", k.c_str(), v.to_string().c_str());
  }
}

}  // namespace converge
