// engine/model/selection.h — `--limit` and `--tags`: which part of a manifest one run acts
// on. Pure.
//
// A limit names nodes, groups and clusters (a cluster stands for itself and its members). A
// node-scoped resource is in scope when its node is; a cluster-scoped one when its cluster
// is named or all of the cluster's members are. With tags, a resource must also carry one
// of them. Resources out of scope are marked `excluded`: the run leaves them as they are,
// and the planner still checks every constraint over the whole estate, refusing a limited
// run that would leave one broken.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/manifest.h"

namespace converge {

struct Selection {
  std::vector<std::string> limit;  ///< node, group or cluster names; empty: every node
  std::vector<std::string> tags;   ///< empty: every resource

  [[nodiscard]] bool empty() const { return limit.empty() && tags.empty(); }
  /// "--limit NODE1,NODE2 --tags web" as the command line said it.
  [[nodiscard]] std::string describe() const;
};

/// What select() left out.
struct SelectionSummary {
  int in_scope = 0;
  int left_out = 0;
  std::set<std::string> nodes_left_out;  ///< nodes and clusters with a resource left out
};

/// Splits "a,b, c" into its words (empty words dropped).
[[nodiscard]] std::vector<std::string> split_list(const std::string& text);

/// Marks the resources outside `s` excluded and sets `m.limit`. Errors: a limit word that
/// is no node, group or cluster; a tag no resource carries (a typo would select nothing).
[[nodiscard]] Result<SelectionSummary> select(Manifest& m, const Selection& s);

}  // namespace converge
