// engine/model/duration.h — durations as the manifest writes them ("30m", "1h30m", 90).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/model/value.h"

namespace converge {

/// Parses an integer number of seconds or a string like "90s", "30m", "24h", "1h30m",
/// "500ms" into milliseconds. nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_duration_ms(const Value& v);
/// Renders milliseconds as "1h30m", "25m", "4s", "120ms".
[[nodiscard]] std::string format_duration_ms(std::int64_t ms);

/// Days since 1970-01-01 of a civil (proleptic Gregorian) date.
[[nodiscard]] std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

/// Parses a host's time as the Windows tools print it ("2008-03-01 08:35:09Z", "3/1/2008
/// 6:00:00 AM") into seconds since 1970 (UTC as written). nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_host_time(const std::string& text);

}  // namespace converge
