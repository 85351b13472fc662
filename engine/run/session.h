// engine/run/session.h — one run's surroundings, from the model to the run's journal row:
// the model (from the cache when no source changed), the state directory, its lock, the
// journal, the transports, recovery after an interrupted run, the built-in resources'
// journaled waves, and the run's row from its beginning (write-ahead, before the first
// change) to its end. cmd_converge opens one and runs the pipeline through it.
#pragma once

#include <functional>
#include <future>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/manifest.h"
#include "engine/model/run_status.h"
#include "engine/model/selection.h"
#include "engine/model/types.h"
#include "engine/run/executor.h"
#include "engine/run/orchestrate.h"
#include "engine/state/journal.h"
#include "engine/state/lock.h"

namespace converge {

class TransportSet;

/// Where and how a session opens.
struct SessionOptions {
  Command command = Command::apply;
  std::string state_dir;   ///< REQUIRES: set (the CLI resolves the default)
  bool use_cache = true;   ///< read and write the validated-model cache
  double lab_speed = 0;    ///< the lab: virtual seconds per real second
  Selection selection;     ///< --limit / --tags
  /// --state or CONVERGE_STATE: a postgresql:// URL for the journal and the estate lock
  /// (journal_pg.h). Empty: the manifest's `state: {url:}`, else SQLite in state_dir.
  std::string state_url;
};

/// What a run on `m` locks in a shared journal: the manifest's declared estate if any, each
/// node in scope (all, or those --limit kept; a `local` node as NAME@HOST, since it is this
/// machine) and each cluster with a member in scope.
[[nodiscard]] std::vector<std::string> estate_lock_names(const Manifest& m);

/// Why a session did not open: the status to report (invalid, locked or failed) and why.
struct SessionFailure {
  RunStatus status = RunStatus::failed;
  Diagnostics diagnostics;
};

/// How the resources of a run ended, over built-in and planned resources alike.
/// `planned` is the planned run's outcome when the manifest has data-typed resources.
[[nodiscard]] RunStatus final_status(Command command, const Tally& t, const PlannedOutcome* planned);

/// The session of one apply, plan or check. Not thread-safe; the run's threads go through
/// the executor and the planned run, which take what they need from it.
class RunSession {
 public:
  /// Loads the model (or takes it from the cache), checks the lab file a run would create
  /// the lab from, prepares the private state directory, stores the cache, takes the lock,
  /// starts opening the journal (closing out interrupted runs) on its own thread, and opens
  /// the transports. Nothing is written before the model and its lab file are known good.
  [[nodiscard]] static std::expected<std::unique_ptr<RunSession>, SessionFailure> open(const std::string& manifest_path,
                                                                                       const SessionOptions& opts);
  ~RunSession();

  [[nodiscard]] const Manifest& manifest() const { return *model_; }
  /// What --limit/--tags left out (all zero without them).
  [[nodiscard]] const SelectionSummary& selection() const { return selection_; }
  [[nodiscard]] const TypeRegistry& types() const { return types_; }
  [[nodiscard]] const TransportLookup& transports() const { return lookup_; }
  /// REQUIRES: observe() succeeded.
  [[nodiscard]] Journal& journal() { return *journal_; }
  /// The runs the journal found interrupted (closed out as such when it opened).
  [[nodiscard]] const std::vector<RunRow>& interrupted() const { return interrupted_; }

  /// Observes every resource (directories held open, nothing changing) while the journal
  /// finishes opening; an error when the journal cannot be opened.
  [[nodiscard]] Result<std::vector<ResourceResult>> observe(const ExecOptions& eo);

  /// After an interrupted run: each type's recovery (the file type sweeps its stale
  /// temporaries) on each node; how many leftovers were removed.
  int recover_interrupted();

  /// Takes these resources out of the run's scope, as --limit would (the planned run gives
  /// them no goal): a data-defined resource whose built-in prerequisite failed.
  void leave_out(const std::vector<int>& resources);
  /// Takes these resources out of scope (`on`) or back in: while one plan of an apply in
  /// stages runs, the other plans' resources.
  void exclude(const std::vector<int>& resources, bool on);

  /// The run's row, written once before the first change; its id.
  [[nodiscard]] Result<std::int64_t> begin();
  /// The run's id, 0 while no row is written.
  [[nodiscard]] std::int64_t run_id() const { return run_id_; }

  /// Applies the pending built-in resources of `rs` in waves, each journaled before and
  /// after it acts; an error when the run's row or a wave's record could not be written
  /// (the run halted there: what was left is skipped).
  [[nodiscard]] Status apply_waves(std::vector<ResourceResult>& rs, ExecOptions eo);

  /// The refreshes recorded owed (engine/run/refresh.h), by resource id: read once, with
  /// those this run records added.
  [[nodiscard]] Result<std::set<std::string>> owed_refreshes();
  /// apply, before its first change: records a refresh owed to every resource that will
  /// owe one if the pending changes of `rs` happen.
  [[nodiscard]] Status owe_refreshes(const std::vector<ResourceResult>& rs);
  /// apply, after its changes: refreshes in dependency order each resource that subscribes
  /// to one that changed or was refreshed in this run, or that an earlier run left owed,
  /// each journaled as a step; clears what it did. One that failed, was skipped or left out
  /// keeps its refresh owed. A failed refresh fails its resource. `stop` ends it early.
  [[nodiscard]] Status refresh(std::vector<ResourceResult>& rs, const std::function<bool()>& stop);
  /// plan, check: marks (refresh_by) the resources that owe a refresh or would owe one.
  [[nodiscard]] Status mark_refreshes(std::vector<ResourceResult>& rs);

  /// Records the run's end (plan records nothing): its status, changes and failures, and
  /// for check the drift found.
  [[nodiscard]] Status record(RunStatus status, int changes, int failed, const std::vector<ResourceResult>& results);

  /// Text the transports want shown at the end (the lab's availability summary).
  [[nodiscard]] std::string summary() const;

 private:
  RunSession() = default;

  SessionOptions opts_;
  TypeRegistry types_;
  std::optional<Manifest> model_;
  SelectionSummary selection_;
  std::optional<RunLock> lock_;
  std::future<Result<std::pair<std::unique_ptr<Journal>, std::vector<RunRow>>>> opening_;
  std::unique_ptr<Journal> journal_;
  std::vector<RunRow> interrupted_;
  std::unique_ptr<TransportSet> transports_;
  TransportLookup lookup_;
  std::optional<RunRow> row_;  ///< identity fields, read once (git) when first needed
  std::int64_t run_id_ = 0;
  int steps_seq_ = 0;  ///< the built-in steps journaled so far (their numbers go on)
  std::optional<std::set<std::string>> owed_;  ///< refreshes recorded owed, once read (and this run's)
  std::set<std::string> owed_now_;             ///< of those, the ones this run recorded
};

}  // namespace converge
