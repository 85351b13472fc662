// engine/cli/commands.h — the commands of the CLI contract (DESIGN §4), independent of argv
// parsing. Each returns the process exit code and writes its report to stdout.
#pragma once

#include <string>
#include <vector>

#include "engine/cli/formats.h"
#include "engine/model/selection.h"

namespace converge {

/// Options common to every command.
struct GlobalOptions {
  std::string state_dir;   ///< empty: default_state_dir()
  std::string state_url;   ///< --state: a postgresql:// URL (empty: $CONVERGE_STATE, then the manifest's)
  bool json = false;       ///< one JSON document on stdout
  bool verbose = false;
  bool quiet = false;
  bool color = false;
  bool progress = false;   ///< progress lines on stderr (a terminal)
  int parallel = 0;        ///< 0 = number of cores
  double lab_speed = 0;
  bool no_cache = false;   ///< ignore the validated-model cache
  std::string graph_file;  ///< plan: write the plan as DOT here
  std::int64_t reboot_timeout_ms = 30 * 60 * 1000;  ///< wait for a restarted node this long
  int retries = 2;                                  ///< extra attempts of a timed-out or unreachable step
  std::int64_t retry_backoff_ms = 1000;             ///< first backoff; doubles each retry
  Selection selection;         ///< --limit / --tags
  Format format = Format::text;  ///< --format (--json is json)
  std::string output;          ///< --output: write the format here, atomically; stdout keeps the text
  bool syslog = false;         ///< --syslog: the run's summary to the syslog socket
  bool diff = false;           ///< --diff: unified diffs of changed file content
  std::string syslog_socket;   ///< --syslog-socket (default /dev/log)
};

/// `converge validate FILE...`: schema and semantic checks; touches no host.
[[nodiscard]] int cmd_validate(const std::vector<std::string>& files, const GlobalOptions& opts);

/// `converge apply|plan|check MANIFEST`.
[[nodiscard]] int cmd_converge(const std::string& command, const std::string& manifest, const GlobalOptions& opts);

/// The state directory of a manifest when no --state-dir is given: $CONVERGE_STATE_DIR when
/// set; else ".converge" beside the manifest when an earlier version left a journal there;
/// else STEM-HASH under state_base_dir() (HASH: 12 hex digits of the sha256 of the
/// manifest's canonical path), one per manifest.
[[nodiscard]] std::string default_state_dir(const std::string& manifest_path);

/// Where per-manifest state directories go: $XDG_STATE_HOME/converge when XDG_STATE_HOME is
/// set, /var/lib/converge as root, else ~/.local/state/converge; empty without a home
/// (default_state_dir() then keeps the state beside the manifest).
[[nodiscard]] std::string state_base_dir();

/// ".converge" beside the manifest (the default of earlier versions).
[[nodiscard]] std::string legacy_state_dir(const std::string& manifest_path);

/// The manifest's canonical absolute path, as the journal records it.
[[nodiscard]] std::string manifest_identity(const std::string& manifest_path);

/// The shared journal's URL from --state or $CONVERGE_STATE ("" for neither).
[[nodiscard]] std::string state_url(const GlobalOptions& opts);

/// `converge state migrate --from DIR --to URL`: copies a state directory's SQLite journal
/// into a shared PostgreSQL one.
[[nodiscard]] int cmd_state_migrate(const std::string& from, const std::string& to);

/// `converge lab serve --lab FILE --node NAME [--shell cmd|powershell]`: answers one ssh
/// session's command ($SSH_ORIGINAL_COMMAND) as lab node NAME (engine/cli/lab_serve.cpp).
[[nodiscard]] int cmd_lab_serve(const std::string& lab_file, const std::string& node, const std::string& shell,
                                const GlobalOptions& opts);

/// `converge lab summary --lab FILE`: the lab's outage per group and its violations (exit 3
/// when there is one), read without changing it.
[[nodiscard]] int cmd_lab_summary(const std::string& lab_file, const GlobalOptions& opts);

/// `converge history [RUN]`.
[[nodiscard]] int cmd_history(const std::string& manifest, long long run, const GlobalOptions& opts);

}  // namespace converge
