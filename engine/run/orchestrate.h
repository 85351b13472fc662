// engine/run/orchestrate.h — the planned run: for manifests with data-defined types (Windows
// services, Exchange setup, cluster groups, a web tier), where actions have preconditions,
// effects, disruption and durations and the manifest may declare availability constraints.
//
//   observe   every known resource (engine/ground.h: declared and referenced) and node fact;
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
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "engine/cli/commands.h"
#include "engine/run/executor.h"
#include "engine/state/journal.h"
#include "engine/model/manifest.h"
#include "engine/cli/report.h"
#include "engine/state/run_journal.h"
#include "engine/model/types.h"

namespace converge {

class TransportSet;

/// For each of the manifest's resources, 1 when its type is data-defined: the planned run
/// takes it. A manifest with any such resource runs planned.
[[nodiscard]] std::vector<char> planned_resources(const Manifest& m, const TypeRegistry& types);

struct PlannedOutcome {
  std::string status;
  int exit_code = 0;
  int changes = 0;
  int failed = 0;
};

/// The planned run of `command` (apply, plan or check). `results` holds observe_all()'s
/// results and is updated to the final observation. `begin_run` writes the run's row
/// (apply, before the first change) and returns its id. `resumed`: an earlier run was
/// interrupted (its last step may have restarted a node: wait for the nodes first).
[[nodiscard]] PlannedOutcome run_planned(const std::string& command, const Manifest& m, const TypeRegistry& types,
                                         TransportSet& transports, Journal* journal,
                                         const std::function<Result<std::int64_t>()>& begin_run,
                                         std::vector<ResourceResult>& results, Report& report, const GlobalOptions& opts,
                                         bool resumed);

}  // namespace converge
