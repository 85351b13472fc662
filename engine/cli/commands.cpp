#include "engine/cli/commands.h"

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

#include "engine/model/graph.h"
#include "engine/state/journal.h"
#include "engine/state/lock.h"
#include "engine/model/loader.h"
#include "engine/model/model_cache.h"
#include "engine/run/orchestrate.h"
#include "engine/cli/report.h"
#include "engine/state/run_journal.h"
#include "engine/model/datatype_parse.h"
#include "resources/transports.h"

namespace converge {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

void emit(const Report& r, const GlobalOptions& opts) {
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
  (r.exit_code != kExitOk && !r.results ? std::cerr : std::cout) << text;
}

}  // namespace

std::string default_state_dir(const std::string& manifest_path) {
  std::error_code ec;
  fs::path abs = fs::absolute(manifest_path, ec);
  return (abs.parent_path() / ".converge").string();
}

namespace {

/// Creates the state directory private to the user (0700).
Status prepare_state_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return std::unexpected(make_error(ErrorCode::io, "cannot create state directory " + dir + ": " + ec.message()));
  if (::chmod(dir.c_str(), 0700) != 0)
    return std::unexpected(make_error(ErrorCode::io, "cannot make state directory " + dir + " private"));
  if (::access(dir.c_str(), W_OK) != 0)
    return std::unexpected(make_error(ErrorCode::io, "state directory " + dir + " is not writable"));
  return {};
}

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

int cmd_validate(const std::vector<std::string>& files, const GlobalOptions& opts) {
  TypeRegistry types = builtin_types();
  int code = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& f : files) {
    auto start = Clock::now();
    LoadOutcome lo = load_manifest(f, types);
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
    r.status = lo.manifest ? "valid" : "invalid";
    r.exit_code = lo.manifest ? kExitOk : kExitError;
    r.duration_ms = ms_since(start);
    if (lo.manifest) {
      r.manifest_name = lo.manifest->name;
      r.notes.push_back(f + ": valid (" + std::to_string(lo.manifest->resources.size()) + " resources on " +
                        std::to_string(lo.manifest->nodes.size()) + " nodes, " +
                        std::to_string(lo.manifest->constraints.size()) + " constraints)");
    }
    if (!lo.manifest) code = kExitError;
    if (opts.json) all.push_back(report_json(r));
    else emit(r, opts);
  }
  if (opts.json) std::cout << json_text(all.size() == 1 ? all[0] : all) << "\n";
  return code;
}

/// Phase timings on stderr when CONVERGE_TIMING is set (for profiling the fast path).
class PhaseTimer {
 public:
  PhaseTimer() : on_(std::getenv("CONVERGE_TIMING") != nullptr), last_(Clock::now()) {}
  void mark(const char* phase) {
    if (!on_) return;
    auto now = Clock::now();
    std::fprintf(stderr, "timing: %-10s %8.2f ms\n", phase,
                 std::chrono::duration<double, std::milli>(now - last_).count());
    last_ = now;
  }

 private:
  bool on_;
  Clock::time_point last_;
};

