#include "engine/run/session.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "engine/model/datatype_parse.h"
#include "engine/model/graph.h"
#include "engine/model/loader.h"
#include "engine/model/model_cache.h"
#include "engine/run/refresh.h"
#include "engine/run/run_journal.h"
#include "engine/state/journal_pg.h"
#include "resources/inventory_command.h"
#include "resources/transports.h"

namespace converge {

namespace {

/// Creates the state directory private to the user (0700).
Status prepare_state_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::unexpected(make_error(ErrorCode::io, "cannot create state directory " + dir + ": " + ec.message()));
  if (::chmod(dir.c_str(), 0700) != 0)
    return std::unexpected(make_error(ErrorCode::io, "cannot make state directory " + dir + " private"));
  if (::access(dir.c_str(), W_OK) != 0)
    return std::unexpected(make_error(ErrorCode::io, "state directory " + dir + " is not writable"));
  return {};
}

SessionFailure failure(RunStatus status, Error e) { return {status, Diagnostics{std::move(e)}}; }

using Opened = Result<std::pair<std::unique_ptr<Journal>, std::vector<RunRow>>>;

/// Every node and cluster of the manifest: the scope of its priors in a shared journal.
std::set<std::string> node_scope(const Manifest& m) {
  std::set<std::string> out;
  for (const auto& n : m.nodes) out.insert(n.name);
  for (const auto& [c, members] : m.clusters) out.insert(c);
  return out;
}

}  // namespace

std::vector<std::string> estate_lock_names(const Manifest& m) {
  std::vector<std::string> out;
  if (!m.estate.empty()) out.push_back("estate:" + m.estate);
  // A local node is this machine, whatever it is called: every machine has a `localhost`.
  const std::string here = "@" + host_name();
  for (const auto& n : m.nodes)
    if (!m.limit || m.limit->count(n.name)) out.push_back("node:" + n.name + (n.transport.kind == "local" ? here : ""));
  // A cluster with any member in scope: two runs limited to two members of one cluster
  // must not both disrupt it.
  for (const auto& [c, members] : m.clusters) {
    bool touched = !m.limit || m.limit->count(c);
    for (const auto& n : members) touched = touched || m.limit->count(n);
    if (touched) out.push_back("cluster:" + c);
  }
  return out;
}

RunStatus final_status(Command command, const Tally& t, const PlannedOutcome* planned) {
  // The planned run's verdict stands unless it is a success the built-in resources deny:
  // one of them failed or was skipped, or (plan, check) still has changes pending.
  if (planned && exit_code(planned->status) != kExitOk) return planned->status;
  if (t.failed || t.skipped) return RunStatus::failed;
  if (t.pending) {
    if (command == Command::check) return RunStatus::drift;
    if (command == Command::plan) return RunStatus::changes_pending;
    return RunStatus::failed;  // apply left a change undone
  }
  const bool changed = t.changed > 0 || (planned && planned->changes > 0);
  return command == Command::apply && changed ? RunStatus::converged : RunStatus::in_sync;
}

RunSession::~RunSession() {
  // A journal still opening on its thread is waited for before the lock is released.
  if (opening_.valid()) opening_.wait();
}

