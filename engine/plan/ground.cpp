#include "engine/plan/ground.h"

#include <algorithm>

namespace converge::grounding {

namespace {

using datatype::ConditionDef;
using datatype::DataType;

/// A ground condition before `not_equals` is turned into the fact's other values.
struct Lit {
  std::string fact;
  std::vector<Value> values;
  bool negate = false;
};
using Conj = std::vector<Lit>;

const PropertySpec* prop_of(const DataType& t, const std::string& p) {
  for (const auto& x : t.properties)
    if (x.name == p) return &x;
  return nullptr;
}

bool has_role(const Manifest& m, const std::string& node, const std::string& role) {
  for (const auto& n : m.nodes)
    if (n.name == node) return std::count(n.roles.begin(), n.roles.end(), role) > 0;
  return false;
}

std::string cluster_of(const Manifest& m, const std::string& node) {
  for (const auto& n : m.nodes)
    if (n.name == node) return n.cluster;
  return {};
}

std::vector<std::string> members(const Manifest& m, const std::string& cluster) {
  auto it = m.clusters.find(cluster);
  return it == m.clusters.end() ? std::vector<std::string>{} : it->second;
}

/// The conditions of every action of a type.
std::vector<const ConditionDef*> conditions_of(const DataType& t) {
  std::vector<const ConditionDef*> out;
  for (const auto& a : t.actions) {
    for (const auto& c : a.requires_) out.push_back(&c);
    for (const auto& c : a.transient) out.push_back(&c);
  }
  return out;
}

/// A property that names a node (owner): its values range over the cluster's members.
bool names_node(const DataType& t, const std::string& p) {
  for (const auto& a : t.actions) {
    if (a.run_on == p) return true;
    for (const auto* c : conditions_of(t))
      if (c->on == "observed:" + p || c->on == "desired:" + p) return true;
  }
  return false;
}

/// Every location a condition of `s` may designate (for finding referenced resources).
std::vector<std::string> all_locations(const ConditionDef& c, const Subject& s, const Manifest& m) {
  const bool cluster_scoped = s.type->scope == datatype::Scope::cluster;
  const std::string& loc = s.spec.node;
  if (c.on == "node") return {loc};
  if (c.on == "cluster") {
    if (cluster_scoped) return members(m, loc);
    std::string cl = cluster_of(m, loc);
    return cl.empty() ? std::vector<std::string>{} : std::vector<std::string>{cl};
  }
  if (c.on.starts_with("role:")) {
    std::vector<std::string> out;
    for (const auto& n : m.nodes)
      if (has_role(m, n.name, c.on.substr(5))) out.push_back(n.name);
    return out;
  }
  // observed:P / desired:P name a node: any member of the cluster.
  return cluster_scoped ? members(m, loc) : std::vector<std::string>{loc};
}

class Grounder {
 public:
  explicit Grounder(const Inputs& in) : in_(in), m_(*in.manifest) {}

  Result<Grounded> run() {
    collect_referenced();
    initial();
    goals();
    // Actions act on what exists, and on what the manifest declares even while absent (a
    // first deployment); a referenced resource the node lacks is left alone.
    for (int s = 0; s < static_cast<int>(in_.subjects.size()); ++s) {
      auto st = in_.observed[s].state;
      if (st == Observation::State::present || (st == Observation::State::absent && in_.subjects[s].manifest_index >= 0))
        for (const auto& a : in_.subjects[s].type->actions) ground_action(s, a);
    }
    CONVERGE_CHECK(constraints());
    finish();
    return std::move(g_);
  }

 private:
  const Inputs& in_;
  const Manifest& m_;
  Grounded g_;
  std::set<std::pair<std::string, std::string>> referenced_;  // (type, property) read by a condition
  std::map<std::string, int> subject_at_;                     // "loc/type[name]" -> subject
  std::vector<Conj> pre_;                                     // per action
  std::map<std::string, std::vector<planning::Condition>> goals_of_;  // resource id -> its goal facts (in scope)
  std::vector<Conj> transient_;                               // per action
  std::map<std::string, std::vector<int>> boots_on_;          // node -> its subjects, for boot_effects
  std::vector<char> out_of_scope_;  // per action: on a resource or node --limit/--tags leave out
  std::vector<char> boots_;                                   // per action
  std::vector<std::string> boots_node_;
  std::map<std::string, std::set<std::string>> seen_values_;  // fact -> values as JSON (the domain)
  std::map<std::string, Value> value_of_json_;

