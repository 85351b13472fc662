#include "resources/ssh_transport.h"

#include "resources/process.h"

namespace converge {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

SshTransport::SshTransport(std::string node, TransportSpec spec, std::string control_dir)
    : node_(std::move(node)), spec_(std::move(spec)), control_dir_(std::move(control_dir)) {}

std::string SshTransport::describe() const { return "ssh " + (spec_.host.empty() ? node_ : spec_.host); }

std::vector<std::string> SshTransport::ssh_argv(const ExecRequest& req) const {
  std::vector<std::string> a = {"ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o",
                                "ControlPath=" + control_dir_ + "/%C", "-o", "ControlPersist=60"};
  if (spec_.port) a.insert(a.end(), {"-p", std::to_string(spec_.port)});
  for (const auto& o : spec_.options) a.insert(a.end(), {"-o", o});
  std::string host = spec_.host.empty() ? node_ : spec_.host;
  a.push_back(spec_.user.empty() ? host : spec_.user + "@" + host);
  a.push_back("--");
  std::string line;
  if (!req.cwd.empty()) line += "cd " + shell_quote(req.cwd) + " && ";
  if (!req.env.empty()) {
    line += "env";
    for (const auto& [k, v] : req.env) line += " " + shell_quote(k + "=" + v);
    line += " ";
  }
  for (std::size_t i = 0; i < req.argv.size(); ++i) line += (i ? " " : "") + shell_quote(req.argv[i]);
  a.push_back(line);
  return a;
}

Result<ExecResult> SshTransport::run(const ExecRequest& req) {
  ExecRequest local;
  local.argv = ssh_argv(req);
  local.timeout = req.timeout;
  local.stdin_data = req.stdin_data;
  CONVERGE_TRY(ExecResult r, run_process(local));
  if (r.exit_code == 255 && !r.timed_out)  // ssh's own failure: the node is not reachable
    return std::unexpected(make_error(ErrorCode::unreachable, "ssh to " + node_ + " failed: " + r.err));
  return r;
}

Result<std::string> SshTransport::boot_id() {
  CONVERGE_TRY(ExecResult r, run(ExecRequest{{"cat", "/proc/sys/kernel/random/boot_id"}, {}, "", std::chrono::seconds(30), ""}));
  if (r.exit_code != 0) return std::unexpected(make_error(ErrorCode::unreachable, "cannot read boot_id on " + node_));
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  return r.out;
}

}  // namespace converge
