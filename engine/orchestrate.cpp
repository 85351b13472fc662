#include "engine/orchestrate.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>

#include "engine/duration.h"
#include "engine/ground.h"
#include "engine/plan_report.h"
#include "engine/planner.h"
#include "resources/datatype.h"
#include "resources/transports.h"

namespace converge {

namespace {

using Clock = std::chrono::steady_clock;
using grounding::Grounded;
using grounding::Subject;

class PlannedRun {
 public:
  PlannedRun(const std::string& command, const Manifest& m, const TypeRegistry& types, TransportSet& transports,
             Journal* journal, const std::function<Result<std::int64_t>()>& begin_run, std::vector<ResourceResult>& results,
             Report& report, const GlobalOptions& opts, bool resumed)
      : command_(command), m_(m), types_(types), transports_(transports), journal_(journal), begin_run_(begin_run),
        results_(results), report_(report), opts_(opts), resumed_(resumed) {}

  PlannedOutcome run() {
    load_type_files();
    subjects_ = grounding::subjects(m_, types_);
    observe(true);
    if (resumed_ && command_ == "apply") wait_for_nodes();
    if (command_ == "apply")
      if (auto stop = check_awaited_reboot()) return *stop;
    if (auto s = resolve_priors(false); !s) return error(s.error().describe());
    refresh_results({});
    if (command_ == "check") return check_outcome();
    if (auto refusal = preconditions(); !refusal.empty()) return refused(refusal);
    for (std::size_t i = 0; i < subjects_.size(); ++i)
      if (observed_[i].state == Observation::State::unknown)
        return error("cannot plan: " + subjects_[i].spec.id() + " could not be observed: " + observed_[i].error);
    auto g = ground(true);
    if (!g) return error(g.error().describe());
    if (goals_hold(*g)) {
      // Nothing left to do: a maintenance an interrupted run left open is over.
      if (command_ == "apply" && journal_)
        if (auto s = journal_->close_priors(); !s) return error(s.error().describe());
      return {"in_sync", kExitOk, 0, 0};
    }
    auto plan = make_plan(*g);
    if (!plan) return refused(plan.error().message + (plan.error().constraint.empty() ? "" : " [" + plan.error().constraint + "]"));
    describe_plan(*g, *plan);
    if (!opts_.graph_file.empty()) write_graph(*g, *plan);
    if (command_ == "plan") return {"changes_pending", kExitPending, 0, 0};
    return apply(std::move(*g), std::move(*plan));
  }

 private:
  const std::string command_;
  const Manifest& m_;
  const TypeRegistry& types_;
  TransportSet& transports_;
  Journal* journal_;
  const std::function<Result<std::int64_t>()>& begin_run_;
  std::vector<ResourceResult>& results_;
  Report& report_;
  const GlobalOptions& opts_;
  const bool resumed_;

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
  std::int64_t run_id_ = 0;
  int seq_ = 0;
  std::mutex mu_;  ///< the journal and the state below, while node chains run side by side
  /// CONVERGE_TEST_KILL_AT_STEP=N: SIGKILL itself once step N's outcome is journaled
  /// (the crash tests' step boundaries).
  const int kill_at_step_ = std::getenv("CONVERGE_TEST_KILL_AT_STEP") ? std::atoi(std::getenv("CONVERGE_TEST_KILL_AT_STEP")) : 0;
  int changes_ = 0;
  int failures_ = 0;

  PlannedOutcome error(const std::string& msg) {
    report_.diagnostics.push_back(make_error(ErrorCode::action_failed, scrub(msg)));
    return {"failed", kExitError, changes_, failures_ + 1};
  }

  /// `text` with every value the manifest marks sensitive replaced by "(sensitive)" (a
  /// refusal or a verify message names goal values).
  std::string scrub(std::string text) const {
    for (const auto& r : m_.resources)
      for (const auto& k : r.sensitive)
        if (const Value* v = r.prop(k); v && !v->is_null()) {
          const std::string secret = v->to_string();
          if (secret.size() < 3) continue;
          for (std::size_t at; (at = text.find(secret)) != std::string::npos;) text.replace(at, secret.size(), "(sensitive)");
        }
    return text;
  }

