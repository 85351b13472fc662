// The Windows tools: sc.exe (services), reg.exe (reads), shutdown.exe, wmic.exe, and the
// .NET Framework 2.0 SP1 installer. Output mimics Windows Server 2003; failure text goes to
// stderr (see COMMANDS.md).
#include <algorithm>

#include "resources/lab/commands.h"

namespace converge::lab {

namespace {

struct ServiceInfo {
  const char* name;
  const char* display;
  const char* binary;
  bool shared;
};

// What `sc.exe qc` prints for the services the lab file may declare.
const ServiceInfo kServiceInfo[] = {
    {"SharedAccess", "Windows Firewall/Internet Connection Sharing (ICS)", "C:\\WINDOWS\\system32\\svchost.exe -k netsvcs", true},
    {"RemoteRegistry", "Remote Registry", "C:\\WINDOWS\\system32\\svchost.exe -k regsvc", true},
    {"MOM", "MOM", "\"C:\\Program Files\\Microsoft Operations Manager 2005\\MOMService.exe\"", false},
    {"HealthService", "OpsMgr Health Service", "\"C:\\Program Files\\System Center Operations Manager 2007\\HealthService.exe\"", false},
    {"FSCController", "Microsoft Forefront Server Security Controller",
     "\"C:\\Program Files (x86)\\Microsoft Forefront Security\\Exchange Server\\FSCController.exe\"", false},
    {"SysmonLog", "Performance Logs and Alerts", "C:\\WINDOWS\\system32\\smlogsvc.exe", false},
};

ServiceInfo info_for(const std::string& name) {
  for (const auto& i : kServiceInfo) {
    if (name == i.name) return i;
  }
  return ServiceInfo{name.c_str(), name.c_str(), "C:\\WINDOWS\\system32\\svchost.exe -k netsvcs", true};
}

// Finds a service by name, case-insensitively as Windows does; returns the canonical name.
std::string find_service(const Node& n, const std::string& name) {
  for (const auto& [sname, svc] : n.services) {
    if (lower(sname) == lower(name)) return sname;
  }
  return {};
}

std::string sc_status(const std::string& name, int state_code, const char* state, bool stoppable, bool with_pid) {
  ServiceInfo i = info_for(name);
  std::string out = "\nSERVICE_NAME: " + name + "\n";
  out += std::string("        TYPE               : ") + (i.shared ? "20  WIN32_SHARE_PROCESS" : "10  WIN32_OWN_PROCESS") + "\n";
  out += "        STATE              : " + std::to_string(state_code) + "  " + state + "\n";
  out += stoppable ? "                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)\n"
                   : "                                (NOT_STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\n";
  out += "        WIN32_EXIT_CODE    : 0  (0x0)\n        SERVICE_EXIT_CODE  : 0  (0x0)\n";
  out += "        CHECKPOINT         : 0x0\n        WAIT_HINT          : 0x0\n";
  if (with_pid) out += "        PID                : 1044\n        FLAGS              :\n";
  return out;
}

std::string sc_qc(const std::string& name, const Service& svc) {
  ServiceInfo i = info_for(name);
  const char* start = svc.startup == Startup::automatic ? "2   AUTO_START"
                      : svc.startup == Startup::manual  ? "3   DEMAND_START"
                                                        : "4   DISABLED";
  std::string out = "[SC] GetServiceConfig SUCCESS\n\nSERVICE_NAME: " + name + "\n";
  out += std::string("        TYPE               : ") + (i.shared ? "20  WIN32_SHARE_PROCESS" : "10  WIN32_OWN_PROCESS") + "\n";
  out += std::string("        START_TYPE         : ") + start + "\n";
  out += "        ERROR_CONTROL      : 1   NORMAL\n";
  out += std::string("        BINARY_PATH_NAME   : ") + i.binary + "\n";
  out += "        LOAD_ORDER_GROUP   :\n        TAG                : 0\n";
  out += std::string("        DISPLAY_NAME       : ") + i.display + "\n";
  out += "        DEPENDENCIES       :\n        SERVICE_START_NAME : LocalSystem\n";
  return out;
}

Outcome sc_error(const char* op, int code, const std::string& text) {
  return fail(code, "[SC] " + std::string(op) + " FAILED " + std::to_string(code) + ":\n\n" + text + "\n", {}, 0);
}

Outcome sc_config(Simulation& sim, Node& n, const std::string& name, const std::vector<std::string>& argv) {
  if (argv.size() != 5 || lower(argv[3]) != "start=") {
    return fail(1639, "lab: expected `sc.exe config NAME start= auto|demand|disabled` ('start=' and the value are "
                      "separate arguments, as sc.exe requires)\n");
  }
  std::string v = lower(argv[4]);
  Startup st = v == "auto" ? Startup::automatic : v == "demand" ? Startup::manual : Startup::disabled;
  if (v != "auto" && v != "demand" && v != "disabled") {
    return fail(1639, "lab: sc.exe config: start= takes auto, demand or disabled, not '" + argv[4] + "'\n");
  }
  sim.set_duration(durations::service_change);
  Service next = n.services[name];
  next.startup = st;
  sim.set_service(n, name, next);
  return succeed("[SC] ChangeServiceConfig SUCCESS\n", durations::service_change);
}

}  // namespace

Outcome run_sc(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  if (argv.size() < 3) return fail(1639, "lab: expected `sc.exe query|qc|config|start|stop NAME ...`\n");
  std::string op = lower(argv[1]);
  if (op != "query" && op != "qc" && op != "config" && op != "start" && op != "stop") {
    return fail(1639, "lab: unknown command: sc.exe " + argv[1] + " (the lab knows query, qc, config, start, stop)\n");
  }
  std::string name = find_service(n, argv[2]);
  if (name.empty()) {
    const char* what = op == "query" ? "EnumQueryServicesStatus:OpenService" : "OpenService";
    return sc_error(what, 1060, "The specified service does not exist as an installed service.");
  }
  if (op == "config") return sc_config(sim, n, name, argv);
  if (argv.size() != 3) return fail(1639, "lab: sc.exe " + op + " takes exactly one service name\n");
  Service svc = n.services[name];
  if (op == "query") return succeed(sc_status(name, svc.running ? 4 : 1, svc.running ? "RUNNING" : "STOPPED", svc.running, false), 0);
  if (op == "qc") return succeed(sc_qc(name, svc), 0);
  if (op == "start") {
    if (svc.running) return sc_error("StartService", 1056, "An instance of the service is already running.");
    if (svc.startup == Startup::disabled) {
      return sc_error("StartService", 1058,
                      "The service cannot be started, either because it is disabled or because it has no enabled "
                      "devices associated with it.");
    }
    sim.set_duration(durations::service_change);
    sim.set_service(n, name, Service{true, svc.startup});
    return succeed(sc_status(name, 2, "START_PENDING", false, true), durations::service_change);
  }
  if (!svc.running) return sc_error("ControlService", 1062, "The service has not been started.");
  sim.set_duration(durations::service_change);
  sim.set_service(n, name, Service{false, svc.startup});
  return succeed(sc_status(name, 3, "STOP_PENDING", true, false), durations::service_change);
}

namespace {

constexpr const char* kNdpKey = "hkey_local_machine\\software\\microsoft\\net framework setup\\ndp\\v2.0.50727";
constexpr const char* kExchangeSetupKey = "hkey_local_machine\\software\\microsoft\\exchange\\setup";
constexpr const char* kSessionManagerKey = "hkey_local_machine\\system\\currentcontrolset\\control\\session manager";

struct RegValue {
  std::string name, type, data;
};

std::string canonical_key(const std::string& key) {
  std::string k = lower(key);
  if (k.rfind("hklm\\", 0) == 0) k = "hkey_local_machine\\" + k.substr(5);
  while (!k.empty() && k.back() == '\\') k.pop_back();
  return k;
}

}  // namespace

Outcome run_reg(Simulation&, Node& n, const std::vector<std::string>& argv) {
  if (argv.size() < 3 || lower(argv[1]) != "query" || (argv.size() != 3 && argv.size() != 5) ||
      (argv.size() == 5 && lower(argv[3]) != "/v")) {
    return fail(1, "lab: unknown command: " + command_line(argv) + " (the lab knows `reg.exe query KEY [/v VALUE]`)\n");
  }
  std::string key = canonical_key(argv[2]);
  std::vector<RegValue> values;
  std::string shown;
  if (key == kNdpKey) {
    shown = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727";
    bool sp1 = n.dotnet == "SP1";
    values = {{"Install", "REG_DWORD", "0x1"},
              {"SP", "REG_DWORD", sp1 ? "0x1" : "0x0"},
              {"Version", "REG_SZ", sp1 ? "2.0.50727.1433" : "2.0.50727.42"}};
  } else if (key == kExchangeSetupKey) {
    shown = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Exchange\\Setup";
    bool sp1 = n.exchange == "SP1";
    values = {{"MsiInstallPath", "REG_SZ", "C:\\Program Files\\Microsoft\\Exchange Server\\"},
              {"MsiProductMajor", "REG_DWORD", "0x8"},
              {"MsiProductMinor", "REG_DWORD", sp1 ? "0x1" : "0x0"},
              {"MsiBuildMajor", "REG_DWORD", sp1 ? "0xf0" : "0x2ad"},
              {"MsiBuildMinor", "REG_DWORD", sp1 ? "0x6" : "0x18"}};
  } else if (key == kSessionManagerKey) {
    shown = "HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Session Manager";
    values = {{"BootExecute", "REG_MULTI_SZ", "autocheck autochk *\\0\\0"}};
    if (n.reboot_pending) {
      values.push_back({"PendingFileRenameOperations", "REG_MULTI_SZ",
                        "\\??\\C:\\WINDOWS\\system32\\SET4.tmp\\0!\\??\\C:\\WINDOWS\\system32\\mscoree.dll\\0\\0"});
    }
  }
  if (argv.size() == 5) {
    std::erase_if(values, [&](const RegValue& v) { return lower(v.name) != lower(argv[4]); });
  }
  if (shown.empty() || values.empty()) {
    return fail(1, "\nError:  The system was unable to find the specified registry key or value\n", {}, 0);
  }
  std::string out = "\n! REG.EXE VERSION 3.0\n\n" + shown + "\n";
  for (const auto& v : values) out += "    " + v.name + "\t" + v.type + "\t" + v.data + "\n";
  return succeed(out + "\n", 0);
}

Outcome run_shutdown(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  bool restart = false;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    std::string a = lower(argv[i]);
    if (a == "/r" || a == "-r") {
      restart = true;
    } else if (a == "/t" || a == "/c" || a == "/d" || a == "-t" || a == "-c" || a == "-d") {
      ++i;  // takes a value: delay (treated as 0), comment, reason
    } else if (a != "/f" && a != "-f") {
      return fail(1, "lab: shutdown.exe: unsupported argument '" + argv[i] + "'\n");
    }
  }
  if (!restart) return fail(1, "lab: shutdown.exe: only restarts (/r) are emulated\n");
  sim.set_duration(0);
  sim.begin_reboot(n, sim.t0());
  return succeed("", 0);
}

