// Exchange 2007 setup: `setup.com /m:upgrade` (binaries RTM -> SP1) and `setup.com
// /upgradecms` (the clustered mailbox server's own upgrade). The prerequisite checks are the
// lab's statement of the vendor's rolling-upgrade procedure for CCR (DESIGN §5).
#include <algorithm>

#include "resources/lab/commands.h"

namespace converge::lab {

namespace {

/// Services that watch Exchange and must be stopped while setup replaces its binaries:
/// MOM 2005 agent, SCOM 2007 agent, Forefront Security for Exchange, Performance Logs and Alerts.
const char* const kExchangeAwareServices[] = {"MOM", "HealthService", "FSCController", "SysmonLog"};

constexpr VTime kPrereqCheck = 60;

std::string banner(const Node& n) {
  std::string roles = n.has_role("mailbox") ? "Mailbox Role\n" : "";
  if (n.has_role("hub_transport")) roles += "Hub Transport Role\n";
  if (n.has_role("client_access")) roles += "Client Access Role\n";
  return "\nWelcome to Microsoft Exchange Server 2007 Unattended Setup\n\nPreparing Exchange Setup\n\n"
         "The following server roles will be upgraded\n" +
         roles + "Management Tools\n\nPerforming Microsoft Exchange Server Prerequisite Check\n\n";
}

Outcome setup_failed(const Node& n, const std::vector<std::string>& reasons, VTime duration) {
  std::string out = banner(n) + "    Readiness Checks                  ......................... FAILED\n";
  std::string err;
  for (const auto& r : reasons) {
    out += "     " + r + "\n";
    err += "setup.com: " + r + "\n";
  }
  out += "\nThe Exchange Server setup operation did not complete. Visit http://support.microsoft.com and enter the "
         "Error ID to find more information.\n\nExchange Server setup encountered an error.\n";
  return fail(1, err, out, duration);
}

std::vector<std::string> upgrade_blockers(LabState& s, const Node& n) {
  std::vector<std::string> why;
  for (const auto& [name, g] : s.groups) {
    if (g.owner != n.name) continue;
    if (g.online) {
      why.push_back(n.name + " owns the online cluster group '" + g.name +
                    "'; move it to another node first (setup runs only on a passive node)");
    } else if (g.cms) {
      why.push_back(n.name + " owns the clustered mailbox server " + g.name +
                    "; move it to the other node before upgrading this node's binaries");
    }
  }
  if (n.dotnet != "SP1") why.push_back(".NET Framework 2.0 SP1 is not installed; install NetFx20SP1 first");
  if (n.reboot_pending) why.push_back("a restart is pending from an earlier installation; restart the computer first");
  if (n.has_role("mailbox")) {
    for (const auto& [name, other] : s.nodes) {
      if ((other.has_role("hub_transport") || other.has_role("client_access")) && other.exchange != "SP1") {
        why.push_back("Hub Transport and Client Access server " + name + " is at " + other.exchange +
                      "; upgrade it to SP1 before any mailbox server");
      }
    }
  }
  auto fw = n.services.find("SharedAccess");
  if (fw == n.services.end() || !fw->second.running) {
    why.push_back("the Windows Firewall/Internet Connection Sharing (ICS) service (SharedAccess) must be running");
  }
  for (const char* svc : kExchangeAwareServices) {
    auto it = n.services.find(svc);
    if (it != n.services.end() && it->second.running) {
      why.push_back(std::string("the Exchange-aware service ") + svc + " is running; stop it before setup");
    }
  }
  if (!n.cluster.empty()) {
    auto rr = n.services.find("RemoteRegistry");
    if (rr == n.services.end() || !rr->second.running) {
      why.push_back("the Remote Registry service (RemoteRegistry) must be running");
    } else if (!n.remote_registry_restarted_since_boot) {
      why.push_back("the Remote Registry service (RemoteRegistry) has not been stopped and restarted since the last boot");
    }
  }
  return why;
}

Outcome upgrade(Simulation& sim, Node& n) {
  if (n.exchange == "SP1") {
    return succeed(banner(n) + "No server roles need to be upgraded; Exchange Server 2007 SP1 is already installed.\n",
                   kPrereqCheck);
  }
  auto why = upgrade_blockers(sim.state(), n);
  if (!why.empty()) return setup_failed(n, why, kPrereqCheck);
  sim.set_duration(durations::setup_upgrade);
  sim.set_software(n, "exchange", "SP1");
  n.reboot_pending = true;
  n.setup_reboot_pending = true;
  const std::string done = " ......................... COMPLETED\n";
  std::string out = banner(n) + "    Readiness Checks                 " + done + "\nConfiguring Microsoft Exchange Server\n\n" +
                    "    Copying Exchange files           " + done;
  if (n.has_role("hub_transport")) out += "    Hub Transport Server Role        " + done;
  if (n.has_role("client_access")) out += "    Client Access Server Role        " + done;
  if (n.has_role("mailbox")) out += "    Mailbox Server Role              " + done;
  out += "\nThe Microsoft Exchange Server setup operation completed successfully.\n"
         "Setup has made changes to operating system settings that require a reboot to take effect. "
         "Please reboot this server prior to placing it into production.\n";
  return succeed(out, durations::setup_upgrade);
}

std::vector<std::string> upgrade_cms_blockers(LabState& s, const Node& n, const Group* cms) {
  if (!cms) return {n.name + " is not a node of a cluster with a clustered mailbox server"};
  if (cms->owner != n.name) {
    return {"the clustered mailbox server " + cms->name + " is owned by " + cms->owner +
            "; run /upgradecms on the node that owns it"};
  }
  bool all_sp1 = std::all_of(s.nodes.begin(), s.nodes.end(), [&](const auto& kv) {
    return kv.second.cluster != cms->cluster || kv.second.exchange == "SP1";
  });
  if (all_sp1 && cms->version == "RTM") {
    return {"every node of " + cms->cluster + " is at SP1 while " + cms->name +
            " is still at RTM; /upgradecms must run after the first node is upgraded and before the second, and "
            "can no longer run"};
  }
  std::vector<std::string> why;
  if (cms->online) why.push_back("the clustered mailbox server " + cms->name + " is online; stop it with Stop-ClusteredMailboxServer first");
  if (n.exchange != "SP1") why.push_back("the Exchange binaries on " + n.name + " are at " + n.exchange + "; run setup.com /m:upgrade first");
  return why;
}

Outcome upgrade_cms(Simulation& sim, Node& n) {
  Group* cms = sim.state().cms_of(n.cluster);
  if (cms && cms->version == "SP1" && cms->owner == n.name) {
    return succeed(banner(n) + "The clustered mailbox server " + cms->name + " is already at SP1.\n", kPrereqCheck);
  }
  auto why = upgrade_cms_blockers(sim.state(), n, cms);
  if (!why.empty()) return setup_failed(n, why, kPrereqCheck);
  sim.set_duration(durations::upgrade_cms);
  cms->version = "SP1";
  sim.group_changed(*cms);
  return succeed(banner(n) + "    Upgrading clustered mailbox server " + cms->name + " ......................... COMPLETED\n\n"
                     "The Microsoft Exchange Server setup operation completed successfully.\n",
                 durations::upgrade_cms);
}

}  // namespace

Outcome run_setup(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  if (argv.size() == 2) {
    std::string mode = lower(argv[1]);
    if (mode == "/m:upgrade" || mode == "/mode:upgrade") return upgrade(sim, n);
    if (mode == "/upgradecms") return upgrade_cms(sim, n);
  }
  return fail(1, "lab: unknown command: " + command_line(argv) +
                     " (the lab knows `setup.com /m:upgrade` and `setup.com /upgradecms`)\n");
}

}  // namespace converge::lab
