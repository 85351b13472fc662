#include "resources/inventory_command.h"

#include <chrono>
#include <filesystem>

#include "resources/process.h"

namespace converge {

Result<std::string> run_inventory_command(const std::vector<std::string>& argv, const std::string& dir) {
  ExecRequest req;
  req.argv = argv;
  // "./inventory.py" means the one beside the manifest, whatever the working directory.
  if (!argv.empty() && argv[0].find('/') != std::string::npos && argv[0][0] != '/')
    req.argv[0] = (std::filesystem::path(dir) / argv[0]).lexically_normal().string();
  req.cwd = dir;
  req.timeout = std::chrono::minutes(2);
  CONVERGE_TRY(ExecResult r, run_process(req));
  if (r.timed_out) return std::unexpected(make_error(ErrorCode::action_failed, "ran for more than 2 minutes"));
  if (r.exit_code != 0) {
    std::string tail = r.err.size() > 400 ? "..." + r.err.substr(r.err.size() - 400) : r.err;
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    return std::unexpected(make_error(ErrorCode::action_failed, "exited " + std::to_string(r.exit_code) +
                                                                    (tail.empty() ? "" : ": " + tail)));
  }
  // run_process keeps 1 MiB of output: an inventory that long was cut, maybe at a line end
  // where it still parses with nodes missing.
  if (r.out.size() >= (1u << 20))
    return std::unexpected(make_error(ErrorCode::action_failed, "printed 1 MiB or more (the most an inventory program may)"));
  return r.out;
}

}  // namespace converge
