// engine/model/datatype.h, datatype_parse.h and resources/datatype_provider.h: type definition files parsed with positions, argv templates rendered
// element by element (never through a shell), probes reading the outputs COMMANDS.md shows,
// and the generic provider driving a fake transport.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "engine/model/diff.h"
#include "engine/model/loader.h"
#include "engine/model/manifest.h"
#include "engine/model/schemas.h"
#include "engine/model/datatype_parse.h"
#include "resources/datatype_provider.h"
#include "resources/transport.h"

using namespace converge;
using namespace converge::datatype;
namespace fs = std::filesystem;

namespace {

const std::string TH = "apiVersion: converge/v1\nkind: Types\n";

/// Parses type-file text as the loader does (schema, then semantics); returns the
/// diagnostics as "line:col: message".
std::vector<std::string> problems(const std::string& text, TypeFile* out = nullptr) {
  auto doc = parse_yaml(text, "t.yaml");
  REQUIRE(doc);
  Diagnostics d = validate_with_schema(*doc, "types");
  if (d.empty()) {
    TypeFile f = parse_type_file(*doc, d);
    if (out) *out = std::move(f);
  }
  std::vector<std::string> lines;
  for (const auto& e : d) lines.push_back(std::to_string(e.where->line) + ":" + std::to_string(e.where->col) + ": " + e.message);
  return lines;
}

/// A transport that answers from a table of command lines and records what it ran.
class FakeTransport final : public Transport {
 public:
  std::map<std::string, ExecResult> answers;
  std::vector<std::vector<std::string>> ran;
  Result<ExecResult> run(const ExecRequest& req) override {
    ran.push_back(req.argv);
    std::string line;
    for (const auto& a : req.argv) line += (line.empty() ? "" : "|") + a;
    auto it = answers.find(line);
    if (it == answers.end()) return ExecResult{9009, false, "", "not recognized: " + line};
    return it->second;
  }
  FileSystem* files() override { return nullptr; }
  Result<std::string> boot_id() override { return std::string("1"); }
  std::string describe() const override { return "fake"; }
};

class NoDefer final : public ApplyContext {
 public:
  void defer(FileSystem*, Commit) override {}
};

const char* kScQuery = R"(
SERVICE_NAME: SharedAccess
        TYPE               : 20  WIN32_SHARE_PROCESS
        STATE              : 4  RUNNING
                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)
        WIN32_EXIT_CODE    : 0  (0x0)
)";
const char* kScQc = R"([SC] GetServiceConfig SUCCESS

SERVICE_NAME: SharedAccess
        TYPE               : 20  WIN32_SHARE_PROCESS
        START_TYPE         : 4   DISABLED
        ERROR_CONTROL      : 1   NORMAL
)";
const char* kRegSp = "\n! REG.EXE VERSION 3.0\n\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727\n"
                     "    SP\tREG_DWORD\t0x1\n\n";
const char* kCmsStatus = "\nIdentity                    : E2K7CCR\nState                       : Online\n"
                         "OperationalMachines         : {NODE1 <Active, Quorum Owner>, NODE2}\n";
const char* kClusterGroup = "Listing status for all available resource groups:\n\nGroup                Node            Status\n"
                            "-------------------- --------------- ------\nCluster Group        NODE2           Online\n";

TypeFile shipped(const std::string& file) {
  Diagnostics d;
  TypeFile f = load_type_file(std::string(CONVERGE_SOURCE_DIR) + "/resources/" + file, d);
  for (const auto& e : d) FAIL(e.describe());
  return f;
}

const DataType& type_named(const TypeFile& f, const std::string& name) {
  for (const auto& t : f.types)
    if (t.name == name) return t;
  FAIL("no type " + name);
  return f.types.front();
}

ResourceSpec resource(const std::string& type, const std::string& name, const std::string& node, Map props) {
  ResourceSpec r;
  r.type = type, r.name = name, r.node = node, r.properties = std::move(props);
  return r;
}

}  // namespace

