// `powershell.exe ... -Command <cmdlet>`: the Exchange Management Shell cmdlets the lab
// understands. Output is Format-List style; a cmdlet error is printed the PowerShell 1.0 way
// on stderr and powershell.exe exits 1.
#include <algorithm>
#include <map>
#include <set>

#include "resources/lab/commands.h"

namespace converge::lab {

namespace {

struct Cmdlet {
  std::string name;                          ///< as typed
  std::string rest;                          ///< the arguments as typed, for error messages
  std::map<std::string, std::string> args;   ///< lower-cased parameter name -> value ("" for switches)
  std::vector<std::string> positional;
};

Outcome ps_error(const Cmdlet& c, const std::string& message) {
  return fail(1, c.name + " : " + message + "\nAt line:1 char:" + std::to_string(c.name.size() + 1) + "\n+ " + c.name +
                     "  <<<< " + c.rest + "\n");
}

// Splits a -Command string the way PowerShell would for simple commands: whitespace,
// single and double quotes.
std::vector<std::string> split_command(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_token = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
      else cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_token = true;
    } else if (c == ' ' || c == '\t') {
      if (in_token) out.push_back(cur);
      cur.clear();
      in_token = false;
    } else {
      cur += c;
      in_token = true;
    }
  }
  if (in_token) out.push_back(cur);
  return out;
}

const std::set<std::string> kSwitches = {"status", "confirm", "ignoredefaultscope"};

Cmdlet parse_cmdlet(std::vector<std::string> tokens) {
  if (tokens.size() >= 2 && tokens[tokens.size() - 2] == "|" &&
      (lower(tokens.back()) == "format-list" || lower(tokens.back()) == "fl")) {
    tokens.resize(tokens.size() - 2);
  }
  Cmdlet c;
  c.name = tokens.empty() ? "" : tokens[0];
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    if (!c.rest.empty()) c.rest += ' ';
    c.rest += tokens[i];
    const std::string& t = tokens[i];
    if (t.size() < 2 || t[0] != '-') {
      c.positional.push_back(t);
      continue;
    }
    auto colon = t.find(':');
    std::string pname = lower(t.substr(1, colon == std::string::npos ? std::string::npos : colon - 1));
    if (colon != std::string::npos) {
      c.args[pname] = t.substr(colon + 1);
    } else if (kSwitches.count(pname) || i + 1 >= tokens.size()) {
      c.args[pname] = "";
    } else {
      c.args[pname] = tokens[++i];
      c.rest += ' ' + tokens[i];
    }
  }
  return c;
}

// Checks parameters: every given one must be allowed, every mandatory one present.
std::string check_params(Cmdlet& c, const std::set<std::string>& allowed, const std::vector<std::string>& mandatory) {
  if (!c.positional.empty() && allowed.count("identity") && !c.args.count("identity")) {
    c.args["identity"] = c.positional.front();
    c.positional.erase(c.positional.begin());
  }
  if (!c.positional.empty()) return "A positional parameter cannot be found that accepts argument '" + c.positional[0] + "'.";
  for (const auto& [name, value] : c.args) {
    if (!allowed.count(name)) return "A parameter cannot be found that matches parameter name '" + name + "'.";
  }
  std::string missing;
  for (const auto& m : mandatory) {
    if (!c.args.count(lower(m))) missing += (missing.empty() ? "" : ", ") + m;
  }
  if (!missing.empty()) return "Cannot process command because of one or more missing mandatory parameters: " + missing + ".";
  return {};
}

std::string admin_version(const std::string& v) {
  return v == "SP1" ? "Version 8.1 (Build 240.6)" : "Version 8.0 (Build 685.24)";
}

std::string field(const std::string& name, const std::string& value) {
  std::string pad = name.size() < 27 ? std::string(27 - name.size(), ' ') : "";
  return name + pad + " : " + value + "\n";
}

Outcome get_exchange_server(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity"}, {}); !e.empty()) return ps_error(c, e);
  LabState& s = sim.state();
  std::string out;
  auto server = [&](const std::string& name, const std::string& role, const std::string& version) {
    out += "\n" + field("Name", name) + field("ServerRole", role) + field("Edition", "Enterprise") +
           field("AdminDisplayVersion", admin_version(version)) + field("IsExchange2007OrLater", "True");
  };
  std::string id = c.args.count("identity") ? lower(c.args["identity"]) : "";
  for (const auto& [name, n] : s.nodes) {
    if (!id.empty() && lower(name) != id) continue;
    std::string role = n.has_role("mailbox") ? "Mailbox" : "ClientAccess, HubTransport";
    server(name, role, n.exchange);
  }
  for (const auto& [_, g] : s.groups) {
    if (g.cms && (id.empty() || lower(g.name) == id)) server(g.name, "Mailbox", g.version);
  }
  if (out.empty()) {
    return ps_error(c, "The operation could not be performed because object '" + c.args["identity"] +
                           "' could not be found on domain controller 'HUBCAS'.");
  }
  return succeed(out + "\n", 0);
}

