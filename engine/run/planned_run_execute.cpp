// engine/run/planned_run_execute.cpp — the planned run acting: each step journaled before and after,
// its commands with retries, boot waits and verification; component chains side by side; the
// apply loop with re-planning from a fresh observation.
#include "engine/run/planned_run.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <numeric>
#include <thread>

#include "engine/model/duration.h"
#include "engine/run/executor.h"
#include "engine/plan/plan_report.h"
#include "resources/datatype_provider.h"

namespace converge::orchestration {

std::chrono::milliseconds PlannedRun::scaled(std::int64_t seconds) const {
  double s = static_cast<double>(seconds);
  if (opts_.lab_speed > 0) s /= opts_.lab_speed;
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
}

Status PlannedRun::run_step(const Grounded& g, int a) {
  const auto& ga = g.actions[a];
  const Subject& s = subjects_[ga.subject];
  ResourceSpec spec = s.spec;
  for (const auto& [k, v] : ga.targets) spec.properties[k] = v;
  Transport* t = transport(ga.run_node.empty() ? s.spec.node : ga.run_node);
  if (!t) return std::unexpected(make_error(ErrorCode::unreachable, "no transport for " + s.spec.node));
  auto timeout = std::max(scaled(ga.action->duration_seconds * 3 + 300), std::chrono::milliseconds(1000));
  // A restart is waited for by its new boot id: without the current one, a restart
  // cannot be told from a node that has not gone down yet.
  std::string boot_before;
  if (ga.action->boots) {
    auto b = t->boot_id();
    if (!b) return std::unexpected(make_error(ErrorCode::unreachable, "cannot read the boot id of " +
                                                                          (ga.run_node.empty() ? s.spec.node : ga.run_node) +
                                                                          " before restarting it: " + b.error().message));
    boot_before = *b;
  }
  Status st;
  for (int attempt = 0; attempt < opts_.retries + 1; ++attempt) {
    if (attempt > 0) {
      auto wait = opts_.retry_backoff * (std::int64_t{1} << (attempt - 1));
      progress("        retry " + std::to_string(attempt) + " of " + std::to_string(opts_.retries) + " in " +
               std::to_string(wait.count()) + " ms: " + st.error().message);
      clock_.sleep_for(wait);
    }
    st = datatype::run_commands(*s.type, *ga.action, spec, *t, timeout);
    if (st || (st.error().code != ErrorCode::timeout && st.error().code != ErrorCode::unreachable &&
               st.error().code != ErrorCode::retryable))
      break;
  }
  if (!st) return st;
  if (ga.action->boots) {
    // The machine converge runs on is restarting: nothing to wait with. The run is left
    // awaiting the reboot; the next invocation continues it once the boot id changed.
    const std::string& node = ga.run_node.empty() ? s.spec.node : ga.run_node;
    if (t->runs_here()) {
      awaiting_ = {node, boot_before};
      return {};
    }
    return wait_for_boot(*t, node, boot_before);
  }
  return {};
}

Status PlannedRun::wait_for_boot(Transport& t, const std::string& node, const std::string& before) {
  progress("        waiting for " + node + " to come back");
  auto deadline = clock_.now() + opts_.reboot_timeout;
  while (clock_.now() < deadline) {
    auto b = t.boot_id();
    if (b && *b != before) {
      std::lock_guard lock(mu_);  // chains may run side by side
      for (auto it = derived_facts_.begin(); it != derived_facts_.end();)
        it = it->first.starts_with(node + "/@") ? derived_facts_.erase(it) : std::next(it);
      return {};
    }
    clock_.sleep_for(std::chrono::milliseconds(50));
  }
  return std::unexpected(make_error(ErrorCode::unreachable, node + " did not come back from its restart within " +
                                                                format_duration_ms(opts_.reboot_timeout.count())));
}

Status PlannedRun::verify_step(const Grounded& g, int a, Observation& obs) {
  const auto& ga = g.actions[a];
  obs = observe_subject(subjects_[ga.subject]);
  if (obs.state != Observation::State::present)
    return std::unexpected(make_error(ErrorCode::action_failed, "after " + ga.action->name + ", " +
                                                                    subjects_[ga.subject].spec.id() + " cannot be observed" +
                                                                    (obs.error.empty() ? "" : ": " + obs.error)));
  for (const auto& [k, v] : ga.targets) {
    auto it = obs.props.find(k);
    Value now = it == obs.props.end() ? Value() : it->second;
    if (!(now == v))
      return std::unexpected(make_error(ErrorCode::action_failed, ga.action->name + " reported success but " + k + " is " +
                                                                      now.to_string() + ", not " + v.to_string()));
  }
  return {};
}

PlannedRun::StepEnd PlannedRun::run_journaled(const Grounded& g, const planning::Plan& plan, std::size_t i,
                                              const std::string& why, const std::string& label,
                                              std::map<std::string, Value>& put_back, Error& err) {
  if (stopping()) return StepEnd::interrupted;
  const int a = plan.steps[i].action;
  const StepKind kind = g.kind(i);
  const auto& pa = g.problem.actions[a];
  const auto& ga = g.actions[a];
  const Subject& s = subjects_[ga.subject];
  // Chains may run concurrently (run_chains): the journal and the shared state are
  // touched under mu_, the commands and the re-observation outside it.
  std::unique_lock lock(mu_);
  std::vector<StepRow> rows(1);
  rows[0].run_id = run_id_;
  rows[0].seq = ++seq_;
  rows[0].resource = s.spec.id();
  rows[0].action = ga.action->name + (kind != StepKind::planned ? std::string(" (") + step_kind_word(kind) + ")" : "");
  rows[0].reason = why;
  rows[0].before_json = Value(masked(s.spec, observed_[ga.subject].props)).to_json();
  auto journal_failed = [&](const Error& e) {
    err = e;
    return StepEnd::journal_error;
  };
  if (journal_)
    if (auto st = journal_->steps_started(rows); !st) return journal_failed(st.error());
  if (kind == StepKind::establish && journal_)
    for (const auto& [k, _] : ga.targets) {
      auto o = observed_[ga.subject].props.find(k);
      Value before = o == observed_[ga.subject].props.end() ? Value() : o->second;
      if (auto st = journal_->record_prior(s.spec.id(), k, before.to_json(), run_id_); !st) return journal_failed(st.error());
      put_back.emplace(grounding::fact_key(s, k), before);
    }
  lock.unlock();
  progress("  [" + label + "] " + pa.node + "  " + pa.name);
  auto start = clock_.now();
  Status st = run_step(g, a);
  Observation after;
  if (st && awaiting_.first.empty()) st = verify_step(g, a, after);
  lock.lock();
  if (st && !awaiting_.first.empty()) {
    rows[0].outcome = "awaiting reboot";
    if (journal_)
      if (auto js = journal_->steps_ended(rows); !js) return journal_failed(js.error());
    ++changes_;
    return StepEnd::awaiting;
  }
  rows[0].outcome = st ? "changed" : "failed";
  rows[0].after_json = after.state == Observation::State::present ? Value(masked(s.spec, after.props)).to_json() : "";
  if (!st) rows[0].error = st.error().message;
  if (journal_)
    if (auto js = journal_->steps_ended(rows); !js) return journal_failed(js.error());
  // Test hook: die here, between two steps, as a power cut would.
  if (opts_.kill_at_step > 0 && seq_ == opts_.kill_at_step) ::kill(::getpid(), SIGKILL);
  if (!st) {
    failed_[s.spec.id()] = st.error().message;
    err = st.error();
    return StepEnd::failed;
  }
  progress("        ok: " + pa.node + " (" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - start).count()) + " ms)");
  observed_[ga.subject] = after;
  measure_outage(g, a, start);
  touched_.insert(s.spec.id());
  ++step_count_[s.spec.id()];
  ++changes_;
  if (kind == StepKind::restore)
    for (const auto& [k, _] : ga.targets) put_back.erase(grounding::fact_key(s, k));
  for (const auto& [k, v] : pa.effects)
    if (k.find("/@") != std::string::npos) derived_facts_[k] = v;
  return StepEnd::ok;
}