  PlannedOutcome refused(const std::string& raw) {
    const std::string msg = scrub(raw);
    report_.diagnostics.push_back(make_error(ErrorCode::refused, "refused: " + msg));
    report_.extra["refusal"] = msg;
    return {"refused", kExitRefused, changes_, failures_};
  }

  void progress(const std::string& line) const {
    if (opts_.progress && !opts_.quiet && !opts_.json) std::fprintf(stderr, "%s\n", line.c_str());
  }

  /// The node facts and run preconditions of the included type files, from the registry.
  void load_type_files() {
    datatype::FileDeclarations d = datatype::declarations(types_);
    facts_ = std::move(d.facts);
    preconditions_ = std::move(d.preconditions);
  }

  Transport* transport(const std::string& node) const { return transports_.find(node); }

  Observation observe_subject(const Subject& s) const {
    Transport* t = transport(s.spec.node);
    if (!t) return Observation::unknown("node " + s.spec.node + " has no transport");
    return types_.find(s.spec.type)->provider->observe(s.spec, *t);
  }

  /// After an interrupted run a node may still be restarting from its last step: wait for
  /// every node to answer (up to the reboot timeout), then observe again.
  void wait_for_nodes() {
    auto deadline = Clock::now() + std::chrono::milliseconds(opts_.reboot_timeout_ms);
    bool waited = false;
    for (;;) {
      bool all = true;
      for (const auto& n : m_.nodes) all = all && reachable_.count(n.name);
      if (all || Clock::now() >= deadline) break;
      if (!waited) progress("waiting for nodes restarted by the interrupted run to come back");
      waited = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      observe_nodes();
    }
    if (waited) observe(false);
  }

  /// Observes every subject (declared ones from observe_all's results on the first pass)
  /// and every node's facts.
  void observe(bool first) {
    observed_.resize(subjects_.size());
    parallel_for(static_cast<int>(subjects_.size()), opts_.parallel, [&](int i) {
      const Subject& s = subjects_[i];
      if (first && s.manifest_index >= 0) observed_[i] = results_[s.manifest_index].before;
      else observed_[i] = observe_subject(s);
    });
    observe_nodes();
  }

  void observe_nodes() {
    node_facts_.clear();
    reachable_.clear();
    for (const auto& n : m_.nodes) {
      Transport* t = transport(n.name);
      if (!t || !t->boot_id()) continue;
      reachable_.insert(n.name);
      for (const auto& f : facts_) {
        if (!f.probe) continue;
        auto rd = datatype::run_probe(*f.probe, datatype::DataType{}, {{"node", n.name}, {"name", n.name}}, *t);
        if (rd.verdict == datatype::ProbeReading::Verdict::present && rd.props.count("value"))
          node_facts_[n.name + "/@" + f.name] = rd.props["value"];
      }
    }
    for (const auto& [k, v] : derived_facts_) node_facts_[k] = v;
  }

