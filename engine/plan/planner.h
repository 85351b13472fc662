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
// plan() searches (weighted A*: steps, plus minutes of planned outage, plus ten times a
// relaxed distance to the goal; engine/planner_search.h) when nodes are coupled through
// shared facts; a tier of independent nodes is planned one node at a
// time and scheduled in batches, which scales to thousands of nodes. Every plan is
// replayed by verify() before it is returned. When no plan exists the refusal names the
// constraint that blocks and the goal it blocks.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
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
};

struct Plan {
  std::vector<Step> steps;                    ///< ordered by start; a node's steps in their order
  std::int64_t makespan_s = 0;
  std::map<std::string, std::int64_t> outage_s;  ///< planned outage per available group
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

/// Finds a plan or says why none exists.
[[nodiscard]] std::expected<Plan, Refusal> plan(const Problem& p);

/// The outage of each available group along a plan (replayed sequentially).
[[nodiscard]] std::map<std::string, std::int64_t> planned_outage(const Problem& p, const Plan& plan);

/// Replays a plan from the initial facts: every precondition and constraint must hold in
/// every state, and the goal at the end.
[[nodiscard]] std::expected<void, Refusal> verify(const Problem& p, const Plan& plan);

}  // namespace converge::planning