std::expected<std::unique_ptr<RunSession>, SessionFailure> RunSession::open(const std::string& manifest_path,
                                                                            const SessionOptions& opts) {
  std::unique_ptr<RunSession> s(new RunSession());
  s->opts_ = opts;
  // A shared journal named outside the manifest: its connection (a new server process,
  // ~20 ms) is made while the model loads.
  std::future<Result<std::unique_ptr<PgJournal>>> connecting;
  if (!opts.state_url.empty())
    connecting = std::async(std::launch::async, [url = opts.state_url, dir = opts.state_dir] {
      return PgJournal::connect(url, dir);
    });
  s->types_ = builtin_types();
  const std::string cache_file = opts.state_dir + "/model.cache";
  std::optional<Manifest> cached = opts.use_cache ? load_cached_model(cache_file, manifest_path) : std::nullopt;
  // A cached model still needs the types its Types includes define (unchanged, since the
  // cache is keyed on every source); if they no longer load, reload from YAML.
  if (cached && !datatype::register_type_files(cached->type_files, s->types_).empty()) {
    cached.reset();
    s->types_ = builtin_types();
  }
  const bool from_cache = cached.has_value();
  if (!cached) {
    LoadOutcome lo = load_manifest(manifest_path, s->types_, run_inventory_command);
    s->types_ = std::move(lo.types);
    if (!lo.manifest) return std::unexpected(SessionFailure{RunStatus::invalid, std::move(lo.diagnostics)});
    cached = std::move(lo.manifest);
  }
  s->model_ = std::move(cached);
  if (!opts.selection.empty()) {
    auto selected = select(*s->model_, opts.selection);
    if (!selected) return std::unexpected(failure(RunStatus::invalid, selected.error()));
    s->selection_ = *selected;
  }
  const Manifest& m = *s->model_;
  // State directory, lock, journal: all before any host is touched, and after the lab
  // file is known to load when this run would create the lab from it.
  if (Diagnostics lab = check_lab_file(m, opts.state_dir); !lab.empty())
    return std::unexpected(SessionFailure{RunStatus::invalid, std::move(lab)});
  if (auto st = prepare_state_dir(opts.state_dir); !st) return std::unexpected(failure(RunStatus::failed, st.error()));
  if (!from_cache && opts.use_cache) store_cached_model(cache_file, m);
  auto lock = RunLock::acquire(opts.state_dir, command_word(opts.command));
  if (!lock)
    return std::unexpected(
        failure(lock.error().code == ErrorCode::locked ? RunStatus::locked : RunStatus::failed, lock.error()));
  s->lock_.emplace(std::move(*lock));
  const std::string url = !opts.state_url.empty() ? opts.state_url : m.state_url;
  if (url.empty()) {
    // The journal opens (and closes out interrupted runs) on its own thread while the nodes
    // are observed: observation changes nothing, and no change is made before both are done.
    s->opening_ = std::async(std::launch::async, [dir = opts.state_dir]() -> Opened {
      CONVERGE_TRY(auto j, Journal::open(dir));
      CONVERGE_TRY(auto interrupted, j->close_interrupted());
      return std::make_pair(std::move(j), std::move(interrupted));
    });
  } else {
    // A shared journal: reached and locked before anything is observed, so that an
    // unreachable database or another operator's run stops this one before it starts.
    auto pg = connecting.valid() ? connecting.get() : PgJournal::connect(url, opts.state_dir);
    if (!pg) return std::unexpected(failure(RunStatus::failed, pg.error()));
    if (auto st = (*pg)->lock(estate_lock_names(m), command_word(opts.command), opts.command == Command::apply); !st)
      return std::unexpected(
          failure(st.error().code == ErrorCode::locked ? RunStatus::locked : RunStatus::failed, st.error()));
    // A journal shared by runs on other nodes holds their maintenances too.
    (*pg)->set_scope(node_scope(m));
    std::set<std::string> local;
    for (const auto& n : m.nodes)
      if (n.transport.kind == "local") local.insert(n.name);
    (*pg)->set_local_nodes(std::move(local));
    if (auto st = (*pg)->send_unsent(); !st) return std::unexpected(failure(RunStatus::failed, st.error()));
    s->opening_ = std::async(std::launch::async, [j = std::unique_ptr<Journal>(std::move(*pg))]() mutable -> Opened {
      CONVERGE_TRY(auto interrupted, j->close_interrupted());
      return std::make_pair(std::move(j), std::move(interrupted));
    });
  }
  auto transports =
      TransportSet::open(m, TransportOptions{opts.state_dir, opts.lab_speed, opts.command == Command::apply});
  if (!transports) {
    if (auto j = s->opening_.get(); !j) return std::unexpected(failure(RunStatus::failed, j.error()));
    return std::unexpected(failure(RunStatus::failed, transports.error()));
  }
  s->transports_ = std::move(*transports);
  s->lookup_ = [set = s->transports_.get()](const std::string& node) { return set->find(node); };
  return s;
}

