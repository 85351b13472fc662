// resources/ssh_transport.h — the `ssh` transport: commands through the OpenSSH client,
// with connection reuse (ControlMaster) so that many commands share one connection.
//
// argv is sent as one remote command line quoted for the host's shell (`shell:` posix, cmd
// or powershell; resources/remote_shell.h), so no manifest value is ever interpreted by it.
// On a POSIX host, environment variables travel on stdin, ahead of the command's own input,
// and a small shell prelude exports them: no value is in any argv, where `ps` would show it.
// A Windows host takes no environment and has no POSIX filesystem (files() is nullptr); a
// batch goes to it as one encoded PowerShell script; its boot id is wmic's LastBootUpTime
// unless `boot_id:` says. The sockets live in the state directory,
// or, when its path is too long for a socket's name, in a private /tmp/converge-UID-HASH.
// Files are the remote shell's (resources/remote_files.h). A connection that cannot be made
// (refused, timed out, no route) is tried again with backoff before the node is reported
// unreachable; a connection dropped while a command ran is not (the command may have run).
#pragma once

#include <atomic>

#include "engine/model/manifest.h"
#include "resources/remote_files.h"
#include "resources/remote_shell.h"
#include "resources/shell_batch.h"
#include "resources/transport.h"

namespace converge {

class SshTransport final : public Transport {
 public:
  /// `control_dir` holds the ControlMaster sockets (inside the private state directory).
  SshTransport(std::string node, TransportSpec spec, std::string control_dir);

  Result<ExecResult> run(const ExecRequest& req) override;
  /// One connection round trip for the lot (resources/shell_batch.h).
  std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override;
  /// A POSIX host's files; nullptr for a Windows shell.
  FileSystem* files() override { return shell_ == RemoteShell::posix ? &files_ : nullptr; }
  Result<std::string> boot_id() override;
  /// The `boot_id:` command, else the shell's (/proc's boot_id; wmic's LastBootUpTime).
  bool boot_id_request(ExecRequest& req) const override;
  Result<std::string> boot_id_from(const Result<ExecResult>& res) const override;
  std::string describe() const override;

  /// The remote command line for `req` in the node's shell (resources/remote_shell.h):
  /// an error when that shell cannot carry it. Exposed for tests.
  [[nodiscard]] Result<std::string> command_line(const ExecRequest& req) const;
  /// The argv of the local ssh process that sends `line` (exposed for tests).
  [[nodiscard]] std::vector<std::string> ssh_argv(const std::string& line) const;
  /// What the local ssh process reads on stdin for `req`: its environment, then its input.
  [[nodiscard]] static std::string env_stdin(const ExecRequest& req);
  /// Where the control sockets are.
  [[nodiscard]] const std::string& control_dir() const { return control_dir_; }

 private:
  /// Sends one remote command line; retries a connection never made, maps ssh's failures.
  [[nodiscard]] Result<ExecResult> send(const std::string& line, std::chrono::milliseconds timeout, std::string input);
  /// A Windows host's batch: encoded PowerShell (resources/remote_shell.h), as many
  /// commands per round trip as one command line holds.
  [[nodiscard]] std::vector<Result<ExecResult>> run_windows_batch(const std::vector<ExecRequest>& reqs);

  std::string node_;
  TransportSpec spec_;
  RemoteShell shell_;
  std::string control_dir_;
  RemoteFileSystem files_{*this, node_};
  std::atomic<bool> down_{false};  ///< its connection failed after every retry
};

/// True when ssh's complaint (its stderr, exit 255) says the connection was never made, so
/// that no command ran and trying again is safe.
[[nodiscard]] bool ssh_connect_failed(const std::string& err);

}  // namespace converge
