// engine/run/planned_run_prepare.cpp — the planned run before it acts: observation of subjects and node
// facts, `prior` values, run preconditions, grounding, planning and the plan in the report.
#include "engine/run/planned_run.h"

#include <algorithm>
#include <cstdio>
#include <thread>

#include "engine/model/duration.h"
#include "engine/run/executor.h"
#include "engine/plan/plan_report.h"

namespace converge::orchestration {

PlannedOutcome PlannedRun::run() {
  load_type_files();
  subjects_ = grounding::subjects(m_, types_);
  observe(true);
  if (opts_.resumed && command_ == Command::apply) wait_for_nodes();
  if (command_ == Command::apply)
    if (auto stop = check_awaited_reboot()) return *stop;
  if (auto s = resolve_priors(false); !s) return error(s.error().describe());
  refresh_results({});
  if (command_ == Command::check) return check_outcome();
  if (auto refusal = preconditions(); !refusal.empty()) return refuse_putting_back(refusal);
  for (std::size_t i = 0; i < subjects_.size(); ++i)
    if (observed_[i].state == Observation::State::unknown)
      return error("cannot plan: " + subjects_[i].spec.id() + " could not be observed: " + observed_[i].error);
  auto g = ground(true);
  if (!g) return error(g.error().describe());
  if (goals_hold(*g)) {
    // Nothing left to do: a maintenance an interrupted run left open is over (unless this
    // run left part of the estate out: its priors wait for the run that covers them).
    if (command_ == Command::apply && journal_ && !limited())
      if (auto s = journal_->close_priors(); !s) return error(s.error().describe());
    return end(RunStatus::in_sync, 0);
  }
  auto plan = make_plan(*g);
  if (!plan)
    return refuse_putting_back(plan.error().message +
                               (plan.error().constraint.empty() ? "" : " [" + plan.error().constraint + "]"));
  describe_plan(*g, *plan);
  if (!opts_.graph_file.empty()) write_graph(*g, *plan);
  if (command_ == Command::plan) return end(RunStatus::changes_pending, 0);
  return apply(std::move(*g), std::move(*plan));
}

PlannedOutcome PlannedRun::end(RunStatus status, int failed) {
  report_outage();
  PlannedOutcome o = std::move(out_);
  out_ = {};
  o.status = status;
  o.changes = changes_;
  o.failed = failed;
  o.run_id = run_id_;
  return o;
}

PlannedOutcome PlannedRun::error(const std::string& msg) {
  out_.diagnostics.push_back(make_error(ErrorCode::action_failed, scrub(msg)));
  return end(RunStatus::failed, failures_ + 1);
}

std::string PlannedRun::scrub(std::string text) const { return Secrets(m_).scrub(std::move(text)); }

PlannedOutcome PlannedRun::refused(const std::string& raw) {
  const std::string msg = scrub(raw);
  out_.diagnostics.push_back(make_error(ErrorCode::refused, "refused: " + msg));
  out_.extra["refusal"] = msg;
  return end(RunStatus::refused, failures_);
}

void PlannedRun::progress(const std::string& line) const {
  if (opts_.progress) opts_.progress(line);
}

void PlannedRun::load_type_files() {
  datatype::FileDeclarations d = datatype::declarations(types_);
  facts_ = std::move(d.facts);
  preconditions_ = std::move(d.preconditions);
}

Observation PlannedRun::observe_subject(const Subject& s) const {
  Transport* t = transport(s.spec.node);
  if (!t) return Observation::unknown("node " + s.spec.node + " has no transport");
  return types_.find(s.spec.type)->provider->observe(s.spec, *t);
}

void PlannedRun::wait_for_nodes() {
  auto deadline = clock_.now() + opts_.reboot_timeout;
  bool waited = false;
  for (;;) {
    bool all = true;
    for (const auto& n : m_.nodes) all = all && reachable_.count(n.name);
    if (all || clock_.now() >= deadline) break;
    if (!waited) progress("waiting for nodes restarted by the interrupted run to come back");
    waited = true;
    clock_.sleep_for(std::chrono::milliseconds(50));
    observe_nodes();
  }
  if (waited) observe(false);
}

void PlannedRun::observe(bool first) {
  observed_.resize(subjects_.size());
  // Subjects not observed yet, by node: each node's in one batch (one round trip).
  std::map<std::string, std::vector<std::size_t>> by_node;
  for (std::size_t i = 0; i < subjects_.size(); ++i) {
    const Subject& s = subjects_[i];
    if (first && s.manifest_index >= 0) observed_[i] = results_[s.manifest_index].before;
    else by_node[s.spec.node].push_back(i);
  }
  std::vector<const std::vector<std::size_t>*> jobs;
  for (const auto& [node, idx] : by_node) jobs.push_back(&idx);
  parallel_for(static_cast<int>(jobs.size()), opts_.parallel, [&](int j) {
    const std::vector<std::size_t>& idx = *jobs[j];
    Transport* t = transport(subjects_[idx.front()].spec.node);
    if (!t) {
      for (std::size_t i : idx) observed_[i] = Observation::unknown("node " + subjects_[i].spec.node + " has no transport");
      return;
    }
    std::vector<std::pair<const ResourceSpec*, const datatype::DataType*>> rs;
    for (std::size_t i : idx) rs.emplace_back(&subjects_[i].spec, subjects_[i].type);
    std::vector<Observation> obs = datatype::observe_batch(rs, *t);
    for (std::size_t k = 0; k < idx.size(); ++k) observed_[idx[k]] = std::move(obs[k]);
  });
  observe_nodes();
}

void PlannedRun::observe_nodes() {
  node_facts_.clear();
  reachable_.clear();
  for (const auto& n : m_.nodes) {
    Transport* t = transport(n.name);
    if (!t) continue;
    // The node's facts in one batch, with its boot id where that is a command (ssh): one
    // round trip, and none of the facts when the node does not answer.
    static const datatype::DataType kNoType;
    std::vector<datatype::ProbeCall> calls;
    std::vector<const datatype::Fact*> asked;
    for (const auto& f : facts_) {
      if (!f.probe) continue;
      calls.push_back({&*f.probe, &kNoType, {{"node", n.name}, {"name", n.name}}});
      asked.push_back(&f);
    }
    datatype::ObservationBatch b = datatype::probe_batch(std::move(calls));
    ExecRequest boot;
    std::vector<datatype::ProbeReading> readings;
    if (t->boot_id_request(boot)) {
      b.requests.insert(b.requests.begin(), std::move(boot));
      std::vector<Result<ExecResult>> ran = t->run_batch(b.requests);
      if (!t->boot_id_from(ran.front())) continue;
      b.requests.erase(b.requests.begin()), ran.erase(ran.begin());
      readings = datatype::read_probe_batch(b, ran);
    } else {
      if (!t->boot_id()) continue;
      readings = datatype::read_probe_batch(b, t->run_batch(b.requests));
    }
    reachable_.insert(n.name);
    for (std::size_t k = 0; k < asked.size(); ++k)
      if (readings[k].verdict == datatype::ProbeReading::Verdict::present && readings[k].props.count("value"))
        node_facts_[n.name + "/@" + asked[k]->name] = readings[k].props["value"];
  }
  for (const auto& [k, v] : derived_facts_) node_facts_[k] = v;
}

Status PlannedRun::resolve_priors(bool record) {
  std::map<std::pair<std::string, std::string>, Value> outstanding;
  if (journal_) {
    CONVERGE_TRY(auto rows, journal_->outstanding_priors());
    for (const auto& r : rows) {
      auto v = nlohmann::json::parse(r[2], nullptr, false);
      outstanding[{r[0], r[1]}] = v.is_discarded() ? Value() : value_from_json(v);
    }
  }
  restore_.clear();
  for (std::size_t i = 0; i < subjects_.size(); ++i) {
    Subject& s = subjects_[i];
    std::set<std::string> declared;
    if (s.manifest_index >= 0) {
      const ResourceSpec& orig = m_.resources[s.manifest_index];
      for (const auto& [k, v] : orig.properties)
        if (!v.is_null()) declared.insert(k);
      for (const std::string& prop : orig.prior) {
          declared.insert(prop);
          auto it = outstanding.find({s.spec.id(), prop});
          Value v;
          if (it != outstanding.end()) {
            v = it->second;
          } else if (observed_[i].state == Observation::State::present) {
            auto o = observed_[i].props.find(prop);
            v = o == observed_[i].props.end() ? Value() : o->second;
            if (record && journal_) {
              if (s.spec.sensitive.count(prop))
                return std::unexpected(make_error(ErrorCode::invalid_input, s.spec.id() + ": `prior` of the sensitive property " +
                                                                                prop + " would put its value in the journal"));
              CONVERGE_CHECK(journal_->record_prior(s.spec.id(), prop, v.to_json(), run_id_));
            }
          }
          s.spec.properties[prop] = v;
        }
    }
    for (const auto& [key, v] : outstanding)
      if (key.first == s.spec.id() && !declared.count(key.second)) restore_[grounding::fact_key(s, key.second)] = v;
  }
  return {};
}

Value PlannedRun::value_from_json(const nlohmann::json& j) {
  if (j.is_null()) return {};
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_number_integer()) return Value(j.get<std::int64_t>());
  if (j.is_string()) return Value(j.get<std::string>());
  return Value(j.dump());
}

