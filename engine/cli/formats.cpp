#include "engine/cli/formats.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "engine/model/value.h"
#include "engine/state/lock.h"

namespace converge {

namespace {

/// Valid UTF-8 with every byte that starts no well-formed sequence as U+FFFD (a command's
/// stderr may quote anything); the sequences as utf8_length() (engine/model/value.h) reads them.
std::string valid_utf8(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t n = utf8_length(s, i)) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

/// A Prometheus label value: backslash, double quote and newline escaped.
std::string label(const std::string& v) {
  std::string out;
  for (char c : valid_utf8(v)) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

/// XML text or attribute content: markup escaped, characters XML 1.0 forbids replaced.
std::string xml(const std::string& v) {
  std::string out;
  for (char c : valid_utf8(v)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') out += "\xEF\xBF\xBD";
        else out += c;
    }
  }
  return out;
}

std::string manifest_label(const Report& r) {
  return !r.manifest_name.empty() ? r.manifest_name : std::filesystem::path(r.manifest_path).stem().string();
}

/// Counts per (node, type) of the resources a run covered.
struct Counts {
  int resources = 0, drifted = 0, changed = 0, failed = 0;
};

std::map<std::pair<std::string, std::string>, Counts> counts_by_node_type(const Report& r) {
  std::map<std::pair<std::string, std::string>, Counts> out;
  if (!r.manifest || !r.results) return out;
  for (std::size_t i = 0; i < r.results->size(); ++i) {
    const ResourceResult& rr = (*r.results)[i];
    if (rr.outcome == Outcome::excluded) continue;
    const ResourceSpec& spec = r.manifest->resources[i];
    Counts& c = out[{spec.node, spec.type}];
    ++c.resources;
    if (rr.outcome == Outcome::pending) ++c.drifted;
    if (rr.outcome == Outcome::changed) ++c.changed;
    if (rr.outcome == Outcome::failed || rr.outcome == Outcome::skipped) ++c.failed;
  }
  return out;
}

std::string iso_time(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return buf;
}

/// The words of a drift, for humans: "version RTM -> SP1; state running -> stopped".
std::string drift_text(const ResourceSpec& spec, const ResourceResult& rr) {
  std::string out;
  for (const auto& p : rr.changes.properties) {
    const bool secret = spec.sensitive.count(p.property) > 0;
    out += (out.empty() ? "" : "; ") + p.property + ": " +
           (secret ? std::string("(sensitive)") : p.before.is_null() ? "(none)" : render_value(p.before)) + " -> " +
           (secret ? std::string("(sensitive)") : p.after.is_null() ? "(none)" : render_value(p.after));
  }
  return out.empty() ? rr.changes.reason : out;
}

}  // namespace

std::optional<Format> parse_format(const std::string& word) {
  static const std::map<std::string, Format> kWords{{"text", Format::text},
                                                    {"json", Format::json},
                                                    {"prometheus", Format::prometheus},
                                                    {"junit", Format::junit},
                                                    {"nagios", Format::nagios}};
  auto it = kWords.find(word);
  if (it == kWords.end()) return std::nullopt;
  return it->second;
}

std::string prometheus_text(const Report& r, std::time_t now) {
  const std::string m = label(manifest_label(r));
  const std::string cmd = label(r.command);
  std::string out;
  auto family = [&out](const char* name, const char* help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
  };
  const auto counts = counts_by_node_type(r);
  struct Per {
    const char* name;
    const char* help;
    int Counts::*field;
  };
  for (const Per& p : {Per{"converge_resources", "Resources the last run covered, by node and type.", &Counts::resources},
                       Per{"converge_resources_drifted", "Resources whose observed state differs from the manifest (check, plan; apply: left undone).", &Counts::drifted},
                       Per{"converge_resources_changed", "Resources the last run changed.", &Counts::changed},
                       Per{"converge_resources_failed", "Resources that could not be observed or changed.", &Counts::failed}}) {
    family(p.name, p.help);
    for (const auto& [key, c] : counts)
      out += fmt::format("{}{{manifest=\"{}\",node=\"{}\",type=\"{}\"}} {}\n", p.name, m, label(key.first), label(key.second),
                         c.*p.field);
  }
  family("converge_last_run_timestamp_seconds", "When the last run ended (Unix time).");
  out += fmt::format("converge_last_run_timestamp_seconds{{manifest=\"{}\",command=\"{}\"}} {}\n", m, cmd,
                     static_cast<long long>(now));
  family("converge_last_run_duration_seconds", "How long the last run took.");
  out += fmt::format("converge_last_run_duration_seconds{{manifest=\"{}\",command=\"{}\"}} {:.3f}\n", m, cmd,
                     static_cast<double>(r.duration_ms) / 1000.0);
  family("converge_last_run_exit_code", "The last run's exit code (0 ok, 1 error, 2 drift or changes pending, 3 refused, 4 locked).");
  out += fmt::format("converge_last_run_exit_code{{manifest=\"{}\",command=\"{}\"}} {}\n", m, cmd, exit_code(r.status));
  family("converge_last_run_status", "1 for the last run's status, 0 for the others.");
  for (const auto& s : kRunStatuses)
    if (s.reported)
      out += fmt::format("converge_last_run_status{{manifest=\"{}\",command=\"{}\",status=\"{}\"}} {}\n", m, cmd, s.word,
                         s.status == r.status ? 1 : 0);
  return out;
}

std::string junit_xml(const Report& r, std::time_t now) {
  std::string cases;
  int tests = 0, failures = 0, errors = 0, skipped = 0;
  if (r.manifest && r.results) {
    for (std::size_t i = 0; i < r.results->size(); ++i) {
      const ResourceResult& rr = (*r.results)[i];
      const ResourceSpec& spec = r.manifest->resources[i];
      ++tests;
      cases += fmt::format("    <testcase classname=\"{}\" name=\"{}\" time=\"{:.6f}\"", xml(spec.node), xml(spec.id()),
                           static_cast<double>(rr.elapsed.count()) / 1e6);
      switch (rr.outcome) {
        case Outcome::in_sync:
        case Outcome::changed:
          cases += "/>\n";
          continue;
        case Outcome::pending:
          ++failures;
          cases += fmt::format(">\n      <failure type=\"drift\" message=\"{}\">{}</failure>\n    </testcase>\n",
                               xml(rr.changes.reason), xml(drift_text(spec, rr)));
          continue;
        case Outcome::failed:
        case Outcome::skipped: {
          ++errors;
          const std::string why = rr.outcome == Outcome::failed ? rr.error : "skipped: depends on " + rr.blocked_by + ", which failed";
          cases += fmt::format(">\n      <error type=\"{}\" message=\"{}\"/>\n    </testcase>\n", outcome_word(rr.outcome), xml(why));
          continue;
        }
        case Outcome::excluded:
          ++skipped;
          cases += ">\n      <skipped message=\"left out by --limit/--tags\"/>\n    </testcase>\n";
          continue;
      }
    }
  } else {
    // Nothing was observed: the run itself is the one test case, in error.
    ++tests;
    ++errors;
    std::string why;
    for (const auto& d : r.diagnostics) why += (why.empty() ? "" : "\n") + d.describe();
    cases += fmt::format("    <testcase classname=\"converge\" name=\"{}\" time=\"{:.3f}\">\n      <error type=\"{}\" message=\"{}\">{}</error>\n    </testcase>\n",
                         xml(r.command + " " + r.manifest_path), static_cast<double>(r.duration_ms) / 1000.0,
                         status_word(r.status), xml(why.substr(0, why.find('\n'))), xml(why));
  }
  const std::string name = xml("converge " + r.command + " " + manifest_label(r));
  const double seconds = static_cast<double>(r.duration_ms) / 1000.0;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n", name,
                     tests, failures, errors, skipped, seconds);
  out += fmt::format("  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\" timestamp=\"{}\" hostname=\"{}\">\n",
                     name, tests, failures, errors, skipped, seconds, iso_time(now), xml(host_name()));
  out += fmt::format("    <properties>\n      <property name=\"manifest\" value=\"{}\"/>\n      <property name=\"status\" value=\"{}\"/>\n",
                     xml(r.manifest_path), status_word(r.status));
  if (!r.manifest_sha256.empty()) out += fmt::format("      <property name=\"manifest_sha256\" value=\"{}\"/>\n", r.manifest_sha256);
  out += "    </properties>\n" + cases + "  </testsuite>\n</testsuites>\n";
  return out;
}