Outcome run_wmic(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  if (argv.size() != 4 || lower(argv[1]) != "os" || lower(argv[2]) != "get" || lower(argv[3]) != "lastbootuptime") {
    return fail(1, "lab: unknown command: " + command_line(argv) + " (the lab knows `wmic.exe os get LastBootUpTime`)\n");
  }
  return succeed("LastBootUpTime\n" + wall_clock(sim.state(), n.booted_at, "wmi") + "\n\n", 0);
}

Outcome run_dotnet_sp1(Simulation& sim, Node& n, const std::vector<std::string>& argv) {
  bool quiet = false, norestart = false;
  for (std::size_t i = 1; i < argv.size(); ++i) {
    std::string a = lower(argv[i]);
    if (a == "/q") quiet = true;
    else if (a == "/norestart") norestart = true;
    else return fail(1, "lab: NetFx20SP1: unsupported argument '" + argv[i] + "'\n");
  }
  if (!quiet) return fail(1, "lab: NetFx20SP1 without /q would wait for its user interface; pass /q\n");
  if (n.dotnet == "SP1") return succeed("", 5);
  sim.set_duration(durations::dotnet_sp);
  sim.set_software(n, "dotnet", "SP1");
  if (!sim.state().options.dotnet_sp1_leaves_reboot_pending) return succeed("", durations::dotnet_sp);
  n.reboot_pending = true;
  if (!norestart) sim.begin_reboot(n, sim.t_end());
  return fail(3010, "", "", durations::dotnet_sp);  // ERROR_SUCCESS_REBOOT_REQUIRED
}

}  // namespace converge::lab
