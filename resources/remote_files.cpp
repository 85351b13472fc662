#include "resources/remote_files.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>

#include "engine/model/sha256.h"
#include "resources/local_transport.h"

namespace converge {

namespace {

/// Inspects $1: stat's line ("RAWMODE-HEX UID GID SIZE"), then a link's target or, when $2
/// is 1, the first $3 bytes of a regular file. Exit 3: stat failed (its message says why).
constexpr const char* kInspect =
    "LC_ALL=C stat -c '%f %u %g %s' -- \"$1\" || exit 3; "
    "if [ -L \"$1\" ]; then readlink -- \"$1\"; elif [ \"$2\" = 1 ] && [ -f \"$1\" ]; then head -c \"$3\" -- \"$1\"; fi";

/// Of its arguments, stats those that exist (a link too, whatever it points to) in one
/// process: "RAWMODE-HEX UID GID SIZE PATH" and a NUL for each. One that does not exist is
/// "- PATH" when that is certain (its parent is not a directory, or is one it may search);
/// anything else (a parent it may not search) is left out: unknown. Ends with "end" and a
/// NUL, so that a cut output is not read as absence.
constexpr const char* kStatAll =
    "n=$#; while [ \"$n\" -gt 0 ]; do n=$((n - 1)); p=$1; shift; "
    "if [ -e \"$p\" ] || [ -L \"$p\" ]; then set -- \"$@\" \"$p\"; else d=${p%/*}; [ -n \"$d\" ] || d=/; "
    "if [ ! -d \"$d\" ] || [ -x \"$d\" ]; then printf '%s %s\\0' - \"$p\"; fi; fi; done; "
    "[ $# -eq 0 ] || LC_ALL=C stat --printf '%f %u %g %s %n\\0' -- \"$@\"; printf 'end\\0'";

/// Of its arguments, the regular files (not links) hashed in one process: "HASH  PATH" and
/// a NUL for each.
constexpr const char* kHashAll =
    "n=$#; while [ \"$n\" -gt 0 ]; do n=$((n - 1)); p=$1; shift; "
    "if [ -f \"$p\" ] && [ ! -L \"$p\" ]; then set -- \"$@\" \"$p\"; fi; done; "
    "[ $# -eq 0 ] || sha256sum -z -- \"$@\"";

/// Of its arguments, each symbolic link's path and target, each followed by a NUL.
constexpr const char* kLinksAll =
    "for p; do if [ -L \"$p\" ]; then printf '%s\\0' \"$p\"; readlink -n -- \"$p\"; printf '\\0'; fi; done; "
    "printf 'end\\0'";

/// Writes $1 files read from stdin, each as a header "PATHLEN CONTENTLEN MODE OWNER
/// CARRIED" and then the path's and the content's bytes, into a new temporary beside its
/// path (0600, from mktemp; its name starts with $2, this process' mark), owned by OWNER ("-": left as made; a failure tolerated when
/// CARRIED is 1, an owner only carried over) and then of MODE; prints "ok INDEX TEMP" or
/// "fail INDEX WHY" and a NUL for each; then one sync -f of every temporary made. Each
/// content is read to its last byte whatever happens to its write (the next header is where
/// it should be); a header it cannot read ends the batch (exit 125).
constexpr const char* kWriteAll =
    "n=$1; tag=$2; i=0; set --; while [ \"$i\" -lt \"$n\" ]; do "
    "IFS=' ' read -r plen clen mode owner carried || exit 125; "
    "case $plen.$clen.$mode in *[!0-9.]*|.*|*..*|*.) exit 125;; esac; "
    "case $owner in -|[0-9]*|:[0-9]*) ;; *) exit 125;; esac; case $carried in 0|1) ;; *) exit 125;; esac; "
    "p=$(head -c \"$plen\"; echo x); p=${p%x}; d=${p%/*}; [ -n \"$d\" ] || d=/; "
    "if t=$(mktemp \"$d/${tag}XXXXXXXXXX.tmp\" 2>&1); then "
    "if err=$( { head -c \"$clen\" | { cat >\"$t\" || { cat >/dev/null; false; }; } && "
    "{ [ \"$owner\" = - ] || chown -h -- \"$owner\" \"$t\" 2>/dev/null || "
    "[ \"$carried\" = 1 ] || chown -h -- \"$owner\" \"$t\"; } && chmod -- \"$mode\" \"$t\"; } 2>&1 ); then "
    "set -- \"$@\" \"$t\"; printf 'ok %s %s\\0' \"$i\" \"$t\"; else rm -f -- \"$t\"; printf 'fail %s %s: %s\\0' \"$i\" \"$p\" \"$err\"; fi; "
    "else head -c \"$clen\" >/dev/null; printf 'fail %s %s: %s\\0' \"$i\" \"$p\" \"$t\"; fi; i=$((i + 1)); done; "
    "[ $# -eq 0 ] || sync -f -- \"$@\"";

constexpr const char* kChmod =
    "if [ -L \"$2\" ]; then echo \"$2: it is a symbolic link; not followed\" >&2; exit 1; fi; chmod -- \"$1\" \"$2\"";

constexpr const char* kRemove =
    "if [ -d \"$1\" ] && [ ! -L \"$1\" ]; then rmdir -- \"$1\"; else rm -f -- \"$1\"; fi";

/// A new link beside $1 to $2 (a name starting with $3, then drawn at random; ln -T never
/// follows a directory there), renamed over $1 (mv -T: never into a directory).
constexpr const char* kMakeLink =
    "d=${1%/*}; [ -n \"$d\" ] || d=/; t=$(mktemp -u \"$d/${3}XXXXXXXXXX.tmp\") || exit 1; "
    "ln -sT -- \"$2\" \"$t\" && mv -fT -- \"$t\" \"$1\" || { rm -f -- \"$t\"; exit 1; }";

/// Renames $1 over $2 (never into a directory); a temporary that cannot be renamed goes.
constexpr const char* kRename = "mv -fT -- \"$1\" \"$2\" || { rm -f -- \"$1\"; exit 1; }";

/// The names of the temporaries in $1, each followed by a NUL; then "end" and a NUL.
constexpr const char* kListTemps =
    "for f in \"$1\"/.converge-ssh-*.tmp; do { [ -e \"$f\" ] || [ -L \"$f\" ]; } && printf '%s\\0' \"${f##*/}\"; done; "
    "printf 'end\\0'";

/// ".converge-ssh-MACHINE-PID-START-": the mark of this controller process on the
/// temporaries it makes on a host (MACHINE: a digest of this machine's id and its pid
/// namespace), so that a
/// rerun's sweep removes only those whose writer, a process of this machine, is gone; a
/// temporary another controller is writing is never touched.
const std::string& temp_mark() {
  static const std::string mark = [] {
    std::string id;
    std::ifstream in("/etc/machine-id");
    std::getline(in, id);
    if (id.empty()) {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      id = host;
    }
    // Containers may share the machine's id but not its process numbers: the pid namespace
    // is part of the mark.
    char ns[64] = {};
    (void)::readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    return ".converge-ssh-" + sha256_hex(id + ns).substr(0, 12) + "-" + std::to_string(::getpid()) + "-" +
           std::to_string(process_start(::getpid())) + "-";
  }();
  return mark;
}

/// True when `name` is a temporary of a process of this machine that is gone.
bool dead_writer(std::string_view name) {
  const std::string_view machine = std::string_view(temp_mark()).substr(0, 14 + 12 + 1);  // ".converge-ssh-" HEX "-"
  if (!name.starts_with(machine)) return false;
  name.remove_prefix(machine.size());
  unsigned long long pid = 0, start = 0;
  auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), pid);
  if (ec != std::errc() || p == name.data() + name.size() || *p != '-') return false;
  auto [q, ec2] = std::from_chars(p + 1, name.data() + name.size(), start);
  if (ec2 != std::errc() || q == name.data() + name.size() || *q != '-' || pid == 0 || pid > 4194304) return false;
  return process_start(static_cast<pid_t>(pid)) != start;
}

