#include "engine/state/lock.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

#include <nlohmann/json.hpp>

namespace converge {

std::string user_name() {
  passwd pw{}, *res = nullptr;
  char buf[1024];
  if (::getpwuid_r(::getuid(), &pw, buf, sizeof buf, &res) == 0 && res) return pw.pw_name;
  return std::to_string(::getuid());
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms));
  return out;
}

namespace {

/// Who holds the lock, from its record (the lock file), for a refusal.
std::string holder_of(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return "another run (its lock file " + path + " was removed)";
  char buf[1024] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  auto j = nlohmann::json::parse(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), nullptr, false);
  if (!j.is_object()) return "another process";
  return "pid " + std::to_string(j.value("pid", 0L)) + " on " + j.value("host", "?") + " (converge " +
         j.value("command", "?") + ", started " + j.value("started", "?") + ")";
}

}  // namespace

Result<RunLock> RunLock::acquire(const std::string& state_dir, const std::string& command) {
  // The lock is on the state directory itself: unlike a file in it, a directory holding the
  // journal cannot be unlinked from under its holder (a tmp cleaner removing `lock` does
  // not let a second run in). The `lock` file only records who holds it.
  const std::string path = state_dir + "/lock";
  int dfd = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return std::unexpected(make_error(ErrorCode::io, "cannot open state directory " + state_dir + ": " + std::strerror(errno)));
  if (::flock(dfd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(dfd);
    if (err != EWOULDBLOCK)
      return std::unexpected(make_error(ErrorCode::io, "cannot lock " + state_dir + ": " + std::strerror(err)));
    return std::unexpected(make_error(ErrorCode::locked, "state directory " + state_dir + " is locked by " + holder_of(path)));
  }
  nlohmann::json info{{"pid", static_cast<long>(::getpid())}, {"host", host_name()}, {"started", now_iso()}, {"command", command}};
  std::string text = info.dump() + "\n";
  int fd = ::openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) {
    // The holder record is only informative: the lock is held either way.
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) < 0) {
    }
    ::close(fd);
  }
  return RunLock(dfd);
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace converge
