// engine/run/executor.h — the convergence run for independent resources: observe, diff, act,
// verify, with a worker pool.
//
// observe_all() reads every resource in parallel, a node's resources observed by commands
// together (its data-typed resources' probes and its exec checks in one batch: one round
// trip), its files through one prefetch. apply_waves() then acts in dependency order, wave
// by wave: every resource whose dependencies are done is applied in parallel, a node's exec
// applies in one batch; deferred commits of the wave (batched atomic file writes) run after
// one sync per node;
// then each acted-on resource is re-observed and must show no drift (a provider that
// reports success but leaves drift is an error). A failure skips the resource's
// dependents, which are reported once with the failed root; unrelated resources go on.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/model/diff.h"
#include "engine/model/graph.h"
#include "engine/model/manifest.h"
#include "engine/model/types.h"
#include "resources/transport.h"

namespace converge {

/// How one resource ended.
enum class Outcome {
  in_sync,    ///< nothing to do
  pending,    ///< changes found, not applied (plan/check)
  changed,    ///< changes applied and verified
  failed,     ///< observation or action failed
  skipped,    ///< not attempted because a dependency failed
  excluded,   ///< left out of this run by --limit/--tags
};

[[nodiscard]] const char* outcome_word(Outcome o);

/// Everything known about one resource after a run.
struct ResourceResult {
  Outcome outcome = Outcome::in_sync;
  Observation before;
  ResourceChanges changes;
  std::string error;       ///< failed: why
  std::string blocked_by;  ///< skipped: id of the failed resource at the root
  /// Refreshed (apply), or owing a refresh (plan, check), because of this resource's change
  /// (its id), or of an earlier run's ("an earlier run"): engine/run/refresh.h. Empty: none.
  std::string refresh_by;
  std::chrono::microseconds elapsed{0};
};

/// Counts of outcomes: in_sync, pending, changed, failed, skipped, excluded.
struct Tally {
  int in_sync = 0, pending = 0, changed = 0, failed = 0, skipped = 0, excluded = 0;
  int create = 0, update = 0, remove = 0;
};
[[nodiscard]] Tally tally(const std::vector<ResourceResult>& results);

/// Finds the transport of a node; the executor never creates transports itself.
using TransportLookup = std::function<Transport*(const std::string& node)>;

/// Called as resources finish (from worker threads, serialized by the executor).
using ProgressFn = std::function<void(int index, const ResourceResult&)>;

/// A hook over the resources of one wave (indices); an error halts the run.
using WaveHook = std::function<Status(const std::vector<int>& wave)>;

struct ExecOptions {
  int parallel = 0;     ///< workers; 0 = number of cores
  ProgressFn progress;  ///< optional: a resource finished
  ProgressFn started;   ///< optional: a resource's action is about to run
  /// Before any resource of a wave acts (the journal's write-ahead record). On error
  /// nothing of the wave runs and the run halts: the rest is skipped.
  WaveHook before_wave;
  /// After the wave's resources finished and were verified (the journal's outcomes).
  /// On error the run halts after this wave.
  WaveHook after_wave;
  /// Asked before each wave: true stops the run there (an interrupt); the rest is skipped.
  std::function<bool()> stop;
};

/// Runs fn(0..n-1) on up to `workers` threads. Blocks until all are done.
void parallel_for(int n, int workers, const std::function<void(int)>& fn);

/// Observes and diffs every resource (no changes made); one left out of the run (excluded)
/// is not observed. Results are in resource order.
[[nodiscard]] std::vector<ResourceResult> observe_all(const Manifest& m, const TypeRegistry& types,
                                                      const TransportLookup& transports, const ExecOptions& opts);

/// Applies the pending changes in `results` (from observe_all) in dependency order and
/// verifies each. Updates `results` in place.
void apply_waves(const Manifest& m, const Graph& g, const TypeRegistry& types, const TransportLookup& transports,
              std::vector<ResourceResult>& results, const ExecOptions& opts);

}  // namespace converge
