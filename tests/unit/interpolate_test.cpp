// engine/model/interpolate.h: ${...} expressions. A whole-string expression keeps its type,
// embedded ones splice scalars as text, "$${" escapes, and every error names the
// expression at the given position. Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>

#include "engine/model/interpolate.h"

using namespace converge;

namespace {

const SourceRange kWhere{"m.yaml", 3, 7};

/// A scope with vars, a for_each item and a node, as the loader builds it.
struct ScopeFixture {
  Map vars{
      {"port", Value(8080)},
      {"name", Value("web")},
      {"debug", Value(true)},
      {"nothing", Value()},
      {"l", Value(List{Value("zero"), Value("one"), Value(List{Value("nested")})})},
      {"files", Value(Map{{"a", Value("1")}, {"b", Value(Map{{"c", Value(2)}})}})},
  };
  Map node{
      {"name", Value("web1")},
      {"cluster", Value("c1")},
      {"vars", Value(Map{{"rack", Value("r7")}})},
      {"roles", Value(List{Value("db")})},
  };
  Scope scope{&vars, Value("motd"), Value(Map{{"mode", Value("0644")}, {"size", Value(3)}}), &node};

  std::string json(const std::string& s) const {
    auto v = interpolate_string(s, scope, kWhere);
    if (!v) FAIL("refused: " << v.error().describe());
    return v->to_json();
  }
  std::string error(const std::string& s, const Scope& sc) const {
    auto v = interpolate_string(s, sc, kWhere);
    if (v) FAIL("accepted: " << s << " -> " << v->to_json());
    CHECK(v.error().code == ErrorCode::invalid_input);
    return v.error().describe();
  }
  std::string error(const std::string& s) const { return error(s, scope); }
};

}  // namespace

TEST_CASE_METHOD(ScopeFixture, "a whole-string expression keeps the value's type", "[interpolate]") {
  auto [text, expected] = GENERATE(table<std::string, std::string>({
      {"${vars.files}", R"({"a":"1","b":{"c":2}})"},
      {"${vars.l}", R"(["zero","one",["nested"]])"},
      {"${vars.port}", "8080"},
      {"${vars.debug}", "true"},
      {"${vars.nothing}", "null"},
      {"${vars.files.b}", R"({"c":2})"},
      {"${vars.files.b.c}", "2"},
      {"${vars.l.1}", R"("one")"},
      {"${vars.l.2.0}", R"("nested")"},
      {"${each.key}", R"("motd")"},
      {"${each.value}", R"({"mode":"0644","size":3})"},
      {"${each.value.mode}", R"("0644")"},
      {"${each.value.size}", "3"},
      {"${node.name}", R"("web1")"},
      {"${node.cluster}", R"("c1")"},
      {"${node.vars.rack}", R"("r7")"},
      {"${node.roles.0}", R"("db")"},
  }));
  CHECK(json(text) == expected);
}

TEST_CASE_METHOD(ScopeFixture, "embedded expressions splice scalars as text", "[interpolate]") {
  auto [text, expected] = GENERATE(table<std::string, std::string>({
      {"/srv/${each.key}/conf", "/srv/motd/conf"},
      {"port ${vars.port}", "port 8080"},
      {"${vars.port}${vars.port}", "80808080"},  // two expressions: text, not an integer
      {"${vars.name}-${node.name}", "web-web1"},
      {"debug=${vars.debug}", "debug=true"},
      {"[${vars.nothing}]", "[]"},               // null splices as nothing
      {"${each.value.mode} ${vars.l.0}", "0644 zero"},
      {"no expression at all", "no expression at all"},
      {"$ {vars.name} and {vars.name}", "$ {vars.name} and {vars.name}"},
  }));
  auto v = interpolate_string(text, scope, kWhere);
  REQUIRE(v.has_value());
  REQUIRE(v->is_string());
  CHECK(v->as_string() == expected);
}

TEST_CASE_METHOD(ScopeFixture, "$${ writes a literal ${", "[interpolate]") {
  auto [text, expected] = GENERATE(table<std::string, std::string>({
      {"$${vars.name}", "${vars.name}"},
      {"echo $${HOME}", "echo ${HOME}"},
      {"$${vars.name} is ${vars.name}", "${vars.name} is web"},
  }));
  auto v = interpolate_string(text, scope, kWhere);
  REQUIRE(v.has_value());
  REQUIRE(v->is_string());
  CHECK(v->as_string() == expected);
}

