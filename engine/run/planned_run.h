// engine/run/planned_run.h — internal to the planned run (engine/run/orchestrate.h is its interface):
// the state of one planned run and its steps, in three parts:
//   planned_run_prepare.cpp  observation, priors, run preconditions, grounding and planning;
//   planned_run_execute.cpp  journaled steps with retries, boot waits and verification,
//                            component chains side by side, the closed loop, measured
//                            outage, the apply loop with re-planning;
//   planned_run_end.cpp      how a run ends: finished, halted safely, or awaiting a reboot.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/plan/ground.h"
#include "engine/plan/planner.h"
#include "engine/run/orchestrate.h"
#include "resources/datatype_provider.h"

namespace converge::orchestration {

using grounding::Grounded;
using grounding::Subject;
using grounding::StepKind;
using grounding::step_kind_word;

/// One planned run of `command` over a manifest (see engine/run/orchestrate.h for the phases).
/// Not thread-safe as a whole: run() is called once; component chains it runs side by side share
/// the journal and the run's state under mu_.
class PlannedRun {
 public:
  PlannedRun(Command command, const Manifest& m, const TypeRegistry& types, const TransportLookup& transports,
             Journal* journal, const BeginRun& begin_run, std::vector<ResourceResult>& results,
             const PlannedRunOptions& opts)
      : command_(command), m_(m), types_(types), transports_(transports), journal_(journal), begin_run_(begin_run),
        results_(results), opts_(opts), clock_(opts.clock ? *opts.clock : system_clock()) {}

  /// Observes, checks, plans and (for apply) executes; how it ended.
  PlannedOutcome run();

 private:
  const Command command_;
  const Manifest& m_;
  const TypeRegistry& types_;
  const TransportLookup& transports_;
  Journal* journal_;
  const BeginRun& begin_run_;
  std::vector<ResourceResult>& results_;
  const PlannedRunOptions& opts_;
  Clock& clock_;
  PlannedOutcome out_;  ///< notes, diagnostics and report fields gathered so far

  std::vector<datatype::Fact> facts_;
  std::vector<datatype::Precondition> preconditions_;
  std::vector<Subject> subjects_;
  std::vector<Observation> observed_;
  std::map<std::string, Value> node_facts_;     // observed by probes
  std::map<std::string, Value> derived_facts_;  // set by this run's steps, unobservable
  std::set<std::string> reachable_;
  std::map<std::string, Value> restore_;
  std::set<std::string> touched_;               // subject ids changed by this run
  std::map<std::string, int> step_count_;       // steps run per subject id
  std::map<std::string, std::string> failed_;   // subject id -> why its step failed
  std::pair<std::string, std::string> awaiting_;  // a local node restarting: (node, boot id before)
  std::map<std::string, std::pair<int, std::string>> fact_subject_;  // fact -> (subject, property), for the closed loop
  std::vector<std::string> replans_;            // why the run planned again before a step
  /// Each available group's outage as this apply measured it (plan seconds: real time
  /// times the lab's speed), and since when it is down, if it is; under mu_.
  struct Measured {
    std::int64_t ms = 0;
    std::optional<Clock::time_point> since;
  };
  std::map<std::string, Measured> measured_;
  std::map<std::string, std::int64_t> planned_outage_;  // the first plan's, per group
  std::map<std::string, std::int64_t> outage_budget_;   // per group, -1: none
  std::int64_t run_id_ = 0;
  int seq_ = 0;
  std::mutex mu_;  ///< the journal and the state below, while chains run side by side
  int changes_ = 0;
  int failures_ = 0;

  // ---- observation, priors, preconditions, planning (planned_run_prepare.cpp) ----

  /// The outcome gathered so far, ending with `status`.
  PlannedOutcome end(RunStatus status, int failed);

  /// A failed outcome with `msg` (scrubbed) as its diagnostic.
  PlannedOutcome error(const std::string& msg);

  /// `text` with every value the manifest marks sensitive replaced by "(sensitive)" (a
  /// refusal or a verify message names goal values).
  std::string scrub(std::string text) const;

  /// A refused outcome (exit 3) naming why, scrubbed; also the report's "refusal".
  PlannedOutcome refused(const std::string& raw);

  /// One line of progress, when the options ask for it.
  void progress(const std::string& line) const;

