// The generic provider of data-defined types: renders argv templates, runs probes and
// actions through the node's Transport, and reads the outputs with the type's regexes.
#include <algorithm>
#include <regex>
#include <set>

#include "engine/model/diff.h"
#include "engine/model/manifest.h"
#include "resources/datatype_provider.h"
#include "resources/transports.h"

namespace converge::datatype {

namespace {

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }


/// Unmapped captured text, converted by the property's kinds.
Value convert(const std::string& text, const PropertySpec* p, int base) {
  auto accepts = [&](Value::Kind k) { return !p || p->kinds.empty() || std::count(p->kinds.begin(), p->kinds.end(), k) > 0; };
  if (accepts(Value::Kind::integer) && !text.empty()) {
    try {
      std::size_t used = 0;
      long long v = std::stoll(text, &used, base);
      if (used == text.size()) return Value(static_cast<std::int64_t>(v));
    } catch (const std::exception&) {
    }
  }
  if (accepts(Value::Kind::boolean)) {
    std::string l = text;
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (l == "true") return Value(true);
    if (l == "false") return Value(false);
  }
  return Value(text);
}

const PropertySpec* prop_of(const DataType& t, const std::string& name) {
  for (const auto& p : t.properties)
    if (p.name == name) return &p;
  return nullptr;
}

/// The command for a message: a script argument (several lines, or long) shows its first
/// line, cut, so that the error is read rather than the script.
std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    std::string shown = a.substr(0, a.find('\n'));
    if (shown.size() > 60) shown = shown.substr(0, 57);
    if (shown.size() < a.size()) shown += "...";
    s += (s.empty() ? "" : " ") + shown;
  }
  return s;
}

/// Observed values in the form the resource states them: a property that takes a string or
/// an integer reads "32768" as the integer, which a manifest may have written as the
/// string "32768" (a sysctl's value): the same text is the same value.
Map as_stated(Map props, const ResourceSpec& r) {
  for (auto& [k, v] : props)
    if (const Value* want = r.prop(k); want && v.is_int() && want->is_string() && v.to_string() == want->as_string()) v = *want;
  return props;
}

}  // namespace

ProbeReading read_probe(const Probe& p, const DataType& t, int exit_code, const std::string& out, const std::string& err) {
  ProbeReading r;
  if (contains(p.absent_exit, exit_code)) {
    r.verdict = ProbeReading::Verdict::absent;
    return r;
  }
  if (!contains(p.present_exit, exit_code)) {
    r.error = "exited " + std::to_string(exit_code);
    if (auto e = Secrets().tail(err.empty() ? out : err); !e.empty()) r.error += ": " + e;
    return r;
  }
  for (const auto& c : p.captures) {
    std::string text;
    bool found = true;
    if (c.regex.empty()) {
      text = std::to_string(exit_code);
    } else {
      std::regex re(c.regex, std::regex::ECMAScript | std::regex::multiline);
      std::smatch m;
      found = std::regex_search(out, m, re) || (c.stderr_too && std::regex_search(err, m, re));
      if (found) text = m[1].str();
    }
    if (!found) {
      if (!c.fallback) {
        r.error = "no match for /" + c.regex + "/ (property " + c.property + ") in the output";
        return r;
      }
      r.props[c.property] = *c.fallback;
      continue;
    }
    if (c.map.empty()) {
      r.props[c.property] = convert(text, prop_of(t, c.property), c.base);
    } else if (auto it = c.map.find(text); it != c.map.end()) {
      r.props[c.property] = it->second;
    } else {
      r.error = "unexpected value '" + text + "' for property " + c.property;
      return r;
    }
  }
  r.verdict = ProbeReading::Verdict::present;
  return r;
}

