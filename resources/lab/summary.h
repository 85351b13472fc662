// resources/lab/summary.h — what a lab run amounted to: outage per cluster group and the
// violations of the domain's rules (unplanned failovers). Pure functions over LabState.
#pragma once

#include <string>
#include <vector>

#include "resources/lab/model.h"

namespace converge::lab {

/// One group's availability so far.
struct GroupOutage {
  std::string cluster;
  std::string group;
  std::string owner;
  bool online = false;
  std::string version;          ///< empty for the core group
  VTime outage_seconds = 0;     ///< total virtual seconds offline, including an open interval
};

/// The lab's verdict on a run.
struct LabSummary {
  std::string lab;
  VTime now = 0;
  std::vector<GroupOutage> groups;        ///< sorted by cluster, then group name
  std::vector<std::string> violations;    ///< in the order they happened
};

/// Summarises a state at its clock.
[[nodiscard]] LabSummary summarize(const LabState& s);

/// Formats seconds as "0s", "45s", "8m30s", "1h02m00s".
[[nodiscard]] std::string format_duration(VTime seconds);

/// Human text, deterministic:
///   lab clus1-rtm at t=1h02m00s
///     cluster CLUS1  group Cluster Group  owner NODE2  online   outage 30s
///     cluster CLUS1  group E2K7CCR        owner NODE1  online   outage 8m30s  version SP1
///   violations: none
[[nodiscard]] std::string render_summary(const LabSummary& s);

}  // namespace converge::lab
