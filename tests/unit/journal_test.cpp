// engine/state/journal.h: the SQLite journal in a temporary state directory: its format, runs,
// two-phase steps (and what a crash between them leaves), priors, drift, refusals at open,
// simulated write failures and file modes.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/state/journal.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

/// A fresh state directory, removed afterwards.
struct JournalFixture {
  std::string dir;
  std::string db_path;

  JournalFixture() {
    char tmpl[] = "/tmp/converge-journal-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    db_path = dir + "/journal.db";
  }
  ~JournalFixture() { fs::remove_all(dir); }

  std::unique_ptr<Journal> open() const {
    auto j = Journal::open(dir);
    if (!j) FAIL("open: " << j.error().describe());
    return std::move(*j);
  }

  /// Runs SQL on the file directly; returns the first column of the rows, joined by ",".
  std::string sql(const std::string& query) const {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    std::string out;
    auto cb = [](void* o, int, char** vals, char**) {
      auto* s = static_cast<std::string*>(o);
      *s += (s->empty() ? "" : ",") + std::string(vals[0] ? vals[0] : "NULL");
      return 0;
    };
    char* err = nullptr;
    int rc = sqlite3_exec(db, query.c_str(), cb, &out, &err);
    std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    if (rc != SQLITE_OK) FAIL("sql: " << msg);
    return out;
  }

  static RunRow run_row(const std::string& command = "apply") {
    RunRow r;
    r.command = command;
    r.user = "alice";
    r.host = "box";
    r.pid = 4242;
    r.manifest_path = "/m.yaml";
    r.manifest_sha256 = "abc123";
    return r;
  }

  static std::vector<StepRow> two_steps(std::int64_t run) {
    StepRow a;
    a.run_id = run;
    a.seq = 1;
    a.resource = "file[/srv/a]@n1";
    a.action = "create";
    a.reason = "does not exist";
    a.before_json = "null";
    StepRow b = a;
    b.seq = 2;
    b.resource = "exec[e]@n1";
    b.action = "update";
    b.before_json = R"({"ok":false})";
    return {a, b};
  }
};

}  // namespace

TEST_CASE_METHOD(JournalFixture, "open creates the documented schema at format 1", "[journal]") {
  auto j = open();
  CHECK(Journal::kFormat == 1);
  CHECK(sql("PRAGMA user_version") == "1");
  CHECK(sql("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name") == "drift,meta,priors,runs,steps");
  CHECK(sql("PRAGMA journal_mode") == "wal");
  j.reset();
  open();  // reopening an existing journal is fine
  CHECK(sql("PRAGMA user_version") == "1");
}

TEST_CASE_METHOD(JournalFixture, "the journal and its WAL files are private (0600)", "[journal]") {
  mode_t old = ::umask(0);  // the most permissive umask: modes must come from the journal
  auto j = open();
  ::umask(old);
  REQUIRE(j->set_meta("k", "v").has_value());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string p = db_path + suffix;
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) continue;  // WAL files may not exist yet
    INFO(p);
    CHECK((st.st_mode & 07777) == 0600);
  }
}

TEST_CASE_METHOD(JournalFixture, "begin_run, end_run and reading runs back", "[journal]") {
  auto j = open();
  auto id = j->begin_run(run_row());
  REQUIRE(id.has_value());
  auto r = j->run(*id);
  REQUIRE(r.has_value());
  REQUIRE(r->has_value());
  CHECK((*r)->status == RunStatus::running);
  CHECK((*r)->command == "apply");
  CHECK((*r)->pid == 4242);
  CHECK((*r)->exit_code == -1);
  CHECK((*r)->git_dirty == -1);
  CHECK((*r)->ended_at.empty());
  CHECK((*r)->started_at.size() == 24);  // 2026-11-25T14:40:23.123Z

  REQUIRE(j->end_run(*id, RunStatus::converged, 3, 1, "ok").has_value());
  auto done = j->run(*id);
  REQUIRE(done->has_value());
  CHECK((*done)->status == RunStatus::converged);
  CHECK((*done)->exit_code == 0);
  CHECK((*done)->changes == 3);
  CHECK((*done)->failed == 1);
  CHECK((*done)->note == "ok");
  CHECK_FALSE((*done)->ended_at.empty());

  RunRow plan = run_row("check");
  plan.status = RunStatus::in_sync;
  plan.started_at = "2026-01-01T00:00:00.000Z";
  plan.git_dirty = 1;
  auto id2 = j->record_run(plan);
  REQUIRE(id2.has_value());
  auto list = j->runs(10);
  REQUIRE(list.has_value());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].id == *id2);  // newest first
  CHECK((*list)[0].status == RunStatus::in_sync);
  CHECK((*list)[0].exit_code == 0);
  CHECK((*list)[0].git_dirty == 1);
  CHECK((*list)[1].id == *id);
  CHECK(j->runs(1)->size() == 1);
  CHECK_FALSE(j->run(999)->has_value());
}