namespace {

/// A probe's request: its argv rendered, two minutes at most.
Result<ExecRequest> probe_request(const Probe& p, const std::map<std::string, std::string>& vars) {
  CONVERGE_TRY(auto argv, render_argv(p.argv, vars));
  ExecRequest req;
  req.argv = std::move(argv);
  req.timeout = std::chrono::minutes(2);
  return req;
}

/// Reads what running `req` gave, as run_probe() does.
ProbeReading reading(const Probe& p, const DataType& t, const ExecRequest& req, const Result<ExecResult>& res) {
  ProbeReading unknown;
  if (!res) {
    unknown.error = res.error().describe();
    return unknown;
  }
  if (res->timed_out) {
    unknown.error = "`" + command_line(req.argv) + "` timed out";
    return unknown;
  }
  ProbeReading rd = read_probe(p, t, res->exit_code, res->out, res->err);
  if (rd.verdict == ProbeReading::Verdict::unknown) rd.error = "`" + command_line(req.argv) + "`: " + rd.error;
  return rd;
}

}  // namespace

ProbeReading run_probe(const Probe& p, const DataType& t, const std::map<std::string, std::string>& vars, Transport& target) {
  auto req = probe_request(p, vars);
  if (!req) {
    ProbeReading unknown;
    unknown.error = req.error().message;
    return unknown;
  }
  return reading(p, t, *req, target.run(*req));
}

ObservationBatch probe_batch(std::vector<ProbeCall> calls) {
  ObservationBatch b;
  b.calls = std::move(calls);
  b.unrendered.assign(b.calls.size(), "");
  for (std::size_t i = 0; i < b.calls.size(); ++i) {
    auto req = probe_request(*b.calls[i].probe, b.calls[i].vars);
    if (!req) {
      b.unrendered[i] = req.error().message;
      continue;
    }
    b.requests.push_back(std::move(*req));
    b.which.push_back(i);
  }
  return b;
}

std::vector<ProbeReading> read_probe_batch(const ObservationBatch& b, const std::vector<Result<ExecResult>>& results) {
  std::vector<ProbeReading> readings(b.calls.size());
  for (std::size_t i = 0; i < b.calls.size(); ++i) readings[i].error = b.unrendered[i];
  for (std::size_t k = 0; k < b.which.size(); ++k)
    readings[b.which[k]] = reading(*b.calls[b.which[k]].probe, *b.calls[b.which[k]].type, b.requests[k], results[k]);
  return readings;
}

std::vector<ProbeReading> run_probes(const std::vector<ProbeCall>& calls, Transport& target) {
  const ObservationBatch b = probe_batch(calls);
  return read_probe_batch(b, target.run_batch(b.requests));
}

ObservationBatch observation_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs) {
  std::vector<ProbeCall> calls;
  for (const auto& [r, t] : rs) {
    auto vars = action_vars(*t, *r, nullptr);
    for (const auto& p : t->observe) calls.push_back({&p, t, vars});
  }
  return probe_batch(std::move(calls));
}

std::vector<Observation> read_observation_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs,
                                                const ObservationBatch& b, const std::vector<Result<ExecResult>>& results) {
  const std::vector<ProbeReading> readings = read_probe_batch(b, results);
  std::vector<Observation> out;
  std::size_t k = 0;
  for (const auto& [r, t] : rs) {
    std::optional<Observation> obs;
    Map props;
    for (std::size_t j = 0; j < t->observe.size(); ++j, ++k) {
      if (obs) continue;  // decided by an earlier probe of this resource
      const ProbeReading& rd = readings[k];
      if (rd.verdict == ProbeReading::Verdict::absent) obs = Observation::absent();
      else if (rd.verdict == ProbeReading::Verdict::unknown) obs = Observation::unknown(rd.error);
      else
        for (const auto& [key, v] : rd.props) props[key] = v;
    }
    out.push_back(obs ? std::move(*obs) : Observation::present(as_stated(std::move(props), *r)));
  }
  return out;
}

std::vector<Observation> observe_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs,
                                       Transport& target) {
  const ObservationBatch b = observation_batch(rs);
  return read_observation_batch(rs, b, target.run_batch(b.requests));
}

