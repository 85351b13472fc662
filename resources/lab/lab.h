// resources/lab/lab.h — the lab: an emulated Windows Server 2003 failover cluster running
// Exchange 2007 CCR (DESIGN §5), reached as a Transport.
//
// The lab receives exactly the argv a real provider would send to a Windows host over ssh
// (resources/lab/COMMANDS.md), applies the domain's rules to its model, and records every
// change of a fact in `<state_dir>/lab/events.jsonl`. It is the oracle that tells a wrong
// plan from a right one, so it shares no code or tables with any planner.
//
// Persistence: `<state_dir>/lab/state.json` is rewritten atomically (temporary file, fsync,
// rename) after every command, before the command's real-time duration is slept, so a
// killed engine finds the command done, as a real host would have finished it. Opening a
// lab whose state file exists loads it; the lab file is read only to create a new lab.
//
// Time is virtual (seconds since creation). With speed 0 nothing sleeps: commands advance
// one clock by their durations in the order the lab receives them, so commands run in
// parallel count one after the other (outages are over-, never under-estimated), and a
// request to a rebooting node waits for it in virtual time. With speed X > 0 the clock
// follows real time (X virtual seconds per real second) and each command sleeps
// duration / X real seconds: a command starts when it is received, or when the previous
// command of its cluster (of its node, for a stand-alone node) ends, so clusters work side
// by side and each group's outage is its own; a rebooting node is unreachable until the
// clock passes its return. Then a command's later events (a group back online at its end)
// may be logged before another cluster's earlier ones (events.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "resources/lab/events.h"
#include "resources/lab/model.h"
#include "resources/lab/summary.h"
#include "resources/transport.h"

namespace converge::lab {

/// The emulated cluster. Thread-safe: one mutex guards the model, the state file and the
/// event log; no sleeping happens under it, so commands to other nodes proceed meanwhile.
class Lab : public std::enable_shared_from_this<Lab> {
 public:
  /// Where a run's lab keeps its state: while that file exists, the lab file is not read.
  [[nodiscard]] static std::string state_file(const std::string& state_dir) { return state_dir + "/lab/state.json"; }
  /// Opens the lab kept in `<state_dir>/lab/`, creating it from `lab_file` (and logging the
  /// t = 0 events) when there is no state yet. `speed` is virtual seconds per real second,
  /// 0 for instant. `durable` false (plan, check: read-only runs): the lab runs in memory
  /// from its state (or the lab file) and writes nothing, not even its directory.
  /// Errors: invalid_input for a bad lab file or state file, io otherwise.
  [[nodiscard]] static Result<std::shared_ptr<Lab>> open(const std::string& lab_file, const std::string& state_dir,
                                                         double speed, bool durable = true);

  /// A Transport for `node` (its files() is nullptr). The transport keeps the lab alive.
  /// Commands to a node the lab does not have fail with ErrorCode::unreachable.
  [[nodiscard]] std::unique_ptr<Transport> transport(const std::string& node);

  /// Runs argv on `node`. Returns ErrorCode::unreachable when the node is down (rebooting
  /// under speed > 0, or never coming back), ErrorCode::timeout when a hang fault meets a
  /// request without a timeout; otherwise the command's result, whatever its exit code. A
  /// hang with a timeout returns timed_out = true and exit 137 once the timeout has passed.
  /// Under speed > 0, a command whose real duration exceeds the timeout is also cut off
  /// (timed_out, exit 137) but its effects stand. env, cwd and stdin_data are ignored.
  [[nodiscard]] Result<ExecResult> run(const std::string& node, const ExecRequest& req);

  /// Runs several commands on `node` in order, each as run() would, holding the lab once:
  /// what they did is written (state file and event log) once at the end, or before a
  /// command that takes virtual time lets the clock run on (speed > 0). A node's
  /// observation is one batch.
  [[nodiscard]] std::vector<Result<ExecResult>> run_batch(const std::string& node, const std::vector<ExecRequest>& reqs);

  /// The node's boot counter as text; changes on every boot. Unreachable when it is down.
  [[nodiscard]] Result<std::string> boot_id(const std::string& node);

  /// Outage per group and violations so far.
  [[nodiscard]] LabSummary summary() const;

  /// A copy of the model (for tests and diagnostics).
  [[nodiscard]] LabState snapshot() const;

  /// Paths of the state file and the event log.
  [[nodiscard]] std::string state_path() const { return dir_ + "/state.json"; }
  [[nodiscard]] std::string events_path() const { return dir_ + "/events.jsonl"; }

  /// Use open().
  Lab(std::string dir, LabState state, std::optional<EventLog> log, double speed);

 private:
  /// One command, the lab held: its events go to `events` (the caller persists them);
  /// `sleep` is the real time it takes once the lab is released (speed > 0).
  struct Ran {
    Result<ExecResult> result;
    std::chrono::duration<double> sleep{0};
  };
  [[nodiscard]] Ran run_locked(const std::string& node, const ExecRequest& req, std::vector<Event>& events);
  [[nodiscard]] VTime clock_locked() const;
  [[nodiscard]] Status persist_locked(const std::vector<Event>& events);
  [[nodiscard]] Result<Node*> reach_locked(const std::string& node, std::vector<Event>& events);
  [[nodiscard]] Fault* match_fault_locked(const std::string& node, const std::string& line);

  std::string dir_;
  double speed_;
  std::chrono::steady_clock::time_point anchor_real_;
  VTime anchor_virtual_ = 0;
  mutable std::mutex mu_;
  LabState state_;
  std::map<std::string, VTime> busy_;  ///< speed > 0: when each cluster's (node's) last command ends
  std::optional<EventLog> log_;  ///< nullopt: a read-only run's lab, persisted nowhere
};

}  // namespace converge::lab