constexpr auto kTimeout = std::chrono::seconds(120);

ExecRequest request(std::vector<std::string> argv, std::string input = "") {
  ExecRequest r;
  r.argv = std::move(argv);
  r.timeout = kTimeout;
  r.stdin_data = std::move(input);
  return r;
}

ExecRequest shell(const char* script, std::vector<std::string> args, std::string input = "") {
  std::vector<std::string> argv = {"sh", "-c", script, "sh"};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  return request(std::move(argv), std::move(input));
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

/// Five digits: GNU chmod keeps a directory's setuid and setgid bits for a shorter number.
std::string octal(std::uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%05o", mode & 07777);
  return buf;
}

template <typename T>
bool parse_number(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

}  // namespace

RemoteFileSystem::RemoteFileSystem(CommandRunner& runner, std::string node) : runner_(runner), node_(std::move(node)) {}

ExecRequest RemoteFileSystem::inspect_request(const std::string& path, bool content) {
  return shell(kInspect, {path, content ? "1" : "0", std::to_string(kMaxRemoteContent + 1)});
}

Result<Inspection> RemoteFileSystem::parse_inspection(const std::string& path, bool content, const Result<ExecResult>& r,
                                                      std::optional<std::string>* link) {
  if (!r) return std::unexpected(r.error());
  Inspection in;
  if (r->exit_code == 3 && !r->timed_out) {
    if (r->err.find("No such file or directory") != std::string::npos || r->err.find("Not a directory") != std::string::npos)
      return in;  // absent
    return std::unexpected(make_error(ErrorCode::io, "stat " + path + ": " + trimmed(r->err)));
  }
  if (r->exit_code != 0 || r->timed_out)
    return std::unexpected(make_error(ErrorCode::io, "inspect " + path + ": " +
                                                         (r->timed_out ? std::string("timed out") : trimmed(r->err))));
  const std::size_t eol = r->out.find('\n');
  if (eol == std::string::npos) return std::unexpected(make_error(ErrorCode::io, "inspect " + path + ": no stat line"));
  std::vector<std::string_view> f;
  std::string_view line(r->out.data(), eol);
  for (std::size_t at = 0; at <= line.size();) {
    std::size_t sp = line.find(' ', at);
    if (sp == std::string_view::npos) sp = line.size();
    f.push_back(line.substr(at, sp - at));
    at = sp + 1;
  }
  std::uint32_t raw = 0;
  if (f.size() != 4 || !parse_number(f[0], raw, 16) || !parse_number(f[1], in.info.uid) ||
      !parse_number(f[2], in.info.gid) || !parse_number(f[3], in.info.size))
    return std::unexpected(make_error(ErrorCode::io, "inspect " + path + ": unreadable stat line '" + std::string(line) + "'"));
  in.info.exists = true;
  in.info.mode = raw & 07777;
  const std::uint32_t type = raw & 0170000;
  in.info.is_regular = type == 0100000;
  in.info.is_dir = type == 0040000;
  std::string rest = r->out.substr(eol + 1);
  if (type == 0120000) {
    if (link) *link = rest.ends_with('\n') ? rest.substr(0, rest.size() - 1) : rest;
  } else if (in.info.is_regular && content) {
    if (rest.size() > kMaxRemoteContent)
      return std::unexpected(make_error(ErrorCode::io, path + " is larger than " + std::to_string(kMaxRemoteContent) +
                                                           " bytes: its content cannot be compared over this transport"));
    in.content = std::move(rest);
  }
  return in;
}

void RemoteFileSystem::parse_table(const std::string& text, std::map<std::string, std::uint32_t>& by_name,
                                   std::map<std::uint32_t, std::string>& by_id) {
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t eol = text.find('\n', at);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + at, eol - at);
    at = eol + 1;
    const std::size_t c1 = line.find(':');
    const std::size_t c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
    const std::size_t c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
    if (c3 == std::string_view::npos || c1 == 0) continue;
    std::uint32_t id = 0;
    if (!parse_number(line.substr(c2 + 1, c3 - c2 - 1), id)) continue;
    std::string name(line.substr(0, c1));
    by_name.emplace(name, id);
    by_id.emplace(id, std::move(name));  // the first name of an id, as getpwuid gives
  }
}