void PlannedRun::refresh_results(const std::set<std::string>& changed) {
  for (std::size_t i = 0; i < subjects_.size(); ++i) {
    const Subject& s = subjects_[i];
    if (s.manifest_index < 0) continue;
    ResourceResult& r = results_[s.manifest_index];
    r.before = observed_[i];
    if (s.spec.excluded) {
      // Observed for the constraints (planning still needs it); its drift is not this run's.
      r.outcome = Outcome::excluded;
      continue;
    }
    if (observed_[i].state == Observation::State::unknown) {
      r.outcome = Outcome::failed;
      r.error = "cannot observe: " + observed_[i].error;
      continue;
    }
    r.changes = diff(s.spec, types_.find(s.spec.type)->schema, observed_[i]);
    if (auto f = failed_.find(s.spec.id()); f != failed_.end()) {
      r.outcome = Outcome::failed;
      r.error = f->second;
      continue;
    }
    r.outcome = !r.changes.empty() ? Outcome::pending : changed.count(s.spec.id()) ? Outcome::changed : Outcome::in_sync;
    if (r.outcome == Outcome::changed) {
      int n = step_count_[s.spec.id()];
      r.changes.reason = std::to_string(n) + (n == 1 ? " step" : " steps") + "; now as desired";
    }
  }
}