  /// `prior` desired values: the journal's outstanding prior, else (first run of a
  /// maintenance) the value observed now, recorded before anything changes when `record`.
  Status resolve_priors(bool record) {
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
          if (!v.is_null() && k != "_prior") declared.insert(k);
        if (const Value* pl = orig.prop("_prior"); pl && pl->is_list())
          for (const auto& p : pl->as_list()) {
            const std::string prop = p.to_string();
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

  static Value value_from_json(const nlohmann::json& j) {
    if (j.is_null()) return {};
    if (j.is_boolean()) return Value(j.get<bool>());
    if (j.is_number_integer()) return Value(j.get<std::int64_t>());
    if (j.is_string()) return Value(j.get<std::string>());
    return Value(j.dump());
  }

  /// The report's per-resource results from the latest observation.
  void refresh_results(const std::set<std::string>& changed) {
    for (std::size_t i = 0; i < subjects_.size(); ++i) {
      const Subject& s = subjects_[i];
      if (s.manifest_index < 0) continue;
      ResourceResult& r = results_[s.manifest_index];
      r.before = observed_[i];
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

  PlannedOutcome check_outcome() {
    Tally t = tally(results_);
    if (t.failed) return {"failed", kExitError, 0, t.failed};
    if (t.pending) return {"drift", kExitPending, 0, 0};
    return {"in_sync", kExitOk, 0, 0};
  }

  /// Run preconditions; the refusal text, or empty.
  std::string preconditions() {
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
            report_.notes.push_back("note: precondition " + c.subject + " cannot be read on " + who +
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
        report_.notes.push_back("precondition " + c.subject + ": " + who + " " + format_duration_ms(age * 1000) + " old (max_age " +
                                format_duration_ms(c.seconds * 1000) + "): ok");
        ++checked;
      }
      if (checked == 0) return "precondition " + c.subject + ": no " + p->type + " resource is declared";
    }
    return {};
  }

  Result<Grounded> ground(bool manifest_goals) {
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

  static bool goals_hold(const Grounded& g) {
    return std::all_of(g.problem.goal.begin(), g.problem.goal.end(),
                       [&](const planning::Condition& c) { return planning::holds(c, g.problem.initial); });
  }

  std::expected<planning::Plan, planning::Refusal> make_plan(Grounded& g, bool node_disruption = true) {
    if (std::getenv("CONVERGE_DUMP_PROBLEM")) dump_problem(g.problem, stderr);
    auto p = planning::plan(g.problem);
    if (!p) return p;
    return grounding::expand_transients(g, *p, node_disruption);
  }

  /// The plan in the report: its text first among the notes (on a terminal, apply prints
  /// it before the progress and keeps only its first line), its JSON under "plan".
  void describe_plan(const Grounded& g, const planning::Plan& p) {
    PlanText d = describe(g, subjects_, p, m_);
    report_.extra["plan"] = std::move(d.json);
    if (command_ == "apply" && opts_.progress && !opts_.quiet && !opts_.json) {
      std::fprintf(stderr, "%s\n", d.text.c_str());
      report_.notes.insert(report_.notes.begin(), d.text.substr(0, d.text.find('\n')));
    } else {
      report_.notes.insert(report_.notes.begin(), d.text);
    }
  }

  void write_graph(const Grounded& g, const planning::Plan& p) {
    if (auto s = write_plan_graph(g, p, opts_.graph_file); !s) report_.diagnostics.push_back(s.error());
    else report_.notes.push_back("plan graph written to " + opts_.graph_file);
  }

  // ---- execution ----

  std::chrono::milliseconds scaled(std::int64_t seconds) const {
    double s = static_cast<double>(seconds);
    if (opts_.lab_speed > 0) s /= opts_.lab_speed;
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
  }

  /// Runs one step's commands, with retries of what may pass (a timeout, an unreachable
  /// node) after a backoff.
  Status run_step(const Grounded& g, int a) {
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
        auto wait = std::chrono::milliseconds(opts_.retry_backoff_ms << (attempt - 1));
        progress("        retry " + std::to_string(attempt) + " of " + std::to_string(opts_.retries) + " in " +
                 std::to_string(wait.count()) + " ms: " + st.error().message);
        std::this_thread::sleep_for(wait);
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
      if (t->describe().starts_with("local")) {
        awaiting_ = {node, boot_before};
        return {};
      }
      return wait_for_boot(*t, node, boot_before);
    }
    return {};
  }

  Status wait_for_boot(Transport& t, const std::string& node, const std::string& before) {
    progress("        waiting for " + node + " to come back");
    auto deadline = Clock::now() + std::chrono::milliseconds(opts_.reboot_timeout_ms);
    while (Clock::now() < deadline) {
      auto b = t.boot_id();
      if (b && *b != before) {
        for (auto it = derived_facts_.begin(); it != derived_facts_.end();)
          it = it->first.starts_with(node + "/@") ? derived_facts_.erase(it) : std::next(it);
        return {};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::unexpected(make_error(ErrorCode::unreachable, node + " did not come back from its restart within " +
                                                                  format_duration_ms(opts_.reboot_timeout_ms)));
  }

  /// After a step: its resource must show what the step set.
  Status verify_step(const Grounded& g, int a, Observation& obs) {
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

  /// What one journaled step came to.
  enum class StepEnd { ok, failed, awaiting, journal_error };

  /// Runs step `i` of `plan`: its row journaled before it acts (and what a transient step
  /// changes recorded as a prior first), the commands with retries, the wait for a new
  /// boot, the re-observation, then its outcome journaled. The apply loop and the safe halt
  /// both go through here, so nothing is ever changed without a record.
  StepEnd run_journaled(const Grounded& g, const planning::Plan& plan, std::size_t i, const std::string& why,
                        const std::string& label, std::map<std::string, Value>& put_back, Error& err) {
    const int a = plan.steps[i].action;
    const int kind = g.step_kind.empty() ? 0 : g.step_kind[i];
    const auto& pa = g.problem.actions[a];
    const auto& ga = g.actions[a];
    const Subject& s = subjects_[ga.subject];
    // Node chains may run concurrently (run_chains): the journal and the shared state are
    // touched under mu_, the commands and the re-observation outside it.
    std::unique_lock lock(mu_);
    std::vector<StepRow> rows(1);
    rows[0].run_id = run_id_;
    rows[0].seq = ++seq_;
    rows[0].resource = s.spec.id();
    rows[0].action = ga.action->name + (kind ? std::string(" (") + step_kind_word(kind) + ")" : "");
    rows[0].reason = why;
    rows[0].before_json = Value(masked(s.spec, observed_[ga.subject].props)).to_json();
    auto journal_failed = [&](const Error& e) {
      err = e;
      return StepEnd::journal_error;
    };
    if (journal_)
      if (auto st = journal_->steps_started(rows); !st) return journal_failed(st.error());
    if (kind == 1 && journal_)
      for (const auto& [k, _] : ga.targets) {
        auto o = observed_[ga.subject].props.find(k);
        Value before = o == observed_[ga.subject].props.end() ? Value() : o->second;
        if (auto st = journal_->record_prior(s.spec.id(), k, before.to_json(), run_id_); !st) return journal_failed(st.error());
        put_back.emplace(grounding::fact_key(s, k), before);
      }
    lock.unlock();
    progress("  [" + label + "] " + pa.node + "  " + pa.name);
    auto start = Clock::now();
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
    if (kill_at_step_ > 0 && seq_ == kill_at_step_) ::kill(::getpid(), SIGKILL);
    if (!st) {
      failed_[s.spec.id()] = st.error().message;
      err = st.error();
      return StepEnd::failed;
    }
    progress("        ok: " + pa.node + " (" +
             std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()) + " ms)");
    observed_[ga.subject] = after;
    touched_.insert(s.spec.id());
    ++step_count_[s.spec.id()];
    ++changes_;
    if (kind == 2)
      for (const auto& [k, _] : ga.targets) put_back.erase(grounding::fact_key(s, k));
    for (const auto& [k, v] : pa.effects)
      if (k.find("/@") != std::string::npos) derived_facts_[k] = v;
    return StepEnd::ok;
  }

  /// The plan as independent per-node chains, when it is one: every step reads and changes
  /// only facts of the node it runs on, no group must stay available, no order constraint
  /// relates nodes and no step restarts the machine converge runs on. Then the chains may
  /// run side by side, as many at once as the tightest max_disrupted allows (each node is
  /// disrupted only within its own chain), so a tier rolls in batches.
  std::optional<std::vector<std::vector<std::size_t>>> node_chains(const Grounded& g, const planning::Plan& plan) const {
    if (!g.problem.available.empty() || !g.problem.order.empty()) return std::nullopt;
    std::map<std::string, std::vector<std::size_t>> by_node;
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      const auto& a = g.problem.actions[plan.steps[i].action];
      for (const auto& c : a.pre)
        if (planning::fact_node(c.fact) != a.node) return std::nullopt;
      for (const auto& [k, _] : a.effects)
        if (planning::fact_node(k) != a.node) return std::nullopt;
      if (g.actions[plan.steps[i].action].action->boots) return std::nullopt;
      by_node[a.node].push_back(i);
    }
    if (by_node.size() < 2) return std::nullopt;
    // In the plan's order of first appearance.
    std::vector<std::pair<std::size_t, std::string>> first;
    for (const auto& [node, steps] : by_node) first.push_back({steps.front(), node});
    std::sort(first.begin(), first.end());
    std::vector<std::vector<std::size_t>> out;
    for (const auto& [_, node] : first) out.push_back(by_node[node]);
    return out;
  }

  /// Runs node chains side by side; on the first failure no chain starts another step.
  /// Returns the failed step and its error, if any.
  std::optional<std::pair<std::size_t, Error>> run_chains(const Grounded& g, const planning::Plan& plan,
                                                          const std::vector<std::vector<std::size_t>>& chains,
                                                          const std::vector<std::string>& whys, std::map<std::string, Value>& put_back) {
    int width = opts_.parallel > 0 ? opts_.parallel : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (const auto& m : g.problem.max_disrupted) width = std::min(width, std::max(1, m.k));
    width = std::min<int>(width, static_cast<int>(chains.size()));
    report_.notes.push_back("ran " + std::to_string(chains.size()) + " independent node chains, " + std::to_string(width) +
                            " at a time");
    report_.extra["chains"] = {{"count", chains.size()}, {"at_once", width}};
    std::atomic<bool> stop{false};
    std::mutex failure_mu;
    std::optional<std::pair<std::size_t, Error>> failure;
    parallel_for(static_cast<int>(chains.size()), width, [&](int c) {
      for (std::size_t i : chains[c]) {
        if (stop) return;
        Error err;
        const std::string label = std::to_string(i + 1) + "/" + std::to_string(plan.steps.size());
        if (run_journaled(g, plan, i, whys[i], label, put_back, err) != StepEnd::ok) {
          std::lock_guard l(failure_mu);
          if (!failure) failure = std::make_pair(i, err);
          stop = true;
          return;
        }
      }
    });
    return failure;
  }

  /// A transient change or a `prior` of a sensitive property would put its value in the
  /// journal: refused before anything runs. Empty when none.
  std::string sensitive_transient(const Grounded& g, const planning::Plan& plan) const {
    for (std::size_t i = 0; i < plan.steps.size(); ++i) {
      if (g.step_kind.empty() || g.step_kind[i] != 1) continue;
      const auto& ga = g.actions[plan.steps[i].action];
      for (const auto& [k, _] : ga.targets)
        if (subjects_[ga.subject].spec.sensitive.count(k))
          return "a transient change of " + subjects_[ga.subject].spec.id() + "'s sensitive property " + k +
                 " would put its value in the journal";
    }
    return {};
  }

  PlannedOutcome apply(Grounded g, planning::Plan plan) {
    if (std::string why = sensitive_transient(g, plan); !why.empty()) return refused(why);
    auto id = begin_run_();
    if (!id) return error(id.error().describe());
    run_id_ = *id;
    report_.run_id = run_id_;
    if (auto s = resolve_priors(true); !s) return error(s.error().describe());
    std::map<std::string, Value> put_back;  // transient facts changed and not yet restored
    for (int round = 0; round < 4; ++round) {
      if (round > 0) progress("re-planning from a fresh observation (round " + std::to_string(round + 1) + ")");
      const auto whys = explain_steps(g, subjects_, plan);
      if (auto chains = node_chains(g, plan)) {
        if (auto failed = run_chains(g, plan, *chains, whys, put_back))
          return halt(g, g.problem.actions[plan.steps[failed->first].action], failed->second, put_back);
      } else {
        for (std::size_t i = 0; i < plan.steps.size(); ++i) {
          Error err;
          const std::string label = std::to_string(i + 1) + "/" + std::to_string(plan.steps.size());
          switch (run_journaled(g, plan, i, whys[i], label, put_back, err)) {
            case StepEnd::ok: break;
            case StepEnd::awaiting: return await_reboot();
            case StepEnd::failed:
            case StepEnd::journal_error:
              // A journal that cannot record is a failure like any other: halt. The halt's
              // own steps are journaled too, so with the journal still failing nothing more runs.
              return halt(g, g.problem.actions[plan.steps[i].action], err, put_back);
          }
        }
      }
      // A fresh look: everything the plan aimed for must hold now; else plan again.
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

  static constexpr const char* kAwaitKey = "awaiting_reboot";

  /// The step restarted the machine converge runs on: journal it, remember which boot to
  /// wait for, and end the run.
  PlannedOutcome await_reboot() {
    nlohmann::json j = {{"run", run_id_},
                        {"node", awaiting_.first},
                        {"boot_id", awaiting_.second},
                        {"since", std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::system_clock::now().time_since_epoch()).count()}};
    if (journal_)
      if (auto ms = journal_->set_meta(kAwaitKey, j.dump()); !ms) return error(ms.error().describe());
    refresh_results(touched_);
    report_.notes.push_back("awaiting reboot: " + awaiting_.first +
                            " is restarting (it is the machine converge runs on); run converge again once it is back: "
                            "the next run continues this one");
    return {"awaiting_reboot", kExitPending, changes_, 0};
  }

  /// A run left awaiting a reboot: continue once the node's boot id changed; until then,
  /// do nothing and say so. Returns an outcome when this run must stop.
  std::optional<PlannedOutcome> check_awaited_reboot() {
    if (!journal_) return std::nullopt;
    auto m = journal_->meta(kAwaitKey);
    if (!m || !*m || (*m)->empty()) return std::nullopt;
    auto j = nlohmann::json::parse(**m, nullptr, false);
    if (j.is_discarded() || !j.contains("node")) return std::nullopt;
    const std::string node = j["node"].get<std::string>();
    Transport* t = transport(node);
    auto now = t ? t->boot_id() : Result<std::string>(std::unexpected(make_error(ErrorCode::unreachable, "no transport")));
    const std::int64_t since = j.value("since", std::int64_t{0});
    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const bool given_up = (now_s - since) * 1000 > opts_.reboot_timeout_ms;
    if (now && *now == j.value("boot_id", std::string()) && !given_up) {
      report_.notes.push_back("still awaiting the restart of " + node + " requested by run #" +
                              std::to_string(j.value("run", 0)) + ": nothing done (after --reboot-timeout, " +
                              format_duration_ms(opts_.reboot_timeout_ms) + ", the next run stops waiting and plans afresh)");
      return PlannedOutcome{"awaiting_reboot", kExitPending, 0, 0};
    }
    if (now && *now == j.value("boot_id", std::string())) {
      if (auto s = journal_->set_meta(kAwaitKey, ""); !s) return error(s.error().describe());
      report_.notes.push_back("note: " + node + " did not restart within " + format_duration_ms(opts_.reboot_timeout_ms) +
                              " of run #" + std::to_string(j.value("run", 0)) + "'s request; planning afresh");
      return std::nullopt;
    }
    if (!now) return std::nullopt;  // not back yet: the observation below reports it
    if (auto s = journal_->set_meta(kAwaitKey, ""); !s) return error(s.error().describe());
    report_.notes.push_back("note: " + node + " restarted (new boot id); continuing the work of run #" +
                            std::to_string(j.value("run", 0)));
    return std::nullopt;
  }

  PlannedOutcome finish() {
    refresh_results(touched_);
    if (journal_)
      if (auto s = journal_->close_priors(); !s) return error(s.error().describe());
    Tally t = tally(results_);
    if (t.failed || t.pending) return {"failed", kExitError, changes_, t.failed};
    return {changes_ ? "converged" : "in_sync", kExitOk, changes_, 0};
  }

  /// Safe halt: no further planned step; transient changes and available groups put back
  /// with a plan of steps that disrupt no node.
  PlannedOutcome halt(const Grounded& g, const planning::Action& failed, const Error& e, std::map<std::string, Value> put_back) {
    ++failures_;
    std::string what = failed.name + " on " + failed.node + " failed: " + e.message;
    report_.diagnostics.push_back(make_error(ErrorCode::action_failed, what));
    progress("  halting: " + what);
    std::string safe_note;
    observe(false);
    std::map<std::string, Value> goals = put_back;
    for (const auto& av : g.problem.available) {
      auto was = g.problem.initial.find(av.online_fact);
      if (was != g.problem.initial.end() && was->second == Value(true)) goals[av.online_fact] = Value(true);
    }
    // Prior values the manifest declares and earlier runs' outstanding restores too.
    for (std::size_t i = 0; i < subjects_.size(); ++i) {
      const Subject& s = subjects_[i];
      if (s.manifest_index < 0) continue;
      if (const Value* pl = m_.resources[s.manifest_index].prop("_prior"); pl && pl->is_list())
        for (const auto& p : pl->as_list())
          if (const Value* v = s.spec.prop(p.to_string()); v && !v->is_null()) goals.emplace(grounding::fact_key(s, p.to_string()), *v);
    }
    for (const auto& [k, v] : restore_) goals.emplace(k, v);
    // Subjects that cannot be observed (a node that did not come back) drop out.
    restore_ = goals;
    auto safe = ground(false);
    if (safe) {
      for (auto& a : safe->problem.actions)
        if (a.disruption == planning::Disruption::node) a.search = false;
      safe->problem.max_expansions = 200'000;
      if (goals_hold(*safe)) {
        safe_note = "nothing to put back";
      } else if (auto p = make_plan(*safe, false)) {
        int done = 0;
        const auto whys = explain_steps(*safe, subjects_, *p);
        for (std::size_t i = 0; i < p->steps.size(); ++i) {
          Error err;
          const std::string label = "safe " + std::to_string(i + 1) + "/" + std::to_string(p->steps.size());
          StepEnd end = run_journaled(*safe, *p, i, "safe halt; " + whys[i], label, put_back, err);
          if (end != StepEnd::ok) {
            safe_note = "putting back failed at " + safe->problem.actions[p->steps[i].action].name + ": " + err.message;
            break;
          }
          ++done;
        }
        if (safe_note.empty()) safe_note = std::to_string(done) + " steps put transient changes and groups back";
      } else {
        safe_note = "no safe way to put everything back: " + p.error().message;
      }
    } else {
      safe_note = "cannot plan the safe halt: " + safe.error().message;
    }
    observe(false);
    if (auto r = resolve_priors(false); !r) report_.diagnostics.push_back(r.error());
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
          if (r.status == "converged" || r.status == "in_sync") break;
          if (r.status == "halted" || r.status == "failed") ++failed_runs;
        }
    std::string halt_text = "halted safely after " + what + ": " + safe_note +
                            ". No further planned step ran. A rerun observes afresh, plans from there and finishes the job "
                            "(prior values stay in the journal).";
    report_.notes.push_back(halt_text);
    report_.extra["halt"] = halt_text;
    if (threshold >= 0 && failed_runs >= threshold) {
      report_.notes.push_back("failure threshold reached (halt_after_failures " + std::to_string(threshold) + ": " +
                              std::to_string(failed_runs) + " failed run" + (failed_runs == 1 ? "" : "s") +
                              " in this maintenance)");
      return {"halted", kExitRefused, changes_, failures_};
    }
    if (threshold >= 0)
      report_.notes.push_back("failed run " + std::to_string(failed_runs) + " of the " + std::to_string(threshold) +
                              " this maintenance allows (halt_after_failures)");
    return {"failed", kExitError, changes_, failures_};
  }
};

}  // namespace

bool runs_planned(const Manifest& m, const TypeRegistry& types) {
  for (const auto& r : m.resources)
    if (const TypeEntry* e = types.find(r.type); e && datatype::data_type(*e)) return true;
  return false;
}

PlannedOutcome run_planned(const std::string& command, const Manifest& m, const TypeRegistry& types, TransportSet& transports,
                           Journal* journal, const std::function<Result<std::int64_t>()>& begin_run,
                           std::vector<ResourceResult>& results, Report& report, const GlobalOptions& opts, bool resumed) {
  return PlannedRun(command, m, types, transports, journal, begin_run, results, report, opts, resumed).run();
}

}  // namespace converge
