// engine/plan/plan_report.h — a ground plan for humans and tools: why each step, the plan as
// text and as the report's JSON (schemas/report.schema.json, "plan"), the plan as a DOT
// partial order (--graph), and the ground problem itself (CONVERGE_DUMP_PROBLEM, for type
// authors). Values the manifest marks sensitive print as "(sensitive)". No I/O but the
// graph file and the dump's stream.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/plan/ground.h"
#include "engine/model/manifest.h"
#include "engine/plan/planner.h"

namespace converge {

/// A constraint as the plan lists it ("max_disrupted 1 of [NODE1, NODE2]").
[[nodiscard]] std::string constraint_text(const ConstraintSpec& c);

/// A resource's properties with the values the manifest marks sensitive masked.
[[nodiscard]] Map masked(const ResourceSpec& spec, Map props);

/// Why each step: the change it makes in the state the plan predicts before it.
[[nodiscard]] std::vector<std::string> explain_steps(const grounding::Grounded& g,
                                                     const std::vector<grounding::Subject>& subjects,
                                                     const planning::Plan& p);

/// The plan as text (estimate and outage, the constraints checked, a line a step) and JSON.
struct PlanText {
  std::string text;
  nlohmann::json json;
};
[[nodiscard]] PlanText describe(const grounding::Grounded& g, const std::vector<grounding::Subject>& subjects,
                                const planning::Plan& p, const Manifest& m);

/// Writes the plan as a partial order in DOT: an edge where two steps share a node, a fact
/// or disruption, transitively reduced.
[[nodiscard]] Status write_plan_graph(const grounding::Grounded& g, const planning::Plan& p, const std::string& path);

/// The ground problem, a line per initial fact, goal, action, precondition and effect.
void dump_problem(const planning::Problem& p, std::FILE* out);

}  // namespace converge
