// engine/state/journal_pg.h — the journal in PostgreSQL, shared by a team, and its estate
// lock.
//
// `--state postgresql://…` (or CONVERGE_STATE, or the manifest's `state: {url: …}`) puts
// the journal in a database instead of the state directory. The tables are the journal's
// (journal.h: runs, steps, priors, drift, meta) in the connection's schema (libpq's
// `options=-csearch_path=…` picks another), written with the same write-ahead discipline:
// a step's row is committed before it runs, a prior before the value changes (commits are
// durable from the run's first change write; before it, as SQLite's no-op record, they
// may be lost to a crash of the server). Besides:
//   runs.backend_pid, runs.backend_start, runs.scope: the session of the run that wrote the
//     row and the names it locked. A `running` row is closed as interrupted by a run that
//     holds one of those names now (its writer cannot be alive), or, by a journal opened
//     without locks, once no session has its pid; runs alive elsewhere keep theirs.
//   holders(backend_pid, backend_start, user_name, host, pid, started, command, what):
//     who holds the estate locks, to name them in a refusal; rows whose pid no session has
//     are removed by the next run that locks. Liveness is read from pids, which every role
//     sees (other roles' backend_start is hidden without pg_read_all_stats).
//   priors of a `local` node (this machine, whichever it is) are kept as "ID@HOST".
//
// The lock: one session-level advisory lock per name the run touches (the manifest's
// declared estate, each node in scope, a local one as NAME@HOST, each cluster with a member
// in scope), keyed by the first 8 bytes of sha256("converge-lock:" + name); exclusive for
// apply, shared for plan and check. Taken without waiting (two more tries 50 ms apart, for
// a holder that died a moment ago), all or none; released when the session ends: at once
// when the holder's process dies, within about a minute (TCP keepalives) when its machine
// goes silent. A connection pooler in transaction mode would break session locks: connect
// to the server or to a session-mode pool.
//
// A write that fails (the database went away mid-run) returns an error, so the run starts
// no further step; what a run must not forget (a step's outcome, the run's end, restored
// priors, drift) is appended to a spool file in the state directory and fsync'd. The next
// run from that state directory to the same URL sends it first, after taking its locks, in
// one transaction (a close of priors never closes one recorded after it); a last line cut
// short was never reported kept and is dropped; a damaged line stops the run, naming the
// file.
#pragma once

#include <map>
#include <memory>
#include <set>
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
  /// Connects (5 s connect timeout unless the URL sets one; TCP keepalives both ways) and
  /// creates the tables if missing. `spool_dir` keeps the writes a lost database could not
  /// take (none when empty: `history`, `state migrate`). ErrorCode::unreachable when
  /// the database cannot be reached; nothing local or remote has changed then.
  [[nodiscard]] static Result<std::unique_ptr<PgJournal>> connect(const std::string& url, const std::string& spool_dir);
  ~PgJournal() override;

  /// Takes the estate lock on `names` without waiting, all or none. ErrorCode::locked
  /// naming the first held name and its holder (user, host, pid, command, start).
  /// `exclusive` false (plan, check: runs that change nothing) takes shared locks: they go
  /// side by side, and neither with a run that changes the same names.
  [[nodiscard]] Status lock(std::vector<std::string> names, const std::string& command, bool exclusive = true);
  /// Sends the writes an earlier run kept in the spool (after the locks: what they finish
  /// is this run's to finish), in one transaction; an error naming the file when they do
  /// not go. Call once, before anything else is written.
  [[nodiscard]] Status send_unsent();
  /// Nodes whose name means this machine (`local` transport: every machine has its own
  /// `localhost`): their prior values are kept under "ID@HOST", apart from other machines'.
  void set_local_nodes(std::set<std::string> nodes);
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
  [[nodiscard]] std::string qualified(const std::string& resource) const;
  /// Who holds the lock on `name`: "converge COMMAND of USER on HOST, pid N, started T"; ""
  /// when no other session does.
  [[nodiscard]] std::string holder_of(const std::string& name);
  std::unique_ptr<Conn> conn_;
  std::string url_, spool_file_;
  std::vector<std::string> scope_names_;  ///< what lock() took: recorded in each run row
  std::set<std::string> local_nodes_;
  std::string local_host_;
  int replayed_ = 0;
  bool durable_ = false;
};

}  // namespace converge
