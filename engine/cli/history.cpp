// `converge history [RUN|MANIFEST]`: the runs recorded in a journal, one run's steps, or the
// state directories there are.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "engine/cli/commands.h"
#include "engine/state/journal.h"
#include "engine/state/journal_pg.h"
#include "engine/state/lock.h"
#include "engine/cli/report.h"
#include "engine/model/duration.h"
#include "engine/model/loader.h"
#include "engine/run/session.h"
#include "resources/inventory_command.h"

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
  // Each available group's outage as the run measured it, beside the planned one.
  nlohmann::json outage;
  if (auto m = journal.meta("outage:" + std::to_string(id)); m && *m) outage = nlohmann::json::parse(**m, nullptr, false);
  if (opts.json) {
    nlohmann::json j{{"command", "history"}, {"run", run_json(**run)}};
    if (outage.is_object()) j["outage"] = outage;
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
  if (outage.is_object())
    for (const auto& [group, o] : outage.items())
      std::cout << fmt::format("  outage {}: {} measured, {} planned{}\n", group, format_duration_ms(o.value("measured_s", 0) * 1000),
                               format_duration_ms(o.value("planned_s", 0) * 1000),
                               o.contains("budget_s") ? " of " + format_duration_ms(o["budget_s"].get<std::int64_t>() * 1000) : "");
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

namespace {

/// The manifest's `state: {url:}`, read without loading the whole model ("" when it has
/// none or cannot be read: the run itself reports a broken manifest).
std::string manifest_state_url(const std::string& manifest) {
  try {
    YAML::Node top = YAML::LoadFile(manifest);
    if (top.IsMap() && top["state"] && top["state"].IsMap() && top["state"]["url"])
      return top["state"]["url"].as<std::string>();
  } catch (const std::exception&) {
  }
  return "";
}

/// What runs of `manifest` lock in a shared journal (session.h's estate_lock_names).
Result<std::set<std::string>> manifest_lock_names(const std::string& manifest) {
  LoadOutcome lo = load_manifest(manifest, builtin_types(), run_inventory_command);
  if (!lo.manifest) return std::unexpected(lo.diagnostics.front());
  auto names = estate_lock_names(*lo.manifest);
  return std::set<std::string>(names.begin(), names.end());
}

/// The journal history reads and how to name it; nullptr (the reason on stderr, or the
/// state directories listed) when there is none. `code` is the exit code then.
std::unique_ptr<Journal> history_journal(const std::string& manifest, long long run, const GlobalOptions& opts,
                                         std::string& where, int& code) {
  code = kExitError;
  // --state, else --state-dir, else $CONVERGE_STATE, else the manifest's state: {url:}.
  std::string url = opts.state_url;
  if (url.empty() && opts.state_dir.empty()) url = state_url(opts);
  if (url.empty() && opts.state_dir.empty() && !manifest.empty()) url = manifest_state_url(manifest);
  if (!url.empty()) {
    auto pg = PgJournal::connect(url, "");
    if (!pg) {
      std::cerr << "converge history: " << pg.error().describe() << "\n";
      return nullptr;
    }
    where = (*pg)->where();
    return std::move(*pg);
  }
  std::string state_dir = opts.state_dir;
  if (state_dir.empty() && !manifest.empty()) state_dir = default_state_dir(manifest);
  if (state_dir.empty()) {
    const char* env = std::getenv("CONVERGE_STATE_DIR");
    struct stat legacy {};
    if (env && *env) state_dir = env;
    else if (::stat(".converge/journal.db", &legacy) == 0) state_dir = ".converge";
    else if (run == 0) {
      code = list_state_dirs(opts);
      return nullptr;
    } else {
      std::cerr << "converge history: which state? name the manifest (history RUN -m MANIFEST), --state-dir or --state\n";
      return nullptr;
    }
  }
  struct stat st {};
  if (::stat((state_dir + "/journal.db").c_str(), &st) != 0) {
    std::cerr << "converge history: no journal in " << state_dir << " (no run recorded yet)\n";
    return nullptr;
  }
  auto journal = Journal::open(state_dir);
  if (!journal) {
    std::cerr << "converge history: " << journal.error().describe() << "\n";
    return nullptr;
  }
  where = state_dir;
  return std::move(*journal);
}

}  // namespace

int cmd_history(const std::string& manifest, long long run, const GlobalOptions& opts) {
  std::string where;
  int code = kExitOk;
  std::unique_ptr<Journal> journal = history_journal(manifest, run, opts, where, code);
  if (!journal) return code;
  const bool shared = is_database_url(where);
  if (run > 0) return show_run(*journal, run, opts);
  auto runs = journal->runs(1000);
  if (!runs) {
    std::cerr << "converge history: " << runs.error().describe() << "\n";
    return kExitError;
  }
  // A state directory may hold runs of several manifests (CONVERGE_STATE_DIR): the
  // manifest's, by path. A shared journal holds runs from every machine and checkout: the
  // manifest's are those that locked any of its nodes, clusters or its estate.
  if (!manifest.empty() && !shared) {
    const std::string identity = manifest_identity(manifest);
    std::erase_if(*runs, [&](const RunRow& r) { return !same_manifest(r, identity); });
  } else if (!manifest.empty()) {
    auto names = manifest_lock_names(manifest);
    if (!names) {
      std::cerr << "converge history: " << names.error().describe() << "\n";
      return kExitError;
    }
    std::erase_if(*runs, [&](const RunRow& r) {
      std::stringstream scope(r.scope);
      for (std::string n; std::getline(scope, n, ',');)
        if (names->count(n)) return false;
      return true;
    });
  }
  if (opts.json) {
    auto arr = nlohmann::json::array();
    for (const auto& r : *runs) arr.push_back(run_json(r));
    std::cout << json_text(nlohmann::json{{"command", "history"}, {shared ? "state" : "state_dir", where}, {"runs", arr}})
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("state: {}\n", where);
  std::cout << fmt::format("{:>5}  {:<24}  {:<8} {:<16} {:>7} {:>6}  {:<36}  {}\n", "RUN", "STARTED", "COMMAND", "STATUS",
                           "CHANGES", "FAILED", "VERSION", shared ? "BY, MANIFEST" : "MANIFEST");
  for (const auto& r : *runs)
    std::cout << fmt::format("{:>5}  {:<24}  {:<8} {:<16} {:>7} {:>6}  {:<36}  {}{}\n", r.id, r.started_at, r.command,
                             status_word(r.status), r.changes, r.failed, version_text(r),
                             shared ? r.user + "@" + r.host + " " : "", r.manifest_path);
  return kExitOk;
}

int cmd_state_migrate(const std::string& from_arg, const std::string& to) {
  if (!is_database_url(to)) {
    std::cerr << "converge state migrate: --to must be a postgresql:// URL (or set CONVERGE_STATE)\n";
    return kExitError;
  }
  struct stat st {};
  if (::stat((from_arg + "/journal.db").c_str(), &st) != 0) {
    std::cerr << "converge state migrate: no journal in " << from_arg << "\n";
    return kExitError;
  }
  // One directory, however it is spelled: the copy is recorded under its canonical path.
  std::error_code ec;
  const std::string from = std::filesystem::canonical(from_arg, ec).string();
  // No run may write the journal while it is copied.
  auto lock = RunLock::acquire(from, "state migrate");
  if (!lock) {
    std::cerr << "converge state migrate: " << lock.error().describe() << "\n";
    return lock.error().code == ErrorCode::locked ? kExitLocked : kExitError;
  }
  auto source = Journal::open(from);
  if (!source) {
    std::cerr << "converge state migrate: " << source.error().describe() << "\n";
    return kExitError;
  }
  auto target = PgJournal::connect(to, "");
  if (!target) {
    std::cerr << "converge state migrate: " << target.error().describe() << "\n";
    return kExitError;
  }
  auto copied = (*target)->import_from(**source);
  if (!copied) {
    std::cerr << "converge state migrate: " << copied.error().describe() << "\n";
    return kExitError;
  }
  std::cout << fmt::format("copied {} run(s), their steps and drift, the prior values and cached facts of {} into {}\n",
                           *copied, from, (*target)->where());
  return kExitOk;
}

}  // namespace converge
