// resources/shell_batch.h — several commands in one POSIX shell: one process (local) or one
// round trip (ssh) for a node's whole observation instead of one per probe.
//
// The script goes to `sh -s` on stdin, never on a command line. Each command runs in its own
// subshell (`exec`ed, its stdin /dev/null, its environment as assignments, so no value is in
// any argv), its output captured in a private temporary directory, then framed on stdout:
// "@converge-batch@ INDEX EXIT OUT_BYTES ERR_BYTES\n" and the two outputs, byte for byte. A
// command's failure does not stop the next. Pure, apart from run_in_one_shell().
#pragma once

#include <string>
#include <vector>

#include "resources/transport.h"

namespace converge {

/// Quotes one word for a POSIX shell: 'it'\''s'.
[[nodiscard]] std::string shell_quote(const std::string& s);

/// True when a request can run in a batch: it has no input of its own.
[[nodiscard]] bool batchable(const ExecRequest& req);

/// The script that runs `reqs` in order. REQUIRES: every request batchable().
[[nodiscard]] std::string batch_script(const std::vector<ExecRequest>& reqs);

/// What the batch's shell printed, back into one result per request: those whose frame is
/// missing (the shell died or timed out first) carry `missing` (timed_out, or an error).
[[nodiscard]] std::vector<Result<ExecResult>> read_batch(const std::string& out, std::size_t n, bool timed_out,
                                                         const std::string& why_missing);

/// Runs `reqs` through `runner` as one `/bin/sh -s` (one run() call); the batch may take the
/// sum of the requests' time limits. When the batch's output was cut (past what a run keeps)
/// or its shell failed, the commands whose results are missing run again one by one.
/// REQUIRES: every request batchable().
[[nodiscard]] std::vector<Result<ExecResult>> run_in_one_shell(CommandRunner& runner, const std::vector<ExecRequest>& reqs);

}  // namespace converge