TEST_CASE_METHOD(JournalFixture, "steps are recorded as started, then ended", "[journal]") {
  auto j = open();
  auto run = *j->begin_run(run_row());
  auto steps = two_steps(run);
  REQUIRE(j->steps_started(steps).has_value());
  CHECK(steps[0].id > 0);
  CHECK(steps[1].id > steps[0].id);
  CHECK_FALSE(steps[0].started_at.empty());

  auto started = j->steps(run);
  REQUIRE(started.has_value());
  REQUIRE(started->size() == 2);
  CHECK((*started)[0].resource == "file[/srv/a]@n1");
  CHECK((*started)[0].outcome.empty());
  CHECK((*started)[0].ended_at.empty());
  CHECK((*started)[1].before_json == R"({"ok":false})");

  steps[0].outcome = "ok";
  steps[0].after_json = R"("present")";
  steps[1].outcome = "failed";
  steps[1].error = "apply exited 2";
  REQUIRE(j->steps_ended(steps).has_value());
  auto ended = *j->steps(run);
  REQUIRE(ended.size() == 2);
  CHECK(ended[0].outcome == "ok");
  CHECK(ended[0].after_json == R"("present")");
  CHECK(ended[0].error.empty());
  CHECK(ended[1].outcome == "failed");
  CHECK(ended[1].error == "apply exited 2");
  CHECK_FALSE(ended[1].ended_at.empty());
}

TEST_CASE_METHOD(JournalFixture, "a crash between started and ended leaves steps without outcome", "[journal]") {
  std::int64_t run = 0;
  {
    auto j = open();
    run = *j->begin_run(run_row());
    auto steps = two_steps(run);
    REQUIRE(j->steps_started(steps).has_value());
  }  // the process "dies": no steps_ended, no end_run
  auto j = open();
  auto steps = *j->steps(run);
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].outcome.empty());
  CHECK(steps[1].outcome.empty());
  CHECK_FALSE(steps[0].started_at.empty());
  CHECK(sql("SELECT count(*) FROM steps WHERE outcome IS NULL") == "2");

  auto closed = j->close_interrupted();
  REQUIRE(closed.has_value());
  REQUIRE(closed->size() == 1);
  CHECK((*closed)[0].id == run);
  CHECK((*closed)[0].status == RunStatus::running);  // as it was found
  CHECK((*j->run(run))->status == RunStatus::interrupted);
  CHECK(j->close_interrupted()->empty());
}

TEST_CASE_METHOD(JournalFixture, "close_interrupted leaves finished runs alone", "[journal]") {
  auto j = open();
  auto a = *j->begin_run(run_row());
  REQUIRE(j->end_run(a, RunStatus::failed, 0, 1).has_value());
  auto b = *j->begin_run(run_row());
  auto closed = *j->close_interrupted();
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].id == b);
  CHECK((*j->run(a))->status == RunStatus::failed);
}

TEST_CASE_METHOD(JournalFixture, "priors: the first record wins until restored", "[journal]") {
  auto j = open();
  CHECK_FALSE(j->prior("svc[x]@n1", "state")->has_value());
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("running")", 1).has_value());
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("stopped")", 2).has_value());
  CHECK(j->prior("svc[x]@n1", "state")->value() == R"("running")");
  CHECK_FALSE(j->prior("svc[x]@n1", "startup")->has_value());

  REQUIRE(j->prior_restored("svc[x]@n1", "state").has_value());
  CHECK(sql("SELECT count(*) FROM priors WHERE restored_at IS NOT NULL") == "1");
  // Once restored, a new maintenance records afresh.
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("paused")", 3).has_value());
  CHECK(j->prior("svc[x]@n1", "state")->value() == R"("paused")");
  CHECK(sql("SELECT run_id FROM priors") == "3");
  CHECK(sql("SELECT count(*) FROM priors WHERE restored_at IS NULL") == "1");
}

