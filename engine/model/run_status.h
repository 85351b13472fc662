// engine/model/run_status.h — how a command ends: one enum, each status with its word and
// exit code (DESIGN §4). The single source for the report schema's list of statuses
// (tests/unit/run_status_test.cpp holds schemas/report.schema.json to it), the journal's
// runs.status and the text report.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace converge {

/// Exit codes (DESIGN §4), the same for every command.
enum ExitCode : int {
  kExitOk = 0, kExitError = 1, kExitPending = 2, kExitRefused = 3, kExitLocked = 4,
  kExitInterrupted = 130,  ///< 128 + SIGINT, as shells report a command Ctrl-C ended
};

/// How a command (or a journaled run) ended.
enum class RunStatus {
  converged,        ///< apply changed something and everything is in sync (0)
  in_sync,          ///< nothing to do (0)
  valid,            ///< validate: the manifest is valid (0)
  changes_pending,  ///< plan: changes would be made (2)
  drift,            ///< check: drift found (2)
  awaiting_reboot,  ///< apply restarted the machine converge runs on; the next run continues (2)
  failed,           ///< an error: unreachable node, a failed action, a journal that cannot record (1)
  invalid,          ///< the manifest (or its lab file) does not load (1)
  refused,          ///< no safe plan, or a run precondition fails (3)
  halted,           ///< the failure threshold stopped the run, safely (3)
  locked,           ///< another run holds the lock (4)
  interrupted,      ///< SIGINT, SIGTERM or SIGHUP stopped the run between steps (130); also a
                    ///< run the next one found still `running` (it died)
  running,          ///< journal only: a run that has not ended
};

/// One status's word, exit code and whether a command reports it (running is only ever
/// journaled).
struct RunStatusInfo {
  RunStatus status;
  std::string_view word;
  int exit_code;
  bool reported;
};

/// Every status, in the enum's order.
inline constexpr std::array<RunStatusInfo, 13> kRunStatuses{{
    {RunStatus::converged, "converged", kExitOk, true},
    {RunStatus::in_sync, "in_sync", kExitOk, true},
    {RunStatus::valid, "valid", kExitOk, true},
    {RunStatus::changes_pending, "changes_pending", kExitPending, true},
    {RunStatus::drift, "drift", kExitPending, true},
    {RunStatus::awaiting_reboot, "awaiting_reboot", kExitPending, true},
    {RunStatus::failed, "failed", kExitError, true},
    {RunStatus::invalid, "invalid", kExitError, true},
    {RunStatus::refused, "refused", kExitRefused, true},
    {RunStatus::halted, "halted", kExitRefused, true},
    {RunStatus::locked, "locked", kExitLocked, true},
    {RunStatus::interrupted, "interrupted", kExitInterrupted, true},
    {RunStatus::running, "running", kExitError, false},
}};

/// The status's word as reports and the journal write it ("in_sync").
[[nodiscard]] constexpr std::string_view status_word(RunStatus s) { return kRunStatuses[static_cast<int>(s)].word; }

/// The exit code a command ending with `s` returns.
[[nodiscard]] constexpr int exit_code(RunStatus s) { return kRunStatuses[static_cast<int>(s)].exit_code; }

/// The status a word names (a journal row), or nullopt for an unknown word.
[[nodiscard]] constexpr std::optional<RunStatus> parse_status(std::string_view word) {
  for (const auto& i : kRunStatuses)
    if (i.word == word) return i.status;
  return std::nullopt;
}

/// True when the run ended with everything as desired (the end of a maintenance).
[[nodiscard]] constexpr bool ended_in_sync(RunStatus s) { return s == RunStatus::converged || s == RunStatus::in_sync; }

static_assert(status_word(RunStatus::running) == "running", "kRunStatuses follows the enum's order");
static_assert(status_word(RunStatus::locked) == "locked", "kRunStatuses follows the enum's order");

}  // namespace converge
