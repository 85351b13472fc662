#include "engine/state/journal.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <functional>

#include "engine/state/lock.h"

namespace converge {

namespace {

/// How long a run waits for another process' use of the journal (`converge history`).
constexpr int kBusyTimeoutMs = 2000;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY, command TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER,
  started_at TEXT NOT NULL, ended_at TEXT, user TEXT, host TEXT, pid INTEGER,
  manifest_path TEXT, manifest_sha256 TEXT, git_commit TEXT, git_dirty INTEGER,
  changes INTEGER DEFAULT 0, failed INTEGER DEFAULT 0, note TEXT);
CREATE TABLE IF NOT EXISTS steps(
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  resource TEXT NOT NULL, action TEXT NOT NULL, reason TEXT,
  planned_at TEXT, started_at TEXT, ended_at TEXT, outcome TEXT,
  before_json TEXT, after_json TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS steps_by_run ON steps(run_id, seq);
CREATE TABLE IF NOT EXISTS priors(
  resource TEXT NOT NULL, property TEXT NOT NULL, value_json TEXT NOT NULL, run_id INTEGER,
  recorded_at TEXT NOT NULL, restored_at TEXT, PRIMARY KEY(resource, property));
CREATE TABLE IF NOT EXISTS drift(
  run_id INTEGER NOT NULL, resource TEXT NOT NULL, property TEXT NOT NULL,
  observed_json TEXT, desired_json TEXT);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
)sql";

/// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_opt(int i, const std::string& v) {
    if (v.empty()) sqlite3_bind_null(s_, i);
    else bind(i, v);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() { return rc_ = sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  std::string text(int col) const {
    auto* p = sqlite3_column_text(s_, col);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::int64_t integer(int col) const { return sqlite3_column_int64(s_, col); }
  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  Error error(const std::string& what) const {
    return make_error(ErrorCode::io, "journal: " + what + ": " + sqlite3_errmsg(db_));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

RunRow read_run(const Stmt& s) {
  RunRow r;
  r.id = s.integer(0);
  r.command = s.text(1);
  r.status = parse_status(s.text(2)).value_or(RunStatus::interrupted);
  r.exit_code = s.is_null(3) ? -1 : static_cast<int>(s.integer(3));
  r.started_at = s.text(4);
  r.ended_at = s.text(5);
  r.user = s.text(6);
  r.host = s.text(7);
  r.pid = static_cast<long>(s.integer(8));
  r.manifest_path = s.text(9);
  r.manifest_sha256 = s.text(10);
  r.git_commit = s.text(11);
  r.git_dirty = s.is_null(12) ? -1 : static_cast<int>(s.integer(12));
  r.changes = static_cast<int>(s.integer(13));
  r.failed = static_cast<int>(s.integer(14));
  r.note = s.text(15);
  return r;
}

/// Runs one statement for each of `n` rows inside one transaction: all rows or none.
/// `bind(stmt, i)` binds row i; `done(i)` (optional) sees the row after it was written.
Status write_rows(sqlite3* db, const char* sql, std::size_t n, const std::function<void(Stmt&, std::size_t)>& bind,
                  const char* what, const std::function<void(std::size_t)>& done = nullptr) {
  auto run = [&](const char* q) -> Status {
    if (sqlite3_exec(db, q, nullptr, nullptr, nullptr) != SQLITE_OK)
      return std::unexpected(make_error(ErrorCode::io, std::string("journal: ") + sqlite3_errmsg(db)));
    return {};
  };
  CONVERGE_CHECK(run("BEGIN IMMEDIATE"));
  Stmt s(db, sql);
  for (std::size_t i = 0; i < n; ++i) {
    bind(s, i);
    if (s.step() != SQLITE_DONE) {
      Error e = s.error(what);
      (void)run("ROLLBACK");
      return std::unexpected(e);
    }
    if (done) done(i);
    s.reset();
  }
  return run("COMMIT");
}

/// Every run's first open of the journal rebuilds SQLite's WAL index by reading the whole
/// WAL, and SQLite's own automatic checkpoint never shortens the file when each process
/// commits only a few times (the index that would let the next writer start the WAL over is
/// rebuilt from scratch by the next process). So once the WAL holds kWalFrames pages (a few
/// dozen no-op runs) the commit that got it there checkpoints and truncates it: one fsync of
/// the database, and the next opens read nothing. A reader in the way (`converge history`)
/// makes it give up after 100 ms and try again at the next commit.
constexpr int kWalFrames = 64;

int truncate_long_wal(void*, sqlite3* db, const char* schema, int frames) {
  if (frames < kWalFrames) return SQLITE_OK;
  sqlite3_busy_timeout(db, 100);
  (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  return SQLITE_OK;
}

const char* kRunColumns =
    "id, command, status, exit_code, started_at, ended_at, user, host, pid, manifest_path, manifest_sha256, "
    "git_commit, git_dirty, changes, failed, note";

/// The journal in SQLite: <state>/journal.db.
class SqliteJournal final : public Journal {
 public:
  explicit SqliteJournal(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  ~SqliteJournal() override;
  std::string where() const override { return path_; }
  Result<std::int64_t> begin_run(const RunRow& run) override;
  Result<std::int64_t> record_run(const RunRow& run) override;
  Status end_run(std::int64_t run, RunStatus status, int changes, int failed, const std::string& note) override;
  Result<std::vector<RunRow>> close_interrupted() override;
  Status steps_started(std::vector<StepRow>& steps) override;
  Status steps_ended(const std::vector<StepRow>& steps) override;
  Status record_prior(const std::string& resource, const std::string& property, const std::string& value_json,
                      std::int64_t run) override;
  Result<std::optional<std::string>> prior(const std::string& resource, const std::string& property) override;
  Status prior_restored(const std::string& resource, const std::string& property) override;
  Status record_drift(std::int64_t run, const std::vector<std::vector<std::string>>& rows) override;
  Result<std::vector<RunRow>> runs(int limit) override;
  Result<std::optional<RunRow>> run(std::int64_t id) override;
  Result<std::vector<StepRow>> steps(std::int64_t run) override;
  Result<std::vector<std::vector<std::string>>> drift(std::int64_t run) override;
  Result<std::vector<std::vector<std::string>>> all_priors() override;
  Result<std::vector<std::pair<std::string, std::string>>> all_meta() override;
  Result<std::optional<std::string>> meta(const std::string& key) override;
  Status set_meta(const std::string& key, const std::string& value) override;

  [[nodiscard]] Status exec(const char* sql);
  /// quick_check and the tables; an error naming `path` and what to do.
  [[nodiscard]] Status check_integrity(const std::string& path);

 protected:
  Result<std::vector<std::array<std::string, 3>>> every_outstanding_prior() override;
  Status close_every_prior() override;
  Status close_these_priors(const std::vector<std::array<std::string, 3>>& rows) override;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<Journal>> Journal::open(const std::string& state_dir) {
  std::string path = state_dir + "/journal.db";
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  auto j = std::make_unique<SqliteJournal>(db, path);
  if (rc != SQLITE_OK)
    return std::unexpected(make_error(ErrorCode::io, "cannot open journal " + path + ": " + sqlite3_errstr(rc)));
  ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Leave the WAL to truncate_long_wal's occasional checkpoint instead of checkpointing
  // (two fsyncs) on every close: a no-op run should cost one commit, not three syncs.
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // Reading user_version is the first access: a corrupt file fails here, before any write.
  int version = 0;
  {
    Stmt s(db, "PRAGMA user_version");
    if (!s.ok() || s.step() != SQLITE_ROW) return std::unexpected(s.error("cannot read " + path));
    version = static_cast<int>(s.integer(0));
  }
  if (version > kFormat)
    return std::unexpected(make_error(ErrorCode::io, "journal " + path + " has format " + std::to_string(version) +
                                                         ", newer than this converge understands (" +
                                                         std::to_string(kFormat) + "); upgrade converge"));
  CONVERGE_CHECK(j->exec("PRAGMA journal_mode=WAL"));
  CONVERGE_CHECK(j->exec("PRAGMA synchronous=FULL"));
  sqlite3_wal_hook(db, truncate_long_wal, nullptr);
  if (version == kFormat) CONVERGE_CHECK(j->check_integrity(path));
  if (version < kFormat) {
    CONVERGE_CHECK(j->exec("BEGIN IMMEDIATE"));
    CONVERGE_CHECK(j->exec(kSchema));
    CONVERGE_CHECK(j->exec("PRAGMA user_version = 1"));
    CONVERGE_CHECK(j->exec("COMMIT"));
  }
  for (const char* suffix : {"-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  return std::unique_ptr<Journal>(std::move(j));
}

SqliteJournal::~SqliteJournal() { sqlite3_close_v2(db_); }

Status SqliteJournal::check_integrity(const std::string& path) {
  auto corrupt = [&](const std::string& why) {
    return std::unexpected(make_error(ErrorCode::io, "journal " + path + " is damaged (" + why +
                                                         "); nothing was changed. Restore it from a backup, or move it "
                                                         "aside to start a new journal (its history and prior values "
                                                         "would be lost)"));
  };
  {
    // Every page of every table and index, without the slower cross-checks of integrity_check.
    Stmt s(db_, "PRAGMA quick_check");
    if (!s.ok()) return corrupt(sqlite3_errmsg(db_));
    int rc = s.step();
    if (rc != SQLITE_ROW) return corrupt(sqlite3_errmsg(db_));
    if (std::string first = s.text(0); first != "ok") return corrupt("quick_check: " + first);
  }
  Stmt t(db_, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('runs','steps','priors','drift','meta')");
  if (!t.ok() || t.step() != SQLITE_ROW) return corrupt(sqlite3_errmsg(db_));
  if (t.integer(0) != 5) return corrupt("its tables are missing");
  return {};
}

Status SqliteJournal::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return std::unexpected(make_error(ErrorCode::io, "journal: " + msg));
  }
  return {};
}


Result<std::int64_t> SqliteJournal::begin_run(const RunRow& r) {
  CONVERGE_CHECK(write_check());
  Stmt s(db_,
         "INSERT INTO runs(command, status, started_at, user, host, pid, manifest_path, manifest_sha256, git_commit, "
         "git_dirty) VALUES(?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.command).bind(2, std::string(status_word(RunStatus::running))).bind(3, now_iso()).bind(4, r.user).bind(5, r.host);
  s.bind(6, static_cast<std::int64_t>(r.pid)).bind(7, r.manifest_path).bind(8, r.manifest_sha256).bind_opt(9, r.git_commit);
  if (r.git_dirty >= 0) s.bind(10, static_cast<std::int64_t>(r.git_dirty));
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot record run"));
  return sqlite3_last_insert_rowid(db_);
}

Result<std::int64_t> SqliteJournal::record_run(const RunRow& r) {
  CONVERGE_CHECK(write_check());
  // A run that changed nothing protects no prior value: its record may be lost to a power
  // cut (WAL, synchronous=NORMAL: still safe against a crash of converge), which saves the
  // fsync that would otherwise be most of a no-op run's cost.
  CONVERGE_CHECK(exec("PRAGMA synchronous=NORMAL"));
  struct Restore {
    SqliteJournal* j;
    ~Restore() { (void)j->exec("PRAGMA synchronous=FULL"); }
  } restore{this};
  Stmt s(db_,
         "INSERT INTO runs(command, status, exit_code, started_at, ended_at, user, host, pid, manifest_path, "
         "manifest_sha256, git_commit, git_dirty, changes, failed, note) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  s.bind(1, r.command).bind(2, std::string(status_word(r.status))).bind(3, std::int64_t{exit_code(r.status)}).bind(4, r.started_at).bind(5, now_iso());
  s.bind(6, r.user).bind(7, r.host).bind(8, static_cast<std::int64_t>(r.pid)).bind(9, r.manifest_path);
  s.bind(10, r.manifest_sha256).bind_opt(11, r.git_commit);
  if (r.git_dirty >= 0) s.bind(12, static_cast<std::int64_t>(r.git_dirty));
  s.bind(13, std::int64_t{r.changes}).bind(14, std::int64_t{r.failed}).bind_opt(15, r.note);
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot record run"));
  return sqlite3_last_insert_rowid(db_);
}

Status SqliteJournal::end_run(std::int64_t run, RunStatus status, int changes, int failed, const std::string& note) {
  CONVERGE_CHECK(write_check());
  Stmt s(db_, "UPDATE runs SET status=?, exit_code=?, ended_at=?, changes=?, failed=?, note=? WHERE id=?");
  s.bind(1, std::string(status_word(status))).bind(2, std::int64_t{exit_code(status)}).bind(3, now_iso()).bind(4, std::int64_t{changes});
  s.bind(5, std::int64_t{failed}).bind_opt(6, note).bind(7, run);
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot finish run"));
  return {};
}

Result<std::vector<RunRow>> SqliteJournal::close_interrupted() {
  std::vector<RunRow> out;
  {
    Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE status='running' ORDER BY id").c_str());
    while (s.step() == SQLITE_ROW) out.push_back(read_run(s));
  }
  if (out.empty()) return out;
  CONVERGE_CHECK(write_check());
  // What a run that died did is in its steps: count its changes from them.
  CONVERGE_CHECK(exec("UPDATE runs SET status='interrupted', "
                      "changes=(SELECT count(*) FROM steps WHERE steps.run_id=runs.id AND steps.outcome='changed'), "
                      "failed=(SELECT count(*) FROM steps WHERE steps.run_id=runs.id AND steps.outcome='failed') "
                      "WHERE status='running'"));
  return out;
}

Status SqliteJournal::steps_started(std::vector<StepRow>& steps) {
  if (steps.empty()) return {};
  CONVERGE_CHECK(write_check());
  std::string now = now_iso();
  return write_rows(
      db_,
      "INSERT INTO steps(run_id, seq, resource, action, reason, planned_at, started_at, before_json) "
      "VALUES(?,?,?,?,?,?,?,?)",
      steps.size(),
      [&](Stmt& s, std::size_t i) {
        const StepRow& st = steps[i];
        s.bind(1, st.run_id).bind(2, std::int64_t{st.seq}).bind(3, st.resource).bind(4, st.action).bind(5, st.reason);
        s.bind(6, now).bind(7, now).bind(8, st.before_json);
      },
      "cannot record step",
      [&](std::size_t i) {
        steps[i].id = sqlite3_last_insert_rowid(db_);
        steps[i].started_at = now;
      });
}

Status SqliteJournal::steps_ended(const std::vector<StepRow>& steps) {
  if (steps.empty()) return {};
  CONVERGE_CHECK(write_check());
  std::string now = now_iso();
  return write_rows(
      db_, "UPDATE steps SET ended_at=?, outcome=?, after_json=?, error=? WHERE id=?", steps.size(),
      [&](Stmt& s, std::size_t i) {
        const StepRow& st = steps[i];
        s.bind(1, now).bind(2, st.outcome).bind_opt(3, st.after_json).bind_opt(4, st.error).bind(5, st.id);
      },
      "cannot record step outcome");
}

Status SqliteJournal::record_prior(const std::string& resource, const std::string& property, const std::string& value_json,
                             std::int64_t run) {
  CONVERGE_CHECK(write_check());
  Stmt s(db_,
         "INSERT INTO priors(resource, property, value_json, run_id, recorded_at) VALUES(?,?,?,?,?) "
         "ON CONFLICT(resource, property) DO UPDATE SET value_json=excluded.value_json, run_id=excluded.run_id, "
         "recorded_at=excluded.recorded_at, restored_at=NULL WHERE priors.restored_at IS NOT NULL");
  s.bind(1, resource).bind(2, property).bind(3, value_json).bind(4, run).bind(5, now_iso());
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot record prior value"));
  return {};
}

Result<std::optional<std::string>> SqliteJournal::prior(const std::string& resource, const std::string& property) {
  Stmt s(db_, "SELECT value_json FROM priors WHERE resource=? AND property=?");
  s.bind(1, resource).bind(2, property);
  if (s.step() == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  return std::optional<std::string>();
}

Result<std::vector<std::array<std::string, 3>>> SqliteJournal::every_outstanding_prior() {
  Stmt s(db_, "SELECT resource, property, value_json FROM priors WHERE restored_at IS NULL ORDER BY resource, property");
  std::vector<std::array<std::string, 3>> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.text(0), s.text(1), s.text(2)});
  if (rc != SQLITE_DONE) return std::unexpected(s.error("cannot read prior values"));
  return out;
}

Status SqliteJournal::close_every_prior() {
  CONVERGE_CHECK(write_check());
  Stmt s(db_, "UPDATE priors SET restored_at=? WHERE restored_at IS NULL");
  s.bind(1, now_iso());
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot close prior values"));
  return {};
}

Status SqliteJournal::close_these_priors(const std::vector<std::array<std::string, 3>>& rows) {
  if (rows.empty()) return {};
  CONVERGE_CHECK(write_check());
  const std::string now = now_iso();
  return write_rows(
      db_, "UPDATE priors SET restored_at=? WHERE resource=? AND property=? AND restored_at IS NULL", rows.size(),
      [&](Stmt& s, std::size_t i) { s.bind(1, now).bind(2, rows[i][0]).bind(3, rows[i][1]); },
      "cannot close prior values");
}

Status SqliteJournal::prior_restored(const std::string& resource, const std::string& property) {
  CONVERGE_CHECK(write_check());
  Stmt s(db_, "UPDATE priors SET restored_at=? WHERE resource=? AND property=?");
  s.bind(1, now_iso()).bind(2, resource).bind(3, property);
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot mark prior restored"));
  return {};
}

Status SqliteJournal::record_drift(std::int64_t run, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  CONVERGE_CHECK(write_check());
  return write_rows(
      db_, "INSERT INTO drift(run_id, resource, property, observed_json, desired_json) VALUES(?,?,?,?,?)", rows.size(),
      [&](Stmt& s, std::size_t i) {
        const auto& r = rows[i];
        s.bind(1, run).bind(2, r.at(0)).bind(3, r.at(1)).bind(4, r.at(2)).bind(5, r.at(3));
      },
      "cannot record drift");
}

Result<std::vector<RunRow>> SqliteJournal::runs(int limit) {
  std::vector<RunRow> out;
  Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC LIMIT ?").c_str());
  s.bind(1, std::int64_t{limit});
  while (s.step() == SQLITE_ROW) out.push_back(read_run(s));
  return out;
}

Result<std::optional<RunRow>> SqliteJournal::run(std::int64_t id) {
  Stmt s(db_, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id=?").c_str());
  s.bind(1, id);
  if (s.step() == SQLITE_ROW) return std::optional<RunRow>(read_run(s));
  return std::optional<RunRow>();
}

Result<std::vector<StepRow>> SqliteJournal::steps(std::int64_t run) {
  std::vector<StepRow> out;
  Stmt s(db_,
         "SELECT id, run_id, seq, resource, action, reason, started_at, ended_at, outcome, before_json, after_json, "
         "error FROM steps WHERE run_id=? ORDER BY seq, id");
  s.bind(1, run);
  while (s.step() == SQLITE_ROW) {
    StepRow r;
    r.id = s.integer(0);
    r.run_id = s.integer(1);
    r.seq = static_cast<int>(s.integer(2));
    r.resource = s.text(3);
    r.action = s.text(4);
    r.reason = s.text(5);
    r.started_at = s.text(6);
    r.ended_at = s.text(7);
    r.outcome = s.text(8);
    r.before_json = s.text(9);
    r.after_json = s.text(10);
    r.error = s.text(11);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<std::vector<std::string>>> SqliteJournal::drift(std::int64_t run) {
  std::vector<std::vector<std::string>> out;
  Stmt s(db_, "SELECT resource, property, observed_json, desired_json FROM drift WHERE run_id=? ORDER BY rowid");
  s.bind(1, run);
  while (s.step() == SQLITE_ROW) out.push_back({s.text(0), s.text(1), s.text(2), s.text(3)});
  return out;
}

Result<std::vector<std::vector<std::string>>> SqliteJournal::all_priors() {
  std::vector<std::vector<std::string>> out;
  Stmt s(db_, "SELECT resource, property, value_json, run_id, recorded_at, restored_at FROM priors ORDER BY rowid");
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back({s.text(0), s.text(1), s.text(2), s.is_null(3) ? "" : std::to_string(s.integer(3)), s.text(4), s.text(5)});
  if (rc != SQLITE_DONE) return std::unexpected(s.error("cannot read prior values"));
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> SqliteJournal::all_meta() {
  std::vector<std::pair<std::string, std::string>> out;
  Stmt s(db_, "SELECT key, value FROM meta ORDER BY key");
  while (s.step() == SQLITE_ROW) out.emplace_back(s.text(0), s.text(1));
  return out;
}

Result<std::optional<std::string>> SqliteJournal::meta(const std::string& key) {
  Stmt s(db_, "SELECT value FROM meta WHERE key=?");
  s.bind(1, key);
  if (s.step() == SQLITE_ROW) return std::optional<std::string>(s.text(0));
  return std::optional<std::string>();
}

Status SqliteJournal::set_meta(const std::string& key, const std::string& value) {
  CONVERGE_CHECK(write_check());
  Stmt s(db_, "INSERT INTO meta(key, value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  s.bind(1, key).bind(2, value);
  if (s.step() != SQLITE_DONE) return std::unexpected(s.error("cannot write meta"));
  return {};
}

Status Journal::write_check() const {
  if (fail_writes_) return std::unexpected(make_error(ErrorCode::io, "journal: database or disk is full (simulated)"));
  return {};
}

namespace {
bool in_scope(const std::set<std::string>& scope, const std::string& resource) {
  auto at = resource.rfind('@');
  return at != std::string::npos && scope.count(resource.substr(at + 1));
}
}  // namespace

Result<std::vector<std::array<std::string, 3>>> Journal::outstanding_priors() {
  CONVERGE_TRY(auto rows, every_outstanding_prior());
  if (scope_.empty()) return rows;
  std::erase_if(rows, [&](const auto& r) { return !in_scope(scope_, r[0]); });
  return rows;
}

Status Journal::close_priors() {
  if (scope_.empty()) return close_every_prior();
  CONVERGE_TRY(auto rows, outstanding_priors());
  return close_these_priors(rows);
}

}  // namespace converge
