#include "engine/run/run_journal.h"

#include <unistd.h>

#include <filesystem>

#include "engine/state/git_info.h"
#include "engine/state/lock.h"

namespace converge {

namespace {

/// The manifest's canonical absolute path: `history` filters by it, whatever the working
/// directory of each run was.
std::string canonical_path(const std::string& path) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(path, ec);
  auto canon = std::filesystem::weakly_canonical(abs, ec);
  return ec ? abs.lexically_normal().string() : canon.string();
}

std::string masked(const ResourceSpec& spec, const std::string& prop, const Value& v) {
  return spec.sensitive.count(prop) ? Value("(sensitive)").to_json() : v.to_json();
}

}  // namespace

RunRow describe_run(const std::string& command, const Manifest& m, Journal& journal) {
  RunRow r;
  r.command = command;
  r.user = user_name();
  r.host = host_name();
  r.pid = static_cast<long>(::getpid());
  r.manifest_path = canonical_path(m.path);
  r.manifest_sha256 = m.version_sha256();
  r.started_at = now_iso();
  GitInfo git = git_head(m.dir);
  if (git.in_git) {
    r.git_commit = git.commit;
    std::string key = "git_dirty:" + git.commit + ":" + r.manifest_sha256 + ":" + m.path;
    auto cached = journal.meta(key);
    if (cached && *cached) {
      r.git_dirty = std::stoi(**cached);
    } else {
      r.git_dirty = git_dirty(git, m.sources);
      if (r.git_dirty >= 0) (void)journal.set_meta(key, std::to_string(r.git_dirty));  // a cache; best effort
    }
  }
  return r;
}

std::string observation_json(const ResourceSpec& spec, const Observation& obs) {
  switch (obs.state) {
    case Observation::State::unknown: return R"({"state":"unknown"})";
    case Observation::State::absent: return R"({"state":"absent"})";
    case Observation::State::present: break;
  }
  std::string out = R"({"state":"present","properties":{)";
  bool first = true;
  for (const auto& [k, v] : obs.props) {
    if (!first) out += ',';
    first = false;
    out += Value(k).to_json() + ":" + masked(spec, k, v);
  }
  return out + "}}";
}

Status StepRecorder::started(const std::vector<int>& wave) {
  std::vector<StepRow> rows;
  rows.reserve(wave.size());
  for (int i : wave) {
    StepRow s;
    s.run_id = run_;
    s.seq = ++seq_;
    s.resource = m_.resources[i].id();
    s.action = action_word(results_[i].changes.action);
    s.reason = results_[i].changes.reason;
    s.before_json = observation_json(m_.resources[i], results_[i].before);
    rows.push_back(std::move(s));
  }
  CONVERGE_CHECK(journal_.steps_started(rows));
  for (std::size_t k = 0; k < wave.size(); ++k) open_[wave[k]] = std::move(rows[k]);
  return {};
}

Status StepRecorder::ended(const std::vector<int>& wave) {
  std::vector<StepRow> rows;
  for (int i : wave) {
    auto it = open_.find(i);
    if (it == open_.end()) continue;
    StepRow s = std::move(it->second);
    open_.erase(it);
    const ResourceResult& r = results_[i];
    s.outcome = outcome_word(r.outcome);
    s.error = r.error;
    if (r.outcome == Outcome::changed) {
      // The verified state: desired values of the changed properties (masked).
      std::string after = "{";
      for (const auto& c : r.changes.properties)
        after += (after.size() > 1 ? "," : "") + Value(c.property).to_json() + ":" + masked(m_.resources[i], c.property, c.after);
      s.after_json = after + "}";
    }
    rows.push_back(std::move(s));
  }
  return journal_.steps_ended(rows);
}

std::vector<std::vector<std::string>> drift_rows(const Manifest& m, const std::vector<ResourceResult>& results) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (results[i].outcome != Outcome::pending) continue;
    const ResourceSpec& spec = m.resources[i];
    for (const auto& c : results[i].changes.properties)
      rows.push_back({spec.id(), c.property, masked(spec, c.property, c.before), masked(spec, c.property, c.after)});
  }
  return rows;
}

}  // namespace converge