TEST_CASE_METHOD(JournalFixture, "record_drift and meta round-trip", "[journal]") {
  auto j = open();
  auto run = *j->begin_run(run_row("check"));
  std::vector<std::vector<std::string>> rows{{"file[/a]@n1", "mode", R"("0600")", R"("0644")"},
                                             {"exec[e]@n1", "ok", "false", "true"}};
  REQUIRE(j->record_drift(run, rows).has_value());
  CHECK(*j->drift(run) == rows);
  CHECK(j->drift(run + 1)->empty());

  CHECK_FALSE(j->meta("git")->has_value());
  REQUIRE(j->set_meta("git", "one").has_value());
  REQUIRE(j->set_meta("git", "two").has_value());
  CHECK(j->meta("git")->value() == "two");
}

TEST_CASE_METHOD(JournalFixture, "a journal of a newer format is refused", "[journal]") {
  open();
  sql("PRAGMA user_version=99");
  auto j = Journal::open(dir);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error().code == ErrorCode::io);
  CHECK(j.error().describe() == "journal " + db_path +
                                    " has format 99, newer than this converge understands (1); upgrade converge");
  CHECK(sql("PRAGMA user_version") == "99");  // untouched
}

TEST_CASE_METHOD(JournalFixture, "a corrupt journal is refused at open and left as it was", "[journal]") {
  std::string garbage(8192, '\0');
  for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 7919 + 13) % 251);
  std::ofstream(db_path, std::ios::binary) << garbage;
  auto j = Journal::open(dir);
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error().code == ErrorCode::io);
  CHECK_THAT(j.error().describe(), Catch::StartsWith("journal: cannot read " + db_path + ": "));
  CHECK_THAT(j.error().describe(), Catch::Contains("not a database"));
  std::ifstream in(db_path, std::ios::binary);
  CHECK(std::string(std::istreambuf_iterator<char>(in), {}) == garbage);
}

TEST_CASE_METHOD(JournalFixture, "simulated write failures leave no partial rows", "[journal]") {
  auto j = open();
  auto run = *j->begin_run(run_row());
  j->fail_writes_for_testing(true);

  auto r = j->begin_run(run_row());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().describe() == "journal: database or disk is full (simulated)");
  auto steps = two_steps(run);
  CHECK_FALSE(j->steps_started(steps).has_value());
  CHECK(steps[0].id == 0);
  CHECK_FALSE(j->record_prior("r", "p", "1", run).has_value());
  CHECK_FALSE(j->record_drift(run, {{"r", "p", "1", "2"}}).has_value());
  CHECK_FALSE(j->end_run(run, RunStatus::converged, 0, 0).has_value());
  CHECK_FALSE(j->set_meta("k", "v").has_value());

  j->fail_writes_for_testing(false);
  CHECK(sql("SELECT count(*) FROM runs") == "1");
  CHECK(sql("SELECT status FROM runs") == "running");
  CHECK(sql("SELECT count(*) FROM steps") == "0");
  CHECK(sql("SELECT count(*) FROM priors") == "0");
  CHECK(sql("SELECT count(*) FROM drift") == "0");
  CHECK(sql("SELECT count(*) FROM meta") == "0");
  REQUIRE(j->steps_started(steps).has_value());  // and it works again afterwards
  CHECK(j->steps(run)->size() == 2);
}

TEST_CASE_METHOD(JournalFixture, "the WAL stays short over many runs, each with its own connection", "[journal]") {
  // Each no-op run opens the journal, records one run and closes; every open reads the
  // whole WAL, so it must not grow without bound (SQLite's own checkpoint never shortens it
  // in this pattern).
  std::uintmax_t largest = 0;
  for (int i = 0; i < 200; ++i) {
    auto j = open();
    RunRow r = run_row();
    r.status = RunStatus::in_sync;
    REQUIRE(j->record_run(r).has_value());
    j.reset();
    std::error_code ec;
    largest = std::max(largest, fs::file_size(db_path + "-wal", ec));
  }
  CHECK(largest > 0);
  CHECK(largest <= 66 * (4096 + 24) + 32);  // 64 frames and the commit that reached them
  CHECK(sql("SELECT count(*) FROM runs") == "200");
}
