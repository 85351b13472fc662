// resources/local_transport.h — the `local` transport: this machine, optionally with a
// root directory standing for "/" so that several nodes can live on one machine.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "resources/transport.h"

namespace converge {

/// An owned file descriptor (-1: none), closed on destruction.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
};

/// The start time of process `pid` on this machine (clock ticks after boot, /proc/PID/stat
/// field 22), or 0 when it does not exist. With the pid it names one process for the
/// machine's uptime: a temporary's name carries both, so a sweep can tell a dead writer's.
[[nodiscard]] unsigned long long process_start(pid_t pid);

/// Files and processes of this machine. With a root, every path is mapped under it and
/// commands run with CONVERGE_ROOT set to it (commands are not chrooted).
///
/// Paths are resolved one component at a time from the root's descriptor (openat with
/// O_NOFOLLOW), and every change acts relative to the descriptor of the directory that
/// holds it, never through a path looked up again: beneath a node root no symbolic link is
/// followed (a link there could lead out of it); without a root, only links that root owns
/// in directories only root may write are (the system's own, /bin -> usr/bin), so that a
/// user who can write a directory above a managed file cannot redirect the write. A link
/// as the managed path itself is never followed: it is replaced, or its mode left alone.
class LocalTransport final : public Transport, public FileSystem {
 public:
  /// `root` empty means "/". REQUIRES: root, when given, is absolute.
  explicit LocalTransport(std::string root = "");
  ~LocalTransport() override;
  LocalTransport(const LocalTransport&) = delete;
  LocalTransport& operator=(const LocalTransport&) = delete;

  Result<ExecResult> run(const ExecRequest& req) override;
  /// Two or more commands in one shell (resources/shell_batch.h); a single one on its own.
  std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override;
  FileSystem* files() override { return this; }
  Result<std::string> boot_id() override;
  std::string describe() const override;
  bool runs_here() const override { return true; }

  Result<FileInfo> stat(const std::string& path) override;
  Result<std::string> read(const std::string& path, std::uint64_t size_hint = 0) override;
  /// One lookup of the leaf relative to its (held) directory for the stat, one for the
  /// open: the stat comes first, so that only a regular file is ever opened.
  Result<Inspection> inspect(const std::string& path, bool content) override;
  /// REQUIRES: no inspect() or stat() in flight when released.
  void hold_directories(bool hold) override;
  Status write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) override;
  Result<std::string> write_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                 const Ownership& owner = {}) override;
  /// syncfs on each filesystem that received a temporary since the last sync.
  Status sync() override;
  Status commit_temp(const std::string& temp, const std::string& path) override;
  void discard_temp(const std::string& temp) override;
  int sweep_temps(const std::string& dir) override;
  Status make_dir(const std::string& path, std::uint32_t mode) override;
  Status chmod(const std::string& path, std::uint32_t mode) override;
  Status chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) override;
  Status remove(const std::string& path, bool recursive) override;
  Result<std::optional<std::string>> read_link(const std::string& path) override;
  Status make_link(const std::string& path, const std::string& target) override;
  /// The process' umask (read once): the default mode of new files and directories.
  std::uint32_t umask() const override;
  Result<std::uint32_t> user_id(const std::string& name) override;
  Result<std::uint32_t> group_id(const std::string& name) override;
  std::optional<std::string> user_name(std::uint32_t uid) override;
  std::optional<std::string> group_name(std::uint32_t gid) override;

  /// The real path on this machine for a node path.
  [[nodiscard]] std::string real(const std::string& path) const;

 private:
  /// The directory reached from the root through `dirs` (see the class comment for links);
  /// Fd{-1} when one on the way does not exist; an error for a link not followed.
  [[nodiscard]] Result<Fd> walk(const std::vector<std::string>& dirs, const std::string& path) const;
  /// The directory holding the node path `path`, and its last component in `leaf`; Fd{-1}
  /// when a directory on the way is missing.
  [[nodiscard]] Result<Fd> open_parent(const std::string& path, std::string& leaf) const;
  /// open_parent(), with a missing directory an error (for a change).
  [[nodiscard]] Result<Fd> parent_of(const std::string& path, std::string& leaf) const;

  /// The held directory `dir` (a real path), opened O_PATH on first use; -1 when
  /// directories are not held, `dir` cannot be opened, or kMaxHeldDirs are held already.
  int held_dir(const std::string& dir);

  static constexpr std::size_t kMaxHeldDirs = 256;
  std::string root_;
  std::mutex dirs_mu_;
  bool hold_ = false;
  std::unordered_map<std::string, int> dirs_;
  /// A temporary beside `path` with content, owner, then mode; fsynced when `durable_now`,
  /// else its filesystem is noted for the next sync().
  Result<std::string> create_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                  const Ownership& owner, bool durable_now);

  std::mutex unsynced_mu_;
  std::map<dev_t, int> unsynced_;  ///< filesystem -> a descriptor on it, for syncfs
};

}  // namespace converge