std::vector<std::string> RemoteFileSystem::nul_fields(const std::string& out) {
  std::vector<std::string> f;
  std::size_t at = 0;
  while (at < out.size()) {
    std::size_t end = out.find('\0', at);
    if (end == std::string::npos) break;  // cut: the rest is not trusted
    f.push_back(out.substr(at, end - at));
    at = end + 1;
  }
  return f;
}

std::optional<std::map<std::string, FileInfo>> RemoteFileSystem::parse_stats(const std::string& out) {
  std::map<std::string, FileInfo> by_path;
  std::vector<std::string> recs = nul_fields(out);
  if (recs.empty() || recs.back() != "end") return std::nullopt;  // cut: nothing is certain
  recs.pop_back();
  for (const std::string& rec : recs) {
    if (rec.starts_with("- ")) {
      by_path.insert_or_assign(rec.substr(2), FileInfo{});  // certainly absent
      continue;
    }
    std::size_t sp[4];
    std::size_t at = 0;
    bool ok = true;
    for (auto& p : sp) {
      p = rec.find(' ', at);
      if (p == std::string::npos) {
        ok = false;
        break;
      }
      at = p + 1;
    }
    if (!ok) continue;
    std::uint32_t raw = 0;
    FileInfo info;
    std::string_view v(rec);
    if (!parse_number(v.substr(0, sp[0]), raw, 16) || !parse_number(v.substr(sp[0] + 1, sp[1] - sp[0] - 1), info.uid) ||
        !parse_number(v.substr(sp[1] + 1, sp[2] - sp[1] - 1), info.gid) ||
        !parse_number(v.substr(sp[2] + 1, sp[3] - sp[2] - 1), info.size))
      continue;
    info.exists = true;
    info.mode = raw & 07777;
    info.is_regular = (raw & 0170000) == 0100000;
    info.is_dir = (raw & 0170000) == 0040000;
    info.is_link = (raw & 0170000) == 0120000;
    by_path.insert_or_assign(rec.substr(sp[3] + 1), info);
  }
  return by_path;
}