Status run_commands(const DataType& type, const ActionDef& a, const ResourceSpec& r, Transport& target,
                    std::chrono::milliseconds timeout) {
  auto v = action_vars(type, r, &a);
  for (const auto& cmd : a.commands) {
    auto argv = render_argv(cmd.argv, v);
    if (!argv) return std::unexpected(make_error(ErrorCode::internal, "action " + a.name + ": " + argv.error().message));
    ExecRequest req;
    req.argv = std::move(*argv);
    req.timeout = timeout;
    CONVERGE_TRY(ExecResult res, target.run(req));
    std::string line = command_line(req.argv);
    if (res.timed_out) return std::unexpected(make_error(ErrorCode::timeout, "`" + line + "` timed out"));
    if (!contains(cmd.ok_exit, res.exit_code)) {
      std::string msg = "`" + line + "` exited " + std::to_string(res.exit_code);
      if (auto e = Secrets(r).tail(res.err.empty() ? res.out : res.err); !e.empty()) msg += ": " + e;
      return std::unexpected(make_error(ErrorCode::action_failed, msg));
    }
  }
  return {};
}

namespace {

/// The generic provider: observe runs the probes, apply runs the matching actions.
class DataProvider final : public Provider {
 public:
  explicit DataProvider(std::shared_ptr<const DataType> t) : def_(std::move(t)), t_(*def_) {}

  Observation observe(const ResourceSpec& r, Transport& t) const override {
    Map props;
    for (const auto& p : t_.observe) {
      ProbeReading rd = run_probe(p, t_, action_vars(t_, r, nullptr), t);
      if (rd.verdict == ProbeReading::Verdict::absent) return Observation::absent();
      if (rd.verdict == ProbeReading::Verdict::unknown) return Observation::unknown(rd.error);
      for (auto& [k, v] : rd.props) props[k] = std::move(v);
    }
    return Observation::present(as_stated(std::move(props), r));
  }

  Status apply(const ResourceSpec& r, const Observation& before, const ResourceChanges& changes, Transport& t,
               ApplyContext&) const override {
    std::set<std::string> handled;
    for (const auto& a : t_.actions) {
      bool wanted = false;
      for (const auto& c : changes.properties)
        wanted = wanted || (!handled.count(c.property) && a.can_set(c.property, c.after));
      if (!wanted) continue;
      CONVERGE_CHECK(run_action(a, r, before, t));
      for (const auto& [p, _] : a.sets) handled.insert(p);
    }
    for (const auto& c : changes.properties)
      if (!handled.count(c.property))
        return std::unexpected(make_error(ErrorCode::action_failed, "type " + t_.name + " has no action that sets " +
                                                                        c.property + " to " + c.after.to_string()));
    return {};
  }

  bool refreshable(const ResourceSpec&) const override { return !t_.refresh.empty(); }

  Status refresh(const ResourceSpec& r, bool, Transport& t) const override {
    const ActionDef* a = t_.find_action(t_.refresh);
    return a ? run_action(*a, r, Observation{}, t) : Status{};
  }

 private:
  Status run_action(const ActionDef& a, const ResourceSpec& r, const Observation& before, Transport& t) const {
    Transport* target = &t;
    if (!a.run_on.empty()) {
      auto it = before.props.find(a.run_on);
      auto* cluster = dynamic_cast<ClusterTransport*>(&t);
      if (cluster && it != before.props.end()) {
        target = cluster->member(it->second.to_string());
        if (!target)
          return std::unexpected(make_error(ErrorCode::action_failed, "action " + a.name + " must run on " +
                                                                          it->second.to_string() + ", not a member of " + r.node));
      }
    }
    return run_commands(t_, a, r, *target, std::chrono::seconds(a.duration_seconds * 3 + 300));
  }

  std::shared_ptr<const DataType> def_;
  const DataType& t_;
};

}  // namespace

std::shared_ptr<const Provider> make_data_provider(std::shared_ptr<const DataType> t) {
  return std::make_shared<DataProvider>(std::move(t));
}

}  // namespace converge::datatype