TEST_CASE_METHOD(ScopeFixture, "expression errors name the expression at the position", "[interpolate]") {
  auto [text, expected] = GENERATE(table<std::string, std::string>({
      {"${vars.nope}", "m.yaml:3:7: '${vars.nope}' is not defined"},
      {"/srv/${vars.files.zzz}", "m.yaml:3:7: '${vars.files.zzz}' is not defined"},
      {"${vars.l.3}", "m.yaml:3:7: '${vars.l.3}' is not defined"},
      {"${vars.l.x}", "m.yaml:3:7: '${vars.l.x}' is not defined"},
      {"${vars.port.x}", "m.yaml:3:7: '${vars.port.x}' is not defined"},
      {"${envv.HOME}", "m.yaml:3:7: unknown variable root 'envv' in '${envv.HOME}' (expected vars, each, node, env or secret)"},
      {"${each}", "m.yaml:3:7: '${each}': each has only .key and .value"},
      {"${each.item}", "m.yaml:3:7: '${each.item}': each has only .key and .value"},
      {"x${vars.files}", "m.yaml:3:7: '${vars.files}' is a map and cannot be embedded in text"},
      {"${vars.l} and more", "m.yaml:3:7: '${vars.l}' is a list and cannot be embedded in text"},
      {"/srv/${vars.name", "m.yaml:3:7: unterminated '${' in string"},
      {"${vars..x}", "m.yaml:3:7: malformed expression '${vars..x}'"},
      {"${vars.x.}", "m.yaml:3:7: malformed expression '${vars.x.}'"},
      {"a${}b", "m.yaml:3:7: malformed expression '${}'"},
  }));
  CHECK(error(text) == expected);
}

TEST_CASE_METHOD(ScopeFixture, "roots that the scope lacks are refused", "[interpolate]") {
  Scope bare;
  CHECK(error("${each.key}", bare) == "m.yaml:3:7: '${each.key}' is used outside a for_each");
  CHECK(error("/srv/${each.value.mode}", bare) == "m.yaml:3:7: '${each.value.mode}' is used outside a for_each");
  CHECK(error("${node.name}", bare) == "m.yaml:3:7: '${node.name}' is used where no node is known");
  CHECK(error("${vars.x}", bare) == "m.yaml:3:7: no variables are defined for '${vars.x}'");
}

TEST_CASE_METHOD(ScopeFixture, "interpolate walks a YAML tree and positions errors at the scalar", "[interpolate]") {
  auto doc = parse_yaml(
      "a: '${vars.port}'\n"
      "b: [x, '/srv/${each.key}', 5]\n"
      "c: {d: '${vars.files}', e: plain}\n",
      "m.yaml");
  REQUIRE(doc.has_value());
  auto v = interpolate(doc->root, scope, *doc);
  REQUIRE(v.has_value());
  CHECK(v->to_json() == R"({"a":8080,"b":["x","/srv/motd",5],"c":{"d":{"a":"1","b":{"c":2}},"e":"plain"}})");

  auto bad = parse_yaml("a: ok\nb:\n  - '${vars.missing}'\n", "m.yaml");
  REQUIRE(bad.has_value());
  auto e = interpolate(bad->root, scope, *bad);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().describe() == "m.yaml:3:5: '${vars.missing}' is not defined");
}

TEST_CASE("has_expression spots ${", "[interpolate]") {
  CHECK(has_expression("a${b}"));
  CHECK(has_expression("$${b}"));
  CHECK_FALSE(has_expression("$b {c}"));
  CHECK_FALSE(has_expression(""));
}

TEST_CASE_METHOD(ScopeFixture, "env and secret: only where their use is tracked, and marked when used", "[interpolate]") {
  Map env{{"HOME", Value("/root")}}, secrets{{"db", Value("pw")}};
  // Not in a property (vars, names, on): refused, naming why.
  CHECK(error("${env.HOME}", scope) ==
        "m.yaml:3:7: '${env.HOME}' can be used only in a resource's properties (which it makes sensitive: never printed, journaled or cached)");
  Scope p = scope;
  bool used = false;
  p.env = &env;
  p.sensitive_used = &used;
  auto v = interpolate_string("home=${env.HOME}", p, kWhere);
  REQUIRE(v);
  CHECK(v->as_string() == "home=/root");
  CHECK(used);
  used = false;
  CHECK(json("${vars.port}") == "8080");
  CHECK(error("${env.NOPE}", p) == "m.yaml:3:7: environment variable NOPE is not set");
  CHECK(error("${secret.db}", p) == "m.yaml:3:7: '${secret.db}': the manifest names no secrets file (secrets: PATH)");
  p.secrets = &secrets;
  CHECK(error("${secret.x}", p) == "m.yaml:3:7: 'x' is not in the secrets file");
  CHECK(error("${secret.db.x}", p) == "m.yaml:3:7: malformed expression '${secret.db.x}' (write ${secret.NAME})");
  CHECK_FALSE(used);
  v = interpolate_string("${secret.db}", p, kWhere);
  REQUIRE(v);
  CHECK(v->as_string() == "pw");
  CHECK(used);
}
