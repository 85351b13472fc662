// resources/lab/model.h — the lab's world as plain data: nodes, services, software, cluster
// groups, scheduled timers, injected faults and the virtual clock.
//
// The lab is the oracle for the Exchange 2007 CCR showcase (DESIGN §5). Everything it knows
// about Windows and Exchange lives under resources/lab/ and is shared with no planner.
// LabState is a value: the rules mutate it through a Simulation (simulation.h), and
// to_json/state_from_json give the persistent form kept in `<state_dir>/lab/state.json`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/error.h"

namespace converge::lab {

/// Virtual time in seconds since the lab was created (t = 0). May be negative for facts
/// that predate the lab (the last full backup).
using VTime = std::int64_t;

/// A Windows service's startup type, as `sc.exe config ... start=` sets it.
enum class Startup { automatic, manual, disabled };

/// "automatic", "manual" or "disabled".
[[nodiscard]] const char* startup_name(Startup s);
/// Parses startup_name()'s output; std::nullopt for anything else.
[[nodiscard]] std::optional<Startup> parse_startup(const std::string& s);

/// One Windows service on a node, keyed by its service name (e.g. `SharedAccess`).
struct Service {
  bool running = false;
  Startup startup = Startup::manual;
};

/// Product versions the lab knows: "RTM" and "SP1" (Exchange 2007, .NET Framework 2.0).
/// Returns 0 for RTM, 1 for SP1, -1 for anything else.
[[nodiscard]] int version_rank(const std::string& version);

/// One Windows Server 2003 host.
struct Node {
  std::string name;
  std::vector<std::string> roles;     ///< sorted: domain_controller, hub_transport, client_access, mailbox
  std::string cluster;                ///< cluster name, empty when not clustered
  std::string os = "Windows Server 2003 SP2";
  std::string exchange = "RTM";       ///< Exchange 2007 binaries: RTM or SP1
  std::string dotnet = "RTM";         ///< .NET Framework 2.0: RTM (no service pack) or SP1
  bool online = true;
  std::int64_t boot_count = 1;        ///< Transport::boot_id; grows by one per boot
  VTime booted_at = 0;                ///< virtual time of the last boot completion
  bool reboot_pending = false;        ///< any installer asked for a reboot
  bool setup_reboot_pending = false;  ///< setup.com ran since the last boot
  bool remote_registry_stopped_since_boot = false;
  bool remote_registry_restarted_since_boot = false;
  std::optional<VTime> back_at;       ///< rebooting: when it comes back; nullopt if never (fault)
  std::map<std::string, Service> services;

  [[nodiscard]] bool has_role(const std::string& role) const;
};

/// A cluster resource group: the core "Cluster Group" or the clustered mailbox server.
struct Group {
  std::string name;
  std::string cluster;
  bool cms = false;                   ///< true for the clustered mailbox server (E2K7CCR)
  std::string owner;
  bool online = true;
  bool stopped = false;               ///< stopped by an administrator; stays offline until started
  std::string version;                ///< CMS only: RTM or SP1; empty for the core group
  std::optional<VTime> offline_since;
  VTime outage_seconds = 0;           ///< total virtual seconds offline so far (closed intervals)
};

/// A mailbox database of the CMS, for Get-MailboxDatabase -Status.
struct Database {
  std::string server;                 ///< the clustered mailbox server that hosts it
  std::string name;
  std::string storage_group;
  VTime last_full_backup = -7200;
};

/// An injected fault, from the lab file's `faults:` list.
struct Fault {
  enum class Mode { fail_once, fail_always, hang_once, hang, no_return_from_reboot };
  std::string node;                   ///< empty = any node
  std::string command;                ///< matched as whole words inside the command line
  Mode mode = Mode::fail_once;
  int exit_code = 1;
  std::string message;                ///< stderr of an injected failure; empty = a default
  bool spent = false;                 ///< a *_once fault that already fired
};

/// "fail_once", "fail_always", "hang_once", "hang", "no_return_from_reboot".
[[nodiscard]] const char* fault_mode_name(Fault::Mode m);
[[nodiscard]] std::optional<Fault::Mode> parse_fault_mode(const std::string& s);

/// Something that happens by itself at a virtual time: a failover after an unplanned reboot.
struct Timer {
  VTime at = 0;
  std::string group;                  ///< the group to bring online on a surviving node (its key)
};

/// Lab-wide options from the lab file.
struct Options {
  bool dotnet_sp1_leaves_reboot_pending = true;
  std::string epoch = "2008-03-01T08:00:00Z";  ///< wall-clock time of t = 0 (UTC)
};

/// The key of a group in LabState::groups and in timers: "CLUSTER/NAME".
[[nodiscard]] inline std::string group_key(const std::string& cluster, const std::string& name) { return cluster + "/" + name; }

/// The whole lab. Maps are keyed by name so that iteration (and every output) is sorted.
struct LabState {
  std::string name;
  VTime now = 0;
  std::map<std::string, Node> nodes;
  std::map<std::string, Group> groups;  ///< keyed by group_key(cluster, name): each cluster has its "Cluster Group"
  std::vector<Database> databases;
  std::vector<Fault> faults;
  std::vector<Timer> timers;
  std::vector<std::string> violations;
  Options options;
  std::uint64_t event_log_size = 0;   ///< bytes of events.jsonl that belong to this state

  /// Returns nullptr when absent.
  [[nodiscard]] Node* node(const std::string& name);
  /// A group by its key ("CLUSTER/NAME").
  [[nodiscard]] Group* group(const std::string& key);
  [[nodiscard]] Group* group(const std::string& cluster, const std::string& name) { return group(group_key(cluster, name)); }
  /// The clustered mailbox server of `cluster`, or nullptr.
  [[nodiscard]] Group* cms_of(const std::string& cluster);
};

/// The persistent JSON form (state.json).
[[nodiscard]] nlohmann::json to_json(const LabState& s);
/// Parses state.json. Errors are ErrorCode::invalid_input naming the bad field.
[[nodiscard]] Result<LabState> state_from_json(const nlohmann::json& j);

}  // namespace converge::lab
