// Where a manifest's state lives when no --state-dir is given: one directory per manifest,
// outside the work tree (an operator's git checkout stays clean, and two manifests of one
// folder keep their journals and locks apart).
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>

#include "engine/cli/commands.h"
#include "engine/model/sha256.h"

namespace converge {

namespace fs = std::filesystem;

namespace {

/// The manifest's absolute path with symlinks and ".." resolved as far as it exists.
fs::path canonical_manifest(const std::string& manifest_path) {
  std::error_code ec;
  fs::path abs = fs::absolute(manifest_path, ec);
  fs::path canon = fs::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal() : canon;
}

/// A file name from the manifest's stem: letters, digits, '.', '_' and '-' kept, the rest '_'.
std::string safe_stem(const fs::path& manifest) {
  std::string s = manifest.stem().string();
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') c = '_';
  if (s.empty() || s[0] == '.') s.insert(0, "m");
  return s.substr(0, 64);
}

}  // namespace

std::string state_base_dir() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && xdg[0] == '/') return (fs::path(xdg) / "converge").string();
  if (::geteuid() == 0) return "/var/lib/converge";
  const char* home = std::getenv("HOME");
  if (home && home[0] == '/') return (fs::path(home) / ".local/state/converge").string();
  return {};  // no home: never a guessable directory in /tmp that another user could make first
}

std::string legacy_state_dir(const std::string& manifest_path) {
  return (canonical_manifest(manifest_path).parent_path() / ".converge").string();
}

std::string state_url(const GlobalOptions& opts) {
  if (!opts.state_url.empty()) return opts.state_url;
  const char* env = std::getenv("CONVERGE_STATE");
  return env ? env : "";
}

std::string default_state_dir(const std::string& manifest_path) {
  if (const char* env = std::getenv("CONVERGE_STATE_DIR"); env && *env) return env;
  // A state directory an earlier version kept beside the manifest goes on being used: its
  // journal may hold an interrupted run that this one must finish.
  std::string legacy = legacy_state_dir(manifest_path);
  std::error_code ec;
  if (fs::is_regular_file(fs::path(legacy) / "journal.db", ec)) return legacy;
  fs::path manifest = canonical_manifest(manifest_path);
  const std::string base = state_base_dir();
  if (base.empty()) return legacy;
  return (fs::path(base) / (safe_stem(manifest) + "-" + sha256_hex(manifest.string()).substr(0, 12))).string();
}

std::string manifest_identity(const std::string& manifest_path) { return canonical_manifest(manifest_path).string(); }

}  // namespace converge
