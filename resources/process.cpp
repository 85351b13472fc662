#include "resources/process.h"

#include <fcntl.h>
#include <poll.h>
#include <mutex>
#include <set>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace converge {

namespace {

constexpr std::size_t kMaxCapture = 1u << 20;

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
};

std::vector<std::string> build_env(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq != std::string_view::npos && extra.count(std::string(kv.substr(0, eq)))) continue;
    env.emplace_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

/// Reads both pipes until EOF or the deadline; returns false on timeout.
bool pump(int& out_fd, int& err_fd, int& in_fd, const std::string& input, ExecResult& r,
          std::chrono::steady_clock::time_point deadline, bool has_deadline) {
  std::size_t written = 0;
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    pollfd p[3];
    int n = 0, oi = -1, ei = -1, ii = -1;
    if (out_fd >= 0) { oi = n; p[n++] = {out_fd, POLLIN, 0}; }
    if (err_fd >= 0) { ei = n; p[n++] = {err_fd, POLLIN, 0}; }
    if (in_fd >= 0) { ii = n; p[n++] = {in_fd, POLLOUT, 0}; }
    int wait_ms = -1;
    if (has_deadline) {
      // Round up: poll() takes whole milliseconds and must not return before the deadline.
      auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return false;
      wait_ms = static_cast<int>((left + 999) / 1000);
    }
    int rc = ::poll(p, n, wait_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      continue;
    }
    auto drain = [&](int idx, int& fd, std::string& sink) {
      if (idx < 0 || !(p[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got <= 0) {
        ::close(fd);
        fd = -1;
      } else if (sink.size() < kMaxCapture) {
        sink.append(buf, std::min<std::size_t>(static_cast<std::size_t>(got), kMaxCapture - sink.size()));
      }
    };
    drain(oi, out_fd, r.out);
    drain(ei, err_fd, r.err);
    if (ii >= 0 && (p[ii].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = (p[ii].revents & POLLOUT) ? ::write(in_fd, input.data() + written, input.size() - written) : -1;
      if (w > 0) written += static_cast<std::size_t>(w);
      bool again = w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      if ((w <= 0 && !again) || written >= input.size()) {
        ::close(in_fd);
        in_fd = -1;
      }
    }
  }
  if (in_fd >= 0) ::close(in_fd);
  in_fd = -1;
  return true;
}

Result<ExecResult> finish_status(int status, ExecResult& r) {
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) r.exit_code = 128 + WTERMSIG(status);
  return std::move(r);
}

/// The process groups of the commands running now, and whether new ones may start.
struct Running {
  std::mutex mu;
  std::set<pid_t> groups;
  bool stopped = false;
};

Running& running() {
  static Running r;
  return r;
}

}  // namespace

void signal_running(int sig) {
  Running& r = running();
  std::lock_guard l(r.mu);
  for (pid_t g : r.groups) ::kill(-g, sig);
}

void stop_starting() {
  Running& r = running();
  std::lock_guard l(r.mu);
  r.stopped = true;
}

Result<ExecResult> run_process(const ExecRequest& req) {
  if (req.argv.empty()) return std::unexpected(make_error(ErrorCode::invalid_input, "empty command"));
  if (std::lock_guard l(running().mu); running().stopped)
    return std::unexpected(make_error(ErrorCode::action_failed, "not started: converge was interrupted"));
  Fds out, err, in;
  if (::pipe2(out.fd, O_CLOEXEC) != 0 || ::pipe2(err.fd, O_CLOEXEC) != 0)
    return std::unexpected(make_error(ErrorCode::io, std::string("pipe: ") + std::strerror(errno)));
  bool feed = !req.stdin_data.empty();
  if (feed && ::pipe2(in.fd, O_CLOEXEC) != 0)
    return std::unexpected(make_error(ErrorCode::io, std::string("pipe: ") + std::strerror(errno)));

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (feed) posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  else posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  if (!req.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, req.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t deflt;
  sigemptyset(&deflt);
  sigaddset(&deflt, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &deflt);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_store;
  std::vector<char*> envp;
  char** env = environ;
  if (!req.env.empty()) {
    env_store = build_env(req.env);
    for (auto& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);
    env = envp.data();
  }
  pid_t pid = 0;
  // Spawned outside the lock (commands start side by side), then registered: one that an
  // interrupt missed while it started is ended at once.
  int rc = ::posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), env);
  if (rc == 0) {
    std::lock_guard l(running().mu);
    running().groups.insert(pid);
    if (running().stopped) ::kill(-pid, SIGTERM);
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  struct Unregister {
    pid_t pid;
    ~Unregister() {
      if (pid <= 0) return;
      std::lock_guard l(running().mu);
      running().groups.erase(pid);
    }
  } unregister{rc == 0 ? pid : 0};
  if (rc != 0) {
    // The child's chdir fails with the same errors as the exec: say which one it was.
    if (!req.cwd.empty()) {
      struct stat st {};
      int e = ::stat(req.cwd.c_str(), &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
      if (e != 0)
        return std::unexpected(make_error(ErrorCode::action_failed, "cannot run '" + req.argv[0] +
                                                                        "': working directory '" + req.cwd +
                                                                        "': " + std::strerror(e)));
    }
    return std::unexpected(make_error(ErrorCode::action_failed, "cannot run '" + req.argv[0] + "': " + std::strerror(rc)));
  }
  out.close_end(1);
  err.close_end(1);
  in.close_end(0);

  ExecResult r;
  auto deadline = std::chrono::steady_clock::now() + req.timeout;
  int ofd = out.fd[0], efd = err.fd[0], ifd = in.fd[1];
  // Non-blocking stdin: a child that stops reading (its stdout is full) must not block the
  // writer; poll() says when to write more.
  if (ifd >= 0) ::fcntl(ifd, F_SETFL, ::fcntl(ifd, F_GETFL) | O_NONBLOCK);
  out.fd[0] = err.fd[0] = in.fd[1] = -1;  // pump owns them now
  if (!pump(ofd, efd, ifd, req.stdin_data, r, deadline, req.timeout.count() > 0)) {
    r.timed_out = true;
    ::kill(-pid, SIGKILL);
    for (int fd : {ofd, efd, ifd})
      if (fd >= 0) ::close(fd);
  }
  int status = 0;
  if (!r.timed_out && req.timeout.count() > 0) {
    // The pipes closed; the process may still run (it closed them itself). Wait up to
    // the deadline, polling with a growing interval, then kill.
    auto pause = std::chrono::microseconds(20);
    while (true) {
      pid_t w = ::waitpid(pid, &status, WNOHANG);
      if (w == pid) break;
      if (w < 0 && errno != EINTR) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        r.timed_out = true;
        ::kill(-pid, SIGKILL);
        break;
      }
      ::usleep(static_cast<useconds_t>(pause.count()));
      pause = std::min(pause * 2, std::chrono::microseconds(10'000));
    }
    if (!r.timed_out) return finish_status(status, r);
  }
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  // Once more after the leader is gone: a member that was being forked when the first kill
  // went out is in the group by now.
  if (r.timed_out) ::kill(-pid, SIGKILL);
  return finish_status(status, r);
}

}  // namespace converge
