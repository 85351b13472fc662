#include "engine/model/duration.h"

#include <cstdio>

namespace converge {

std::optional<std::int64_t> parse_duration_ms(const Value& v) {
  if (v.is_int()) return v.as_int() < 0 ? std::nullopt : std::optional<std::int64_t>(v.as_int() * 1000);
  if (!v.is_string() || v.as_string().empty()) return std::nullopt;
  const std::string& s = v.as_string();
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    std::int64_t n = 0;
    std::size_t digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (n > 1'000'000'000) return std::nullopt;
      n = n * 10 + (s[i++] - '0');
      ++digits;
    }
    if (digits == 0 || i >= s.size()) return std::nullopt;
    std::int64_t unit = 0;
    if (s.compare(i, 2, "ms") == 0) {
      unit = 1;
      i += 2;
    } else {
      switch (s[i++]) {
        case 's': unit = 1000; break;
        case 'm': unit = 60'000; break;
        case 'h': unit = 3'600'000; break;
        case 'd': unit = 86'400'000; break;
        default: return std::nullopt;
      }
    }
    if (n > (std::int64_t{1} << 62) / unit || total > (std::int64_t{1} << 62) - n * unit) return std::nullopt;
    total += n * unit;
  }
  return total;
}

std::string format_duration_ms(std::int64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::int64_t s = ms / 1000;
  std::string out;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string((s % 3600) / 60) + "m";
  if (s % 60 || out.empty()) out += std::to_string(s % 60) + "s";
  return out;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  // H. Hinnant's algorithm.
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::int64_t> parse_host_time(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char ampm[3] = {0};
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d %2d:%2d:%2dZ", &y, &mo, &d, &h, &mi, &s) == 6) {
  } else if (std::sscanf(text.c_str(), "%d/%d/%d %d:%d:%d %2s", &mo, &d, &y, &h, &mi, &s, ampm) == 7) {
    std::string ap(ampm);
    if (h < 1 || h > 12 || (ap != "AM" && ap != "PM")) return std::nullopt;
    h = h % 12 + (ap == "PM" ? 12 : 0);
  } else {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
}

}  // namespace converge