namespace {

/// A condition's values as messages write them: "running" or "stopped or (none)".
std::string values_text(const planning::Condition& c) {
  std::string out;
  for (const auto& v : c.any_of) out += (out.empty() ? "" : " or ") + (v.is_null() ? std::string("(none)") : v.to_string());
  return out;
}

}  // namespace

PlannedRun::StepEnd PlannedRun::still_holds(const Grounded& g, const planning::Plan& plan, std::size_t i, Error& err) {
  const int a = plan.steps[i].action;
  const auto& pa = g.problem.actions[a];
  std::vector<const planning::Condition*> conds;
  for (const auto& c : pa.pre) conds.push_back(&c);
  if (g.kind(i) == StepKind::planned)
    for (const auto& c : g.actions[a].transient) conds.push_back(&c);
  // What the conditions read, observed afresh: one batch per node.
  std::map<std::string, std::vector<int>> by_node;
  for (const auto* c : conds)
    if (auto it = fact_subject_.find(c->fact); it != fact_subject_.end()) {  // else a node fact: not observable by itself
      auto& list = by_node[subjects_[it->second.first].spec.node];
      if (std::find(list.begin(), list.end(), it->second.first) == list.end()) list.push_back(it->second.first);
    }
  std::map<int, Observation> fresh;
  for (const auto& [node, list] : by_node) {
    Transport* t = transport(node);
    if (!t) continue;
    std::vector<std::pair<const ResourceSpec*, const datatype::DataType*>> rs;
    for (int si : list) rs.push_back({&subjects_[si].spec, subjects_[si].type});
    auto obs = datatype::observe_batch(rs, *t);
    for (std::size_t k = 0; k < list.size(); ++k) fresh.emplace(list[k], std::move(obs[k]));
  }
  std::string changed;
  for (const auto* c : conds) {
    auto it = fact_subject_.find(c->fact);
    if (it == fact_subject_.end()) continue;
    const auto& [si, prop] = it->second;
    auto f = fresh.find(si);
    if (f == fresh.end()) continue;
    const Observation& o = f->second;
    if (o.state == Observation::State::unknown) continue;  // the step finds out
    auto v = o.props.find(prop);
    planning::Facts now;
    if (v != o.props.end()) now[c->fact] = v->second;
    if (o.state == Observation::State::absent && g.kind(i) == StepKind::planned) continue;  // vacuous
    if (!planning::holds(*c, now)) {
      changed = subjects_[si].spec.id() + " " + prop + " is " + (v == o.props.end() ? std::string("(none)") : v->second.to_string()) +
                ", not " + values_text(*c) + " as planned";
      break;
    }
  }
  std::lock_guard lock(mu_);
  for (auto& [si, o] : fresh)
    if (o.state != Observation::State::unknown) observed_[si] = std::move(o);
  if (changed.empty()) return StepEnd::ok;
  const auto& ga = g.actions[a];
  const std::string why = "before " + pa.name + " on " + pa.node + ": " + changed;
  replans_.push_back(why);
  progress("  re-planning " + why);
  if (!journal_) return StepEnd::replan;
  std::vector<StepRow> rows(1);
  rows[0].run_id = run_id_;
  rows[0].seq = ++seq_;
  rows[0].resource = subjects_[ga.subject].spec.id();
  rows[0].action = ga.action->name;
  rows[0].reason = why;
  if (auto st = journal_->steps_started(rows); !st) return err = st.error(), StepEnd::journal_error;
  rows[0].outcome = "not run: re-planned";
  rows[0].error = changed;
  if (auto st = journal_->steps_ended(rows); !st) return err = st.error(), StepEnd::journal_error;
  return StepEnd::replan;
}