std::map<std::string, std::string> RemoteFileSystem::parse_hashes(const std::string& out) {
  std::map<std::string, std::string> by_path;
  for (const std::string& rec : nul_fields(out)) {
    // "HASH  PATH" (sha256sum -z escapes nothing)
    if (rec.size() < 67 || rec[64] != ' ' || rec[65] != ' ') continue;
    if (rec.find_first_not_of("0123456789abcdef") < 64) continue;
    by_path.insert_or_assign(rec.substr(66), rec.substr(0, 64));
  }
  return by_path;
}

void RemoteFileSystem::prefetch(const std::vector<PathQuery>& qs) {
  // Held from taking the queued renames until their outcome and the answers are in: no
  // other lookup sees the node between.
  std::lock_guard lock(mu_);
  std::vector<Queued> renames;
  renames.swap(queued_);
  std::map<std::string, bool> want;
  std::map<std::string, std::string_view> desired;
  for (const auto& q : qs) {
    want[q.path] = want[q.path] || q.content;
    if (q.content && q.desired) desired.emplace(q.path, *q.desired);
  }
  std::vector<std::string> all, hashed;
  for (const auto& [path, content] : want) {
    all.push_back(path);
    if (content) hashed.push_back(path);
  }
  // One round trip: the changes and renames waiting since, then every path's stat in one
  // process, the hashes of the contents wanted in another, the links' targets, the tables.
  // A few processes on the node whatever the number of paths.
  std::vector<ExecRequest> reqs;
  for (const auto& q : renames) reqs.push_back(q.req);
  const std::size_t first = reqs.size();
  if (!all.empty()) {
    reqs.push_back(shell(kStatAll, all));
    reqs.push_back(shell(kHashAll, hashed));
    reqs.push_back(shell(kLinksAll, all));
  }
  const bool tables = !tables_;
  if (tables) {
    for (auto& r : table_requests()) reqs.push_back(std::move(r));
  }
  if (reqs.empty()) return;
  auto results = runner_.run_batch(reqs);
  note_queued(renames, results);
  if (!all.empty()) {
    const auto& st = results[first];
    const auto& hs = results[first + 1];
    const auto& ln = results[first + 2];
    // stat exits 1 when a path vanished between the test and the stat: the others stand;
    // a path with no record is not cached (looked at alone when asked).
    std::optional<std::map<std::string, FileInfo>> stats;
    if (st && !st->timed_out) stats = parse_stats(st->out);
    const auto hashes = hs && !hs->timed_out ? parse_hashes(hs->out) : std::map<std::string, std::string>{};
    std::optional<std::map<std::string, std::string>> links;
    if (ln && ln->exit_code == 0) {
      auto f = nul_fields(ln->out);
      if (!f.empty() && f.back() == "end") {
        links.emplace();
        const std::size_t pairs_end = f.size() - 1;  // before "end": path, target, path, target...
        for (std::size_t k = 0; k + 1 < pairs_end; k += 2) (*links)[f[k]] = f[k + 1];
      }
    }
    for (const auto& [path, content] : want) {
      auto it = stats ? stats->find(path) : std::map<std::string, FileInfo>::iterator{};
      if (!stats || it == stats->end()) continue;
      Seen s{Inspection{}, std::nullopt, true};
      s.in->info = it->second;
      if (s.in->info.is_link) {
        auto l = links ? links->find(path) : std::map<std::string, std::string>::iterator{};
        if (!links || l == links->end()) continue;  // its target unknown
        s.link = l->second;
      }
      if (s.in->info.is_regular) {
        // Hashed: the caller compares. Not hashed (not asked, or unreadable): read alone if
        // its content is asked for.
        auto h = content ? hashes.find(path) : hashes.end();
        if (h != hashes.end()) s.in->sha256 = h->second;
        else s.content = false;
      }
      seen_.insert_or_assign(path, std::move(s));
    }
  }
  if (tables) {
    take_tables(results[results.size() - 2], results[results.size() - 1]);
  }
  read_differing(desired);
}