Result<std::vector<ResourceResult>> RunSession::observe(const ExecOptions& eo) {
  std::vector<ResourceResult> results;
  {
    // Nothing changes on any node while everything is observed: directories may stay open.
    auto held = transports_->hold_directories();
    results = observe_all(*model_, types_, lookup_, eo);
  }
  auto opened = opening_.get();
  if (!opened) return std::unexpected(opened.error());
  journal_ = std::move(opened->first);
  interrupted_ = std::move(opened->second);
  return results;
}

int RunSession::recover_interrupted() {
  if (interrupted_.empty()) return 0;
  std::map<std::pair<std::string, std::string>, std::vector<const ResourceSpec*>> by_type_node;
  for (const auto& r : model_->resources) by_type_node[{r.type, r.node}].push_back(&r);
  int removed = 0;
  for (const auto& [key, rs] : by_type_node)
    if (Transport* t = lookup_(key.second))
      removed += types_.find(key.first)->provider->recover_interrupted(rs, *t);
  return removed;
}

void RunSession::leave_out(const std::vector<int>& resources) { exclude(resources, true); }

void RunSession::exclude(const std::vector<int>& resources, bool on) {
  for (int i : resources) model_->resources[i].excluded = on;
}

Result<std::int64_t> RunSession::begin() {
  if (run_id_) return run_id_;
  if (!row_) row_ = describe_run(command_word(opts_.command), *model_, *journal_);
  CONVERGE_TRY(run_id_, journal_->begin_run(*row_));
  return run_id_;
}

Status RunSession::apply_waves(std::vector<ResourceResult>& rs, ExecOptions eo) {
  CONVERGE_TRY(std::int64_t id, begin());
  StepRecorder recorder(*journal_, id, *model_, rs, steps_seq_);
  Status failed;  // the first journal write that failed: it halted the run
  auto keep = [&failed](Status st) {
    if (!st && failed) failed = st;
    return st;
  };
  eo.before_wave = [&](const std::vector<int>& wave) { return keep(recorder.started(wave)); };
  eo.after_wave = [&](const std::vector<int>& wave) { return keep(recorder.ended(wave)); };
  converge::apply_waves(*model_, build_graph(model_->resources), types_, lookup_, rs, eo);
  steps_seq_ = recorder.seq();
  return failed;
}

Status RunSession::record(RunStatus status, int changes, int failed, const std::vector<ResourceResult>& results) {
  if (opts_.command == Command::plan) return {};  // plan changes nothing and records nothing
  if (run_id_) return journal_->end_run(run_id_, status, changes, failed);
  // A run that changed nothing: one row, written in one transaction.
  if (!row_) row_ = describe_run(command_word(opts_.command), *model_, *journal_);
  RunRow row = *row_;
  row.status = status;
  row.failed = failed;
  CONVERGE_TRY(run_id_, journal_->record_run(row));
  if (opts_.command == Command::check) return journal_->record_drift(run_id_, drift_rows(*model_, results));
  return {};
}

Result<std::set<std::string>> RunSession::owed_refreshes() {
  if (!owed_) {
    CONVERGE_TRY(auto meta, journal_->all_meta());
    owed_ = converge::owed_refreshes(meta);
  }
  return *owed_;
}

Status RunSession::owe_refreshes(const std::vector<ResourceResult>& rs) {
  std::vector<char> changing(rs.size());
  for (std::size_t i = 0; i < rs.size(); ++i) changing[i] = rs[i].outcome == Outcome::pending;
  const std::vector<char> owes = refresh_closure(*model_, changing);
  CONVERGE_TRY(const auto owed, owed_refreshes());
  for (std::size_t i = 0; i < owes.size(); ++i) {
    const ResourceSpec& r = model_->resources[i];
    if (!owes[i] || r.excluded || owed.contains(r.id())) continue;
    CONVERGE_TRY(std::int64_t id, begin());
    CONVERGE_CHECK(journal_->set_meta(refresh_key(r.id()), "run " + std::to_string(id)));
    owed_->insert(r.id());
    owed_now_.insert(r.id());
  }
  return {};
}

