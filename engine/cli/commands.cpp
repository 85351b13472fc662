#include "engine/cli/commands.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>
#include <mutex>
#include <set>

#include <fmt/format.h>

#include "engine/cli/report.h"
#include "engine/cli/signals.h"
#include "engine/model/datatype_parse.h"
#include "engine/model/graph.h"
#include "engine/model/loader.h"
#include "engine/run/orchestrate.h"
#include "engine/run/session.h"
#include "resources/inventory_command.h"
#include "resources/transports.h"

namespace converge {

namespace fs = std::filesystem;

namespace {

using SteadyClock = std::chrono::steady_clock;

std::int64_t ms_since(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

void emit_report(const Report& r, const GlobalOptions& opts) {
  if (opts.json) {
    std::cout << json_text(report_json(r)) << "\n";
    return;
  }
  std::string text = report_text(r, opts.color, opts.verbose);
  if (opts.quiet) {
    // Errors only.
    for (const auto& d : r.diagnostics) std::cerr << "error: " << d.describe() << "\n";
    if (r.results)
      for (std::size_t i = 0; i < r.results->size(); ++i)
        if ((*r.results)[i].outcome == Outcome::failed)
          std::cerr << "failed: " << r.manifest->resources[i].id() << ": " << (*r.results)[i].error << "\n";
    return;
  }
  // A report that is only an error (nothing observed) goes to stderr.
  (exit_code(r.status) != kExitOk && !r.results ? std::cerr : std::cout) << text;
}

/// Prints the report as --format says (to --output when given, the text report then going
/// to stdout), sends --syslog's summary, and returns the exit code (a Nagios plugin's with
/// --format nagios).
int emit(const Report& r, const GlobalOptions& opts) {
  int code = exit_code(r.status);
  if (opts.syslog)
    if (auto sent = send_syslog(r, opts.syslog_socket); !sent)
      std::cerr << "converge: warning: " << sent.error().describe() << "\n";
  std::string formatted;
  const std::time_t now = std::time(nullptr);
  switch (opts.format) {
    case Format::text: break;
    case Format::json: if (!opts.output.empty()) formatted = json_text(report_json(r)) + "\n"; break;
    case Format::prometheus: formatted = prometheus_text(r, now); break;
    case Format::junit: formatted = junit_xml(r, now); break;
    case Format::nagios: {
      NagiosResult n = nagios_result(r);
      formatted = n.line + "\n";
      code = n.exit_code;
      break;
    }
  }
  if (formatted.empty()) {
    emit_report(r, opts);
    return code;
  }
  if (opts.output.empty()) {
    std::cout << formatted;
    return code;
  }
  if (auto written = write_atomically(opts.output, formatted); !written) {
    // What monitoring reads was not updated: the run failed at what it was asked.
    std::cerr << "error: " << written.error().describe() << "\n";
    code = opts.format == Format::nagios ? 3 : kExitError;
  }
  GlobalOptions text = opts;
  text.json = false;
  emit_report(r, text);
  return code;
}

}  // namespace

namespace {

/// Progress on a terminal: one line per finished resource that did something.
ProgressFn progress_printer(const Manifest& m, const GlobalOptions& opts) {
  if (!opts.progress) return nullptr;
  return [&m](int i, const ResourceResult& r) {
    if (r.outcome == Outcome::in_sync) return;
    std::fprintf(stderr, "  %-8s %s\n", outcome_word(r.outcome), m.resources[i].id().c_str());
  };
}

/// Progress on a terminal: a line as a command starts (it may run for minutes; a file
/// write is done before anyone could read the line).
ProgressFn start_printer(const Manifest& m, const GlobalOptions& opts) {
  if (!opts.progress) return nullptr;
  return [&m](int i, const ResourceResult&) {
    const ResourceSpec& r = m.resources[i];
    if (r.type == "file" || r.type == "directory") return;
    std::fprintf(stderr, "  %-8s %s\n", "running", r.id().c_str());
  };
}

}  // namespace

namespace {

/// `validate` of a `kind: Types` file on its own: schema, types, facts and preconditions
/// checked as an include would be, with positions. Nullopt when `f` is not a type file.
std::optional<Report> validate_type_file(const std::string& f) {
  auto doc = load_yaml_file(f);
  if (!doc) return std::nullopt;  // the manifest loader reports it
  const YNode* kind = doc->root.is_map() ? doc->root.get("kind") : nullptr;
  if (!kind || !kind->is_scalar() || kind->scalar != Value("Types")) return std::nullopt;
  Report r;
  r.command = "validate";
  r.manifest_path = f;
  datatype::TypeFile tf = datatype::load_type_file(f, r.diagnostics);
  if (r.diagnostics.empty()) {
    TypeRegistry reg = builtin_types();
    datatype::register_types(tf, reg, r.diagnostics);
  }
  r.status = r.diagnostics.empty() ? RunStatus::valid : RunStatus::invalid;
  if (r.diagnostics.empty())
    r.notes.push_back(f + ": valid type file (" + std::to_string(tf.types.size()) + " types, " +
                      std::to_string(tf.facts.size()) + " node facts, " + std::to_string(tf.preconditions.size()) +
                      " run preconditions)");
  return r;
}

}  // namespace

int cmd_validate(const std::vector<std::string>& files, const GlobalOptions& opts) {
  TypeRegistry types = builtin_types();
  int code = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& f : files) {
    auto start = SteadyClock::now();
    if (std::optional<Report> tr = validate_type_file(f)) {
      tr->duration_ms = ms_since(start);
      if (tr->status != RunStatus::valid) code = kExitError;
      if (opts.json) all.push_back(report_json(*tr));
      else emit_report(*tr, opts);
      continue;
    }
    LoadOutcome lo = load_manifest(f, types, run_inventory_command);
    (void)lo.types;  // validate needs only the diagnostics
    if (lo.manifest)
      if (Diagnostics lab = check_lab_file(*lo.manifest); !lab.empty()) {
        lo.diagnostics.insert(lo.diagnostics.end(), lab.begin(), lab.end());
        lo.manifest.reset();
      }
    Report r;
    r.command = "validate";
    r.manifest_path = f;
    r.diagnostics = lo.diagnostics;
    r.status = lo.manifest ? RunStatus::valid : RunStatus::invalid;
    r.duration_ms = ms_since(start);
    if (lo.manifest) {
      r.manifest_name = lo.manifest->name;
      r.notes.push_back(f + ": valid (" + std::to_string(lo.manifest->resources.size()) + " resources on " +
                        std::to_string(lo.manifest->nodes.size()) + " nodes, " +
                        std::to_string(lo.manifest->constraints.size()) + " constraints)");
    }
    if (!lo.manifest) code = kExitError;
    if (opts.json) all.push_back(report_json(r));
    else emit_report(r, opts);
  }
  if (opts.json) std::cout << json_text(all.size() == 1 ? all[0] : all) << "\n";
  return code;
}

/// Phase timings on stderr when CONVERGE_TIMING is set (for profiling the fast path).
class PhaseTimer {
 public:
  PhaseTimer() : on_(std::getenv("CONVERGE_TIMING") != nullptr), last_(SteadyClock::now()) {}
  void mark(const char* phase) {
    if (!on_) return;
    auto now = SteadyClock::now();
    std::fprintf(stderr, "timing: %-10s %8.2f ms\n", phase,
                 std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  bool on_;
  SteadyClock::time_point last_;
};

namespace {

/// The planned run's options from the command line's.
PlannedRunOptions planned_options(const GlobalOptions& opts, bool resumed) {
  PlannedRunOptions po;
  po.parallel = opts.parallel;
  po.lab_speed = opts.lab_speed;
  po.reboot_timeout = std::chrono::milliseconds(opts.reboot_timeout_ms);
  po.retries = opts.retries;
  po.retry_backoff = std::chrono::milliseconds(opts.retry_backoff_ms);
  po.graph_file = opts.graph_file;
  if (opts.progress && !opts.quiet && !opts.json)
    po.progress = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  po.resumed = resumed;
  po.stop = [] { return interrupted_by() != 0; };
  po.dump_problem = std::getenv("CONVERGE_DUMP_PROBLEM") != nullptr;
  if (const char* k = std::getenv("CONVERGE_TEST_KILL_AT_STEP")) po.kill_at_step = std::atoi(k);
  return po;
}

/// The stage of each resource in an apply. Stage 0 holds the built-in resources that need
/// nothing data-defined; plan k (k >= 1) holds the data-defined resources that need a
/// built-in one of stage k - 1 (or a data-defined one of plan k), and built-in stage k those
/// that need plan k: an apply runs built-in stage 0, plan 1, built-in stage 1, plan 2, ...
/// so that depends_on holds across kinds in both directions, at any depth.
std::vector<int> stages(const Manifest& m, const std::vector<char>& planned) {
  const Graph g = build_graph(m.resources);
  std::vector<int> stage(m.resources.size(), 0);
  for (int i : topo_order(g)) {
    int k = planned[i] ? 1 : 0;
    for (int d : g.deps[i]) k = std::max(k, planned[i] && !planned[d] ? stage[d] + 1 : stage[d]);
    stage[i] = k;
  }
  return stage;
}

/// For each resource that needs (at any depth) one outside `planned` (this plan) that
/// failed, was skipped or is still pending, the id of that failure's root; "" for the
/// others. Resources left out of the run
/// (--limit/--tags) neither block nor are blocked.
std::vector<std::string> failure_roots(const Manifest& m, const std::vector<char>& planned,
                                       const std::vector<ResourceResult>& results) {
  const Graph g = build_graph(m.resources);
  std::vector<std::string> root(m.resources.size());
  for (int i : topo_order(g)) {
    if (m.resources[i].excluded) continue;
    for (int d : g.deps[i]) {
      if (!root[d].empty()) root[i] = root[d];
      else if (!planned[d] && results[d].outcome == Outcome::failed) root[i] = m.resources[d].id();
      else if (!planned[d] && results[d].outcome == Outcome::skipped) root[i] = results[d].blocked_by;
      // An earlier plan's resource it did not converge (no plan, a halt) blocks as a failure.
      else if (!planned[d] && results[d].outcome == Outcome::pending) root[i] = m.resources[d].id();
      if (!root[i].empty()) break;
    }
  }
  return root;
}

/// Applies the built-in resources `which` selects, on a copy in which those of `later`
/// stages are left out (never touched now, even when what they need changes), and every
/// other one reads as in sync, but for one that failed or was skipped, or is still pending
/// (a data-defined one its plan did not converge): those skip their dependents. Results are
/// copied back for `which` only.
Status apply_builtin(RunSession& s, std::vector<ResourceResult>& results, const std::vector<char>& which,
                     const std::vector<char>& later, const ExecOptions& eo) {
  std::vector<ResourceResult> copy = results;
  const Manifest& m = s.manifest();
  for (std::size_t i = 0; i < copy.size(); ++i) {
    if (which[i]) continue;
    // A later stage's: never touched now, though what it needs changes in this one.
    if (later[i]) copy[i].outcome = Outcome::excluded;
    if (copy[i].outcome == Outcome::failed || copy[i].outcome == Outcome::skipped) continue;
    if (copy[i].outcome == Outcome::pending) {
      copy[i].outcome = Outcome::skipped;
      copy[i].blocked_by = m.resources[i].id();
    } else if (copy[i].outcome != Outcome::excluded) {
      copy[i].outcome = Outcome::in_sync;
    }
  }
  Status st = s.apply_waves(copy, eo);
  for (std::size_t i = 0; i < copy.size(); ++i)
    if (which[i]) results[i] = copy[i];
  return st;
}

/// Marks what is still pending among `which` skipped, saying why.
void skip_pending(std::vector<ResourceResult>& results, const std::vector<char>& which, const std::string& why) {
  for (std::size_t i = 0; i < results.size(); ++i)
    if (which[i] && results[i].outcome == Outcome::pending) {
      results[i].outcome = Outcome::skipped;
      results[i].blocked_by = why;
    }
}

/// Runs the plan of the data-defined resources; it judges only them (the built-in ones
/// read as in sync to it). A data-defined resource whose built-in prerequisite failed is
/// left out of the plan and skipped, naming the failure.
PlannedOutcome plan_and_run(Command command, RunSession& s, std::vector<ResourceResult>& results,
                            const std::vector<char>& planned, const GlobalOptions& opts) {
  const Manifest& m = s.manifest();
  const std::vector<std::string> root = command == Command::apply ? failure_roots(m, planned, results)
                                                                  : std::vector<std::string>(results.size());
  std::vector<int> blocked;
  for (std::size_t i = 0; i < results.size(); ++i)
    if (planned[i] && !root[i].empty()) blocked.push_back(static_cast<int>(i));
  if (!blocked.empty()) s.leave_out(blocked);
  std::vector<ResourceResult> seen = results;
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (!planned[i] && seen[i].outcome != Outcome::excluded) seen[i].outcome = Outcome::in_sync;
  const BeginRun begin = [&s]() { return s.begin(); };
  // plan reads the journal too (the maintenance's priors) and writes nothing to it.
  PlannedOutcome po = run_planned(command, m, s.types(), s.transports(), &s.journal(), begin, seen,
                                  planned_options(opts, !s.interrupted().empty()));
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (planned[i]) results[i] = std::move(seen[i]);
  for (int i : blocked) {
    results[i].outcome = Outcome::skipped;
    results[i].blocked_by = root[i];
  }
  if (!blocked.empty() && exit_code(po.status) == kExitOk) po.status = RunStatus::failed;
  return po;
}

/// Folds a later plan's outcome into the run's: the first failure's status stands, unless
/// the later plan stopped the run (`stops`: awaiting a reboot, halted, interrupted); changes
/// and failures add up; a later plan's JSON goes under "plans".
void merge_outcome(PlannedOutcome& into, PlannedOutcome&& po, bool stops) {
  if (exit_code(into.status) == kExitOk || stops) into.status = po.status;
  into.changes += po.changes;
  into.failed += po.failed;
  if (!into.run_id) into.run_id = po.run_id;
  into.diagnostics.insert(into.diagnostics.end(), po.diagnostics.begin(), po.diagnostics.end());
  into.notes.insert(into.notes.end(), po.notes.begin(), po.notes.end());
  for (auto& [k, v] : po.extra.items()) {
    if (k != "plan" || !into.extra.contains("plan")) {
      into.extra[k] = v;
      continue;
    }
    if (!into.extra.contains("plans")) into.extra["plans"] = nlohmann::json::array({into.extra["plan"]});
    into.extra["plans"].push_back(v);
  }
}

/// Built-in resources through the executor's journaled waves, data-typed ones through the
/// planned run, in stages (stages()): apply runs them in turn, each built-in stage and plan
/// after a change observing its resources afresh; plan and check plan every data-typed
/// resource at once. Sets the report's status and returns the run's changes and failures.
std::pair<int, int> run_resources(Command command, RunSession& s, std::vector<ResourceResult>& results, ExecOptions eo,
                                  Report& report, const GlobalOptions& opts) {
  const Manifest& m = s.manifest();
  const std::vector<char> planned = planned_resources(m, s.types());
  std::vector<int> stage = command == Command::apply ? stages(m, planned) : std::vector<int>(planned.size(), 0);
  if (command != Command::apply)
    for (std::size_t i = 0; i < planned.size(); ++i) stage[i] = planned[i] ? 1 : 0;
  const int last = stage.empty() ? 0 : *std::max_element(stage.begin(), stage.end());
  auto pending_in = [&](const std::vector<char>& which) {
    for (std::size_t i = 0; i < results.size(); ++i)
      if (which[i] && results[i].outcome == Outcome::pending) return true;
    return false;
  };
  auto failed_now = [&](const Status& st, int changes) -> std::pair<int, int> {
    report.diagnostics.push_back(st.error());
    report.status = RunStatus::failed;
    return {changes, std::max(1, tally(results).failed)};
  };
  // Refreshes the pending changes will owe are journaled before the first of them.
  if (command == Command::apply)
    if (Status st = s.owe_refreshes(results); !st) return failed_now(st, 0);
  std::optional<PlannedOutcome> po;
  int changed_at = -1;  // the last stage that changed something (what later stages read may differ)
  auto changes_so_far = [&] { return std::max(tally(results).changed, po ? po->changes : 0); };
  bool stopped = false;
  int k = 0;
  for (; k <= last && !stopped; ++k) {
    std::vector<char> data(planned.size()), builtin(planned.size());
    for (std::size_t i = 0; i < planned.size(); ++i) {
      data[i] = planned[i] && stage[i] == k;
      builtin[i] = !planned[i] && stage[i] == k;
    }
    const bool any_data = std::find(data.begin(), data.end(), 1) != data.end();
    const bool any_builtin = std::find(builtin.begin(), builtin.end(), 1) != builtin.end();
    // What an earlier stage changed may change what these read: observed afresh.
    auto observe_again = [&](const std::vector<char>& which) -> Status {
      if (changed_at < 0) return {};
      std::vector<ResourceResult> fresh = observe_all(m, s.types(), s.transports(), eo);
      for (std::size_t i = 0; i < results.size(); ++i)
        if (which[i] && results[i].outcome != Outcome::excluded) results[i] = fresh[i];
      // What is pending now and was not before owes its subscribers a refresh too.
      return s.owe_refreshes(results);
    };
    if (k > 0 && any_data) {
      if (command == Command::apply)
        if (Status st = observe_again(data); !st) return failed_now(st, changes_so_far());
      // The other plans' resources are observed for the constraints, and given no goal.
      std::vector<int> others;
      for (std::size_t i = 0; i < planned.size(); ++i)
        if (planned[i] && !data[i] && !m.resources[i].excluded) others.push_back(static_cast<int>(i));
      s.exclude(others, true);
      const int before = changes_so_far();
      PlannedOutcome now = plan_and_run(command, s, results, data, opts);
      s.exclude(others, false);
      // This plan's own ending decides whether the run goes on (an earlier plan's failure
      // does not hide a later one's reboot or halt).
      stopped = interrupted_by() != 0 || now.status == RunStatus::interrupted || now.status == RunStatus::awaiting_reboot ||
                now.status == RunStatus::halted;
      if (po) merge_outcome(*po, std::move(now), stopped);
      else po = std::move(now);
      if (changes_so_far() > before) changed_at = k;
      if (stopped) break;
    }
    if (command != Command::apply || !any_builtin) continue;
    if (k > 0)
      if (Status st = observe_again(builtin); !st) return failed_now(st, changes_so_far());
    if (!pending_in(builtin)) continue;
    const int before = changes_so_far();
    std::vector<char> later(planned.size());
    for (std::size_t i = 0; i < planned.size(); ++i) later[i] = stage[i] > k;
    if (Status st = apply_builtin(s, results, builtin, later, eo); !st) return failed_now(st, changes_so_far());
    if (changes_so_far() > before) changed_at = k;
    if ((stopped = interrupted_by() != 0)) break;
  }
  if (stopped) {
    // What later stages would have done is skipped, saying why.
    std::vector<char> later(planned.size());
    for (std::size_t i = 0; i < planned.size(); ++i) later[i] = stage[i] > k || (stage[i] == k && !planned[i]);
    const RunStatus why = po && exit_code(po->status) != kExitOk ? po->status : RunStatus::interrupted;
    skip_pending(results, later, "(run " + std::string(status_word(why)) + " before it)");
  }
  if (po) {
    report.diagnostics.insert(report.diagnostics.end(), po->diagnostics.begin(), po->diagnostics.end());
    // The plan (its first note when there is one) goes before the resources and the
    // summary line; an apply with progress lines printed it already, before its first step.
    auto rest = po->notes.begin() + (po->extra.contains("plan") && !po->notes.empty() ? 1 : 0);
    if (!(command == Command::apply && opts.progress && !opts.quiet && !opts.json))
      report.preamble.insert(report.preamble.end(), po->notes.begin(), rest);
    report.notes.insert(report.notes.end(), rest, po->notes.end());
    for (auto& [k, v] : po->extra.items()) report.extra[k] = v;
  }
  // Refreshes (apply: done after every change; plan and check: shown as owed).
  Status refreshed = command != Command::apply ? s.mark_refreshes(results)
                     : stopped                 ? Status{}
                                               : s.refresh(results, [] { return interrupted_by() != 0; });
  if (!refreshed) report.diagnostics.push_back(refreshed.error());
  Tally t = tally(results);
  report.status = final_status(command, t, po ? &*po : nullptr);
  if (!refreshed) report.status = RunStatus::failed;
  const bool owes = std::any_of(results.begin(), results.end(), [](const ResourceResult& r) { return !r.refresh_by.empty(); });
  if (owes && report.status == RunStatus::in_sync)
    report.status = command == Command::check ? RunStatus::drift
                    : command == Command::plan ? RunStatus::changes_pending
                                               : RunStatus::converged;  // an owed refresh done is a change
  return {std::max(t.changed, po ? po->changes : 0) + (command == Command::apply && owes && t.changed == 0 ? 1 : 0),
          std::max(t.failed, po ? po->failed : 0)};
}

}  // namespace

int cmd_converge(const std::string& command_name, const std::string& manifest_path, const GlobalOptions& opts) {
  const auto start = SteadyClock::now();
  PhaseTimer timer;
  const Command command = command_name == "plan" ? Command::plan : command_name == "check" ? Command::check : Command::apply;
  Report report;
  report.command = command_name;
  report.manifest_path = manifest_path;
  report.diff = opts.diff;
  auto finish = [&]() {
    report.duration_ms = ms_since(start);
    return emit(report, opts);
  };
  const std::string state_dir = opts.state_dir.empty() ? default_state_dir(manifest_path) : opts.state_dir;
  auto session =
      RunSession::open(manifest_path, {command, state_dir, !opts.no_cache, opts.lab_speed, opts.selection, state_url(opts)});
  if (!session) {
    report.status = session.error().status;
    report.diagnostics = std::move(session.error().diagnostics);
    return finish();
  }
  RunSession& s = **session;
  report.manifest = &s.manifest();
  report.manifest_name = s.manifest().name;
  report.manifest_sha256 = s.manifest().version_sha256();
  if (const SelectionSummary& sel = s.selection(); !opts.selection.empty()) {
    std::string where;
    for (const auto& n : sel.nodes_left_out) where += (where.empty() ? "" : ", ") + n;
    report.notes.push_back(fmt::format("note: {}: {} of {} resources left out{}; the planner still checks every constraint over every node",
                                       opts.selection.describe(), sel.left_out, sel.left_out + sel.in_scope,
                                       where.empty() ? "" : " (on " + where + ")"));
  }
  timer.mark("load");
  ExecOptions eo{opts.parallel, progress_printer(s.manifest(), opts), start_printer(s.manifest(), opts), nullptr, nullptr,
                 [] { return interrupted_by() != 0; }};
  auto observed = s.observe(eo);
  if (!observed) {
    report.status = RunStatus::failed;
    report.diagnostics.push_back(observed.error());
    return finish();
  }
  std::vector<ResourceResult>& results = *observed;
  for (const auto& r : s.interrupted())
    report.notes.push_back("note: run #" + std::to_string(r.id) + " (" + r.command + ", started " + r.started_at +
                           ") was interrupted; this run observes afresh and finishes the job");
  if (command == Command::apply)
    if (int removed = s.recover_interrupted(); removed > 0)
      report.notes.push_back("note: removed " + std::to_string(removed) + " temporary file(s) the interrupted run left");
  report.results = &results;
  timer.mark("observe");
  auto [changes, failed] = run_resources(command, s, results, eo, report, opts);
  if (int sig = interrupted_by(); sig != 0 && report.status != RunStatus::interrupted) {
    report.status = RunStatus::interrupted;
    report.notes.push_back(std::string("interrupted by ") + (::sigabbrev_np(sig) ? "SIG" + std::string(::sigabbrev_np(sig)) : "a signal") +
                           ": no further step started; a rerun observes afresh and finishes the job");
  }
  timer.mark("run");
  if (auto recorded = s.record(report.status, changes, failed, results); !recorded) {
    report.diagnostics.push_back(recorded.error());
    report.status = RunStatus::failed;
  }
  report.run_id = s.run_id();
  timer.mark("record");
  if (std::string summary = s.summary(); !summary.empty()) report.notes.push_back(summary);
  const int code = finish();
  timer.mark("report");
  return code;
}

}  // namespace converge
