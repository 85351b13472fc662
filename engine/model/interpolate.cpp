#include "engine/model/interpolate.h"

#include <charconv>

namespace converge {

namespace {

Result<Value> lookup(const std::string& expr, const Scope& scope, const SourceRange& where) {
  auto fail = [&](const std::string& msg) -> Result<Value> {
    return std::unexpected(make_error(ErrorCode::invalid_input, msg, where));
  };
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto dot = expr.find('.', start);
    parts.push_back(expr.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) return fail("malformed expression '${" + expr + "}'");
  const Value* cur = nullptr;
  Value holder;
  std::size_t i = 1;
  // The first name is looked up in the root map itself: copying the whole map for every
  // expression made a for_each over N variables' worth of items cost N^2.
  auto in_root = [&](const Map& root) {
    if (parts.size() == 1) {
      holder = Value(root);
      cur = &holder;
    } else if (auto it = root.find(parts[1]); it != root.end()) {
      cur = &it->second;
      i = 2;
    }
  };
  if (parts[0] == "vars") {
    if (!scope.vars) return fail("no variables are defined for '${" + expr + "}'");
    in_root(*scope.vars);
    if (!cur) return fail("'${" + expr + "}' is not defined");
  } else if (parts[0] == "each") {
    if (!scope.each_key) return fail("'${" + expr + "}' is used outside a for_each");
    if (parts.size() < 2 || (parts[1] != "key" && parts[1] != "value"))
      return fail("'${" + expr + "}': each has only .key and .value");
    cur = parts[1] == "key" ? &*scope.each_key : &*scope.each_value;
    i = 2;
  } else if (parts[0] == "node") {
    if (!scope.node) return fail("'${" + expr + "}' is used where no node is known");
    in_root(*scope.node);
    if (!cur) return fail("'${" + expr + "}' is not defined");
  } else if (parts[0] == "env" || parts[0] == "secret") {
    if (!scope.sensitive_used)
      return fail("'${" + expr + "}' can be used only in a resource's properties (which it makes sensitive: never printed, journaled or cached)");
    if (parts.size() != 2) return fail("malformed expression '${" + expr + "}' (write ${" + parts[0] + ".NAME})");
    const Map* from = parts[0] == "env" ? scope.env : scope.secrets;
    if (!from)
      return fail(parts[0] == "env" ? "the environment is not available here"
                                    : "'${" + expr + "}': the manifest names no secrets file (secrets: PATH)");
    auto it = from->find(parts[1]);
    if (it == from->end())
      return fail(parts[0] == "env" ? "environment variable " + parts[1] + " is not set"
                                    : "'" + parts[1] + "' is not in the secrets file");
    *scope.sensitive_used = true;
    return it->second;
  } else {
    return fail("unknown variable root '" + parts[0] + "' in '${" + expr + "}' (expected vars, each, node, env or secret)");
  }
  for (; i < parts.size(); ++i) {
    if (cur->is_map()) {
      cur = cur->find(parts[i]);
    } else if (cur->is_list()) {
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(parts[i].data(), parts[i].data() + parts[i].size(), idx);
      cur = (ec == std::errc() && p == parts[i].data() + parts[i].size() && idx < cur->as_list().size())
                ? &cur->as_list()[idx] : nullptr;
    } else {
      cur = nullptr;
    }
    if (!cur) return fail("'${" + expr + "}' is not defined");
  }
  if (scope.budget) {
    // Every expression copies its value: a budget over the copies bounds what variables
    // that double each other, or a list of a thousand references, can build.
    std::size_t w = weight(*cur);
    if (w > *scope.budget)
      return fail("expanding '${" + expr + "}' takes the manifest's expressions past " +
                  std::to_string(scope.budget_size >> 20) + " MiB" +
                  (scope.budget_size == kVarsBudget ? " (variables doubling each other?)"
                                                    : " (a large value copied into many resources?)"));
    *scope.budget -= w;
  }
  return *cur;
}

}  // namespace

std::size_t weight(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::string: return 48 + v.as_string().size();
    case Value::Kind::list: {
      std::size_t w = 48;
      for (const auto& e : v.as_list()) w += weight(e);
      return w;
    }
    case Value::Kind::map: {
      std::size_t w = 48;
      for (const auto& [k, e] : v.as_map()) w += 48 + k.size() + weight(e);
      return w;
    }
    default: return 48;
  }
}

Result<Value> interpolate_string(const std::string& s, const Scope& scope, const SourceRange& where) {
  if (!has_expression(s)) return Value(s);
  // A whole-string single expression keeps its type.
  if (s.size() > 3 && s.starts_with("${") && s.back() == '}' && s.find('}') == s.size() - 1 &&
      (s.size() < 4 || s.find("${", 2) == std::string::npos))
    return lookup(s.substr(2, s.size() - 3), scope, where);
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (s.compare(i, 2, "${") == 0) {
      auto end = s.find('}', i + 2);
      if (end == std::string::npos)
        return std::unexpected(make_error(ErrorCode::invalid_input, "unterminated '${' in string", where));
      CONVERGE_TRY(Value v, lookup(s.substr(i + 2, end - i - 2), scope, where));
      if (v.is_list() || v.is_map())
        return std::unexpected(make_error(ErrorCode::invalid_input,
                                          "'${" + s.substr(i + 2, end - i - 2) + "}' is a " + kind_name(v.kind()) +
                                              " and cannot be embedded in text",
                                          where));
      out += v.is_null() ? std::string() : v.to_string();
      i = end + 1;
      continue;
    }
    out += s[i++];
  }
  return Value(std::move(out));
}

Result<Value> interpolate(const YNode& n, const Scope& scope, const YDoc& doc) {
  switch (n.kind) {
    case YNode::Kind::null: return Value();
    case YNode::Kind::scalar:
      if (n.scalar.is_string() && has_expression(n.scalar.as_string()))
        return interpolate_string(n.scalar.as_string(), scope, doc.at(n));
      return n.scalar;
    case YNode::Kind::seq: {
      List l;
      l.reserve(n.items.size());
      for (const auto& i : n.items) {
        CONVERGE_TRY(Value v, interpolate(i, scope, doc));
        l.push_back(std::move(v));
      }
      return Value(std::move(l));
    }
    case YNode::Kind::map: {
      Map m;
      for (const auto& e : n.entries) {
        CONVERGE_TRY(Value v, interpolate(e.node(), scope, doc));
        m.emplace(e.key, std::move(v));
      }
      return Value(std::move(m));
    }
  }
  return Value();
}

}  // namespace converge
