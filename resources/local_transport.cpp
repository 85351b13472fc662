#include "resources/local_transport.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "resources/process.h"
#include "resources/shell_batch.h"

namespace converge {

unsigned long long process_start(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return 0;
  auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  for (int i = 3; i < 22 && rest >> field; ++i) {}
  unsigned long long start = 0;
  rest >> start;
  return start;
}

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

/// "PID-START-": what create_temp() puts in a temporary's name for this process.
const std::string& temp_owner() {
  static const std::string owner =
      std::to_string(::getpid()) + "-" + std::to_string(process_start(::getpid())) + "-";
  return owner;
}

}  // namespace

Fd::~Fd() {
  if (fd >= 0) ::close(fd);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd >= 0) ::close(fd);
    fd = o.fd;
    o.fd = -1;
  }
  return *this;
}

namespace {

std::vector<std::string> components(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    auto j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (j > i) out.emplace_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

/// True when the symbolic link `name` in `dfd` may be followed outside a node root: root
/// owns it, and its directory is root's and writable by nobody else (the system's own
/// links, /bin -> usr/bin, /var/run -> /run), so no other user could have planted it.
bool trusted_link(int dfd, const struct stat& link) {
  struct stat dir {};
  return link.st_uid == 0 && ::fstat(dfd, &dir) == 0 && dir.st_uid == 0 && (dir.st_mode & 022) == 0;
}

}  // namespace

Result<Fd> LocalTransport::walk(const std::vector<std::string>& dirs, const std::string& path) const {
  Fd d(::open(root_.empty() ? "/" : root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0) return std::unexpected(sys_error("open", root_.empty() ? "/" : root_));
  std::vector<std::string> todo(dirs.rbegin(), dirs.rend());  // a stack: the next component last
  int links = 0;
  while (!todo.empty()) {
    const std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == ".") continue;
    if (c == ".." && !root_.empty())
      return std::unexpected(make_error(ErrorCode::io, path + ": '..' would leave the node root"));
    Fd next(::openat(d.fd, c.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (next.fd >= 0) {
      d = std::move(next);
      continue;
    }
    const int e = errno;
    struct stat st {};
    if ((e == ENOTDIR || e == ELOOP) && ::fstatat(d.fd, c.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      if (!root_.empty())
        return std::unexpected(make_error(ErrorCode::io, path + ": '" + c +
                                                             "' is a symbolic link; links are not followed beneath a node root"));
      if (!trusted_link(d.fd, st))
        return std::unexpected(make_error(ErrorCode::io, path + ": '" + c +
                                                             "' is a symbolic link that root does not own in a directory only root "
                                                             "may write; not followed"));
      if (++links > 40) return std::unexpected(sys_error("resolve", path, ELOOP));
      char target[4096];
      ssize_t n = ::readlinkat(d.fd, c.c_str(), target, sizeof target - 1);
      if (n < 0) return std::unexpected(sys_error("readlink", path));
      std::string_view t(target, static_cast<std::size_t>(n));
      auto more = components(t);
      for (auto it = more.rbegin(); it != more.rend(); ++it) todo.push_back(*it);
      if (t.starts_with("/")) {
        d = Fd(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (d.fd < 0) return std::unexpected(sys_error("open", "/"));
      }
      continue;
    }
    if (e == ENOENT || e == ENOTDIR) return Fd();  // a directory on the way is missing
    return std::unexpected(sys_error("open", path, e));
  }
  return d;
}

Result<Fd> LocalTransport::open_parent(const std::string& path, std::string& leaf) const {
  auto parts = components(path);
  if (parts.empty() || parts.back() == "." || parts.back() == "..")
    return std::unexpected(make_error(ErrorCode::io, path + ": not a path to a file or directory"));
  leaf = std::move(parts.back());
  parts.pop_back();
  return walk(parts, path);
}

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

std::vector<Result<ExecResult>> LocalTransport::run_batch(const std::vector<ExecRequest>& reqs) {
  // (Split into a shell per core, the batch took as long here: forks do not run in parallel
  // on this kind of VM. One shell.)
  if (reqs.size() < 2 || !std::all_of(reqs.begin(), reqs.end(), batchable)) return Transport::run_batch(reqs);
  return run_in_one_shell(*this, reqs);
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
  // A directory that cannot be reached is remembered as -1: its paths are looked up whole,
  // which reports absence or the error as usual.
  auto d = walk(components(dir), dir);
  int fd = d && d->fd >= 0 ? std::exchange(d->fd, -1) : -1;
  dirs_.emplace(dir, fd);
  return fd;
}

Result<FileInfo> LocalTransport::stat(const std::string& path) {
  CONVERGE_TRY(Inspection in, inspect(path, false));
  return in.info;
}

Result<Inspection> LocalTransport::inspect(const std::string& path, bool content) {
  Inspection in;
  if (path.find_first_not_of('/') == std::string::npos) {  // "/": the root itself
    CONVERGE_TRY(Fd root, walk({}, path));
    struct stat st {};
    if (::fstat(root.fd, &st) != 0) return std::unexpected(sys_error("stat", path));
    in.info = info_of(st);
    return in;
  }
  std::string leaf;
  Fd parent;
  int at = -1;
  if (auto slash = path.find_last_of('/'); slash != std::string::npos && slash + 1 < path.size()) {
    at = held_dir(slash == 0 ? std::string("/") : path.substr(0, slash));
    leaf = path.substr(slash + 1);
  }
  if (at < 0 || leaf == "." || leaf == "..") {
    CONVERGE_TRY(parent, open_parent(path, leaf));
    if (parent.fd < 0) return in;  // a directory on the way is missing: absent
    at = parent.fd;
  }
  struct stat st {};
  if (::fstatat(at, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return in;
    return std::unexpected(sys_error("stat", path));
  }
  in.info = info_of(st);
  if (!content || !in.info.is_regular) return in;
  // O_NONBLOCK|O_NOFOLLOW: a file swapped for a FIFO or a symlink since the stat neither
  // blocks nor is followed.
  Fd fd(::openat(at, leaf.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (fd.fd < 0) return std::unexpected(sys_error("open", path));
  CONVERGE_TRY(in.content, read_fd(fd.fd, in.info.size, path));
  return in;
}

Result<std::string> LocalTransport::read(const std::string& path, std::uint64_t size_hint) {
  std::string leaf;
  CONVERGE_TRY(Fd parent, open_parent(path, leaf));
  if (parent.fd < 0) return std::unexpected(sys_error("open", path, ENOENT));
  Fd fd(::openat(parent.fd, leaf.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (fd.fd < 0) return std::unexpected(sys_error("open", path));
  return read_fd(fd.fd, size_hint, path);
}

Result<Fd> LocalTransport::parent_of(const std::string& path, std::string& leaf) const {
  CONVERGE_TRY(Fd parent, open_parent(path, leaf));
  if (parent.fd < 0) return std::unexpected(sys_error("open the directory of", path, ENOENT));
  return parent;
}

Result<std::string> LocalTransport::create_temp(const std::string& path, const std::string& content, std::uint32_t mode,
                                                const Ownership& owner, bool durable_now) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, parent_of(path, leaf));
  const std::string name = ".converge-" + temp_owner() + std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  Fd fd(::openat(dir.fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.fd < 0) return std::unexpected(sys_error("create", path));
  auto fail = [&](Error e) -> Result<std::string> {
    ::unlinkat(dir.fd, name.c_str(), 0);
    return std::unexpected(std::move(e));
  };
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return fail(sys_error("stat", path));
  if (auto w = write_all(fd.fd, content, path); !w) return fail(w.error());
  // Owner before mode: fchown clears setuid and setgid.
  if ((owner.uid && *owner.uid != st.st_uid) || (owner.gid && *owner.gid != st.st_gid))
    if (::fchown(fd.fd, owner.uid ? *owner.uid : static_cast<uid_t>(-1), owner.gid ? *owner.gid : static_cast<gid_t>(-1)) != 0 &&
        !(owner.carried_over && errno == EPERM))
      return fail(sys_error("chown", path));
  if (::fchmod(fd.fd, mode) != 0) return fail(sys_error("chmod", path));
  if (durable_now) {
    if (::fsync(fd.fd) != 0) return fail(sys_error("fsync", path));
  } else {
    // The batch's sync() needs one descriptor on each filesystem written to: keep a
    // duplicate of the first (syncfs takes any descriptor, and needs no path lookup).
    std::lock_guard lock(unsynced_mu_);
    if (!unsynced_.count(st.st_dev)) {
      int keep = ::fcntl(fd.fd, F_DUPFD_CLOEXEC, 0);
      if (keep < 0) return fail(sys_error("dup", path));
      unsynced_.emplace(st.st_dev, keep);
    }
  }
  if (::close(std::exchange(fd.fd, -1)) != 0) return fail(sys_error("close", path));
  // The temporary's real path, beside its target.
  return real(dir_of(path)) + (real(dir_of(path)) == "/" ? "" : "/") + name;
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
  std::string leaf;
  const std::string temp_leaf = temp.substr(temp.find_last_of('/') + 1);
  auto dir = parent_of(path, leaf);
  if (!dir || dir_of(temp) != real(dir_of(path))) {
    discard_temp(temp);
    if (!dir) return std::unexpected(sys_error("rename onto", path, ENOENT));
    return std::unexpected(make_error(ErrorCode::internal, temp + " is not beside " + path));
  }
  if (::renameat(dir->fd, temp_leaf.c_str(), dir->fd, leaf.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dir->fd, temp_leaf.c_str(), 0);
    return std::unexpected(sys_error("rename onto", path, e));
  }
  return {};
}

void LocalTransport::discard_temp(const std::string& temp) {
  // `temp` is a real path from create_temp(): its node path is below the root.
  if (!root_.empty() && !temp.starts_with(root_ + "/")) return;
  std::string leaf;
  if (auto dir = open_parent(temp.substr(root_.size()), leaf); dir && dir->fd >= 0) ::unlinkat(dir->fd, leaf.c_str(), 0);
}

namespace {

/// Whether the temporary `name` (".converge-PID-START-N.tmp" as create_temp() names them;
/// ".converge-PID-N.tmp" from earlier versions) was left by a process no longer running.
/// The start time tells a reused pid (a container's PID 1 after a restart) from its writer.
bool stale_temp(std::string_view name) {
  if (!name.starts_with(".converge-") || !name.ends_with(".tmp")) return false;
  std::string_view rest = name.substr(10, name.size() - 14);
  std::vector<unsigned long long> n;
  while (!rest.empty()) {
    unsigned long long v = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
    if (ec != std::errc()) return false;
    n.push_back(v);
    rest.remove_prefix(static_cast<std::size_t>(p - rest.data()));
    if (!rest.empty() && rest.front() != '-') return false;
    if (!rest.empty()) rest.remove_prefix(1);
  }
  if (n.size() != 2 && n.size() != 3) return false;
  const pid_t pid = static_cast<pid_t>(n[0]);
  if (pid <= 0) return false;
  if (n.size() == 2) return pid != ::getpid() && ::kill(pid, 0) != 0 && errno == ESRCH;
  return process_start(pid) != n[1];  // gone, or another process under the same pid
}

/// Removes the tree `name` in `dfd`, every entry relative to its directory's descriptor,
/// never following a link (a link is removed, not its target).
Status remove_tree(int dfd, const std::string& name, const std::string& path) {
  Fd d(::openat(dfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (d.fd < 0) return std::unexpected(sys_error("open", path));
  DIR* h = ::fdopendir(::fcntl(d.fd, F_DUPFD_CLOEXEC, 0));
  if (!h) return std::unexpected(sys_error("read", path));
  std::vector<std::pair<std::string, bool>> entries;
  while (const dirent* e = ::readdir(h)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    bool is_dir = ::fstatat(d.fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    entries.emplace_back(e->d_name, is_dir);
  }
  ::closedir(h);
  for (const auto& [n, is_dir] : entries) {
    if (is_dir) {
      CONVERGE_CHECK(remove_tree(d.fd, n, path + "/" + n));
    } else if (::unlinkat(d.fd, n.c_str(), 0) != 0 && errno != ENOENT) {
      return std::unexpected(sys_error("remove", path + "/" + n));
    }
  }
  if (::unlinkat(dfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) return std::unexpected(sys_error("remove", path));
  return {};
}

}  // namespace

int LocalTransport::sweep_temps(const std::string& dir) {
  auto d = walk(components(dir), dir);
  if (!d || d->fd < 0) return 0;
  DIR* h = ::fdopendir(::openat(d->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!h) return 0;
  int removed = 0;
  while (const dirent* e = ::readdir(h))
    if (stale_temp(e->d_name) && ::unlinkat(::dirfd(h), e->d_name, 0) == 0) ++removed;
  ::closedir(h);
  return removed;
}

Status LocalTransport::write_atomic(const std::string& path, const std::string& content, std::uint32_t mode) {
  CONVERGE_TRY(std::string temp, create_temp(path, content, mode, {}, true));
  return commit_temp(temp, path);
}

Status LocalTransport::make_dir(const std::string& path, std::uint32_t mode) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, parent_of(path, leaf));
  if (::mkdirat(dir.fd, leaf.c_str(), mode) != 0) return std::unexpected(sys_error("mkdir", path));
  // The mode as given, whatever the umask; through a descriptor of the new directory (a
  // link swapped in meanwhile is not followed).
  Fd made(::openat(dir.fd, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (made.fd < 0 || ::fchmod(made.fd, mode) != 0) return std::unexpected(sys_error("chmod", path));
  return {};
}

Status LocalTransport::chmod(const std::string& path, std::uint32_t mode) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, parent_of(path, leaf));
  // AT_SYMLINK_NOFOLLOW: the leaf is looked up once, relative to its directory, and a link
  // swapped in since the observation is refused, not followed.
  if (::fchmodat(dir.fd, leaf.c_str(), mode, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == EOPNOTSUPP)
      return std::unexpected(make_error(ErrorCode::io, "chmod " + path + ": it is a symbolic link; not followed"));
    return std::unexpected(sys_error("chmod", path));
  }
  return {};
}

Status LocalTransport::chown(const std::string& path, std::optional<std::uint32_t> uid, std::optional<std::uint32_t> gid) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, parent_of(path, leaf));
  if (::fchownat(dir.fd, leaf.c_str(), uid ? *uid : static_cast<uid_t>(-1), gid ? *gid : static_cast<gid_t>(-1),
                 AT_SYMLINK_NOFOLLOW) != 0)
    return std::unexpected(sys_error("chown", path));
  return {};
}

Status LocalTransport::remove(const std::string& path, bool recursive) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, open_parent(path, leaf));
  if (dir.fd < 0) return {};  // already gone with its directory
  struct stat st {};
  if (::fstatat(dir.fd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(sys_error("remove", path));
  }
  if (S_ISDIR(st.st_mode) && recursive) return remove_tree(dir.fd, leaf, path);
  if (::unlinkat(dir.fd, leaf.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT)
    return std::unexpected(sys_error("remove", path));
  return {};
}

Result<std::optional<std::string>> LocalTransport::read_link(const std::string& path) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, open_parent(path, leaf));
  if (dir.fd < 0) return std::optional<std::string>();
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir.fd, leaf.c_str(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<std::string>();
      if (errno == EINVAL) return std::unexpected(make_error(ErrorCode::action_failed, path + " exists and is not a symbolic link"));
      return std::unexpected(sys_error("readlink", path));
    }
    if (static_cast<std::size_t>(n) < buf.size()) return std::optional<std::string>(buf.substr(0, static_cast<std::size_t>(n)));
    buf.resize(buf.size() * 4);
  }
}

Status LocalTransport::make_link(const std::string& path, const std::string& target) {
  std::string leaf;
  CONVERGE_TRY(Fd dir, parent_of(path, leaf));
  struct stat st {};
  if (::fstatat(dir.fd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
    return std::unexpected(make_error(ErrorCode::action_failed, path + " is a directory; a link does not replace one"));
  // Named as a file's temporary: a run killed before the rename leaves one that the next
  // run's recovery (sweep_temps) removes.
  const std::string name = ".converge-" + temp_owner() + std::to_string(temp_counter.fetch_add(1)) + ".tmp";
  if (::symlinkat(target.c_str(), dir.fd, name.c_str()) != 0) return std::unexpected(sys_error("symlink", path));
  if (::renameat(dir.fd, name.c_str(), dir.fd, leaf.c_str()) != 0) {
    int e = errno;
    ::unlinkat(dir.fd, name.c_str(), 0);
    return std::unexpected(sys_error("rename onto", path, e));
  }
  // The rename is durable once its directory is (the directory is held O_PATH: opened again).
  Fd d(::openat(dir.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.fd < 0 || ::fsync(d.fd) != 0) return std::unexpected(sys_error("fsync", dir_of(path)));
  return {};
}

std::uint32_t LocalTransport::umask() const {
  static const std::uint32_t mask = [] {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
      if (line.starts_with("Umask:")) return static_cast<std::uint32_t>(std::stoul(line.substr(6), nullptr, 8));
    return std::uint32_t{022};
  }();
  return mask;
}

Result<std::uint32_t> LocalTransport::user_id(const std::string& name) {
  CONVERGE_TRY(auto id, numeric_id(name));
  if (id) return *id;
  passwd pw{}, *res = nullptr;
  char buf[4096];
  if (::getpwnam_r(name.c_str(), &pw, buf, sizeof buf, &res) != 0 || !res)
    return std::unexpected(make_error(ErrorCode::action_failed, "no such user '" + name + "'"));
  return pw.pw_uid;
}

Result<std::uint32_t> LocalTransport::group_id(const std::string& name) {
  CONVERGE_TRY(auto id, numeric_id(name));
  if (id) return *id;
  group gr{}, *res = nullptr;
  char buf[4096];
  if (::getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &res) != 0 || !res)
    return std::unexpected(make_error(ErrorCode::action_failed, "no such group '" + name + "'"));
  return gr.gr_gid;
}

std::optional<std::string> LocalTransport::user_name(std::uint32_t uid) {
  passwd pw{}, *res = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &res) != 0 || !res) return std::nullopt;
  return std::string(pw.pw_name);
}

std::optional<std::string> LocalTransport::group_name(std::uint32_t gid) {
  group gr{}, *res = nullptr;
  char buf[4096];
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &res) != 0 || !res) return std::nullopt;
  return std::string(gr.gr_name);
}

}  // namespace converge
