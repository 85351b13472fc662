// resources/remote_files.h — a POSIX filesystem reached through commands (the ssh transport):
// what the file, directory and symlink types need, done by a remote POSIX shell with GNU
// coreutils (stat -c, mktemp, sync -f, mv -T).
//
// The guarantees are those of the local transport: a file's content travels on the
// command's stdin (never in an argv), into a new temporary beside the path (mktemp, 0600),
// which gets its owner and then its mode before an fsync of its filesystem (sync -f) and a
// rename over the path (mv -T, never into a directory); no link is followed when a mode or
// owner changes (a link at the path is refused, chown -h). A whole observation costs one
// round trip: prefetch() stats every managed path in one process, hashes the contents it is
// to compare in another (sha256sum: the content itself is read only when the hash differs
// from the desired one's), reads the links' targets and the user and group tables, all in
// one batch (resources/shell_batch.h); later lookups are answered from what it brought back
// until forget() (the end of the observation), except of a path changed through this
// filesystem (and what is below it). The changes other than writes (mkdir, chmod, chown,
// remove, link) are queued with the renames and go with the next batch it sends (forget()
// sends them): a change that failed is what its path's next observation reports.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "resources/transport.h"

namespace converge {

/// The largest file whose content is compared over a command transport (what one command's
/// output may carry, less the batch's framing).
inline constexpr std::uint64_t kMaxRemoteContent = (1u << 20) - 4096;

class RemoteFileSystem final : public FileSystem {
 public:
  /// `runner` runs the commands (it outlives this object); `node` names the node in messages.
  RemoteFileSystem(CommandRunner& runner, std::string node);

  /// One round trip: inspects every path of `qs` (and a link's target) and reads the node's
  /// user and group tables; the answers serve stat(), inspect(), read_link() and the name
  /// lookups until forget() or a change.
  void prefetch(const std::vector<PathQuery>& qs) override;
  /// Drops what prefetch() brought back.
  void forget() override;

  Result<FileInfo> stat(const std::string& path) override;
  Result<Inspection> inspect(const std::string& path, bool content) override;
  void hold_directories(bool hold) override {
    if (!hold) forget();
  }
  Result<std::string> read(const std::string& path, std::uint64_t size_hint = 0) override;
  Status write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) override;
  /// Queues the write (no round trip): the name returned stands for the temporary.
  /// REQUIRES (as for every FileSystem): sync() before commit_temp().
  Result<std::string> write_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                 const Ownership& owner = {}) override;
  /// Every write queued since the last sync, each into its temporary, and one `sync -f` of
  /// them: one round trip for a wave's files. A write that failed fails its commit_temp().
  Status sync() override;
  /// Queues the rename: it goes with the next round trip (the verification's prefetch);
  /// a rename that failed is what the path's next observation reports.
  Status commit_temp(const std::string& temp, const std::string& path) override;
  void discard_temp(const std::string& temp) override;
  /// Removes the temporaries in `dir` that a process of this machine made and is gone (their
  /// names say which: ".converge-ssh-MACHINE-PID-START-*.tmp"); another controller's stay.
  /// Two round trips (list, remove); called only to recover a run that was interrupted.
  int sweep_temps(const std::string& dir) override;
  Status make_dir(const std::string& path, std::uint32_t mode) override;
  Status chmod(const std::string& path, std::uint32_t mode) override;
  Status chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) override;
  Status remove(const std::string& path, bool recursive) override;
  Result<std::optional<std::string>> read_link(const std::string& path) override;
  Status make_link(const std::string& path, const std::string& target) override;
  Result<std::uint32_t> user_id(const std::string& name) override;
  Result<std::uint32_t> group_id(const std::string& name) override;
  std::optional<std::string> user_name(std::uint32_t uid) override;
  std::optional<std::string> group_name(std::uint32_t gid) override;

  /// The request that inspects `path` (exposed for tests), and the reading of its result:
  /// an Inspection, and a link's target in `link` when the path is a symbolic link.
  [[nodiscard]] static ExecRequest inspect_request(const std::string& path, bool content);
  [[nodiscard]] static Result<Inspection> parse_inspection(const std::string& path, bool content, const Result<ExecResult>& r,
                                                           std::optional<std::string>* link);
  /// The request that writes `ws` (exposed for tests), and its outcome: a temporary's path
  /// or why it was not made, for each of `n` writes.
  struct Write {
    std::string token, path, content, mode, owner;  ///< mode: octal digits; owner: "UID[:GID]", ":GID" or "-"
    bool carried_over = false;
  };
  [[nodiscard]] static ExecRequest writes_request(const std::vector<Write>& ws);
  [[nodiscard]] static std::vector<Result<std::string>> parse_writes(const Result<ExecResult>& r, std::size_t n,
                                                                     const std::string& node);
  /// What the bulk observation's commands print: NUL-terminated records.
  [[nodiscard]] static std::vector<std::string> nul_fields(const std::string& out);
  /// stat's "RAWMODE-HEX UID GID SIZE PATH" records and the "- PATH" of certain absence, by
  /// path; nullopt when the closing "end" is missing (the output was cut).
  [[nodiscard]] static std::optional<std::map<std::string, FileInfo>> parse_stats(const std::string& out);
  /// sha256sum -z's "HASH  PATH" records, by path.
  [[nodiscard]] static std::map<std::string, std::string> parse_hashes(const std::string& out);
  /// "name:x:id:..." lines (getent passwd or group) into both directions' maps.
  static void parse_table(const std::string& text, std::map<std::string, std::uint32_t>& by_name,
                          std::map<std::uint32_t, std::string>& by_id);

 private:
  struct Seen {
    Result<Inspection> in;
    std::optional<std::string> link;  ///< a symbolic link's target
    bool content = false;             ///< answers with content: it, its hash, or none to read
  };
  /// Queues a change of `path` (no round trip): it goes with the next batch this filesystem
  /// sends, and a failure is what the path's next observation reports.
  Status change(const std::string& what, const std::string& path, ExecRequest req);
  /// The two requests that read the user and group tables, and the reading of their
  /// results (REQUIRES: mu_ held).
  static std::vector<ExecRequest> table_requests();
  void take_tables(const Result<ExecResult>& passwd, const Result<ExecResult>& group);
  /// Drops what was known of `path` and of everything below it (REQUIRES: mu_ held).
  void forget_below(const std::string& path);
  /// A change or rename waiting for the next batch.
  struct Queued {
    std::string what, path;
    ExecRequest req;
  };
  /// Sends the queued changes and renames (one round trip); note_queued() records their
  /// outcome (REQUIRES: mu_ held).
  void flush_queued();
  void note_queued(const std::vector<Queued>& qs, const std::vector<Result<ExecResult>>& results);
  void load_tables();
  void read_differing(const std::map<std::string, std::string_view>& desired);
  Result<std::uint32_t> lookup(const std::string& name, bool user);

  CommandRunner& runner_;
  std::string node_;
  std::mutex mu_;
  std::map<std::string, Seen> seen_;
  bool tables_ = false;
  std::map<std::string, std::uint32_t> uid_of_, gid_of_;
  std::map<std::uint32_t, std::string> user_of_, group_of_;
  std::vector<Write> writes_;                                  ///< queued by write_temp()
  std::map<std::string, Result<std::string>> temps_;           ///< token -> temporary (or why not)
  std::vector<Queued> queued_;                                 ///< by commit_temp() and the changes
  std::map<std::string, Error> failed_;                ///< path -> why its change failed
  std::uint64_t next_token_ = 0;
};

}  // namespace converge
