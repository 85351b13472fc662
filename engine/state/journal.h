// engine/state/journal.h — the write-ahead journal: SQLite in the state directory, or one
// PostgreSQL database shared by a team (journal_pg.h: the same tables, plus the holders of
// its estate locks).
//
// Format (PRAGMA user_version = 1; WAL; synchronous=FULL so a committed row survives power
// loss). The file is <state>/journal.db, mode 0600.
//
//   runs(id INTEGER PRIMARY KEY, command, status, exit_code, started_at, ended_at,
//        user, host, pid, manifest_path, manifest_sha256, git_commit, git_dirty,
//        changes, failed, note)
//     status: a word of engine/model/run_status.h (running, interrupted, or how the run
//     ended), exit_code its exit code. A row still `running` when the next run takes the
//     lock belongs to a run that died; it is marked `interrupted`.
//   steps(id INTEGER PRIMARY KEY, run_id, seq, resource, action, reason,
//         planned_at, started_at, ended_at, outcome, before_json, after_json, error)
//     Written in two committed transactions per wave of the executor: every step of the
//     wave with started_at set BEFORE any of them runs, then their outcomes after.
//     outcome NULL after a crash means "started, result unknown": the next run
//     re-observes, so nothing is lost or done twice.
//   priors(resource, property, value_json, run_id, recorded_at, restored_at,
//          PRIMARY KEY(resource, property))
//     The value a property had before converge first changed it in a maintenance: the
//     source of `prior` desired values and of restores of transient changes. The first
//     record wins; it is committed before the change is made.
//   drift(run_id, resource, property, observed_json, desired_json)
//     What each `check` found.
//   meta(key PRIMARY KEY, value): cached facts (git status per manifest version).
//
// Sensitive values are replaced by "(sensitive)" before they reach any row.
// A run that changed nothing (a no-op apply, a check) is recorded with synchronous=NORMAL:
// a power cut may lose that record, never a step, an outcome or a prior value.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/run_status.h"

namespace converge {

/// What a run row says.
struct RunRow {
  std::int64_t id = 0;
  RunStatus status = RunStatus::running;  ///< an unknown word in the file reads as interrupted
  std::string command, started_at, ended_at, user, host, manifest_path, manifest_sha256, git_commit, note;
  int exit_code = -1;  ///< as recorded; -1 while running
  int git_dirty = -1;  ///< -1 unknown / not in git, 0 clean, 1 dirty
  long pid = 0;
  int changes = 0, failed = 0;
  /// A shared journal's run: the names it locked, comma-separated (journal_pg.h); "" else.
  std::string scope;
};

/// What a step row says.
struct StepRow {
  std::int64_t id = 0, run_id = 0;
  int seq = 0;
  std::string resource, action, reason, started_at, ended_at, outcome, before_json, after_json, error;
};

/// The journal: one interface, two stores. The default is SQLite in the state directory
/// (`open`); a team shares one in PostgreSQL (engine/state/journal_pg.h). Both keep the
/// same tables and the same write-ahead discipline. Not thread-safe: the executor's main
/// thread writes.
class Journal {
 public:
  static constexpr int kFormat = 1;

  /// Opens (creating if needed) <state_dir>/journal.db. Fails, before anything changes,
  /// on a read-only or full directory, a newer format, or a damaged file: every page is
  /// read (PRAGMA quick_check) and the tables must be there.
  [[nodiscard]] static Result<std::unique_ptr<Journal>> open(const std::string& state_dir);
  virtual ~Journal() = default;

  /// Where the journal is, for messages: a file, or a database URL without its password.
  [[nodiscard]] virtual std::string where() const = 0;