TEST_CASE("the shipped Windows and Exchange type files parse cleanly", "[datatype]") {
  TypeFile w = shipped("windows.yaml");
  TypeFile x = shipped("exchange2007.yaml");
  CHECK(type_named(w, "service").actions.size() == 4);
  const ActionDef* upgrade = type_named(x, "exchange_server").find_action("upgrade");
  REQUIRE(upgrade);
  CHECK(upgrade->disruption == Disruption::node);
  CHECK(upgrade->duration_seconds == 25 * 60);
  CHECK(upgrade->transient.size() == 5);
  CHECK(upgrade->effects.front().fact == "reboot_pending");
  CHECK(type_named(x, "clustered_mailbox_server").scope == Scope::cluster);
  CHECK(type_named(w, "dotnet").find_action("install_sp1")->commands.front().ok_exit == std::vector<int>{0, 3010});
  // What a boot does to a service: it runs afterwards only when it starts automatically.
  const PropertyExtra& state = type_named(w, "service").extras.at("state");
  CHECK(state.after_boot_from == "startup");
  CHECK(state.after_boot_map == std::map<std::string, Value>{{"automatic", Value("running")}, {"manual", Value("stopped")},
                                                              {"disabled", Value("stopped")}});
  CHECK(type_named(w, "service").extras.at("startup").after_boot_from.empty());
}

