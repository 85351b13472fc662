#include "resources/lab/model.h"

#include <algorithm>

namespace converge::lab {

using nlohmann::json;

const char* startup_name(Startup s) {
  switch (s) {
    case Startup::automatic: return "automatic";
    case Startup::manual: return "manual";
    case Startup::disabled: return "disabled";
  }
  return "manual";
}

std::optional<Startup> parse_startup(const std::string& s) {
  if (s == "automatic") return Startup::automatic;
  if (s == "manual") return Startup::manual;
  if (s == "disabled") return Startup::disabled;
  return std::nullopt;
}

int version_rank(const std::string& version) {
  if (version == "RTM") return 0;
  if (version == "SP1") return 1;
  return -1;
}

bool Node::has_role(const std::string& role) const {
  return std::find(roles.begin(), roles.end(), role) != roles.end();
}

const char* fault_mode_name(Fault::Mode m) {
  switch (m) {
    case Fault::Mode::fail_once: return "fail_once";
    case Fault::Mode::fail_always: return "fail_always";
    case Fault::Mode::hang_once: return "hang_once";
    case Fault::Mode::hang: return "hang";
    case Fault::Mode::no_return_from_reboot: return "no_return_from_reboot";
  }
  return "fail_once";
}

std::optional<Fault::Mode> parse_fault_mode(const std::string& s) {
  for (auto m : {Fault::Mode::fail_once, Fault::Mode::fail_always, Fault::Mode::hang_once, Fault::Mode::hang,
                 Fault::Mode::no_return_from_reboot}) {
    if (s == fault_mode_name(m)) return m;
  }
  return std::nullopt;
}

Node* LabState::node(const std::string& n) {
  auto it = nodes.find(n);
  return it == nodes.end() ? nullptr : &it->second;
}

Group* LabState::group(const std::string& key) {
  auto it = groups.find(key);
  return it == groups.end() ? nullptr : &it->second;
}

Group* LabState::cms_of(const std::string& cluster) {
  for (auto& [name, g] : groups) {
    if (g.cms && g.cluster == cluster) return &g;
  }
  return nullptr;
}

namespace {

json optional_time(const std::optional<VTime>& t) { return t ? json(*t) : json(nullptr); }

std::optional<VTime> read_optional_time(const json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<VTime>();
}

json node_to_json(const Node& n) {
  json services = json::object();
  for (const auto& [name, s] : n.services) {
    services[name] = {{"running", s.running}, {"startup", startup_name(s.startup)}};
  }
  return {{"roles", n.roles}, {"cluster", n.cluster}, {"os", n.os}, {"exchange", n.exchange},
          {"dotnet", n.dotnet}, {"online", n.online}, {"boot_count", n.boot_count},
          {"booted_at", n.booted_at}, {"reboot_pending", n.reboot_pending},
          {"setup_reboot_pending", n.setup_reboot_pending},
          {"remote_registry_stopped_since_boot", n.remote_registry_stopped_since_boot},
          {"remote_registry_restarted_since_boot", n.remote_registry_restarted_since_boot},
          {"back_at", optional_time(n.back_at)}, {"services", services}};
}

Node node_from_json(const std::string& name, const json& j) {
  Node n;
  n.name = name;
  n.roles = j.at("roles").get<std::vector<std::string>>();
  n.cluster = j.at("cluster").get<std::string>();
  n.os = j.at("os").get<std::string>();
  n.exchange = j.at("exchange").get<std::string>();
  n.dotnet = j.at("dotnet").get<std::string>();
  n.online = j.at("online").get<bool>();
  n.boot_count = j.at("boot_count").get<std::int64_t>();
  n.booted_at = j.at("booted_at").get<VTime>();
  n.reboot_pending = j.at("reboot_pending").get<bool>();
  n.setup_reboot_pending = j.at("setup_reboot_pending").get<bool>();
  n.remote_registry_stopped_since_boot = j.at("remote_registry_stopped_since_boot").get<bool>();
  n.remote_registry_restarted_since_boot = j.at("remote_registry_restarted_since_boot").get<bool>();
  n.back_at = read_optional_time(j.at("back_at"));
  for (const auto& [sname, sj] : j.at("services").items()) {
    auto startup = parse_startup(sj.at("startup").get<std::string>());
    if (!startup) throw std::runtime_error("bad startup for service " + sname);
    n.services[sname] = Service{sj.at("running").get<bool>(), *startup};
  }
  return n;
}

json group_to_json(const Group& g) {
  return {{"name", g.name}, {"cluster", g.cluster}, {"cms", g.cms}, {"owner", g.owner}, {"online", g.online},
          {"stopped", g.stopped}, {"version", g.version}, {"offline_since", optional_time(g.offline_since)},
          {"outage_seconds", g.outage_seconds}};
}

Group group_from_json(const std::string& key, const json& j) {
  Group g;
  g.name = j.contains("name") ? j.at("name").get<std::string>() : key;  // states before clusters scoped their groups
  g.cluster = j.at("cluster").get<std::string>();
  g.cms = j.at("cms").get<bool>();
  g.owner = j.at("owner").get<std::string>();
  g.online = j.at("online").get<bool>();
  g.stopped = j.at("stopped").get<bool>();
  g.version = j.at("version").get<std::string>();
  g.offline_since = read_optional_time(j.at("offline_since"));
  g.outage_seconds = j.at("outage_seconds").get<VTime>();
  return g;
}

json fault_to_json(const Fault& f) {
  return {{"node", f.node}, {"command", f.command}, {"mode", fault_mode_name(f.mode)},
          {"exit", f.exit_code}, {"message", f.message}, {"spent", f.spent}};
}

Fault fault_from_json(const json& j) {
  Fault f;
  f.node = j.at("node").get<std::string>();
  f.command = j.at("command").get<std::string>();
  auto mode = parse_fault_mode(j.at("mode").get<std::string>());
  if (!mode) throw std::runtime_error("bad fault mode");
  f.mode = *mode;
  f.exit_code = j.at("exit").get<int>();
  f.message = j.at("message").get<std::string>();
  f.spent = j.at("spent").get<bool>();
  return f;
}

}  // namespace

json to_json(const LabState& s) {
  json nodes = json::object();
  for (const auto& [name, n] : s.nodes) nodes[name] = node_to_json(n);
  json groups = json::object();
  for (const auto& [name, g] : s.groups) groups[name] = group_to_json(g);
  json dbs = json::array();
  for (const auto& d : s.databases) {
    dbs.push_back({{"server", d.server}, {"name", d.name}, {"storage_group", d.storage_group}, {"last_full_backup", d.last_full_backup}});
  }
  json faults = json::array();
  for (const auto& f : s.faults) faults.push_back(fault_to_json(f));
  json timers = json::array();
  for (const auto& t : s.timers) timers.push_back({{"at", t.at}, {"group", t.group}});
  return {{"format", "converge-lab-state/1"}, {"name", s.name}, {"now", s.now}, {"nodes", nodes},
          {"groups", groups}, {"databases", dbs}, {"faults", faults}, {"timers", timers},
          {"violations", s.violations},
          {"options", {{"dotnet_sp1_leaves_reboot_pending", s.options.dotnet_sp1_leaves_reboot_pending},
                       {"epoch", s.options.epoch}}},
          {"event_log_size", s.event_log_size}};
}

Result<LabState> state_from_json(const json& j) {
  try {
    if (j.at("format").get<std::string>() != "converge-lab-state/1") {
      return std::unexpected(make_error(ErrorCode::invalid_input, "unsupported lab state format"));
    }
    LabState s;
    s.name = j.at("name").get<std::string>();
    s.now = j.at("now").get<VTime>();
    for (const auto& [name, nj] : j.at("nodes").items()) s.nodes[name] = node_from_json(name, nj);
    for (const auto& [key, gj] : j.at("groups").items()) {
      Group g = group_from_json(key, gj);
      s.groups[group_key(g.cluster, g.name)] = g;
    }
    for (const auto& d : j.at("databases")) {
      s.databases.push_back(Database{d.at("server").get<std::string>(), d.at("name").get<std::string>(), d.at("storage_group").get<std::string>(),
                                     d.at("last_full_backup").get<VTime>()});
    }
    for (const auto& f : j.at("faults")) s.faults.push_back(fault_from_json(f));
    for (const auto& t : j.at("timers")) {
      Timer timer{t.at("at").get<VTime>(), t.at("group").get<std::string>()};
      if (!s.groups.count(timer.group))  // a state before clusters scoped their groups: the name
        for (const auto& [key, g] : s.groups)
          if (g.name == timer.group) timer.group = key;
      s.timers.push_back(timer);
    }
    s.violations = j.at("violations").get<std::vector<std::string>>();
    s.options.dotnet_sp1_leaves_reboot_pending = j.at("options").at("dotnet_sp1_leaves_reboot_pending").get<bool>();
    s.options.epoch = j.at("options").at("epoch").get<std::string>();
    s.event_log_size = j.at("event_log_size").get<std::uint64_t>();
    return s;
  } catch (const std::exception& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, std::string("malformed lab state: ") + e.what()));
  }
}

}  // namespace converge::lab
