#include "engine/model/loader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "engine/model/duration.h"
#include "engine/model/interpolate.h"
#include "engine/model/loader_internal.h"
#include "engine/model/schemas.h"
#include "engine/model/sha256.h"
#include "engine/model/datatype_parse.h"

namespace converge {

namespace fs = std::filesystem;
using detail::Located;
using detail::LoaderState;

std::string detail::absolute_path(const std::string& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  return (ec ? fs::path(p) : a).lexically_normal().string();
}

using detail::absolute_path;

namespace {

/// A `kind: Types` include: schema-check it, parse its types and register them.
void load_type_definitions(LoaderState& st, YDoc doc, const SourceRange* from) {
  if (!from) {
    st.error("a type definition file is not a manifest; include it from one (include: [...])", {doc.path, 1, 1});
    return;
  }
  auto schema_diags = validate_with_schema(doc, "types");
  bool valid = schema_diags.empty();
  st.diags.insert(st.diags.end(), schema_diags.begin(), schema_diags.end());
  st.docs.push_back(std::make_unique<YDoc>(std::move(doc)));
  const YDoc& d = *st.docs.back();
  st.out.sources.push_back(d.path);
  st.out.source_sha256.push_back(sha256_hex(d.text));
  st.out.type_files.push_back(d.path);
  if (!valid) return;
  Diagnostics diags;
  datatype::TypeFile f = datatype::parse_type_file(d, diags);
  if (diags.empty()) datatype::register_types(f, st.types, diags);
  st.diags.insert(st.diags.end(), diags.begin(), diags.end());
}

/// Reads one file and, depth-first, its includes. `chain` holds the files being included.
void load_file(LoaderState& st, const std::string& path, std::vector<std::string>& chain, const SourceRange* from) {
  if (auto it = std::find(chain.begin(), chain.end(), path); it != chain.end()) {
    std::string loop;
    for (; it != chain.end(); ++it) loop += *it + " -> ";
    st.error("include loop: " + loop + path, *from);
    return;
  }
  for (const auto& d : st.docs)
    if (d->path == path) return;  // already merged (diamond includes)
  auto doc = load_yaml_file(path);
  if (!doc) {
    if (from && doc.error().where && doc.error().where->line == 0) {
      st.error("cannot include '" + path + "': " + doc.error().message, *from);
    } else {
      st.diags.push_back(doc.error());
    }
    return;
  }
  // Clear words for the commonest mistakes, before the schema's generic ones.
  if (doc->root.kind == YNode::Kind::null) {
    st.error("the file is empty; a manifest needs apiVersion and kind", {doc->path, 1, 1});
    return;
  }
  auto shown = [](const YNode& n) {
    return n.is_map() ? std::string("a map") : n.is_seq() ? std::string("a list") : "'" + n.scalar.to_string() + "'";
  };
  if (!doc->root.is_map()) {
    st.error("a manifest is a map (apiVersion, kind, ...), not " +
                 (doc->root.is_seq() ? std::string("a list") : "the single value " + shown(doc->root)),
             doc->at(doc->root));
    return;
  }
  if (const YNode* api = doc->root.get("apiVersion"); api && (!api->is_scalar() || api->scalar.to_string() != "converge/v1")) {
    st.error("apiVersion must be converge/v1, not " + (api->is_scalar() ? api->scalar.to_string() : shown(*api)), doc->at(*api));
    return;
  }
  if (const YNode* k = doc->root.get("kind")) {
    std::string kind = k->is_scalar() ? k->scalar.to_string() : "";
    if (kind != "Manifest" && kind != "Fragment" && kind != "Types") {
      st.error("kind must be Manifest, Fragment or Types, not " + shown(*k) +
                   (kind == "Lab" ? " (a lab file is named by a node's transport: {lab: FILE})" : ""),
               doc->at(*k));
      return;
    }
  }
  if (const YNode* k = doc->root.get("kind"); k && k->scalar.to_string() == "Types")
    return load_type_definitions(st, std::move(*doc), from);
  auto schema_diags = validate_with_schema(*doc, "manifest");
  bool valid = schema_diags.empty();
  st.diags.insert(st.diags.end(), schema_diags.begin(), schema_diags.end());
  st.docs.push_back(std::make_unique<YDoc>(std::move(*doc)));
  const YDoc* d = st.docs.back().get();
  st.out.sources.push_back(path);
  st.out.source_sha256.push_back(sha256_hex(d->text));
  if (!valid) return;
  detail::load_inventory_source(st, *d);
  if (const YNode* inc = d->root.get("include")) {
    chain.push_back(path);
    std::string dir = fs::path(path).parent_path().string();
    for (const auto& item : inc->items) {
      std::string child = absolute_path((fs::path(dir) / item.scalar.to_string()).string());
      SourceRange at = d->at(item);
      load_file(st, child, chain, &at);
    }
    chain.pop_back();
  }
}

/// `secrets: FILE` of the top-level manifest: a YAML map of names to scalars (relative to
/// the manifest), readable by its owner only, for ${secret.NAME} in properties.
void load_secrets(LoaderState& st, const YDoc& top, const YNode& at) {
  const std::string name = at.scalar.to_string();
  const std::string path = absolute_path((fs::path(top.path).parent_path() / name).string());
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0)
    return st.error("cannot read the secrets file '" + name + "': " + std::strerror(errno), top.at(at));
  if (sb.st_mode & 077)
    return st.error("the secrets file '" + name + "' is readable by others (mode " + fmt::format("{:04o}", sb.st_mode & 07777) +
                        "): chmod 600 it",
                    top.at(at));
  auto doc = load_yaml_file(path);
  if (!doc) return st.diags.push_back(doc.error());
  if (!doc->root.is_map()) return st.error("a secrets file is a map of NAME: value", doc->at(doc->root));
  Map secrets;
  for (const auto& e : doc->root.entries) {
    if (!e.node().is_scalar()) return st.error("secret '" + e.key + "' must be a scalar", doc->at(e.node()));
    secrets[e.key] = Value(e.node().scalar.to_string());
  }
  st.secrets = std::move(secrets);
}

/// Merges a map-valued section of every document, reporting keys defined twice.
void merge_section(LoaderState& st, const char* section, const char* sub,
                   std::map<std::string, Located>& into) {
  for (const auto& d : st.docs) {
    const YNode* s = d->root.get(section);
    if (s && sub) s = s->get(sub);
    if (!s || !s->is_map()) continue;
    for (const auto& e : s->entries) {
      auto [it, fresh] = into.emplace(e.key, Located{d.get(), &e.node()});
      if (!fresh)
        st.error(std::string(sub ? sub : section) + " '" + e.key + "' is defined twice (first at " +
                     display_path(it->second.doc->path) + ":" + std::to_string(it->second.node->line) + ":" +
                     std::to_string(it->second.node->col) + ")",
                 d->at(e));
    }
  }
}

/// A `transport:` setting. A node's ssh settings merge with the inventory's default ssh
/// settings (`base`): what the node sets wins, its options come first (ssh takes the first
/// value of an option).
TransportSpec parse_transport(LoaderState& st, const YDoc& doc, const YNode& t, const TransportSpec* base = nullptr) {
  TransportSpec spec;
  if (t.entries.empty()) return spec;
  const YEntry& e = t.entries.front();
  if (base && base->kind == e.key && e.key == "ssh") spec = *base;
  spec.kind = e.key;
  const YNode& v = e.node();
  std::string dir = fs::path(doc.path).parent_path().string();
  if (spec.kind == "local") {
    if (const YNode* r = v.get("root")) spec.root = absolute_path((fs::path(dir) / r->scalar.to_string()).string());
  } else if (spec.kind == "ssh") {
    if (const YNode* h = v.get("host")) spec.host = h->scalar.to_string();
    if (const YNode* u = v.get("user")) spec.user = u->scalar.to_string();
    if (const YNode* p = v.get("port")) spec.port = static_cast<int>(p->scalar.as_int());
    if (const YNode* o = v.get("options")) {
      std::vector<std::string> mine;
      for (const auto& i : o->items) mine.push_back(i.scalar.to_string());
      spec.options.insert(spec.options.begin(), mine.begin(), mine.end());
    }
    if (const YNode* k = v.get("host_key")) spec.host_key = k->scalar.to_string();
    if (const YNode* k = v.get("known_hosts")) spec.known_hosts = absolute_path((fs::path(dir) / k->scalar.to_string()).string());
    if (const YNode* k = v.get("shell")) {
      // The default's boot id command is for the default's shell: another shell reads its own.
      if (k->scalar.to_string() != spec.shell && !v.get("boot_id")) spec.boot_id.clear();
      spec.shell = k->scalar.to_string();
    }
    if (const YNode* b = v.get("boot_id")) {
      spec.boot_id.clear();
      for (const auto& i : b->items) spec.boot_id.push_back(i.scalar.to_string());
    }
  } else if (spec.kind == "lab") {
    spec.lab_file = absolute_path((fs::path(dir) / v.scalar.to_string()).string());
  }
  return spec;
}

/// group_vars: every node of a group (or cluster) gets the group's variables, unless the
/// node sets one itself; two groups giving one node different values is an error.
void apply_group_vars(LoaderState& st) {
  std::map<std::string, Located> group_vars;
  merge_section(st, "inventory", "group_vars", group_vars);
  if (group_vars.empty()) return;
  std::map<std::string, std::map<std::string, std::string>> given_by;  // node -> var -> group
  std::map<std::string, Map> own;                                     // node -> its own vars
  std::map<std::string, NodeSpec*> by_name;
  for (auto& n : st.out.nodes) own[n.name] = n.vars, by_name[n.name] = &n;
  for (const auto& [g, loc] : group_vars) {
    const std::vector<std::string>* members = nullptr;
    if (auto it = st.out.groups.find(g); it != st.out.groups.end()) members = &it->second;
    else if (auto c = st.out.clusters.find(g); c != st.out.clusters.end()) members = &c->second;
    if (!members) {
      st.error("group_vars names unknown group '" + g + "'", loc.doc->at(*loc.node));
      continue;
    }
    const Map vars = loc.node->to_value().as_map();
    for (const auto& name : *members) {
      NodeSpec* n = by_name.at(name);
      for (const auto& [k, v] : vars) {
        if (own[name].count(k)) continue;
        auto [it, fresh] = given_by[name].emplace(k, g);
        if (!fresh && n->vars.at(k) != v)
          st.error("node " + name + " gets var '" + k + "' from groups " + it->second + " and " + g +
                       " with different values; set it on the node",
                   loc.doc->at(*loc.node));
        n->vars[k] = v;
      }
    }
  }
}

void build_inventory(LoaderState& st) {
  std::map<std::string, Located> nodes, groups, transports;
  merge_section(st, "inventory", "nodes", nodes);
  merge_section(st, "inventory", "groups", groups);
  TransportSpec default_transport;
  for (const auto& d : st.docs)
    if (const YNode* inv = d->root.get("inventory"))
      if (const YNode* t = inv->get("transport")) default_transport = parse_transport(st, *d, *t);
  if (nodes.empty()) {
    NodeSpec local;
    local.name = "localhost";
    local.transport = default_transport;
    st.out.nodes.push_back(local);
  }
  for (const auto& [name, loc] : nodes) {
    NodeSpec n;
    n.name = name;
    n.where = loc.doc->at(*loc.node);
    n.transport = default_transport;
    if (const YNode* t = loc.node->get("transport")) n.transport = parse_transport(st, *loc.doc, *t, &default_transport);
    if (const YNode* r = loc.node->get("root")) {
      if (n.transport.kind != "local") st.error("'root' applies only to the local transport", loc.doc->at(*r));
      std::string dir = fs::path(loc.doc->path).parent_path().string();
      n.transport.root = absolute_path((fs::path(dir) / r->scalar.to_string()).string());
    }
    if (const YNode* r = loc.node->get("roles"))
      for (const auto& i : r->items) n.roles.push_back(i.scalar.to_string());
    if (const YNode* c = loc.node->get("cluster")) n.cluster = c->scalar.to_string();
    if (const YNode* v = loc.node->get("vars")) n.vars = v->to_value().as_map();
    st.out.nodes.push_back(std::move(n));
  }
  for (const auto& n : st.out.nodes)
    if (!n.cluster.empty()) st.out.clusters[n.cluster].push_back(n.name);  // nodes are sorted
  for (const auto& [c, _] : st.out.clusters) {
    if (st.out.node(c)) st.error("'" + c + "' is both a node and a cluster", st.out.node(c)->where);
    if (groups.count(c)) st.error("'" + c + "' is both a group and a cluster", groups.at(c).doc->at(*groups.at(c).node));
  }
  // Groups may name nodes or other groups; resolve recursively, refusing cycles. A group's
  // height is how many groups deep it nests; recursion stops at the limit, so a chain of any
  // length cannot exhaust the stack, and heights carry over from groups resolved earlier, so
  // the verdict does not depend on the order the groups are met in.
  std::map<std::string, int> state;  // 1 = resolving, 2 = done
  std::map<std::string, int> height;
  constexpr int kMaxGroupDepth = 64;
  bool too_deep = false;
  auto nested_too_deep = [&](const std::string& g) {
    const Located& loc = groups.at(g);
    if (!std::exchange(too_deep, true))
      st.error("group '" + g + "' is nested deeper than " + std::to_string(kMaxGroupDepth) + " groups", loc.doc->at(*loc.node));
  };
  std::function<void(const std::string&, int)> resolve = [&](const std::string& g, int depth) {
    if (state[g] == 2) return;
    const Located& loc = groups.at(g);
    if (depth > kMaxGroupDepth) {
      nested_too_deep(g);
      st.out.groups[g];
      height[g] = kMaxGroupDepth + 1;
      state[g] = 2;
      return;
    }
    state[g] = 1;
    std::set<std::string> members;
    int h = 0;
    for (const auto& item : loc.node->items) {
      std::string m = item.scalar.to_string();
      if (st.out.node(m)) {
        members.insert(m);
      } else if (groups.count(m)) {
        if (state[m] == 1) {
          st.error("group '" + g + "' contains itself through '" + m + "'", loc.doc->at(item));
          continue;
        }
        resolve(m, depth + 1);
        h = std::max(h, height[m] + 1);
        members.insert(st.out.groups[m].begin(), st.out.groups[m].end());
      } else {
        st.error("group '" + g + "' names unknown node or group '" + m + "'", loc.doc->at(item));
      }
    }
    if (h > kMaxGroupDepth) nested_too_deep(g);
    height[g] = h;
    st.out.groups[g].assign(members.begin(), members.end());
    state[g] = 2;
  };
  for (const auto& [g, loc] : groups) {
    if (st.out.node(g)) st.error("'" + g + "' is both a node and a group", loc.doc->at(*loc.node));
    resolve(g, 0);
  }
  apply_group_vars(st);
}

ConstraintSpec parse_constraint(LoaderState& st, const Located& loc) {
  const YNode& n = *loc.node;
  ConstraintSpec c;
  c.where = loc.doc->at(n);
  auto duration = [&](const char* key) -> std::int64_t {
    const YNode* v = n.get(key);
    if (!v) return -1;
    auto ms = parse_duration_ms(v->scalar);
    if (!ms) st.error(std::string("malformed duration for '") + key + "'", loc.doc->at(*v));
    return ms ? *ms / 1000 : -1;
  };
  if (const YNode* o = n.get("order")) {
    c.kind = ConstraintSpec::Kind::order;
    for (const auto& item : o->items) c.order.push_back(st.resolve_targets(item.to_value(), loc.doc->at(item)));
  } else if (const YNode* m = n.get("max_disrupted")) {
    c.kind = ConstraintSpec::Kind::max_disrupted;
    c.limit = static_cast<int>(m->scalar.as_int());
    c.nodes = st.resolve_targets(n.get("of")->to_value(), loc.doc->at(*n.get("of")));
  } else if (const YNode* a = n.get("available")) {
    c.kind = ConstraintSpec::Kind::available;
    c.subject = a->scalar.to_string();
    c.seconds = duration("outage_budget");
    // The group is a declared resource whose type has an owner and an online state.
    bool found = false, shaped = false;
    for (const auto& r : st.out.resources) {
      if (!c.names_group(r.type, r.name)) continue;
      found = true;
      const TypeEntry* t = st.types.find(r.type);
      shaped = shaped || (t && t->schema.find("owner") && t->schema.find("online"));
    }
    if (!found)
      st.error("available: no resource named '" + c.subject + "' is declared (name a clustered group, or TYPE[*] for each of a type)", loc.doc->at(*a));
    else if (!shaped)
      st.error("available: '" + c.subject + "' has no owner and online properties; it is not a group", loc.doc->at(*a));
  } else if (const YNode* p = n.get("precondition")) {
    c.kind = ConstraintSpec::Kind::precondition;
    c.subject = p->scalar.to_string();
    c.seconds = duration("max_age");
    if (c.subject == "full_backup" && c.seconds < 0) st.error("precondition full_backup needs max_age", c.where);
    if (const YNode* on = n.get("on")) c.nodes = st.resolve_targets(on->to_value(), loc.doc->at(*on));
  } else if (const YNode* h = n.get("halt_after_failures")) {
    c.kind = ConstraintSpec::Kind::halt_after_failures;
    c.limit = static_cast<int>(h->scalar.as_int());
  }
  return c;
}

/// The variables a node's strings name as `${vars.NAME...}`, scanned as interpolation
/// reads them (`$${` is a literal, not a reference).
void var_refs(const YNode& n, std::set<std::string>& out) {
  if (n.is_scalar() && n.scalar.is_string()) {
    const std::string& s = n.scalar.as_string();
    for (std::size_t i = 0; i < s.size();) {
      if (s.compare(i, 3, "$${") == 0) {
        i += 3;
      } else if (s.compare(i, 7, "${vars.") == 0) {
        std::size_t end = s.find_first_of(".}", i + 7);
        if (end == std::string::npos) break;
        out.insert(s.substr(i + 7, end - i - 7));
        i = end;
      } else {
        ++i;
      }
    }
  }
  for (const auto& i : n.items) var_refs(i, out);
  for (const auto& e : n.entries) var_refs(e.node(), out);
}

/// Variables may refer to other variables: each is resolved once, after those it names
/// (Kahn's order over the references, so a chain of any length costs one pass); what is
/// left refers to itself (a cycle) or to something undefined.
void resolve_vars(LoaderState& st, std::map<std::string, Located> pending) {
  std::map<std::string, std::set<std::string>> waits_on;     // var -> pending vars it names
  std::map<std::string, std::vector<std::string>> needed_by;  // the reverse
  std::vector<std::string> ready;
  for (const auto& [name, loc] : pending) {
    std::set<std::string> refs;
    var_refs(*loc.node, refs);
    auto& w = waits_on[name];
    for (const auto& r : refs)
      if (pending.count(r)) {
        w.insert(r);
        needed_by[r].push_back(name);
      }
    if (w.empty()) ready.push_back(name);
  }
  std::map<std::string, Error> failed;
  while (!ready.empty()) {
    std::string name = std::move(ready.back());
    ready.pop_back();
    const Located& loc = pending.at(name);
    auto v = interpolate(*loc.node, st.scope(st.vars_budget), *loc.doc);
    if (!v) {
      failed.emplace(name, v.error());
      continue;  // what needs it stays waiting, and is reported below
    }
    st.vars.emplace(name, std::move(*v));
    for (const auto& d : needed_by[name])
      if (auto& w = waits_on[d]; w.erase(name) && w.empty()) ready.push_back(d);
  }
  // Left waiting: in a cycle, or needing (perhaps through others) a variable that failed
  // or one in a cycle. Only the root causes are reported: the failed variable's error, and
  // the members of each cycle. Peeling off, again and again, what waits on nothing left or
  // is needed by nothing left leaves the cycles (and what links two of them).
  std::map<std::string, std::set<std::string>> left;  // var -> the vars left it waits on
  for (const auto& [k, w] : waits_on)
    if (!w.empty() && !failed.count(k)) left.emplace(k, w);
  std::map<std::string, std::set<std::string>> needers;  // var -> the vars left waiting on it
  for (auto& [k, w] : left) {
    for (auto it = w.begin(); it != w.end();) it = left.count(*it) ? std::next(it) : w.erase(it);
    for (const auto& o : w) needers[o].insert(k);
  }
  std::vector<std::string> peel;
  for (const auto& [k, w] : left)
    if (w.empty() || needers[k].empty()) peel.push_back(k);
  while (!peel.empty()) {
    std::string k = std::move(peel.back());
    peel.pop_back();
    auto it = left.find(k);
    if (it == left.end()) continue;
    for (const auto& o : it->second)  // what k waits on loses a needer
      if (left.count(o) && needers[o].erase(k) && needers[o].empty()) peel.push_back(o);
    for (const auto& n : needers[k])  // what waits on k waits on one fewer
      if (auto ln = left.find(n); ln != left.end() && ln->second.erase(k) && ln->second.empty()) peel.push_back(n);
    left.erase(it);
  }
  std::string names;
  for (const auto& [k, _] : left) names += (names.empty() ? "" : ", ") + k;
  for (const auto& [k, loc] : pending) {
    if (auto f = failed.find(k); f != failed.end()) st.diags.push_back(f->second);
    else if (left.count(k))
      st.error("variable '" + k + "' cannot be resolved: variables " + names + " refer to each other", loc.doc->at(*loc.node));
  }
}

}  // namespace