  void see(const std::string& fact, const Value& v) {
    std::string j = v.to_json();
    seen_values_[fact].insert(j);
    value_of_json_.emplace(j, v);
  }

  void collect_referenced() {
    for (const auto& s : in_.subjects)
      for (const auto* c : conditions_of(*s.type)) {
        if (c->subject == ConditionDef::Subject::resource) referenced_.insert({c->type, c->property});
        if (c->subject == ConditionDef::Subject::self) referenced_.insert({s.type->name, c->property});
      }
    for (const auto& c : m_.constraints)
      if (c.kind == ConstraintSpec::Kind::available)
        for (const auto& s : in_.subjects)
          if (c.names_group(s.type->name, s.spec.name)) referenced_.insert({s.type->name, "owner"}), referenced_.insert({s.type->name, "online"});
    for (int i = 0; i < static_cast<int>(in_.subjects.size()); ++i) {
      const auto& s = in_.subjects[i];
      subject_at_[s.spec.node + "/" + s.type->name + "[" + s.spec.name + "]"] = i;
    }
  }

  /// The properties that are facts: state properties, and observed ones a condition reads.
  bool is_fact_prop(const DataType& t, const PropertySpec& p) const {
    if (!p.state) return false;
    auto x = t.extras.find(p.name);
    bool observed_only = x != t.extras.end() && x->second.observed_only;
    return !observed_only || referenced_.count({t.name, p.name});
  }

  std::string node_fact(const std::string& node, const std::string& name) { return node + "/@" + name; }

  /// The default of a node fact nobody observed: its after_boot value (as after a boot).
  /// The value a boot gives node fact `key` ("NODE/@name"): the first declared fact that
  /// names it (a `{name}` template covers its instances) and has one.
  std::optional<Value> after_boot(const std::string& key) const {
    const std::string name = key.substr(key.find("/@") + 2);
    for (const auto& f : in_.facts) {
      bool match = f.name == name;
      if (auto brace = f.name.find("{name}"); !match && brace != std::string::npos)
        match = name.starts_with(f.name.substr(0, brace)) && name.size() > brace;
      if (match && f.after_boot) return f.after_boot;
    }
    return std::nullopt;
  }

  void touch_node_fact(const std::string& key) {
    if (g_.problem.initial.count(key)) return;
    if (auto v = after_boot(key)) {
      g_.problem.initial[key] = *v;
      see(key, *v);
    }
  }

  void initial() {
    for (const auto& [k, v] : in_.node_facts) g_.problem.initial[k] = v, see(k, v);
    for (const auto& n : m_.nodes) {
      Value up(in_.reachable.count(n.name) > 0);
      g_.problem.initial[node_fact(n.name, "reachable")] = up;
      see(node_fact(n.name, "reachable"), up);
    }
    for (std::size_t i = 0; i < in_.subjects.size(); ++i) {
      const auto& s = in_.subjects[i];
      const auto& o = in_.observed[i];
      for (const auto& p : s.type->properties) {
        if (!is_fact_prop(*s.type, p)) continue;
        std::string k = fact_key(s, p.name);
        see(k, Value());
        if (o.state != Observation::State::present) continue;
        auto it = o.props.find(p.name);
        Value v = it == o.props.end() ? Value() : it->second;
        g_.problem.initial[k] = v;
        see(k, v);
        for (const auto& a : p.allowed)
          if (a != Value(datatype::kPrior)) see(k, a);
      }
    }
  }

  void goals() {
    for (const auto& s : in_.subjects) {
      if (s.manifest_index < 0 || !in_.manifest_goals) continue;
      for (const auto& p : s.type->properties) {
        if (!is_fact_prop(*s.type, p)) continue;
        auto x = s.type->extras.find(p.name);
        if (x != s.type->extras.end() && x->second.observed_only) continue;
        const Value* v = s.spec.prop(p.name);
        if (!v || v->is_null() || *v == Value(datatype::kPrior)) continue;
        std::string k = fact_key(s, p.name);
        // Left out by --limit/--tags: no goal, but an order constraint still waits for it.
        (s.spec.excluded ? g_.problem.held : g_.problem.goal).push_back({k, {*v}});
        if (!s.spec.excluded) goals_of_[s.spec.id()].push_back({k, {*v}});
        see(k, *v);
      }
    }
    std::set<std::string> left_out;  // facts of resources --limit/--tags leave out
    for (const auto& s : in_.subjects)
      if (s.spec.excluded)
        for (const auto& p : s.type->properties) left_out.insert(fact_key(s, p.name));
    for (const auto& [k, v] : in_.restore) {
      // Left out: a later run that covers it puts it back.
      if ((m_.limit && !m_.limit->count(planning::fact_node(k))) || left_out.count(k)) continue;
      bool declared = false;
      for (const auto& c : g_.problem.goal) declared = declared || c.fact == k;
      if (!declared) g_.problem.goal.push_back({k, {v}}), see(k, v);
    }
  }

