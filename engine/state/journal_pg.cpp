#include "engine/state/journal_pg.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/model/sha256.h"
#include "engine/state/lock.h"
#include "engine/state/pq_api.h"

// libpq's functions through the loaded API (engine/state/pq_api.h): PQexec(c, sql) calls
// pq::api().PQexec, and PQclear names it as a value (a deleter).
#define CONVERGE_PQ_CALL(name) (::converge::pq::api().name)
#define PQclear CONVERGE_PQ_CALL(PQclear)
#define PQconnectdbParams CONVERGE_PQ_CALL(PQconnectdbParams)
#define PQconninfoFree CONVERGE_PQ_CALL(PQconninfoFree)
#define PQconninfoParse CONVERGE_PQ_CALL(PQconninfoParse)
#define PQerrorMessage CONVERGE_PQ_CALL(PQerrorMessage)
#define PQexec CONVERGE_PQ_CALL(PQexec)
#define PQexecParams CONVERGE_PQ_CALL(PQexecParams)
#define PQfinish CONVERGE_PQ_CALL(PQfinish)
#define PQfreemem CONVERGE_PQ_CALL(PQfreemem)
#define PQgetisnull CONVERGE_PQ_CALL(PQgetisnull)
#define PQgetvalue CONVERGE_PQ_CALL(PQgetvalue)
#define PQntuples CONVERGE_PQ_CALL(PQntuples)
#define PQresultErrorMessage CONVERGE_PQ_CALL(PQresultErrorMessage)
#define PQresultStatus CONVERGE_PQ_CALL(PQresultStatus)
#define PQsetNoticeProcessor CONVERGE_PQ_CALL(PQsetNoticeProcessor)
#define PQstatus CONVERGE_PQ_CALL(PQstatus)
#define PQtransactionStatus CONVERGE_PQ_CALL(PQtransactionStatus)

