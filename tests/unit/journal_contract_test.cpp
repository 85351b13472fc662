// The journal's contract (engine/state/journal.h), held by both stores: SQLite in a
// temporary state directory, and PostgreSQL (journal_pg.h) when CONVERGE_TEST_PG_URL names
// a server (tests/scenario/teams_journal_contract.sh starts one and runs these), each test
// in a schema of its own. Also, PostgreSQL only: the estate lock (exclusive and shared),
// interrupted runs, `state migrate`'s copy, a local node's priors kept per machine, and the
// kept writes a lost database could not take.
#include <catch2/catch.hpp>
#include <libpq-fe.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

#include "engine/model/sha256.h"
#include "engine/state/journal.h"
#include "engine/state/journal_pg.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

std::string pg_server() {
  const char* url = std::getenv("CONVERGE_TEST_PG_URL");
  return url ? url : "";
}

/// A fresh schema on the test server; the URL that makes it the journal's.
std::string fresh_schema_url() {
  static std::atomic<int> n{0};
  const std::string schema = "t" + std::to_string(::getpid()) + "_" + std::to_string(n++);
  PGconn* c = PQconnectdb(pg_server().c_str());
  REQUIRE(PQstatus(c) == CONNECTION_OK);
  PGresult* r = PQexec(c, ("DROP SCHEMA IF EXISTS " + schema + " CASCADE; CREATE SCHEMA " + schema).c_str());
  const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  PQclear(r);
  PQfinish(c);
  REQUIRE(ok);
  const std::string url = pg_server();
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

/// One store for a test: `open()` gives a new connection (a new session) to the same journal.
struct Store {
  std::string name, dir, url;
  Store(std::string n) : name(std::move(n)) {
    char tmpl[] = "/tmp/converge-contract-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    if (name == "postgresql") url = fresh_schema_url();
  }
  ~Store() { fs::remove_all(dir); }
  std::unique_ptr<Journal> open() const {
    if (url.empty()) {
      auto j = Journal::open(dir);
      if (!j) FAIL("open: " << j.error().describe());
      return std::move(*j);
    }
    auto j = PgJournal::connect(url, dir);
    if (!j) FAIL("connect: " << j.error().describe());
    return std::move(*j);
  }
  std::unique_ptr<PgJournal> open_pg() const {
    auto j = PgJournal::connect(url, dir);
    if (!j) FAIL("connect: " << j.error().describe());
    return std::move(*j);
  }
};

std::vector<std::string> stores() {
  std::vector<std::string> out{"sqlite"};
  if (!pg_server().empty()) out.push_back("postgresql");
  return out;
}

RunRow run_row(const std::string& command = "apply") {
  RunRow r;
  r.command = command;
  r.user = "alice";
  r.host = "box";
  r.pid = 4242;
  r.manifest_path = "/m.yaml";
  r.manifest_sha256 = "abc123";
  r.git_commit = "0123456789abcdef";
  r.git_dirty = 0;
  return r;
}

StepRow step(std::int64_t run, int seq, const std::string& resource) {
  StepRow s;
  s.run_id = run;
  s.seq = seq;
  s.resource = resource;
  s.action = "update";
  s.reason = "differs";
  s.before_json = R"({"state":"stopped"})";
  return s;
}

#define FOR_EACH_STORE                                  \
  const std::string store_name = GENERATE(from_range(stores())); \
  INFO("store: " << store_name);                        \
  Store store(store_name)

}  // namespace

