#include "resources/ssh_transport.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <thread>

#include "engine/model/sha256.h"
#include "resources/process.h"

namespace converge {

namespace {

/// The longest control directory whose sockets fit sun_path (108 bytes): "/" + %C's 40
/// hex digits + the ".XXXXXXXXXXXXXXXX" ssh appends while it creates one.
constexpr std::size_t kMaxControlDir = 107 - 1 - 40 - 17;

/// The longest command line cmd.exe takes: a Windows host's line (a batch's encoded script
/// too; a batch too long for one goes as several) is refused past it.
constexpr std::size_t kMaxCmdLine = 8191;

/// A short private directory for the sockets of a long state directory: /tmp/converge-UID-
/// HASH (0700, this user's; anything else there is refused).
std::string short_control_dir(const std::string& dir) {
  const std::string digest = sha256_hex(dir).substr(0, 16);
  std::string shortdir = "/tmp/converge-" + std::to_string(::getuid()) + "-" + digest;
  ::mkdir(shortdir.c_str(), 0700);
  struct stat st {};
  if (::lstat(shortdir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid() || (st.st_mode & 077) != 0)
    return dir;  // not ours: keep the long one, whose connections then fail with ssh's own word
  return shortdir;
}

/// The remote shell's prelude when the command has an environment: it reads `n` assignments
/// from stdin, each as a byte count on a line and then the bytes of NAME=VALUE, exports them
/// and runs the command with the rest of stdin. So no value appears in any argv (ssh's or
/// the remote shell's), where every user of either machine could read it in `ps`.
constexpr const char* kEnvPrelude =
    "n=$1; shift; while [ \"$n\" -gt 0 ]; do IFS= read -r len || exit 125; "
    "kv=$(head -c \"$len\"; echo x); kv=${kv%x}; export \"$kv\" || exit 125; n=$((n - 1)); done; exec \"$@\"";

}  // namespace

SshTransport::SshTransport(std::string node, TransportSpec spec, std::string control_dir)
    : node_(std::move(node)),
      spec_(std::move(spec)),
      shell_(parse_remote_shell(spec_.shell).value_or(RemoteShell::posix)),
      control_dir_(std::move(control_dir)) {
  if (control_dir_.size() > kMaxControlDir) control_dir_ = short_control_dir(control_dir_);
}

std::string SshTransport::describe() const { return "ssh " + (spec_.host.empty() ? node_ : spec_.host); }

std::vector<std::string> SshTransport::ssh_argv(const std::string& line) const {
  std::vector<std::string> a = {"ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o",
                                "ControlPath=" + control_dir_ + "/%C", "-o", "ControlPersist=60"};
  if (spec_.port) a.insert(a.end(), {"-p", std::to_string(spec_.port)});
  // The host-key policy before the free-form options: ssh takes an option's first value.
  a.insert(a.end(), {"-o", std::string("StrictHostKeyChecking=") + (spec_.host_key == "accept-new" ? "accept-new" : "yes")});
  if (!spec_.known_hosts.empty()) {
    // Quoted (ssh would split a path at a space) and with '%' doubled (ssh expands %-tokens).
    std::string path;
    for (char c : spec_.known_hosts) path += c == '%' ? std::string("%%") : std::string(1, c);
    a.insert(a.end(), {"-o", "UserKnownHostsFile=\"" + path + "\""});
  }
  for (const auto& o : spec_.options) a.insert(a.end(), {"-o", o});
  // After the user's options, so that theirs wins: a host that never answers costs 10 s a
  // try, not the system's TCP timeout (the retries below are bounded by it).
  a.insert(a.end(), {"-o", "ConnectTimeout=10"});
  std::string host = spec_.host.empty() ? node_ : spec_.host;
  a.push_back(spec_.user.empty() ? host : spec_.user + "@" + host);
  a.push_back("--");
  a.push_back(line);
  return a;
}

Result<std::string> SshTransport::command_line(const ExecRequest& req) const {
  if (req.argv.empty()) return std::unexpected(make_error(ErrorCode::invalid_input, "no program to run on " + node_));
  std::string line;
  if (shell_ == RemoteShell::posix) {
    if (!req.cwd.empty()) line += "cd " + shell_quote(req.cwd) + " && ";
    if (!req.env.empty())
      line += "sh -c " + shell_quote(kEnvPrelude) + " sh " + std::to_string(req.env.size()) + " ";
    for (std::size_t i = 0; i < req.argv.size(); ++i) line += (i ? " " : "") + shell_quote(req.argv[i]);
    return line;
  }
  // A Windows shell: no environment (it would have to travel in the command line), no
  // directory (the programs are called by absolute path or from PATH).
  if (!req.env.empty() || !req.cwd.empty())
    return std::unexpected(make_error(ErrorCode::invalid_input, "node " + node_ + " (shell: " + spec_.shell +
                                                                    ") takes no environment or working directory over ssh"));
  Result<std::string> l = shell_ == RemoteShell::cmd ? cmd_line(req.argv) : powershell_script(req.argv);
  if (l && shell_ == RemoteShell::powershell) l = powershell_encoded(*l);
  if (!l) return std::unexpected(wrap_error("node " + node_ + " (shell: " + spec_.shell + ")", l.error()));
  if (l->size() > kMaxCmdLine)
    return std::unexpected(make_error(ErrorCode::invalid_input, "node " + node_ + ": the command line would be " +
                                                                    std::to_string(l->size()) + " characters; cmd.exe takes " +
                                                                    std::to_string(kMaxCmdLine) + " at most"));
  return *l;
}

std::string SshTransport::env_stdin(const ExecRequest& req) {
  std::string in;
  for (const auto& [k, v] : req.env) {
    const std::string kv = k + "=" + v;
    in += std::to_string(kv.size()) + "\n" + kv;
  }
  return in + req.stdin_data;
}

std::vector<Result<ExecResult>> SshTransport::run_batch(const std::vector<ExecRequest>& reqs) {
  // A round trip costs far more than the batch shell's own processes: batch from two on.
  if (reqs.size() < 2) return Transport::run_batch(reqs);
  if (shell_ != RemoteShell::posix) return run_windows_batch(reqs);
  if (!std::all_of(reqs.begin(), reqs.end(), batchable)) return Transport::run_batch(reqs);
  return run_in_one_shell(*this, reqs);
}

namespace {

/// A Windows batch can carry a request that has no environment, directory or input of its
/// own and that PowerShell passes whole.
bool windows_batchable(const ExecRequest& r) {
  return r.env.empty() && r.cwd.empty() && r.stdin_data.empty() && powershell_script(r.argv).has_value();
}

}  // namespace

std::vector<Result<ExecResult>> SshTransport::run_windows_batch(const std::vector<ExecRequest>& reqs) {
  if (!std::all_of(reqs.begin(), reqs.end(), windows_batchable)) return Transport::run_batch(reqs);
  const std::string boundary = draw_boundary();
  std::vector<Result<ExecResult>> results;
  std::size_t from = 0;
  while (from < reqs.size()) {
    // As many requests as fit one line, at least one.
    std::vector<std::vector<std::string>> argvs = {reqs[from].argv};
    std::string line = powershell_encoded(*powershell_batch(argvs, boundary));
    if (line.size() > kMaxCmdLine) {  // too long even alone: run() says so
      results.push_back(run(reqs[from++]));
      continue;
    }
    while (from + argvs.size() < reqs.size()) {
      argvs.push_back(reqs[from + argvs.size()].argv);
      std::string longer = powershell_encoded(*powershell_batch(argvs, boundary));
      if (longer.size() > kMaxCmdLine) {
        argvs.pop_back();
        break;
      }
      line = std::move(longer);
    }
    const auto chunk = std::span(reqs).subspan(from, argvs.size());
    auto sent = send(line, batch_limit(chunk), "");
    std::vector<Result<ExecResult>> got;
    if (!sent) {
      got.assign(argvs.size(), std::unexpected(sent.error()));
    } else {
      got = read_powershell_batch(sent->out, boundary, argvs.size(), sent->timed_out,
                                  "the batch ended (exit " + std::to_string(sent->exit_code) + ") before this command ran");
      rerun_missing(*this, chunk, got, sent->timed_out);  // as for a POSIX batch
    }
    for (auto& r : got) results.push_back(std::move(r));
    from += argvs.size();
  }
  return results;
}

bool ssh_connect_failed(const std::string& err) {
  // ssh's own words when no session was ever made, each at the start of a line; what it
  // says once a session was up ("Read from remote host ...: Connection reset by peer",
  // "client_loop: ...") does not count: the command may have run.
  std::size_t at = 0;
  while (at < err.size()) {
    std::size_t eol = err.find('\n', at);
    if (eol == std::string::npos) eol = err.size();
    const std::string_view line(err.data() + at, eol - at);
    at = eol + 1;
    if (line.starts_with("kex_exchange_identification:") || line.starts_with("Connection closed by ") ||
        line.starts_with("Connection reset by ") || line.starts_with("Connection timed out during banner exchange"))
      return true;
    if (line.starts_with("ssh: connect to host ") &&
        (line.find("Connection refused") != std::string_view::npos || line.find("Connection timed out") != std::string_view::npos ||
         line.find("No route to host") != std::string_view::npos || line.find("Network is unreachable") != std::string_view::npos))
      return true;
  }
  return false;
}

Result<ExecResult> SshTransport::run(const ExecRequest& req) {
  CONVERGE_TRY(std::string line, command_line(req));
  return send(line, req.timeout, shell_ == RemoteShell::posix ? env_stdin(req) : req.stdin_data);
}

Result<ExecResult> SshTransport::send(const std::string& line, std::chrono::milliseconds timeout, std::string input) {
  ExecRequest local;
  local.argv = ssh_argv(line);
  local.timeout = timeout;
  local.stdin_data = std::move(input);
  // A connection that was never made is tried again: after 0.25 s, then doubling (7.75 s
  // of waiting in all, long enough for an sshd being restarted; each try is bounded by
  // ConnectTimeout). Once that failed, the host is down for this
  // run: later commands try once, so that a run with many steps on it stops promptly.
  ExecResult r;
  for (int attempt = 0;; ++attempt) {
    CONVERGE_TRY(r, run_process(local));
    const bool refused = r.exit_code == 255 && !r.timed_out && ssh_connect_failed(r.err);
    if (!refused) {
      down_ = false;
      break;
    }
    if (attempt == 5 || down_) {
      down_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
  if (shell_ != RemoteShell::posix && !r.timed_out) {
    // The Windows program's whole status (ssh keeps its low 8 bits); a status came back,
    // so the connection held even if that status is 255.
    if (std::optional<int> code = take_exit_trailer(r.err)) {
      r.exit_code = *code;
      return r;
    }
  }
  if (r.exit_code == 255 && !r.timed_out) {
    // ssh's own failure (or the remote command's exit 255): the node is not reachable.
    std::string why = r.err;
    while (!why.empty() && (why.back() == '\n' || why.back() == '\r' || why.back() == ' ')) why.pop_back();
    if (why.empty()) why = "ssh exited 255 and said nothing (the connection was dropped, or the remote command exited 255)";
    const std::string host = spec_.host.empty() ? node_ : spec_.host;
    if (why.find("IDENTIFICATION HAS CHANGED") != std::string::npos)
      return std::unexpected(make_error(ErrorCode::unreachable, "ssh to " + node_ + ": the host key of " + host +
                                                                    " has CHANGED since it was recorded; refusing to connect (" +
                                                                    "check the host, then update known_hosts)"));
    if (why.find("Host key verification failed") != std::string::npos || why.find("host key is known") != std::string::npos)
      return std::unexpected(make_error(ErrorCode::unreachable, "ssh to " + node_ + ": the host key of " + host +
                                                                    " is not in known_hosts (add it, or set host_key: accept-new " +
                                                                    "in the node's ssh transport)"));
    return std::unexpected(make_error(ErrorCode::unreachable, "ssh to " + node_ + " failed: " + why));
  }
  return r;
}

bool SshTransport::boot_id_request(ExecRequest& req) const {
  req = ExecRequest{spec_.boot_id, {}, "", std::chrono::seconds(30), ""};
  if (req.argv.empty())
    req.argv = shell_ == RemoteShell::posix ? std::vector<std::string>{"cat", "/proc/sys/kernel/random/boot_id"}
                                            : std::vector<std::string>{"wmic.exe", "os", "get", "LastBootUpTime"};
  return true;
}

Result<std::string> SshTransport::boot_id_from(const Result<ExecResult>& res) const {
  if (!res) return std::unexpected(res.error());
  const ExecResult& r = *res;
  // The output's words: Windows tools pad with blanks and end lines with CR LF.
  std::string id;
  for (std::size_t i = 0; i < r.out.size();) {
    std::size_t j = r.out.find_first_of(" \t\r\n", i);
    if (j == std::string::npos) j = r.out.size();
    if (j > i) id += (id.empty() ? "" : " ") + r.out.substr(i, j - i);
    i = j + 1;
  }
  if (r.exit_code != 0 || r.timed_out || id.empty())
    return std::unexpected(make_error(ErrorCode::unreachable, "cannot read the boot id of " + node_ + " (exit " +
                                                                  std::to_string(r.exit_code) + ")"));
  return id;
}

Result<std::string> SshTransport::boot_id() {
  ExecRequest req;
  (void)boot_id_request(req);
  return boot_id_from(run(req));
}

}  // namespace converge
