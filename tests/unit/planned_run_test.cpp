// engine/run/orchestrate.h: the planned run on the in-process lab, with a fake clock: it
// converges the showcase and a rerun is a no-op; a timed-out step is retried after the
// backoff (slept on the fake clock, not in real time); a step that keeps failing halts the
// run safely with the transient changes put back; a change made behind the run's back makes
// it re-plan; a restart of the machine converge runs on leaves the run awaiting the reboot,
// and the next run continues it. No process is started and nothing sleeps for real.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "engine/model/loader.h"
#include "engine/run/orchestrate.h"
#include "engine/state/journal.h"
#include "resources/lab/lab.h"
#include "resources/transports.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

/// Time that passes only when slept on; records each sleep.
class FakeClock final : public Clock {
 public:
  time_point now() const override {
    std::lock_guard l(mu_);
    return start_ + elapsed_;
  }
  void sleep_for(std::chrono::milliseconds d) override {
    std::lock_guard l(mu_);
    elapsed_ += d;
    sleeps_.push_back(d.count());
  }
  std::int64_t unix_seconds() const override {
    std::lock_guard l(mu_);
    return 1'700'000'000 + std::chrono::duration_cast<std::chrono::seconds>(elapsed_).count();
  }
  /// Sleeps longer than the polling of a wait: the backoffs.
  std::vector<std::int64_t> backoffs() const {
    std::lock_guard l(mu_);
    std::vector<std::int64_t> out;
    for (auto s : sleeps_)
      if (s > 50) out.push_back(s);
    return out;
  }

 private:
  mutable std::mutex mu_;
  time_point start_{};
  std::chrono::milliseconds elapsed_{0};
  std::vector<std::int64_t> sleeps_;
};

/// A lab node's transport, with hooks: a command may trigger a change behind the run's back,
/// and the node may pose as the machine converge runs on.
class NodeTransport final : public Transport {
 public:
  NodeTransport(std::unique_ptr<Transport> inner, bool here) : inner_(std::move(inner)), here_(here) {}
  Result<ExecResult> run(const ExecRequest& req) override {
    auto r = inner_->run(req);
    std::string line;
    for (const auto& a : req.argv) line += (line.empty() ? "" : " ") + a;
    if (after_ && r && line.find(trigger_) != std::string::npos) {
      auto hook = std::move(after_);
      after_ = nullptr;
      hook();
    }
    return r;
  }
  FileSystem* files() override { return nullptr; }
  Result<std::string> boot_id() override { return inner_->boot_id(); }
  std::string describe() const override { return inner_->describe(); }
  bool runs_here() const override { return here_; }
  /// Runs `hook` once, after the first command whose line contains `trigger`.
  void after(std::string trigger, std::function<void()> hook) {
    trigger_ = std::move(trigger);
    after_ = std::move(hook);
  }

 private:
  std::unique_ptr<Transport> inner_;
  bool here_;
  std::string trigger_;
  std::function<void()> after_;
};

/// The showcase manifest on a lab file of this test's own (with `faults`), in a temporary
/// directory with its state directory, journal and the lab's transports.
struct LabRun {
  fs::path dir;
  std::string state;
  LoadOutcome lo;
  std::shared_ptr<lab::Lab> lab;
  std::map<std::string, std::unique_ptr<NodeTransport>> nodes;
  std::unique_ptr<ClusterTransport> cluster;
  std::unique_ptr<Journal> journal;
  FakeClock clock;
  std::vector<std::string> progress;

  explicit LabRun(const std::string& faults = "[]", const std::string& here = "", const std::string& backup_age = "2h") {
    char tmpl[] = "/tmp/converge-planned-run-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    state = (dir / "state").string();
    const std::string src = CONVERGE_SOURCE_DIR;
    std::string lab_text = read(src + "/manifests/labs/clus1-rtm.yaml");
    lab_text = std::regex_replace(lab_text, std::regex("faults: \\[\\]"), "faults: " + faults);
    lab_text = std::regex_replace(lab_text, std::regex("last_full_backup_age: 2h"), "last_full_backup_age: " + backup_age);
    write("lab.yaml", lab_text);
    std::string m = read(src + "/manifests/exchange2007-ccr-sp1.yaml");
    m = std::regex_replace(m, std::regex("\\.\\./resources/"), src + "/resources/");
    m = std::regex_replace(m, std::regex("labs/clus1-rtm\\.yaml"), (dir / "lab.yaml").string());
    write("m.yaml", m);
    lo = load_manifest((dir / "m.yaml").string(), builtin_types());
    for (const auto& d : lo.diagnostics) FAIL(d.describe());
    REQUIRE(lo.manifest);
    fs::create_directories(state);
    auto l = lab::Lab::open((dir / "lab.yaml").string(), state, 0);
    REQUIRE(l);
    lab = *l;
    std::vector<std::pair<std::string, Transport*>> members;
    for (const char* n : {"HUBCAS", "NODE1", "NODE2"}) {
      nodes[n] = std::make_unique<NodeTransport>(lab->transport(n), here == n);
      if (std::string(n) != "HUBCAS") members.push_back({n, nodes[n].get()});
    }
    cluster = std::make_unique<ClusterTransport>("CLUS1", members);
    auto j = Journal::open(state);
    REQUIRE(j);
    journal = std::move(*j);
  }
  ~LabRun() {
    journal.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; }

