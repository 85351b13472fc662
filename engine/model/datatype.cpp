// engine/model/datatype.cpp — pure functions over the data-type model: lookups, the
// registry schema of a type, `prior` values, argv templates.
#include "engine/model/datatype.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "engine/model/manifest.h"

namespace converge::datatype {

const char* scope_word(Scope s) { return s == Scope::cluster ? "cluster" : "node"; }

bool ActionDef::can_set(const std::string& prop, const Value& desired) const {
  auto it = sets.find(prop);
  return it != sets.end() && (it->second == Value(kDesired) || it->second == desired);
}

const ActionDef* DataType::find_action(const std::string& n) const {
  for (const auto& a : actions)
    if (a.name == n) return &a;
  return nullptr;
}

namespace {

/// The key of a placeholder at tmpl[i] == '{': "name", "node", "cluster" or "prop.X", closed
/// by '}' and not preceded by '$' (the shell's ${VAR}); "" when the brace is plain text
/// (awk's `{ print }`, `{1..3}`, `${1%/*}`). `end` is set to the closing brace.
std::string placeholder_at(const std::string& tmpl, std::size_t i, std::size_t& end) {
  if (i > 0 && tmpl[i - 1] == '$') return "";
  const std::size_t close = tmpl.find('}', i + 1);
  if (close == std::string::npos) return "";
  std::string key = tmpl.substr(i + 1, close - i - 1);
  const bool word = key == "name" || key == "node" || key == "cluster";
  bool prop = key.starts_with("prop.") && key.size() > 5;
  for (std::size_t k = 5; prop && k < key.size(); ++k)
    prop = std::isalnum(static_cast<unsigned char>(key[k])) || key[k] == '_' || key[k] == '-';
  if (!word && !prop) return "";
  end = close;
  return key;
}

}  // namespace

Result<std::string> render_element(const std::string& tmpl, const std::map<std::string, std::string>& vars) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    char ch = tmpl[i];
    std::size_t close = 0;
    if (ch == '{' && i + 1 < tmpl.size() && tmpl[i + 1] == '{') {
      // {{name}} is the text {name}; any other {{ is text as it stands (jq, Go templates).
      std::size_t inner = 0;
      const std::string key = placeholder_at(tmpl, i + 1, inner);
      if (!key.empty() && inner + 1 < tmpl.size() && tmpl[inner + 1] == '}') {
        out += "{" + key + "}";
        i = inner + 1;
      } else {
        out += ch;
      }
    } else if (ch != '{') {
      out += ch;
    } else if (std::string key = placeholder_at(tmpl, i, close); key.empty()) {
      out += ch;
    } else {
      auto it = vars.find(key);
      if (it == vars.end()) {
        std::string known;
        for (const auto& [k, _] : vars) known += (known.empty() ? "" : ", ") + ("{" + k + "}");
        return std::unexpected(make_error(ErrorCode::invalid_input, "unknown placeholder {" + key + "} (known: " + known + ")"));
      }
      out += it->second;
      i = close;
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

std::map<std::string, std::string> action_vars(const DataType& type, const ResourceSpec& r, const ActionDef* a) {
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

FileDeclarations declarations(const TypeRegistry& reg) {
  FileDeclarations out;
  std::set<const FileDeclarations*> seen;
  for (const auto& name : reg.names()) {
    const DataType* t = data_type(reg, name);
    if (!t || !t->declared || !seen.insert(t->declared.get()).second) continue;
    out.facts.insert(out.facts.end(), t->declared->facts.begin(), t->declared->facts.end());
    out.preconditions.insert(out.preconditions.end(), t->declared->preconditions.begin(), t->declared->preconditions.end());
  }
  return out;
}

TypeSchema type_schema(const DataType& t) {
  TypeSchema s;
  s.name = t.name;
  s.doc = t.doc;
  s.properties = t.properties;
  s.cluster_scoped = t.scope == Scope::cluster;
  return s;
}

std::expected<void, PropertyError> take_priors(const DataType& t, Map& props, std::vector<std::string>& prior) {
  for (auto& [name, v] : props) {
    auto x = t.extras.find(name);
    if (x == t.extras.end()) continue;
    if (x->second.observed_only && !v.is_null())
      return std::unexpected(PropertyError{name, "is observed only; it cannot be given a desired value"});
    if (x->second.accepts_prior && v == Value(kPrior)) {
      prior.push_back(name);
      v = Value();  // not managed until the planned run resolves it
    }
  }
  return {};
}

const DataType* data_type(const TypeRegistry& reg, const std::string& type) {
  const TypeEntry* e = reg.find(type);
  return e ? data_type(*e) : nullptr;
}

}  // namespace converge::datatype
