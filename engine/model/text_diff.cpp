#include "engine/model/text_diff.h"

#include <cstdio>
#include <sstream>
#include <vector>

#include <dtl/dtl.hpp>

#include "engine/model/value.h"

namespace converge {

namespace {

/// The lines of `text`, without their newlines; a last line without one carries the marker
/// `diff -u` prints after it, so that adding or removing the final newline shows.
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) {
      out.push_back(text.substr(at) + "\n\\ No newline at end of file");
      break;
    }
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

/// dtl starts an empty range at line 1; `diff -u` at the line before it ("@@ -0,0 +1,2 @@"
/// for a file created from nothing), which is what patch(1) and readers expect.
std::string gnu_header(const std::string& line) {
  long long a = 0, b = 0, c = 0, d = 0;
  if (std::sscanf(line.c_str(), "@@ -%lld,%lld +%lld,%lld @@", &a, &b, &c, &d) != 4) return line;
  if (b == 0 && a > 0) --a;
  if (d == 0 && c > 0) --c;
  return "@@ -" + std::to_string(a) + "," + std::to_string(b) + " +" + std::to_string(c) + "," + std::to_string(d) + " @@";
}

/// `line` with control characters but tab written as \xNN.
std::string escaped(const std::string& line) {
  std::string out;
  for (char ch : line) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

bool is_text(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '\0') return false;
    const std::size_t n = utf8_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace

TextDiff unified_diff(const std::string& before, const std::string& after, const std::string& label,
                      std::size_t max_lines, std::size_t max_bytes, std::size_t max_input_lines) {
  TextDiff out;
  if (before == after) {
    out.kind = TextDiff::Kind::identical;
    return out;
  }
  if (!is_text(before) || !is_text(after)) {
    out.kind = TextDiff::Kind::binary;
    return out;
  }
  if (before.size() > max_bytes || after.size() > max_bytes) {
    out.kind = TextDiff::Kind::too_large;
    return out;
  }
  std::vector<std::string> a = lines_of(before), b = lines_of(after);
  if (a.size() > max_input_lines || b.size() > max_input_lines) {
    out.kind = TextDiff::Kind::too_large;
    return out;
  }
  dtl::Diff<std::string, std::vector<std::string>> d(a, b);
  if (a.size() + b.size() > 4096) d.onHuge();  // its buffers are large: only where they pay
  d.compose();
  d.composeUnifiedHunks();
  std::ostringstream hunks;
  d.printUnifiedFormat(hunks);
  out.text = "--- " + label + " (observed)\n+++ " + label + " (desired)\n";
  std::istringstream in(hunks.str());
  std::size_t n = 0, left = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("@@ ")) line = gnu_header(line);
    if (n < max_lines) out.text += escaped(line) + "\n";
    else ++left;
    ++n;
  }
  if (left) out.text += "... (" + std::to_string(left) + " more lines of the diff)\n";
  return out;
}

}  // namespace converge
