// resources/process.h — running a program by argv on this machine.
//
// posix_spawnp with pipes; no shell is involved at any point. The child gets its own
// process group so that a timeout kills everything it started.
#pragma once

#include "resources/transport.h"

namespace converge {

/// Runs req.argv to completion or timeout. Thread-safe. Errors only when the program could
/// not be started (not found, not executable): the message names the program.
[[nodiscard]] Result<ExecResult> run_process(const ExecRequest& req);

/// Sends `sig` to the process group of every command running now (an interrupted run asks
/// them to end with SIGTERM, then ends them with SIGKILL). Async-signal-unsafe: call it
/// from a thread, not a signal handler. Thread-safe.
void signal_running(int sig);

/// From now on run_process() starts nothing and returns an error at once. Thread-safe.
void stop_starting();

}  // namespace converge