std::int64_t PlannedRun::measured_s(const std::string& group) const {
  auto it = measured_.find(group);
  if (it == measured_.end()) return 0;
  std::int64_t ms = it->second.ms;
  const double speed = opts_.lab_speed > 0 ? opts_.lab_speed : 1.0;
  if (it->second.since)
    ms += static_cast<std::int64_t>(
        static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(clock_.now() - *it->second.since).count()) * speed);
  return ms / 1000;
}

std::optional<Error> PlannedRun::outage_room(const Grounded& g, const planning::Plan& plan, std::size_t i) {
  const auto& pa = g.problem.actions[plan.steps[i].action];
  std::lock_guard lock(mu_);
  for (const auto& av : g.problem.available) {
    if (av.budget_s < 0 || measured_[av.group].since) continue;  // no budget, or already down
    bool offline = std::any_of(pa.effects.begin(), pa.effects.end(), [&](const auto& e) {
      return e.first == av.online_fact && e.second == Value(false);
    });
    bool during = std::find(pa.outages.begin(), pa.outages.end(), av.group) != pa.outages.end();
    if (!offline && !during) continue;
    // The plan's estimate of this outage: the step, or until the step that brings it back.
    std::int64_t estimate = plan.steps[i].end_s - plan.steps[i].start_s;
    if (offline) {
      estimate = plan.makespan_s - plan.steps[i].start_s;
      for (std::size_t j = i + 1; j < plan.steps.size(); ++j) {
        const auto& eff = g.problem.actions[plan.steps[j].action].effects;
        if (std::any_of(eff.begin(), eff.end(), [&](const auto& e) { return e.first == av.online_fact && e.second == Value(true); })) {
          estimate = plan.steps[j].end_s - plan.steps[i].start_s;
          break;
        }
      }
    }
    const std::int64_t used = measured_s(av.group);
    if (used + estimate <= av.budget_s) continue;
    return make_error(ErrorCode::refused,  // the halt tells the budget's by this code
                      "not started: it takes " + av.group + " down for about " + format_duration_ms(estimate * 1000) +
                          " (planned), and its measured outage " + format_duration_ms(used * 1000) + " leaves " +
                          format_duration_ms(std::max<std::int64_t>(0, av.budget_s - used) * 1000) + " of its " +
                          format_duration_ms(av.budget_s * 1000) + " budget");
  }
  return std::nullopt;
}

