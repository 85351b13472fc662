// Fault injection in the spirit of LevelDB's fault_injection_test: the journal write fails
// between recording and acting; nothing is lost and nothing is done twice.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <fstream>

#include "engine/run/executor.h"
#include "engine/model/graph.h"
#include "engine/state/journal.h"
#include "engine/model/loader.h"
#include "engine/run/run_journal.h"
#include "resources/local_transport.h"

namespace fs = std::filesystem;
using namespace converge;

namespace {

/// A temp dir with a manifest of a directory and `n` files in it, and a state dir.
struct FaultFixture {
  fs::path dir;
  TypeRegistry types = builtin_types();
  LocalTransport local;
  FaultFixture() {
    char tmpl[] = "/tmp/converge-fault-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::ofstream m(dir / "m.yaml");
    m << "apiVersion: converge/v1\nkind: Manifest\nresources:\n";
    m << "  - {type: directory, name: " << (dir / "t").string() << "}\n";
    for (int i = 0; i < 4; ++i)
      m << "  - {type: file, name: " << (dir / "t" / ("f" + std::to_string(i))).string() << ", properties: {content: \"" << i
        << "\\n\"}}\n";
    fs::create_directories(dir / "state");
  }
  ~FaultFixture() { fs::remove_all(dir); }

  Manifest manifest() {
    LoadOutcome lo = load_manifest((dir / "m.yaml").string(), types);
    REQUIRE(lo.diagnostics.empty());
    return *lo.manifest;
  }
  TransportLookup lookup() {
    return [this](const std::string&) -> Transport* { return &local; };
  }
  int count_rows(Journal& j, std::int64_t run) { return static_cast<int>(j.steps(run)->size()); }

  /// An apply as cmd_converge runs it: observed, a run row, steps journaled around waves.
  struct RecordedRun {
    std::unique_ptr<Journal> journal;
    std::vector<ResourceResult> results;
    std::int64_t run = 0;
    std::unique_ptr<StepRecorder> recorder;
    ExecOptions opts;
  };
  /// Fills `r` in place (the recorder refers to r.results, so r must not move).
  void begin_recorded_run(RecordedRun& r, const Manifest& m) {
    auto journal = Journal::open((dir / "state").string());
    REQUIRE(journal);
    r.journal = std::move(*journal);
    r.results = observe_all(m, types, lookup(), {});
    auto run = r.journal->begin_run(describe_run("apply", m, *r.journal));
    REQUIRE(run);
    r.run = *run;
    r.recorder = std::make_unique<StepRecorder>(*r.journal, r.run, m, r.results);
    r.opts.before_wave = [rec = r.recorder.get()](const std::vector<int>& w) { return rec->started(w); };
    r.opts.after_wave = [rec = r.recorder.get()](const std::vector<int>& w) { return rec->ended(w); };
  }
};

}  // namespace

TEST_CASE_METHOD(FaultFixture, "a journal that cannot record the steps stops the run before anything acts") {
  Manifest m = manifest();
  RecordedRun r;
  begin_recorded_run(r, m);
  r.journal->fail_writes_for_testing(true);  // the disk is full from here on
  apply_waves(m, build_graph(m.resources), types, lookup(), r.results, r.opts);

  CHECK_FALSE(fs::exists(dir / "t"));  // nothing acted
  for (const auto& res : r.results) {
    CHECK(res.outcome == Outcome::skipped);
    CHECK(res.blocked_by.find("run halted") != std::string::npos);
    CHECK(res.blocked_by.find("disk is full") != std::string::npos);
  }
  r.journal->fail_writes_for_testing(false);
  CHECK(count_rows(*r.journal, r.run) == 0);  // no half-written step rows
}

TEST_CASE_METHOD(FaultFixture, "outcomes that cannot be recorded leave started steps; the rerun redoes nothing") {
  Manifest m = manifest();
  RecordedRun r;
  begin_recorded_run(r, m);
  // The first wave (the directory) acts, then its outcome cannot be written.
  r.opts.after_wave = [&](const std::vector<int>&) -> Status {
    return std::unexpected(make_error(ErrorCode::io, "journal: database or disk is full (simulated)"));
  };
  apply_waves(m, build_graph(m.resources), types, lookup(), r.results, r.opts);
  REQUIRE(fs::is_directory(dir / "t"));
  CHECK_FALSE(fs::exists(dir / "t" / "f0"));  // the run halted after the first wave
  auto steps = r.journal->steps(r.run);
  REQUIRE(steps->size() == 1);
  CHECK(steps->front().outcome.empty());  // started, result unknown: visible as such
  struct stat before {};
  REQUIRE(::stat((dir / "t").c_str(), &before) == 0);

  // The rerun observes afresh: the directory is in sync (not made again), the files are made.
  auto again = observe_all(m, types, lookup(), {});
  apply_waves(m, build_graph(m.resources), types, lookup(), again, {});
  CHECK(again[0].outcome == Outcome::in_sync);
  for (std::size_t i = 1; i < again.size(); ++i) CHECK(again[i].outcome == Outcome::changed);
  struct stat after {};
  REQUIRE(::stat((dir / "t").c_str(), &after) == 0);
  CHECK(before.st_ino == after.st_ino);
  auto third = observe_all(m, types, lookup(), {});
  for (const auto& r : third) CHECK(r.outcome == Outcome::in_sync);
}