  /// The node facts and run preconditions of the included type files, from the registry.
  void load_type_files();

  Transport* transport(const std::string& node) const { return transports_(node); }

  /// True when --limit/--tags left part of the manifest out of this run.
  bool limited() const {
    return m_.limit.has_value() ||
           std::any_of(m_.resources.begin(), m_.resources.end(), [](const ResourceSpec& r) { return r.excluded; });
  }

  /// One subject observed now through its type's provider.
  Observation observe_subject(const Subject& s) const;

  /// After an interrupted run a node may still be restarting from its last step: wait for
  /// every node to answer (up to the reboot timeout), then observe again.
  void wait_for_nodes();

  /// Observes every subject (declared ones from observe_all's results on the first pass)
  /// and every node's facts.
  void observe(bool first);

  /// Which nodes answer, and the node facts their probes read (plus those this run's steps
  /// set, which no probe can read).
  void observe_nodes();

  /// `prior` desired values: the journal's outstanding prior, else (first run of a
  /// maintenance) the value observed now, recorded before anything changes when `record`.
  Status resolve_priors(bool record);

  /// A journaled JSON value as a manifest value (scalars; anything else as its JSON text).
  static Value value_from_json(const nlohmann::json& j);

  /// The report's per-resource results from the latest observation.
  void refresh_results(const std::set<std::string>& changed);

  /// `check`'s outcome from the results: failed, drift or in sync.
  PlannedOutcome check_outcome();

  /// Run preconditions; the refusal text, or empty.
  std::string preconditions();

  /// The planning problem from the latest observation; `manifest_goals` false leaves only
  /// the goals in restore_ (the safe halt's).
  Result<Grounded> ground(bool manifest_goals);

  static bool goals_hold(const Grounded& g);

  /// Searches a plan for `g` and inserts its transient establish/restore steps.
  std::expected<planning::Plan, planning::Refusal> make_plan(Grounded& g, bool node_disruption = true);
  /// A refusal that names no constraint, in a run --limit/--tags narrow: when the actions
  /// left out would make a plan, the refusal names them instead.
  planning::Refusal needs_left_out(const Grounded& g, planning::Refusal refusal) const;

  /// The plan in the outcome: its text first among the notes (with a progress sink, apply
  /// prints it there before the steps and keeps only its first line), its JSON under "plan".
  void describe_plan(const Grounded& g, const planning::Plan& p);

  /// The plan as a DOT graph to the options' graph_file (a failure to write is a diagnostic).
  void write_graph(const Grounded& g, const planning::Plan& p);

  // ---- execution (planned_run_execute.cpp) ----

  /// `seconds` of the plan's time in real time (the lab runs lab_speed times faster).
  std::chrono::milliseconds scaled(std::int64_t seconds) const;

  /// Runs one step's commands, with retries of what may pass (a timeout, an unreachable
  /// node) after a backoff.
  Status run_step(const Grounded& g, int a);

  /// Waits (up to the reboot timeout) for `node` to answer with a boot id other than `before`.
  Status wait_for_boot(Transport& t, const std::string& node, const std::string& before);

  /// After a step: its resource must show what the step set.
  Status verify_step(const Grounded& g, int a, Observation& obs);

  /// What one journaled step came to.
  enum class StepEnd { ok, failed, awaiting, journal_error, interrupted, replan };

  /// The closed loop, before step `i` of the apply: the resources its preconditions (and a
  /// planned step's transient requirements) read are observed afresh; when one no longer
  /// holds, the step is not run: its row is journaled "not run: re-planned" with the fact
  /// that changed (also kept in replans_), and the run plans again from a fresh observation.
  /// `ok` when every condition holds (or cannot be observed: the step then finds out).
  StepEnd still_holds(const Grounded& g, const planning::Plan& plan, std::size_t i, Error& err);

  /// Step `i` of the apply: the closed loop (still_holds), the outage budget (outage_room),
  /// then run_journaled.
  StepEnd apply_step(const Grounded& g, const planning::Plan& plan, std::size_t i, const std::string& why,
                     std::map<std::string, Value>& put_back, Error& err);

  /// Before step `i`: when it starts a new outage of a group whose measured outage leaves
  /// less than the plan's estimate of that outage inside the budget, the error naming the
  /// group and the figures (the run halts safely, exit 3).
  std::optional<Error> outage_room(const Grounded& g, const planning::Plan& plan, std::size_t i);

