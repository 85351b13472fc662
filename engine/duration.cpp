#include "engine/duration.h"

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

}  // namespace converge
