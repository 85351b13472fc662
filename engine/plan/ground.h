// engine/plan/ground.h — from a manifest, its data-defined types and the observed state to the
// planner's Problem. Pure: no I/O.
//
// Facts. Every property of a resource the planner knows is one fact,
// "LOC/TYPE[NAME].PROP" (LOC: the node, or the cluster of a cluster-scoped resource); a
// node fact is "NODE/@NAME" (reboot_pending, service_cycled:RemoteRegistry, and the
// built-in "reachable"); a property declared `fact: X` is the node fact X. A resource the
// planner knows is one the manifest declares, or one an action's condition names by name
// (service[MOM] on a node where the manifest declares no such service): those are observed
// too, never given a goal, and a transient requirement on one the node lacks holds
// vacuously.
//
// Actions. Each action of each known resource is ground once per combination of:
//   - target values of its `sets: {P: desired}` properties: the property's enum values, the
//     members of its cluster for a property that names a node (used in `observed:P`,
//     `desired:P` or `run_on`), else the desired and observed values;
//   - the node it runs on (run_on: every member the property may name);
//   - the current value of a property its conditions read through `{prop.X}` or
//     `observed:X` (a precondition on that value is added);
//   - the alternatives of `holds: any` conditions.
// A condition's `not_equals` becomes "one of the other values the fact can take". An
// action with `boots` also sets every fact with an `after_boot` value.
//
// Transient requirements are not part of the search: ground actions carry them apart, and
// expand_transients() establishes each just before the action (with the resource's own
// actions) and puts it back right after, in the plan itself, which is then verified again.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/model/manifest.h"
#include "engine/plan/planner.h"
#include "engine/model/types.h"
#include "engine/model/datatype.h"

namespace converge::grounding {

/// A resource the planner knows.
struct Subject {
  ResourceSpec spec;                      ///< declared: the manifest's (priors resolved); referenced: type, name, node
  const datatype::DataType* type = nullptr;
  int manifest_index = -1;                ///< index in Manifest::resources; -1 when only referenced
};

/// The resources the planner must know: every data-typed resource the manifest declares,
/// then every resource an action's condition names that the manifest does not declare.
[[nodiscard]] std::vector<Subject> subjects(const Manifest& m, const TypeRegistry& types);

/// What ground() reads besides the manifest.
struct Inputs {
  const Manifest* manifest = nullptr;
  std::vector<Subject> subjects;
  std::vector<Observation> observed;            ///< parallel to subjects
  std::vector<datatype::Fact> facts;            ///< node facts of the included type files
  std::map<std::string, Value> node_facts;      ///< observed node facts, "NODE/@name" -> value
  std::set<std::string> reachable;              ///< nodes that answered
  /// Goals beyond the manifest's desired values: transient changes of an earlier run still
  /// to put back (fact -> prior value).
  std::map<std::string, Value> restore;
  /// False: only `restore` are goals (the safe halt's plan).
  bool manifest_goals = true;
};

/// One ground action: what the executor needs to run it.
struct Binding {
  int subject = -1;
  const datatype::ActionDef* action = nullptr;
  Map targets;               ///< property -> value the action leaves ({prop.X} renders these)
  std::string run_node;      ///< the member to run on (run_on), else empty
  std::vector<planning::Condition> transient;  ///< established before, restored after
  std::string reason;        ///< "version RTM -> SP1"
};

/// What a step of an expanded plan is for.
enum class StepKind {
  planned,    ///< found by the search
  establish,  ///< establishes a transient requirement of the next planned step
  restore,    ///< puts a transient requirement back to what it was
};

/// "planned" / "establish" / "restore".
[[nodiscard]] const char* step_kind_word(StepKind k);

struct Grounded {
  planning::Problem problem;
  std::vector<Binding> actions;  ///< parallel to problem.actions
  /// Parallel to problem.actions: 1 for an action on a resource or node --limit/--tags
  /// leave out (never searched; transients may still use it).
  std::vector<char> out_of_scope;
  /// Step kinds after expand_transients(), parallel to the plan's steps; empty before.
  std::vector<StepKind> step_kind;

  /// The kind of step `i` of the plan (planned when not expanded).
  [[nodiscard]] StepKind kind(std::size_t i) const { return i < step_kind.size() ? step_kind[i] : StepKind::planned; }
};

/// The fact key of a property of a subject.
[[nodiscard]] std::string fact_key(const Subject& s, const std::string& prop);

/// Builds the Problem. Errors (a constraint naming no known group) carry the constraint's
/// position.
[[nodiscard]] Result<Grounded> ground(const Inputs& in);

/// Inserts, around every step with transient requirements, the steps that establish them
/// and then restore the values they had, and verifies the result. `g.step_kind` is filled
/// parallel to the returned plan's steps. `node_disruption` false: no inserted step may
/// disrupt its node (the safe halt's plan).
[[nodiscard]] std::expected<planning::Plan, planning::Refusal> expand_transients(Grounded& g, const planning::Plan& plan,
                                                                                bool node_disruption = true);

}  // namespace converge::grounding
