// Resource stages of the loader: for_each, interpolation, targets, type checks,
// identities, dependencies and cycles.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_map>
#include <utility>

#include "engine/model/datatype.h"
#include "engine/model/graph.h"
#include "engine/model/interpolate.h"
#include "engine/model/loader_internal.h"
#include "engine/model/sha256.h"
#include "engine/model/template.h"

namespace converge::detail {

namespace fs = std::filesystem;

namespace {

std::string known_types(const TypeRegistry& types) {
  std::string out;
  for (const auto& n : types.names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool kind_accepted(const PropertySpec& p, const Value& v) {
  if (p.kinds.empty() || v.is_null()) return true;
  return std::find(p.kinds.begin(), p.kinds.end(), v.kind()) != p.kinds.end();
}

std::string kinds_text(const PropertySpec& p) {
  std::string out;
  for (auto k : p.kinds) out += (out.empty() ? "" : " or ") + std::string(kind_name(k));
  return out;
}

/// The (key, value) pairs a for_each stamps out; one empty item when there is no for_each.
std::vector<std::pair<Value, Value>> for_each_items(LoaderState& st, const Located& r, bool& ok) {
  std::vector<std::pair<Value, Value>> items;
  const YNode* fe = r.node->get("for_each");
  ok = true;
  if (!fe) return items;
  auto v = interpolate(*fe, st.scope(st.stamp_budget), *r.doc);
  if (!v) {
    st.diags.push_back(v.error());
    ok = false;
    return items;
  }
  if (v->is_list()) {
    std::int64_t i = 0;
    for (auto& e : v->as_list()) items.emplace_back(Value(i++), e);
  } else if (v->is_map()) {
    for (auto& [k, e] : v->as_map()) items.emplace_back(Value(k), e);
  } else {
    st.error(std::string("for_each needs a list or a map, got a ") + kind_name(v->kind()), r.doc->at(*fe));
    ok = false;
  }
  return items;
}

Map node_scope(const NodeSpec& n) {
  List roles(n.roles.begin(), n.roles.end());
  return Map{{"name", Value(n.name)}, {"vars", Value(n.vars)}, {"cluster", Value(n.cluster)}, {"roles", Value(roles)}};
}

/// Checks properties against the type, applies defaults and canonicalizes. Reports errors.
bool check_properties(LoaderState& st, const Located& r, const TypeEntry& type, ResourceSpec& spec) {
  bool ok = true;
  const YNode* props = r.node->get("properties");
  bool name_is_path = !type.schema.name_property.empty() && !spec.properties.count(type.schema.name_property);
  auto at_prop = [&](const std::string& key) {
    const YEntry* e = props ? props->entry(key) : nullptr;
    if (!e && name_is_path && key == type.schema.name_property) return r.doc->at(*r.node->get("name"));
    return e ? r.doc->at(*e) : r.doc->at(*r.node);
  };
  for (const auto& [key, val] : spec.properties) {
    const PropertySpec* p = type.schema.find(key);
    if (!p) {
      std::string known;
      for (const auto& q : type.schema.properties) known += (known.empty() ? "" : ", ") + q.name;
      st.error("unknown property '" + key + "' for type " + spec.type + " (known: " + known + ")", at_prop(key));
      ok = false;
      continue;
    }
    if (!kind_accepted(*p, val)) {
      std::string got = kind_name(val.kind());
      st.error("property '" + key + "' must be a " + kinds_text(*p) + ", got " + (got == "integer" ? "an " : "a ") + got,
               at_prop(key));
      ok = false;
      continue;
    }
    if (!p->allowed.empty() && std::find(p->allowed.begin(), p->allowed.end(), val) == p->allowed.end()) {
      std::string allowed;
      for (const auto& a : p->allowed) allowed += (allowed.empty() ? "" : ", ") + a.to_string();
      st.error("property '" + key + "' must be one of " + allowed + ", got '" + val.to_string() + "'", at_prop(key));
      ok = false;
    }
  }
  if (!type.schema.name_property.empty() && !spec.properties.count(type.schema.name_property))
    spec.properties[type.schema.name_property] = Value(spec.name);
  for (const auto& p : type.schema.properties) {
    if (spec.properties.count(p.name)) continue;
    if (p.default_value) {
      spec.properties[p.name] = *p.default_value;
    } else if (p.required) {
      st.error("type " + spec.type + " requires property '" + p.name + "'", r.doc->at(*r.node));
      ok = false;
    }
  }
  for (const auto& s : spec.sensitive) {
    if (!type.schema.find(s)) {
      st.error("sensitive names unknown property '" + s + "'", r.doc->at(*r.node->get("sensitive")));
      ok = false;
    }
  }
  if (ok) {
    auto c = type.data ? datatype::take_priors(*type.data, spec.properties, spec.prior)
                       : type.provider->canonicalize(spec.properties);
    if (!c) {
      bool from_name = name_is_path && c.error().property == type.schema.name_property;
      st.error((from_name ? "resource name (the " + c.error().property + ")" : "property '" + c.error().property + "'") +
                   ": " + c.error().message,
               at_prop(c.error().property));
      ok = false;
    }
  }
  return ok;
}

/// Targets of a cluster-scoped type: cluster names only.
std::vector<std::string> resolve_clusters(LoaderState& st, const Value& v, const TypeEntry& type, const SourceRange& where) {
  std::set<std::string> out;
  for (const auto& n : v.is_list() ? v.as_list() : List{v}) {
    std::string s = n.to_string();
    if (st.out.clusters.count(s)) out.insert(s);
    else st.error("type " + type.schema.name + " is cluster-scoped and '" + s + "' is not a cluster (clusters come from the nodes' cluster: field)", where);
  }
  return {out.begin(), out.end()};
}

/// A node-scoped type targeted at a cluster by name is almost surely a mistake.
void check_not_cluster(LoaderState& st, const Value& v, const TypeEntry& type, const SourceRange& where) {
  for (const auto& n : v.is_list() ? v.as_list() : List{v})
    if (st.out.clusters.count(n.to_string()) && !st.out.node(n.to_string()) && !st.out.groups.count(n.to_string()))
      st.error("'" + n.to_string() + "' is a cluster, and type " + type.schema.name +
                   " is node-scoped; target its nodes or a group", where);
}

void resource_limit(LoaderState& st, const Located& r) {
  st.error("the manifest stamps out more than " + std::to_string(kMaxResources) +
               " resources (for_each items times target nodes); split it",
           r.doc->at(*r.node));
}

/// What expand_resources() carries from one stamp to the next.
struct Stamping {
  std::unordered_map<std::string, SourceRange> seen;  ///< ids stamped so far
  std::map<std::string, Map> node_scopes;              ///< ${node.*} of each node, built once
  /// ${vars.*} of each node whose own vars override a default; built once.
  std::map<std::string, std::optional<Map>> node_vars;
  std::map<std::string, std::string> templates;        ///< template files read, by absolute path
  bool over_limit = false;                             ///< kMaxResources reported
};

/// The text of the template file `path` (`name` as written, relative to the file that
/// declares it), read once per load and recorded as a source of the model (an edit to it
/// misses the model cache).
Result<std::string> template_text(LoaderState& st, Stamping& stamping, const std::string& path,
                                  const std::string& name, const SourceRange& at) {
  if (auto it = stamping.templates.find(path); it != stamping.templates.end()) return it->second;
  constexpr std::uintmax_t kMaxTemplate = 4u << 20;
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return std::unexpected(make_error(ErrorCode::invalid_input, "cannot read template '" + name + "': " + ec.message(), at));
  if (size > kMaxTemplate)
    return std::unexpected(make_error(ErrorCode::invalid_input, "template '" + name + "' is larger than 4 MiB", at));
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof())
    return std::unexpected(make_error(ErrorCode::invalid_input, "cannot read template '" + name + "'", at));
  st.out.sources.push_back(path);
  st.out.source_sha256.push_back(sha256_hex(text));
  return stamping.templates.emplace(path, std::move(text)).first->second;
}

/// `template: PATH` on a file: rendered into its content with the resource's scope.
void render_file_template(LoaderState& st, const Located& r, const Scope& scope,
                          const std::optional<std::pair<Value, Value>>& item, Stamping& stamping, ResourceSpec& spec,
                          bool& ok) {
  auto t = spec.properties.find("template");
  if (t == spec.properties.end()) return;
  const YNode* props = r.node->get("properties");
  const YNode* tnode = props ? props->get("template") : nullptr;
  const SourceRange at = tnode ? r.doc->at(*tnode) : spec.where;
  ok = false;
  if (spec.properties.count("content")) return st.error("a file takes content or template, not both", at);
  if (!t->second.is_string() || t->second.as_string().empty()) return st.error("template must be a file's path", at);
  const std::string& name = t->second.as_string();
  const std::string path = absolute_path((fs::path(r.doc->path).parent_path() / name).string());
  auto text = template_text(st, stamping, path, name, at);
  if (!text) return st.diags.push_back(text.error());
  Map context{{"vars", Value(*scope.vars)}, {"node", Value(*scope.node)}};
  if (item) context["each"] = Value(Map{{"key", item->first}, {"value", item->second}});
  // A template that reads the environment or the secrets makes the content sensitive.
  bool secret = false;
  for (const auto& n : template_names(*text))
    if (n == "env" || n.starts_with("env.") || n == "secret" || n.starts_with("secret.")) secret = true;
  if (secret) {
    context["env"] = Value(st.env);
    if (st.secrets) context["secret"] = Value(*st.secrets);
    spec.sensitive.insert("content");
  }
  auto out = render_template(path, *text, context);
  if (!out) return st.diags.push_back(out.error());
  spec.properties["content"] = Value(std::move(*out));
  spec.properties.erase(t);
  ok = true;
}

/// Stamps out one resource block for one for_each item on each of its nodes.
void stamp(LoaderState& st, const Located& r, const TypeEntry& type, const std::optional<std::pair<Value, Value>>& item,
           Stamping& stamping) {
  auto& seen = stamping.seen;
  Scope scope = st.scope(st.stamp_budget);
  if (item) {
    scope.each_key = item->first;
    scope.each_value = item->second;
  }
  std::vector<std::string> nodes;
  if (const YNode* on = r.node->get("on")) {
    auto v = interpolate(*on, scope, *r.doc);
    if (!v) return st.diags.push_back(v.error());
    nodes = type.schema.cluster_scoped ? resolve_clusters(st, *v, type, r.doc->at(*on)) : st.resolve_targets(*v, r.doc->at(*on));
    if (!type.schema.cluster_scoped) check_not_cluster(st, *v, type, r.doc->at(*on));
  } else if (type.schema.cluster_scoped) {
    return st.error("type " + type.schema.name + " is cluster-scoped: say on which cluster (on: CLUSTER)", r.doc->at(*r.node));
  } else {
    for (const auto& n : st.out.nodes) nodes.push_back(n.name);
  }
  for (const auto& node_name : nodes) {
    if (st.out.resources.size() >= kMaxResources) {
      if (!std::exchange(stamping.over_limit, true)) resource_limit(st, r);
      return;
    }
    if (const NodeSpec* ns = st.out.node(node_name); ns && !type.data && type.schema.name != "exec") {
      // The built-in file types act through the node's POSIX filesystem.
      const TransportSpec& t = ns->transport;
      if (t.kind == "lab" || (t.kind == "ssh" && t.shell != "posix"))
        return st.error("type " + type.schema.name + " needs a POSIX filesystem and node " + node_name + " has none (" +
                            (t.kind == "lab" ? std::string("the lab's Windows hosts") : "ssh with shell: " + t.shell) + ")",
                        r.doc->at(*r.node));
    }
    auto [scope_it, fresh_scope] = stamping.node_scopes.try_emplace(node_name);
    if (fresh_scope) {
      const NodeSpec* ns = st.out.node(node_name);
      scope_it->second = ns ? node_scope(*ns) : Map{{"name", Value(node_name)}, {"vars", Value(Map{})}, {"cluster", Value(node_name)}, {"roles", Value(List{})}};
    }
    scope.node = &scope_it->second;
    auto [vars_it, fresh_vars] = stamping.node_vars.try_emplace(node_name);
    if (fresh_vars)
      if (const NodeSpec* ns = st.out.node(node_name))
        for (const auto& [k, v] : ns->vars)
          if (st.default_names.count(k)) {
            if (!vars_it->second) vars_it->second = st.vars;
            (*vars_it->second)[k] = v;
          }
    scope.vars = vars_it->second ? &*vars_it->second : &st.vars;
    ResourceSpec spec;
    spec.type = type.schema.name;
    spec.node = node_name;
    spec.where = r.doc->at(*r.node);
    const YNode* name_node = r.node->get("name");
    auto name = interpolate(*name_node, scope, *r.doc);
    if (!name) return st.diags.push_back(name.error());
    if (!name->is_string() && !name->is_int()) return st.error("resource name must be text", r.doc->at(*name_node));
    spec.name = name->to_string();
    if (spec.name.empty()) return st.error("resource name is empty", r.doc->at(*name_node));
    if (const YNode* props = r.node->get("properties")) {
      // One property at a time: one that takes ${env.X} or ${secret.X} becomes sensitive.
      Scope with_secrets = scope;
      with_secrets.env = &st.env;
      with_secrets.secrets = st.secrets ? &*st.secrets : nullptr;
      for (const auto& e : props->entries) {
        bool secret = false;
        with_secrets.sensitive_used = &secret;
        auto v = interpolate(e.node(), with_secrets, *r.doc);
        if (!v) return st.diags.push_back(v.error());
        spec.properties[e.key] = std::move(*v);
        if (secret) spec.sensitive.insert(e.key);
      }
    }
    if (type.schema.name == "file") {
      bool rendered = true;
      render_file_template(st, r, scope, item, stamping, spec, rendered);
      if (!rendered) return;
    }
    if (const YNode* deps = r.node->get("depends_on")) {
      spec.depends_where = r.doc->at(*deps);
      auto v = interpolate(*deps, scope, *r.doc);
      if (!v) return st.diags.push_back(v.error());
      List l = v->is_list() ? v->as_list() : List{*v};
      for (const auto& d : l) spec.depends_on.push_back(d.to_string());
    }
    for (auto [key, into] : {std::pair{"subscribe", &spec.subscribe}, std::pair{"notify", &spec.notify}})
      if (const YNode* refs = r.node->get(key)) {
        if (!spec.depends_where.line) spec.depends_where = r.doc->at(*refs);
        auto v = interpolate(*refs, scope, *r.doc);
        if (!v) return st.diags.push_back(v.error());
        List l = v->is_list() ? v->as_list() : List{*v};
        for (const auto& d : l) into->push_back(d.to_string());
      }
    if (const YNode* s = r.node->get("sensitive"))
      for (const auto& i : s->items) spec.sensitive.insert(i.scalar.to_string());
    if (const YNode* t = r.node->get("tags"))
      for (const auto& i : t->items) spec.tags.push_back(i.scalar.to_string());
    if (!check_properties(st, r, type, spec)) return;
    std::string id = spec.id();
    if (auto [it, fresh] = seen.emplace(id, spec.where); !fresh) {
      st.error("duplicate resource " + id + " (first declared at " + display_path(it->second.file) + ":" +
                   std::to_string(it->second.line) + ":" + std::to_string(it->second.col) + ")",
               r.doc->at(*name_node));
      continue;
    }
    st.out.resources.push_back(std::move(spec));
  }
}

/// What a block stamps out when its targets hold no expression (items times nodes);
/// otherwise at least one resource for each item.
std::size_t stamp_count(LoaderState& st, const Located& r, const TypeEntry& type, std::size_t items) {
  const YNode* on = r.node->get("on");
  if (!on) return items * st.out.nodes.size();
  Value v = on->to_value();
  List names = v.is_list() ? v.as_list() : List{v};
  if (type.schema.cluster_scoped) return items * names.size();
  std::set<std::string> nodes;
  for (const auto& n : names) {
    if (n.is_string() && has_expression(n.as_string())) return items;
    st.out_node_or_group(n.to_string(), nodes);
  }
  return items * nodes.size();
}

}  // namespace

void expand_resources(LoaderState& st) {
  struct Block {
    const Located* r;
    const TypeEntry* type;
    std::optional<std::vector<std::pair<Value, Value>>> items;  ///< nullopt: no for_each
  };
  // Counted before anything is stamped: a small file must not make a million resources
  // before the limit says no.
  std::vector<Block> blocks;
  std::size_t total = 0;
  for (const auto& r : st.resource_nodes) {
    const YNode* type_node = r.node->get("type");
    const TypeEntry* type = st.types.find(type_node->scalar.to_string());
    if (!type) {
      st.error("unknown resource type '" + type_node->scalar.to_string() + "' (known: " + known_types(st.types) + ")",
               r.doc->at(*type_node));
      continue;
    }
    bool ok = true;
    auto items = for_each_items(st, r, ok);
    if (!ok) continue;
    Block b{&r, type, std::nullopt};
    if (r.node->get("for_each")) b.items = std::move(items);
    total += stamp_count(st, r, *type, b.items ? b.items->size() : 1);
    if (total > kMaxResources) return resource_limit(st, r);
    blocks.push_back(std::move(b));
  }
  Stamping stamping;
  for (const auto& b : blocks) {
    if (!b.items) {
      stamp(st, *b.r, *b.type, std::nullopt, stamping);
    } else {
      for (const auto& item : *b.items) stamp(st, *b.r, *b.type, item, stamping);
    }
  }
}

void resolve_dependencies(LoaderState& st) {
  std::unordered_map<std::string, int> by_id;
  for (int i = 0; i < static_cast<int>(st.out.resources.size()); ++i) by_id.emplace(st.out.resources[i].id(), i);
  for (auto& r : st.out.resources) {
    for (auto [key, refs] : {std::pair{"depends_on", &r.depends_on}, std::pair{"subscribe", &r.subscribe},
                             std::pair{"notify", &r.notify}})
      for (auto& d : *refs) {
        // "type[name]" means the same node; "type[name]@node" names one.
        std::string full = d.find("]@") == std::string::npos ? d + "@" + r.node : d;
        if (!by_id.count(full)) {
          st.error(std::string(key) + " names unknown resource '" + d + "' (write type[name] or type[name]@node)",
                   r.depends_where.line ? r.depends_where : r.where);
          continue;
        }
        d = full;
      }
  }
  if (!st.diags.empty()) return;
  // notify is subscribe written on the source; a subscription orders like a dependency.
  for (auto& r : st.out.resources) {
    for (const auto& target : r.notify) {
      auto& subs = st.out.resources[by_id.at(target)].subscribe;
      if (std::find(subs.begin(), subs.end(), r.id()) == subs.end()) subs.push_back(r.id());
    }
    r.notify.clear();
  }
  for (auto& r : st.out.resources)
    for (const auto& s : r.subscribe) {
      if (s == r.id()) st.error(r.id() + " subscribes to itself", r.depends_where.line ? r.depends_where : r.where);
      if (std::find(r.depends_on.begin(), r.depends_on.end(), s) == r.depends_on.end()) r.depends_on.push_back(s);
    }
  if (!st.diags.empty()) return;
  const auto& rs = st.out.resources;
  // Two resources on one path would fight over it on every run.
  std::map<std::pair<std::string, std::string>, std::size_t> paths;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    if (rs[i].type != "file" && rs[i].type != "directory" && rs[i].type != "symlink") continue;
    auto [it, fresh] = paths.emplace(std::pair(rs[i].node, rs[i].prop_string("path")), i);
    if (!fresh)
      st.error(rs[i].id() + " manages the path " + it->first.second + " that " + rs[it->second].id() + " manages already",
               rs[i].where);
  }
  const std::vector<int> parent = managed_parents(rs);
  for (std::size_t i = 0; i < rs.size(); ++i)
    if (parent[i] >= 0 && rs[parent[i]].prop_string("ensure") == "absent" && rs[i].prop_string("ensure") != "absent")
      st.error(rs[i].id() + " is present inside " + rs[parent[i]].id() + ", which is absent", rs[i].where);
  if (!st.diags.empty()) return;
  Graph g = build_graph(st.out.resources);
  if (auto cycle = find_cycle(g, st.out.resources)) {
    std::string text;
    for (int i : *cycle) text += st.out.resources[i].id() + " -> ";
    text += st.out.resources[cycle->front()].id();
    st.error("dependency cycle: " + text, st.out.resources[cycle->front()].where);
    return;
  }
}

}  // namespace converge::detail