NagiosResult nagios_result(const Report& r) {
  NagiosResult n;
  switch (exit_code(r.status)) {
    case kExitOk: n.exit_code = 0; break;
    case kExitPending: n.exit_code = 1; break;
    case kExitError:
    case kExitRefused: n.exit_code = r.results ? 2 : 3; break;  // no results: the manifest or state failed
    default: n.exit_code = 3; break;
  }
  static const char* kWords[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
  std::string text;
  std::string perf;
  if (r.manifest && r.results) {
    Tally t = tally(*r.results);
    const int n_res = static_cast<int>(r.results->size()) - t.excluded;
    std::string names;
    int listed = 0, more = 0;
    for (std::size_t i = 0; i < r.results->size(); ++i) {
      Outcome o = (*r.results)[i].outcome;
      if (o != Outcome::pending && o != Outcome::failed && o != Outcome::skipped) continue;
      if (listed < 5) names += (listed++ ? ", " : "") + r.manifest->resources[i].id();
      else ++more;
    }
    if (more) names += fmt::format(" and {} more", more);
    if (t.failed + t.skipped) text = fmt::format("{} of {} resources failed", t.failed + t.skipped, n_res);
    else if (t.pending) text = fmt::format("{} of {} resources {}", t.pending, n_res, r.command == "check" ? "drifted" : "pending");
    else text = fmt::format("{} resources in sync{}", n_res, t.changed ? fmt::format(" ({} changed)", t.changed) : "");
    if (!names.empty()) text += ": " + names;
    perf = fmt::format(" | drifted={};1;;0;{} failed={};;1;0;{} changed={};;;0;{} resources={};;;0; time={:.3f}s;;;0;", t.pending,
                       n_res, t.failed + t.skipped, n_res, t.changed, n_res, n_res, static_cast<double>(r.duration_ms) / 1000.0);
  }
  if (!r.diagnostics.empty()) text += (text.empty() ? "" : "; ") + r.diagnostics.front().describe();
  std::string line = fmt::format("CONVERGE {} - {} {}: {}", kWords[n.exit_code], r.command, manifest_label(r),
                                 text.empty() ? std::string(status_word(r.status)) : text);
  // One line, and no '|' before the perfdata's.
  for (char& c : line)
    if (c == '\n' || c == '\r' || c == '|') c = ' ';
  n.line = valid_utf8(line) + perf;
  return n;
}

std::string summary_line(const Report& r) {
  // The absolute path when the manifest loaded: a log reader knows no working directory.
  const std::string& path = r.manifest && !r.manifest->path.empty() ? r.manifest->path : r.manifest_path;
  std::string out = fmt::format("{} {}: {} (exit {})", r.command, path, status_word(r.status), exit_code(r.status));
  if (r.run_id) out += fmt::format(", run #{}", r.run_id);
  if (r.results) {
    Tally t = tally(*r.results);
    out += fmt::format(", {} resources: {} pending, {} changed, {} failed, {} skipped", r.results->size(), t.pending, t.changed,
                       t.failed, t.skipped);
    if (t.excluded) out += fmt::format(", {} left out", t.excluded);
  }
  out += fmt::format(", {} ms", r.duration_ms);
  if (!r.manifest_sha256.empty()) out += ", manifest sha256:" + r.manifest_sha256.substr(0, 12);
  if (!r.diagnostics.empty()) out += "; " + r.diagnostics.front().describe();
  for (char& c : out)
    if (c == '\n') c = ' ';
  return valid_utf8(out);
}

Status write_atomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::string tmp = (target.parent_path() / ("." + target.filename().string() + ".converge-" +
                                                   std::to_string(::getpid()) + ".tmp")).string();
  auto fail = [&](const std::string& what) -> Status {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return std::unexpected(make_error(ErrorCode::io, "cannot write " + path + ": " + what + ": " + why));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return fail("create " + tmp);
  for (std::size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("write");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return {};
}

Status send_syslog(const Report& r, const std::string& socket_path) {
  const std::string path = socket_path.empty() ? "/dev/log" : socket_path;
  int severity = 6;  // info
  switch (exit_code(r.status)) {
    case kExitOk: severity = r.status == RunStatus::converged ? 5 : 6; break;  // notice / info
    case kExitPending:
    case kExitLocked: severity = 4; break;  // warning
    default: severity = 3; break;           // err
  }
  const int facility_user = 1;
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%b %e %H:%M:%S", &tm);
  const std::string msg =
      fmt::format("<{}>{} converge[{}]: {}", facility_user * 8 + severity, stamp, ::getpid(), summary_line(r));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return std::unexpected(make_error(ErrorCode::io, "syslog socket path too long: " + path));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    int fd = ::socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    bool sent = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      // A stream socket (rsyslog's imuxsock in some setups) needs a frame end.
      const std::string frame = type == SOCK_STREAM ? msg + std::string(1, '\0') : msg;
      sent = ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
    }
    ::close(fd);
    if (sent) return {};
  }
  return std::unexpected(make_error(ErrorCode::io, "cannot send to syslog at " + path + ": " + std::strerror(errno)));
}

}  // namespace converge