TEST_CASE("type file errors carry line and column", "[datatype]") {
  SECTION("unknown key (schema)") {
    auto p = problems(TH + "types:\n  t:\n    doc: x\n    colour: red\n    properties: {a: {}}\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "6:5: unknown field 'colour'");
  }
  std::string base = TH + "types:\n  t:\n    doc: x\n    properties:\n      a: {enum: [on, off]}\n    observe:\n";
  SECTION("regex that does not compile") {
    auto p = problems(base + "      - argv: [q]\n        properties:\n          a: {regex: 'x(['}\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].starts_with("11:22: regex for 'a' does not compile"));
  }
  SECTION("unknown placeholder in an argv") {
    auto p = problems(base + "      - argv: [q, '{nmae}']\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0].starts_with("9:19: unknown placeholder {nmae}"));
  }
  SECTION("an action setting an unknown property or a value outside the enum") {
    auto p = problems(base + "      - argv: [q]\n    actions:\n      - {name: go, sets: {b: 1}, argv: [x]}\n"
                             "      - {name: up, sets: {a: maybe}, argv: [x]}\n");
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "11:27: action go sets unknown property 'b'");
    CHECK(p[1] == "12:27: action up sets 'a' to 'maybe', which the property does not allow");
  }
  SECTION("run_on on a node type") {
    auto p = problems(base + "      - argv: [q]\n    actions:\n      - {name: go, sets: {a: on}, argv: [x], run_on: a}\n");
    REQUIRE(p.size() == 1);
    CHECK(p[0] == "11:54: run_on applies only to cluster-scoped types");
  }
  SECTION("after_boot from an unknown property, or to a value outside the enum") {
    auto p = problems(TH + "types:\n  t:\n    doc: x\n    properties:\n      a:\n        enum: [on, off]\n"
                           "        after_boot: {from: b, map: {x: on}}\n      c:\n        enum: [up, down]\n"
                           "        after_boot: {from: a, map: {on: sideways}}\n    observe:\n      - argv: [q]\n");
    REQUIRE(p.size() == 2);
    CHECK(p[0] == "9:21: after_boot of 'a': from must name another property of t");
    CHECK(p[1] == "12:21: after_boot of 'c': 'sideways' is not a value of c");
  }
  SECTION("malformed duration") {
    auto p = problems(base + "      - argv: [q]\n    actions:\n      - {name: go, sets: {a: on}, argv: [x], duration: 5 min}\n");
    REQUIRE(p.size() == 1);
    INFO(p[0]);
    CHECK(p[0].starts_with("11:56: /types/t/actions/0/duration: value '5 min' is not allowed here"));
  }
}

TEST_CASE("argv templates substitute inside elements and never split them", "[datatype]") {
  std::map<std::string, std::string> vars{{"name", "Cluster Group; rm -rf / $(reboot) `x` 'q'"}, {"node", "N1"}, {"prop.owner", "NODE2"}};
  auto argv = render_argv({"cluster.exe", "{node}", "group", "{name}", "/moveto:{prop.owner}", "{{literal}}"}, vars);
  REQUIRE(argv);
  REQUIRE(argv->size() == 6);
  CHECK((*argv)[3] == "Cluster Group; rm -rf / $(reboot) `x` 'q'");
  CHECK((*argv)[4] == "/moveto:NODE2");
  CHECK((*argv)[5] == "{{literal}}");  // not a placeholder: text as written
  CHECK(!render_element("{cluster}", vars));  // a placeholder this type does not have
  CHECK(!render_element("{prop.nope}", vars));
  CHECK(*render_element("open {name", vars) == "open {name");  // no closing brace: text
}

TEST_CASE("shell and awk in a type's argv need no escaping", "[datatype]") {
  std::map<std::string, std::string> vars{{"name", "nginx"}, {"node", "web1"}, {"prop.port", "8080"}};
  CHECK(*render_element(R"(dpkg-query -W -f='${Status} ${Version}' {name})", vars) ==
        R"(dpkg-query -W -f='${Status} ${Version}' nginx)");
  CHECK(*render_element(R"(d=${1%/*}; echo "$1" {prop.port})", vars) == R"(d=${1%/*}; echo "$1" 8080)");
  CHECK(*render_element("awk '{ print $2 }' /etc/{name}.conf", vars) == "awk '{ print $2 }' /etc/nginx.conf");
  CHECK(*render_element("for i in {1..3}; do :; done; f() { :; }", vars) == "for i in {1..3}; do :; done; f() { :; }");
  CHECK(*render_element("${name} is the shell's, {name} ours", vars) == "${name} is the shell's, nginx ours");
  CHECK(*render_element("{{name}} stays literal", vars) == "{name} stays literal");
  CHECK(*render_element("${1:-${HOME}} {a:{b:1}} {{.State.Running}} {if(x){print}}", vars) ==
        "${1:-${HOME}} {a:{b:1}} {{.State.Running}} {if(x){print}}");
}

TEST_CASE("probes read the sample outputs of COMMANDS.md", "[datatype]") {
  TypeFile w = shipped("windows.yaml");
  TypeFile x = shipped("exchange2007.yaml");
  const DataType& svc = type_named(w, "service");
  auto q = read_probe(svc.observe[0], svc, 0, kScQuery, "");
  REQUIRE(q.verdict == ProbeReading::Verdict::present);
  CHECK(q.props.at("state") == Value("running"));
  auto qc = read_probe(svc.observe[1], svc, 0, kScQc, "");
  CHECK(qc.props.at("startup") == Value("disabled"));
  CHECK(read_probe(svc.observe[0], svc, 1060, "", "").verdict == ProbeReading::Verdict::absent);
  auto other = read_probe(svc.observe[0], svc, 5, "", "Access is denied.");
  CHECK(other.verdict == ProbeReading::Verdict::unknown);
  CHECK(other.error == "exited 5: Access is denied.");

  const DataType& dn = type_named(w, "dotnet");
  CHECK(read_probe(dn.observe[0], dn, 0, kRegSp, "").props.at("servicepack") == Value(1));

  const DataType& cms = type_named(x, "clustered_mailbox_server");
  auto st = read_probe(cms.observe[0], cms, 0, kCmsStatus, "");
  CHECK(st.props.at("online") == Value(true));
  CHECK(st.props.at("owner") == Value("NODE1"));
  auto ver = read_probe(cms.observe[1], cms, 0, "AdminDisplayVersion         : Version 8.1 (Build 240.6)\n", "");
  CHECK(ver.props.at("version") == Value("SP1"));
  auto db = read_probe(cms.observe[2], cms, 0, "LastFullBackup              : 3/1/2008 6:00:00 AM\n", "");
  CHECK(db.props.at("last_full_backup") == Value("3/1/2008 6:00:00 AM"));
  CHECK(read_probe(cms.observe[2], cms, 0, "LastFullBackup              : \n", "").props.at("last_full_backup").is_null());

  const DataType& cg = type_named(x, "cluster_group");
  auto g = read_probe(cg.observe[0], cg, 0, kClusterGroup, "");
  CHECK(g.props.at("owner") == Value("NODE2"));
  CHECK(g.props.at("online") == Value(true));
}

TEST_CASE("the generic provider observes and applies through the transport", "[datatype]") {
  TypeFile w = shipped("windows.yaml");
  TypeRegistry reg(make_data_provider);
  REQUIRE(reg.add_data(type_named(w, "service")));
  const TypeEntry& e = *reg.find("service");
  REQUIRE(data_type(e));
  FakeTransport t;
  t.answers["sc.exe|query|SharedAccess"] = {0, false, kScQuery, ""};
  t.answers["sc.exe|qc|SharedAccess"] = {0, false, kScQc, ""};
  t.answers["sc.exe|config|SharedAccess|start=|demand"] = {0, false, "[SC] ChangeServiceConfig SUCCESS\n", ""};
  ResourceSpec r = resource("service", "SharedAccess", "NODE1", {{"state", Value("running")}, {"startup", Value("manual")}});
  Observation o = e.provider->observe(r, t);
  REQUIRE(o.state == Observation::State::present);
  ResourceChanges ch = diff(r, e.schema, o);
  REQUIRE(ch.properties.size() == 1);
  NoDefer ctx;
  t.ran.clear();
  REQUIRE(e.provider->apply(r, o, ch, t, ctx));
  REQUIRE(t.ran.size() == 1);
  CHECK(t.ran[0] == std::vector<std::string>{"sc.exe", "config", "SharedAccess", "start=", "demand"});

  SECTION("a failing command is an action failure with its message") {
    ch.properties = {{"state", Value("stopped"), Value("running")}};
    t.answers["sc.exe|start|SharedAccess"] = {1058, false, "", "[SC] StartService FAILED 1058:\n\nThe service cannot be started."};
    auto s = e.provider->apply(r, o, ch, t, ctx);
    REQUIRE(!s);
    CHECK(s.error().code == ErrorCode::action_failed);
    CHECK(s.error().message.find("`sc.exe start SharedAccess` exited 1058") == 0);
  }
  SECTION("prior is accepted and left unmanaged") {
    Map props{{"state", Value("prior")}, {"startup", Value("disabled")}};
    std::vector<std::string> prior;
    REQUIRE(take_priors(*data_type(e), props, prior));
    CHECK(props.at("state").is_null());
    CHECK(prior == std::vector<std::string>{"state"});
  }
}

TEST_CASE("manifests include type files; errors point into them", "[datatype]") {
  char tmpl[] = "/tmp/converge-datatype-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  auto write = [&](const std::string& n, const std::string& s) { std::ofstream(dir + "/" + n) << s; };
  std::string type = "  box:\n    doc: x\n    scope: cluster\n    properties: {size: {kinds: [integer]}}\n    observe: [{argv: [q, '{cluster}']}]\n";
  write("t.yaml", TH + "types:\n" + type);
  std::string m = "apiVersion: converge/v1\nkind: Manifest\ninclude: [t.yaml]\ninventory:\n  nodes: {A: {cluster: C1}, B: {cluster: C1}}\n";
  SECTION("a cluster-scoped resource targets the cluster") {
    write("m.yaml", m + "resources:\n  - {type: box, name: b, on: C1, properties: {size: 3}}\n");
    LoadOutcome lo = load_manifest(dir + "/m.yaml", builtin_types());
    REQUIRE(lo.manifest);
    CHECK(lo.manifest->clusters.at("C1") == std::vector<std::string>{"A", "B"});
    CHECK(lo.manifest->resources.at(0).node == "C1");
    CHECK(lo.manifest->type_files.size() == 1);
    CHECK(lo.types.find("box"));
  }
  SECTION("targeting a node with a cluster-scoped type is an error at the target") {
    write("m.yaml", m + "resources:\n  - {type: box, name: b, on: A}\n");
    LoadOutcome lo = load_manifest(dir + "/m.yaml", builtin_types());
    REQUIRE(!lo.manifest);
    CHECK(lo.diagnostics.at(0).where->line == 7);
    CHECK(lo.diagnostics.at(0).message.find("is not a cluster") != std::string::npos);
  }
  SECTION("a type defined twice") {
    write("u.yaml", TH + "types:\n" + type);
    write("m.yaml", "apiVersion: converge/v1\nkind: Manifest\ninclude: [t.yaml, u.yaml]\n");
    LoadOutcome lo = load_manifest(dir + "/m.yaml", builtin_types());
    REQUIRE(lo.diagnostics.size() == 1);
    CHECK(lo.diagnostics[0].describe() == dir + "/u.yaml:4:3: type 'box' is already defined");
  }
  fs::remove_all(dir);
}

namespace {

/// Records whether commands come one by one or in batches.
class BatchCounter final : public Transport {
 public:
  FakeTransport inner;
  int batches = 0, singles = 0;
  std::size_t largest = 0;
  Result<ExecResult> run(const ExecRequest& req) override {
    ++singles;
    return inner.run(req);
  }
  std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override {
    ++batches;
    largest = std::max(largest, reqs.size());
    std::vector<Result<ExecResult>> out;
    for (const auto& r : reqs) out.push_back(inner.run(r));
    return out;
  }
  FileSystem* files() override { return nullptr; }
  Result<std::string> boot_id() override { return std::string("1"); }
  std::string describe() const override { return "counter"; }
};

}  // namespace

TEST_CASE("observe_batch: every probe of a node's resources in one batch, each read as observe() would") {
  TypeFile tf;
  REQUIRE(problems(TH + "types:\n  box:\n    doc: x\n    properties:\n      size: {kinds: [integer]}\n      colour: {kinds: [string]}\n"
                        "    observe:\n"
                        "      - argv: [size, '{name}']\n        absent: [3]\n        properties: {size: {regex: '(\\d+)'}}\n"
                        "      - argv: [colour, '{name}']\n        properties: {colour: {regex: '(\\w+)'}}\n",
                   &tf).empty());
  const DataType& box = tf.types.at(0);
  std::vector<ResourceSpec> specs(3);
  for (int i = 0; i < 3; ++i) specs[i].type = "box", specs[i].name = "b" + std::to_string(i), specs[i].node = "n";
  BatchCounter t;
  t.inner.answers["size|b0"] = ExecResult{0, false, "12\n", ""};
  t.inner.answers["colour|b0"] = ExecResult{0, false, "red\n", ""};
  t.inner.answers["size|b1"] = ExecResult{3, false, "", ""};        // absent: its colour does not count
  t.inner.answers["colour|b1"] = ExecResult{1, false, "", "gone"};
  t.inner.answers["size|b2"] = ExecResult{0, false, "7\n", ""};
  t.inner.answers["colour|b2"] = ExecResult{5, false, "", "denied"};  // unknown
  std::vector<std::pair<const ResourceSpec*, const DataType*>> rs;
  for (const auto& s : specs) rs.emplace_back(&s, &box);
  auto obs = observe_batch(rs, t);
  CHECK(t.batches == 1);
  CHECK(t.singles == 0);
  CHECK(t.largest == 6);
  REQUIRE(obs.size() == 3);
  CHECK(obs[0].state == Observation::State::present);
  CHECK(obs[0].props.at("size") == Value(12));
  CHECK(obs[0].props.at("colour") == Value("red"));
  CHECK(obs[1].state == Observation::State::absent);
  CHECK(obs[2].state == Observation::State::unknown);
  CHECK_THAT(obs[2].error, Catch::Contains("denied"));
}
