// engine/run/orchestrate.h — the planned run: for manifests with data-defined types (Windows
// services, Exchange setup, cluster groups, a web tier), where actions have preconditions,
// effects, disruption and durations and the manifest may declare availability constraints.
//
//   observe   every known resource (engine/plan/ground.h: declared and referenced) and node fact;
//   prior     `prior` desired values from the journal's outstanding priors (recorded, before
//             any change, by the first run of a maintenance); transient changes a killed run
//             left behind become goals to put back;
//   check     run preconditions (a recent full backup; every node reachable): refusal, exit 3;
//   plan      ground, search, insert transient establish/restore steps, verify; no plan:
//             refusal naming the constraint, exit 3;
//   execute   step by step, each journaled before and after; retries of timeouts and
//             unreachable nodes with backoff; a booting step waits for the node's new boot;
//             the resource is re-observed and must show what the step set;
//   re-plan   after the steps, from a fresh observation, until every goal holds (bounded);
//   halt      on a failure: no further planned step; the transient changes made and not yet
//             put back, and every available group's online state, are restored by a plan of
//             non-node-disruptive actions, journaled like the others; exit 3 when the
//             manifest's failure threshold (halt_after_failures, failed runs of the
//             maintenance) is reached, else 1;
//   await     a step restarting the machine converge runs on (a `local` node) ends the run
//             "awaiting reboot" (exit 2); the next run continues once the boot id changed.
//
// The run core reads no command-line flag: it is handed PlannedRunOptions and returns a
// PlannedOutcome; the CLI (engine/cli/) turns that into a report.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/manifest.h"
#include "engine/model/run_status.h"
#include "engine/model/types.h"
#include "engine/run/clock.h"
#include "engine/run/executor.h"
#include "engine/state/journal.h"

namespace converge {

/// What a run does: apply changes, plan them, or check for drift.
enum class Command { apply, plan, check };

/// "apply" / "plan" / "check".
[[nodiscard]] const char* command_word(Command c);

/// For each of the manifest's resources, 1 when its type is data-defined: the planned run
/// takes it. A manifest with any such resource runs planned.
[[nodiscard]] std::vector<char> planned_resources(const Manifest& m, const TypeRegistry& types);

/// A line of progress (a step starting, a retry, a wait); called from the run's threads,
/// one call at a time.
using ProgressSink = std::function<void(const std::string& line)>;

/// How a planned run behaves: the policy the engine applies to every step.
struct PlannedRunOptions {
  int parallel = 0;                                  ///< workers for observation and node chains; 0 = cores
  double lab_speed = 0;                              ///< the lab's virtual seconds per real second (scales timeouts)
  std::chrono::milliseconds reboot_timeout{30 * 60 * 1000};  ///< wait for a restarted node this long
  int retries = 2;                                   ///< extra attempts of a timed-out or unreachable step
  std::chrono::milliseconds retry_backoff{1000};     ///< first backoff; doubles each retry
  std::string graph_file;                            ///< write the plan as DOT here; empty: none
  ProgressSink progress;                             ///< null: silent
  Clock* clock = nullptr;                            ///< null: system_clock()
  bool resumed = false;                              ///< an earlier run was interrupted
  bool dump_problem = false;                         ///< print the ground problem on stderr (type authors)
  int kill_at_step = 0;                              ///< test hook: SIGKILL itself once step N is journaled
  std::function<bool()> stop;                        ///< asked before each step: true ends the run interrupted
};

/// How a planned run ended, as a value: the CLI reports it.
struct PlannedOutcome {
  RunStatus status = RunStatus::in_sync;
  int changes = 0;
  int failed = 0;
  std::int64_t run_id = 0;          ///< the run's journal row, once written
  Diagnostics diagnostics;          ///< errors and refusals, secrets scrubbed
  std::vector<std::string> notes;   ///< lines for humans: the plan first, preconditions, the halt
  nlohmann::json extra = nlohmann::json::object();  ///< plan, refusal, halt, chains (the JSON report's fields)
};

/// Writes the run's row (apply, before the first change) and returns its id; called again,
/// it returns the same id.
using BeginRun = std::function<Result<std::int64_t>()>;

/// The planned run of `command`. `results` holds observe_all()'s results and is updated to
/// the final observation. `journal` is read for priors and an awaited reboot (every command)
/// and written by apply only; it may be null (nothing recorded, no prior known).
[[nodiscard]] PlannedOutcome run_planned(Command command, const Manifest& m, const TypeRegistry& types,
                                         const TransportLookup& transports, Journal* journal, const BeginRun& begin_run,
                                         std::vector<ResourceResult>& results, const PlannedRunOptions& opts);

}  // namespace converge
