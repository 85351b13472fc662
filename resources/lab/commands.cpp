#include "resources/lab/commands.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "engine/model/duration.h"

namespace converge::lab {

Outcome succeed(std::string out, VTime duration) {
  Outcome o;
  o.result.exit_code = 0;
  o.result.out = std::move(out);
  o.duration = duration;
  return o;
}

Outcome fail(int code, std::string err, std::string out, VTime duration) {
  Outcome o;
  o.result.exit_code = code;
  o.result.err = std::move(err);
  o.result.out = std::move(out);
  o.duration = duration;
  return o;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string program_name(const std::string& argv0) {
  auto slash = argv0.find_last_of("\\/");
  return lower(slash == std::string::npos ? argv0 : argv0.substr(slash + 1));
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

namespace {

// A civil date from days since 1970-01-01 (H. Hinnant's algorithm; days_from_civil is in engine/model/duration.h).

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

std::int64_t epoch_seconds(const std::string& iso) {
  int y = 2008, mo = 3, d = 1, h = 8, mi = 0, s = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &s) != 6) return 0;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace

std::string wall_clock(const LabState& s, VTime t, const std::string& style) {
  std::int64_t secs = epoch_seconds(s.options.epoch) + t;
  std::int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  std::int64_t rem = secs - days * 86400;
  std::int64_t y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  int hh = static_cast<int>(rem / 3600), mm = static_cast<int>(rem % 3600 / 60), ss = static_cast<int>(rem % 60);
  char buf[96];
  if (style == "u") {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02dZ", static_cast<long long>(y), m, d, hh, mm, ss);
  } else if (style == "wmi") {
    std::snprintf(buf, sizeof buf, "%04lld%02u%02u%02d%02d%02d.000000+000", static_cast<long long>(y), m, d, hh, mm, ss);
  } else {
    int h12 = hh % 12 == 0 ? 12 : hh % 12;
    const char* ampm = hh < 12 ? "AM" : "PM";
    if (style == "long") {
      static const char* const kDays[] = {"Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"};
      static const char* const kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                            "July",    "August",   "September", "October", "November", "December"};
      std::snprintf(buf, sizeof buf, "%s, %s %02u, %04lld %d:%02d:%02d %s", kDays[((days % 7) + 7) % 7], kMonths[m - 1], d,
                    static_cast<long long>(y), h12, mm, ss, ampm);
    } else {
      std::snprintf(buf, sizeof buf, "%u/%u/%04lld %d:%02d:%02d %s", m, d, static_cast<long long>(y), h12, mm, ss, ampm);
    }
  }
  return buf;
}

Outcome run_command(Simulation& sim, Node& node, const std::vector<std::string>& argv) {
  if (argv.empty()) return fail(1, "lab: empty command\n");
  std::string prog = program_name(argv[0]);
  if (prog == "sc.exe" || prog == "sc") return run_sc(sim, node, argv);
  if (prog == "reg.exe" || prog == "reg") return run_reg(sim, node, argv);
  if (prog == "shutdown.exe" || prog == "shutdown") return run_shutdown(sim, node, argv);
  if (prog == "wmic.exe" || prog == "wmic") return run_wmic(sim, node, argv);
  if (prog == "netfx20sp1_x64.exe" || prog == "netfx20sp1_x86.exe") return run_dotnet_sp1(sim, node, argv);
  if (prog == "setup.com") return run_setup(sim, node, argv);
  if (prog == "powershell.exe" || prog == "powershell") return run_powershell(sim, node, argv);
  if (prog == "cluster.exe" || prog == "cluster") return run_cluster(sim, node, argv);
  return fail(9009, "'" + argv[0] + "' is not recognized as an internal or external command,\n"
                    "operable program or batch file.\nlab: unknown command: " + command_line(argv) + "\n");
}

}  // namespace converge::lab
