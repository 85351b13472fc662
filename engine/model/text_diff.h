// engine/model/text_diff.h — a unified diff of two texts (`--diff`), by dtl (libdtl-dev):
// what a file's content goes from and to, in `diff -u`'s format (dtl may keep two hunks
// apart that `diff -u` would join, and always writes a range's length).
#pragma once

#include <cstddef>
#include <string>

namespace converge {

/// How a diff of two texts came out.
struct TextDiff {
  enum class Kind { text, identical, binary, too_large } kind = Kind::text;
  /// Kind::text: "--- LABEL (observed)\n+++ LABEL (desired)\n@@ -a,b +c,d @@\n…", every
  /// line ending in '\n', a text without a final newline marked as `diff` marks it, cut after
  /// `max_lines` lines with a line saying how many were left out.
  std::string text;
};

/// The unified diff (3 lines of context) from `before` to `after`. Binary when either holds
/// a NUL or is not UTF-8; too large beyond `max_bytes` or `max_input_lines` each (the diff
/// costs about (lines of both) x (lines that differ)). Control characters but tab are
/// shown escaped (\x1b), so that content cannot drive the terminal.
[[nodiscard]] TextDiff unified_diff(const std::string& before, const std::string& after, const std::string& label,
                                    std::size_t max_lines = 400, std::size_t max_bytes = 4u << 20,
                                    std::size_t max_input_lines = 20000);

}  // namespace converge