TEST_CASE("contract: runs are recorded, ended and read back", "[journal-contract]") {
  FOR_EACH_STORE;
  auto j = store.open();
  auto id = j->begin_run(run_row());
  REQUIRE(id.has_value());
  auto running = j->run(*id);
  REQUIRE(running->has_value());
  CHECK((*running)->status == RunStatus::running);
  CHECK((*running)->exit_code == -1);
  REQUIRE(j->end_run(*id, RunStatus::converged, 3, 0, "a note").has_value());
  RunRow r = **j->run(*id);
  CHECK(r.status == RunStatus::converged);
  CHECK(r.exit_code == 0);
  CHECK(r.changes == 3);
  CHECK(r.note == "a note");
  CHECK(r.user == "alice");
  CHECK(r.host == "box");
  CHECK(r.pid == 4242);
  CHECK(r.git_commit == "0123456789abcdef");
  CHECK(r.git_dirty == 0);
  CHECK_FALSE(r.ended_at.empty());

  RunRow noop = run_row("check");
  noop.status = RunStatus::drift;
  noop.started_at = "2026-11-30T10:00:00.000Z";
  auto id2 = j->record_run(noop);
  REQUIRE(id2.has_value());
  CHECK(*id2 > *id);
  auto all = *j->runs(10);
  REQUIRE(all.size() == 2);
  CHECK(all[0].id == *id2);  // newest first
  CHECK(all[0].status == RunStatus::drift);
  CHECK(all[0].exit_code == 2);
  CHECK(all[0].started_at == "2026-11-30T10:00:00.000Z");
  CHECK_FALSE(j->run(*id2 + 100)->has_value());
}

TEST_CASE("contract: steps are written ahead, then ended; a crash between leaves no outcome", "[journal-contract]") {
  FOR_EACH_STORE;
  // A PostgreSQL run locks before it writes: the next run's lock on the same node tells it
  // that the row's writer is gone.
  auto locked = [&](std::unique_ptr<Journal> j) {
    if (auto* pg = dynamic_cast<PgJournal*>(j.get())) REQUIRE(pg->lock({"node:n1"}, "apply").has_value());
    return j;
  };
  std::int64_t id = 0;
  {
    auto j = locked(store.open());
    id = *j->begin_run(run_row());
    std::vector<StepRow> wave{step(id, 1, "svc[a]@n1"), step(id, 2, "svc[b]@n2")};
    REQUIRE(j->steps_started(wave).has_value());
    CHECK(wave[0].id > 0);
    CHECK(wave[1].id > wave[0].id);
    wave[0].outcome = "changed";
    wave[0].after_json = R"({"state":"running"})";
    REQUIRE(j->steps_ended({wave[0]}).has_value());
    // The process dies here: wave[1] started, never ended.
  }
  auto j = locked(store.open());
  auto closed = *j->close_interrupted();
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].id == id);
  auto steps = *j->steps(id);
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].outcome == "changed");
  CHECK(steps[0].after_json == R"({"state":"running"})");
  CHECK(steps[1].outcome.empty());
  CHECK(steps[1].before_json == R"({"state":"stopped"})");
  RunRow r = **j->run(id);
  CHECK(r.status == RunStatus::interrupted);
  CHECK(r.changes == 1);
  CHECK(j->close_interrupted()->empty());
}

TEST_CASE("contract: the first prior wins until restored; scope filters", "[journal-contract]") {
  FOR_EACH_STORE;
  auto j = store.open();
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("running")", 1).has_value());
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("stopped")", 2).has_value());
  REQUIRE(j->record_prior("svc[y]@n2", "state", R"("stopped")", 2).has_value());
  CHECK(j->prior("svc[x]@n1", "state")->value() == R"("running")");
  CHECK(j->outstanding_priors()->size() == 2);
  // A run on n2 only sees and closes n2's maintenance.
  j->set_scope({"n2"});
  auto mine = *j->outstanding_priors();
  REQUIRE(mine.size() == 1);
  CHECK(mine[0][0] == "svc[y]@n2");
  REQUIRE(j->close_priors().has_value());
  j->set_scope({});
  auto left = *j->outstanding_priors();
  REQUIRE(left.size() == 1);
  CHECK(left[0][0] == "svc[x]@n1");
  REQUIRE(j->prior_restored("svc[x]@n1", "state").has_value());
  CHECK(j->outstanding_priors()->empty());
  // Restored: a new maintenance records afresh.
  REQUIRE(j->record_prior("svc[x]@n1", "state", R"("paused")", 3).has_value());
  CHECK(j->prior("svc[x]@n1", "state")->value() == R"("paused")");
  REQUIRE(j->close_priors().has_value());
  CHECK(j->outstanding_priors()->empty());
}

