// engine/plan/planner.h — availability-aware planning over facts. Pure: no I/O.
//
// The model is deliberately small. A *fact* is a key ("NODE1/exchange/version",
// "CLUS1/E2K7CCR/owner") with a Value; the part before the first '/' names the node the
// fact lives on (or a cluster). An *action* runs on one node, needs conditions on facts,
// sets facts, disrupts nothing, its resource, or its whole node, may make cluster groups
// unavailable while it runs, and takes an estimated time. Constraints must hold in every
// state along the plan:
//   - max_disrupted k of S: at most k nodes of S are "open" at once; a node opens with its
//     first disruptive action and closes when every goal fact on it holds;
//   - order [A, B, ...]: no action on a node of a later set while a goal on an earlier
//     set's nodes is unmet;
//   - available G with budget: G must not be taken down unplanned (a node-disruptive action
//     on the node owning G while G is online), and the planned outage, summed over the
//     plan, stays within the budget.
// "Drain before disrupt" is not special-cased: a plan that reboots the owner of an
// online group breaks `available`, so the search finds the move first.
//
// plan() decomposes: nodes coupled through shared facts form a component (a cluster and
// its members; a stand-alone server alone; components()). Each component is searched on
// its own (weighted A*: steps, plus minutes of planned outage, plus ten times a relaxed
// distance to the goal; engine/plan/planner_search.h), components identical up to their names
// share one search, and schedule() runs the components' step chains side by side under
// the constraints that span them (engine/plan/schedule.cpp). Every plan is replayed by
// verify() before it is returned. When no plan exists the refusal names the constraint
// that blocks and the goal it blocks.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/disruption.h"
#include "engine/model/value.h"

namespace converge::planning {

using Facts = std::map<std::string, Value>;

/// Holds when the fact's value (null when missing) is one of `any_of`.
struct Condition {
  std::string fact;
  std::vector<Value> any_of;
};

/// The one vocabulary of engine/model/disruption.h.
using converge::Disruption;

/// A ground action.
struct Operator {
  std::string name;                                   ///< what runs, for humans
  std::string node;                                   ///< where it runs
  std::vector<Condition> pre;
  std::vector<std::pair<std::string, Value>> effects;
  Disruption disruption = Disruption::none;
  std::vector<std::string> outages;                   ///< groups unavailable while it runs
  std::int64_t seconds = 0;
  /// False: never chosen by the search (it helps no goal), but a plan may still hold it
  /// (the steps that establish and restore a transient requirement) and verify() replays it.
  bool search = true;
};

struct MaxDisrupted {
  int k = 1;
  std::vector<std::string> nodes;
};
struct Order {
  std::vector<std::vector<std::string>> sets;
};
struct Available {
  std::string group;
  std::string owner_fact;   ///< fact holding the owning node's name
  std::string online_fact;  ///< fact holding true when online
  std::int64_t budget_s = -1;  ///< planned outage allowed in total; -1 = unlimited
};

struct Problem {
  Facts initial;
  /// Pairs of locations (nodes, clusters) planned together although no action's facts
  /// join them: a step's transient requirement on another location's resource.
  std::vector<std::pair<std::string, std::string>> links;
  std::vector<Condition> goal;
  /// Desired values of resources --limit/--tags leave out: never pursued, but while one on
  /// a node of an order constraint's set is unmet, no later set may change.
  std::vector<Condition> held;
  std::vector<Operator> actions;
  std::vector<MaxDisrupted> max_disrupted;
  std::vector<Order> order;
  std::vector<Available> available;
  std::size_t max_expansions = 2'000'000;  ///< search budget before refusing
};

/// One step of a plan: an action and when it runs (seconds from the start).
struct Step {
  int action = 0;
  std::int64_t start_s = 0;
  std::int64_t end_s = 0;
  int chain = 0;  ///< the component chain it belongs to (steps of one chain run one after another)
};

struct Plan {
  std::vector<Step> steps;                    ///< ordered by start; a chain's steps in their order
  std::int64_t makespan_s = 0;
  /// No schedule of these chains is shorter: the longest path of chains that wait on each
  /// other, and for each max_disrupted constraint the earliest start of a chain disrupting
  /// its nodes plus the disruptive work (a chain's length times the nodes of the set it
  /// keeps open at once) divided by k.
  std::int64_t lower_bound_s = 0;
  int chains = 0;                             ///< component chains in the schedule
  std::map<std::string, std::int64_t> outage_s;  ///< planned outage per available group (wall time)
};

/// Why no plan: the constraint (as the manifest would say it) and the goal it blocks.
struct Refusal {
  std::string constraint;
  std::string blocked;
  std::string message;
};

/// True when the fact's value in `f` (null when missing) is one of the condition's.
[[nodiscard]] bool holds(const Condition& c, const Facts& f);

/// A set of nodes as messages write it: "[NODE1, NODE2]".
[[nodiscard]] std::string set_text(const std::vector<std::string>& nodes);

/// The node a fact lives on: the part before the first '/'.
[[nodiscard]] std::string fact_node(const std::string& fact);

/// The components of a problem: locations (nodes and clusters) joined by an action's
/// facts, a link, or an available group's owner, each sorted, in order of their first name.
[[nodiscard]] std::vector<std::vector<std::string>> components(const Problem& p);

/// The parallel schedule of step chains, each a sequence of actions of one component run
/// one after another: a chain starts after every chain that changes a fact it reads and,
/// by the order constraints, every chain with steps on an earlier set; at the earliest
/// time at which every max_disrupted
/// constraint keeps room for the nodes it holds open; longer chains are placed first. The
/// chains change disjoint facts (a chain may read what another changes). std::nullopt when
/// two chains wait on each other, or a chain alone holds open more nodes of a set than its
/// max_disrupted allows.
[[nodiscard]] std::optional<Plan> schedule(const Problem& p, const std::vector<std::vector<int>>& chains);

/// Finds a plan or says why none exists.
[[nodiscard]] std::expected<Plan, Refusal> plan(const Problem& p);

/// The outage of each available group along a plan, in wall time: from the start of the
/// step that takes it down to the end of the step that brings it back (or the plan's end).
[[nodiscard]] std::map<std::string, std::int64_t> planned_outage(const Problem& p, const Plan& plan);

/// Replays a plan from the initial facts: every precondition and constraint must hold in
/// every state, and the goal at the end.
[[nodiscard]] std::expected<void, Refusal> verify(const Problem& p, const Plan& plan);

}  // namespace converge::planning
