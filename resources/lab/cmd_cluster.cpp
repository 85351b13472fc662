// `cluster.exe`: the Windows Server 2003 cluster command line. Lists groups and nodes, and
// moves the core "Cluster Group". It refuses to move the clustered mailbox server, which
// Exchange moves only with Move-ClusteredMailboxServer.
#include <cstdio>

#include "resources/lab/commands.h"

namespace converge::lab {

namespace {

std::string pad(const std::string& s, std::size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size() + 1, ' ');
}

std::string group_table(const LabState& s, const std::string& cluster, const std::string& only) {
  std::string out = "Group                Node            Status\n-------------------- --------------- ------\n";
  for (const auto& [_, g] : s.groups) {
    if (g.cluster != cluster || (!only.empty() && g.name != only)) continue;
    out += pad(g.name, 20) + pad(g.owner, 15) + (g.online ? "Online" : "Offline") + "\n";
  }
  return out;
}

std::string node_table(const LabState& s, const std::string& cluster) {
  std::string out = "Node           Node ID Status\n-------------- ------- ---------------------\n";
  int id = 0;
  for (const auto& [name, n] : s.nodes) {
    if (n.cluster != cluster) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%7d ", ++id);
    out += pad(name, 14) + buf + (n.online ? "Up" : "Down") + "\n";
  }
  return out;
}

Outcome move_group(Simulation& sim, Group& g, const std::string& target_name) {
  LabState& s = sim.state();
  if (g.cms) {
    return fail(1, "System error 5023 has occurred (0x000013a0).\nlab: '" + g.name +
                       "' is a clustered mailbox server; cluster.exe may not move it (refused). Use "
                       "Move-ClusteredMailboxServer.\n");
  }
  Node* target = nullptr;
  for (auto& [name, n] : s.nodes) {
    if (lower(name) == lower(target_name)) target = &n;
  }
  if (!target || target->cluster != g.cluster) {
    return fail(5042, "System error 5042 has occurred (0x000013b2).\nThe cluster node '" + target_name + "' was not found.\n");
  }
  if (!target->online) {
    return fail(5050, "System error 5050 has occurred (0x000013ba).\nThe cluster node '" + target->name + "' is down.\n");
  }
  std::string out = "Moving resource group '" + g.name + "'...\n\n";
  if (g.owner == target->name) return succeed(out + group_table(s, g.cluster, g.name), 1);
  sim.set_duration(durations::cluster_move);
  if (g.online) {
    sim.group_offline(g, sim.t0(), false);
    sim.group_online(g, target->name, sim.t_end());
  } else {
    g.owner = target->name;
    sim.group_changed(g);
  }
  return succeed(out + group_table(s, g.cluster, g.name), durations::cluster_move);
}

}  // namespace

Outcome run_cluster(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  LabState& s = sim.state();
  std::size_t i = 1;
  std::string cluster = n.cluster;
  if (i < argv.size() && lower(argv[i]) != "group" && lower(argv[i]) != "node") {
    cluster = argv[i];
    if (lower(cluster).rfind("/cluster:", 0) == 0) cluster = cluster.substr(9);
    ++i;
  }
  bool known = false;
  for (const auto& [name, node] : s.nodes) {
    if (!node.cluster.empty() && lower(node.cluster) == lower(cluster)) {
      cluster = node.cluster;
      known = true;
    }
  }
  if (!known) {
    return fail(1722, "System error 1722 has occurred (0x000006ba).\nThe RPC server is unavailable.\nlab: no cluster named '" +
                          cluster + "'\n");
  }
  if (i >= argv.size()) return fail(1, "lab: unknown command: " + command_line(argv) + "\n");
  std::string what = lower(argv[i++]);
  if (what == "node" && i == argv.size()) {
    return succeed("Listing status for all available nodes:\n\n" + node_table(s, cluster), 0);
  }
  if (what != "group") return fail(1, "lab: unknown command: " + command_line(argv) + "\n");
  if (i == argv.size()) return succeed("Listing status for all available resource groups:\n\n" + group_table(s, cluster, ""), 0);
  Group* g = s.group(cluster, argv[i]);
  if (!g || g->cluster != cluster) {
    return fail(5013, "System error 5013 has occurred (0x00001395).\nThe cluster group '" + argv[i] + "' could not be found.\n");
  }
  ++i;
  if (i == argv.size()) return succeed("Listing status for resource group '" + g->name + "':\n\n" + group_table(s, cluster, g->name), 0);
  std::string op = argv[i];
  std::string lop = lower(op);
  if (i + 1 == argv.size() && (lop.rfind("/moveto:", 0) == 0 || lop.rfind("/move:", 0) == 0)) {
    return move_group(sim, *g, op.substr(op.find(':') + 1));
  }
  return fail(1, "lab: unknown command: " + command_line(argv) + " (the lab knows `cluster.exe CLUSTER group [NAME [/moveto:NODE]]` and `cluster.exe CLUSTER node`)\n");
}

}  // namespace converge::lab
