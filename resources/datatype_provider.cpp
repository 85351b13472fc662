// The generic provider of data-defined types: renders argv templates, runs probes and
// actions through the node's Transport, and reads the outputs with the type's regexes.
#include <algorithm>
#include <regex>
#include <set>

#include "engine/model/diff.h"
#include "engine/model/manifest.h"
#include "resources/datatype.h"
#include "resources/transports.h"

namespace converge::datatype {

const char* scope_word(Scope s) { return s == Scope::cluster ? "cluster" : "node"; }

const char* disruption_word(Disruption d) {
  switch (d) {
    case Disruption::none: return "none";
    case Disruption::resource: return "resource";
    case Disruption::node: return "node";
  }
  return "?";
}

bool Action::can_set(const std::string& prop, const Value& desired) const {
  auto it = sets.find(prop);
  return it != sets.end() && (it->second == Value(kDesired) || it->second == desired);
}

const Action* DataType::find_action(const std::string& n) const {
  for (const auto& a : actions)
    if (a.name == n) return &a;
  return nullptr;
}

Result<std::string> render_element(const std::string& tmpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    char ch = tmpl[i];
    if ((ch == '{' || ch == '}') && i + 1 < tmpl.size() && tmpl[i + 1] == ch) {
      out += ch;
      ++i;
    } else if (ch == '{') {
      auto close = tmpl.find('}', i);
      if (close == std::string::npos)
        return std::unexpected(make_error(ErrorCode::invalid_input, "unclosed '{' in '" + tmpl + "' (write {{ for a brace)"));
      std::string key = tmpl.substr(i + 1, close - i - 1);
      auto it = vars.find(key);
      if (it == vars.end()) {
        std::string known;
        for (const auto& [k, _] : vars) known += (known.empty() ? "" : ", ") + ("{" + k + "}");
        return std::unexpected(make_error(ErrorCode::invalid_input, "unknown placeholder {" + key + "} (known: " + known + ")"));
      }
      out += it->second;
      i = close;
    } else if (ch == '}') {
      return std::unexpected(make_error(ErrorCode::invalid_input, "stray '}' in '" + tmpl + "' (write }} for a brace)"));
    } else {
      out += ch;
    }
  }
  return out;
}

Result<std::vector<std::string>> render_argv(const std::vector<std::string>& tmpl, const std::map<std::string, std::string>& vars) {
  std::vector<std::string> out;
  out.reserve(tmpl.size());
  for (const auto& t : tmpl) {
    CONVERGE_TRY(std::string s, render_element(t, vars));
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

bool contains(const std::vector<int>& v, int x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string tail(const std::string& s, std::size_t n = 400) {
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r')) t.pop_back();
  while (!t.empty() && (t.front() == '\n' || t.front() == '\r')) t.erase(t.begin());
  return t;
}

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

std::string command_line(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
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
    if (auto e = tail(err.empty() ? out : err); !e.empty()) r.error += ": " + e;
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

ProbeReading run_probe(const Probe& p, const DataType& t, const std::map<std::string, std::string>& vars, Transport& target) {
  ProbeReading unknown;
  auto argv = render_argv(p.argv, vars);
  if (!argv) {
    unknown.error = argv.error().message;
    return unknown;
  }
  ExecRequest req;
  req.argv = std::move(*argv);
  req.timeout = std::chrono::minutes(2);
  auto res = target.run(req);
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

std::map<std::string, std::string> action_vars(const DataType& type, const ResourceSpec& r, const Action* a) {
  std::map<std::string, std::string> v{{"name", r.name}, {"node", r.node}};
  if (type.scope == Scope::cluster) v["cluster"] = r.node;
  for (const auto& p : type.properties) {
    const Value* val = r.prop(p.name);
    std::string text = val && !val->is_null() ? val->to_string() : "";
    if (a)
      if (auto m = a->values.find(p.name); m != a->values.end())
        if (auto e = m->second.find(text); e != m->second.end()) text = e->second;
    v["prop." + p.name] = text;
  }
  return v;
}

Status run_commands(const DataType& type, const Action& a, const ResourceSpec& r, Transport& target,
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
      if (auto e = tail(res.err.empty() ? res.out : res.err); !e.empty()) msg += ": " + e;
      return std::unexpected(make_error(ErrorCode::action_failed, msg));
    }
  }
  return {};
}

namespace {

/// The generic provider: observe runs the probes, apply runs the matching actions.
class DataProvider final : public Provider {
 public:
  explicit DataProvider(DataType t) : t_(std::move(t)) {}
  const DataType& definition() const { return t_; }

  /// Refuses desired values for observed-only properties. A desired `prior` is accepted and,
  /// until the journal-backed meaning exists, means "not managed yet": the property becomes
  /// null (the diff skips null) and its name is kept in the `_prior` parameter so that the
  /// engine can later journal and restore the value it had before the run.
  std::expected<void, PropertyError> canonicalize(Map& props) const override {
    List prior;
    for (auto& [name, v] : props) {
      auto x = t_.extras.find(name);
      if (x == t_.extras.end()) continue;
      if (x->second.observed_only && !v.is_null())
        return std::unexpected(PropertyError{name, "is observed only; it cannot be given a desired value"});
      if (x->second.accepts_prior && v == Value(kPrior)) {
        prior.push_back(Value(name));
        v = Value();
      }
    }
    if (!prior.empty()) props["_prior"] = Value(std::move(prior));
    return {};
  }

  Observation observe(const ResourceSpec& r, Transport& t) const override {
    Map props;
    for (const auto& p : t_.observe) {
      ProbeReading rd = run_probe(p, t_, action_vars(t_, r, nullptr), t);
      if (rd.verdict == ProbeReading::Verdict::absent) return Observation::absent();
      if (rd.verdict == ProbeReading::Verdict::unknown) return Observation::unknown(rd.error);
      for (auto& [k, v] : rd.props) props[k] = std::move(v);
    }
    return Observation::present(std::move(props));
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

 private:
  Status run_action(const Action& a, const ResourceSpec& r, const Observation& before, Transport& t) const {
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

  DataType t_;
};

}  // namespace

TypeEntry make_type_entry(DataType t) {
  TypeSchema s;
  s.name = t.name;
  s.doc = t.doc;
  s.properties = t.properties;
  s.cluster_scoped = t.scope == Scope::cluster;
  bool any_prior = false;
  for (const auto& [_, x] : t.extras) any_prior = any_prior || x.accepts_prior;
  if (any_prior)
    s.properties.push_back({"_prior", {Value::Kind::list}, false, false, std::nullopt, {},
                            "set by the loader: properties whose desired value is `prior`"});
  return TypeEntry{std::move(s), std::make_shared<DataProvider>(std::move(t))};
}

const DataType* data_type(const TypeEntry& e) {
  auto* p = dynamic_cast<const DataProvider*>(e.provider.get());
  return p ? &p->definition() : nullptr;
}

const DataType* data_type(const TypeRegistry& reg, const std::string& type) {
  const TypeEntry* e = reg.find(type);
  return e ? data_type(*e) : nullptr;
}

}  // namespace converge::datatype
