#include "engine/cli/report.h"

#include <optional>

#include <fmt/format.h>

#include "engine/model/text_diff.h"

namespace converge {

namespace {

const char* kSensitive = "(sensitive)";

bool is_sensitive(const ResourceSpec& spec, const std::string& prop) { return spec.sensitive.count(prop) > 0; }

nlohmann::json value_json(const Value& v) { return nlohmann::json::parse(v.to_json()); }

struct Colors {
  bool on;
  std::string green() const { return on ? "\033[32m" : ""; }
  std::string yellow() const { return on ? "\033[33m" : ""; }
  std::string red() const { return on ? "\033[31m" : ""; }
  std::string dim() const { return on ? "\033[2m" : ""; }
  std::string bold() const { return on ? "\033[1m" : ""; }
  std::string reset() const { return on ? "\033[0m" : ""; }
};

std::string symbol_color(const Colors& c, ChangeKind a) {
  switch (a) {
    case ChangeKind::create: return c.green();
    case ChangeKind::update: return c.yellow();
    case ChangeKind::remove: return c.red();
    default: return "";
  }
}

/// Whether --diff shows a diff of this change: text going to a text (or created), in a
/// `content` property or one holding several lines.
bool diffable(const PropertyChange& p) {
  if (!p.after.is_string() || !(p.before.is_null() || p.before.is_string())) return false;
  if (p.property == "content") return true;
  return p.after.as_string().find('\n') != std::string::npos ||
         (p.before.is_string() && p.before.as_string().find('\n') != std::string::npos);
}

/// The --diff of one change: the unified diff's lines, or one line saying why there is none.
std::vector<std::string> diff_lines(const ResourceSpec& spec, const PropertyChange& p, const Secrets& secrets) {
  if (is_sensitive(spec, p.property)) return {"(diff withheld: sensitive)"};
  const std::string before = p.before.is_string() ? p.before.as_string() : "";
  const std::string& after = p.after.as_string();
  const std::string label = spec.id() + (p.property == "content" ? "" : " " + p.property);
  // A value sensitive elsewhere in the manifest is blanked here too, old or new.
  TextDiff d = unified_diff(before, after, label);
  d.text = secrets.scrub(std::move(d.text));
  switch (d.kind) {
    case TextDiff::Kind::identical: return {};
    case TextDiff::Kind::binary:
      return {fmt::format("(binary content, not shown: {} -> {} bytes)", before.size(), after.size())};
    case TextDiff::Kind::too_large:
      return {fmt::format("(too large to diff: {} -> {} bytes)", before.size(), after.size())};
    case TextDiff::Kind::text: break;
  }
  std::vector<std::string> out;
  std::size_t at = 0;
  for (std::size_t nl; (nl = d.text.find('\n', at)) != std::string::npos; at = nl + 1)
    out.push_back(d.text.substr(at, nl - at));
  return out;
}

void text_changes(std::string& out, const ResourceSpec& spec, const ResourceChanges& ch, const Secrets* diff,
                  const Colors& c) {
  std::size_t width = 0;
  for (const auto& p : ch.properties) width = std::max(width, p.property.size());
  for (const auto& p : ch.properties) {
    bool secret = is_sensitive(spec, p.property);
    out += fmt::format("      {:<{}} {} -> {}\n", p.property + ":", width + 1,
                       secret ? kSensitive : (p.before.is_null() ? "(none)" : render_value(p.before)),
                       secret ? kSensitive : (p.after.is_null() ? "(none)" : render_value(p.after)));
    if (!diff || !diffable(p)) continue;
    bool body = false;  // past the two header lines
    for (const auto& line : diff_lines(spec, p, *diff)) {
      const bool headers = !body && (line.starts_with("--- ") || line.starts_with("+++ "));
      body = body || line.starts_with("@@");
      const std::string color = headers ? c.bold() : line.starts_with("+") ? c.green()
                                                    : line.starts_with("-") ? c.red()
                                                    : line.starts_with("@@") ? c.dim() : "";
      out += "        " + color + line + (color.empty() ? "" : c.reset()) + "\n";
    }
  }
}

}  // namespace

std::string json_text(const nlohmann::json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_value(const Value& v) {
  std::string s = v.is_string() ? Value(v.as_string()).to_json() : v.to_json();
  if (s.size() > 72) s = s.substr(0, 60) + "...\" (" + std::to_string(v.to_string().size()) + " bytes)";
  return s;
}


nlohmann::json report_json(const Report& r) {
  std::optional<Secrets> secrets;
  if (r.diff && r.manifest) secrets.emplace(*r.manifest);
  nlohmann::json j;
  j["converge"] = CONVERGE_VERSION;
  j["command"] = r.command;
  j["status"] = status_word(r.status);
  j["exit_code"] = exit_code(r.status);
  if (!r.manifest_path.empty()) {
    j["manifest"] = {{"path", r.manifest_path}};
    if (!r.manifest_name.empty()) j["manifest"]["name"] = r.manifest_name;
    if (!r.manifest_sha256.empty()) j["manifest"]["sha256"] = r.manifest_sha256;
  }
  if (r.run_id) j["run_id"] = r.run_id;
  j["duration_ms"] = r.duration_ms;
  auto diags = nlohmann::json::array();
  for (const auto& d : r.diagnostics) {
    nlohmann::json e{{"message", d.message}, {"code", static_cast<int>(d.code)}};
    if (d.cause) e["message"] = d.message + ": " + d.cause->describe();
    if (d.where) {
      e["file"] = d.where->file;
      if (d.where->line > 0) {
        e["line"] = d.where->line;
        e["column"] = d.where->col;
      }
    }
    diags.push_back(e);
  }
  j["diagnostics"] = diags;
  if (r.manifest && r.results) {
    Tally t = tally(*r.results);
    j["summary"] = {{"resources", r.results->size()}, {"in_sync", t.in_sync}, {"pending", t.pending},
                    {"changed", t.changed},           {"failed", t.failed},   {"skipped", t.skipped},
                    {"excluded", t.excluded}};
    auto res = nlohmann::json::array();
    for (std::size_t i = 0; i < r.results->size(); ++i) {
      const auto& rr = (*r.results)[i];
      if ((rr.outcome == Outcome::in_sync && rr.refresh_by.empty()) || rr.outcome == Outcome::excluded) continue;
      const ResourceSpec& spec = r.manifest->resources[i];
      nlohmann::json e{{"id", spec.id()},   {"type", spec.type}, {"name", spec.name}, {"node", spec.node},
                       {"outcome", outcome_word(rr.outcome)}, {"elapsed_ms", rr.elapsed.count() / 1000.0}};
      if (!rr.changes.empty()) {
        e["action"] = action_word(rr.changes.action);
        e["reason"] = rr.changes.reason;
        auto changes = nlohmann::json::array();
        for (const auto& p : rr.changes.properties) {
          bool secret = is_sensitive(spec, p.property);
          nlohmann::json change{{"property", p.property},
                                {"observed", secret ? nlohmann::json(kSensitive) : value_json(p.before)},
                                {"desired", secret ? nlohmann::json(kSensitive) : value_json(p.after)},
                                {"sensitive", secret}};
          if (secrets && diffable(p)) {
            std::string text;
            for (const auto& line : diff_lines(spec, p, *secrets)) text += line + "\n";
            change["diff"] = text;
          }
          changes.push_back(std::move(change));
        }
        e["changes"] = changes;
      }
      if (!rr.error.empty()) e["error"] = rr.error;
      if (!rr.blocked_by.empty()) e["blocked_by"] = rr.blocked_by;
      if (!rr.refresh_by.empty()) e["refresh_by"] = rr.refresh_by;
      res.push_back(e);
    }
    j["resources"] = res;
  }
  for (auto& [k, v] : r.extra.items()) j[k] = v;
  return j;
}

std::string report_text(const Report& r, bool color, bool verbose) {
  Colors c{color};
  std::optional<Secrets> secrets;
  if (r.diff && r.manifest) secrets.emplace(*r.manifest);
  std::string out;
  for (const auto& d : r.diagnostics) out += c.red() + "error: " + c.reset() + d.describe() + "\n";
  for (const auto& line : r.preamble) out += line + "\n";
  if (r.manifest && r.results) {
    for (std::size_t i = 0; i < r.results->size(); ++i) {
      const auto& rr = (*r.results)[i];
      const ResourceSpec& spec = r.manifest->resources[i];
      switch (rr.outcome) {
        case Outcome::in_sync:
          if (verbose) out += c.dim() + "    " + spec.id() + "  in sync" + c.reset() + "\n";
          break;
        case Outcome::pending:
        case Outcome::changed: {
          std::string what = rr.outcome == Outcome::changed ? "  changed" : "";
          out += fmt::format("  {}{}{} {}{}  {}({}){}\n", symbol_color(c, rr.changes.action), action_symbol(rr.changes.action),
                             c.reset(), c.bold() + spec.id() + c.reset(), what, c.dim(), rr.changes.reason, c.reset());
          text_changes(out, spec, rr.changes, secrets ? &*secrets : nullptr, c);
          break;
        }
        case Outcome::failed:
          out += fmt::format("  {}! {}{}  failed: {}\n", c.red(), spec.id(), c.reset(), rr.error);
          break;
        case Outcome::skipped:
          out += fmt::format("  {}? {}{}  skipped: depends on {}, which failed\n", c.yellow(), spec.id(), c.reset(),
                             rr.blocked_by);
          break;
        case Outcome::excluded:
          if (verbose) out += c.dim() + "    " + spec.id() + "  left out (--limit/--tags)" + c.reset() + "\n";
          break;
      }
      if (!rr.refresh_by.empty())
        out += fmt::format("  {}@{} {}  {} ({}{})\n", c.yellow(), c.reset(), c.bold() + spec.id() + c.reset(),
                           r.command == "apply" ? "refreshed" : "refresh owed",
                           rr.refresh_by == "an earlier run" ? "left by " : "after ", rr.refresh_by);
    }
    Tally t = tally(*r.results);
    std::size_t n = r.results->size();
    if (r.command == "plan") {
      out += fmt::format("Plan: {} to create, {} to update, {} to delete; {} in sync", t.create, t.update, t.remove, t.in_sync);
    } else if (r.command == "check") {
      out += fmt::format("Check: {} of {} resources drifted; {} in sync", t.pending, n, t.in_sync);
    } else {
      out += fmt::format("Apply: {} changed, {} failed, {} skipped; {} in sync", t.changed, t.failed, t.skipped, t.in_sync);
    }
    if (t.failed && r.command != "apply") out += fmt::format(", {} could not be observed", t.failed);
    if (t.excluded) out += fmt::format("; {} left out", t.excluded);
    if (int n = static_cast<int>(std::count_if(r.results->begin(), r.results->end(), [](const ResourceResult& x) { return !x.refresh_by.empty(); })))
      out += fmt::format("; {} {}", n, r.command == "apply" ? "refreshed" : "refresh(es) owed");
    out += fmt::format(" ({} ms): {}\n", r.duration_ms, status_word(r.status));
  }
  for (const auto& note : r.notes) out += note + "\n";
  return out;
}

}  // namespace converge