  TransportLookup lookup() {
    return [this](const std::string& n) -> Transport* {
      if (n == "CLUS1") return cluster.get();
      auto it = nodes.find(n);
      return it == nodes.end() ? nullptr : it->second.get();
    };
  }

  /// One planned run of `command`, as cmd_converge would run it (without built-in resources).
  PlannedOutcome run(Command command = Command::apply, bool resumed = false) {
    const Manifest& m = *lo.manifest;
    const TransportLookup look = lookup();
    std::vector<ResourceResult> results = observe_all(m, lo.types, look, {});
    std::int64_t id = 0;
    BeginRun begin = [&]() -> Result<std::int64_t> {
      if (id) return id;
      RunRow row;
      row.command = command_word(command);
      CONVERGE_TRY(id, journal->begin_run(row));
      return id;
    };
    PlannedRunOptions o;
    o.clock = &clock;
    o.resumed = resumed;
    o.reboot_timeout = std::chrono::minutes(5);
    o.retry_backoff = std::chrono::seconds(1);
    o.progress = [this](const std::string& line) { progress.push_back(line); };
    PlannedOutcome out = run_planned(command, m, lo.types, look, journal.get(), begin, results, o);
    if (out.run_id) REQUIRE(journal->end_run(out.run_id, out.status, out.changes, out.failed));
    return out;
  }

  /// The lab's services on a node: name -> "state/startup".
  std::map<std::string, std::string> services(const std::string& node) const {
    std::map<std::string, std::string> out;
    const lab::LabState snap = lab->snapshot();
    for (const auto& [name, s] : snap.nodes.at(node).services)
      out[name] = std::string(s.running ? "running" : "stopped") + "/" + lab::startup_name(s.startup);
    return out;
  }

  bool said(const std::string& text) const {
    for (const auto& p : progress)
      if (p.find(text) != std::string::npos) return true;
    return false;
  }
};

std::string notes(const PlannedOutcome& o) {
  std::string all;
  for (const auto& n : o.notes) all += n + "\n";
  for (const auto& d : o.diagnostics) all += "error: " + d.describe() + "\n";
  return all;
}

}  // namespace

TEST_CASE("the planned run converges the lab, then does nothing", "[planned_run]") {
  LabRun r;
  const auto before2 = r.services("NODE2");
  PlannedOutcome first = r.run();
  INFO(notes(first));
  CHECK(first.status == RunStatus::converged);
  CHECK(first.changes > 20);
  CHECK(first.extra.contains("plan"));
  CHECK(r.lab->summary().violations.empty());
  CHECK(r.lab->snapshot().nodes.at("NODE1").exchange == "SP1");
  CHECK(r.services("NODE2") == before2);  // transient changes put back
  CHECK(r.clock.backoffs().empty());       // nothing retried, nothing slept

  PlannedOutcome again = r.run();
  CHECK(again.status == RunStatus::in_sync);
  CHECK(again.changes == 0);
  CHECK(again.run_id == 0);  // a no-op writes no step
}

TEST_CASE("plan and check change nothing", "[planned_run]") {
  LabRun r;
  const auto snapshot = r.lab->snapshot().nodes.at("NODE2").exchange;
  CHECK(r.run(Command::plan).status == RunStatus::changes_pending);
  CHECK(r.run(Command::check).status == RunStatus::drift);
  CHECK(r.lab->snapshot().nodes.at("NODE2").exchange == snapshot);
}

TEST_CASE("a timed-out step is retried after the backoff, on the clock", "[planned_run]") {
  LabRun r("[{node: NODE2, command: \"sc.exe stop MOM\", mode: hang_once}]");
  PlannedOutcome o = r.run();
  INFO(notes(o));
  CHECK(o.status == RunStatus::converged);
  CHECK(r.clock.backoffs() == std::vector<std::int64_t>{1000});
  CHECK(r.said("retry 1 of 2 in 1000 ms"));
  CHECK(r.lab->summary().violations.empty());
}

