// engine/model/loader.h: from manifest files to the model, or every diagnostic with its exact
// "file:line:col: message". Manifests are written to a fresh temporary directory per test;
// diagnostics are compared with that directory stripped from them.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/model/loader.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

const std::string H = "apiVersion: converge/v1\nkind: Manifest\n";
const std::string F = "apiVersion: converge/v1\nkind: Fragment\n";

/// A temporary directory of manifests, removed afterwards.
struct LoaderFixture {
  std::string dir;
  TypeRegistry types = builtin_types();

  LoaderFixture() {
    char tmpl[] = "/tmp/converge-loader-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~LoaderFixture() { fs::remove_all(dir); }

  void write(const std::string& name, const std::string& text) const { std::ofstream(dir + "/" + name) << text; }

  LoadOutcome load(const std::string& text) const {
    write("m.yaml", text);
    return load_manifest(dir + "/m.yaml", types);
  }

  Manifest load_ok(const std::string& text) const {
    LoadOutcome o = load(text);
    if (!o.manifest) FAIL("refused:\n" << diagnostics(o));
    CHECK(o.diagnostics.empty());
    return std::move(*o.manifest);
  }

  /// Every diagnostic, one a line, with the temporary directory stripped.
  std::string diagnostics(const LoadOutcome& o) const {
    std::string out;
    for (const auto& d : o.diagnostics) out += d.describe() + "\n";
    for (std::size_t p; (p = out.find(dir + "/")) != std::string::npos;) out.erase(p, dir.size() + 1);
    return out;
  }

  std::string refusal(const std::string& text) const {
    LoadOutcome o = load(text);
    CHECK_FALSE(o.manifest.has_value());
    return diagnostics(o);
  }

  static const ResourceSpec* find(const Manifest& m, const std::string& id) {
    for (const auto& r : m.resources)
      if (r.id() == id) return &r;
    return nullptr;
  }
};

std::string names(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

TEST_CASE_METHOD(LoaderFixture, "without an inventory, resources go to an implicit localhost", "[loader]") {
  Manifest m = load_ok(H + "metadata: {name: demo}\nresources:\n  - type: file\n    name: /srv/a\n");
  CHECK(m.name == "demo");
  REQUIRE(m.nodes.size() == 1);
  CHECK(m.nodes[0].name == "localhost");
  CHECK(m.nodes[0].transport.kind == "local");
  CHECK(m.nodes[0].transport.root.empty());
  REQUIRE(m.resources.size() == 1);
  CHECK(m.resources[0].id() == "file[/srv/a]@localhost");
  CHECK(m.path == dir + "/m.yaml");
  CHECK(m.dir == dir);
  CHECK(m.sources == std::vector<std::string>{dir + "/m.yaml"});
  CHECK(m.version_sha256().size() == 64);
}

TEST_CASE_METHOD(LoaderFixture, "a node's ssh settings merge with the inventory's default ones", "[loader]") {
  Manifest m = load_ok(H +
                       "inventory:\n"
                       "  transport: {ssh: {user: ops, port: 2222, options: [ConnectTimeout=5], host_key: accept-new,"
                       " known_hosts: keys/known_hosts}}\n"
                       "  nodes:\n"
                       "    a: {}\n"
                       "    b: {transport: {ssh: {host: 10.0.0.2, options: [ServerAliveInterval=9]}}}\n"
                       "    c: {transport: {ssh: {user: root, host_key: strict}}}\n"
                       "    d: {transport: {local: {}}}\n");
  REQUIRE(m.nodes.size() == 4);
  const TransportSpec& a = m.nodes[0].transport;
  CHECK((a.user == "ops" && a.port == 2222 && a.host.empty() && a.host_key == "accept-new"));
  CHECK(a.known_hosts == dir + "/keys/known_hosts");
  const TransportSpec& b = m.nodes[1].transport;
  CHECK((b.host == "10.0.0.2" && b.user == "ops" && b.port == 2222 && b.host_key == "accept-new"));
  CHECK(b.options == std::vector<std::string>{"ServerAliveInterval=9", "ConnectTimeout=5"});  // the node's first
  const TransportSpec& c = m.nodes[2].transport;
  CHECK((c.user == "root" && c.port == 2222 && c.host_key == "strict"));
  CHECK(m.nodes[3].transport.kind == "local");
  CHECK(m.nodes[3].transport.user.empty());
}

TEST_CASE_METHOD(LoaderFixture, "a node's shell merges too; another shell than the default's reads its own boot id", "[loader]") {
  Manifest m = load_ok(H +
                       "inventory:\n"
                       "  transport: {ssh: {user: admin, shell: powershell, boot_id: [reg.exe, query, HKLM\\X, /v, BootId]}}\n"
                       "  nodes:\n"
                       "    w1: {}\n"
                       "    w2: {transport: {ssh: {shell: cmd}}}\n"
                       "    l1: {transport: {ssh: {shell: posix}}}\n"
                       "    l2: {transport: {ssh: {shell: posix, boot_id: [cat, /run/boot]}}}\n");
  REQUIRE(m.nodes.size() == 4);
  auto t = [&](const char* name) { return m.node(name)->transport; };
  CHECK((t("w1").shell == "powershell" && t("w1").boot_id.size() == 5));
  CHECK((t("w2").shell == "cmd" && t("w2").user == "admin" && t("w2").boot_id.empty()));
  CHECK((t("l1").shell == "posix" && t("l1").boot_id.empty()));
  CHECK(t("l2").boot_id == std::vector<std::string>{"cat", "/run/boot"});
}

TEST_CASE_METHOD(LoaderFixture, "resources get their defaults", "[loader]") {
  Manifest m = load_ok(H +
                       "resources:\n"
                       "  - type: file\n    name: /srv/a\n"
                       "  - type: exec\n    name: e\n    properties: {check: [\"true\"], apply: [\"true\"]}\n");
  const ResourceSpec* f = find(m, "file[/srv/a]@localhost");
  REQUIRE(f != nullptr);
  CHECK(Value(f->properties).to_json() == R"({"ensure":"present","path":"/srv/a"})");
  const ResourceSpec* e = find(m, "exec[e]@localhost");
  REQUIRE(e != nullptr);
  CHECK(Value(e->properties).to_json() == R"({"apply":["true"],"check":["true"],"ok":true,"timeout":"5m"})");
}

TEST_CASE_METHOD(LoaderFixture, "inventory: nodes sorted, nested groups expanded", "[loader]") {
  Manifest m = load_ok(H +
                       "inventory:\n"
                       "  nodes:\n"
                       "    web2: {}\n"
                       "    web1: {roles: [web, edge], cluster: c1, vars: {rack: r1}}\n"
                       "    db1:\n"
                       "  groups:\n"
                       "    all: [web, db1]\n"
                       "    web: [web2, web1]\n"
                       "    none: []\n"
                       "resources:\n  - type: file\n    name: /srv/a\n    on: web\n");
  std::vector<std::string> node_names;
  for (const auto& n : m.nodes) node_names.push_back(n.name);
  CHECK(names(node_names) == "db1,web1,web2");
  CHECK(names(m.groups.at("web")) == "web1,web2");
  CHECK(names(m.groups.at("all")) == "db1,web1,web2");
  CHECK(m.groups.at("none").empty());
  const NodeSpec* w = m.node("web1");
  REQUIRE(w != nullptr);
  CHECK(names(w->roles) == "web,edge");
  CHECK(w->cluster == "c1");
  CHECK(Value(w->vars).to_json() == R"({"rack":"r1"})");
  CHECK(w->where.line == 6);
  std::vector<std::string> ids;
  for (const auto& r : m.resources) ids.push_back(r.id());
  CHECK(names(ids) == "file[/srv/a]@web1,file[/srv/a]@web2");
}

TEST_CASE_METHOD(LoaderFixture, "inventory: group errors", "[loader]") {
  SECTION("a cycle of groups") {
    CHECK(refusal(H + "inventory:\n  nodes: {n1: {}}\n  groups:\n    a: [b]\n    b: [a]\n") ==
          "m.yaml:7:9: group 'b' contains itself through 'a'\n");
  }
  SECTION("an unknown member") {
    CHECK(refusal(H + "inventory:\n  nodes: {n1: {}}\n  groups:\n    g: [n1, n9]\n") ==
          "m.yaml:6:13: group 'g' names unknown node or group 'n9'\n");
  }
}

TEST_CASE_METHOD(LoaderFixture, "for_each stamps out one resource per item", "[loader]") {
  SECTION("over a list: key is the index") {
    Manifest m = load_ok(H +
                         "vars:\n  names: [a, b]\n"
                         "resources:\n"
                         "  - type: file\n    name: /srv/${each.value}\n    for_each: ${vars.names}\n"
                         "    properties: {content: \"item ${each.key}\"}\n");
    REQUIRE(m.resources.size() == 2);
    CHECK(m.resources[0].id() == "file[/srv/a]@localhost");
    CHECK(m.resources[0].prop_string("content") == "item 0");
    CHECK(m.resources[1].id() == "file[/srv/b]@localhost");
    CHECK(m.resources[1].prop_string("content") == "item 1");
  }
  SECTION("over a map: sorted by key") {
    Manifest m = load_ok(H +
                         "resources:\n"
                         "  - type: file\n    name: /srv/${each.key}\n    for_each: {y: \"2\", x: \"1\"}\n"
                         "    properties: {content: \"${each.value}\", mode: 600}\n");
    REQUIRE(m.resources.size() == 2);
    CHECK(m.resources[0].id() == "file[/srv/x]@localhost");
    CHECK(Value(m.resources[0].properties).to_json() ==
          R"({"content":"1","ensure":"present","mode":"0600","path":"/srv/x"})");
    CHECK(m.resources[1].prop_string("content") == "2");
  }
}

TEST_CASE_METHOD(LoaderFixture, "mode is canonicalized to four octal digits", "[loader]") {
  auto [written, canonical] = GENERATE(table<std::string, std::string>({
      {"644", "0644"}, {"0644", "0644"}, {"\"755\"", "0755"}, {"\"0700\"", "0700"}, {"4755", "4755"}, {"0", "0000"},
  }));
  Manifest m = load_ok(H + "resources:\n  - type: file\n    name: /srv/a\n    properties:\n      mode: " + written + "\n");
  CHECK(m.resources.at(0).prop_string("mode") == canonical);
}

TEST_CASE_METHOD(LoaderFixture, "each semantic error is reported at its place", "[loader]") {
  const std::string file_a = "  - type: file\n    name: /srv/a\n";
  auto [manifest, expected] = GENERATE_COPY(table<std::string, std::string>({
      {H + "resources:\n  - type: fiel\n    name: x\n",
       "m.yaml:4:11: unknown resource type 'fiel' (known: directory, exec, file, symlink)"},
      {H + "resources:\n" + file_a + "    properties:\n      colour: red\n",
       "m.yaml:7:7: unknown property 'colour' for type file (known: path, ensure, content, template, mode, owner, group)"},
      {H + "resources:\n" + file_a + "    properties:\n      content: [a]\n",
       "m.yaml:7:7: property 'content' must be a string, got a list"},
      {H + "resources:\n" + file_a + "    properties:\n      mode: \"999\"\n",
       "m.yaml:7:7: property 'mode': must be octal permission bits such as \"0644\""},
      {H + "resources:\n" + file_a + "    properties: {ensure: maybe}\n",
       "m.yaml:6:18: property 'ensure' must be one of present, absent, got 'maybe'"},
      {H + "resources:\n  - type: file\n    name: srv/a\n    properties: {path: srv/a}\n",
       "m.yaml:6:18: property 'path': must be an absolute path"},
      {H + "resources:\n  - type: file\n    name: srv/a\n",
       "m.yaml:5:11: resource name (the path): must be an absolute path"},
      {H + "resources:\n  - type: exec\n    name: e\n    properties: {check: [\"true\"]}\n",
       "m.yaml:4:5: type exec requires property 'apply'"},
      {H + "resources:\n" + file_a + file_a,
       "m.yaml:7:11: duplicate resource file[/srv/a]@localhost (first declared at m.yaml:4:5)"},
      {H + "inventory:\n  nodes: {web: {}}\nresources:\n" + file_a + "    on: db\n",
       "m.yaml:8:9: unknown node or group 'db'"},
      {H + "resources:\n  - type: file\n    name: ${vars.nope}\n", "m.yaml:5:11: '${vars.nope}' is not defined"},
      {H + "resources:\n  - type: file\n    name: /srv/${each.key}\n",
       "m.yaml:5:11: '${each.key}' is used outside a for_each"},
      {H + "resources:\n" + file_a + "    for_each: just-text\n",
       "m.yaml:6:15: for_each needs a list or a map, got a string"},
      {H + "include: [nope.yaml]\n", "m.yaml:3:11: cannot include 'nope.yaml': No such file or directory"},
      {H + "resources:\n  - type: exec\n    name: a\n    properties: {check: [\"true\"], apply: [\"true\"]}\n"
           "    depends_on: [\"exec[c]\"]\n"
           "  - type: exec\n    name: b\n    properties: {check: [\"true\"], apply: [\"true\"]}\n"
           "    depends_on: [\"exec[a]\"]\n"
           "  - type: exec\n    name: c\n    properties: {check: [\"true\"], apply: [\"true\"]}\n"
           "    depends_on: [\"exec[b]\"]\n",
       "m.yaml:4:5: dependency cycle: exec[a]@localhost -> exec[c]@localhost -> exec[b]@localhost -> exec[a]@localhost"},
      {H + "resources:\n  - type: exec\n    name: a\n    properties: {check: [\"true\"], apply: [\"true\"]}\n"
           "    depends_on: \"exec[a]\"\n",
       "m.yaml:4:5: dependency cycle: exec[a]@localhost -> exec[a]@localhost"},
      {H + "constraints:\n  - precondition: full_backup\n", "m.yaml:4:5: precondition full_backup needs max_age"},
      {H + "resources:\n  - type: exec\n    name: a\n    properties: {check: [\"true\"], apply: [\"true\"]}\n"
           "    depends_on: [\"exec[nope]\"]\n",
       "m.yaml:7:17: depends_on names unknown resource 'exec[nope]' (write type[name] or type[name]@node)"},
  }));
  CHECK(refusal(manifest) == expected + "\n");
}

TEST_CASE_METHOD(LoaderFixture, "every error of a stage is collected, sorted by position", "[loader]") {
  CHECK(refusal(H +
                "resources:\n"
                "  - type: fiel\n    name: x\n"                                    // 4
                "  - type: file\n    name: /srv/a\n    properties: {colour: red}\n"  // 6-8
                "  - type: file\n    name: /srv/b\n    properties: {content: 5}\n"   // 9-11
                "  - type: directory\n    name: /srv\n    on: nowhere\n") ==       // 12-14
        "m.yaml:4:11: unknown resource type 'fiel' (known: directory, exec, file, symlink)\n"
        "m.yaml:8:18: unknown property 'colour' for type file (known: path, ensure, content, template, mode, owner, group)\n"
        "m.yaml:11:18: property 'content' must be a string, got an integer\n"
        "m.yaml:14:9: unknown node or group 'nowhere'\n");
}

TEST_CASE_METHOD(LoaderFixture, "includes merge resources and vars", "[loader]") {
  write("frag.yaml", F + "vars:\n  port: 8080\nresources:\n  - type: file\n    name: /srv/frag\n");
  Manifest m = load_ok(H +
                       "include: [frag.yaml]\n"
                       "resources:\n  - type: file\n    name: /srv/top\n    properties: {content: \"port ${vars.port}\"}\n");
  std::vector<std::string> ids;
  for (const auto& r : m.resources) ids.push_back(r.id());
  CHECK(names(ids) == "file[/srv/top]@localhost,file[/srv/frag]@localhost");  // top-level file first
  CHECK(m.resources[0].prop_string("content") == "port 8080");
  CHECK(m.sources == std::vector<std::string>{dir + "/m.yaml", dir + "/frag.yaml"});
  CHECK(m.source_sha256.size() == 2);
}

TEST_CASE_METHOD(LoaderFixture, "include errors", "[loader]") {
  SECTION("a variable defined in two files") {
    write("frag.yaml", F + "vars:\n  x: 2\n");
    CHECK(refusal(H + "include: [frag.yaml]\nvars:\n  x: 1\n") ==
          "frag.yaml:4:3: vars 'x' is defined twice (first at m.yaml:5:6)\n");
  }
  SECTION("an include loop is reported at the include that closes it") {
    write("b.yaml", F + "include: [m.yaml]\n");
    CHECK(refusal(H + "include: [b.yaml]\n") == "b.yaml:3:11: include loop: m.yaml -> b.yaml -> m.yaml\n");
  }
}

TEST_CASE_METHOD(LoaderFixture, "constraints are parsed with groups expanded and durations in seconds", "[loader]") {
  // `available` names a declared group: a resource whose type has owner and online.
  write("t.yaml", "apiVersion: converge/v1\nkind: Types\ntypes:\n  grp:\n    doc: a group\n    scope: cluster\n"
                  "    properties: {owner: {kinds: [string]}, online: {kinds: [boolean]}}\n"
                  "    observe: [{argv: [q, '{name}']}]\n");
  Manifest m = load_ok(H +
                       "include: [t.yaml]\n"
                       "inventory:\n"
                       "  nodes: {n1: {cluster: c}, n2: {cluster: c}, n3: {}}\n"
                       "  groups: {web: [n2, n1], all: [web, n3]}\n"
                       "resources:\n"
                       "  - {type: grp, name: web, on: c}\n"
                       "constraints:\n"
                       "  - order: [n3, web]\n"
                       "  - max_disrupted: 1\n    of: all\n"
                       "  - available: web\n    outage_budget: 30m\n"
                       "  - precondition: full_backup\n    max_age: 24h\n    on: [n1]\n"
                       "  - halt_after_failures: 2\n");
  using CK = ConstraintSpec::Kind;
  REQUIRE(m.constraints.size() == 5);
  const auto& order = m.constraints[0];
  CHECK(order.kind == CK::order);
  REQUIRE(order.order.size() == 2);
  CHECK(names(order.order[0]) == "n3");
  CHECK(names(order.order[1]) == "n1,n2");
  CHECK(order.where.line == 10);
  const auto& md = m.constraints[1];
  CHECK(md.kind == CK::max_disrupted);
  CHECK(md.limit == 1);
  CHECK(names(md.nodes) == "n1,n2,n3");
  const auto& av = m.constraints[2];
  CHECK(av.kind == CK::available);
  CHECK(av.subject == "web");
  CHECK(av.seconds == 1800);
  const auto& pre = m.constraints[3];
  CHECK(pre.kind == CK::precondition);
  CHECK(pre.subject == "full_backup");
  CHECK(pre.seconds == 86400);
  CHECK(names(pre.nodes) == "n1");
  const auto& halt = m.constraints[4];
  CHECK(halt.kind == CK::halt_after_failures);
  CHECK(halt.limit == 2);
}

TEST_CASE_METHOD(LoaderFixture, "variables resolve in dependency order, whatever their names", "[loader]") {
  SECTION("a chain written against name order") {
    Manifest m = load_ok(H + "vars:\n  a: \"${vars.b}1\"\n  b: \"${vars.c}2\"\n  c: \"${vars.d}3\"\n  d: x\n"
                             "resources:\n  - {type: file, name: /srv/f, properties: {content: \"${vars.a}\"}}\n");
    CHECK(m.resources[0].prop_string("content") == "x321");
  }
  SECTION("an undefined variable is reported once, at its use; what needs it is not reported again") {
    CHECK(refusal(H + "vars:\n  a: \"${vars.nope}\"\n  b: \"${vars.a}\"\n  c: [\"${vars.b}\"]\n") ==
          "m.yaml:4:6: '${vars.nope}' is not defined\n");
  }
  SECTION("a cycle is reported at its members, not at what merely needs it") {
    CHECK(refusal(H + "vars:\n  a: \"${vars.b}\"\n  b: \"${vars.a}\"\n  c: \"${vars.a}\"\n") ==
          "m.yaml:4:6: variable 'a' cannot be resolved: variables a, b refer to each other\n"
          "m.yaml:5:6: variable 'b' cannot be resolved: variables a, b refer to each other\n");
  }
  SECTION("$${vars.x} is literal text, not a reference") {
    Manifest m = load_ok(H + "vars:\n  tmpl: \"$${vars.tmpl}\"\n  a: \"$${vars.b} ${vars.tmpl}\"\n  b: \"$${vars.a}\"\n"
                             "resources:\n  - {type: file, name: /srv/f, properties: {content: \"${vars.a}\"}}\n");
    CHECK(m.resources[0].prop_string("content") == "${vars.b} ${vars.tmpl}");
  }
}

TEST_CASE_METHOD(LoaderFixture, "the manifest's limits: expansion, group depth, resources", "[loader]") {
  SECTION("a large variable on many nodes is ordinary fan-out, not a bomb") {
    std::string nodes = "inventory:\n  nodes:\n";
    for (int i = 0; i < 1000; ++i) nodes += "    n" + std::to_string(i) + ": {}\n";
    Manifest m = load_ok(H + nodes + "vars:\n  motd: \"" + std::string(40'000, 'm') +
                         "\"\nresources:\n  - {type: file, name: /etc/motd, properties: {content: \"${vars.motd}\"}}\n");
    CHECK(m.resources.size() == 1000);
  }
  SECTION("variables that double each other stop at the expansion budget") {
    std::string vars = "vars:\n  v0: [\"" + std::string(1000, 'x') + "\"]\n";
    for (int i = 1; i < 40; ++i)
      vars += "  v" + std::to_string(i) + ": [\"${vars.v" + std::to_string(i - 1) + "}\", \"${vars.v" + std::to_string(i - 1) + "}\"]\n";
    CHECK(refusal(H + vars).find("takes the manifest's expressions past 32 MiB") != std::string::npos);
  }
  SECTION("groups nest at most 64 deep") {
    std::string groups = "inventory:\n  nodes: {n1: {}}\n  groups:\n";
    for (int i = 0; i < 70; ++i) groups += "    g" + std::to_string(i) + ": [g" + std::to_string(i + 1) + "]\n";
    groups += "    g70: [n1]\n";
    CHECK(refusal(H + groups).find("is nested deeper than 64 groups") != std::string::npos);
    std::string ok = "inventory:\n  nodes: {n1: {}}\n  groups:\n";
    for (int i = 0; i < 60; ++i) ok += "    g" + std::to_string(i) + ": [g" + std::to_string(i + 1) + "]\n";
    ok += "    g60: [n1]\n";
    CHECK(load_ok(H + ok).groups.at("g0") == std::vector<std::string>{"n1"});
    // Named so that the leaf comes first in name order: the verdict is the same.
    std::string leaf_first = "inventory:\n  nodes: {n1: {}}\n  groups:\n";
    for (int i = 0; i < 70; ++i) leaf_first += "    g" + std::to_string(100 + i) + ": [g" + std::to_string(99 + i) + "]\n";
    leaf_first += "    g99: [n1]\n";
    CHECK(refusal(H + leaf_first).find("is nested deeper than 64 groups") != std::string::npos);
  }
  SECTION("a for_each over 50,001 items is refused before it is stamped out") {
    std::string items;
    for (int i = 0; i <= 50'000; ++i) items += i ? ",1" : "1";
    CHECK(refusal(H + "vars:\n  n: [" + items + "]\nresources:\n  - type: exec\n    for_each: ${vars.n}\n"
                      "    name: e${each.key}\n    properties: {check: [\"true\"], apply: [\"true\"]}\n") ==
          "m.yaml:6:5: the manifest stamps out more than 50000 resources (for_each items times target nodes); split it\n");
  }
}