void PlannedRun::measure_outage(const Grounded& g, int a, Clock::time_point start) {
  const auto& pa = g.problem.actions[a];
  const auto now = clock_.now();
  const double speed = opts_.lab_speed > 0 ? opts_.lab_speed : 1.0;
  auto ms = [&](Clock::time_point from) {
    return static_cast<std::int64_t>(static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now - from).count()) * speed);
  };
  // As outage_by_time counts the plan's: down from the start of the step that takes it
  // down to the end of the one that brings it back; a step it is down for, start to end.
  for (const auto& av : g.problem.available) {
    Measured& m = measured_[av.group];
    std::optional<bool> sets;
    for (const auto& [k, v] : pa.effects)
      if (k == av.online_fact) sets = v == Value(true);
    const bool lists = std::find(pa.outages.begin(), pa.outages.end(), av.group) != pa.outages.end();
    if (m.since) {
      if (sets && *sets) m.ms += ms(*m.since), m.since.reset();
    } else if (sets && !*sets) {
      m.since = start;
    } else if (lists) {
      m.ms += ms(start);
    }
  }
}

void PlannedRun::report_outage() {
  if (measured_.empty()) return;
  nlohmann::json j = nlohmann::json::object();
  std::string text;
  for (const auto& [group, _] : measured_) {
    const std::int64_t measured = measured_s(group);
    const auto planned = planned_outage_.count(group) ? planned_outage_.at(group) : 0;
    const auto budget = outage_budget_.count(group) ? outage_budget_.at(group) : -1;
    j[group] = {{"measured_s", measured}, {"planned_s", planned}};
    if (budget >= 0) j[group]["budget_s"] = budget;
    text += (text.empty() ? "" : "; ") + group + " " + format_duration_ms(measured * 1000) + " measured, " +
            format_duration_ms(planned * 1000) + " planned" + (budget >= 0 ? " of " + format_duration_ms(budget * 1000) : "");
  }
  out_.notes.push_back("outage: " + text);
  out_.extra["outage"] = j;
  if (journal_ && run_id_ > 0)
    if (auto s = journal_->set_meta("outage:" + std::to_string(run_id_), j.dump()); !s) out_.diagnostics.push_back(s.error());
}

PlannedRun::StepEnd PlannedRun::apply_step(const Grounded& g, const planning::Plan& plan, std::size_t i,
                                           const std::string& why, std::map<std::string, Value>& put_back, Error& err) {
  StepEnd end = still_holds(g, plan, i, err);
  if (end != StepEnd::ok) return end;
  if (auto over = outage_room(g, plan, i)) {
    err = *over;
    return StepEnd::failed;
  }
  const std::string label = std::to_string(i + 1) + "/" + std::to_string(plan.steps.size());
  return run_journaled(g, plan, i, why, label, put_back, err);
}