std::vector<std::string> detail::LoaderState::resolve_targets(const Value& v, const SourceRange& where) {
  std::set<std::string> out;
  List names = v.is_list() ? v.as_list() : List{v};
  for (const auto& n : names) {
    std::string s = n.to_string();
    if (out_node_or_group(s, out)) continue;
    error("unknown node or group '" + s + "'", where);
  }
  return {out.begin(), out.end()};
}

bool detail::LoaderState::out_node_or_group(const std::string& s, std::set<std::string>& into) const {
  if (out.node(s)) {
    into.insert(s);
    return true;
  }
  if (auto it = out.groups.find(s); it != out.groups.end()) {
    into.insert(it->second.begin(), it->second.end());
    return true;
  }
  if (auto it = out.clusters.find(s); it != out.clusters.end()) {
    into.insert(it->second.begin(), it->second.end());
    return true;
  }
  return false;
}

LoadOutcome load_manifest(const std::string& path, const TypeRegistry& types, const InventoryRunner& run_inventory) {
  LoaderState st;
  st.types = types;
  st.run_inventory = run_inventory;
  st.out.path = absolute_path(path);
  st.out.dir = fs::path(st.out.path).parent_path().string();
  std::vector<std::string> chain;
  load_file(st, st.out.path, chain, nullptr);
  if (st.diags.empty()) {
    const YDoc& top = *st.docs.front();
    if (const YNode* k = top.root.get("kind"); k && k->scalar.to_string() != "Manifest")
      st.error("the top-level file must be of kind Manifest, not " + k->scalar.to_string(), top.at(*k));
    if (const YNode* md = top.root.get("metadata")) {
      if (const YNode* n = md->get("name")) st.out.name = n->scalar.to_string();
      if (const YNode* d = md->get("description")) st.out.description = d->scalar.to_string();
    }
    if (const YNode* state = top.root.get("state")) {
      if (const YNode* u = state->get("url")) st.out.state_url = u->scalar.to_string();
      if (const YNode* e = state->get("estate")) st.out.estate = e->scalar.to_string();
    }
    for (char** e = environ; e && *e; ++e)
      if (const char* eq = std::strchr(*e, '=')) st.env[std::string(*e, static_cast<std::size_t>(eq - *e))] = Value(std::string(eq + 1));
    if (const YNode* sec = top.root.get("secrets")) load_secrets(st, top, *sec);
    std::map<std::string, Located> vars, defaults;
    merge_section(st, "vars", nullptr, vars);
    // A default (any file's `defaults:`) is a variable unless `vars:` defines it; a node's
    // own vars override it for the resources on that node (expand_resources).
    merge_section(st, "defaults", nullptr, defaults);
    for (const auto& [name, loc] : defaults)
      if (vars.emplace(name, loc).second) st.default_names.insert(name);
    resolve_vars(st, vars);
    build_inventory(st);
    for (const auto& d : st.docs) {
      if (const YNode* r = d->root.get("resources"))
        for (const auto& item : r->items) st.resource_nodes.push_back({d.get(), &item});
      if (const YNode* c = d->root.get("constraints"))
        for (const auto& item : c->items) st.constraint_nodes.push_back({d.get(), &item});
    }
    if (st.diags.empty()) {
      detail::expand_resources(st);
      if (st.diags.empty()) detail::resolve_dependencies(st);
      for (const auto& loc : st.constraint_nodes) st.out.constraints.push_back(parse_constraint(st, loc));
    }
  }
  // Paths in messages as the user would write them: relative to the working directory
  // when the file is below it.
  for (auto& d : st.diags)
    if (d.where) d.where->file = display_path(d.where->file);
  LoadOutcome outcome;
  sort_diagnostics(st.diags);
  outcome.diagnostics = std::move(st.diags);
  if (outcome.diagnostics.empty()) outcome.manifest = std::move(st.out);
  outcome.types = std::move(st.types);
  return outcome;
}

}  // namespace converge