void RemoteFileSystem::read_differing(const std::map<std::string, std::string_view>& desired) {
  // Files whose hash is not the desired content's: their contents in one more round trip
  // (for the report and --diff), instead of one each. REQUIRES: mu_ held.
  std::vector<std::string> differ;
  for (const auto& [path, want] : desired)
    if (auto it = seen_.find(path); it != seen_.end() && it->second.in && it->second.in->sha256 &&
                                    it->second.in->info.size <= kMaxRemoteContent && *it->second.in->sha256 != sha256_hex(want))
      differ.push_back(path);
  if (differ.empty()) return;
  std::vector<ExecRequest> reqs;
  for (const auto& path : differ) reqs.push_back(inspect_request(path, true));
  auto results = runner_.run_batch(reqs);
  for (std::size_t i = 0; i < differ.size(); ++i) {
    std::optional<std::string> link;
    auto in = parse_inspection(differ[i], true, results[i], &link);
    if (in && in->info.is_regular && in->content) seen_.at(differ[i]).in = std::move(*in);
  }
}

void RemoteFileSystem::forget() {
  {
    std::lock_guard lock(mu_);
    seen_.clear();
    failed_.clear();
    tables_ = false;
    uid_of_.clear();
    gid_of_.clear();
    user_of_.clear();
    group_of_.clear();
  }
  // What the wave queued goes now, and its failures stay for the verification to report.
  flush_queued();
}

Status RemoteFileSystem::change(const std::string& what, const std::string& path, ExecRequest req) {
  std::lock_guard lock(mu_);
  queued_.push_back({what, path, std::move(req)});
  forget_below(path);
  return {};
}

void RemoteFileSystem::forget_below(const std::string& path) {
  for (auto it = seen_.lower_bound(path); it != seen_.end() && it->first.starts_with(path);)
    it = it->first.size() == path.size() || it->first[path.size()] == '/' ? seen_.erase(it) : std::next(it);
}

Result<Inspection> RemoteFileSystem::inspect(const std::string& path, bool content) {
  // A queued change or rename dropped what was known of its path: what is still known
  // holds, queue or not. Anything else is looked up after the queue has gone.
  for (int pass = 0; pass < 2; ++pass) {
    if (pass) flush_queued();
    std::lock_guard lock(mu_);
    if (auto it = failed_.find(path); it != failed_.end()) return std::unexpected(it->second);
    if (auto it = seen_.find(path); it != seen_.end() && (it->second.content || !content)) {
      Result<Inspection> in = it->second.in;
      if (in && !content) {
        in->content.reset();
        in->sha256.reset();
      }
      return in;
    }
  }
  std::optional<std::string> link;
  return parse_inspection(path, content, runner_.run(inspect_request(path, content)), &link);
}

