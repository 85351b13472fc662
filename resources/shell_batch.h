// resources/shell_batch.h — several commands in one POSIX shell: one process (local) or one
// round trip (ssh) for a node's whole observation instead of one per probe.
//
// The script goes to `sh -s` on stdin, never on a command line. Each command runs in its own
// subshell (`exec`ed, or a `sh -c` script eval'ed in it; its stdin /dev/null, its
// environment as assignments, so no value is in any argv) writing straight to the batch's
// stdout and stderr, between frames that carry a random boundary drawn for this batch:
// "BOUNDARY INDEX\n" before, "\nBOUNDARY INDEX EXIT\n" after (stdout) and "\nBOUNDARY
// INDEX\n" (stderr). The shell starts no helper process of its own, and a command's output
// comes back byte for byte. A command's failure does not stop the next. Pure, apart from
// run_in_one_shell().
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "resources/transport.h"

namespace converge {

/// Quotes one word for a POSIX shell: 'it'\''s'.
[[nodiscard]] std::string shell_quote(const std::string& s);

/// True when a request can run in a batch: it has no input of its own.
[[nodiscard]] bool batchable(const ExecRequest& req);

/// The script that runs `reqs` in order, framing their outputs with `boundary` (which no
/// output may contain: run_in_one_shell draws 128 random bits). REQUIRES: every request
/// batchable(); `boundary` non-empty, of letters and digits.
[[nodiscard]] std::string batch_script(const std::vector<ExecRequest>& reqs, const std::string& boundary);

/// What the batch's shell printed, back into one result per request: those whose frames are
/// missing or cut (the shell died or timed out first, or the output was cut past what a run
/// keeps) carry `missing` (timed_out, or an error).
[[nodiscard]] std::vector<Result<ExecResult>> read_batch(const std::string& out, const std::string& err,
                                                         const std::string& boundary, std::size_t n, bool timed_out,
                                                         const std::string& why_missing);

/// A boundary no command can know in advance: "converge-batch-" and 128 random bits.
[[nodiscard]] std::string draw_boundary();

/// How long a batch of `reqs`, run one after another, may take: the sum of their limits and
/// 5 s; 0 (no limit) when one of them has none.
[[nodiscard]] std::chrono::milliseconds batch_limit(std::span<const ExecRequest> reqs);

/// After a batch came back (`cut`: at its limit), runs alone what it left to do, each with
/// its own limit: when cut, the first command without a result was running and timed out,
/// and those after it never ran; otherwise each whose result is missing (its output cut
/// past what a run keeps, its shell gone). `results` parallel to `reqs`.
void rerun_missing(CommandRunner& runner, std::span<const ExecRequest> reqs, std::vector<Result<ExecResult>>& results,
                   bool cut);

/// Runs `reqs` through `runner` as one `/bin/sh -s` (one run() call); the batch may take the
/// sum of the requests' time limits (so a command's own limit is kept only as part of that
/// sum). When the batch's output was cut (past what a run keeps) or its shell failed, the
/// commands whose results are missing run again one by one; when it ran past its limit, the
/// command that was running timed out and the ones after it run one by one.
/// REQUIRES: every request batchable().
[[nodiscard]] std::vector<Result<ExecResult>> run_in_one_shell(CommandRunner& runner, const std::vector<ExecRequest>& reqs);

}  // namespace converge
