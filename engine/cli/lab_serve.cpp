// `converge lab serve` and `converge lab summary`: the lab behind a real sshd.
//
// sshd runs `converge lab serve --lab FILE --node NAME --state-dir DIR` for a session (a
// ForceCommand in a `Match LocalAddress` block, or an authorized_keys `command=`), with the
// client's command line in SSH_ORIGINAL_COMMAND. The command answers as that Windows host
// would: it reads the line as the host's shell does (resources/remote_shell.h: cmd.exe /c,
// an encoded PowerShell call or batch), runs the program(s) on the lab node, prints what a
// program printed and the exit trailer, exiting with the status's low 8 bits as a real sshd
// would, or a batch's line for each program. Sessions
// run one at a time over the lab's state (an exclusive lock on DIR/lab/serve.lock), in
// virtual time: a restarting node is waited out as on the lab transport at speed 0. A node
// that never comes back answers as an unreachable host does: exit 255, the lab's reason on
// stderr.
#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "engine/cli/commands.h"
#include "engine/model/error.h"
#include "resources/lab/lab.h"
#include "resources/remote_shell.h"
#include "resources/transports.h"

namespace converge {

namespace {

void write_all(int fd, const std::string& s) {
  std::size_t at = 0;
  while (at < s.size()) {
    ssize_t n = ::write(fd, s.data() + at, s.size() - at);
    if (n <= 0) return;
    at += static_cast<std::size_t>(n);
  }
}

/// A hang fault: nothing comes back until the client gives up and its channel closes (our
/// stdout's reader goes away), or an hour has passed.
void hang_until_dropped() {
  pollfd p{1, 0, 0};
  for (int i = 0; i < 3600; ++i) {
    if (::poll(&p, 1, 1000) > 0 && (p.revents & (POLLERR | POLLHUP))) return;
  }
}

}  // namespace

int cmd_lab_serve(const std::string& lab_file, const std::string& node, const std::string& shell_name,
                  const GlobalOptions& opts) {
  const char* line = std::getenv("SSH_ORIGINAL_COMMAND");
  if (!line) {
    std::cerr << "converge lab serve: SSH_ORIGINAL_COMMAND is not set: run it as sshd's ForceCommand or an "
                 "authorized_keys command=\n";
    return 1;
  }
  const std::string home = lab_home(opts.state_dir);
  if (home.empty()) {
    std::cerr << "converge lab serve: --state-dir (or $CONVERGE_LAB_HOME) says where the lab's state is\n";
    return 1;
  }
  const RemoteShell shell = parse_remote_shell(shell_name).value_or(RemoteShell::cmd);
  auto cmd = host_command(shell, line);
  if (!cmd) {
    // What a host's shell says of a line it cannot run.
    std::cerr << "converge lab serve (" << node << ", " << shell_name << "): " << cmd.error().message << "\n";
    write_all(2, exit_trailer(1));
    return 1;
  }
  std::error_code ec;
  std::filesystem::create_directories(home + "/lab", ec);
  if (ec) {
    std::cerr << "converge lab serve: cannot create " << home << "/lab: " << ec.message() << "\n";
    return 1;
  }
  const std::string lock_path = home + "/lab/serve.lock";
  int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || ::flock(lock, LOCK_EX) != 0) {
    std::cerr << "converge lab serve: cannot lock " << lock_path << "\n";
    return 1;
  }
  auto lab = lab::Lab::open(lab_file, home, 0, true);
  if (!lab) {
    std::cerr << "converge lab serve: cannot open the lab " << lab_file << ": " << lab.error().message << "\n";
    return 1;
  }
  const bool batch = !cmd->boundary.empty();
  for (std::size_t i = 0; i < cmd->argvs.size(); ++i) {
    auto r = (*lab)->run(node, ExecRequest{cmd->argvs[i], {}, "", std::chrono::milliseconds(0), ""});
    if (!r && r.error().code == ErrorCode::timeout) {
      ::close(lock);  // the state is written: the next session may go on
      hang_until_dropped();
      return 137;
    }
    if (!r) {
      std::cerr << "converge lab serve: " << r.error().message << "\n";
      return 255;
    }
    if (batch) {
      write_all(1, powershell_batch_line(cmd->boundary, i, r->exit_code, r->out, r->err));
      continue;
    }
    write_all(1, r->out);
    write_all(2, r->err + exit_trailer(r->exit_code));
    return r->exit_code & 0xff;
  }
  return 0;
}

int cmd_lab_summary(const std::string& lab_file, const GlobalOptions& opts) {
  const std::string home = lab_home(opts.state_dir);
  if (home.empty()) {
    std::cerr << "converge lab summary: --state-dir (or $CONVERGE_LAB_HOME) says where the lab's state is\n";
    return 1;
  }
  auto lab = lab::Lab::open(lab_file, home, 0, false);
  if (!lab) {
    std::cerr << "converge lab summary: cannot open the lab " << lab_file << ": " << lab.error().message << "\n";
    return 1;
  }
  const lab::LabSummary s = (*lab)->summary();
  std::cout << lab::render_summary(s);
  return s.violations.empty() ? 0 : 3;
}

}  // namespace converge