Group* find_cms(LabState& s, Cmdlet& c) {
  std::string id = lower(c.args["identity"]);
  for (auto& [_, g] : s.groups) {
    if (g.cms && lower(g.name) == id) return &g;
  }
  return nullptr;
}

Outcome no_such_cms(const Cmdlet& c) {
  return ps_error(c, "The operation could not be performed because object '" + c.args.at("identity") +
                         "' could not be found on domain controller 'HUBCAS'.");
}

Outcome cms_status(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity"}, {"Identity"}); !e.empty()) return ps_error(c, e);
  LabState& s = sim.state();
  Group* g = find_cms(s, c);
  if (!g) return no_such_cms(c);
  const Group* core = nullptr;
  for (const auto& [name, other] : s.groups) {
    if (!other.cms && other.cluster == g->cluster) core = &other;
  }
  std::string machines;
  for (const auto& [name, n] : s.nodes) {
    if (n.cluster != g->cluster || !n.online) continue;
    std::vector<std::string> marks;
    if (g->owner == name) marks.push_back("Active");
    if (core && core->owner == name) marks.push_back("Quorum Owner");
    std::string m = name;
    if (!marks.empty()) m += " <" + marks[0] + (marks.size() > 1 ? ", " + marks[1] : "") + ">";
    machines += (machines.empty() ? "" : ", ") + m;
  }
  std::string out = "\n" + field("Identity", g->name) + field("ClusteredMailboxServerName", g->name + ".contoso.com") +
                    field("State", g->online ? "Online" : "Offline") + field("OperationalMachines", "{" + machines + "}") +
                    field("FailedResources", "{}") + field("IsValid", "True") + "\n";
  return succeed(out, 0);
}

std::string confirm_problem(Cmdlet& c) {
  if (c.args.count("confirm") && lower(c.args["confirm"]) == "$false") return {};
  return "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available. "
         "(Pass -Confirm:$false.)";
}

bool cms_stranded(LabState& s, const Group& g) {
  bool all_sp1 = std::all_of(s.nodes.begin(), s.nodes.end(),
                             [&](const auto& kv) { return kv.second.cluster != g.cluster || kv.second.exchange == "SP1"; });
  return all_sp1 && g.version == "RTM";
}

Outcome stop_cms(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity", "stopreason", "confirm"}, {"Identity", "StopReason"}); !e.empty()) return ps_error(c, e);
  Group* g = find_cms(sim.state(), c);
  if (!g) return no_such_cms(c);
  if (auto e = confirm_problem(c); !e.empty()) return ps_error(c, e);
  if (!g->online) {
    g->stopped = true;
    return succeed("WARNING: The clustered mailbox server '" + g->name + "' is already stopped.\n", 5);
  }
  sim.set_duration(durations::cms_stop);
  sim.group_offline(*g, sim.t0(), true);
  return succeed("", durations::cms_stop);
}

Outcome start_cms(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity"}, {"Identity"}); !e.empty()) return ps_error(c, e);
  LabState& s = sim.state();
  Group* g = find_cms(s, c);
  if (!g) return no_such_cms(c);
  if (g->online) return succeed("WARNING: The clustered mailbox server '" + g->name + "' is already online.\n", 5);
  if (cms_stranded(s, *g)) {
    return ps_error(c, "The clustered mailbox server '" + g->name + "' is at RTM but every node of " + g->cluster +
                           " is at SP1; it cannot be started (setup.com /upgradecms had to run before the second node "
                           "was upgraded).");
  }
  Node* owner = s.node(g->owner);
  std::string why;
  if (!owner || !sim.can_host(*g, *owner, &why)) {
    return ps_error(c, "The clustered mailbox server '" + g->name + "' cannot be started on " + g->owner + ": " + why + ".");
  }
  sim.set_duration(durations::cms_start);
  sim.group_online(*g, g->owner, sim.t_end());
  return succeed("", durations::cms_start);
}

