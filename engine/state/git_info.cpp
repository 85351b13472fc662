#include "engine/state/git_info.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "resources/process.h"

namespace converge {

namespace fs = std::filesystem;

namespace {

std::string read_first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

/// Resolves a ref name through loose refs, then packed-refs.
std::string resolve_ref(const fs::path& git_dir, const fs::path& common_dir, const std::string& ref) {
  for (const auto& base : {git_dir, common_dir}) {
    std::string v = read_first_line(base / ref);
    if (v.size() >= 40) return v.substr(0, 40);
  }
  std::ifstream packed(common_dir / "packed-refs");
  std::string line;
  while (std::getline(packed, line)) {
    if (line.size() > 41 && line[40] == ' ' && line.substr(41) == ref) return line.substr(0, 40);
  }
  return {};
}

}  // namespace

GitInfo git_head(const std::string& dir) {
  GitInfo info;
  std::error_code ec;
  for (fs::path p = fs::absolute(dir, ec); !p.empty(); p = p.parent_path()) {
    fs::path dot = p / ".git";
    fs::path git_dir;
    if (fs::is_directory(dot, ec)) {
      git_dir = dot;
    } else if (fs::is_regular_file(dot, ec)) {  // worktree or submodule: "gitdir: PATH"
      std::string line = read_first_line(dot);
      if (line.rfind("gitdir: ", 0) != 0) return info;
      git_dir = fs::path(line.substr(8));
      if (git_dir.is_relative()) git_dir = p / git_dir;
    }
    if (!git_dir.empty()) {
      fs::path common = git_dir;
      if (std::string c = read_first_line(git_dir / "commondir"); !c.empty())
        common = fs::path(c).is_relative() ? git_dir / c : fs::path(c);
      std::string head = read_first_line(git_dir / "HEAD");
      info.in_git = true;
      info.work_tree = p.string();
      if (head.rfind("ref: ", 0) == 0) info.commit = resolve_ref(git_dir, common, head.substr(5));
      else if (head.size() >= 40) info.commit = head.substr(0, 40);
      return info;
    }
    if (p == p.root_path()) break;
  }
  return info;
}

int git_dirty(const GitInfo& info, const std::vector<std::string>& files) {
  if (!info.in_git) return -1;
  ExecRequest req;
  req.argv = {"git", "-C", info.work_tree, "status", "--porcelain", "--untracked-files=all", "--"};
  for (const auto& f : files) req.argv.push_back(f);
  req.timeout = std::chrono::seconds(20);
  auto r = run_process(req);
  if (!r || r->exit_code != 0 || r->timed_out) return -1;
  return r->out.empty() ? 0 : 1;
}

}  // namespace converge
