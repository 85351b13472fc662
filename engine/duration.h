// engine/duration.h — durations as the manifest writes them ("30m", "1h30m", 90).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/value.h"

namespace converge {

/// Parses an integer number of seconds or a string like "90s", "30m", "24h", "1h30m",
/// "500ms" into milliseconds. nullopt when malformed.
[[nodiscard]] std::optional<std::int64_t> parse_duration_ms(const Value& v);
/// Renders milliseconds as "1h30m", "25m", "4s", "120ms".
[[nodiscard]] std::string format_duration_ms(std::int64_t ms);

}  // namespace converge
