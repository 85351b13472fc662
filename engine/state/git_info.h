// engine/state/git_info.h — which version of a manifest a run applied.
#pragma once

#include <string>
#include <vector>

namespace converge {

/// The git state of a set of files.
struct GitInfo {
  bool in_git = false;
  std::string work_tree;
  std::string commit;  ///< HEAD's commit, 40 hex digits
};

/// Finds the work tree enclosing `dir` and reads HEAD from .git without running git
/// (cheap enough for every run). in_git is false outside a work tree.
[[nodiscard]] GitInfo git_head(const std::string& dir);

/// Runs `git status --porcelain` on the files: 1 if any differs from HEAD (edited,
/// staged or untracked), 0 if clean, -1 if git could not tell.
[[nodiscard]] int git_dirty(const GitInfo& info, const std::vector<std::string>& files);

}  // namespace converge
