// engine/model/datatype_parse.cpp — parsing and checking a `kind: Types` document into datatype::TypeFile. Pure: every
// problem becomes a diagnostic at the offending node; nothing throws.
#include <algorithm>
#include <regex>
#include <set>

#include "engine/model/duration.h"
#include "engine/model/schemas.h"
#include "engine/model/datatype_parse.h"

namespace converge::datatype {

namespace {

/// Parsing context: the document (for positions) and the diagnostics.
struct Ctx {
  const YDoc& doc;
  Diagnostics& diags;
  void error(const std::string& msg, const YNode& at) { diags.push_back(make_error(ErrorCode::invalid_input, msg, doc.at(at))); }
  void error(const std::string& msg, const YEntry& at) { diags.push_back(make_error(ErrorCode::invalid_input, msg, doc.at(at))); }
};

std::vector<int> exits(const YNode* n, std::vector<int> fallback) {
  if (!n) return fallback;
  std::vector<int> out;
  for (const auto& i : n->items)
    if (i.scalar.is_int()) out.push_back(static_cast<int>(i.scalar.as_int()));
  return out;
}

std::string text(const YNode* n, const std::string& fallback = {}) { return n ? n->scalar.to_string() : fallback; }

std::vector<std::string> argv_of(const YNode& n) {
  std::vector<std::string> out;
  for (const auto& i : n.items) out.push_back(i.scalar.to_string());
  return out;
}

std::optional<Value::Kind> kind_from(const std::string& s) {
  for (auto k : {Value::Kind::null, Value::Kind::boolean, Value::Kind::integer, Value::Kind::string, Value::Kind::list,
                 Value::Kind::map})
    if (s == kind_name(k)) return k;
  return std::nullopt;
}

const PropertySpec* find_prop(const DataType& t, const std::string& name) {
  for (const auto& p : t.properties)
    if (p.name == name) return &p;
  return nullptr;
}

/// Edits (insert, delete, replace) from a to b, for words of a few letters.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

/// A `{word}` (not the shell's `${word}`) that is a known placeholder misspelt: braces are
/// text unless they hold a placeholder, so `{nmae}` would silently stay as written.
std::optional<std::string> misspelt_placeholder(const std::string& element, const std::map<std::string, std::string>& vars) {
  static const std::regex word(R"(\{([A-Za-z_][A-Za-z0-9_.-]*)\})");
  for (auto it = std::sregex_iterator(element.begin(), element.end(), word); it != std::sregex_iterator(); ++it) {
    const auto at = static_cast<std::size_t>(it->position(0));
    const std::string key = (*it)[1];
    if (at > 0 && element[at - 1] == '$' && vars.count(key) && key.starts_with("prop."))
      return "${" + key + "} is the shell's syntax: the placeholder is {" + key + "}";
    if ((at > 0 && element[at - 1] == '$') || (at > 0 && element[at - 1] == '{') || vars.count(key)) continue;
    for (const auto& [known, _] : vars)
      if (key[0] == known[0] && edit_distance(key, known) <= 2)
        return "unknown placeholder {" + key + "} (did you mean {" + known + "}?)";
  }
  return std::nullopt;
}

/// Checks that every placeholder of an argv template is known for this type.
void check_template(Ctx& c, const YNode& argv, const DataType& t) {
  std::map<std::string, std::string> vars{{"name", "x"}, {"node", "x"}};
  if (t.scope == Scope::cluster) vars["cluster"] = "x";
  for (const auto& p : t.properties) vars["prop." + p.name] = "x";
  for (const auto& item : argv.items) {
    if (auto r = render_element(item.scalar.to_string(), vars); !r) c.error(r.error().message, item);
    else if (auto typo = misspelt_placeholder(item.scalar.to_string(), vars)) c.error(*typo, item);
  }
}

/// Reads regex / exit / map / base / default of a capture-like node.
Capture parse_capture(Ctx& c, const std::string& prop, const YNode& n) {
  Capture cap;
  cap.property = prop;
  cap.where = c.doc.at(n);
  cap.regex = text(n.get("regex"));
  const YNode* by_exit = n.get("exit");
  if (cap.regex.empty() == !by_exit) c.error("capture of '" + prop + "' needs exactly one of regex or exit", n);
  if (!cap.regex.empty()) {
    try {
      std::regex re(cap.regex, std::regex::ECMAScript | std::regex::multiline);
      if (re.mark_count() < 1) c.error("regex for '" + prop + "' needs a capture group", *n.get("regex"));
    } catch (const std::regex_error& e) {
      c.error("regex for '" + prop + "' does not compile: " + e.what(), *n.get("regex"));
    }
  }
  const YNode* m = by_exit ? by_exit : n.get("map");
  if (by_exit && n.get("map")) c.error("capture of '" + prop + "': exit already maps exit codes; drop map", *n.get("map"));
  if (m)
    for (const auto& e : m->entries) cap.map[e.key] = e.node().to_value();
  if (const YNode* b = n.get("base")) cap.base = static_cast<int>(b->scalar.as_int());
  cap.stderr_too = n.get("stderr") && n.get("stderr")->scalar == Value(true);
  if (const YNode* d = n.get("default")) cap.fallback = d->to_value();
  return cap;
}

Probe parse_probe(Ctx& c, const YNode& n, const DataType& t) {
  Probe p;
  p.where = c.doc.at(n);
  p.argv = argv_of(*n.get("argv"));
  check_template(c, *n.get("argv"), t);
  p.present_exit = exits(n.get("present"), {0});
  p.absent_exit = exits(n.get("absent"), {});
  for (int e : p.absent_exit)
    if (std::count(p.present_exit.begin(), p.present_exit.end(), e))
      c.error("exit code " + std::to_string(e) + " means both present and absent", *n.get("absent"));
  if (const YNode* props = n.get("properties")) {
    for (const auto& e : props->entries) {
      if (!find_prop(t, e.key))
        c.error("probe captures unknown property '" + e.key + "' of type " + t.name, e);
      p.captures.push_back(parse_capture(c, e.key, e.node()));
    }
  }
  return p;
}

ConditionDef parse_condition(Ctx& c, const YNode& n, const DataType& t) {
  ConditionDef k;
  k.where = c.doc.at(n);
  k.property = text(n.get("property"));
  k.on = text(n.get("on"), "node");
  k.when_role = text(n.get("when_role"));
  k.any = text(n.get("holds"), "all") == "any";
  if (k.on.starts_with("observed:") || k.on.starts_with("desired:"))
    if (!find_prop(t, k.on.substr(k.on.find(':') + 1))) c.error("condition names unknown property in on: " + k.on, *n.get("on"));
  k.doc = text(n.get("doc"));
  const YNode* eq = n.get("equals");
  const YNode* ne = n.get("not_equals");
  const YNode* in = n.get("in");
  if ((eq ? 1 : 0) + (ne ? 1 : 0) + (in ? 1 : 0) != 1) c.error("a condition needs exactly one of equals, not_equals or in", n);
  k.negate = ne != nullptr;
  if (in)
    for (const auto& i : in->items) k.one_of.push_back(i.to_value());
  else
    k.value = (eq ? eq : ne ? ne : &n)->to_value();
  if (const YNode* f = n.get("fact")) {
    k.subject = ConditionDef::Subject::fact;
    k.fact = f->scalar.to_string();
    if (n.get("resource") || n.get("property")) c.error("a fact condition takes neither resource nor property", n);
  } else if (const YNode* r = n.get("resource")) {
    k.subject = ConditionDef::Subject::resource;
    std::string s = r->scalar.to_string();
    auto open = s.find('[');
    k.type = s.substr(0, open);
    k.name = s.substr(open + 1, s.size() - open - 2);
    if (k.property.empty()) c.error("a resource condition needs a property", n);
  } else {
    k.subject = ConditionDef::Subject::self;
    if (!find_prop(t, k.property)) c.error("condition names unknown property '" + k.property + "' of type " + t.name, n);
  }
  return k;
}

void parse_command(Ctx& c, const YNode& n, const DataType& t, ActionDef& a) {
  Command cmd;
  cmd.argv = argv_of(*n.get("argv"));
  cmd.ok_exit = exits(n.get("ok_exit"), {0});
  check_template(c, *n.get("argv"), t);
  a.commands.push_back(std::move(cmd));
}

ActionDef parse_action(Ctx& c, const YNode& n, const DataType& t) {
  ActionDef a;
  a.where = c.doc.at(n);
  a.name = text(n.get("name"));
  a.doc = text(n.get("doc"));
  for (const auto& e : n.get("sets")->entries) {
    Value v = e.node().to_value();
    const PropertySpec* p = find_prop(t, e.key);
    if (!p) c.error("action " + a.name + " sets unknown property '" + e.key + "'", e);
    else if (!p->allowed.empty() && v != Value(kDesired) && std::find(p->allowed.begin(), p->allowed.end(), v) == p->allowed.end())
      c.error("action " + a.name + " sets '" + e.key + "' to '" + v.to_string() + "', which the property does not allow", e);
    a.sets[e.key] = std::move(v);
  }
  if (n.get("argv") && n.get("steps")) c.error("action " + a.name + ": write argv or steps, not both", n);
  if (n.get("argv")) {
    parse_command(c, n, t, a);
  } else if (const YNode* steps = n.get("steps")) {
    for (const auto& s : steps->items) parse_command(c, s, t, a);
  } else {
    c.error("action " + a.name + " needs argv or steps", n);
  }
  if (n.get("ok_exit") && n.get("steps")) c.error("action " + a.name + ": ok_exit belongs to each step", *n.get("ok_exit"));
  if (const YNode* vals = n.get("values"))
    for (const auto& e : vals->entries) {
      if (!find_prop(t, e.key)) c.error("values names unknown property '" + e.key + "'", e);
      for (const auto& m : e.node().entries) a.values[e.key][m.key] = m.node().scalar.to_string();
    }
  if (const YNode* d = n.get("duration")) {
    auto ms = parse_duration_ms(d->to_value());
    if (!ms) c.error("malformed duration '" + d->scalar.to_string() + "' (write 90s, 25m, 1h30m)", *d);
    a.duration_seconds = ms.value_or(0) / 1000;
  }
  std::string dis = text(n.get("disruption"), "none");
  a.disruption = dis == "node" ? Disruption::node : dis == "resource" ? Disruption::resource : Disruption::none;
  a.boots = n.get("boots") && n.get("boots")->scalar == Value(true);
  a.run_on = text(n.get("run_on"));
  if (!a.run_on.empty()) {
    if (t.scope != Scope::cluster) c.error("run_on applies only to cluster-scoped types", *n.get("run_on"));
    if (!find_prop(t, a.run_on)) c.error("run_on names unknown property '" + a.run_on + "'", *n.get("run_on"));
  }
  if (const YNode* r = n.get("requires"))
    for (const auto& i : r->items) a.requires_.push_back(parse_condition(c, i, t));
  if (const YNode* r = n.get("transient"))
    for (const auto& i : r->items) a.transient.push_back(parse_condition(c, i, t));
  if (const YNode* r = n.get("effects"))
    for (const auto& i : r->items) a.effects.push_back({text(i.get("fact")), i.get("value")->to_value(), c.doc.at(i)});
  return a;
}

void parse_property(Ctx& c, const YEntry& e, DataType& t) {
  const YNode& n = e.node();
  PropertySpec p;
  p.name = e.key;
  p.doc = text(n.get("doc"));
  p.required = n.get("required") && n.get("required")->scalar == Value(true);
  std::string role = text(n.get("role"), "state");
  p.state = role != "parameter";
  PropertyExtra x;
  x.observed_only = role == "observed";
  x.accepts_prior = n.get("prior") && n.get("prior")->scalar == Value(true);
  x.fact = text(n.get("fact"));
  if (const YNode* ab = n.get("after_boot")) {
    x.after_boot_from = text(ab->get("from"));
    if (const YNode* m = ab->get("map"))
      for (const auto& me : m->entries) x.after_boot_map[me.key] = me.node().to_value();
  }
  if (const YNode* en = n.get("enum"))
    for (const auto& i : en->items) p.allowed.push_back(i.to_value());
  if (x.accepts_prior && !p.allowed.empty()) p.allowed.push_back(Value(kPrior));
  if (const YNode* ks = n.get("kinds")) {
    for (const auto& i : ks->items)
      if (auto k = kind_from(i.scalar.to_string())) p.kinds.push_back(*k);
  } else {
    for (const auto& v : p.allowed)
      if (std::find(p.kinds.begin(), p.kinds.end(), v.kind()) == p.kinds.end()) p.kinds.push_back(v.kind());
  }
  if (x.accepts_prior && !p.kinds.empty() && std::find(p.kinds.begin(), p.kinds.end(), Value::Kind::string) == p.kinds.end())
    p.kinds.push_back(Value::Kind::string);
  if (const YNode* d = n.get("default")) {
    p.default_value = d->to_value();
    if (!p.allowed.empty() && std::find(p.allowed.begin(), p.allowed.end(), *p.default_value) == p.allowed.end())
      c.error("default '" + p.default_value->to_string() + "' of '" + p.name + "' is not in its enum", *d);
  }
  if (x.observed_only && (p.required || p.default_value)) c.error("an observed property takes no default and is never required", n);
  t.extras[p.name] = x;
  t.properties.push_back(std::move(p));
}

DataType parse_type(Ctx& c, const YEntry& e) {
  const YNode& n = e.node();
  DataType t;
  t.name = e.key;
  t.file = c.doc.path;
  t.where = c.doc.at(e);
  t.doc = text(n.get("doc"));
  t.scope = text(n.get("scope"), "node") == "cluster" ? Scope::cluster : Scope::node;
  for (const auto& p : n.get("properties")->entries) parse_property(c, p, t);
  for (const auto& p : n.get("properties")->entries) {
    const PropertyExtra& x = t.extras[p.key];
    if (x.after_boot_from.empty()) continue;
    auto find = [&](const std::string& name) -> const PropertySpec* {
      for (const auto& q : t.properties)
        if (q.name == name) return &q;
      return nullptr;
    };
    const PropertySpec* from = find(x.after_boot_from);
    const PropertySpec* self = find(p.key);
    if (!from || x.after_boot_from == p.key) {
      c.error("after_boot of '" + p.key + "': from must name another property of " + t.name, *p.node().get("after_boot"));
      continue;
    }
    for (const auto& [k, v] : x.after_boot_map) {
      if (!from->allowed.empty() && std::none_of(from->allowed.begin(), from->allowed.end(), [&](const Value& a) { return a.to_string() == k; }))
        c.error("after_boot of '" + p.key + "': '" + k + "' is not a value of " + x.after_boot_from, *p.node().get("after_boot"));
      if (self && !self->allowed.empty() && std::find(self->allowed.begin(), self->allowed.end(), v) == self->allowed.end())
        c.error("after_boot of '" + p.key + "': '" + v.to_string() + "' is not a value of " + p.key, *p.node().get("after_boot"));
    }
  }
  if (const YNode* obs = n.get("observe"))
    for (const auto& p : obs->items) t.observe.push_back(parse_probe(c, p, t));
  if (t.observe.empty()) c.error("type " + t.name + " needs at least one observe probe", e);
  std::map<std::string, const YNode*> seen;
  if (const YNode* acts = n.get("actions"))
    for (const auto& a : acts->items) {
      t.actions.push_back(parse_action(c, a, t));
      if (!seen.emplace(t.actions.back().name, &a).second) c.error("action " + t.actions.back().name + " is defined twice", a);
    }
  if (const YNode* r = n.get("refresh")) {
    t.refresh = r->scalar.to_string();
    const ActionDef* a = t.find_action(t.refresh);
    if (!a)
      c.error("refresh names no action of " + t.name + ": '" + t.refresh + "'", *r);
    else if (a->disruption == Disruption::node || a->boots || !a->requires_.empty() || !a->transient.empty())
      // A refresh runs outside the plan: what the planner would have to order may not hide in one.
      c.error("refresh action " + t.refresh + " of " + t.name +
                  " must disrupt no more than its resource and have no requires, transient or boots (the planner does not order refreshes)",
              *r);
  }
  return t;
}

Fact parse_fact(Ctx& c, const YEntry& e) {
  const YNode& n = e.node();
  Fact f;
  f.name = e.key;
  f.where = c.doc.at(e);
  f.doc = text(n.get("doc"));
  if (const YNode* a = n.get("after_boot")) f.after_boot = a->to_value();
  if (const YNode* p = n.get("probe")) {
    Probe probe;
    probe.where = c.doc.at(*p);
    probe.argv = argv_of(*p->get("argv"));
    probe.captures.push_back(parse_capture(c, "value", *p));
    // An exit-mapped fact reads every mapped code as "present".
    if (p->get("exit")) {
      probe.present_exit.clear();
      for (const auto& [code, _] : probe.captures.back().map) probe.present_exit.push_back(std::atoi(code.c_str()));
    }
    f.probe = std::move(probe);
  } else if (!f.after_boot) {
    c.error("fact " + f.name + " needs a probe or an after_boot value", e);
  }
  return f;
}

}  // namespace

TypeFile parse_type_file(const YDoc& doc, Diagnostics& diags) {
  Ctx c{doc, diags};
  TypeFile f;
  f.path = doc.path;
  if (const YNode* facts = doc.root.get("facts"))
    for (const auto& e : facts->entries) f.facts.push_back(parse_fact(c, e));
  if (const YNode* types = doc.root.get("types"))
    for (const auto& e : types->entries) f.types.push_back(parse_type(c, e));
  if (const YNode* pre = doc.root.get("preconditions"))
    for (const auto& e : pre->entries) {
      const YNode& n = e.node();
      Precondition p{e.key, text(n.get("doc")), text(n.get("type")), text(n.get("timestamp")), text(n.get("clock")), doc.at(e)};
      const DataType* t = nullptr;
      for (const auto& dt : f.types)
        if (dt.name == p.type) t = &dt;
      if (!t) {
        c.error("precondition " + p.name + " reads type '" + p.type + "', which this file does not define", *n.get("type"));
        continue;
      }
      if (!find_prop(*t, p.timestamp)) c.error("type " + t->name + " has no property '" + p.timestamp + "'", *n.get("timestamp"));
      if (!find_prop(*t, p.clock)) c.error("type " + t->name + " has no property '" + p.clock + "'", *n.get("clock"));
      f.preconditions.push_back(std::move(p));
    }
  auto declared = std::make_shared<const FileDeclarations>(FileDeclarations{f.facts, f.preconditions});
  for (auto& t : f.types) t.declared = declared;
  return f;
}

TypeFile load_type_file(const std::string& path, Diagnostics& diags, bool schema_checked) {
  auto doc = load_yaml_file(path);
  if (!doc) {
    diags.push_back(doc.error());
    return {};
  }
  auto schema = schema_checked ? Diagnostics{} : validate_with_schema(*doc, "types");
  if (!schema.empty()) {
    diags.insert(diags.end(), schema.begin(), schema.end());
    return {};
  }
  return parse_type_file(*doc, diags);
}

void register_types(const TypeFile& f, TypeRegistry& reg, Diagnostics& diags) {
  for (const auto& t : f.types) {
    if (reg.find(t.name)) {
      diags.push_back(make_error(ErrorCode::invalid_input, "type '" + t.name + "' is already defined", t.where));
      continue;
    }
    (void)reg.add_data(t);
  }
}

Diagnostics register_type_files(const std::vector<std::string>& paths, TypeRegistry& reg) {
  Diagnostics diags;
  for (const auto& p : paths) {
    TypeFile f = load_type_file(p, diags, /*schema_checked=*/true);
    if (diags.empty()) register_types(f, reg, diags);
  }
  return diags;
}

}  // namespace converge::datatype