Result<FileInfo> RemoteFileSystem::stat(const std::string& path) {
  CONVERGE_TRY(Inspection in, inspect(path, false));
  return in.info;
}

Result<std::string> RemoteFileSystem::read(const std::string& path, std::uint64_t) {
  flush_queued();
  std::optional<std::string> link;
  CONVERGE_TRY(Inspection in, parse_inspection(path, true, runner_.run(inspect_request(path, true)), &link));
  if (!in.info.exists) return std::unexpected(make_error(ErrorCode::io, "read " + path + ": No such file or directory"));
  if (!in.content) return std::unexpected(make_error(ErrorCode::io, "read " + path + ": not a regular file"));
  return std::move(*in.content);
}

Result<std::optional<std::string>> RemoteFileSystem::read_link(const std::string& path) {
  for (int pass = 0; pass < 2; ++pass) {  // as inspect()
    if (pass) flush_queued();
    std::lock_guard lock(mu_);
    if (auto it = failed_.find(path); it != failed_.end()) return std::unexpected(it->second);
    if (auto it = seen_.find(path); it != seen_.end()) {
      if (!it->second.in) return std::unexpected(it->second.in.error());
      if (!it->second.in->info.exists) return std::optional<std::string>{};
      if (it->second.link) return std::optional<std::string>(*it->second.link);
      return std::unexpected(make_error(ErrorCode::io, path + " is not a symbolic link"));
    }
  }
  std::optional<std::string> link;
  CONVERGE_TRY(Inspection in, parse_inspection(path, false, runner_.run(inspect_request(path, false)), &link));
  if (!in.info.exists) return std::optional<std::string>{};
  if (!link) return std::unexpected(make_error(ErrorCode::io, path + " is not a symbolic link"));
  return std::optional<std::string>(std::move(*link));
}

Result<std::string> RemoteFileSystem::write_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                                 const Ownership& owner) {
  std::string who;
  if (owner.uid) who = std::to_string(*owner.uid);
  if (owner.gid) who += ":" + std::to_string(*owner.gid);
  std::lock_guard lock(mu_);
  // Written by the next sync(), with the others of its wave: the name stands for the
  // temporary until then.
  const std::string token = "pending:" + std::to_string(next_token_++);
  writes_.push_back({token, path, content, octal(mode), who.empty() ? "-" : who, owner.carried_over});
  return token;
}

ExecRequest RemoteFileSystem::writes_request(const std::vector<Write>& ws) {
  std::string input;
  for (const auto& w : ws) {
    input += std::to_string(w.path.size()) + " " + std::to_string(w.content.size()) + " " + w.mode + " " + w.owner + " " +
             (w.carried_over ? "1" : "0") + "\n" + w.path + w.content;
  }
  // A write batch may carry a wave's worth of files: its time grows with it (a slow link's
  // 1 MiB/s, and the batch's helper processes, on top of the fixed limit).
  const auto bytes = static_cast<std::int64_t>(input.size());
  ExecRequest r = shell(kWriteAll, {std::to_string(ws.size()), temp_mark()}, std::move(input));
  r.timeout += std::chrono::milliseconds(bytes / 1024 + 20 * static_cast<std::int64_t>(ws.size()));
  return r;
}

std::vector<Result<std::string>> RemoteFileSystem::parse_writes(const Result<ExecResult>& r, std::size_t n,
                                                                const std::string& node) {
  std::vector<std::optional<Result<std::string>>> got(n);
  if (r) {
    for (const std::string& entry : nul_fields(r->out)) {
      // "ok INDEX TEMP" or "fail INDEX WHY": matched by index, never by position.
      const bool ok = entry.starts_with("ok ");
      if (!ok && !entry.starts_with("fail ")) continue;
      const std::size_t at = ok ? 3 : 5;
      const std::size_t sp = entry.find(' ', at);
      std::size_t i = 0;
      if (sp == std::string::npos || !parse_number(std::string_view(entry).substr(at, sp - at), i) || i >= n || got[i])
        continue;
      if (ok) got[i] = entry.substr(sp + 1);
      else got[i] = std::unexpected(make_error(ErrorCode::io, "write on " + node + ": " + trimmed(entry.substr(sp + 1))));
    }
  }
  std::vector<Result<std::string>> out;
  for (auto& g : got) {
    if (g) {
      out.push_back(std::move(*g));
    } else if (!r) {
      out.emplace_back(std::unexpected(r.error()));
    } else {
      std::string why = r->timed_out ? std::string("timed out") : trimmed(r->err);
      out.emplace_back(std::unexpected(make_error(ErrorCode::io, "write on " + node + ": the batch stopped" +
                                                                     (why.empty() ? std::string() : ": " + why))));
    }
  }
  return out;
}

