// resources/lab/commands.h — the command vocabulary of the emulated Windows hosts.
//
// Each handler takes the argv a real provider would send over ssh to a Windows Server 2003
// host, checks the domain's rules against the lab's state, applies the effects through the
// Simulation and returns what the Windows tool would print. resources/lab/COMMANDS.md is the
// contract: the commands, their arguments and sample outputs. Families:
//   cmd_windows.cpp   sc.exe, reg.exe, shutdown.exe, wmic.exe, NetFx20SP1_x64.exe
//   cmd_exchange.cpp  setup.com /m:upgrade, setup.com /upgradecms
//   cmd_powershell.cpp powershell.exe -Command <Exchange cmdlet>
//   cmd_cluster.cpp   cluster.exe
#pragma once

#include <string>
#include <vector>

#include "resources/lab/simulation.h"
#include "resources/transport.h"

namespace converge::lab {

/// What a command printed and returned, and how long it took in virtual seconds.
struct Outcome {
  ExecResult result;
  VTime duration = 0;
};

/// A successful outcome.
[[nodiscard]] Outcome succeed(std::string out, VTime duration);
/// A failed outcome: `code` is the exit status, `err` goes to stderr.
[[nodiscard]] Outcome fail(int code, std::string err, std::string out = {}, VTime duration = durations::failed_command);

/// Lower-cases ASCII.
[[nodiscard]] std::string lower(std::string s);
/// The program's file name, lower-cased, without a directory ("D:\setup.com" -> "setup.com").
[[nodiscard]] std::string program_name(const std::string& argv0);
/// argv joined with single spaces: the `command` of a command event.
[[nodiscard]] std::string command_line(const std::vector<std::string>& argv);
/// Formats virtual time `t` as the host's wall clock, using the lab's epoch (UTC).
/// `style` is "us" (3/1/2008 10:00:00 AM), "u" (2008-03-01 10:00:00Z), "wmi"
/// (20080301100000.000000+000) or "long" (Saturday, March 01, 2008 10:00:00 AM).
[[nodiscard]] std::string wall_clock(const LabState& s, VTime t, const std::string& style);

/// Runs one command on `node`. REQUIRES: the node is online. The simulation's duration is
/// set by the handler before it applies effects; unknown programs fail with exit 9009 and
/// "is not recognized as an internal or external command" on stderr.
[[nodiscard]] Outcome run_command(Simulation& sim, Node& node, const std::vector<std::string>& argv);

/// Family entry points, called by run_command with argv[0] already identified.
[[nodiscard]] Outcome run_sc(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_reg(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_shutdown(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_wmic(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_dotnet_sp1(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_setup(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_powershell(Simulation& sim, Node& node, const std::vector<std::string>& argv);
[[nodiscard]] Outcome run_cluster(Simulation& sim, Node& node, const std::vector<std::string>& argv);

}  // namespace converge::lab
