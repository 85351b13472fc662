// engine/state/lock.h — one run per state directory.
//
// The lock is an flock(2) on the state directory itself, so the kernel releases it when its
// holder dies, however it dies: a lock left by a dead process is simply free, and the next
// run takes it over. Deleting a file cannot bypass it (a tmp cleaner removing <state>/lock);
// that file only records the holder (pid, host, start time) so that a refused run can name it.
#pragma once

#include <string>

#include "engine/model/error.h"

namespace converge {

/// Who holds a lock.
struct LockHolder {
  long pid = 0;
  std::string host;
  std::string started;  ///< ISO 8601 UTC
  std::string command;
};

/// A held lock; released on destruction.
class RunLock {
 public:
  /// Takes the lock without waiting. ErrorCode::locked (naming the holder) when another
  /// live process holds it; ErrorCode::io when the file cannot be opened.
  [[nodiscard]] static Result<RunLock> acquire(const std::string& state_dir, const std::string& command);
  RunLock(RunLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  RunLock& operator=(RunLock&&) = delete;
  ~RunLock();

 private:
  explicit RunLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

/// The name of the user running this process.
[[nodiscard]] std::string user_name();
/// The host name of this machine.
[[nodiscard]] std::string host_name();
/// Now as ISO 8601 UTC with milliseconds: 2026-11-25T14:40:23.123Z.
[[nodiscard]] std::string now_iso();

}  // namespace converge
