#include "engine/run/executor.h"

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "engine/model/datatype.h"
#include "resources/datatype_provider.h"

namespace converge {

const char* outcome_word(Outcome o) {
  switch (o) {
    case Outcome::in_sync: return "in_sync";
    case Outcome::pending: return "pending";
    case Outcome::changed: return "changed";
    case Outcome::failed: return "failed";
    case Outcome::skipped: return "skipped";
    case Outcome::excluded: return "excluded";
  }
  return "?";
}

void parallel_for(int n, int workers, const std::function<void(int)>& fn) {
  if (n <= 0) return;
  if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers = std::min(workers, n);
  if (workers == 1) {
    for (int i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<int> next{0};
  auto body = [&] {
    for (int i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::jthread> threads;
  threads.reserve(workers - 1);
  for (int w = 1; w < workers; ++w) threads.emplace_back(body);
  body();
}

namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

/// Observes one resource and diffs it into `r`. Catches provider exceptions. Errors are
/// scrubbed of the manifest's secrets (a provider may quote a sensitive path or user).
void observe_one(const ResourceSpec& spec, const TypeEntry& type, Transport* t, const Secrets& secrets,
                 ResourceResult& r) {
  if (!t) {
    r.before = Observation::unknown("node " + spec.node + " has no transport");
  } else {
    try {
      r.before = type.provider->observe(spec, *t);
    } catch (const std::exception& e) {
      r.before = Observation::unknown(std::string("provider error: ") + e.what());
    }
  }
  if (r.before.state == Observation::State::unknown) {
    r.outcome = Outcome::failed;
    r.before.error = secrets.scrub(std::move(r.before.error));
    r.error = "cannot observe: " + r.before.error;
    return;
  }
  r.changes = diff(spec, type.schema, r.before);
  r.outcome = r.changes.empty() ? Outcome::in_sync : Outcome::pending;
}

/// The deferred commits of one wave, each with the resource that owns it.
class WaveCommits {
 public:
  struct Pending {
    int owner;  ///< index of the resource whose action deferred it
    FileSystem* fs;
    ApplyContext::Commit commit;
  };
  void add(int owner, FileSystem* fs, ApplyContext::Commit commit) {
    std::lock_guard lock(mu_);
    pending_.push_back({owner, fs, std::move(commit)});
  }
  /// REQUIRES: no action of the wave is still running.
  [[nodiscard]] const std::vector<Pending>& pending() const { return pending_; }

 private:
  std::mutex mu_;
  std::vector<Pending> pending_;
};

/// What one resource's action defers: its commits, marked as its own.
class ResourceContext final : public ApplyContext {
 public:
  ResourceContext(WaveCommits& wave, int owner) : wave_(wave), owner_(owner) {}
  void defer(FileSystem* fs, Commit commit) override { wave_.add(owner_, fs, std::move(commit)); }

 private:
  WaveCommits& wave_;
  const int owner_;
};

/// A node whose every lookup is a round trip (resources/remote_files.h) is told first what
/// the built-in resources `idx` will look at, and fetches it all at once, one round trip
/// per node, side by side. Returns the filesystems told: forget() them when done.
/// `content(i)`: whether resource i's content is to be compared (else only its metadata).
std::vector<FileSystem*> prefetch_paths(const Manifest& m, const TypeRegistry& types, const TransportLookup& transports,
                                        const std::vector<int>& idx, int workers,
                                        const std::function<bool(int)>& content = nullptr) {
  std::map<std::string, std::vector<PathQuery>> paths;
  for (int i : idx) {
    const ResourceSpec& spec = m.resources[i];
    const Value* p = spec.prop("path");
    if (!p || !p->is_string() || datatype::data_type(types, spec.type)) continue;
    PathQuery q{p->as_string(), false, std::nullopt};
    if (const Value* c = spec.prop("content"); c && c->is_string() && (!content || content(i))) {
      q.content = true;
      q.desired = std::string_view(c->as_string());
    }
    paths[spec.node].push_back(std::move(q));
  }
  std::vector<std::pair<FileSystem*, const std::vector<PathQuery>*>> work;
  for (const auto& [node, qs] : paths)
    if (Transport* t = transports(node); t && t->files()) work.emplace_back(t->files(), &qs);
  parallel_for(static_cast<int>(work.size()), workers, [&](int k) { work[k].first->prefetch(*work[k].second); });
  std::vector<FileSystem*> told;
  for (const auto& [fs, qs] : work) told.push_back(fs);
  return told;
}

/// Before a wave acts: what its resources whose upstream changed will observe again (their
/// contents too), and what an action reads first (a replaced file's owner), one round trip
/// per node. Returns the filesystems told: forget() them when the wave has acted.
std::vector<FileSystem*> prefetch_wave(const Manifest& m, const Graph& g, const TypeRegistry& types,
                                       const TransportLookup& transports, const std::vector<int>& act,
                                       const std::vector<char>& changed_upstream, const std::vector<ResourceResult>& results,
                                       int workers) {
  std::set<int> stale;
  for (int i : act)
    if (std::any_of(g.deps[i].begin(), g.deps[i].end(), [&](int d) { return changed_upstream[d]; })) stale.insert(i);
  std::vector<int> look;
  for (int i : act)
    if (stale.contains(i) || results[i].before.state == Observation::State::present) look.push_back(i);
  return prefetch_paths(m, types, transports, look, workers, [&](int i) { return stale.contains(i); });
}

/// Group commit: one sync per filesystem, then each deferred commit with the sync's outcome
/// (a failed sync, or a failed action, makes it undo instead). A failed commit fails its
/// resource.
void commit_wave(const WaveCommits& commits, std::vector<ResourceResult>& results, const Secrets& secrets) {
  std::set<FileSystem*> to_sync;
  for (const auto& p : commits.pending()) to_sync.insert(p.fs);
  std::map<FileSystem*, Status> synced;
  for (FileSystem* fs : to_sync) synced[fs] = fs->sync();
  for (const auto& p : commits.pending()) {
    const int i = p.owner;
    Status durable = synced[p.fs];
    if (durable && results[i].outcome == Outcome::failed)
      durable = std::unexpected(make_error(ErrorCode::action_failed, "the action failed"));
    Status s = p.commit(durable);
    if (!s && results[i].outcome != Outcome::failed) {
      results[i].outcome = Outcome::failed;
      results[i].error = secrets.scrub(s.error().describe());
    }
  }
}

/// Verify: every resource of `act` that acted (and did not fail) is observed again and must
/// show no drift; it ends changed, or failed saying why.
void verify_wave(const Manifest& m, const TypeRegistry& types, const TransportLookup& transports,
                 const std::vector<int>& act, const std::vector<char>& acted, int workers, const Secrets& secrets,
                 std::vector<ResourceResult>& results) {
  std::vector<int> look;
  for (std::size_t k = 0; k < act.size(); ++k)
    if (acted[k] && results[act[k]].outcome != Outcome::failed) look.push_back(act[k]);
  const std::vector<FileSystem*> told = prefetch_paths(m, types, transports, look, workers);
  parallel_for(static_cast<int>(act.size()), workers, [&](int k) {
    int i = act[k];
    ResourceResult& r = results[i];
    if (!acted[k] || r.outcome == Outcome::failed) return;
    const ResourceSpec& spec = m.resources[i];
    const TypeEntry& type = *types.find(spec.type);
    ResourceResult after;
    observe_one(spec, type, transports(spec.node), secrets, after);
    if (after.outcome == Outcome::failed) {
      r.outcome = Outcome::failed;
      r.error = "after the change, " + after.error;
    } else if (after.outcome == Outcome::pending) {
      r.outcome = Outcome::failed;
      r.error = "the action reported success but drift remains (" + after.changes.reason + ")";
    } else {
      r.outcome = Outcome::changed;
    }
  });
  for (FileSystem* fs : told) fs->forget();
}

}  // namespace

Tally tally(const std::vector<ResourceResult>& results) {
  Tally t;
  for (const auto& r : results) {
    switch (r.outcome) {
      case Outcome::in_sync: ++t.in_sync; break;
      case Outcome::pending: ++t.pending; break;
      case Outcome::changed: ++t.changed; break;
      case Outcome::failed: ++t.failed; break;
      case Outcome::skipped: ++t.skipped; break;
      case Outcome::excluded: ++t.excluded; break;
    }
    if (r.outcome == Outcome::pending || r.outcome == Outcome::changed) {
      if (r.changes.action == ChangeKind::create) ++t.create;
      if (r.changes.action == ChangeKind::update) ++t.update;
      if (r.changes.action == ChangeKind::remove) ++t.remove;
    }
  }
  return t;
}

namespace {

/// True when `spec` is observed by commands alone, which may go in its node's batch: a
/// data-defined type's probes, an exec's check.
bool observed_by_commands(const TypeRegistry& types, const ResourceSpec& spec) {
  if (datatype::data_type(types, spec.type)) return true;
  ExecRequest req;
  return types.find(spec.type)->provider->observe_request(spec, req);
}

/// The resources of one node observed by commands (observed_by_commands()), every command
/// of every one of them in one batch (one round trip, resources/shell_batch.h), diffed
/// into `results`.
void observe_node_batch(const Manifest& m, const TypeRegistry& types, const std::vector<int>& idx, Transport* t,
                        const Secrets& secrets, std::vector<ResourceResult>& results) {
  auto start = Clock::now();
  std::vector<std::pair<const ResourceSpec*, const datatype::DataType*>> data;
  std::vector<std::size_t> data_at, own_at;  // where in idx each observation goes
  std::vector<ExecRequest> own;               // the other resources' own commands
  for (std::size_t k = 0; k < idx.size(); ++k) {
    const ResourceSpec& spec = m.resources[idx[k]];
    if (const auto* dt = datatype::data_type(types, spec.type)) {
      data.emplace_back(&spec, dt), data_at.push_back(k);
    } else {
      own.emplace_back();
      (void)types.find(spec.type)->provider->observe_request(spec, own.back());
      own_at.push_back(k);
    }
  }
  std::vector<Observation> obs(idx.size());
  try {
    if (!t) throw std::runtime_error("node " + m.resources[idx.front()].node + " has no transport");
    datatype::ObservationBatch b = datatype::observation_batch(data);
    const std::size_t probes = b.requests.size();
    b.requests.insert(b.requests.end(), own.begin(), own.end());
    std::vector<Result<ExecResult>> ran = t->run_batch(b.requests);
    std::vector<Result<ExecResult>> rest(std::make_move_iterator(ran.begin() + static_cast<long>(probes)),
                                         std::make_move_iterator(ran.end()));
    ran.resize(probes), b.requests.resize(probes);
    std::vector<Observation> read = datatype::read_observation_batch(data, b, ran);
    for (std::size_t j = 0; j < data_at.size(); ++j) obs[data_at[j]] = std::move(read[j]);
    for (std::size_t j = 0; j < own_at.size(); ++j)
      obs[own_at[j]] = types.find(m.resources[idx[own_at[j]]].type)->provider->observe_result(m.resources[idx[own_at[j]]], rest[j]);
  } catch (const std::exception& e) {
    obs.assign(idx.size(), Observation::unknown(t ? std::string("provider error: ") + e.what() : e.what()));
  }
  const auto elapsed = since(start) / static_cast<long>(idx.size());
  for (std::size_t k = 0; k < idx.size(); ++k) {
    ResourceResult& r = results[idx[k]];
    const ResourceSpec& spec = m.resources[idx[k]];
    r.before = std::move(obs[k]);
    r.elapsed = elapsed;
    if (r.before.state == Observation::State::unknown) {
      r.outcome = Outcome::failed;
      r.before.error = secrets.scrub(std::move(r.before.error));
      r.error = "cannot observe: " + r.before.error;
      continue;
    }
    r.changes = diff(spec, types.find(spec.type)->schema, r.before);
    r.outcome = r.changes.empty() ? Outcome::in_sync : Outcome::pending;
  }
}

}  // namespace

std::vector<ResourceResult> observe_all(const Manifest& m, const TypeRegistry& types, const TransportLookup& transports,
                                        const ExecOptions& opts) {
  std::vector<ResourceResult> results(m.resources.size());
  const Secrets secrets(m);
  // Jobs: every node's resources observed by commands together (their commands in one
  // round trip), every other resource alone (files are read through the node's filesystem,
  // prefetched in one round trip per node).
  std::vector<std::vector<int>> jobs;
  std::vector<char> batched;  // parallel to jobs
  std::map<std::string, std::size_t> node_job;
  for (int i = 0; i < static_cast<int>(m.resources.size()); ++i) {
    const ResourceSpec& spec = m.resources[i];
    const bool data = datatype::data_type(types, spec.type) != nullptr;
    // Left out by --limit/--tags: a built-in resource is not even read; a data-typed one is
    // (the planner checks the constraints over every node) and reported as left out later.
    if (spec.excluded && !data) {
      results[i].outcome = Outcome::excluded;
      continue;
    }
    if (!observed_by_commands(types, spec)) {
      jobs.push_back({i}), batched.push_back(0);
      continue;
    }
    auto [it, fresh] = node_job.emplace(spec.node, jobs.size());
    if (fresh) jobs.emplace_back(), batched.push_back(1);
    jobs[it->second].push_back(i);
  }
  std::vector<int> alone;
  for (std::size_t j = 0; j < jobs.size(); ++j)
    if (!batched[j]) alone.push_back(jobs[j].front());
  const std::vector<FileSystem*> told = prefetch_paths(m, types, transports, alone, opts.parallel);
  parallel_for(static_cast<int>(jobs.size()), opts.parallel, [&](int j) {
    const std::vector<int>& job = jobs[j];
    const ResourceSpec& first = m.resources[job.front()];
    if (batched[j]) return observe_node_batch(m, types, job, transports(first.node), secrets, results);
    auto start = Clock::now();
    observe_one(first, *types.find(first.type), transports(first.node), secrets, results[job.front()]);
    results[job.front()].elapsed = since(start);
  });
  for (FileSystem* fs : told) fs->forget();
  return results;
}

namespace {

/// The wave's actions that are one command each (an exec's apply: Provider::apply_request)
/// of resources whose observation still holds (nothing upstream changed in this run), sent
/// per node in one batch, nodes side by side. Returns their results by resource index; the
/// rest act on their own.
std::map<int, Result<ExecResult>> run_wave_commands(const Manifest& m, const Graph& g, const TypeRegistry& types,
                                                   const TransportLookup& transports, const std::vector<int>& act,
                                                   const std::vector<char>& changed_upstream,
                                                   const std::vector<ResourceResult>& results, int workers,
                                                   const std::function<void(int)>& started) {
  std::map<std::string, std::pair<std::vector<int>, std::vector<ExecRequest>>> by_node;
  for (int i : act) {
    const ResourceSpec& spec = m.resources[i];
    ExecRequest req;
    if (results[i].outcome != Outcome::pending || !transports(spec.node) ||
        std::any_of(g.deps[i].begin(), g.deps[i].end(), [&](int d) { return changed_upstream[d]; }) ||
        !types.find(spec.type)->provider->apply_request(spec, req))
      continue;
    auto& [idx, reqs] = by_node[spec.node];
    idx.push_back(i), reqs.push_back(std::move(req));
  }
  std::vector<const std::pair<std::vector<int>, std::vector<ExecRequest>>*> jobs;
  std::vector<Transport*> targets;
  for (const auto& [node, job] : by_node) jobs.push_back(&job), targets.push_back(transports(node));
  std::vector<std::vector<Result<ExecResult>>> out(jobs.size());
  parallel_for(static_cast<int>(jobs.size()), workers, [&](int j) {
    for (int i : jobs[j]->first) started(i);
    out[j] = targets[j]->run_batch(jobs[j]->second);
  });
  std::map<int, Result<ExecResult>> ran;
  for (std::size_t j = 0; j < jobs.size(); ++j)
    for (std::size_t k = 0; k < jobs[j]->first.size(); ++k) ran.emplace(jobs[j]->first[k], std::move(out[j][k]));
  return ran;
}

}  // namespace

void apply_waves(const Manifest& m, const Graph& g, const TypeRegistry& types, const TransportLookup& transports,
              std::vector<ResourceResult>& results, const ExecOptions& opts) {
  const int n = static_cast<int>(m.resources.size());
  const Secrets secrets(m);
  std::vector<char> done(n, 0), changed_upstream(n, 0);
  std::mutex progress_mu;
  auto report = [&](int i) {
    if (!opts.progress) return;
    std::lock_guard lock(progress_mu);
    opts.progress(i, results[i]);
  };
  // A resource that could not be observed has failed already, one left out of the run is
  // never touched (its dependents go ahead); everything else is to do.
  std::vector<int> todo;
  for (int i = 0; i < n; ++i) {
    if (results[i].outcome == Outcome::failed || results[i].outcome == Outcome::excluded) done[i] = 1;
    else todo.push_back(i);
  }
  auto root_failure = [&](int i) -> std::string {
    for (int d : g.deps[i]) {
      if (results[d].outcome == Outcome::failed) return m.resources[d].id();
      if (results[d].outcome == Outcome::skipped) return results[d].blocked_by;
    }
    return {};
  };
  // Halting: every change not yet made is skipped, naming the reason.
  auto halt = [&](const std::string& why, const std::vector<int>& left) {
    for (int i : left) {
      if (results[i].outcome != Outcome::pending) continue;
      results[i].outcome = Outcome::skipped;
      results[i].blocked_by = "(run halted: " + why + ")";
      report(i);
    }
  };
  while (!todo.empty()) {
    if (opts.stop && opts.stop()) {
      halt("interrupted", todo);
      return;
    }
    std::vector<int> wave, rest;
    for (int i : todo) {
      bool ready = true;
      for (int d : g.deps[i]) ready = ready && done[d];
      (ready ? wave : rest).push_back(i);
    }
    if (wave.empty()) break;  // unreachable for an acyclic graph
    std::vector<int> act;
    for (int i : wave) {
      if (std::string root = root_failure(i); !root.empty()) {
        results[i].outcome = Outcome::skipped;
        results[i].blocked_by = root;
        report(i);
      } else if (results[i].outcome == Outcome::pending ||
                 std::any_of(g.deps[i].begin(), g.deps[i].end(), [&](int d) { return changed_upstream[d]; })) {
        act.push_back(i);
      } else {
        report(i);
      }
    }
    if (opts.before_wave && !act.empty()) {
      if (Status s = opts.before_wave(act); !s) {
        halt(s.error().describe(), todo);
        return;
      }
    }
    const std::vector<FileSystem*> told = prefetch_wave(m, g, types, transports, act, changed_upstream, results, opts.parallel);
    auto started = [&](int i) {
      if (!opts.started) return;
      std::lock_guard lock(progress_mu);
      opts.started(i, results[i]);
    };
    const std::map<int, Result<ExecResult>> ran = run_wave_commands(m, g, types, transports, act, changed_upstream,
                                                                    results, opts.parallel, started);
    WaveCommits commits;
    std::vector<char> acted(act.size(), 0);
    parallel_for(static_cast<int>(act.size()), opts.parallel, [&](int k) {
      int i = act[k];
      auto start = Clock::now();
      ResourceResult& r = results[i];
      const ResourceSpec& spec = m.resources[i];
      const TypeEntry& type = *types.find(spec.type);
      Transport* t = transports(spec.node);
      const auto batched = ran.find(i);
      // Upstream changed this run: what was observed may be stale; look again first.
      if (batched == ran.end() && std::any_of(g.deps[i].begin(), g.deps[i].end(), [&](int d) { return changed_upstream[d]; }))
        observe_one(spec, type, t, secrets, r);
      if (r.outcome != Outcome::pending) return;
      if (batched == ran.end()) started(i);
      ResourceContext ctx(commits, i);
      Status s;
      try {
        s = batched != ran.end() ? type.provider->apply_result(spec, batched->second)
                                 : type.provider->apply(spec, r.before, r.changes, *t, ctx);
      } catch (const std::exception& e) {
        s = std::unexpected(make_error(ErrorCode::internal, std::string("provider error: ") + e.what()));
      }
      if (!s) {
        r.outcome = Outcome::failed;
        r.error = secrets.scrub(s.error().describe());
      } else {
        acted[k] = 1;
      }
      r.elapsed = since(start);
    });
    for (FileSystem* fs : told) fs->forget();
    commit_wave(commits, results, secrets);
    verify_wave(m, types, transports, act, acted, opts.parallel, secrets, results);
    for (std::size_t k = 0; k < act.size(); ++k)
      if (results[act[k]].outcome == Outcome::changed) changed_upstream[act[k]] = 1;
    for (int i : act) report(i);
    for (int i : wave) done[i] = 1;
    todo.swap(rest);
    if (opts.after_wave && !act.empty()) {
      if (Status s = opts.after_wave(act); !s) {
        halt(s.error().describe(), todo);
        return;
      }
    }
  }
}

}  // namespace converge
