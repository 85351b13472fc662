// engine/cli/commands.h — the commands of the CLI contract (DESIGN §4), independent of argv
// parsing. Each returns the process exit code and writes its report to stdout.
#pragma once

#include <string>
#include <vector>

namespace converge {

/// Options common to every command.
struct GlobalOptions {
  std::string state_dir;   ///< empty: ".converge" beside the manifest
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
};

/// `converge validate FILE...`: schema and semantic checks; touches no host.
[[nodiscard]] int cmd_validate(const std::vector<std::string>& files, const GlobalOptions& opts);

/// `converge apply|plan|check MANIFEST`.
[[nodiscard]] int cmd_converge(const std::string& command, const std::string& manifest, const GlobalOptions& opts);

/// The default state directory: ".converge" beside the manifest.
[[nodiscard]] std::string default_state_dir(const std::string& manifest_path);

/// `converge history [RUN]`.
[[nodiscard]] int cmd_history(const std::string& manifest, long long run, const GlobalOptions& opts);

}  // namespace converge