TEST_CASE("contract: drift and meta round-trip; failed writes leave nothing", "[journal-contract]") {
  FOR_EACH_STORE;
  auto j = store.open();
  auto run = *j->begin_run(run_row("check"));
  std::vector<std::vector<std::string>> rows{{"file[/a]@n1", "mode", R"("0600")", R"("0644")"},
                                             {"exec[e]@n1", "ok", "false", "true"}};
  REQUIRE(j->record_drift(run, rows).has_value());
  CHECK(*j->drift(run) == rows);
  REQUIRE(j->set_meta("git", "one").has_value());
  REQUIRE(j->set_meta("git", "two").has_value());
  CHECK(j->meta("git")->value() == "two");

  j->fail_writes_for_testing(true);
  std::vector<StepRow> wave{step(run, 1, "svc[a]@n1")};
  CHECK_FALSE(j->steps_started(wave).has_value());
  CHECK_FALSE(j->record_prior("svc[a]@n1", "state", "1", run).has_value());
  CHECK_FALSE(j->begin_run(run_row()).has_value());
  j->fail_writes_for_testing(false);
  CHECK(j->steps(run)->empty());
  CHECK_FALSE(j->prior("svc[a]@n1", "state")->has_value());
  CHECK(j->runs(10)->size() == 1);
}

TEST_CASE("postgresql: the estate lock is per name, all or none, and names its holder", "[journal-contract]") {
  if (pg_server().empty()) return;  // the SQLite store's lock is the state directory's flock (lock_test)
  Store store("postgresql");
  auto a = store.open_pg();
  auto b = store.open_pg();
  REQUIRE(a->lock({"node:n1", "node:n2"}, "apply").has_value());
  auto refused = b->lock({"node:n3", "node:n2"}, "check");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code == ErrorCode::locked);
  CHECK_THAT(refused.error().message, Catch::Contains("node:n2 is locked"));
  CHECK_THAT(refused.error().message, Catch::Contains("converge apply"));
  CHECK_THAT(refused.error().message, Catch::Contains("pid " + std::to_string(::getpid())));
  // All or none: b let go of n3 when n2 was held.
  auto c = store.open_pg();
  REQUIRE(c->lock({"node:n3"}, "apply").has_value());
  c.reset();
  // The holder's session ends, however it ends: the names are free.
  a.reset();
  REQUIRE(b->lock({"node:n1", "node:n2", "node:n3"}, "apply").has_value());
}

TEST_CASE("postgresql: a running row is closed by the run that next holds its node, not before", "[journal-contract]") {
  if (pg_server().empty()) return;
  Store store("postgresql");
  auto a = store.open_pg();
  REQUIRE(a->lock({"node:n1"}, "apply").has_value());
  auto id = *a->begin_run(run_row());
  auto other = store.open_pg();
  REQUIRE(other->lock({"node:n2"}, "apply").has_value());
  CHECK(other->close_interrupted()->empty());  // a is alive
  a.reset();
  // Dead now, but it touched n1 only: a run on n2 leaves it to the run that covers n1.
  CHECK(other->close_interrupted()->empty());
  auto third = store.open_pg();
  REQUIRE(third->lock({"node:n1"}, "apply").has_value());
  auto closed = *third->close_interrupted();
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].id == id);
  CHECK((*third->run(id))->status == RunStatus::interrupted);
}

