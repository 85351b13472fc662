// engine/plan/planner_search.h — the planner's search and the helpers planner.cpp and
// schedule.cpp share (internal to engine/plan/).
//
// Weighted A* over compact states: facts and their values are interned, so a state is one
// byte per fact, a condition is a bit mask of the values it accepts, the open nodes are a
// bit set. The cost of a path: steps, plus minutes of planned outage, plus ten times h_add
// (the relaxed distance to the goal, with a node-disruptive action on the owner of an
// available group paying for the drain). An admissible bound on each group's remaining
// outage (h_max over the actions that run while it is down) prunes states that cannot
// keep the budget, and refuses at once when the start cannot (a goal out of reach even in
// the relaxation is reported as such, not as a budget). At most 64 nodes and 63 values of
// one fact take part in one coupled search; beyond that it says so (too_big).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/plan/planner.h"

namespace converge::planning::detail {

struct Found {
  std::vector<int> actions;
  bool ok = false;
  std::string refused_by;            ///< a constraint that already fails at the start
  bool too_big = false;              ///< over the compact representation's limits
  std::vector<std::string> blocked;  ///< goals unmet in the closest state reached
  std::size_t expansions = 0;
};

[[nodiscard]] std::string describe(const Condition& c);

/// Searches for a sequential plan of the searchable actions.
[[nodiscard]] Found search(const Problem& p);

}  // namespace converge::planning::detail

namespace converge::planning::detail {

/// When each node is disrupted along a plan: from the start of a disruptive step to the
/// end of the step after which every goal on it holds (the plan's end if never); a node
/// disrupted again later has a window for each time.
using Windows = std::map<std::string, std::vector<std::pair<std::int64_t, std::int64_t>>>;
[[nodiscard]] Windows open_windows(const Problem& p, const Plan& plan);

/// The goals on each node (by fact_node), for open_windows.
using GoalsOn = std::map<std::string, std::vector<const Condition*>>;
[[nodiscard]] GoalsOn goals_on(const Problem& p);
/// open_windows with the goals already indexed.
[[nodiscard]] Windows open_windows(const Problem& p, const Plan& plan, const GoalsOn& goals);

}  // namespace converge::planning::detail
