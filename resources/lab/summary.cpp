#include "resources/lab/summary.h"

#include <algorithm>
#include <cstdio>

namespace converge::lab {

LabSummary summarize(const LabState& s) {
  LabSummary out;
  out.lab = s.name;
  out.now = s.now;
  for (const auto& [_, g] : s.groups) {
    VTime outage = g.outage_seconds;
    if (!g.online && g.offline_since) outage += std::max<VTime>(0, s.now - *g.offline_since);
    out.groups.push_back(GroupOutage{g.cluster, g.name, g.owner, g.online, g.version, outage});
  }
  out.violations = s.violations;
  return out;
}

std::string format_duration(VTime seconds) {
  char buf[64];
  VTime h = seconds / 3600, m = seconds % 3600 / 60, sec = seconds % 60;
  if (h > 0) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm%02llds", static_cast<long long>(h), static_cast<long long>(m),
                  static_cast<long long>(sec));
  } else if (m > 0) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(m), static_cast<long long>(sec));
  } else {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(sec));
  }
  return buf;
}

std::string render_summary(const LabSummary& s) {
  std::size_t width = 0, owner_width = 0, cluster_width = 0;
  for (const auto& g : s.groups) {
    cluster_width = std::max(cluster_width, g.cluster.size());
    width = std::max(width, g.group.size());
    owner_width = std::max(owner_width, g.owner.size());
  }
  std::string out = "lab " + s.lab + " at t=" + format_duration(s.now) + "\n";
  for (const auto& g : s.groups) {
    out += "  cluster " + g.cluster + std::string(cluster_width - g.cluster.size() + 2, ' ');
    out += "group " + g.group + std::string(width - g.group.size() + 2, ' ');
    out += "owner " + g.owner + std::string(owner_width - g.owner.size() + 2, ' ');
    out += g.online ? "online   " : "offline  ";
    out += "outage " + format_duration(g.outage_seconds);
    if (!g.version.empty()) out += "  version " + g.version;
    out += "\n";
  }
  if (s.violations.empty()) return out + "violations: none\n";
  out += "violations: " + std::to_string(s.violations.size()) + "\n";
  for (const auto& v : s.violations) out += "  - " + v + "\n";
  return out;
}

}  // namespace converge::lab