Outcome move_cms(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity", "targetmachine", "movecomment", "confirm"},
                            {"Identity", "TargetMachine", "MoveComment"});
      !e.empty()) {
    return ps_error(c, e);
  }
  LabState& s = sim.state();
  Group* g = find_cms(s, c);
  if (!g) return no_such_cms(c);
  if (auto e = confirm_problem(c); !e.empty()) return ps_error(c, e);
  Node* target = nullptr;
  for (auto& [name, n] : s.nodes) {
    if (lower(name) == lower(c.args["targetmachine"])) target = &n;
  }
  auto refuse = [&](const std::string& why) {
    return ps_error(c, "Cannot move clustered mailbox server '" + g->name + "' to '" + c.args["targetmachine"] + "': " + why + ".");
  };
  if (!target || target->cluster != g->cluster) return refuse("it is not a node of cluster " + g->cluster);
  if (target->name == g->owner) return refuse("the clustered mailbox server is already on that node");
  if (!target->online) return refuse(target->name + " is offline");
  if (version_rank(target->exchange) < version_rank(g->version)) {
    return refuse("the Exchange binaries on " + target->name + " (" + target->exchange + ") are older than the clustered mailbox server (" +
                  g->version + ")");
  }
  if (target->setup_reboot_pending) return refuse(target->name + " must be restarted after Exchange setup before it can own " + g->name);
  std::string why;
  if (g->online && !sim.can_host(*g, *target, &why)) return refuse(why + "; stop it before moving it");
  if (!g->online) {
    sim.set_duration(durations::cluster_move);
    g->owner = target->name;
    sim.group_changed(*g);
    return succeed("", durations::cluster_move);
  }
  sim.set_duration(durations::cms_move);
  sim.group_offline(*g, sim.t0(), false);
  sim.group_online(*g, target->name, sim.t_end());
  return succeed("", durations::cms_move);
}

Outcome get_mailbox_database(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"identity", "server", "status"}, {}); !e.empty()) return ps_error(c, e);
  LabState& s = sim.state();
  bool status = c.args.count("status") > 0;
  std::string out;
  for (const auto& [_, g] : s.groups) {
    if (!g.cms) continue;
    const std::string& name = g.name;
    if (c.args.count("server") && lower(c.args["server"]) != lower(name)) continue;
    for (const auto& db : s.databases) {
      if (db.server != name) continue;
      if (c.args.count("identity") && lower(c.args["identity"]) != lower(db.name)) continue;
      out += "\n" + field("Name", db.name) + field("Server", name) + field("StorageGroup", name + "\\" + db.storage_group);
      if (status) {
        out += field("Mounted", g.online ? "True" : "False");
        out += field("LastFullBackup", g.online ? wall_clock(s, db.last_full_backup, "us") : "");
      }
    }
  }
  return succeed(out + "\n", 0);
}

Outcome get_date(Simulation& sim, Cmdlet& c) {
  if (auto e = check_params(c, {"format"}, {}); !e.empty()) return ps_error(c, e);
  std::string fmt = c.args.count("format") ? c.args["format"] : "";
  if (!fmt.empty() && fmt != "u") return ps_error(c, "lab: Get-Date supports only -Format u");
  return succeed(wall_clock(sim.state(), sim.t0(), fmt.empty() ? "long" : "u") + "\n", 0);
}

}  // namespace

Outcome run_powershell(Simulation& sim, Node&, const std::vector<std::string>& argv) {
  std::size_t i = 1;
  for (; i < argv.size(); ++i) {
    std::string a = lower(argv[i]);
    if (a == "-command") break;
    if (a == "-psconsolefile") ++i;
    else if (a != "-noprofile" && a != "-noninteractive" && a != "-nologo") {
      return fail(1, "lab: powershell.exe: unsupported argument '" + argv[i] + "'\n");
    }
  }
  std::vector<std::string> tokens(argv.begin() + static_cast<std::ptrdiff_t>(std::min(i + 1, argv.size())), argv.end());
  if (tokens.size() == 1) tokens = split_command(tokens[0]);
  if (tokens.empty()) return fail(1, "lab: powershell.exe needs -Command followed by a cmdlet\n");
  Cmdlet c = parse_cmdlet(tokens);
  std::string name = lower(c.name);
  if (name == "get-exchangeserver") return get_exchange_server(sim, c);
  if (name == "get-clusteredmailboxserverstatus") return cms_status(sim, c);
  if (name == "stop-clusteredmailboxserver") return stop_cms(sim, c);
  if (name == "start-clusteredmailboxserver") return start_cms(sim, c);
  if (name == "move-clusteredmailboxserver") return move_cms(sim, c);
  if (name == "get-mailboxdatabase") return get_mailbox_database(sim, c);
  if (name == "get-date") return get_date(sim, c);
  return ps_error(c, "The term '" + c.name +
                         "' is not recognized as a cmdlet, function, operable program, or script file. Verify the term "
                         "and try again. (lab: unknown command)");
}

}  // namespace converge::lab
