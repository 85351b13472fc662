// resources/transport.h — how converge reaches a node.
//
// A Transport runs commands by argv (never through a shell string) and, where the node has
// a POSIX filesystem, reads and writes files. Three implementations: `local` (this machine,
// optionally under a root directory), `ssh` (OpenSSH client), and `lab` (the emulated
// Windows cluster, which accepts only the commands a real Windows host would be sent).
// Their tests: tests/unit/local_transport_test.cpp and process_test.cpp (local),
// lab_test.cpp (lab), ssh_transport_test.cpp, remote_shell_test.cpp and
// remote_files_test.cpp (ssh), and the scenario tests against a real sshd (ssh_files.sh,
// ssh_host_keys.sh, ssh_lab.sh: the lab's Windows hosts behind it).
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/error.h"

namespace converge {

/// One command to run on a node.
struct ExecRequest {
  std::vector<std::string> argv;               ///< argv[0] is the program; never a shell line
  std::map<std::string, std::string> env;      ///< added to (and overriding) the inherited env
  std::string cwd;                             ///< working directory; empty = inherited
  std::chrono::milliseconds timeout{0};        ///< 0 = no timeout
  std::string stdin_data;                      ///< fed to the process' stdin, then closed
};

/// What a finished command did. A command that could not start is an Error, not a result.
struct ExecResult {
  int exit_code = -1;       ///< exit status, or 128+signal when killed by a signal
  bool timed_out = false;   ///< killed because it ran past ExecRequest::timeout
  std::string out;          ///< stdout (capped at 1 MiB)
  std::string err;          ///< stderr (capped at 1 MiB)
};

/// What a stat of a path found. `exists == false` is a definite "absent".
struct FileInfo {
  bool exists = false;
  bool is_dir = false;
  bool is_regular = false;
  bool is_link = false;     ///< set by a remote filesystem's bulk observation only
  std::uint32_t mode = 0;   ///< permission bits only (07777)
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
};

/// Owner and group to give a file; std::nullopt leaves what creating it gave.
struct Ownership {
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  /// The ids only carry over those of a file being replaced (nobody stated them): where
  /// this process may not give them (not root, another user's file), the new file keeps
  /// what creating it gave instead of failing.
  bool carried_over = false;
};

/// What FileSystem::inspect() found: the stat, and a regular file's content when asked for.
struct Inspection {
  FileInfo info;
  std::optional<std::string> content;  ///< set for a regular file when content was asked for
  /// Instead of the content (a remote filesystem's bulk observation): its SHA-256, hex. The
  /// caller compares it with what it wants and reads the file only when they differ.
  std::optional<std::string> sha256;
};

/// The largest user or group id (4294967295 is -1, "unchanged", to chown).
inline constexpr std::uint64_t kMaxId = 4294967294;

/// A user or group named by number: the id; nullopt when `s` is a name (not all digits); an
/// error for a number past kMaxId (it would wrap to another user's id).
[[nodiscard]] inline Result<std::optional<std::uint32_t>> numeric_id(std::string_view s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return std::optional<std::uint32_t>{};
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > kMaxId)
    return std::unexpected(make_error(ErrorCode::invalid_input, "id " + std::string(s) + " is out of range (at most " +
                                                                    std::to_string(kMaxId) + ")"));
  return std::optional<std::uint32_t>(static_cast<std::uint32_t>(v));
}

/// Runs commands on a node. Thread-safe: the executor calls it from several workers.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  /// Runs argv to completion (or to its timeout). Returns an Error only when the command
  /// could not be started or the node could not be reached.
  [[nodiscard]] virtual Result<ExecResult> run(const ExecRequest& req) = 0;
  /// Runs several commands in order, each as run() would (one's failure does not stop the
  /// next); results parallel to `reqs`. An implementation may do it in one round trip (one
  /// process, one connection: resources/shell_batch.h); this one calls run() for each.
  [[nodiscard]] virtual std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) {
    std::vector<Result<ExecResult>> out;
    out.reserve(reqs.size());
    for (const auto& r : reqs) out.push_back(run(r));
    return out;
  }
};

/// One path an observation will look at, and whether a regular file's content is wanted.
struct PathQuery {
  std::string path;
  bool content = false;
  /// The content the caller wants there, when it states one (a view into the caller's
  /// model, alive while the observation lasts): a file whose content differs is read.
  std::optional<std::string_view> desired{};
};