int cmd_converge(const std::string& command, const std::string& manifest_path, const GlobalOptions& opts) {
  auto start = Clock::now();
  PhaseTimer timer;
  TypeRegistry types = builtin_types();
  Report report;
  report.command = command;
  report.manifest_path = manifest_path;
  auto fail = [&](Error e, const char* status, int code) {
    report.results = nullptr;
    report.diagnostics.push_back(std::move(e));
    report.status = status;
    report.exit_code = code;
    report.duration_ms = ms_since(start);
    emit(report, opts);
    return code;
  };
  // The manifest, or the lab file it names, does not load: its diagnostics, exit 1.
  auto invalid = [&](Diagnostics diagnostics) {
    report.manifest = nullptr;
    report.results = nullptr;
    report.diagnostics = std::move(diagnostics);
    report.status = "invalid";
    report.exit_code = kExitError;
    report.duration_ms = ms_since(start);
    emit(report, opts);
    return kExitError;
  };

  // The model: from the cache when no source changed, else parsed and validated.
  std::string state_dir = opts.state_dir.empty() ? default_state_dir(manifest_path) : opts.state_dir;
  std::string cache_file = state_dir + "/model.cache";
  std::optional<Manifest> cached = opts.no_cache ? std::nullopt : load_cached_model(cache_file, manifest_path);
  // A cached model still needs the types its Types includes define (unchanged, since the
  // cache is keyed on every source); if they no longer load, reload from YAML.
  if (cached && !datatype::register_type_files(cached->type_files, types).empty()) {
    cached.reset();
    types = builtin_types();
  }
  bool from_cache = cached.has_value();
  if (!cached) {
    LoadOutcome lo = load_manifest(manifest_path, types);
    types = std::move(lo.types);
    if (!lo.manifest) return invalid(std::move(lo.diagnostics));
    cached = std::move(lo.manifest);
  }
  const Manifest& m = *cached;
  report.manifest = &m;
  report.manifest_name = m.name;
  report.manifest_sha256 = m.version_sha256();
  timer.mark("load");

  // State directory, lock, journal: all before any host is touched, and after the lab
  // file is known to load when this run would create the lab from it.
  if (Diagnostics lab = check_lab_file(m, state_dir); !lab.empty()) return invalid(std::move(lab));
  if (auto s = prepare_state_dir(state_dir); !s) return fail(s.error(), "failed", kExitError);
  if (!from_cache && !opts.no_cache) store_cached_model(cache_file, m);
  auto lock = RunLock::acquire(state_dir, command);
  if (!lock) return fail(lock.error(), lock.error().code == ErrorCode::locked ? "locked" : "failed",
                         lock.error().code == ErrorCode::locked ? kExitLocked : kExitError);
  // The journal opens (and closes out interrupted runs) on its own thread while the nodes
  // are observed: observation changes nothing, and no change is made before both are done.
  struct Opened {
    std::unique_ptr<Journal> journal;
    std::vector<RunRow> interrupted;
  };
  auto opening = std::async(std::launch::async, [&state_dir]() -> Result<Opened> {
    CONVERGE_TRY(auto j, Journal::open(state_dir));
    CONVERGE_TRY(auto interrupted, j->close_interrupted());
    return Opened{std::move(j), std::move(interrupted)};
  });
  auto transports = TransportSet::open(m, TransportOptions{state_dir, opts.lab_speed, command == "apply"});
  if (!transports) {
    if (auto j = opening.get(); !j) return fail(j.error(), "failed", kExitError);
    return fail(transports.error(), "failed", kExitError);
  }
  TransportLookup lookup = [&](const std::string& node) { return (*transports)->find(node); };

  ExecOptions eo{opts.parallel, progress_printer(m, opts), start_printer(m, opts), nullptr, nullptr};
  std::vector<ResourceResult> results;
  {
    // Nothing changes on any node while everything is observed: directories may stay open.
    auto held = (*transports)->hold_directories();
    results = observe_all(m, types, lookup, eo);
  }
  auto opened = opening.get();
  if (!opened) return fail(opened.error(), "failed", kExitError);
  std::unique_ptr<Journal> journal = std::move(opened->journal);
  const std::vector<RunRow>& interrupted = opened->interrupted;
  for (const auto& r : interrupted)
    report.notes.push_back("note: run #" + std::to_string(r.id) + " (" + r.command + ", started " + r.started_at +
                           ") was interrupted; this run observes afresh and finishes the job");
  // An interrupted run may have died between its writes and their renames: its
  // temporaries sit beside the files it was writing. Only then are those directories read.
  if (!interrupted.empty() && command == "apply") {
    int swept = 0;
    std::set<std::pair<std::string, std::string>> dirs;
    for (const auto& r : m.resources)
      if (r.type == "file")
        if (std::string p = r.prop_string("path"); p.size() > 1)
          dirs.emplace(r.node, p.substr(0, std::max<std::size_t>(1, p.find_last_of('/'))));
    for (const auto& [node, dir] : dirs)
      if (Transport* t = lookup(node); t && t->files()) swept += t->files()->sweep_temps(dir);
    if (swept > 0)
      report.notes.push_back("note: removed " + std::to_string(swept) + " temporary file(s) the interrupted run left");
  }
  report.results = &results;
  timer.mark("observe");
  // plan records nothing, so it neither reads git nor touches the journal's git cache.
  RunRow run = command == "plan" ? RunRow{} : describe_run(command, m, *journal);
  timer.mark("git");
  // The run's row, written once, before the first change (write-ahead).
  std::function<Result<std::int64_t>()> begin = [&]() -> Result<std::int64_t> {
    if (report.run_id) return report.run_id;
    auto id = journal->begin_run(run);
    if (id) report.run_id = *id;
    return id;
  };
  // Converges the pending resources of `rs` through the executor, each wave's steps
  // journaled before it acts; an error when the run's row could not be written.
  auto converge_journaled = [&](std::vector<ResourceResult>& rs) -> Status {
    CONVERGE_TRY(std::int64_t id, begin());
    StepRecorder recorder(*journal, id, m, rs);
    eo.before_wave = [&](const std::vector<int>& wave) { return recorder.started(wave); };
    eo.after_wave = [&](const std::vector<int>& wave) { return recorder.ended(wave); };
    apply_waves(m, build_graph(m.resources), types, lookup, rs, eo);
    eo.before_wave = eo.after_wave = nullptr;  // the recorder ends here
    return {};
  };
  Tally t;
  const std::vector<char> planned = planned_resources(m, types);
  if (std::find(planned.begin(), planned.end(), 1) != planned.end()) {
    // Resources of built-in types go first, through the executor (they carry no action
    // metadata); then the planned run takes the data-typed ones.
    if (command == "apply") {
      std::vector<ResourceResult> builtin = results;
      bool any = false;
      for (std::size_t i = 0; i < builtin.size(); ++i) {
        if (planned[i]) builtin[i].outcome = Outcome::in_sync;
        any = any || (!planned[i] && builtin[i].outcome == Outcome::pending);
      }
      if (any) {
        if (auto s = converge_journaled(builtin); !s) return fail(s.error(), "failed", kExitError);
        for (std::size_t i = 0; i < builtin.size(); ++i)
          if (!planned[i]) results[i] = builtin[i];
      }
    }
    PlannedOutcome po =
        run_planned(command, m, types, **transports, journal.get(), begin, results, report, opts, !interrupted.empty());
    t = tally(results);
    report.status = po.status;
    report.exit_code = po.exit_code;
    if (po.exit_code == kExitOk && (t.failed || t.skipped)) {
      report.status = "failed";
      report.exit_code = kExitError;
    }
    // Built-in resources count too: a plan with only their changes pending is pending, an
    // apply that changed only them converged.
    if (po.exit_code == kExitOk && t.pending) {
      report.status = command == "check" ? "drift" : command == "plan" ? "changes_pending" : "failed";
      report.exit_code = command == "apply" ? kExitError : kExitPending;
    } else if (po.status == "in_sync" && command == "apply" && t.changed) {
      report.status = "converged";
    }
    t.changed = std::max(t.changed, po.changes);
    t.failed = std::max(t.failed, po.failed);
    timer.mark("planned");
  } else {
    if (command == "apply" && tally(results).pending > 0)
      if (auto s = converge_journaled(results); !s) return fail(s.error(), "failed", kExitError);
    t = tally(results);
    if (t.failed || t.skipped) {
      report.status = "failed";
      report.exit_code = kExitError;
    } else if (t.pending) {
      report.status = command == "check" ? "drift" : "changes_pending";
      report.exit_code = kExitPending;
    } else {
      report.status = command == "apply" && t.changed ? "converged" : "in_sync";
      report.exit_code = kExitOk;
    }
  }
  // Record the run's end. plan changes nothing and records nothing.
  if (command != "plan") {
    Status recorded;
    if (report.run_id) {
      recorded = journal->end_run(report.run_id, report.status, report.exit_code, t.changed, t.failed);
    } else {
      run.status = report.status;
      run.exit_code = report.exit_code;
      run.failed = t.failed;
      auto id = journal->record_run(run);
      if (id) {
        report.run_id = *id;
        if (command == "check") recorded = journal->record_drift(*id, drift_rows(m, results));
      } else {
        recorded = std::unexpected(id.error());
      }
    }
    if (!recorded) {
      report.diagnostics.push_back(recorded.error());
      report.exit_code = kExitError;
      report.status = "failed";
    }
  }
  timer.mark("record");
  if (std::string s = (*transports)->summary(); !s.empty()) report.notes.push_back(s);
  report.duration_ms = ms_since(start);
  emit(report, opts);
  timer.mark("report");
  return report.exit_code;
}

}  // namespace converge
