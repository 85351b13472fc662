#include "resources/local_transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "resources/process.h"

namespace converge {

namespace {

Error sys_error(const std::string& what, const std::string& path, int err = errno) {
  return make_error(ErrorCode::io, what + " " + path + ": " + std::strerror(err));
}

std::string dir_of(const std::string& p) {
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
}

Status write_all(int fd, const std::string& content, const std::string& path) {
  std::size_t off = 0;
  while (off < content.size()) {
    ssize_t w = ::write(fd, content.data() + off, content.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return std::unexpected(sys_error("write", path));
    off += static_cast<std::size_t>(w);
  }
  return {};
}

std::atomic<unsigned> temp_counter{0};

}  // namespace

LocalTransport::LocalTransport(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_ == "/") root_.clear();
}

std::string LocalTransport::real(const std::string& path) const { return root_.empty() ? path : root_ + path; }

std::string LocalTransport::describe() const { return root_.empty() ? "local" : "local root=" + root_; }

Result<ExecResult> LocalTransport::run(const ExecRequest& req) {
  if (root_.empty()) return run_process(req);
  ExecRequest r = req;
  r.env.emplace("CONVERGE_ROOT", root_);
  return run_process(r);
}

Result<std::string> LocalTransport::boot_id() {
  // A node root stands for "/": a root that holds its own boot id (a test standing for a
  // host, or a container) is read; otherwise the machine's.
  std::ifstream in(real("/proc/sys/kernel/random/boot_id"));
  if (!in && !root_.empty()) in.open("/proc/sys/kernel/random/boot_id");
  std::string id;
  if (!std::getline(in, id)) return std::unexpected(make_error(ErrorCode::io, "cannot read boot_id"));
  return id;
}

namespace {

FileInfo info_of(const struct stat& st) {
  FileInfo info;
  info.exists = true;
  info.is_dir = S_ISDIR(st.st_mode);
  info.is_regular = S_ISREG(st.st_mode);
  info.mode = st.st_mode & 07777;
  info.uid = st.st_uid;
  info.gid = st.st_gid;
  info.size = static_cast<std::uint64_t>(st.st_size);
  return info;
}

/// Reads an open file to its end; `size_hint` (from a stat) lets a file that did not
/// change since be read in one call.
Result<std::string> read_fd(int fd, std::uint64_t size_hint, const std::string& path) {
  std::string out;
  if (size_hint > 0 && size_hint < (64u << 20)) {
    // One read of size+1 bytes: a short read of exactly `size` is the whole file.
    out.resize(size_hint + 1);
    ssize_t r = ::read(fd, out.data(), out.size());
    if (r >= 0 && static_cast<std::uint64_t>(r) == size_hint) {
      out.resize(size_hint);
      return out;
    }
    if (r < 0) r = 0;
    out.resize(static_cast<std::size_t>(r));  // the file changed under us; read the rest
  }
  char buf[65536];
  while (true) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::unexpected(sys_error("read", path));
    if (r == 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

}  // namespace

LocalTransport::~LocalTransport() {
  hold_directories(false);
  for (const auto& [dev, fd] : unsynced_) ::close(fd);
}

void LocalTransport::hold_directories(bool hold) {
  std::lock_guard lock(dirs_mu_);
  hold_ = hold;
  if (hold) return;
  for (const auto& [dir, fd] : dirs_)
    if (fd >= 0) ::close(fd);
  dirs_.clear();
}

int LocalTransport::held_dir(const std::string& dir) {
  std::lock_guard lock(dirs_mu_);
  if (!hold_) return -1;
  if (auto it = dirs_.find(dir); it != dirs_.end()) return it->second;
  if (dirs_.size() >= kMaxHeldDirs) return -1;
  // A directory that cannot be opened is remembered as -1: its paths are looked up whole,
  // which reports absence or the error as usual.
  int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  dirs_.emplace(dir, fd);
  return fd;
}

Result<FileInfo> LocalTransport::stat(const std::string& path) {
  CONVERGE_TRY(Inspection in, inspect(path, false));
  return in.info;
}

Result<Inspection> LocalTransport::inspect(const std::string& path, bool content) {
  std::string full = real(path);
  const char* name = full.c_str();
  int at = AT_FDCWD;
  if (auto slash = full.find_last_of('/'); slash != std::string::npos && slash + 1 < full.size()) {
    if (int dfd = held_dir(slash == 0 ? std::string("/") : full.substr(0, slash)); dfd >= 0) {
      at = dfd;
      name = full.c_str() + slash + 1;
    }
  }
  Inspection in;
  struct stat st {};
  if (::fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return in;
    return std::unexpected(sys_error("stat", path));
  }
  in.info = info_of(st);
  if (!content || !in.info.is_regular) return in;
  // O_NONBLOCK|O_NOFOLLOW: a file swapped for a FIFO or a symlink since the stat neither
  // blocks nor is followed.
  int fd = ::openat(at, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return std::unexpected(sys_error("open", path));
  auto data = read_fd(fd, in.info.size, path);
  ::close(fd);
  if (!data) return std::unexpected(data.error());
  in.content = std::move(*data);
  return in;
}

Result<std::string> LocalTransport::read(const std::string& path, std::uint64_t size_hint) {
  int fd = ::open(real(path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::unexpected(sys_error("open", path));
  auto data = read_fd(fd, size_hint, path);
  ::close(fd);
  return data;
}

Result<std::string> LocalTransport::create_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                                const Ownership& owner, bool durable_now) {
  std::string target = real(path);
  std::string temp = dir_of(target) + "/.converge-" + std::to_string(::getpid()) + "-" +
                     std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(sys_error("create", path));
  auto fail = [&](Error e) -> Result<std::string> {
    ::close(fd);
    ::unlink(temp.c_str());
    return std::unexpected(std::move(e));
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(sys_error("stat", path));
  if (auto w = write_all(fd, content, path); !w) return fail(w.error());
  // Owner before mode: fchown clears setuid and setgid.
  if ((owner.uid && *owner.uid != st.st_uid) || (owner.gid && *owner.gid != st.st_gid))
    if (::fchown(fd, owner.uid ? *owner.uid : static_cast<uid_t>(-1), owner.gid ? *owner.gid : static_cast<gid_t>(-1)) != 0 &&
        !(owner.carried_over && errno == EPERM))
      return fail(sys_error("chown", path));
  if (::fchmod(fd, mode) != 0) return fail(sys_error("chmod", path));
  if (durable_now) {
    if (::fsync(fd) != 0) return fail(sys_error("fsync", path));
  } else {
    // The batch's sync() needs one descriptor on each filesystem written to: keep a
    // duplicate of the first (syncfs takes any descriptor, and needs no path lookup).
    std::lock_guard lock(unsynced_mu_);
    if (!unsynced_.count(st.st_dev)) {
      int keep = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
      if (keep < 0) return fail(sys_error("dup", path));
      unsynced_.emplace(st.st_dev, keep);
    }
  }
  if (::close(fd) != 0) {
    ::unlink(temp.c_str());
    return std::unexpected(sys_error("close", path));
  }
  return temp;
}

Result<std::string> LocalTransport::write_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                               const Ownership& owner) {
  return create_temp(path, content, mode, owner, false);
}

Status LocalTransport::sync() {
  std::map<dev_t, int> batch;
  {
    std::lock_guard lock(unsynced_mu_);
    batch.swap(unsynced_);
  }
  Status result;
  for (const auto& [dev, fd] : batch) {
    if (result && ::syncfs(fd) != 0) result = std::unexpected(make_error(ErrorCode::io, std::string("syncfs: ") + std::strerror(errno)));
    ::close(fd);
  }
  return result;
}

Status LocalTransport::commit_temp(const std::string& temp, const std::string& path) {
  if (::rename(temp.c_str(), real(path).c_str()) != 0) {
    int e = errno;
    ::unlink(temp.c_str());
    return std::unexpected(sys_error("rename onto", path, e));
  }
  return {};
}

void LocalTransport::discard_temp(const std::string& temp) { ::unlink(temp.c_str()); }

int LocalTransport::sweep_temps(const std::string& dir) {
  std::string d = real(dir);
  DIR* h = ::opendir(d.c_str());
  if (!h) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(h)) {
    // ".converge-PID-N.tmp", as create_temp() names them.
    std::string_view name = e->d_name;
    if (!name.starts_with(".converge-") || !name.ends_with(".tmp")) continue;
    std::string_view rest = name.substr(10);
    auto dash = rest.find('-');
    if (dash == std::string_view::npos) continue;
    pid_t pid = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + dash, pid);
    if (ec != std::errc() || p != rest.data() + dash || pid <= 0 || pid == ::getpid()) continue;
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its writer may still be running
    if (::unlinkat(::dirfd(h), e->d_name, 0) == 0) ++removed;
  }
  ::closedir(h);
  return removed;
}

Status LocalTransport::write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) {
  CONVERGE_TRY(std::string temp, create_temp(path, content, mode, {}, true));
  return commit_temp(temp, path);
}

Status LocalTransport::make_dir(const std::string& path, std::uint32_t mode) {
  if (::mkdir(real(path).c_str(), mode) != 0) return std::unexpected(sys_error("mkdir", path));
  if (::chmod(real(path).c_str(), mode) != 0) return std::unexpected(sys_error("chmod", path));  // umask
  return {};
}

Status LocalTransport::chmod(const std::string& path, std::uint32_t mode) {
  if (::chmod(real(path).c_str(), mode) != 0) return std::unexpected(sys_error("chmod", path));
  return {};
}

Status LocalTransport::chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) {
  if (::lchown(real(path).c_str(), uid ? *uid : static_cast<uid_t>(-1), gid ? *gid : static_cast<gid_t>(-1)) != 0)
    return std::unexpected(sys_error("chown", path));
  return {};
}

Status LocalTransport::remove(const std::string& path, bool recursive) {
  std::error_code ec;
  if (recursive) std::filesystem::remove_all(real(path), ec);
  else std::filesystem::remove(real(path), ec);
  if (ec) return std::unexpected(make_error(ErrorCode::io, "remove " + path + ": " + ec.message()));
  return {};
}

Result<std::uint32_t> LocalTransport::user_id(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) return static_cast<std::uint32_t>(std::stoul(name));
  passwd pw{}, *res = nullptr;
  char buf[4096];
  if (::getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res)
    return std::unexpected(make_error(ErrorCode::action_failed, "no such user '" + name + "'"));
  return pw.pw_uid;
}

Result<std::uint32_t> LocalTransport::group_id(const std::string& name) {
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) return static_cast<std::uint32_t>(std::stoul(name));
  group gr{}, *res = nullptr;
  char buf[4096];
  if (::getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res)
    return std::unexpected(make_error(ErrorCode::action_failed, "no such group '" + name + "'"));
  return gr.gr_gid;
}

}  // namespace converge