std::optional<std::vector<std::vector<std::size_t>>> PlannedRun::plan_chains(const Grounded& g, const planning::Plan& plan) const {
  std::vector<std::vector<std::size_t>> chains;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const auto& ga = g.actions[plan.steps[i].action];
    if (ga.action->boots) {
      Transport* t = transport(ga.run_node.empty() ? subjects_[ga.subject].spec.node : ga.run_node);
      if (!t || t->runs_here()) return std::nullopt;  // the run is left awaiting that reboot
    }
    const auto c = static_cast<std::size_t>(plan.steps[i].chain);
    if (chains.size() <= c) chains.resize(c + 1);
    chains[c].push_back(i);
  }
  std::erase_if(chains, [](const auto& c) { return c.empty(); });
  if (chains.size() < 2) return std::nullopt;
  return chains;
}

std::optional<std::pair<std::size_t, Error>> PlannedRun::run_chains(const Grounded& g, const planning::Plan& plan,
                                                                    const std::vector<std::vector<std::size_t>>& chains,
                                                                    const std::vector<std::string>& whys,
                                                                    std::map<std::string, Value>& put_back) {
  const int n = static_cast<int>(chains.size());
  // A chain of instant steps still ends after it starts: it waits for none it ends with.
  std::vector<std::int64_t> start(n), end(n);
  for (int c = 0; c < n; ++c)
    start[c] = plan.steps[chains[c].front()].start_s, end[c] = std::max(plan.steps[chains[c].back()].end_s, start[c] + 1);
  std::vector<int> by_start(n), by_end(n);
  std::iota(by_start.begin(), by_start.end(), 0);
  std::iota(by_end.begin(), by_end.end(), 0);
  std::sort(by_start.begin(), by_start.end(), [&](int a, int b) { return std::tie(start[a], end[a], a) < std::tie(start[b], end[b], b); });
  std::sort(by_end.begin(), by_end.end(), [&](int a, int b) { return std::tie(end[a], a) < std::tie(end[b], b); });
  // A chain may start once the first `before[c]` chains in order of end have ended.
  std::vector<std::size_t> before(n);
  for (int c = 0; c < n; ++c)
    before[c] = static_cast<std::size_t>(std::upper_bound(by_end.begin(), by_end.end(), start[c], [&](std::int64_t t, int d) {
                                           return t < end[d];
                                         }) - by_end.begin());
  // As many workers as the schedule runs chains at once, at most --parallel.
  int overlap = 0, now = 0;
  std::vector<std::pair<std::int64_t, int>> edges;
  for (int c = 0; c < n; ++c) edges.push_back({start[c], 1}), edges.push_back({end[c], -1});
  std::sort(edges.begin(), edges.end());
  for (const auto& [_, d] : edges) overlap = std::max(overlap, now += d);
  int width = std::min({overlap, n, 64});
  if (opts_.parallel > 0) width = std::min(width, opts_.parallel);
  width = std::max(width, 1);
  out_.notes.push_back("ran " + std::to_string(n) + " chains side by side as scheduled, at most " + std::to_string(width) +
                       " at a time");
  out_.extra["chains"] = {{"count", n}, {"at_once", width}};
  std::mutex m;
  std::condition_variable cv;
  std::vector<char> ended(n, 0);
  std::size_t next = 0, ended_prefix = 0;
  std::atomic<bool> stop{false};
  std::optional<std::pair<std::size_t, Error>> failure;
  auto worker = [&] {
    std::unique_lock l(m);
    for (;;) {
      cv.wait(l, [&] { return stop || next == by_start.size() || ended_prefix >= before[by_start[next]]; });
      if (stop || next == by_start.size()) return;
      const int c = by_start[next++];
      l.unlock();
      std::optional<std::pair<std::size_t, Error>> failed;
      for (std::size_t i : chains[c]) {
        if (stop) break;
        Error err;
        const StepEnd end = apply_step(g, plan, i, whys[i], put_back, err);
        if (end == StepEnd::replan) {
          stop = true;  // the run plans again: no chain starts another step
          break;
        }
        if (end != StepEnd::ok) {
          failed = std::make_pair(i, err);
          break;
        }
      }
      l.lock();
      ended[c] = 1;
      while (ended_prefix < by_end.size() && ended[by_end[ended_prefix]]) ++ended_prefix;
      if (failed && !failure) failure = failed;
      if (failed) stop = true;
      cv.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (int w = 0; w < width; ++w) workers.emplace_back(worker);
  for (auto& w : workers) w.join();
  return failure;
}

std::string PlannedRun::sensitive_transient(const Grounded& g, const planning::Plan& plan) const {
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    if (g.kind(i) != StepKind::establish) continue;
    const auto& ga = g.actions[plan.steps[i].action];
    for (const auto& [k, _] : ga.targets)
      if (subjects_[ga.subject].spec.sensitive.count(k))
        return "a transient change of " + subjects_[ga.subject].spec.id() + "'s sensitive property " + k +
               " would put its value in the journal";
  }
  return {};
}

PlannedOutcome PlannedRun::apply(Grounded g, planning::Plan plan) {
  if (std::string why = sensitive_transient(g, plan); !why.empty()) return refused(why);
  auto id = begin_run_();
  if (!id) return error(id.error().describe());
  run_id_ = *id;
  if (auto s = resolve_priors(true); !s) return error(s.error().describe());
  std::map<std::string, Value> put_back;  // transient facts changed and not yet restored
  planned_outage_ = plan.outage_s;
  for (const auto& av : g.problem.available) outage_budget_[av.group] = av.budget_s;
  fact_subject_.clear();
  for (int si = 0; si < static_cast<int>(subjects_.size()); ++si)
    for (const auto& p : subjects_[si].type->properties) fact_subject_[grounding::fact_key(subjects_[si], p.name)] = {si, p.name};
  for (int round = 0; round < 4; ++round) {
    if (round > 0) progress("re-planning from a fresh observation (round " + std::to_string(round + 1) + ")");
    const std::size_t replanned = replans_.size();
    const auto whys = explain_steps(g, subjects_, plan);
    if (auto chains = plan_chains(g, plan)) {
      if (auto failed = run_chains(g, plan, *chains, whys, put_back)) {
        if (stopping()) return interrupted();
        return halt(g, g.problem.actions[plan.steps[failed->first].action], failed->second, put_back);
      }
    } else {
      // One chain after another, in order of their scheduled start: each keeps the
      // contiguous span its outage estimates assume (a plan of one chain runs in order).
      std::vector<std::size_t> order(plan.steps.size());
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::map<int, std::int64_t> chain_start;
      for (const auto& st : plan.steps) chain_start.emplace(st.chain, st.start_s);
      std::stable_sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
        const auto& a = plan.steps[x];
        const auto& b = plan.steps[y];
        return std::tie(chain_start[a.chain], a.chain) < std::tie(chain_start[b.chain], b.chain);
      });
      for (std::size_t k = 0; k < order.size() && replans_.size() == replanned; ++k) {
        const std::size_t i = order[k];
        Error err;
        switch (apply_step(g, plan, i, whys[i], put_back, err)) {
          case StepEnd::ok: break;
          case StepEnd::replan: break;  // the loop ends: plan again from a fresh observation
          case StepEnd::awaiting: return await_reboot();
          case StepEnd::interrupted: return interrupted();
          case StepEnd::failed:
            if (stopping()) return interrupted();  // its command was ended by the interrupt
            [[fallthrough]];
          case StepEnd::journal_error:
            // A journal that cannot record is a failure like any other: halt. The halt's
            // own steps are journaled too, so with the journal still failing nothing more runs.
            return halt(g, g.problem.actions[plan.steps[i].action], err, put_back);
        }
      }
    }
    // A fresh look: everything the plan aimed for must hold now; else plan again.
    for (std::size_t r = replanned; r < replans_.size(); ++r) out_.notes.push_back("re-planned " + replans_[r]);
    if (!replans_.empty()) out_.extra["replanned"] = replans_;
    observe(false);
    if (auto s = resolve_priors(false); !s) return error(s.error().describe());
    auto next = ground(true);
    if (!next) return error(next.error().describe());
    if (goals_hold(*next)) return finish();
    auto p = make_plan(*next);
    if (!p) {
      refresh_results(touched_);
      return refused(p.error().message);
    }
    g = std::move(*next);
    plan = std::move(*p);
  }
  refresh_results(touched_);
  return error("the goals still do not hold after 4 rounds of planning");
}

}  // namespace converge::orchestration
