// The lab (resources/lab): its rules refuse wrong steps with their own messages, the vendor's
// rolling upgrade runs clean, faults fire, state survives a reopen, and every event-log line
// validates against schemas/lab-event.schema.json.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>
#include <yaml-cpp/yaml.h>

#include "resources/lab/lab.h"
#include "resources/lab/lab_file.h"

using namespace converge;
using namespace converge::lab;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSource = CONVERGE_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

json read_json(const std::string& path) { return json::parse(read_text(path)); }

/// A fresh state directory holding a copy of the showcase lab file plus `faults`.
struct LabFixture {
  fs::path dir;
  std::shared_ptr<Lab> lab;

  explicit LabFixture(const std::string& faults = "", double speed = 0) {
    static int counter = 0;
    dir = fs::temp_directory_path() / ("converge-lab-test-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::string text = read_text(kSource + "/manifests/labs/clus1-rtm.yaml");
    text = text.substr(0, text.find("faults: []")) + (faults.empty() ? "faults: []\n" : "faults:\n" + faults);
    std::ofstream(dir / "lab.yaml") << text;
    reopen(speed);
  }
  ~LabFixture() {
    lab.reset();
    fs::remove_all(dir);
  }
  void reopen(double speed = 0) {
    lab.reset();
    auto opened = Lab::open((dir / "lab.yaml").string(), (dir / "state").string(), speed);
    if (!opened) FAIL(opened.error().describe());
    lab = *opened;
  }
  ExecResult run(const std::string& node, std::vector<std::string> argv, std::chrono::milliseconds timeout = {}) {
    ExecRequest req;
    req.argv = std::move(argv);
    req.timeout = timeout;
    auto r = lab->run(node, req);
    if (!r) FAIL(node << ": " << r.error().describe());
    return *r;
  }
  ExecResult ok(const std::string& node, std::vector<std::string> argv) {
    ExecResult r = run(node, argv);
    INFO(node << ": " << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << "\n" << r.out << r.err);
    REQUIRE((r.exit_code == 0 || r.exit_code == 3010));
    return r;
  }
  static std::vector<std::string> ps(std::vector<std::string> cmdlet) {
    std::vector<std::string> argv = {"powershell.exe", "-NoProfile", "-NonInteractive", "-Command"};
    argv.insert(argv.end(), cmdlet.begin(), cmdlet.end());
    return argv;
  }
  void reboot(const std::string& node) {
    auto before = lab->boot_id(node);
    REQUIRE(before);
    ok(node, {"shutdown.exe", "/r", "/t", "0"});
    auto after = lab->boot_id(node);
    REQUIRE(after);
    REQUIRE(*after != *before);
  }
  /// Everything a mailbox node needs before setup, in the order the rules allow.
  void prepare(const std::string& node, bool disabled_firewall) {
    ok(node, {"NetFx20SP1_x64.exe", "/q", "/norestart"});
    reboot(node);
    for (const char* svc : {"MOM", "FSCController", "SysmonLog"}) ok(node, {"sc.exe", "stop", svc});
    if (disabled_firewall) ok(node, {"sc.exe", "config", "SharedAccess", "start=", "demand"});
    ok(node, {"sc.exe", "start", "SharedAccess"});
    ok(node, {"sc.exe", "stop", "RemoteRegistry"});
    ok(node, {"sc.exe", "start", "RemoteRegistry"});
  }
  void upgrade(const std::string& node, bool disabled_firewall) {
    prepare(node, disabled_firewall);
    ok(node, {"setup.com", "/m:upgrade"});
    reboot(node);
  }
  void upgrade_hubcas() {
    ok("HUBCAS", {"setup.com", "/m:upgrade"});
    reboot("HUBCAS");
  }
  std::vector<json> events() const {
    std::vector<json> out;
    std::ifstream in(lab->events_path());
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  const Group& group(const std::string& name) { return snap_.emplace(lab->snapshot()).groups.at(group_key("CLUS1", name)); }

 private:
  std::optional<LabState> snap_;
};

void require_valid(const json& schema_doc, const json& doc) {
  valijson::Schema schema;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, schema);
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  valijson::ValidationResults results;
  INFO(doc.dump());
  REQUIRE(validator.validate(schema, target, &results));
}

/// YAML to JSON with plain scalars typed as YAML 1.2's core schema would (enough for lab files).
json yaml_to_json(const YAML::Node& n) {
  if (n.IsMap()) {
    json j = json::object();
    for (auto it = n.begin(); it != n.end(); ++it) j[it->first.Scalar()] = yaml_to_json(it->second);
    return j;
  }
  if (n.IsSequence()) {
    json j = json::array();
    for (const auto& item : n) j.push_back(yaml_to_json(item));
    return j;
  }
  if (n.Tag() == "?" && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
  if (n.Tag() == "?" && std::regex_match(n.Scalar(), std::regex("-?[0-9]+"))) return std::stoll(n.Scalar());
  return n.Scalar();
}

}  // namespace

TEST_CASE("lab: creating the lab logs every initial fact at t=0", "[lab]") {
  LabFixture f;
  auto ev = f.events();
  REQUIRE(ev.size() == 3 + 6 + 12 + 2);
  for (const auto& e : ev) REQUIRE(e["t"] == 0);
  CHECK(ev.front() == json({{"t", 0}, {"kind", "node"}, {"node", "HUBCAS"}, {"online", true}, {"boot", 1}}));
  CHECK(std::count(ev.begin(), ev.end(), json({{"t", 0}, {"kind", "service"}, {"node", "NODE2"}, {"service", "SharedAccess"},
                                               {"state", "stopped"}, {"startup", "disabled"}})) == 1);
  CHECK(ev.back() == json({{"t", 0}, {"kind", "group"}, {"group", "E2K7CCR"}, {"cluster", "CLUS1"}, {"owner", "NODE1"}, {"online", true}, {"version", "RTM"}}));
  CHECK(fs::exists(f.lab->state_path()));
}

TEST_CASE("lab: reads answer in Windows' own formats", "[lab]") {
  LabFixture f;
  CHECK(std::regex_search(f.ok("NODE1", {"sc.exe", "query", "MOM"}).out, std::regex(R"(STATE\s+:\s+4\s+RUNNING)")));
  CHECK(std::regex_search(f.ok("NODE2", {"sc", "qc", "sharedaccess"}).out, std::regex(R"(START_TYPE\s+:\s+4\s+DISABLED)")));
  CHECK(f.run("NODE1", {"sc.exe", "query", "NoSuchService"}).exit_code == 1060);
  std::vector<std::string> pending = {"reg.exe", "query", "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Session Manager", "/v",
                                      "PendingFileRenameOperations"};
  std::vector<std::string> sp = {"reg.exe", "query", "HKLM\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727", "/v", "SP"};
  CHECK(f.run("NODE1", pending).exit_code == 1);
  CHECK(std::regex_search(f.ok("NODE1", sp).out, std::regex(R"(SP\s+REG_DWORD\s+0x0)")));
  CHECK(f.run("NODE1", {"NetFx20SP1_x64.exe", "/q", "/norestart"}).exit_code == 3010);
  CHECK(f.ok("NODE1", pending).out.find("PendingFileRenameOperations") != std::string::npos);
  CHECK(std::regex_search(f.ok("NODE1", sp).out, std::regex(R"(SP\s+REG_DWORD\s+0x1)")));
  CHECK(std::regex_search(f.ok("NODE1", {"reg.exe", "query", "HKLM\\SOFTWARE\\Microsoft\\Exchange\\Setup", "/v", "MsiProductMinor"}).out,
                          std::regex(R"(MsiProductMinor\s+REG_DWORD\s+0x0)")));
  CHECK(f.ok("NODE1", LabFixture::ps({"Get-ExchangeServer", "-Identity", "NODE1"})).out.find("Version 8.0 (Build 685.24)") != std::string::npos);
  auto status = f.ok("HUBCAS", LabFixture::ps({"Get-ClusteredMailboxServerStatus", "-Identity", "E2K7CCR"})).out;
  CHECK(std::regex_search(status, std::regex(R"(State\s+: Online)")));
  CHECK(status.find("{NODE1 <Active, Quorum Owner>, NODE2}") != std::string::npos);
  auto db = f.ok("NODE1", LabFixture::ps({"Get-MailboxDatabase", "-Status"})).out;
  CHECK(std::regex_search(db, std::regex(R"(LastFullBackup\s+: 3/1/2008 6:00:00 AM)")));
  CHECK(f.ok("NODE1", LabFixture::ps({"Get-Date", "-Format", "u"})).out == "2008-03-01 08:04:00Z\n");
  CHECK(f.ok("NODE1", {"cluster.exe", "CLUS1", "group"}).out.find("Cluster Group        NODE1           Online") != std::string::npos);
}

TEST_CASE("lab: invalid UTF-8 in a command is logged, not thrown", "[lab]") {
  LabFixture f;
  CHECK(f.run("NODE1", {"sc.exe", "query", "\xff\xfe"}).exit_code == 1060);
  CHECK(f.events().back()["kind"] == "command");
}

TEST_CASE("lab: an unknown command fails loudly", "[lab]") {
  LabFixture f;
  auto r = f.run("NODE1", {"format.com", "C:"});
  CHECK(r.exit_code == 9009);
  CHECK(r.err.find("unknown command: format.com C:") != std::string::npos);
  CHECK(f.run("NODE1", LabFixture::ps({"Remove-Mailbox", "-Identity", "x"})).err.find("unknown command") != std::string::npos);
}

TEST_CASE("lab: rules refuse wrong steps with their reasons", "[lab]") {
  LabFixture f;
  SECTION("setup on the node that owns the online groups") {
    auto r = f.run("NODE1", {"setup.com", "/m:upgrade"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("NODE1 owns the online cluster group 'E2K7CCR'") != std::string::npos);
    CHECK(r.err.find("HUBCAS is at RTM") != std::string::npos);
  }
  SECTION("a disabled service cannot be started") {
    auto r = f.run("NODE2", {"sc.exe", "start", "SharedAccess"});
    CHECK(r.exit_code == 1058);
    CHECK(r.err.find("disabled") != std::string::npos);
    f.ok("NODE2", {"sc.exe", "config", "SharedAccess", "start=", "demand"});
    f.ok("NODE2", {"sc.exe", "start", "SharedAccess"});
  }
  SECTION("cluster.exe may move the core group but not the CMS") {
    auto r = f.run("NODE1", {"cluster.exe", "CLUS1", "group", "E2K7CCR", "/moveto:NODE2"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("(refused). Use Move-ClusteredMailboxServer") != std::string::npos);
    f.ok("NODE1", {"cluster.exe", "CLUS1", "group", "Cluster Group", "/moveto:NODE2"});
    CHECK(f.group("Cluster Group").owner == "NODE2");
  }
  SECTION("setup's prerequisites on the passive node, one missing at a time") {
    f.upgrade_hubcas();
    f.prepare("NODE2", true);
    std::string expect;
    SECTION("SharedAccess stopped") {
      f.ok("NODE2", {"sc.exe", "stop", "SharedAccess"});
      expect = "(SharedAccess) must be running";
    }
    SECTION("MOM running") {
      f.ok("NODE2", {"sc.exe", "start", "MOM"});
      expect = "the Exchange-aware service MOM is running";
    }
    SECTION("Remote Registry not restarted since boot") {
      f.reboot("NODE2");
      for (const char* svc : {"MOM", "FSCController", "SysmonLog"}) f.ok("NODE2", {"sc.exe", "stop", svc});
      f.ok("NODE2", {"sc.exe", "start", "SharedAccess"});
      expect = "has not been stopped and restarted since the last boot";
    }
    SECTION("everything in place") { expect = ""; }
    auto r = f.run("NODE2", {"setup.com", "/m:upgrade"});
    if (expect.empty()) {
      CHECK(r.exit_code == 0);
    } else {
      CHECK(r.exit_code == 1);
      CHECK(r.err.find(expect) != std::string::npos);
    }
  }
  SECTION("setup with a restart pending") {
    f.upgrade_hubcas();
    f.ok("NODE2", {"NetFx20SP1_x64.exe", "/q", "/norestart"});
    auto r = f.run("NODE2", {"setup.com", "/m:upgrade"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("a restart is pending") != std::string::npos);
  }
  SECTION("the CMS may not move to a node that has not restarted after setup") {
    f.upgrade_hubcas();
    f.prepare("NODE2", true);
    f.ok("NODE2", {"setup.com", "/m:upgrade"});
    f.ok("NODE1", LabFixture::ps({"Stop-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-StopReason", "SP1", "-Confirm:$false"}));
    auto r = f.run("NODE1", LabFixture::ps({"Move-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-TargetMachine", "NODE2",
                                            "-MoveComment", "SP1", "-Confirm:$false"}));
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("NODE2 must be restarted after Exchange setup before it can own E2K7CCR") != std::string::npos);
  }
  SECTION("upgrading both nodes before /upgradecms strands the CMS") {
    f.upgrade_hubcas();
    f.upgrade("NODE2", true);
    f.ok("NODE1", LabFixture::ps({"Stop-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-StopReason", "SP1", "-Confirm:$false"}));
    f.ok("NODE1", LabFixture::ps({"Move-ClusteredMailboxServer", "E2K7CCR", "-TargetMachine", "NODE2", "-MoveComment", "SP1", "-Confirm:$false"}));
    f.ok("NODE1", {"cluster.exe", "CLUS1", "group", "Cluster Group", "/moveto:NODE2"});
    f.upgrade("NODE1", false);
    auto start = f.run("NODE2", LabFixture::ps({"Start-ClusteredMailboxServer", "-Identity", "E2K7CCR"}));
    CHECK(start.exit_code == 1);
    CHECK(start.err.find("it cannot be started") != std::string::npos);
    auto cms = f.run("NODE2", {"setup.com", "/upgradecms"});
    CHECK(cms.exit_code == 1);
    CHECK(cms.err.find("can no longer run") != std::string::npos);
  }
}

TEST_CASE("lab: the vendor's rolling upgrade runs without a violation", "[lab]") {
  LabFixture f;
  auto move = [&](const std::string& to) {
    f.ok("NODE1", LabFixture::ps({"Move-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-TargetMachine", to, "-MoveComment",
                                  "SP1 rolling upgrade", "-Confirm:$false"}));
  };
  f.upgrade_hubcas();
  f.upgrade("NODE2", true);
  f.ok("NODE1", LabFixture::ps({"Stop-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-StopReason", "SP1", "-Confirm:$false"}));
  move("NODE2");
  f.ok("NODE2", {"setup.com", "/upgradecms"});
  f.ok("NODE2", LabFixture::ps({"Start-ClusteredMailboxServer", "-Identity", "E2K7CCR"}));
  f.ok("NODE2", {"cluster.exe", "CLUS1", "group", "Cluster Group", "/moveto:NODE2"});
  f.upgrade("NODE1", false);
  move("NODE1");
  f.ok("NODE2", {"sc.exe", "config", "SharedAccess", "start=", "disabled"});

  LabSummary s = f.lab->summary();
  CHECK(s.violations.empty());
  REQUIRE(s.groups.size() == 2);
  CHECK(s.groups[0].group == "Cluster Group");
  CHECK(s.groups[0].outage_seconds == 30);
  CHECK(s.groups[1].group == "E2K7CCR");
  CHECK(s.groups[1].owner == "NODE1");
  CHECK(s.groups[1].online);
  CHECK(s.groups[1].version == "SP1");
  CHECK(s.groups[1].outage_seconds == 60 + 30 + 600 + 90 + 120);
  CHECK(render_summary(s).find("  cluster CLUS1  group E2K7CCR        owner NODE1  online   outage 15m00s  version SP1\nviolations: none\n") !=
        std::string::npos);
  auto schema = read_json(kSource + "/schemas/lab-event.schema.json");
  VTime last = 0;
  for (const auto& e : f.events()) {
    require_valid(schema, e);
    CHECK(e["t"].get<VTime>() >= last);
    last = e["t"].get<VTime>();
  }
  CHECK(f.events().back()["command"] == "sc.exe config SharedAccess start= disabled");
}

TEST_CASE("lab: rebooting the owner of online groups is an unplanned failover", "[lab]") {
  LabFixture f;
  f.ok("NODE1", {"shutdown.exe", "/r", "/t", "0"});
  auto ev = f.events();
  CHECK(std::count_if(ev.begin(), ev.end(), [](const json& e) { return e["kind"] == "violation"; }) == 2);
  REQUIRE(f.lab->boot_id("NODE1"));  // waits the reboot out in virtual time
  const Group& cms = f.group("E2K7CCR");
  CHECK(cms.online);
  CHECK(cms.owner == "NODE2");
  LabSummary s = f.lab->summary();
  CHECK(s.violations.size() == 2);
  CHECK(s.groups[1].outage_seconds == 60);
  for (const auto& e : f.events()) require_valid(read_json(kSource + "/schemas/lab-event.schema.json"), e);
}

TEST_CASE("lab: a stopped CMS stays offline across reboots", "[lab]") {
  LabFixture f;
  f.ok("NODE1", LabFixture::ps({"Stop-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-StopReason", "test", "-Confirm:$false"}));
  f.ok("NODE1", {"cluster.exe", "CLUS1", "group", "Cluster Group", "/moveto:NODE2"});
  f.reboot("NODE1");
  CHECK_FALSE(f.group("E2K7CCR").online);
  CHECK(f.lab->summary().violations.empty());
  f.ok("NODE1", LabFixture::ps({"Start-ClusteredMailboxServer", "-Identity", "E2K7CCR"}));
  CHECK(f.group("E2K7CCR").online);
}

TEST_CASE("lab: injected faults", "[lab]") {
  SECTION("fail once, then succeed") {
    LabFixture f("  - {node: HUBCAS, command: \"setup.com /m:upgrade\", mode: fail_once, exit: 1603}\n");
    auto r = f.run("HUBCAS", {"setup.com", "/m:upgrade"});
    CHECK(r.exit_code == 1603);
    CHECK(r.err.find("injected fault") != std::string::npos);
    CHECK(f.lab->snapshot().nodes.at("HUBCAS").exchange == "RTM");
    f.reopen();  // the spent fault stays spent
    CHECK(f.run("HUBCAS", {"setup.com", "/m:upgrade"}).exit_code == 0);
  }
  SECTION("fail always") {
    LabFixture f("  - {command: Stop-ClusteredMailboxServer, mode: fail_always, message: RPC server unavailable}\n");
    auto stop = LabFixture::ps({"Stop-ClusteredMailboxServer", "-Identity", "E2K7CCR", "-StopReason", "x", "-Confirm:$false"});
    CHECK(f.run("NODE2", stop).err == "RPC server unavailable\n");
    CHECK(f.run("NODE1", stop).exit_code == 1);
    CHECK(f.group("E2K7CCR").online);
  }
  SECTION("hang until the request's timeout") {
    LabFixture f("  - {node: NODE1, command: NetFx20SP1_x64.exe, mode: hang}\n");
    auto r = f.run("NODE1", {"NetFx20SP1_x64.exe", "/q", "/norestart"}, std::chrono::milliseconds(300000));
    CHECK(r.timed_out);
    CHECK(f.lab->snapshot().now == 300);
    CHECK(f.lab->snapshot().nodes.at("NODE1").dotnet == "RTM");
    ExecRequest req;
    req.argv = {"NetFx20SP1_x64.exe", "/q", "/norestart"};
    auto none = f.lab->run("NODE1", req);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == ErrorCode::timeout);
  }
  SECTION("a node that does not come back from a reboot") {
    LabFixture f("  - {node: NODE2, mode: no_return_from_reboot}\n");
    f.ok("NODE2", {"shutdown.exe", "/r", "/t", "0"});
    auto id = f.lab->boot_id("NODE2");
    REQUIRE_FALSE(id);
    CHECK(id.error().code == ErrorCode::unreachable);
    ExecRequest req;
    req.argv = {"sc.exe", "query", "MOM"};
    auto r = f.lab->transport("NODE2")->run(req);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::unreachable);
  }
}

TEST_CASE("lab: state survives closing and reopening", "[lab]") {
  LabFixture f;
  f.ok("NODE2", {"sc.exe", "config", "SharedAccess", "start=", "demand"});
  f.ok("NODE2", {"NetFx20SP1_x64.exe", "/q", "/norestart"});
  auto before = to_json(f.lab->snapshot());
  auto lines = f.events().size();
  fs::remove(f.dir / "lab.yaml");  // a reopen must not need the lab file
  f.reopen();
  CHECK(to_json(f.lab->snapshot()) == before);
  CHECK(f.events().size() == lines);
  CHECK(std::regex_search(f.ok("NODE2", {"sc.exe", "qc", "SharedAccess"}).out, std::regex(R"(START_TYPE\s+:\s+3\s+DEMAND_START)")));
}

TEST_CASE("lab: with a speed, commands sleep outside the lock and persist first", "[lab]") {
  LabFixture f("", 3000);  // setup's 25 minutes take 0.5 s
  Result<ExecResult> done = std::unexpected(make_error(ErrorCode::internal, "not run"));
  std::thread setup([&] { done = f.lab->run("HUBCAS", ExecRequest{{"setup.com", "/m:upgrade"}, {}, {}, {}, {}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  auto t0 = std::chrono::steady_clock::now();
  f.ok("NODE1", {"sc.exe", "query", "MOM"});
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(250));
  CHECK(read_json(f.lab->state_path())["nodes"]["HUBCAS"]["exchange"] == "SP1");
  setup.join();
  REQUIRE(done);
  CHECK(done->exit_code == 0);
}

TEST_CASE("lab: with a speed, a command outlasting its timeout is cut off but takes effect", "[lab]") {
  LabFixture f("", 60000);  // setup's 25 minutes take 25 ms
  auto r = f.run("HUBCAS", {"setup.com", "/m:upgrade"}, std::chrono::milliseconds(5));
  CHECK(r.timed_out);
  CHECK(r.exit_code == 137);
  CHECK(f.lab->snapshot().nodes.at("HUBCAS").exchange == "SP1");
}

TEST_CASE("lab: lab files are checked with positions", "[lab]") {
  auto showcase = parse_lab_file(kSource + "/manifests/labs/clus1-rtm.yaml");
  REQUIRE(showcase);
  require_valid(read_json(kSource + "/schemas/lab.schema.json"), yaml_to_json(YAML::LoadFile(kSource + "/manifests/labs/clus1-rtm.yaml")));
  auto bad = parse_lab_text("apiVersion: converge/v1\nkind: Lab\nnodes:\n  N1:\n    roles: [mailbox]\n    colour: red\n"
                            "    dotnet: SP3\n  N2:\n    roles: []\n",
                            "bad.yaml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::invalid_input);
  CHECK(bad.error().describe() ==
        "bad.yaml:6:5: unknown key 'colour' in node N1\n"
        "bad.yaml:7:13: node N1: dotnet must be RTM or SP1, not 'SP3'");
  // The YAML itself gets the checks of every input first (yaml_doc.h), which stop there.
  auto dup = parse_lab_text("apiVersion: converge/v1\nkind: Lab\nnodes:\n  N1: {roles: []}\n  N1: {roles: []}\n", "dup.yaml");
  REQUIRE_FALSE(dup);
  CHECK(dup.error().describe() == "dup.yaml:5:3: duplicate key 'N1'");
  auto tagged = parse_lab_text("apiVersion: converge/v1\nkind: Lab\nnodes: !!python/object {}\n", "tag.yaml");
  REQUIRE_FALSE(tagged);
  CHECK(tagged.error().describe() == "tag.yaml:3:8: unsupported YAML tag 'tag:yaml.org,2002:python/object'");
}
