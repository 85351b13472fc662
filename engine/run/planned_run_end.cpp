// engine/run/planned_run_end.cpp — how a planned run ends: finished (priors closed), halted safely
// (transient changes and available groups put back by non-disruptive steps, the failure
// threshold counted over the maintenance), or awaiting the reboot of the machine it runs on.
#include "engine/run/planned_run.h"

#include "engine/model/duration.h"
#include "engine/plan/plan_report.h"
#include "engine/state/lock.h"

namespace converge::orchestration {

PlannedOutcome PlannedRun::await_reboot() {
  nlohmann::json j = {{"run", run_id_}, {"node", awaiting_.first}, {"boot_id", awaiting_.second}, {"since", clock_.unix_seconds()}};
  if (journal_)
    if (auto ms = journal_->set_meta(await_key(awaiting_.first), j.dump()); !ms) return error(ms.error().describe());
  refresh_results(touched_);
  out_.notes.push_back("awaiting reboot: " + awaiting_.first +
                          " is restarting (it is the machine converge runs on); run converge again once it is back: "
                          "the next run continues this one");
  return end(RunStatus::awaiting_reboot, 0);
}

std::string PlannedRun::await_key(const std::string& node) {
  return std::string(kAwaitKey) + ":" + node + "@" + host_name();
}

std::optional<PlannedOutcome> PlannedRun::check_awaited_reboot() {
  if (!journal_) return std::nullopt;
  // Only a node that is the machine converge runs on is awaited, under its name and this
  // machine's (a journal shared by a team holds other machines' waits); a journal of an
  // earlier version keeps its one wait under the bare key.
  std::string key;
  std::optional<std::string> m;
  std::vector<std::string> keys{kAwaitKey};
  for (const auto& n : m_.nodes)
    if (Transport* t = transport(n.name); t && t->runs_here()) keys.push_back(await_key(n.name));
  for (const auto& k : keys) {
    auto v = journal_->meta(k);
    if (v && *v && !(*v)->empty()) {
      key = k;
      m = **v;
      break;
    }
  }
  if (!m) return std::nullopt;
  auto j = nlohmann::json::parse(*m, nullptr, false);
  if (j.is_discarded() || !j.contains("node")) return std::nullopt;
  const std::string node = j["node"].get<std::string>();
  Transport* t = transport(node);
  auto now = t ? t->boot_id() : Result<std::string>(std::unexpected(make_error(ErrorCode::unreachable, "no transport")));
  const std::int64_t since = j.value("since", std::int64_t{0});
  const bool given_up = (clock_.unix_seconds() - since) * 1000 > opts_.reboot_timeout.count();
  if (now && *now == j.value("boot_id", std::string()) && !given_up) {
    out_.notes.push_back("still awaiting the restart of " + node + " requested by run #" +
                            std::to_string(j.value("run", 0)) + ": nothing done (after --reboot-timeout, " +
                            format_duration_ms(opts_.reboot_timeout.count()) + ", the next run stops waiting and plans afresh)");
    return end(RunStatus::awaiting_reboot, 0);
  }
  if (now && *now == j.value("boot_id", std::string())) {
    if (auto s = journal_->set_meta(key, ""); !s) return error(s.error().describe());
    out_.notes.push_back("note: " + node + " did not restart within " + format_duration_ms(opts_.reboot_timeout.count()) +
                            " of run #" + std::to_string(j.value("run", 0)) + "'s request; planning afresh");
    return std::nullopt;
  }
  if (!now) return std::nullopt;  // not back yet: the observation below reports it
  if (auto s = journal_->set_meta(key, ""); !s) return error(s.error().describe());
  out_.notes.push_back("note: " + node + " restarted (new boot id); continuing the work of run #" +
                          std::to_string(j.value("run", 0)));
  return std::nullopt;
}

PlannedOutcome PlannedRun::interrupted() {
  refresh_results(touched_);
  out_.notes.push_back("interrupted: no further step started after " + std::to_string(changes_) +
                       " step(s); what ran is journaled, and a rerun observes afresh, puts back what this run changed "
                       "for the time of a step, and finishes the job");
  return end(RunStatus::interrupted, failures_);
}

PlannedOutcome PlannedRun::finish() {
  refresh_results(touched_);
  // A run that left part of the estate out (--limit/--tags) closes no prior: what it did
  // not put back waits, journaled, for the run that covers it.
  if (journal_ && !limited())
    if (auto s = journal_->close_priors(); !s) return error(s.error().describe());
  Tally t = tally(results_);
  if (t.failed || t.pending) return end(RunStatus::failed, t.failed);
  return end(changes_ ? RunStatus::converged : RunStatus::in_sync, 0);
}

std::map<std::string, Value> PlannedRun::prior_goals() const {
  std::map<std::string, Value> goals;
  for (std::size_t i = 0; i < subjects_.size(); ++i) {
    const Subject& s = subjects_[i];
    if (s.manifest_index < 0) continue;
    for (const std::string& p : m_.resources[s.manifest_index].prior)
      if (const Value* v = s.spec.prop(p); v && !v->is_null()) goals.emplace(grounding::fact_key(s, p), *v);
  }
  for (const auto& [k, v] : restore_) goals.emplace(k, v);
  return goals;
}

std::string PlannedRun::put_back_safely(std::map<std::string, Value> goals, std::map<std::string, Value>& put_back,
                                        const std::string& why) {
  // Prior values the manifest declares and earlier runs' outstanding restores too.
  for (auto& [k, v] : prior_goals()) goals.emplace(k, v);
  // Subjects that cannot be observed (a node that did not come back) drop out.
  restore_ = goals;
  auto safe = ground(false);
  if (!safe) return "cannot plan the put-back: " + safe.error().message;
  for (auto& a : safe->problem.actions)
    if (a.disruption == planning::Disruption::node) a.search = false;
  safe->problem.max_expansions = 200'000;
  if (goals_hold(*safe)) return "nothing to put back";
  auto p = make_plan(*safe, false);
  if (!p) return "no safe way to put everything back: " + p.error().message;
  int done = 0;
  const auto whys = explain_steps(*safe, subjects_, *p);
  for (std::size_t i = 0; i < p->steps.size(); ++i) {
    Error err;
    const std::string label = "safe " + std::to_string(i + 1) + "/" + std::to_string(p->steps.size());
    if (run_journaled(*safe, *p, i, why + "; " + whys[i], label, put_back, err) != StepEnd::ok)
      return "putting back failed at " + safe->problem.actions[p->steps[i].action].name + ": " + err.message;
    ++done;
  }
  return std::to_string(done) + " steps put transient changes and groups back";
}

PlannedOutcome PlannedRun::refuse_putting_back(const std::string& refusal) {
  // In a maintenance (an earlier run changed something and did not finish), what it left
  // changed for the time of a step goes back before the refusal: a stopped service must
  // not stay stopped until someone makes the precondition hold.
  bool in_maintenance = false;
  if (journal_)
    if (auto rows = journal_->outstanding_priors(); rows && !rows->empty()) in_maintenance = true;
  if (command_ != Command::apply || !in_maintenance) return refused(refusal);
  auto id = begin_run_();
  if (!id) return error(id.error().describe());
  run_id_ = *id;
  std::map<std::string, Value> none;
  const std::string note = put_back_safely({}, none, "refused; put back");
  observe(false);
  if (auto r = resolve_priors(false); !r) out_.diagnostics.push_back(r.error());
  refresh_results(touched_);
  out_.notes.push_back("before refusing: " + note + " (what an interrupted run of this maintenance left changed)");
  return refused(refusal);
}

PlannedOutcome PlannedRun::halt(const Grounded& g, const planning::Operator& failed, const Error& e,
                                std::map<std::string, Value> put_back) {
  ++failures_;
  // The outage budget's halt (outage_room): the step was not started.
  const bool budget = e.code == ErrorCode::refused;
  std::string what = failed.name + " on " + failed.node + (budget ? " " : " failed: ") + e.message;
  out_.diagnostics.push_back(make_error(ErrorCode::action_failed, what));
  progress("  halting: " + what);
  observe(false);
  std::map<std::string, Value> goals = put_back;
  for (const auto& av : g.problem.available) {
    auto was = g.problem.initial.find(av.online_fact);
    if (was != g.problem.initial.end() && was->second == Value(true)) goals[av.online_fact] = Value(true);
  }
  const std::string safe_note = put_back_safely(std::move(goals), put_back, "safe halt");
  observe(false);
  if (auto r = resolve_priors(false); !r) out_.diagnostics.push_back(r.error());
  refresh_results(touched_);
  int threshold = -1;
  for (const auto& c : m_.constraints)
    if (c.kind == ConstraintSpec::Kind::halt_after_failures) threshold = c.limit;
  // The threshold counts failed runs of this maintenance: this one and those halted or
  // failed since the last run that ended in sync.
  int failed_runs = 1;
  if (journal_)
    if (auto runs = journal_->runs(200))
      for (const auto& r : *runs) {
        if (r.id == run_id_ || r.command != "apply") continue;
        if (ended_in_sync(r.status)) break;
        if (r.status == RunStatus::halted || r.status == RunStatus::failed) ++failed_runs;
      }
  std::string halt_text = "halted safely after " + what + ": " + safe_note +
                          ". No further planned step ran. A rerun observes afresh, plans from there and finishes the job "
                          "(prior values stay in the journal).";
  out_.notes.push_back(halt_text);
  out_.extra["halt"] = halt_text;
  if (budget) return end(RunStatus::halted, failures_);
  if (threshold >= 0 && failed_runs >= threshold) {
    out_.notes.push_back("failure threshold reached (halt_after_failures " + std::to_string(threshold) + ": " +
                            std::to_string(failed_runs) + " failed run" + (failed_runs == 1 ? "" : "s") +
                            " in this maintenance)");
    return end(RunStatus::halted, failures_);
  }
  if (threshold >= 0)
    out_.notes.push_back("failed run " + std::to_string(failed_runs) + " of the " + std::to_string(threshold) +
                            " this maintenance allows (halt_after_failures)");
  return end(RunStatus::failed, failures_);
}

}  // namespace converge::orchestration
