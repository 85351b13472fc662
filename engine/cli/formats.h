// engine/cli/formats.h — what monitoring and CI read from a run: a Prometheus
// node_exporter textfile, JUnit XML, a Nagios plugin line; and a run summary sent to syslog.
// Pure renderers over a Report, plus the two side effects (an atomic file write, a datagram
// to the syslog socket).
#pragma once

#include <ctime>
#include <string>

#include "engine/cli/report.h"

namespace converge {

/// The output formats of `--format`.
enum class Format { text, json, prometheus, junit, nagios };

/// "text" / "json" / ... to a Format; nullopt for an unknown word.
[[nodiscard]] std::optional<Format> parse_format(const std::string& word);

/// The Prometheus text exposition (node_exporter's textfile collector): per node and type,
/// the resources checked, drifted and unobservable; the run's time, duration, exit code and
/// status (one 0/1 series per status word). `now` is the run's end, in seconds.
[[nodiscard]] std::string prometheus_text(const Report& r, std::time_t now);

/// JUnit XML: one test suite for the manifest, one test case per resource (classname the
/// node, name the resource); drift is a failure, a resource that could not be observed or
/// failed to apply an error, one left out skipped. A run that observed nothing (an invalid
/// manifest, a held lock) is one test case with an error.
[[nodiscard]] std::string junit_xml(const Report& r, std::time_t now);

/// A Nagios plugin's output: the line (status, summary, perfdata) and its exit code
/// (0 OK: in sync or converged; 1 WARNING: drift or changes pending; 2 CRITICAL: failed,
/// refused, halted; 3 UNKNOWN: invalid manifest, held lock, interrupted).
struct NagiosResult {
  std::string line;
  int exit_code = 3;
};
[[nodiscard]] NagiosResult nagios_result(const Report& r);

/// The one-line run summary that --syslog sends ("check site.yaml: drift, 3 of 40 drifted").
[[nodiscard]] std::string summary_line(const Report& r);

/// Writes `text` to `path` atomically: a temporary beside it, fsync, rename. A reader (the
/// textfile collector) sees the old file or the new one, never half of one.
[[nodiscard]] Status write_atomically(const std::string& path, const std::string& text);

/// Sends one message to the local syslog socket (the datagram syslog(3) sends, facility
/// user, ident "converge" with the pid) at a severity from the run's status. `socket_path`
/// empty: /dev/log.
[[nodiscard]] Status send_syslog(const Report& r, const std::string& socket_path);

}  // namespace converge