  /// Inserts a run row (status running) and commits it. Returns its id.
  [[nodiscard]] virtual Result<std::int64_t> begin_run(const RunRow& run) = 0;
  /// Records a run that made no changes in one transaction (a no-op costs one commit),
  /// with its status and that status's exit code.
  [[nodiscard]] virtual Result<std::int64_t> record_run(const RunRow& run) = 0;
  /// Sets the final status of a run (and its exit code) and commits.
  [[nodiscard]] virtual Status end_run(std::int64_t run, RunStatus status, int changes, int failed,
                                       const std::string& note = {}) = 0;
  /// Marks rows left `running` by dead runs as `interrupted`; returns them. (A shared
  /// journal leaves the rows of runs still alive elsewhere alone.)
  [[nodiscard]] virtual Result<std::vector<RunRow>> close_interrupted() = 0;

  /// Records steps as started (one transaction). Fills each step's id.
  [[nodiscard]] virtual Status steps_started(std::vector<StepRow>& steps) = 0;
  /// Records outcomes of steps (one transaction).
  [[nodiscard]] virtual Status steps_ended(const std::vector<StepRow>& steps) = 0;

  /// Records a prior value unless one is already recorded (first wins). Commits.
  [[nodiscard]] virtual Status record_prior(const std::string& resource, const std::string& property,
                                            const std::string& value_json, std::int64_t run) = 0;
  /// The recorded prior value (JSON), or nullopt.
  [[nodiscard]] virtual Result<std::optional<std::string>> prior(const std::string& resource,
                                                                 const std::string& property) = 0;
  /// Every prior not yet marked restored, of the resources in scope: (resource, property,
  /// value_json).
  [[nodiscard]] Result<std::vector<std::array<std::string, 3>>> outstanding_priors();
  /// Marks every outstanding prior in scope restored (the maintenance is over). Commits.
  [[nodiscard]] Status close_priors();
  /// Marks a prior as restored (it then no longer counts as outstanding).
  [[nodiscard]] virtual Status prior_restored(const std::string& resource, const std::string& property) = 0;
  /// Limits outstanding_priors and close_priors to resources on these nodes and clusters
  /// (a resource id ends in "@NODE"): a journal shared by runs on other nodes holds their
  /// maintenances too. Empty: every resource.
  void set_scope(std::set<std::string> nodes) { scope_ = std::move(nodes); }

  /// Records what a check found.
  [[nodiscard]] virtual Status record_drift(std::int64_t run, const std::vector<std::vector<std::string>>& rows) = 0;

  [[nodiscard]] virtual Result<std::vector<RunRow>> runs(int limit) = 0;
  [[nodiscard]] virtual Result<std::optional<RunRow>> run(std::int64_t id) = 0;
  [[nodiscard]] virtual Result<std::vector<StepRow>> steps(std::int64_t run) = 0;
  [[nodiscard]] virtual Result<std::vector<std::vector<std::string>>> drift(std::int64_t run) = 0;
  /// Every prior row, restored or not: (resource, property, value_json, run_id, recorded_at,
  /// restored_at), for `state migrate`.
  [[nodiscard]] virtual Result<std::vector<std::vector<std::string>>> all_priors() = 0;
  /// Every meta row: (key, value).
  [[nodiscard]] virtual Result<std::vector<std::pair<std::string, std::string>>> all_meta() = 0;

  [[nodiscard]] virtual Result<std::optional<std::string>> meta(const std::string& key) = 0;
  [[nodiscard]] virtual Status set_meta(const std::string& key, const std::string& value) = 0;

  /// Test-only: makes every later write fail as if the disk were full.
  void fail_writes_for_testing(bool on) { fail_writes_ = on; }

 protected:
  /// Every outstanding prior, whatever the scope, ordered by resource and property.
  [[nodiscard]] virtual Result<std::vector<std::array<std::string, 3>>> every_outstanding_prior() = 0;
  /// Marks every outstanding prior restored.
  [[nodiscard]] virtual Status close_every_prior() = 0;
  /// Marks these priors (resource, property, _) restored, in one transaction.
  [[nodiscard]] virtual Status close_these_priors(const std::vector<std::array<std::string, 3>>& rows) = 0;
  [[nodiscard]] Status write_check() const;

 private:
  std::set<std::string> scope_;
  bool fail_writes_ = false;
};

}  // namespace converge