  /// After step action `a`, started at `start`, succeeded: the outages it began or ended.
  void measure_outage(const Grounded& g, int a, Clock::time_point start);

  /// A group's measured outage so far, in plan seconds (an open outage counted to now).
  std::int64_t measured_s(const std::string& group) const;

  /// Measured outage beside the planned one and the budget: notes, the report's "outage",
  /// and the journal (meta "outage:RUN", which `history RUN` shows).
  void report_outage();

  /// Runs step `i` of `plan`: its row journaled before it acts (and what a transient step
  /// changes recorded as a prior first), the commands with retries, the wait for a new
  /// boot, the re-observation, then its outcome journaled. The apply loop and the safe halt
  /// both go through here, so nothing is ever changed without a record.
  StepEnd run_journaled(const Grounded& g, const planning::Plan& plan, std::size_t i, const std::string& why,
                        const std::string& label, std::map<std::string, Value>& put_back, Error& err);

  /// The plan's component chains (its steps by Step::chain, in order), when it has more
  /// than one and no step restarts the machine converge runs on: they then run side by
  /// side as the schedule has them (run_chains).
  std::optional<std::vector<std::vector<std::size_t>>> plan_chains(const Grounded& g, const planning::Plan& plan) const;

  /// Runs the chains side by side as the schedule has them: in order of their scheduled
  /// start, each once every chain the schedule ends before its start has ended, so that
  /// chains run together only where the schedule overlaps them (every max_disrupted and
  /// order constraint holds whatever the actual durations), at most --parallel at once. On
  /// the first failure no chain starts another step. Returns the failed step and its error.
  std::optional<std::pair<std::size_t, Error>> run_chains(const Grounded& g, const planning::Plan& plan,
                                                          const std::vector<std::vector<std::size_t>>& chains,
                                                          const std::vector<std::string>& whys,
                                                          std::map<std::string, Value>& put_back);

  /// A transient change or a `prior` of a sensitive property would put its value in the
  /// journal: refused before anything runs. Empty when none.
  std::string sensitive_transient(const Grounded& g, const planning::Plan& plan) const;

  /// Executes `plan` (journaled step by step), then observes again and re-plans until the
  /// goals hold (at most 4 rounds); a failure ends in the safe halt.
  PlannedOutcome apply(Grounded g, planning::Plan plan);

  // ---- how a run ends (planned_run_end.cpp) ----

  /// True once the options' stop says the run is interrupted.
  bool stopping() const { return opts_.stop && opts_.stop(); }

  /// The run was interrupted between steps: nothing more starts; a rerun continues.
  PlannedOutcome interrupted();

  static constexpr const char* kAwaitKey = "awaiting_reboot";
  /// The journal's meta key of a wait for `node`, this machine: "awaiting_reboot:NODE@HOST".
  static std::string await_key(const std::string& node);

  /// The step restarted the machine converge runs on: journal it, remember which boot to
  /// wait for, and end the run.
  PlannedOutcome await_reboot();

  /// A run left awaiting a reboot: continue once the node's boot id changed; until then,
  /// do nothing and say so. Returns an outcome when this run must stop.
  std::optional<PlannedOutcome> check_awaited_reboot();

  /// Every goal holds: the maintenance's priors are closed and the outcome reported.
  PlannedOutcome finish();

  /// The `prior` values the manifest declares (resolved) and the restores earlier runs
  /// left outstanding, as goals (fact -> value).
  std::map<std::string, Value> prior_goals() const;

  /// Puts `goals`, the prior goals and outstanding restores back with a plan of steps that
  /// restart no node, each journaled (its reason starting with `why`); what it did.
  std::string put_back_safely(std::map<std::string, Value> goals, std::map<std::string, Value>& put_back,
                              const std::string& why);

  /// A refusal of apply in a maintenance an interrupted run left open: what that run left
  /// changed is put back first.
  PlannedOutcome refuse_putting_back(const std::string& refusal);

  /// Safe halt: no further planned step; transient changes and available groups put back
  /// with a plan of steps that disrupt no node.
  PlannedOutcome halt(const Grounded& g, const planning::Operator& failed, const Error& e,
                      std::map<std::string, Value> put_back);
};

}  // namespace converge::orchestration