namespace converge {

struct PgJournal::Conn {
  PGconn* c = nullptr;
  ~Conn() {
    if (c) PQfinish(c);
  }
};

namespace {

using Params = std::vector<std::optional<std::string>>;

/// A query's result, cleared when the last copy goes.
struct Res {
  std::shared_ptr<PGresult> r;
  [[nodiscard]] int rows() const { return PQntuples(r.get()); }
  [[nodiscard]] bool null(int row, int col) const { return PQgetisnull(r.get(), row, col) != 0; }
  [[nodiscard]] std::string text(int row, int col) const { return null(row, col) ? "" : PQgetvalue(r.get(), row, col); }
  [[nodiscard]] std::int64_t integer(int row, int col) const {
    return null(row, col) ? 0 : std::strtoll(PQgetvalue(r.get(), row, col), nullptr, 10);
  }
};

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

Error pg_error(const std::string& what, const std::string& why) {
  return make_error(ErrorCode::io, "journal (postgresql): " + what + ": " + trimmed(why));
}

Result<Res> query(PGconn* c, const char* sql, const Params& p, const std::string& what) {
  std::vector<const char*> vals;
  vals.reserve(p.size());
  for (const auto& x : p) vals.push_back(x ? x->c_str() : nullptr);
  Res res{std::shared_ptr<PGresult>(
      PQexecParams(c, sql, static_cast<int>(vals.size()), nullptr, vals.data(), nullptr, nullptr, 0), PQclear)};
  const auto st = PQresultStatus(res.r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return std::unexpected(pg_error(what, res.r ? PQresultErrorMessage(res.r.get()) : PQerrorMessage(c)));
  return res;
}

/// PQexec: several statements, no parameters; the last statement's result.
Result<Res> simple_query(PGconn* c, const char* sql, const std::string& what) {
  Res res{std::shared_ptr<PGresult>(PQexec(c, sql), PQclear)};
  const auto st = PQresultStatus(res.r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return std::unexpected(pg_error(what, res.r ? PQresultErrorMessage(res.r.get()) : PQerrorMessage(c)));
  return res;
}

Status exec(PGconn* c, const char* sql, const std::string& what) {
  Res res{std::shared_ptr<PGresult>(PQexec(c, sql), PQclear)};
  const auto st = PQresultStatus(res.r.get());
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    return std::unexpected(pg_error(what, res.r ? PQresultErrorMessage(res.r.get()) : PQerrorMessage(c)));
  return {};
}

/// Runs `body` inside BEGIN … COMMIT; a failure rolls back. Inside a transaction already
/// (a replay of several kept writes), `body` joins it: the outer one commits or rolls back.
Status transaction(PGconn* c, const std::function<Status()>& body) {
  if (PQtransactionStatus(c) == PQTRANS_INTRANS) return body();
  CONVERGE_CHECK(exec(c, "BEGIN", "begin"));
  if (Status st = body(); !st) {
    (void)exec(c, "ROLLBACK", "rollback");
    return st;
  }
  return exec(c, "COMMIT", "commit");
}

// The tables of journal.h; "user" is a reserved word in PostgreSQL, hence quoted. Created
// under a transaction-scoped advisory lock so that two first runs do not race.
const char* kSchema = R"sql(
BEGIN;
SELECT pg_advisory_xact_lock(4242424242);
CREATE TABLE IF NOT EXISTS runs(
  id BIGSERIAL PRIMARY KEY, command TEXT NOT NULL, status TEXT NOT NULL, exit_code INTEGER,
  started_at TEXT NOT NULL, ended_at TEXT, "user" TEXT, host TEXT, pid BIGINT,
  manifest_path TEXT, manifest_sha256 TEXT, git_commit TEXT, git_dirty INTEGER,
  changes INTEGER DEFAULT 0, failed INTEGER DEFAULT 0, note TEXT,
  backend_pid INTEGER, backend_start TIMESTAMPTZ, scope TEXT);
CREATE TABLE IF NOT EXISTS steps(
  id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  resource TEXT NOT NULL, action TEXT NOT NULL, reason TEXT,
  planned_at TEXT, started_at TEXT, ended_at TEXT, outcome TEXT,
  before_json TEXT, after_json TEXT, error TEXT);
CREATE INDEX IF NOT EXISTS steps_by_run ON steps(run_id, seq);
CREATE TABLE IF NOT EXISTS priors(
  resource TEXT NOT NULL, property TEXT NOT NULL, value_json TEXT NOT NULL, run_id BIGINT,
  recorded_at TEXT NOT NULL, restored_at TEXT, PRIMARY KEY(resource, property));
CREATE TABLE IF NOT EXISTS drift(
  id BIGSERIAL PRIMARY KEY, run_id BIGINT NOT NULL, resource TEXT NOT NULL, property TEXT NOT NULL,
  observed_json TEXT, desired_json TEXT);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS holders(
  backend_pid INTEGER NOT NULL, backend_start TIMESTAMPTZ NOT NULL, user_name TEXT, host TEXT,
  pid BIGINT, started TEXT, command TEXT, what TEXT);
INSERT INTO meta(key, value) VALUES('format', '1') ON CONFLICT(key) DO NOTHING;
COMMIT;
)sql";

const char* kRunColumns =
    "id, command, status, exit_code, started_at, ended_at, \"user\", host, pid, manifest_path, manifest_sha256, "
    "git_commit, git_dirty, changes, failed, note, scope";

RunRow read_run(const Res& s, int i) {
  RunRow r;
  r.id = s.integer(i, 0);
  r.command = s.text(i, 1);
  r.status = parse_status(s.text(i, 2)).value_or(RunStatus::interrupted);
  r.exit_code = s.null(i, 3) ? -1 : static_cast<int>(s.integer(i, 3));
  r.started_at = s.text(i, 4);
  r.ended_at = s.text(i, 5);
  r.user = s.text(i, 6);
  r.host = s.text(i, 7);
  r.pid = static_cast<long>(s.integer(i, 8));
  r.manifest_path = s.text(i, 9);
  r.manifest_sha256 = s.text(i, 10);
  r.git_commit = s.text(i, 11);
  r.git_dirty = s.null(i, 12) ? -1 : static_cast<int>(s.integer(i, 12));
  r.changes = static_cast<int>(s.integer(i, 13));
  r.failed = static_cast<int>(s.integer(i, 14));
  r.note = s.text(i, 15);
  r.scope = s.text(i, 16);
  return r;
}

Status done(const Result<Res>& r) {
  if (!r) return std::unexpected(r.error());
  return {};
}

std::optional<std::string> opt(const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); }
std::string num(std::int64_t v) { return std::to_string(v); }

/// The advisory lock key of a name: the first 8 bytes of its SHA-256.
std::int64_t lock_key(const std::string& name) {
  const std::string hex = sha256_hex("converge-lock:" + name);
  return static_cast<std::int64_t>(std::stoull(hex.substr(0, 16), nullptr, 16));
}

void ignore_notice(void*, const char*) {}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

}  // namespace

bool is_database_url(const std::string& s) { return s.starts_with("postgresql://") || s.starts_with("postgres://"); }

namespace {

/// The password a URL carries as libpq reads it ("" for none); nullopt when libpq cannot
/// parse the URL (or is not installed).
std::optional<std::string> password_of(const std::string& url) {
  if (!pq::load()) return std::nullopt;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return std::nullopt;
  std::string pw;
  for (PQconninfoOption* o = opts; o->keyword; ++o)
    if (std::strcmp(o->keyword, "password") == 0 && o->val) pw = o->val;
  PQconninfoFree(opts);
  return pw;
}

/// `text` with every occurrence of `secret` replaced (a password of under 4 characters
/// would blank ordinary letters: the URL's own redaction covers it).
std::string without(std::string text, const std::string& secret) {
  if (secret.size() < 4) return text;
  for (std::size_t at; (at = text.find(secret)) != std::string::npos;) text.replace(at, secret.size(), "***");
  return text;
}

}  // namespace

std::string redact_url(const std::string& url) {
  const auto pw = password_of(url);
  if (!pw) return url.substr(0, url.find("://") + 3) + "(a URL libpq cannot parse)";
  static const std::regex userinfo(R"(^(postgres(?:ql)?://[^:@/]*):[^/]*@)");
  static const std::regex param(R"(([?&]password=)[^&]*)");
  return without(std::regex_replace(std::regex_replace(url, userinfo, "$1:***@"), param, "$1***"), *pw);
}

PgJournal::~PgJournal() = default;

Result<std::unique_ptr<PgJournal>> PgJournal::connect(const std::string& url, const std::string& spool_dir) {
  if (auto api = pq::load(); !api) return std::unexpected(api.error());
  std::unique_ptr<PgJournal> j(new PgJournal());
  j->url_ = url;
  j->conn_ = std::make_unique<Conn>();
  // libpq repeats a malformed URL (password and all) in its parse errors: checked first.
  const auto pw = password_of(url);
  if (!pw)
    return std::unexpected(make_error(ErrorCode::invalid_input, "the state database URL is not one libpq can parse "
                                                                "(postgresql://[USER@]HOST[:PORT]/DATABASE[?PARAM=VALUE...])"));
  // TCP keepalives on the client (a server gone silently is noticed in about a minute) and
  // on the server (below: a coordinator's machine gone silently frees its lock as fast).
  // Keywords before dbname are defaults the URL may override.
  const char* keys[] = {"connect_timeout", "application_name", "keepalives", "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "dbname", nullptr};
  const char* vals[] = {"5", "converge", "1", "30", "10", "3", url.c_str(), nullptr};
  j->conn_->c = PQconnectdbParams(keys, vals, 1);
  if (!j->conn_->c || PQstatus(j->conn_->c) != CONNECTION_OK)
    return std::unexpected(make_error(
        ErrorCode::unreachable, "cannot reach the state database " + redact_url(url) + ": " +
                                    without(trimmed(j->conn_->c ? PQerrorMessage(j->conn_->c) : "out of memory"), *pw) +
                                    "; nothing was changed"));
  PQsetNoticeProcessor(j->conn_->c, ignore_notice, nullptr);
  PGconn* c = j->conn_->c;
  // Runs until the first change write at synchronous_commit=off: what they write (the lock's
  // holder, a no-op's record, cached facts) may be lost to a crash of the server, as a
  // no-op's record in SQLite may be lost to a power cut; begin_run turns it back on.
  // The tables exist after the first run: one round trip then.
  auto format = simple_query(c,
                             "SET synchronous_commit TO off; SET tcp_keepalives_idle TO 30; "
                             "SET tcp_keepalives_interval TO 10; SET tcp_keepalives_count TO 3; "
                             "SELECT value FROM meta WHERE key='format'",
                             "format");
  if (!format) {
    if (auto st = exec(c, kSchema, "cannot create the journal's tables"); !st) {
      (void)exec(c, "ROLLBACK", "rollback");
      return std::unexpected(st.error());
    }
    format = query(c, "SELECT value FROM meta WHERE key='format'", {}, "cannot read the journal's format");
  }
  CONVERGE_TRY(Res f, std::move(format));
  if (f.rows() && std::atoi(f.text(0, 0).c_str()) > kFormat)
    return std::unexpected(make_error(ErrorCode::io, "the journal in " + redact_url(url) + " has format " + f.text(0, 0) +
                                                         ", newer than this converge understands (" +
                                                         std::to_string(kFormat) + "); upgrade converge"));
  if (!spool_dir.empty()) j->spool_file_ = spool_dir + "/unsent-" + sha256_hex(redact_url(url)).substr(0, 12) + ".jsonl";
  return j;
}

Status PgJournal::lock(std::vector<std::string> names, const std::string& command, bool exclusive) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  PGconn* c = conn_->c;
  // Who this session is, for a refusal elsewhere; holders of ended sessions go.
  CONVERGE_CHECK(query(c,
                       "WITH gone AS (DELETE FROM holders WHERE backend_pid = pg_backend_pid() OR NOT EXISTS "
                       "(SELECT 1 FROM pg_stat_get_activity(NULL) a WHERE a.pid = holders.backend_pid)) "
                       "INSERT INTO holders(backend_pid, backend_start, user_name, host, pid, started, command, what) "
                       "SELECT pid, backend_start, $1, $2, $3, $4, $5, $6 FROM pg_stat_get_activity(pg_backend_pid())",
                       {user_name(), host_name(), num(::getpid()), now_iso(), command, join(names)},
                       "cannot record the lock holder"));
  std::string keys;
  for (const auto& name : names) keys += (keys.empty() ? "" : ",") + num(lock_key(name));
  // All names in one round trip; a holder that just died may keep its session for a few
  // milliseconds more: two more tries, 50 ms apart, before a refusal.
  for (int attempt = 0;; ++attempt) {
    CONVERGE_TRY(Res got, query(c,
                                exclusive ? "SELECT coalesce(bool_and(pg_try_advisory_lock(k)), true) "
                                            "FROM unnest(('{' || $1 || '}')::bigint[]) AS k"
                                          : "SELECT coalesce(bool_and(pg_try_advisory_lock_shared(k)), true) "
                                            "FROM unnest(('{' || $1 || '}')::bigint[]) AS k",
                                {keys}, "cannot take the estate lock"));
    if (got.text(0, 0) == "t") break;
    (void)exec(c, "SELECT pg_advisory_unlock_all()", "unlock");
    if (attempt < 2) {
      ::usleep(50'000);
      continue;
    }
    std::string held = names.front(), holder = "another session";
    for (const auto& name : names)
      if (auto who = holder_of(name); !who.empty()) {
        held = name;
        holder = who;
        break;
      }
    (void)exec(c, "DELETE FROM holders WHERE backend_pid = pg_backend_pid()", "unlock");
    return std::unexpected(make_error(ErrorCode::locked, held + " is locked in " + where() + " by " + holder));
  }
  scope_names_ = std::move(names);
  return {};
}

std::string PgJournal::holder_of(const std::string& name) {
  const auto u = static_cast<std::uint64_t>(lock_key(name));
  auto who = query(conn_->c,
                   "SELECT h.user_name, h.host, h.pid, h.command, h.started FROM pg_locks l "
                   "JOIN holders h ON h.backend_pid = l.pid "
                   "WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> pg_backend_pid() AND l.objsubid = 1 "
                   "AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2::bigint "
                   "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) LIMIT 1",
                   {num(static_cast<std::int64_t>(u >> 32)), num(static_cast<std::int64_t>(u & 0xffffffffu))},
                   "cannot name the holder");
  if (!who || !who->rows()) return "";
  return "converge " + who->text(0, 3) + " of " + who->text(0, 0) + " on " + who->text(0, 1) + ", pid " +
         who->text(0, 2) + ", started " + who->text(0, 4);
}

Status PgJournal::durable() {
  if (durable_) return {};
  CONVERGE_CHECK(exec(conn_->c, "SET synchronous_commit TO on", "cannot make commits durable"));
  durable_ = true;
  return {};
}

Status PgJournal::write_or_spool(const std::string& op) {
  CONVERGE_CHECK(write_check());
  Status st = durable();
  if (st) st = apply_write(op);
  if (st) return st;
  if (spool_file_.empty()) return st;
  // The database went away (or refused): keep the write for the next run, then report.
  int fd = ::open(spool_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  std::string line = op + "\n";
  bool kept = fd >= 0 && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  return std::unexpected(make_error(
      ErrorCode::io, st.error().message + (kept ? "; kept in " + spool_file_ + " for the next run to send"
                                                : "; could not keep it in " + spool_file_ + " either")));
}

Status PgJournal::apply_write(const std::string& text) {
  try {
    return apply_write_json(nlohmann::json::parse(text));
  } catch (const nlohmann::json::exception& e) {
    return std::unexpected(pg_error("a kept write is damaged", e.what()));
  }
}

Status PgJournal::apply_write_json(const nlohmann::json& op) {
  const std::string kind = op.at("op");
  const std::string at = op.at("at");
  PGconn* c = conn_->c;
  if (kind == "end_run")
    return done(query(c, "UPDATE runs SET status=$1, exit_code=$2, ended_at=$3, changes=$4, failed=$5, note=$6 WHERE id=$7",
                 {op.at("status").get<std::string>(), num(op.at("exit_code")), at, num(op.at("changes")),
                  num(op.at("failed")), opt(op.at("note").get<std::string>()), num(op.at("run"))},
                 "cannot finish run"));
  if (kind == "steps_ended")
    return transaction(c, [&]() -> Status {
      for (const auto& s : op.at("steps"))
        CONVERGE_CHECK(query(c, "UPDATE steps SET ended_at=$1, outcome=$2, after_json=$3, error=$4 WHERE id=$5",
                             {at, s.at("outcome").get<std::string>(), opt(s.at("after").get<std::string>()), opt(s.at("error").get<std::string>()),
                              num(s.at("id"))},
                             "cannot record step outcome"));
      return {};
    });
  if (kind == "priors_restored")
    return transaction(c, [&]() -> Status {
      if (op.value("all", false))
        return done(query(c, "UPDATE priors SET restored_at=$1 WHERE restored_at IS NULL AND recorded_at <= $1", {at},
                          "cannot close prior values"));
      for (const auto& k : op.at("keys"))
        CONVERGE_CHECK(query(c,
                             "UPDATE priors SET restored_at=$1 WHERE resource=$2 AND property=$3 "
                             "AND restored_at IS NULL AND recorded_at <= $1",
                             {at, k.at(0).get<std::string>(), k.at(1).get<std::string>()}, "cannot mark prior restored"));
      return {};
    });
  if (kind == "drift")
    return transaction(c, [&]() -> Status {
      for (const auto& r : op.at("rows"))
        CONVERGE_CHECK(query(c,
                             "INSERT INTO drift(run_id, resource, property, observed_json, desired_json) "
                             "VALUES($1,$2,$3,$4,$5)",
                             {num(op.at("run")), r.at(0).get<std::string>(), r.at(1).get<std::string>(), r.at(2).get<std::string>(), r.at(3).get<std::string>()}, "cannot record drift"));
      return {};
    });
  return std::unexpected(pg_error("spool", "unknown write '" + kind + "'"));
}

Status PgJournal::send_unsent() {
  if (spool_file_.empty()) return {};
  std::ifstream in(spool_file_, std::ios::binary);
  if (!in) return {};
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Every line was fsync'd before the run reported it kept; a last line without its newline
  // is a write that was cut short and never reported: that one is dropped.
  std::vector<std::string> ops;
  for (std::size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
    ops.push_back(text.substr(at, nl - at));
  CONVERGE_CHECK(durable());
  Status st = transaction(conn_->c, [&]() -> Status {
    for (const auto& op : ops) CONVERGE_CHECK(apply_write(op));
    return {};
  });
  if (!st)
    return std::unexpected(make_error(ErrorCode::io, "cannot send the journal writes kept in " + spool_file_ + ": " +
                                                         st.error().message +
                                                         "; nothing was changed (move the file aside to go on without "
                                                         "what it holds)"));
  replayed_ = static_cast<int>(ops.size());
  ::unlink(spool_file_.c_str());
  return {};
}

std::string PgJournal::qualified(const std::string& resource) const {
  const auto at = resource.rfind("]@");
  if (at == std::string::npos || !local_nodes_.count(resource.substr(at + 2))) return resource;
  return resource + "@" + local_host_;
}

void PgJournal::set_local_nodes(std::set<std::string> nodes) {
  local_nodes_ = std::move(nodes);
  local_host_ = host_name();
}

Result<std::int64_t> PgJournal::begin_run(const RunRow& r) {
  CONVERGE_CHECK(write_check());
  CONVERGE_CHECK(durable());
  CONVERGE_TRY(Res res, query(conn_->c,
                              "INSERT INTO runs(command, status, started_at, \"user\", host, pid, manifest_path, "
                              "manifest_sha256, git_commit, git_dirty, backend_pid, backend_start, scope) "
                              "SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10, pid, backend_start, $11 FROM "
                              "pg_stat_get_activity(pg_backend_pid()) RETURNING id",
                              {r.command, std::string(status_word(RunStatus::running)), now_iso(), r.user, r.host,
                               num(r.pid), r.manifest_path, r.manifest_sha256, opt(r.git_commit),
                               r.git_dirty >= 0 ? opt(num(r.git_dirty)) : std::nullopt, join(scope_names_)},
                              "cannot record run"));
  return res.integer(0, 0);
}

Result<std::int64_t> PgJournal::record_run(const RunRow& r) {
  CONVERGE_CHECK(write_check());
  CONVERGE_TRY(Res res,
               query(conn_->c,
                     "INSERT INTO runs(command, status, exit_code, started_at, ended_at, \"user\", host, pid, "
                     "manifest_path, manifest_sha256, git_commit, git_dirty, changes, failed, note, scope) "
                     "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) RETURNING id",
                     {r.command, std::string(status_word(r.status)), num(exit_code(r.status)), r.started_at, now_iso(),
                      r.user, r.host, num(r.pid), r.manifest_path, r.manifest_sha256, opt(r.git_commit),
                      r.git_dirty >= 0 ? opt(num(r.git_dirty)) : std::nullopt, num(r.changes), num(r.failed),
                      opt(r.note), join(scope_names_)},
                     "cannot record run"));
  return res.integer(0, 0);
}

Status PgJournal::end_run(std::int64_t run, RunStatus status, int changes, int failed, const std::string& note) {
  return write_or_spool(nlohmann::json{{"op", "end_run"},
                                       {"at", now_iso()},
                                       {"run", run},
                                       {"status", status_word(status)},
                                       {"exit_code", exit_code(status)},
                                       {"changes", changes},
                                       {"failed", failed},
                                       {"note", note}}
                            .dump());
}

Result<std::vector<RunRow>> PgJournal::close_interrupted() {
  // A run that locked what this one holds now cannot be alive: its `running` row is closed.
  // Without locks (a journal opened for reading and repair), only rows of sessions gone.
  CONVERGE_TRY(Res dead, query(conn_->c,
                               "SELECT id, scope, NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(NULL) a WHERE a.pid = "
                               "runs.backend_pid) FROM runs "
                               "WHERE status='running'",
                               {}, "cannot read interrupted runs"));
  const std::set<std::string> mine(scope_names_.begin(), scope_names_.end());
  std::string ids;
  for (int i = 0; i < dead.rows(); ++i) {
    bool closes = mine.empty() && dead.text(i, 2) == "t";
    std::stringstream names(dead.text(i, 1));
    for (std::string n; !closes && std::getline(names, n, ',');) closes = mine.count(n) > 0;
    if (closes) ids += (ids.empty() ? "" : ",") + dead.text(i, 0);
  }
  std::vector<RunRow> out;
  if (ids.empty()) return out;
  CONVERGE_CHECK(write_check());
  CONVERGE_TRY(Res res, query(conn_->c,
                              (std::string("UPDATE runs SET status='interrupted', "
                                           "changes=(SELECT count(*) FROM steps WHERE steps.run_id=runs.id AND "
                                           "steps.outcome='changed'), "
                                           "failed=(SELECT count(*) FROM steps WHERE steps.run_id=runs.id AND "
                                           "steps.outcome='failed') WHERE id = ANY(('{' || $1 || '}')::bigint[]) "
                                           "RETURNING ") +
                               kRunColumns)
                                  .c_str(),
                              {ids}, "cannot close interrupted runs"));
  for (int i = 0; i < res.rows(); ++i) out.push_back(read_run(res, i));
  std::sort(out.begin(), out.end(), [](const RunRow& a, const RunRow& b) { return a.id < b.id; });
  return out;
}

Status PgJournal::steps_started(std::vector<StepRow>& steps) {
  if (steps.empty()) return {};
  CONVERGE_CHECK(write_check());
  CONVERGE_CHECK(durable());
  const std::string now = now_iso();
  std::vector<std::int64_t> ids;
  CONVERGE_CHECK(transaction(conn_->c, [&]() -> Status {
    for (const StepRow& st : steps) {
      CONVERGE_TRY(Res r, query(conn_->c,
                                "INSERT INTO steps(run_id, seq, resource, action, reason, planned_at, started_at, "
                                "before_json) VALUES($1,$2,$3,$4,$5,$6,$7,$8) RETURNING id",
                                {num(st.run_id), num(st.seq), st.resource, st.action, st.reason, now, now, st.before_json},
                                "cannot record step"));
      ids.push_back(r.integer(0, 0));
    }
    return {};
  }));
  for (std::size_t i = 0; i < steps.size(); ++i) {
    steps[i].id = ids[i];
    steps[i].started_at = now;
  }
  return {};
}

Status PgJournal::steps_ended(const std::vector<StepRow>& steps) {
  if (steps.empty()) return {};
  nlohmann::json rows = nlohmann::json::array();
  for (const StepRow& s : steps)
    rows.push_back({{"id", s.id}, {"outcome", s.outcome}, {"after", s.after_json}, {"error", s.error}});
  return write_or_spool(nlohmann::json{{"op", "steps_ended"}, {"at", now_iso()}, {"steps", rows}}.dump());
}

Status PgJournal::record_prior(const std::string& resource, const std::string& property, const std::string& value_json,
                               std::int64_t run) {
  CONVERGE_CHECK(write_check());
  CONVERGE_CHECK(durable());
  return done(query(conn_->c,
               "INSERT INTO priors(resource, property, value_json, run_id, recorded_at) VALUES($1,$2,$3,$4,$5) "
               "ON CONFLICT(resource, property) DO UPDATE SET value_json=excluded.value_json, run_id=excluded.run_id, "
               "recorded_at=excluded.recorded_at, restored_at=NULL WHERE priors.restored_at IS NOT NULL",
               {qualified(resource), property, value_json, num(run), now_iso()}, "cannot record prior value"));
}

Result<std::optional<std::string>> PgJournal::prior(const std::string& resource, const std::string& property) {
  CONVERGE_TRY(Res r, query(conn_->c, "SELECT value_json FROM priors WHERE resource=$1 AND property=$2",
                            {qualified(resource), property}, "cannot read prior value"));
  if (r.rows()) return std::optional<std::string>(r.text(0, 0));
  return std::optional<std::string>();
}

Result<std::vector<std::array<std::string, 3>>> PgJournal::every_outstanding_prior() {
  CONVERGE_TRY(Res r, query(conn_->c,
                            "SELECT resource, property, value_json FROM priors WHERE restored_at IS NULL "
                            "ORDER BY resource COLLATE \"C\", property COLLATE \"C\"",
                            {}, "cannot read prior values"));
  // A local node's rows carry the machine's name: this machine's are read back without it,
  // other machines' (their own `localhost`) are not this run's.
  std::vector<std::array<std::string, 3>> out;
  const std::string mine = "@" + local_host_;
  for (int i = 0; i < r.rows(); ++i) {
    std::string res = r.text(i, 0);
    const auto at = res.rfind("]@");
    const std::string tail = at == std::string::npos ? "" : res.substr(at + 2);
    if (const auto host = tail.find('@'); host != std::string::npos) {
      if (!local_nodes_.count(tail.substr(0, host)) || tail.substr(host) != mine) continue;
      res.resize(res.size() - mine.size());
    }
    out.push_back({res, r.text(i, 1), r.text(i, 2)});
  }
  return out;
}

Status PgJournal::close_every_prior() {
  return write_or_spool(nlohmann::json{{"op", "priors_restored"}, {"at", now_iso()}, {"all", true}}.dump());
}

Status PgJournal::close_these_priors(const std::vector<std::array<std::string, 3>>& rows) {
  if (rows.empty()) return {};
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& r : rows) keys.push_back({qualified(r[0]), r[1]});
  return write_or_spool(nlohmann::json{{"op", "priors_restored"}, {"at", now_iso()}, {"keys", keys}}.dump());
}

Status PgJournal::prior_restored(const std::string& resource, const std::string& property) {
  return close_these_priors({{resource, property, ""}});
}

Status PgJournal::record_drift(std::int64_t run, const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return {};
  return write_or_spool(nlohmann::json{{"op", "drift"}, {"at", now_iso()}, {"run", run}, {"rows", rows}}.dump());
}

Result<std::vector<RunRow>> PgJournal::runs(int limit) {
  CONVERGE_TRY(Res r, query(conn_->c, (std::string("SELECT ") + kRunColumns + " FROM runs ORDER BY id DESC LIMIT $1").c_str(),
                            {num(limit)}, "cannot read runs"));
  std::vector<RunRow> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(read_run(r, i));
  return out;
}

Result<std::optional<RunRow>> PgJournal::run(std::int64_t id) {
  CONVERGE_TRY(Res r, query(conn_->c, (std::string("SELECT ") + kRunColumns + " FROM runs WHERE id=$1").c_str(),
                            {num(id)}, "cannot read run"));
  if (r.rows()) return std::optional<RunRow>(read_run(r, 0));
  return std::optional<RunRow>();
}

Result<std::vector<StepRow>> PgJournal::steps(std::int64_t run) {
  CONVERGE_TRY(Res r, query(conn_->c,
                            "SELECT id, run_id, seq, resource, action, reason, started_at, ended_at, outcome, "
                            "before_json, after_json, error FROM steps WHERE run_id=$1 ORDER BY seq, id",
                            {num(run)}, "cannot read steps"));
  std::vector<StepRow> out;
  for (int i = 0; i < r.rows(); ++i) {
    StepRow s;
    s.id = r.integer(i, 0);
    s.run_id = r.integer(i, 1);
    s.seq = static_cast<int>(r.integer(i, 2));
    s.resource = r.text(i, 3);
    s.action = r.text(i, 4);
    s.reason = r.text(i, 5);
    s.started_at = r.text(i, 6);
    s.ended_at = r.text(i, 7);
    s.outcome = r.text(i, 8);
    s.before_json = r.text(i, 9);
    s.after_json = r.text(i, 10);
    s.error = r.text(i, 11);
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::vector<std::vector<std::string>>> PgJournal::drift(std::int64_t run) {
  CONVERGE_TRY(Res r, query(conn_->c,
                            "SELECT resource, property, observed_json, desired_json FROM drift WHERE run_id=$1 ORDER BY id",
                            {num(run)}, "cannot read drift"));
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3)});
  return out;
}

Result<std::vector<std::vector<std::string>>> PgJournal::all_priors() {
  CONVERGE_TRY(Res r, query(conn_->c,
                            "SELECT resource, property, value_json, run_id, recorded_at, restored_at FROM priors "
                            "ORDER BY resource COLLATE \"C\", property COLLATE \"C\"",
                            {}, "cannot read prior values"));
  std::vector<std::vector<std::string>> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({r.text(i, 0), r.text(i, 1), r.text(i, 2), r.text(i, 3), r.text(i, 4), r.text(i, 5)});
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> PgJournal::all_meta() {
  CONVERGE_TRY(Res r, query(conn_->c, "SELECT key, value FROM meta ORDER BY key COLLATE \"C\"", {}, "cannot read meta"));
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.text(i, 0), r.text(i, 1));
  return out;
}

Result<std::optional<std::string>> PgJournal::meta(const std::string& key) {
  CONVERGE_TRY(Res r, query(conn_->c, "SELECT value FROM meta WHERE key=$1", {key}, "cannot read meta"));
  if (r.rows()) return std::optional<std::string>(r.text(0, 0));
  return std::optional<std::string>();
}

Status PgJournal::set_meta(const std::string& key, const std::string& value) {
  CONVERGE_CHECK(write_check());
  return done(query(conn_->c, "INSERT INTO meta(key, value) VALUES($1,$2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
               {key, value}, "cannot write meta"));
}

Result<int> PgJournal::import_from(Journal& from) {
  CONVERGE_TRY(auto runs, from.runs(INT_MAX));
  std::reverse(runs.begin(), runs.end());  // oldest first: new ids keep the order
  CONVERGE_TRY(auto priors, from.all_priors());
  CONVERGE_TRY(auto meta, from.all_meta());
  const std::string mark = "migrated:" + from.where();
  CONVERGE_TRY(auto copied, this->meta(mark));
  if (copied)
    return std::unexpected(make_error(ErrorCode::invalid_input, from.where() + " was already copied into " + where() +
                                                                    " (on " + *copied + "); nothing was copied"));
  CONVERGE_CHECK(durable());
  PGconn* c = conn_->c;
  std::map<std::int64_t, std::int64_t> ids;
  CONVERGE_CHECK(transaction(c, [&]() -> Status {
    for (const RunRow& r : runs) {
      CONVERGE_TRY(Res got, query(c,
                                  "INSERT INTO runs(command, status, exit_code, started_at, ended_at, \"user\", host, "
                                  "pid, manifest_path, manifest_sha256, git_commit, git_dirty, changes, failed, note) "
                                  "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) RETURNING id",
                                  {r.command,
                                   // The source is locked while it is copied: a run still
                                   // `running` there died.
                                   std::string(status_word(r.status == RunStatus::running ? RunStatus::interrupted
                                                                                          : r.status)),
                                   r.exit_code >= 0 ? opt(num(r.exit_code)) : std::nullopt, r.started_at,
                                   opt(r.ended_at), r.user, r.host, num(r.pid), r.manifest_path, r.manifest_sha256,
                                   opt(r.git_commit), r.git_dirty >= 0 ? opt(num(r.git_dirty)) : std::nullopt,
                                   num(r.changes), num(r.failed), opt(r.note)},
                                  "cannot copy run"));
      ids[r.id] = got.integer(0, 0);
      CONVERGE_TRY(auto steps, from.steps(r.id));
      for (const StepRow& s : steps)
        CONVERGE_CHECK(query(c,
                             "INSERT INTO steps(run_id, seq, resource, action, reason, planned_at, started_at, "
                             "ended_at, outcome, before_json, after_json, error) "
                             "VALUES($1,$2,$3,$4,$5,$6,$6,$7,$8,$9,$10,$11)",
                             {num(ids[r.id]), num(s.seq), s.resource, s.action, s.reason, opt(s.started_at),
                              opt(s.ended_at), opt(s.outcome), s.before_json, opt(s.after_json), opt(s.error)},
                             "cannot copy step"));
      CONVERGE_TRY(auto drift, from.drift(r.id));
      for (const auto& d : drift)
        CONVERGE_CHECK(query(c,
                             "INSERT INTO drift(run_id, resource, property, observed_json, desired_json) "
                             "VALUES($1,$2,$3,$4,$5)",
                             {num(ids[r.id]), d.at(0), d.at(1), d.at(2), d.at(3)}, "cannot copy drift"));
    }
    for (const auto& p : priors) {
      std::optional<std::string> run;
      if (!p[3].empty())
        if (auto it = ids.find(std::stoll(p[3])); it != ids.end()) run = num(it->second);
      CONVERGE_CHECK(query(c,
                           "INSERT INTO priors(resource, property, value_json, run_id, recorded_at, restored_at) "
                           "VALUES($1,$2,$3,$4,$5,$6) ON CONFLICT(resource, property) DO NOTHING",
                           {p[0], p[1], p[2], run, p[4], opt(p[5])}, "cannot copy prior value"));
    }
    for (const auto& [k, v] : meta)
      CONVERGE_CHECK(query(c, "INSERT INTO meta(key, value) VALUES($1,$2) ON CONFLICT(key) DO NOTHING", {k, v},
                           "cannot copy meta"));
    return done(query(c, "INSERT INTO meta(key, value) VALUES($1,$2)", {mark, now_iso()}, "cannot mark the copy"));
  }));
  return static_cast<int>(runs.size());
}

}  // namespace converge
