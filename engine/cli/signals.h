// engine/cli/signals.h — what SIGINT, SIGTERM and SIGHUP do to converge: no further step
// starts, the running command is asked to end (its process group gets SIGTERM; SIGKILL
// after a grace period or at a second signal), the run is journaled as interrupted (exit
// 130) and says what a rerun will do. SIGPIPE is ignored: a closed progress pipe
// (`converge apply M 2>&1 | head`) must not kill a rollout mid-step.
#pragma once

#include <chrono>

namespace converge {

/// How long a running command is given to end after SIGTERM before it is killed.
inline constexpr std::chrono::seconds kSignalGrace{10};

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread it starts after, ignores
/// SIGPIPE, and starts the thread that takes those signals. REQUIRES: called once, first
/// thing in main, before any other thread exists.
void install_signal_handling();

/// The signal that interrupted this process (SIGINT, SIGTERM, SIGHUP), or 0. Thread-safe.
[[nodiscard]] int interrupted_by();

}  // namespace converge