PlannedOutcome PlannedRun::check_outcome() {
  Tally t = tally(results_);
  if (t.failed) return end(RunStatus::failed, t.failed);
  return end(t.pending ? RunStatus::drift : RunStatus::in_sync, 0);
}

std::string PlannedRun::preconditions() {
  bool in_maintenance = false;
  if (journal_)
    if (auto rows = journal_->outstanding_priors(); rows && !rows->empty()) in_maintenance = true;
  for (const auto& c : m_.constraints) {
    if (c.kind != ConstraintSpec::Kind::precondition) continue;
    if (c.subject == "reachable") {
      for (const auto& n : m_.nodes)
        if (!reachable_.count(n.name)) return "precondition reachable: node " + n.name + " does not answer";
      continue;
    }
    const datatype::Precondition* p = nullptr;
    for (const auto& x : preconditions_)
      if (x.name == c.subject) p = &x;
    if (!p) return "precondition " + c.subject + ": no included type file defines it";
    int checked = 0;
    for (std::size_t i = 0; i < subjects_.size(); ++i) {
      if (subjects_[i].spec.type != p->type || subjects_[i].manifest_index < 0) continue;
      const auto& props = observed_[i].props;
      auto ts = props.find(p->timestamp);
      auto now = props.find(p->clock);
      std::optional<std::int64_t> t0, t1;
      if (ts != props.end() && ts->second.is_string()) t0 = parse_host_time(ts->second.as_string());
      if (now != props.end() && now->second.is_string()) t1 = parse_host_time(now->second.as_string());
      const std::string who = subjects_[i].spec.name;
      if (!t0 || !t1) {
        if (in_maintenance) {
          out_.notes.push_back("note: precondition " + c.subject + " cannot be read on " + who +
                                  " now; it held when this maintenance began");
          ++checked;
          continue;
        }
        return "precondition " + c.subject + ": " + p->timestamp + " of " + who + " cannot be read";
      }
      std::int64_t age = *t1 - *t0;
      if (c.seconds >= 0 && age > c.seconds)
        return "precondition " + c.subject + ": " + p->timestamp + " of " + who + " is " + format_duration_ms(age * 1000) +
               " old (max_age " + format_duration_ms(c.seconds * 1000) + ")";
      out_.notes.push_back("precondition " + c.subject + ": " + who + " " + format_duration_ms(age * 1000) + " old (max_age " +
                              format_duration_ms(c.seconds * 1000) + "): ok");
      ++checked;
    }
    if (checked == 0) return "precondition " + c.subject + ": no " + p->type + " resource is declared";
  }
  return {};
}