Status RemoteFileSystem::sync() {
  std::vector<Write> ws;
  {
    std::lock_guard lock(mu_);
    ws.swap(writes_);
  }
  if (ws.empty()) return {};
  auto r = runner_.run(writes_request(ws));
  auto made = parse_writes(r, ws.size(), node_);
  std::lock_guard lock(mu_);
  seen_.clear();
  for (std::size_t i = 0; i < ws.size(); ++i) temps_.insert_or_assign(ws[i].token, std::move(made[i]));
  // Each write reported its own outcome; the temporaries made are durable only when the
  // batch's closing sync -f succeeded (exit 0).
  if (!r) return std::unexpected(r.error());
  if (r->exit_code != 0 || r->timed_out)
    return std::unexpected(make_error(ErrorCode::io, "sync on " + node_ + ": " +
                                                         (r->timed_out ? std::string("timed out") : trimmed(r->err))));
  return {};
}

Status RemoteFileSystem::commit_temp(const std::string& token, const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = temps_.find(token);
  if (it == temps_.end())
    return std::unexpected(make_error(ErrorCode::internal, "commit of " + path + " before its write was synced"));
  Result<std::string> temp = std::move(it->second);
  temps_.erase(it);
  if (!temp) return std::unexpected(temp.error());
  // Renamed with the next batch this filesystem sends (the verification's prefetch, or
  // whatever comes first); a failed rename is that path's observation.
  queued_.push_back({"rename", path, shell(kRename, {*temp, path})});
  forget_below(path);
  return {};
}

void RemoteFileSystem::flush_queued() {
  std::lock_guard lock(mu_);
  if (queued_.empty()) return;
  std::vector<Queued> qs;
  qs.swap(queued_);
  std::vector<ExecRequest> reqs;
  for (const auto& q : qs) reqs.push_back(q.req);
  note_queued(qs, runner_.run_batch(reqs));
}

void RemoteFileSystem::note_queued(const std::vector<Queued>& qs, const std::vector<Result<ExecResult>>& results) {
  // What was known of the paths was dropped when they were queued (forget_below()).
  for (std::size_t i = 0; i < qs.size(); ++i) {
    const auto& r = results[i];
    if (r && r->exit_code == 0 && !r->timed_out) {
      failed_.erase(qs[i].path);
      continue;
    }
    std::string why = !r ? r.error().message : r->timed_out ? std::string("timed out") : trimmed(r->err);
    if (why.empty()) why = r ? "exit " + std::to_string(r->exit_code) : std::string("failed");
    failed_.insert_or_assign(qs[i].path, make_error(ErrorCode::io, qs[i].what + " " + qs[i].path + " on " + node_ + ": " + why));
  }
}

void RemoteFileSystem::discard_temp(const std::string& token) {
  std::optional<std::string> temp;
  {
    std::lock_guard lock(mu_);
    std::erase_if(writes_, [&](const Write& w) { return w.token == token; });
    if (auto it = temps_.find(token); it != temps_.end()) {
      if (it->second) temp = *it->second;
      temps_.erase(it);
    }
  }
  if (temp) (void)runner_.run(request({"rm", "-f", "--", *temp}));
}

int RemoteFileSystem::sweep_temps(const std::string& dir) {
  auto listed = runner_.run(shell(kListTemps, {dir}));
  if (!listed || listed->exit_code != 0) return 0;
  std::vector<std::string> argv = {"rm", "-f", "--"};
  std::string_view out = listed->out;
  for (std::size_t at = 0, nul; (nul = out.find('\0', at)) != std::string_view::npos; at = nul + 1) {
    std::string_view name = out.substr(at, nul - at);
    if (name != "end" && dead_writer(name)) argv.push_back(dir + "/" + std::string(name));
  }
  if (argv.size() == 3) return 0;
  auto r = runner_.run(request(argv));
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 3; i < argv.size(); ++i) forget_below(argv[i]);
  }
  return r && r->exit_code == 0 ? static_cast<int>(argv.size() - 3) : 0;
}

