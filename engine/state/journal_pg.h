// engine/state/journal_pg.h — the journal in PostgreSQL, shared by a team, and its estate
// lock.
//
// `--state postgresql://…` (or CONVERGE_STATE, or the manifest's `state: {url: …}`) puts
// the journal in a database instead of the state directory. The tables are the journal's
// (journal.h: runs, steps, priors, drift, meta) in the connection's schema (libpq's
// `options=-csearch_path=…` picks another), written with the same write-ahead discipline:
// a step's row is committed before it runs, a prior before the value changes. Two more:
//   runs.backend_pid, runs.backend_start, runs.scope: the session of the run that wrote the
//     row and the names it locked. A `running` row is closed as interrupted by a run that
//     holds one of those names now (its writer cannot be alive), or, by a journal opened
//     without locks, once its session is gone; runs alive on other machines keep theirs.
//   holders(backend_pid, backend_start, user_name, host, pid, started, command, what):
//     who holds the estate locks, to name them in a refusal; rows of sessions gone are
//     removed by the next run that locks.
//
// The lock: one session-level advisory lock per thing the run touches (its nodes and
// clusters, or the manifest's declared estate), keyed by the first 8 bytes of
// sha256("converge-lock:" + name). Taken without waiting (two more tries 100 ms apart, for a
// holder that died a moment ago), all or none; released when the session ends, however the
// holder died.
//
// A write that fails (the database went away mid-run) returns an error, so the run starts
// no further step; what a run must not forget (a step's outcome, the run's end, a restored
// prior, drift) is appended to a local spool file in the state directory, fsync'd, and
// replayed at the next connection to the same database before anything else.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/state/journal.h"

namespace converge {

/// True for postgresql:// and postgres:// URLs.
[[nodiscard]] bool is_database_url(const std::string& s);
/// The URL with its password (user:PASSWORD@ or password=…) replaced by "***".
[[nodiscard]] std::string redact_url(const std::string& url);

class PgJournal final : public Journal {
 public:
  /// Connects (5 s connect timeout unless the URL sets one), creates the tables if missing
  /// and replays the spool `spool_dir` holds for this database (no spool when empty:
  /// `history`, `state migrate`). ErrorCode::unreachable when
  /// the database cannot be reached; nothing local or remote has changed then.
  [[nodiscard]] static Result<std::unique_ptr<PgJournal>> connect(const std::string& url, const std::string& spool_dir);
  ~PgJournal() override;

  /// Takes the estate lock on `names` without waiting, all or none. ErrorCode::locked
  /// naming the first held name and its holder (user, host, pid, command, start).
  [[nodiscard]] Status lock(std::vector<std::string> names, const std::string& command);
  /// Writes replayed from the spool when connecting (0 when there was none).
  [[nodiscard]] int replayed() const { return replayed_; }

  std::string where() const override { return redact_url(url_); }
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

  /// `state migrate`: copies a journal's runs (new ids, in order), their steps and drift,
  /// every prior and meta row, in one transaction. Returns the number of runs copied.
  [[nodiscard]] Result<int> import_from(Journal& from);

  struct Conn;  ///< the libpq connection (journal_pg.cpp)

 protected:
  Result<std::vector<std::array<std::string, 3>>> every_outstanding_prior() override;
  Status close_every_prior() override;
  Status close_these_priors(const std::vector<std::array<std::string, 3>>& rows) override;

 private:
  PgJournal() = default;
  /// Applies one spooled or live write (its JSON form); the live path spools it on failure.
  [[nodiscard]] Status apply_write(const std::string& op_json);
  [[nodiscard]] Status apply_write_json(const nlohmann::json& op);
  [[nodiscard]] Status write_or_spool(const std::string& op_json);
  /// Turns synchronous_commit back on (once): from here every commit is on the server's disk.
  [[nodiscard]] Status durable();
  [[nodiscard]] Status replay_spool();
  /// Who holds the lock on `name`: "converge COMMAND of USER on HOST, pid N, started T"; ""
  /// when no other session does.
  [[nodiscard]] std::string holder_of(const std::string& name);
  std::unique_ptr<Conn> conn_;
  std::string url_, spool_file_;
  std::vector<std::string> scope_names_;  ///< what lock() took: recorded in each run row
  int replayed_ = 0;
  bool durable_ = false;
};

}  // namespace converge