Result<Grounded> PlannedRun::ground(bool manifest_goals) {
  grounding::Inputs in;
  in.manifest = &m_;
  in.subjects = subjects_;
  in.observed = observed_;
  in.facts = facts_;
  in.node_facts = node_facts_;
  in.reachable = reachable_;
  in.restore = restore_;
  in.manifest_goals = manifest_goals;
  return grounding::ground(in);
}

bool PlannedRun::goals_hold(const Grounded& g) {
  return std::all_of(g.problem.goal.begin(), g.problem.goal.end(),
                     [&](const planning::Condition& c) { return planning::holds(c, g.problem.initial); });
}

std::expected<planning::Plan, planning::Refusal> PlannedRun::make_plan(Grounded& g, bool node_disruption) {
  if (opts_.dump_problem) {
    // Goals hold desired values: the dump is scrubbed like every other text.
    char* buf = nullptr;
    std::size_t len = 0;
    if (std::FILE* f = ::open_memstream(&buf, &len)) {
      dump_problem(g.problem, f);
      std::fclose(f);
      std::fputs(scrub(std::string(buf, len)).c_str(), stderr);
      std::free(buf);
    }
  }
  auto p = planning::plan(g.problem);
  if (!p) return std::unexpected(needs_left_out(g, p.error()));
  return grounding::expand_transients(g, *p, node_disruption);
}

planning::Refusal PlannedRun::needs_left_out(const Grounded& g, planning::Refusal refusal) const {
  if (refusal.constraint.empty() || refusal.constraint[0] != '(') return refusal;  // a constraint is named
  if (std::find(g.out_of_scope.begin(), g.out_of_scope.end(), 1) == g.out_of_scope.end()) return refusal;
  // No plan within the limit: would one exist with the actions it leaves out? Then name them.
  planning::Problem wider = g.problem;
  for (std::size_t i = 0; i < wider.actions.size(); ++i)
    if (g.out_of_scope[i]) wider.actions[i].search = true;
  auto p = planning::plan(wider);
  if (!p) return refusal;
  std::string needed;
  for (const auto& s : p->steps)
    if (g.out_of_scope[s.action]) {
      const std::string& name = wider.actions[s.action].name;
      if (needed.find(name) == std::string::npos) needed += (needed.empty() ? "" : ", ") + name + " on " + wider.actions[s.action].node;
    }
  refusal.constraint = "--limit/--tags";
  refusal.message = "no plan within the limit: " + refusal.blocked + " needs steps the run leaves out (" + needed + ")";
  return refusal;
}

void PlannedRun::describe_plan(const Grounded& g, const planning::Plan& p) {
  PlanText d = describe(g, subjects_, p, m_);
  out_.extra["plan"] = std::move(d.json);
  if (command_ == Command::apply && opts_.progress) {
    // The plan goes before the steps' progress; the summary keeps its first line.
    opts_.progress(d.text);
    out_.notes.insert(out_.notes.begin(), d.text.substr(0, d.text.find('\n')));
  } else {
    out_.notes.insert(out_.notes.begin(), d.text);
  }
}

void PlannedRun::write_graph(const Grounded& g, const planning::Plan& p) {
  if (auto s = write_plan_graph(g, p, opts_.graph_file); !s) out_.diagnostics.push_back(s.error());
  else out_.notes.push_back("plan graph written to " + opts_.graph_file);
}

}  // namespace converge::orchestration