TEST_CASE("postgresql: import_from copies a SQLite journal and refuses to copy it twice", "[journal-contract]") {
  if (pg_server().empty()) return;
  Store sqlite("sqlite");
  auto src = sqlite.open();
  auto r1 = *src->begin_run(run_row());
  std::vector<StepRow> wave{step(r1, 1, "svc[a]@n1"), step(r1, 2, "svc[b]@n1")};
  REQUIRE(src->steps_started(wave).has_value());
  wave[0].outcome = wave[1].outcome = "changed";
  wave[1].error = "";
  REQUIRE(src->steps_ended(wave).has_value());
  REQUIRE(src->record_prior("svc[a]@n1", "state", R"("running")", r1).has_value());
  REQUIRE(src->end_run(r1, RunStatus::converged, 2, 0, "").has_value());
  RunRow c = run_row("check");
  c.status = RunStatus::drift;
  c.started_at = "2026-11-30T10:00:00.000Z";
  auto r2 = *src->record_run(c);
  REQUIRE(src->record_drift(r2, {{"svc[a]@n1", "state", R"("stopped")", R"("running")"}}).has_value());
  REQUIRE(src->set_meta("k", "v").has_value());

  Store pg("postgresql");
  auto dst = pg.open_pg();
  auto copied = dst->import_from(*src);
  REQUIRE(copied.has_value());
  CHECK(*copied == 2);
  auto a = *src->runs(10), b = *dst->runs(10);
  REQUIRE(b.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(a[i].command == b[i].command);
    CHECK(a[i].status == b[i].status);
    CHECK(a[i].exit_code == b[i].exit_code);
    CHECK(a[i].started_at == b[i].started_at);
    CHECK(a[i].ended_at == b[i].ended_at);
    CHECK(a[i].changes == b[i].changes);
    CHECK(a[i].git_commit == b[i].git_commit);
  }
  auto sa = *src->steps(r1), sb = *dst->steps(b[1].id);
  REQUIRE(sb.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(sa[i].resource == sb[i].resource);
    CHECK(sa[i].outcome == sb[i].outcome);
    CHECK(sa[i].started_at == sb[i].started_at);
    CHECK(sa[i].before_json == sb[i].before_json);
  }
  CHECK(*dst->drift(b[0].id) == *src->drift(r2));
  CHECK(dst->prior("svc[a]@n1", "state")->value() == R"("running")");
  CHECK(dst->meta("k")->value() == "v");
  auto again = dst->import_from(*src);
  REQUIRE_FALSE(again.has_value());
  CHECK_THAT(again.error().message, Catch::Contains("already copied"));
  CHECK(dst->runs(10)->size() == 2);
}

TEST_CASE("postgresql: an unreachable server is an error naming it without its password", "[journal-contract]") {
  auto j = PgJournal::connect("postgresql://me:s3cretpw@127.0.0.1:1/db?connect_timeout=2", "");
  REQUIRE_FALSE(j.has_value());
  CHECK(j.error().code == ErrorCode::unreachable);
  CHECK_THAT(j.error().message, Catch::Contains("postgresql://me:***@127.0.0.1:1/db"));
  CHECK_THAT(j.error().message, !Catch::Contains("s3cretpw"));
  CHECK(redact_url("postgres://u@h/d?password=x&sslmode=require") == "postgres://u@h/d?password=***&sslmode=require");
  CHECK(is_database_url("postgresql://h/d"));
  CHECK_FALSE(is_database_url("/var/lib/converge"));
}

TEST_CASE("postgresql: plan and check lock shared, apply exclusive", "[journal-contract]") {
  if (pg_server().empty()) return;
  Store store("postgresql");
  auto check1 = store.open_pg(), check2 = store.open_pg(), apply = store.open_pg();
  REQUIRE(check1->lock({"node:n1"}, "check", false).has_value());
  REQUIRE(check2->lock({"node:n1"}, "plan", false).has_value());
  auto refused = apply->lock({"node:n1"}, "apply", true);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().message, Catch::Contains("node:n1 is locked"));
  check1.reset();
  check2.reset();
  REQUIRE(apply->lock({"node:n1"}, "apply", true).has_value());
  auto late = store.open_pg();
  CHECK_FALSE(late->lock({"node:n1"}, "check", false).has_value());
}