Status RemoteFileSystem::write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) {
  CONVERGE_TRY(std::string temp, write_temp(path, content, mode));
  if (auto st = sync(); !st) {
    discard_temp(temp);
    return st;
  }
  CONVERGE_CHECK(commit_temp(temp, path));
  flush_queued();
  std::lock_guard lock(mu_);
  if (auto it = failed_.find(path); it != failed_.end()) return std::unexpected(it->second);
  return {};
}

Status RemoteFileSystem::make_dir(const std::string& path, std::uint32_t mode) {
  return change("mkdir", path, request({"mkdir", "-m", octal(mode), "--", path}));
}

Status RemoteFileSystem::chmod(const std::string& path, std::uint32_t mode) {
  return change("chmod", path, shell(kChmod, {octal(mode), path}));
}

Status RemoteFileSystem::chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) {
  if (!uid && !gid) return {};
  std::string who = uid ? std::to_string(*uid) : "";
  if (gid) who += ":" + std::to_string(*gid);
  return change("chown", path, request({"chown", "-h", "--", who, path}));
}

Status RemoteFileSystem::remove(const std::string& path, bool recursive) {
  return change("remove", path, recursive ? request({"rm", "-rf", "--", path}) : shell(kRemove, {path}));
}

Status RemoteFileSystem::make_link(const std::string& path, const std::string& target) {
  return change("link", path, shell(kMakeLink, {path, target, temp_mark()}));
}

std::vector<ExecRequest> RemoteFileSystem::table_requests() {
  return {shell("getent passwd || cat /etc/passwd", {}), shell("getent group || cat /etc/group", {})};
}

void RemoteFileSystem::take_tables(const Result<ExecResult>& passwd, const Result<ExecResult>& group) {
  if (!passwd || passwd->exit_code != 0 || !group || group->exit_code != 0) return;
  uid_of_.clear();
  gid_of_.clear();
  user_of_.clear();
  group_of_.clear();
  parse_table(passwd->out, uid_of_, user_of_);
  parse_table(group->out, gid_of_, group_of_);
  tables_ = true;
}

void RemoteFileSystem::load_tables() {
  auto results = runner_.run_batch(table_requests());
  take_tables(results[0], results[1]);
}

Result<std::uint32_t> RemoteFileSystem::lookup(const std::string& name, bool user) {
  CONVERGE_TRY(std::optional<std::uint32_t> id, numeric_id(name));
  if (id) return *id;
  std::lock_guard lock(mu_);
  const auto& table = user ? uid_of_ : gid_of_;
  bool fresh = false;
  if (!tables_) {
    load_tables();
    fresh = true;
  }
  if (auto it = table.find(name); it != table.end()) return it->second;
  if (!fresh) {
    load_tables();  // made since the tables were read
    if (auto it = table.find(name); it != table.end()) return it->second;
  }
  if (!tables_) return std::unexpected(make_error(ErrorCode::unreachable, "cannot read the users and groups of " + node_));
  return std::unexpected(make_error(ErrorCode::action_failed,
                                    std::string(user ? "no user '" : "no group '") + name + "' on " + node_));
}

Result<std::uint32_t> RemoteFileSystem::user_id(const std::string& name) { return lookup(name, true); }
Result<std::uint32_t> RemoteFileSystem::group_id(const std::string& name) { return lookup(name, false); }

std::optional<std::string> RemoteFileSystem::user_name(std::uint32_t uid) {
  std::lock_guard lock(mu_);
  if (!tables_) load_tables();
  auto it = user_of_.find(uid);
  return it == user_of_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

std::optional<std::string> RemoteFileSystem::group_name(std::uint32_t gid) {
  std::lock_guard lock(mu_);
  if (!tables_) load_tables();
  auto it = group_of_.find(gid);
  return it == group_of_.end() ? std::nullopt : std::optional<std::string>(it->second);
}

}  // namespace converge