/// Files on a node. Paths are absolute as the manifest states them; an implementation with
/// a root directory maps them under it. Thread-safe.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  [[nodiscard]] virtual Result<FileInfo> stat(const std::string& path) = 0;
  /// stat() and, when `content` is true and the path is a regular file, read(): what one
  /// resource's observation needs, which an implementation may do in fewer system calls.
  [[nodiscard]] virtual Result<Inspection> inspect(const std::string& path, bool content) {
    Inspection in;
    CONVERGE_TRY(in.info, stat(path));
    if (content && in.info.exists && in.info.is_regular) {
      CONVERGE_TRY(in.content, read(path, in.info.size));
    }
    return in;
  }
  /// While held (a bulk observation, during which this process changes nothing on the
  /// node), an implementation may keep directories open and look paths up relative to
  /// them. Released, every lookup starts from the path again.
  virtual void hold_directories(bool hold) {}
  /// Told every path an observation is about to look at, an implementation whose every
  /// lookup is a round trip (resources/remote_files.h) may fetch them all at once, and answer
  /// from that until forget() or a change it makes. The local filesystem needs neither.
  virtual void prefetch(const std::vector<PathQuery>& qs) {}
  virtual void forget() {}
  /// Reads a whole regular file. `size_hint` (from stat) lets an implementation read it
  /// in one call. REQUIRES: the file exists.
  [[nodiscard]] virtual Result<std::string> read(const std::string& path, std::uint64_t size_hint = 0) = 0;
  /// Writes a file atomically: temporary file in the same directory, fsync, fchmod, rename.
  /// A crash leaves either the old or the new content, never half of either.
  [[nodiscard]] virtual Status write_atomic(const std::string& path, const std::string& content,
                                            std::uint32_t mode) = 0;
  /// The first half of a batched atomic write: writes `content` to a new temporary file
  /// beside `path` (not yet durable), gives it `owner` and then `mode` (in that order: a
  /// change of owner clears setuid and setgid), and returns the temporary's path. The file
  /// appears at `path` with its content, owner and mode at once.
  [[nodiscard]] virtual Result<std::string> write_temp(const std::string& path, const std::string& content,
                                                       std::uint32_t mode, const Ownership& owner = {}) = 0;
  /// Makes every temporary written since the last sync durable: one syncfs for each
  /// filesystem they are on, whatever the batch's size.
  [[nodiscard]] virtual Status sync() = 0;
  /// The second half: renames a temporary from write_temp() over `path`.
  /// REQUIRES: sync() was called after the write_temp() that made `temp`.
  [[nodiscard]] virtual Status commit_temp(const std::string& temp, const std::string& path) = 0;
  /// Removes a temporary from write_temp() that will not be committed.
  virtual void discard_temp(const std::string& temp) = 0;
  /// Removes the temporaries that processes no longer running left in `dir` (a run killed
  /// between its writes and their renames); returns how many. Best effort.
  virtual int sweep_temps(const std::string& dir) { return 0; }
  [[nodiscard]] virtual Status make_dir(const std::string& path, std::uint32_t mode) = 0;
  [[nodiscard]] virtual Status chmod(const std::string& path, std::uint32_t mode) = 0;
  /// Changes owner and/or group; std::nullopt leaves that one as it is.
  [[nodiscard]] virtual Status chown(const std::string& path, std::optional<std::uint32_t> uid,
                                     std::optional<std::uint32_t> gid) = 0;
  /// The target of the symbolic link at `path`, as stored; nullopt when `path` does not
  /// exist. An error when it exists and is not a link.
  [[nodiscard]] virtual Result<std::optional<std::string>> read_link(const std::string& path) {
    return std::unexpected(make_error(ErrorCode::action_failed, "this node's filesystem has no symbolic links"));
  }
  /// Makes `path` a symbolic link to `target` atomically: a new link beside it, renamed
  /// over what is there (a file or a link; never a directory).
  [[nodiscard]] virtual Status make_link(const std::string& path, const std::string& target) {
    return std::unexpected(make_error(ErrorCode::action_failed, "this node's filesystem has no symbolic links"));
  }
  /// Removes a file or an empty directory (`recursive` removes a whole tree).
  [[nodiscard]] virtual Status remove(const std::string& path, bool recursive) = 0;
  /// The permission bits a new file or directory of no stated mode leaves out (the node's
  /// umask): it gets 0666 (0777) minus these, as a shell's redirection or mkdir would.
  [[nodiscard]] virtual std::uint32_t umask() const { return 022; }
  /// Resolves a user or group name on the node to its id. A numeric name is an id, at
  /// most 4294967294 (an id of -1 means "unchanged" to chown).
  [[nodiscard]] virtual Result<std::uint32_t> user_id(const std::string& name) = 0;
  [[nodiscard]] virtual Result<std::uint32_t> group_id(const std::string& name) = 0;
  /// The name of a user or group id on the node, or nullopt when it has none (reports show
  /// an observed owner by name, as the manifest names the desired one).
  [[nodiscard]] virtual std::optional<std::string> user_name(std::uint32_t uid) { return std::nullopt; }
  [[nodiscard]] virtual std::optional<std::string> group_name(std::uint32_t gid) { return std::nullopt; }
};

/// A node's way in: commands always; files when the node has a POSIX filesystem.
class Transport : public CommandRunner {
 public:
  /// The node's filesystem, or nullptr when the transport has none (the lab, a Windows host).
  [[nodiscard]] virtual FileSystem* files() = 0;
  /// A token that changes every time the node boots (Linux: /proc boot_id; the lab: its boot
  /// counter). Used to wait for a reboot to complete.
  [[nodiscard]] virtual Result<std::string> boot_id() = 0;
  /// A transport whose boot id is a command's output (ssh) sets `req` to that command and
  /// returns true, so that a caller may send it in a batch with others; boot_id_from()
  /// then reads its result as boot_id() would.
  [[nodiscard]] virtual bool boot_id_request(ExecRequest& req) const { return false; }
  [[nodiscard]] virtual Result<std::string> boot_id_from(const Result<ExecResult>& res) const {
    return std::unexpected(make_error(ErrorCode::internal, "this transport reads its boot id on its own"));
  }
  /// A short description for messages ("local", "local root=/tmp/x", "lab NODE1").
  [[nodiscard]] virtual std::string describe() const = 0;
  /// True when the node is the machine converge itself runs on: a step restarting it ends
  /// the run "awaiting reboot" instead of waiting for the new boot.
  [[nodiscard]] virtual bool runs_here() const { return false; }
};

}  // namespace converge