TEST_CASE("postgresql: a local node's prior values are this machine's", "[journal-contract]") {
  if (pg_server().empty()) return;
  Store store("postgresql");
  auto here = store.open_pg();
  here->set_local_nodes({"localhost"});
  here->set_scope({"localhost"});
  REQUIRE(here->record_prior("svc[x]@localhost", "state", R"("running")", 1).has_value());
  auto mine = *here->outstanding_priors();
  REQUIRE(mine.size() == 1);
  CHECK(mine[0][0] == "svc[x]@localhost");
  CHECK(here->prior("svc[x]@localhost", "state")->value() == R"("running")");
  // Another machine's `localhost` (seen here as a name with another host) is not this one.
  auto elsewhere = store.open_pg();
  elsewhere->set_scope({"localhost"});
  CHECK(elsewhere->outstanding_priors()->empty());
  CHECK_FALSE(elsewhere->prior("svc[x]@localhost", "state")->has_value());
  REQUIRE(here->close_priors().has_value());
  CHECK(here->outstanding_priors()->empty());
}

TEST_CASE("postgresql: kept writes are sent all or none, and only complete lines", "[journal-contract]") {
  if (pg_server().empty()) return;
  Store store("postgresql");
  auto j = store.open_pg();
  auto run = *j->begin_run(run_row());
  std::vector<StepRow> wave{step(run, 1, "svc[a]@n1")};
  REQUIRE(j->steps_started(wave).has_value());
  REQUIRE(j->record_prior("svc[a]@n1", "state", "1", run).has_value());
  const std::string spool = store.dir + "/unsent-" + sha256_hex(redact_url(store.url)).substr(0, 12) + ".jsonl";
  auto write = [&](const std::string& text) {
    std::ofstream(spool, std::ios::binary) << text;
  };
  const std::string at = "2099-01-01T00:00:00.000Z";
  const std::string drift = R"({"op":"drift","at":")" + at + R"(","run":)" + std::to_string(run) +
                            R"(,"rows":[["svc[a]@n1","state","1","2"]]})";
  const std::string ended = R"({"op":"steps_ended","at":")" + at + R"(","steps":[{"id":)" + std::to_string(wave[0].id) +
                            R"(,"outcome":"changed","after":"2","error":""}]})";
  const std::string closed = R"({"op":"priors_restored","at":")" + at + R"(","keys":[["svc[a]@n1","state"]]})";
  const std::string finish = R"({"op":"end_run","at":")" + at + R"(","run":)" + std::to_string(run) +
                             R"(,"status":"halted","exit_code":1,"changes":1,"failed":0,"note":""})";
  // A damaged line after good ones: nothing is sent, the file stays, the error names it.
  write(drift + "\n" + ended + "\n" + R"({"op":"end_run","at":"x","run":"one"})" + "\n");
  auto bad = store.open_pg();
  auto st = bad->send_unsent();
  REQUIRE_FALSE(st.has_value());
  CHECK_THAT(st.error().message, Catch::Contains(spool));
  CHECK(j->drift(run)->empty());
  CHECK((*j->steps(run))[0].outcome.empty());
  CHECK(fs::exists(spool));
  // Complete lines are sent in one transaction; a torn last line is dropped.
  write(drift + "\n" + ended + "\n" + closed + "\n" + finish + "\n" + R"({"op":"end_run","at":)");
  auto good = store.open_pg();
  REQUIRE(good->send_unsent().has_value());
  CHECK(good->replayed() == 4);
  CHECK_FALSE(fs::exists(spool));
  CHECK(j->drift(run)->size() == 1);
  CHECK((*j->steps(run))[0].outcome == "changed");
  CHECK(j->outstanding_priors()->empty());
  CHECK((*j->run(run))->status == RunStatus::halted);
  // An old kept close never closes a newer maintenance's prior.
  REQUIRE(j->record_prior("svc[b]@n1", "state", "3", run).has_value());
  write(R"({"op":"priors_restored","at":"2000-01-01T00:00:00.000Z","all":true})" "\n");
  REQUIRE(store.open_pg()->send_unsent().has_value());
  CHECK(j->outstanding_priors()->size() == 1);
}
