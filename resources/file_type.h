// resources/file_type.h — the built-in `file`, `directory` and `symlink` types.
//
// file: path (defaults to the resource name), ensure present|absent, content, mode,
// owner, group. Content is written atomically (temporary file beside the target, synced,
// renamed). directory: path, ensure, mode, owner, group. symlink: path, ensure, target
// (made atomically: a new link renamed over the old one).
#pragma once

#include "engine/model/types.h"

namespace converge {

[[nodiscard]] TypeSchema file_schema();
[[nodiscard]] std::shared_ptr<const Provider> file_provider();
[[nodiscard]] TypeSchema directory_schema();
[[nodiscard]] std::shared_ptr<const Provider> directory_provider();
[[nodiscard]] TypeSchema symlink_schema();
[[nodiscard]] std::shared_ptr<const Provider> symlink_provider();

/// Parses "0644", "644" or the integer 644 (read as octal digits) into permission bits.
[[nodiscard]] std::optional<std::uint32_t> parse_mode(const Value& v);
/// Renders permission bits as four octal digits, "0644".
[[nodiscard]] std::string format_mode(std::uint32_t mode);

}  // namespace converge
