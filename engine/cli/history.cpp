// `converge history [RUN|MANIFEST]`: the runs recorded in a journal, one run's steps, or the
// state directories there are.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/cli/commands.h"
#include "engine/state/journal.h"
#include "engine/cli/report.h"

namespace converge {

namespace {

std::string version_text(const RunRow& r) {
  std::string v;
  if (!r.git_commit.empty()) v = r.git_commit.substr(0, 12) + (r.git_dirty == 1 ? " (dirty)" : "");
  else if (r.git_dirty == 1) v = "(uncommitted)";
  else v = "(not in git)";
  return v + " sha256:" + r.manifest_sha256.substr(0, 12);
}

nlohmann::json run_json(const RunRow& r) {
  nlohmann::json j{{"id", r.id},           {"command", r.command},       {"status", status_word(r.status)},
                   {"exit_code", r.exit_code}, {"started_at", r.started_at}, {"ended_at", r.ended_at},
                   {"user", r.user},       {"host", r.host},             {"pid", r.pid},
                   {"changes", r.changes}, {"failed", r.failed},
                   {"manifest", {{"path", r.manifest_path}, {"sha256", r.manifest_sha256}}}};
  if (!r.git_commit.empty()) j["manifest"]["git_commit"] = r.git_commit;
  if (r.git_dirty >= 0) j["manifest"]["git_dirty"] = r.git_dirty == 1;
  if (!r.note.empty()) j["note"] = r.note;
  return j;
}

int show_run(Journal& journal, long long id, const GlobalOptions& opts) {
  auto run = journal.run(id);
  if (!run || !*run) {
    std::cerr << "converge history: no run #" << id << " in the journal\n";
    return kExitError;
  }
  auto steps = journal.steps(id);
  auto drift = journal.drift(id);
  if (!steps || !drift) {
    std::cerr << "converge history: " << (!steps ? steps.error() : drift.error()).describe() << "\n";
    return kExitError;
  }
  if (opts.json) {
    nlohmann::json j{{"command", "history"}, {"run", run_json(**run)}};
    auto arr = nlohmann::json::array();
    for (const auto& s : *steps)
      arr.push_back({{"seq", s.seq}, {"resource", s.resource}, {"action", s.action}, {"reason", s.reason},
                     {"started_at", s.started_at}, {"ended_at", s.ended_at},
                     {"outcome", s.outcome.empty() ? "interrupted" : s.outcome}, {"error", s.error},
                     {"before", nlohmann::json::parse(s.before_json.empty() ? "null" : s.before_json, nullptr, false)},
                     {"after", nlohmann::json::parse(s.after_json.empty() ? "null" : s.after_json, nullptr, false)}});
    j["steps"] = arr;
    auto d = nlohmann::json::array();
    for (const auto& row : *drift)
      d.push_back({{"resource", row[0]}, {"property", row[1]},
                   {"observed", nlohmann::json::parse(row[2], nullptr, false)},
                   {"desired", nlohmann::json::parse(row[3], nullptr, false)}});
    j["drift"] = d;
    std::cout << json_text(j) << "\n";
    return kExitOk;
  }
  const RunRow& r = **run;
  std::cout << fmt::format("run #{}: {} {} (exit {}), {} .. {}\n  by {}@{} pid {}\n  manifest {} {}\n", r.id, r.command,
                           status_word(r.status), r.exit_code, r.started_at, r.ended_at.empty() ? "?" : r.ended_at, r.user, r.host,
                           r.pid, r.manifest_path, version_text(r));
  for (const auto& s : *steps)
    std::cout << fmt::format("  {:>4}  {:<9} {:<8} {}{}\n", s.seq, s.outcome.empty() ? "INTERRUPTED" : s.outcome, s.action,
                             s.resource, s.error.empty() ? "" : "  error: " + s.error);
  for (const auto& row : *drift)
    std::cout << fmt::format("  drift {} {}: {} (desired {})\n", row[0], row[1], row[2], row[3]);
  return kExitOk;
}

}  // namespace

namespace {

/// The runs of a manifest: rows recorded with its canonical path, and rows of earlier
/// versions (a relative path) that name a file of the same name.
bool same_manifest(const RunRow& r, const std::string& identity) {
  if (r.manifest_path == identity) return true;
  return !r.manifest_path.empty() && r.manifest_path[0] != '/' &&
         std::filesystem::path(r.manifest_path).filename() == std::filesystem::path(identity).filename();
}

/// `converge history` with no manifest and no state directory: every state directory under
/// the default base, with the manifest and the last run of each.
int list_state_dirs(const GlobalOptions& opts) {
  const std::string base = state_base_dir();
  if (base.empty()) {
    std::cerr << "converge history: no home directory: name a manifest or --state-dir\n";
    return kExitError;
  }
  std::error_code ec;
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(base, ec))
    if (std::filesystem::is_regular_file(e.path() / "journal.db", ec)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  auto arr = nlohmann::json::array();
  std::string text = fmt::format("state directories under {}:\n", base);
  for (const auto& d : dirs) {
    auto journal = Journal::open(d.string());
    if (!journal) continue;
    auto runs = (*journal)->runs(1);
    if (!runs || runs->empty()) continue;
    const RunRow& r = runs->front();
    arr.push_back({{"state_dir", d.string()}, {"last_run", run_json(r)}});
    text += fmt::format("  {}\n    {}  run #{} {} {}  {}\n", r.manifest_path, r.started_at, r.id, r.command,
                        status_word(r.status), d.string());
  }
  if (opts.json) {
    std::cout << json_text(nlohmann::json{{"command", "history"}, {"base", base}, {"state_dirs", arr}}) << "\n";
  } else if (arr.empty()) {
    std::cout << "no state directory under " << base << " (no run recorded yet; or name a manifest or --state-dir)\n";
  } else {
    std::cout << text;
  }
  return kExitOk;
}

}  // namespace

int cmd_history(const std::string& manifest, long long run, const GlobalOptions& opts) {
  std::string state_dir = opts.state_dir;
  if (state_dir.empty() && !manifest.empty()) state_dir = default_state_dir(manifest);
  if (state_dir.empty()) {
    const char* env = std::getenv("CONVERGE_STATE_DIR");
    struct stat legacy {};
    if (env && *env) state_dir = env;
    else if (::stat(".converge/journal.db", &legacy) == 0) state_dir = ".converge";
    else if (run == 0) return list_state_dirs(opts);
    else {
      std::cerr << "converge history: which state? name the manifest (history RUN -m MANIFEST) or --state-dir\n";
      return kExitError;
    }
  }
  struct stat st {};
  if (::stat((state_dir + "/journal.db").c_str(), &st) != 0) {
    std::cerr << "converge history: no journal in " << state_dir << " (no run recorded yet)\n";
    return kExitError;
  }
  auto journal = Journal::open(state_dir);
  if (!journal) {
    std::cerr << "converge history: " << journal.error().describe() << "\n";
    return kExitError;
  }
  if (run > 0) return show_run(**journal, run, opts);
  auto runs = (*journal)->runs(1000);
  if (!runs) {
    std::cerr << "converge history: " << runs.error().describe() << "\n";
    return kExitError;
  }
  if (!manifest.empty()) {
    const std::string identity = manifest_identity(manifest);
    std::erase_if(*runs, [&](const RunRow& r) { return !same_manifest(r, identity); });
  }
  if (opts.json) {
    auto arr = nlohmann::json::array();
    for (const auto& r : *runs) arr.push_back(run_json(r));
    std::cout << json_text(nlohmann::json{{"command", "history"}, {"state_dir", state_dir}, {"runs", arr}}) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("state: {}\n", state_dir);
  std::cout << fmt::format("{:>5}  {:<24}  {:<8} {:<16} {:>7} {:>6}  {:<36}  {}\n", "RUN", "STARTED", "COMMAND", "STATUS",
                           "CHANGES", "FAILED", "VERSION", "MANIFEST");
  for (const auto& r : *runs)
    std::cout << fmt::format("{:>5}  {:<24}  {:<8} {:<16} {:>7} {:>6}  {:<36}  {}\n", r.id, r.started_at, r.command,
                             status_word(r.status), r.changes, r.failed, version_text(r), r.manifest_path);
  return kExitOk;
}

}  // namespace converge