TEST_CASE("a step that keeps failing halts the run safely", "[planned_run]") {
  SECTION("retries exhausted, backoff doubling") {
    LabRun r("[{node: NODE2, command: \"sc.exe stop MOM\", mode: hang}]");
    const auto before = r.services("NODE2");
    PlannedOutcome o = r.run();
    INFO(notes(o));
    CHECK(o.status == RunStatus::halted);  // halt_after_failures: 1
    CHECK(r.clock.backoffs() == std::vector<std::int64_t>{1000, 2000});
    CHECK(o.extra.contains("halt"));
    CHECK(r.services("NODE2") == before);  // SharedAccess, started for setup, is back
    CHECK(r.lab->summary().violations.empty());
  }
  SECTION("a failure that is not retried") {
    LabRun r("[{node: NODE2, command: \"setup.com /m:upgrade\", mode: fail_always}]");
    const auto before = r.services("NODE2");
    PlannedOutcome o = r.run();
    INFO(notes(o));
    CHECK(o.status == RunStatus::halted);
    CHECK(r.clock.backoffs().empty());
    REQUIRE_FALSE(o.diagnostics.empty());
    CHECK(o.diagnostics[0].message.find("exchange_server[exchange] upgrade (version=SP1) on NODE2 failed") == 0);
    CHECK(r.services("NODE2") == before);
    CHECK(r.lab->snapshot().groups.at("CLUS1/E2K7CCR").online);
  }
}

TEST_CASE("a change behind the run's back makes it plan again", "[planned_run]") {
  LabRun r;
  const auto before = r.services("NODE2");
  // Once NODE1's setup starts (NODE2 is done, its services put back), someone starts the
  // firewall on NODE2 and makes it automatic.
  r.nodes["NODE1"]->after("setup.com /m:upgrade", [&] {
    auto n2 = r.lab->transport("NODE2");
    REQUIRE(n2->run({{"sc.exe", "config", "SharedAccess", "start=", "auto"}, {}, "", {}, ""}));
    REQUIRE(n2->run({{"sc.exe", "start", "SharedAccess"}, {}, "", {}, ""}));
  });
  REQUIRE(r.services("NODE2").at("SharedAccess") == "stopped/disabled");
  PlannedOutcome o = r.run();
  INFO(notes(o));
  CHECK(o.status == RunStatus::converged);
  CHECK(r.said("re-planning from a fresh observation (round 2)"));
  CHECK(r.services("NODE2") == before);
}

TEST_CASE("restarting the machine converge runs on leaves the run awaiting the reboot", "[planned_run]") {
  LabRun r("[]", "NODE2");
  PlannedOutcome first = r.run();
  INFO(notes(first));
  REQUIRE(first.status == RunStatus::awaiting_reboot);
  CHECK(exit_code(first.status) == kExitPending);
  CHECK(notes(first).find("awaiting reboot: NODE2 is restarting") != std::string::npos);
  // The lab restarted NODE2 at once: the next runs continue the work, each stopping at
  // NODE2's next restart, until it is done.
  std::vector<RunStatus> seen;
  PlannedOutcome next;
  for (int i = 0; i < 6; ++i) {
    next = r.run(Command::apply);
    seen.push_back(next.status);
    if (next.status != RunStatus::awaiting_reboot) break;
    CHECK(notes(next).find("restarted (new boot id); continuing the work of run #") != std::string::npos);
  }
  INFO(notes(next));
  CHECK(next.status == RunStatus::converged);
  CHECK(r.lab->snapshot().nodes.at("NODE2").exchange == "SP1");
  CHECK(r.lab->summary().violations.empty());
}

TEST_CASE("a resumed run that is refused first puts back what the interrupted run changed", "[planned_run]") {
  // The backup is 30 hours old: the showcase's precondition (max_age 24h) refuses.
  LabRun r("[]", "", "30h");
  const auto before = r.services("NODE2");
  // What a run killed during NODE2's setup left: MOM stopped for setup, its prior journaled.
  RunRow killed;
  killed.command = "apply";
  auto id = r.journal->begin_run(killed);
  REQUIRE(id);
  REQUIRE(r.journal->record_prior("service[MOM]@NODE2", "state", "\"running\"", *id));
  REQUIRE(r.lab->transport("NODE2")->run({{"sc.exe", "stop", "MOM"}, {}, "", {}, ""}));
  REQUIRE(r.services("NODE2").at("MOM") == "stopped/automatic");

  PlannedOutcome o = r.run(Command::apply, true);
  INFO(notes(o));
  CHECK(o.status == RunStatus::refused);
  CHECK(notes(o).find("precondition full_backup") != std::string::npos);
  CHECK(notes(o).find("before refusing: 1 steps put transient changes and groups back") != std::string::npos);
  CHECK(r.services("NODE2") == before);  // MOM runs again
  CHECK(r.lab->summary().violations.empty());
}