  /// The values a property of a subject may be given or may hold.
  std::vector<Value> candidates(int si, const std::string& prop) {
    const Subject& s = in_.subjects[si];
    const PropertySpec* p = prop_of(*s.type, prop);
    std::vector<Value> out;
    auto add = [&](const Value& v) {
      if (!v.is_null() && v != Value(datatype::kPrior) && std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    };
    if (p)
      for (const auto& a : p->allowed) add(a);
    if (!out.empty()) return out;
    if (p && p->kinds.size() == 1 && p->kinds[0] == Value::Kind::boolean) return {Value(false), Value(true)};
    if (s.type->scope == datatype::Scope::cluster && names_node(*s.type, prop)) {
      for (const auto& n : members(m_, s.spec.node)) add(Value(n));
      return out;
    }
    if (const Value* d = s.spec.prop(prop)) add(*d);
    if (auto it = in_.observed[si].props.find(prop); it != in_.observed[si].props.end()) add(it->second);
    return out;
  }

  struct Ctx {
    int subject = -1;
    std::string node;          ///< where the action runs (or the cluster)
    Map targets;               ///< sets
    Map current;               ///< fixed current values of self properties
  };

  Value resolve(const Value& v, const Ctx& c, const std::string& self_prop) {
    const Subject& s = in_.subjects[c.subject];
    if (!v.is_string()) return v;
    if (v == Value(datatype::kDesired)) {
      if (auto it = c.targets.find(self_prop); it != c.targets.end()) return it->second;
      const Value* d = s.spec.prop(self_prop);
      return d ? *d : Value();
    }
    std::map<std::string, std::string> vars{{"node", c.node}, {"name", s.spec.name}};
    for (const auto& p : s.type->properties) {
      if (auto it = c.targets.find(p.name); it != c.targets.end()) vars["prop." + p.name] = it->second.to_string();
      else if (auto cur = c.current.find(p.name); cur != c.current.end()) vars["prop." + p.name] = cur->second.to_string();
    }
    auto r = datatype::render_element(v.as_string(), vars);
    if (!r) return v;
    // A whole-placeholder value keeps the kind of what it stands for.
    const std::string& t = v.as_string();
    if (t.starts_with("{prop.") && t.ends_with("}") && t.find('}') == t.size() - 1) {
      std::string p = t.substr(6, t.size() - 7);
      if (auto it = c.targets.find(p); it != c.targets.end()) return it->second;
      if (auto cur = c.current.find(p); cur != c.current.end()) return cur->second;
    }
    return Value(*r);
  }

  /// The properties of self whose current value a condition reads ({prop.X}, observed:X).
  void read_props(const ConditionDef& c, const datatype::ActionDef& a, std::set<std::string>& out) {
    auto scan = [&](const Value& v) {
      if (!v.is_string()) return;
      const std::string& t = v.as_string();
      for (std::size_t i = t.find("{prop."); i != std::string::npos; i = t.find("{prop.", i + 1)) {
        std::string p = t.substr(i + 6, t.find('}', i) - i - 6);
        if (!a.sets.count(p)) out.insert(p);
      }
    };
    scan(c.value);
    for (const auto& v : c.one_of) scan(v);
    if (c.on.starts_with("observed:")) out.insert(c.on.substr(9));
  }

  /// Locations a condition designates: the set it quantifies over.
  std::vector<std::string> locations(const ConditionDef& c, const Ctx& x) {
    const Subject& s = in_.subjects[x.subject];
    if (c.on.starts_with("observed:")) {
      auto it = x.current.find(c.on.substr(9));
      return it == x.current.end() || it->second.is_null() ? std::vector<std::string>{} : std::vector<std::string>{it->second.to_string()};
    }
    if (c.on.starts_with("desired:")) {
      Value v = resolve(Value(datatype::kDesired), x, c.on.substr(8));
      return v.is_null() ? std::vector<std::string>{} : std::vector<std::string>{v.to_string()};
    }
    return all_locations(c, s, m_);
  }

  /// Ground one condition: alternatives (any), each a conjunction. `transient`: facts of
  /// resources the node lacks are dropped (the requirement holds vacuously there).
  std::vector<Conj> ground_condition(const ConditionDef& c, const Ctx& x, bool transient) {
    const Subject& s = in_.subjects[x.subject];
    if (!c.when_role.empty() && !has_role(m_, x.node, c.when_role)) return {Conj{}};
    std::vector<Value> values;
    std::string self_prop = c.subject == ConditionDef::Subject::fact ? "" : c.property;
    if (c.one_of.empty()) values.push_back(resolve(c.value, x, self_prop));
    for (const auto& v : c.one_of) values.push_back(resolve(v, x, self_prop));
    std::vector<std::string> facts;
    if (c.subject == ConditionDef::Subject::self) {
      facts.push_back(fact_key(s, c.property));
    } else if (c.subject == ConditionDef::Subject::fact) {
      std::string name = c.fact;
      if (auto r = datatype::render_element(name, {{"name", s.spec.name}, {"node", x.node}})) name = *r;
      for (const auto& loc : locations(c, x)) {
        facts.push_back(node_fact(loc, name));
        touch_node_fact(facts.back());
      }
    } else {
      for (const auto& loc : locations(c, x)) {
        std::string prefix = loc + "/" + c.type + "[";
        for (auto it = subject_at_.lower_bound(prefix); it != subject_at_.end() && it->first.starts_with(prefix); ++it) {
          const std::string name = it->first.substr(prefix.size(), it->first.size() - prefix.size() - 1);
          if (c.name != "*" && name != c.name) continue;
          if (it->second == x.subject) continue;  // "every other": a resource's own state is `property`
          if (transient && in_.observed[it->second].state != Observation::State::present) continue;
          facts.push_back(fact_key(in_.subjects[it->second], c.property));
        }
      }
    }
    for (const auto& f : facts)
      for (const auto& v : values) see(f, v);
    if (c.any) {
      std::vector<Conj> alts;
      for (const auto& f : facts) alts.push_back(Conj{Lit{f, values, c.negate}});
      return alts;  // none designated: unsatisfiable
    }
    Conj all;
    for (const auto& f : facts) all.push_back(Lit{f, values, c.negate});
    return {all};
  }

  static std::vector<Map> combos(const std::vector<std::pair<std::string, std::vector<Value>>>& choices) {
    std::vector<Map> out{Map{}};
    for (const auto& [k, vs] : choices) {
      std::vector<Map> next;
      for (const auto& base : out)
        for (const auto& v : vs) {
          Map m = base;
          m[k] = v;
          next.push_back(std::move(m));
        }
      out = std::move(next);
    }
    return out;
  }

  void ground_action(int si, const datatype::ActionDef& a) {
    const Subject& s = in_.subjects[si];
    std::vector<std::pair<std::string, std::vector<Value>>> target_choices, current_choices;
    for (const auto& [p, v] : a.sets) {
      if (v != Value(datatype::kDesired)) {
        target_choices.push_back({p, {v}});
        continue;
      }
      // A property nobody desires and nothing observed: the action leaves it as it is
      // (useradd without a shell), it is not a value to reach.
      std::vector<Value> c = candidates(si, p);
      if (!c.empty()) target_choices.push_back({p, std::move(c)});
    }
    std::set<std::string> read;
    for (const auto& c : a.requires_) read_props(c, a, read);
    for (const auto& c : a.transient) read_props(c, a, read);
    if (!a.run_on.empty()) read.insert(a.run_on);
    for (const auto& p : read) current_choices.push_back({p, candidates(si, p)});
    for (const auto& targets : combos(target_choices))
      for (const auto& current : combos(current_choices)) {
        Ctx x{si, s.spec.node, targets, current};
        if (!a.run_on.empty()) x.node = current.at(a.run_on).to_string();
        // Preconditions: the fixed current values, then every condition (alternatives
        // multiply the action).
        std::vector<Conj> alts{Conj{}};
        for (const auto& [p, v] : current) alts[0].push_back(Lit{fact_key(s, p), {v}, false});
        for (const auto& c : a.requires_) {
          std::vector<Conj> options = ground_condition(c, x, false);
          std::vector<Conj> next;
          for (const auto& base : alts)
            for (const auto& o : options) {
              Conj j = base;
              j.insert(j.end(), o.begin(), o.end());
              next.push_back(std::move(j));
            }
          alts = std::move(next);
        }
        Conj transient;
        for (const auto& c : a.transient) {
          auto options = ground_condition(c, x, true);
          if (!options.empty()) transient.insert(transient.end(), options[0].begin(), options[0].end());
        }
        for (const auto& pre : alts) add_action(si, a, x, pre, transient);
      }
  }

  void add_action(int si, const datatype::ActionDef& a, const Ctx& x, const Conj& pre, const Conj& transient) {
    const Subject& s = in_.subjects[si];
    planning::Operator pa;
    const bool cluster_scoped = s.type->scope == datatype::Scope::cluster;
    pa.node = x.node;
    std::string target_text;
    std::string reason;
    for (const auto& [p, v] : x.targets) {
      std::string k = fact_key(s, p);
      pa.effects.push_back({k, v});
      see(k, v);
      // Values the manifest marks sensitive never reach a name or a reason.
      const bool secret = s.spec.sensitive.count(p) > 0;
      target_text += (target_text.empty() ? "" : ", ") + p + "=" + (secret ? std::string("(sensitive)") : v.to_string());
      auto now = in_.observed[si].props.find(p);
      reason += (reason.empty() ? "" : "; ") + p + " " +
                (secret                                  ? std::string("(sensitive)")
                 : now == in_.observed[si].props.end() ? std::string("(none)")
                                                         : now->second.to_string()) +
                " -> " + (secret ? std::string("(sensitive)") : v.to_string());
    }
    // Node facts an action affects live on the node it runs on.
    std::string fact_node = cluster_scoped && a.run_on.empty() ? std::string() : x.node;
    for (const auto& e : a.effects) {
      if (fact_node.empty()) continue;
      std::string name = e.fact;
      if (auto r = datatype::render_element(name, {{"name", s.spec.name}, {"node", x.node}})) name = *r;
      std::string k = node_fact(fact_node, name);
      touch_node_fact(k);
      pa.effects.push_back({k, e.value});
      see(k, e.value);
    }
    pa.name = s.type->name + "[" + s.spec.name + "] " + a.name + (target_text.empty() ? "" : " (" + target_text + ")");
    pa.disruption = a.disruption;
    pa.seconds = a.duration_seconds;
    for (const auto& c : m_.constraints)
      if (c.kind == ConstraintSpec::Kind::available && c.names_group(s.type->name, s.spec.name) &&
          pa.disruption != planning::Disruption::none)
        pa.outages.push_back(group_label(s));
    Binding ga;
    ga.subject = si;
    ga.action = &a;
    ga.targets = x.targets;
    if (!a.run_on.empty()) ga.run_node = x.node;
    ga.reason = reason.empty() ? a.doc : reason;
    const std::string pa_node = pa.node;
    g_.problem.actions.push_back(std::move(pa));
    g_.actions.push_back(std::move(ga));
    pre_.push_back(pre);
    out_of_scope_.push_back(s.spec.excluded || (m_.limit && !m_.limit->count(pa_node)));
    transient_.push_back(transient);
    boots_.push_back(a.boots);
    boots_node_.push_back(x.node);
  }

  Status constraints() {
    for (const auto& c : m_.constraints) {
      using K = ConstraintSpec::Kind;
      if (c.kind == K::max_disrupted) g_.problem.max_disrupted.push_back({c.limit, c.nodes});
      if (c.kind == K::order) g_.problem.order.push_back({c.order});
      if (c.kind != K::available) continue;
      // Every resource of that name with an owner: each cluster's "Cluster Group".
      bool found = false;
      for (const auto& s : in_.subjects)
        if (c.names_group(s.type->name, s.spec.name) && prop_of(*s.type, "owner") && prop_of(*s.type, "online")) {
          g_.problem.available.push_back({group_label(s), fact_key(s, "owner"), fact_key(s, "online"), c.seconds});
          found = true;
        }
      if (!found)
        return std::unexpected(make_error(ErrorCode::invalid_input,
                                          "available: no resource named '" + c.subject +
                                              "' with owner and online properties is declared",
                                          c.where));
    }
    return {};
  }

  /// How plans name a group: its name, or "LOC/NAME" when several locations hold one of
  /// that name.
  std::string group_label(const Subject& group) const {
    int holders = 0;
    for (const auto& s : in_.subjects) holders += s.spec.name == group.spec.name && s.type == group.type;
    return holders > 1 ? group.spec.node + "/" + group.spec.name : group.spec.name;
  }

  /// True when every value `b` leaves is its subject's goal value, where it has one.
  bool toward_goal(const Binding& b) const {
    const Subject& s = in_.subjects[b.subject];
    auto goals = goals_of_.find(s.spec.id());
    if (goals == goals_of_.end()) return false;
    for (const auto& [prop, value] : b.targets) {
      const std::string k = fact_key(s, prop);
      for (const auto& c : goals->second)
        if (c.fact == k && std::find(c.any_of.begin(), c.any_of.end(), value) == c.any_of.end()) return false;
    }
    return true;
  }

  planning::Condition finish_lit(const Lit& l) {
    planning::Condition c{l.fact, {}};
    if (!l.negate) {
      c.any_of = l.values;
      return c;
    }
    for (const auto& j : seen_values_[l.fact]) {
      const Value& v = value_of_json_.at(j);
      if (std::find(l.values.begin(), l.values.end(), v) == l.values.end()) c.any_of.push_back(v);
    }
    return c;
  }

  void finish() {
    // A booting action resets every node fact with an after_boot value on its node.
    std::vector<std::string> node_facts;
    for (const auto& [k, _] : g_.problem.initial)
      if (k.find("/@") != std::string::npos) node_facts.push_back(k);
    for (std::size_t i = 0; i < g_.problem.actions.size(); ++i) {
      for (const auto& l : pre_[i]) g_.problem.actions[i].pre.push_back(finish_lit(l));
      // depends_on: no action toward a resource's goal before what it depends on reached
      // its own. (An action moving it away, a transient drain, is not held back: it is
      // put back by the plan itself.)
      if (toward_goal(g_.actions[i]))
        for (const auto& d : in_.subjects[g_.actions[i].subject].spec.depends_on)
          if (auto it = goals_of_.find(d); it != goals_of_.end())
            for (const auto& c : it->second) g_.problem.actions[i].pre.push_back(c);
      for (const auto& l : transient_[i]) {
        g_.actions[i].transient.push_back(finish_lit(l));
        // Established and put back around the step: planned with the step's node.
        const std::string loc = planning::fact_node(l.fact);
        if (loc != g_.problem.actions[i].node) g_.problem.links.push_back({g_.problem.actions[i].node, loc});
      }
      if (!boots_[i]) continue;
      for (const auto& k : node_facts) {
        if (!k.starts_with(boots_node_[i] + "/@")) continue;
        auto v = after_boot(k);
        if (!v) continue;
        auto& eff = g_.problem.actions[i].effects;
        if (std::none_of(eff.begin(), eff.end(), [&](const auto& e) { return e.first == k; })) eff.push_back({k, *v});
      }
      boot_effects(i);
    }
    prune();
  }

  /// A booting action also leaves each property with an `after_boot` rule on its node's
  /// resources as the rule says for the value its `from` property has now (a service set
  /// running by hand, whose startup is manual, is stopped). Only where that value stays
  /// put: the resource's goal keeps it. Where the plan itself changes it, the closed loop
  /// sees what the boot did.
  void boot_effects(std::size_t i) {
    if (boots_on_.empty())
      for (int si = 0; si < static_cast<int>(in_.subjects.size()); ++si) boots_on_[in_.subjects[si].spec.node].push_back(si);
    auto& eff = g_.problem.actions[i].effects;
    for (int si : boots_on_[boots_node_[i]]) {
      const Subject& s = in_.subjects[si];
      for (const auto& [prop, x] : s.type->extras) {
        if (x.after_boot_from.empty()) continue;
        const std::string from = fact_key(s, x.after_boot_from), k = fact_key(s, prop);
        auto now = g_.problem.initial.find(from);
        if (now == g_.problem.initial.end() || !g_.problem.initial.count(k)) continue;
        auto goals = goals_of_.find(s.spec.id());
        const bool moves = goals != goals_of_.end() && std::any_of(goals->second.begin(), goals->second.end(), [&](const auto& c) {
          return c.fact == from && std::find(c.any_of.begin(), c.any_of.end(), now->second) == c.any_of.end();
        });
        if (moves) continue;
        if (auto to = x.after_boot_map.find(now->second.to_string()); to != x.after_boot_map.end())
          if (std::none_of(eff.begin(), eff.end(), [&](const auto& e) { return e.first == k; })) eff.push_back({k, to->second});
      }
    }
  }

  /// Keeps in the search only actions that can help: one with an effect some goal, or the
  /// precondition of an action kept, asks for (a backward relevance fixpoint). The others
  /// stay available to expand_transients().
  /// A condition on a fact no kept action can change, holding now, holds forever: it needs
  /// no achiever. Relevance is recomputed with that knowledge until nothing more drops
  /// (starting MOM is useless when nothing kept ever stops it).
  void prune() {
    const auto& acts = g_.problem.actions;
    std::vector<char> keep(acts.size(), 1);
    for (std::size_t i = 0; i < acts.size(); ++i) keep[i] = !out_of_scope_[i];
    for (int pass = 0; pass < 8; ++pass) {
      std::set<std::string> mutable_facts;
      for (std::size_t i = 0; i < acts.size(); ++i) {
        if (!keep[i]) continue;
        for (const auto& [k, v] : acts[i].effects) {
          auto it = g_.problem.initial.find(k);
          if (it == g_.problem.initial.end() ? !v.is_null() : !(it->second == v)) mutable_facts.insert(k);
        }
      }
      std::map<std::string, std::set<std::string>> needed;
      auto want = [&](const planning::Condition& c) {
        if (!mutable_facts.count(c.fact) && planning::holds(c, g_.problem.initial)) return;
        for (const auto& v : c.any_of) needed[c.fact].insert(v.to_json());
      };
      for (const auto& gl : g_.problem.goal) want(gl);
      std::vector<char> next(acts.size(), 0);
      for (bool changed = true; changed;) {
        changed = false;
        for (std::size_t i = 0; i < acts.size(); ++i) {
          if (next[i] || !keep[i]) continue;
          bool useful = false;
          for (const auto& [k, v] : acts[i].effects) {
            auto it = needed.find(k);
            useful = useful || (it != needed.end() && it->second.count(v.to_json()));
          }
          if (!useful) continue;
          next[i] = 1;
          changed = true;
          for (const auto& c : acts[i].pre) want(c);
        }
      }
      if (next == keep) break;
      keep = std::move(next);
    }
    for (std::size_t i = 0; i < keep.size(); ++i) g_.problem.actions[i].search = keep[i] != 0;
    g_.out_of_scope = out_of_scope_;
  }
};

}  // namespace

std::string fact_key(const Subject& s, const std::string& prop) {
  if (auto x = s.type->extras.find(prop); x != s.type->extras.end() && !x->second.fact.empty())
    return s.spec.node + "/@" + x->second.fact;
  return s.spec.node + "/" + s.type->name + "[" + s.spec.name + "]." + prop;
}

std::vector<Subject> subjects(const Manifest& m, const TypeRegistry& types) {
  std::vector<Subject> out;
  std::set<std::string> known;
  for (int i = 0; i < static_cast<int>(m.resources.size()); ++i) {
    const ResourceSpec& r = m.resources[i];
    const DataType* t = datatype::data_type(types, r.type);
    if (!t) continue;
    out.push_back({r, t, i});
    known.insert(r.node + "/" + r.type + "[" + r.name + "]");
  }
  const std::size_t declared = out.size();
  for (std::size_t i = 0; i < declared; ++i) {
    const Subject s = out[i];
    for (const auto* c : conditions_of(*s.type)) {
      if (c->subject != ConditionDef::Subject::resource || c->name == "*") continue;
      if (!c->when_role.empty() && s.type->scope == datatype::Scope::node && !has_role(m, s.spec.node, c->when_role)) continue;
      const DataType* t = datatype::data_type(types, c->type);
      if (!t) continue;
      for (const auto& loc : all_locations(*c, s, m)) {
        if (!known.insert(loc + "/" + c->type + "[" + c->name + "]").second) continue;
        Subject x;
        x.spec.type = c->type;
        x.spec.name = c->name;
        x.spec.node = loc;
        x.type = t;
        out.push_back(std::move(x));
      }
    }
  }
  return out;
}

Result<Grounded> ground(const Inputs& in) { return Grounder(in).run(); }

}  // namespace converge::grounding