namespace {
const char* const kEarlierRun = "an earlier run";
}

Status RunSession::mark_refreshes(std::vector<ResourceResult>& rs) {
  CONVERGE_TRY(const auto owed, owed_refreshes());
  const auto subs = subscriptions(*model_);
  for (int i : topo_order(build_graph(model_->resources))) {
    const ResourceSpec& r = model_->resources[i];
    if (r.excluded) continue;
    if (owed.contains(r.id())) rs[i].refresh_by = kEarlierRun;
    if (opts_.command != Command::plan) continue;  // check reports what is owed; plan what an apply would do
    for (int s : subs[i])
      if (rs[i].refresh_by.empty() && (rs[s].outcome == Outcome::pending || !rs[s].refresh_by.empty()))
        rs[i].refresh_by = model_->resources[s].id();
  }
  return {};
}

Status RunSession::refresh(std::vector<ResourceResult>& rs, const std::function<bool()>& stop) {
  CONVERGE_TRY(const auto owed, owed_refreshes());
  const auto subs = subscriptions(*model_);
  bool any = !owed.empty();
  for (const auto& s : subs) any = any || !s.empty();
  if (!any) return {};
  std::vector<char> passed(rs.size(), 0);  // refreshed, or a change: passes on to subscribers
  for (std::size_t i = 0; i < rs.size(); ++i) passed[i] = rs[i].outcome == Outcome::changed;
  for (int i : topo_order(build_graph(model_->resources))) {
    const ResourceSpec& r = model_->resources[i];
    ResourceResult& res = rs[i];
    // Owed by an earlier run: done now. Recorded by this one: done when a source changed
    // (a source that failed without changing leaves it to a later run, as recorded).
    std::string by = owed.contains(r.id()) && !owed_now_.contains(r.id()) ? kEarlierRun : "";
    for (int s : subs[i])
      if (passed[s]) {
        by = model_->resources[s].id();
        break;
      }
    if (by.empty()) continue;
    // Failed, skipped, left out, or still pending: the refresh stays owed.
    if (res.outcome != Outcome::in_sync && res.outcome != Outcome::changed) continue;
    if (stop && stop()) break;
    const Provider& p = *types_.find(r.type)->provider;
    if (p.refreshable(r)) {
      Transport* t = lookup_(r.node);
      if (!t) continue;
      CONVERGE_TRY(std::int64_t run, begin());
      std::vector<StepRow> step(1);
      step[0].run_id = run;
      step[0].seq = ++steps_seq_;
      step[0].resource = r.id();
      step[0].action = "refresh";
      step[0].reason = "subscribes to " + by;
      CONVERGE_CHECK(journal_->steps_started(step));
      Status done = p.refresh(r, res.outcome == Outcome::changed, *t);
      // What a command said may hold a sensitive value of the manifest: scrubbed.
      const std::string why = done ? "" : Secrets(*model_).scrub(done.error().describe());
      step[0].outcome = done ? "changed" : "failed";
      step[0].error = why;
      CONVERGE_CHECK(journal_->steps_ended(step));
      if (!done) {
        res.outcome = Outcome::failed;
        res.error = "refresh (subscribes to " + by + "): " + why;
        continue;
      }
      res.refresh_by = by;
    }
    passed[i] = 1;
    if (owed.contains(r.id())) {
      CONVERGE_CHECK(journal_->set_meta(refresh_key(r.id()), ""));
      owed_->erase(r.id());
      owed_now_.erase(r.id());
    }
  }
  return {};
}

std::string RunSession::summary() const { return transports_->summary(); }

}  // namespace converge
