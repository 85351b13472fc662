#include "resources/lab/lab_file.h"

#include <algorithm>
#include <regex>
#include <set>

#include <yaml-cpp/yaml.h>

#include "engine/model/yaml_doc.h"

namespace converge::lab {

namespace {

const std::set<std::string> kRoles = {"domain_controller", "hub_transport", "client_access", "mailbox"};

/// Walks the YAML and gathers every diagnostic before failing.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const YAML::Node& at, const std::string& message) {
    YAML::Mark m = at.Mark();
    diags_.push_back(make_error(ErrorCode::invalid_input, message, SourceRange{file_, m.line + 1, m.column + 1}));
  }
  [[nodiscard]] Diagnostics& diags() { return diags_; }

  /// True when `n` is a map; reports unknown and duplicate keys.
  bool map(const YAML::Node& n, const std::string& what, const std::set<std::string>& allowed) {
    if (!n.IsMap()) {
      error(n, what + " must be a mapping");
      return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
      if (!seen.insert(key).second) error(it->first, "duplicate key '" + key + "' in " + what);
      if (!allowed.empty() && !allowed.count(key)) error(it->first, "unknown key '" + key + "' in " + what);
    }
    return true;
  }

  /// Keys of a free-form map (names), checking duplicates.
  std::vector<std::pair<YAML::Node, YAML::Node>> entries(const YAML::Node& n, const std::string& what) {
    std::vector<std::pair<YAML::Node, YAML::Node>> out;
    if (!map(n, what, {})) return out;
    for (auto it = n.begin(); it != n.end(); ++it) {
      if (!it->first.IsScalar()) {
        error(it->first, what + " keys must be names");
        continue;
      }
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  std::optional<std::string> str(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      error(n, what + " must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  std::optional<bool> boolean(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar() && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
    error(n, what + " must be true or false");
    return std::nullopt;
  }

  std::optional<std::string> version(const YAML::Node& n, const std::string& what) {
    auto v = str(n, what);
    if (v && version_rank(*v) < 0) {
      error(n, what + " must be RTM or SP1, not '" + *v + "'");
      return std::nullopt;
    }
    return v;
  }

 private:
  std::string file_;
  Diagnostics diags_;
};

void read_services(Reader& r, const YAML::Node& n, Node& node) {
  for (const auto& [key, val] : r.entries(n, "services of " + node.name)) {
    std::string what = "service " + key.Scalar() + " on " + node.name;
    if (!r.map(val, what, {"state", "startup"})) continue;
    Service svc;
    if (val["state"]) {
      auto st = r.str(val["state"], what + ": state");
      if (st && *st != "running" && *st != "stopped") r.error(val["state"], what + ": state must be running or stopped");
      svc.running = st && *st == "running";
    } else {
      r.error(val, what + ": state is required");
    }
    if (val["startup"]) {
      auto st = r.str(val["startup"], what + ": startup");
      auto parsed = st ? parse_startup(*st) : std::nullopt;
      if (!parsed) r.error(val["startup"], what + ": startup must be automatic, manual or disabled");
      else svc.startup = *parsed;
    } else {
      r.error(val, what + ": startup is required");
    }
    if (svc.running && svc.startup == Startup::disabled) r.error(val, what + ": a disabled service cannot be running");
    node.services[key.Scalar()] = svc;
  }
}

void read_node(Reader& r, const YAML::Node& key, const YAML::Node& n, LabState& s) {
  Node node;
  node.name = key.Scalar();
  std::string what = "node " + node.name;
  if (!r.map(n, what, {"roles", "cluster", "os", "dotnet", "exchange", "services"})) return;
  if (n["roles"] && n["roles"].IsSequence()) {
    for (const auto& role : n["roles"]) {
      auto v = r.str(role, what + ": role");
      if (v && !kRoles.count(*v)) r.error(role, what + ": unknown role '" + *v + "'");
      else if (v) node.roles.push_back(*v);
    }
    std::sort(node.roles.begin(), node.roles.end());
  } else {
    r.error(n["roles"] ? n["roles"] : n, what + ": roles must be a list");
  }
  if (n["cluster"]) node.cluster = r.str(n["cluster"], what + ": cluster").value_or("");
  if (n["os"]) node.os = r.str(n["os"], what + ": os").value_or(node.os);
  if (n["dotnet"]) node.dotnet = r.version(n["dotnet"], what + ": dotnet").value_or("RTM");
  if (n["exchange"]) node.exchange = r.version(n["exchange"], what + ": exchange").value_or("RTM");
  if (n["services"]) read_services(r, n["services"], node);
  auto rr = node.services.find("RemoteRegistry");
  node.remote_registry_stopped_since_boot = rr == node.services.end() || !rr->second.running;
  s.nodes[node.name] = node;
}

void read_databases(Reader& r, const YAML::Node& n, const std::string& cms, LabState& s) {
  if (!n.IsSequence()) return r.error(n, "databases of " + cms + " must be a list");
  for (const auto& d : n) {
    std::string what = "a database of " + cms;
    if (!r.map(d, what, {"name", "storage_group", "last_full_backup_age"})) continue;
    Database db;
    db.server = cms;
    if (d["name"]) db.name = r.str(d["name"], what + ": name").value_or("");
    else r.error(d, what + ": name is required");
    db.storage_group = d["storage_group"] ? r.str(d["storage_group"], what + ": storage_group").value_or("") : "First Storage Group";
    if (d["last_full_backup_age"]) {
      auto age = parse_age(r.str(d["last_full_backup_age"], what + ": last_full_backup_age").value_or(""));
      if (!age) r.error(d["last_full_backup_age"], what + ": last_full_backup_age must look like 90s, 30m, 2h or 1d");
      db.last_full_backup = -age.value_or(0);
    }
    s.databases.push_back(db);
  }
}

void read_group(Reader& r, const YAML::Node& key, const YAML::Node& n, const std::string& cluster, LabState& s) {
  Group g;
  g.name = key.Scalar();
  g.cluster = cluster;
  std::string what = "group '" + g.name + "'";
  if (!r.map(n, what, {"type", "owner", "online", "version", "databases"})) return;
  if (n["type"]) {
    auto t = r.str(n["type"], what + ": type");
    if (t && *t != "clustered_mailbox_server" && *t != "core") r.error(n["type"], what + ": type must be core or clustered_mailbox_server");
    g.cms = t && *t == "clustered_mailbox_server";
  }
  if (n["owner"]) {
    g.owner = r.str(n["owner"], what + ": owner").value_or("");
    const Node* owner = s.node(g.owner);
    if (!owner || owner->cluster != cluster) r.error(n["owner"], what + ": owner '" + g.owner + "' is not a node of cluster " + cluster);
  } else {
    r.error(n, what + ": owner is required");
  }
  if (n["online"]) g.online = r.boolean(n["online"], what + ": online").value_or(true);
  g.stopped = !g.online;
  if (!g.online) g.offline_since = 0;
  if (g.cms) {
    if (n["version"]) g.version = r.version(n["version"], what + ": version").value_or("RTM");
    else r.error(n, what + ": version is required for a clustered mailbox server");
    if (n["databases"]) read_databases(r, n["databases"], g.name, s);
    const Node* owner = s.node(g.owner);
    if (g.online && owner && owner->exchange != g.version) {
      r.error(n, what + " cannot be online on " + g.owner + ", whose binaries are at " + owner->exchange);
    }
  } else if (n["version"] || n["databases"]) {
    r.error(n, what + ": version and databases apply only to a clustered mailbox server");
  }
  if (s.groups.count(group_key(cluster, g.name))) r.error(key, "group '" + g.name + "' is declared twice in cluster " + cluster);
  // A clustered mailbox server is an Exchange server: its name is unique in the organization.
  for (const auto& [_, other] : s.groups)
    if (g.cms && other.cms && other.name == g.name && other.cluster != cluster)
      r.error(key, what + ": a clustered mailbox server of that name is already in cluster " + other.cluster);
  s.groups[group_key(cluster, g.name)] = g;
}

void read_fault(Reader& r, const YAML::Node& n, LabState& s) {
  if (!r.map(n, "a fault", {"node", "command", "mode", "exit", "message"})) return;
  Fault f;
  if (n["node"]) {
    f.node = r.str(n["node"], "fault: node").value_or("");
    if (!s.node(f.node)) r.error(n["node"], "fault: no node named '" + f.node + "'");
  }
  auto mode = n["mode"] ? parse_fault_mode(r.str(n["mode"], "fault: mode").value_or("")) : std::nullopt;
  if (!mode) {
    r.error(n["mode"] ? n["mode"] : n, "fault: mode must be fail_once, fail_always, hang_once, hang or no_return_from_reboot");
    return;
  }
  f.mode = *mode;
  if (n["command"]) f.command = r.str(n["command"], "fault: command").value_or("");
  if (f.command.empty() && f.mode != Fault::Mode::no_return_from_reboot) r.error(n, "fault: command is required for this mode");
  if (n["exit"]) {
    try {
      f.exit_code = n["exit"].as<int>();
    } catch (const YAML::Exception&) {
      r.error(n["exit"], "fault: exit must be an integer");
    }
  }
  if (n["message"]) f.message = r.str(n["message"], "fault: message").value_or("");
  s.faults.push_back(f);
}

void read_top(Reader& r, const YAML::Node& root, LabState& s) {
  if (!r.map(root, "the lab file", {"apiVersion", "kind", "metadata", "options", "nodes", "clusters", "faults"})) return;
  if (!root["apiVersion"] || !root["apiVersion"].IsScalar() || root["apiVersion"].Scalar() != "converge/v1") {
    r.error(root["apiVersion"] ? root["apiVersion"] : root, "apiVersion must be converge/v1");
  }
  if (!root["kind"] || !root["kind"].IsScalar() || root["kind"].Scalar() != "Lab") r.error(root["kind"] ? root["kind"] : root, "kind must be Lab");
  if (root["metadata"] && r.map(root["metadata"], "metadata", {"name", "description"})) {
    if (root["metadata"]["name"]) s.name = r.str(root["metadata"]["name"], "metadata.name").value_or("");
  }
  if (root["options"] && r.map(root["options"], "options", {"epoch", "dotnet_sp1_leaves_reboot_pending"})) {
    const YAML::Node o = root["options"];
    if (o["epoch"]) {
      s.options.epoch = r.str(o["epoch"], "options.epoch").value_or(s.options.epoch);
      if (!std::regex_match(s.options.epoch, std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)"))) {
        r.error(o["epoch"], "options.epoch must look like 2008-03-01T08:00:00Z");
      }
    }
    if (o["dotnet_sp1_leaves_reboot_pending"]) {
      s.options.dotnet_sp1_leaves_reboot_pending = r.boolean(o["dotnet_sp1_leaves_reboot_pending"], "options.dotnet_sp1_leaves_reboot_pending").value_or(true);
    }
  }
  if (!root["nodes"]) return r.error(root, "nodes is required");
  for (const auto& [key, val] : r.entries(root["nodes"], "nodes")) read_node(r, key, val, s);
  std::set<std::string> clusters;
  if (root["clusters"]) {
    for (const auto& [key, val] : r.entries(root["clusters"], "clusters")) {
      clusters.insert(key.Scalar());
      if (!r.map(val, "cluster " + key.Scalar(), {"groups"}) || !val["groups"]) continue;
      for (const auto& [gkey, gval] : r.entries(val["groups"], "groups of " + key.Scalar())) read_group(r, gkey, gval, key.Scalar(), s);
    }
  }
  for (const auto& [key, val] : r.entries(root["nodes"], "nodes")) {
    const Node* node = s.node(key.Scalar());
    if (node && !node->cluster.empty() && !clusters.count(node->cluster)) r.error(val["cluster"], "cluster '" + node->cluster + "' is not declared under clusters");
  }
  if (root["faults"]) {
    if (!root["faults"].IsSequence()) return r.error(root["faults"], "faults must be a list");
    for (const auto& f : root["faults"]) read_fault(r, f, s);
  }
}

}  // namespace

std::optional<VTime> parse_age(const std::string& text) {
  if (text.size() < 2 || !std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  if (text.size() > 12) return std::nullopt;
  VTime n = std::stoll(text.substr(0, text.size() - 1));
  switch (text.back()) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    default: return std::nullopt;
  }
}

namespace {

/// The lab's structure, read with yaml-cpp's node API from text the hardened loader has
/// already accepted.
Result<LabState> read_lab(const std::string& text, const std::string& file_name) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, e.msg, SourceRange{file_name, e.mark.line + 1, e.mark.column + 1}));
  }
  Reader r(file_name);
  LabState s;
  try {
    read_top(r, root, s);
  } catch (const YAML::Exception& e) {
    r.error(root, std::string("malformed lab file: ") + e.what());
  }
  if (r.diags().empty()) return s;
  sort_diagnostics(r.diags());
  Error first = r.diags().front();
  for (std::size_t i = 1; i < r.diags().size(); ++i) first.message += "\n" + r.diags()[i].describe();
  return std::unexpected(first);
}

}  // namespace

Result<LabState> parse_lab_text(const std::string& text, const std::string& file_name) {
  // Every YAML input gets the same checks first (size, NUL, UTF-8, duplicate keys, tags,
  // merge keys, alias bombs, depth): yaml-cpp alone accepts what they refuse.
  CONVERGE_TRY(YDoc checked, parse_yaml(text, file_name));
  return read_lab(checked.text, file_name);
}

Result<LabState> parse_lab_file(const std::string& path) {
  CONVERGE_TRY(YDoc checked, load_yaml_file(path));  // refuses a FIFO, a directory, a huge file
  return read_lab(checked.text, path);
}

}  // namespace converge::lab
