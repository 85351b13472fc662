// resources/local_transport.h — the `local` transport: this machine, optionally with a
// root directory standing for "/" so that several nodes can live on one machine.
#pragma once

#include <memory>
#include <string>

#include "resources/transport.h"

namespace converge {

/// Files and processes of this machine. With a root, every path is mapped under it and
/// commands run with CONVERGE_ROOT set to it (commands are not chrooted).
class LocalTransport final : public Transport, public FileSystem {
 public:
  /// `root` empty means "/". REQUIRES: root, when given, is absolute.
  explicit LocalTransport(std::string root = "");

  Result<ExecResult> run(const ExecRequest& req) override;
  FileSystem* files() override { return this; }
  Result<std::string> boot_id() override;
  std::string describe() const override;

  Result<FileInfo> stat(const std::string& path) override;
  Result<std::string> read(const std::string& path, std::uint64_t size_hint = 0) override;
  Status write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) override;
  Result<std::string> write_temp(const std::string& path, const std::string& content, std::uint32_t mode) override;
  Status sync() override;
  Status commit_temp(const std::string& temp, const std::string& path) override;
  Status make_dir(const std::string& path, std::uint32_t mode) override;
  Status chmod(const std::string& path, std::uint32_t mode) override;
  Status chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) override;
  Status remove(const std::string& path, bool recursive) override;
  Result<std::uint32_t> user_id(const std::string& name) override;
  Result<std::uint32_t> group_id(const std::string& name) override;

  /// The real path on this machine for a node path.
  [[nodiscard]] std::string real(const std::string& path) const;

 private:
  std::string root_;
};

}  // namespace converge
