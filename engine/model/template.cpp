#include "engine/model/template.h"

#include <mutex>
#include <vector>

#include <mstch/mstch.hpp>

namespace converge {

namespace {

mstch::node to_node(const Value& v) {
  if (v.is_map()) {
    mstch::map m;
    for (const auto& [k, x] : v.as_map()) m.emplace(k, to_node(x));
    return m;
  }
  if (v.is_list()) {
    mstch::array a;
    for (const auto& x : v.as_list()) a.push_back(to_node(x));
    return a;
  }
  if (v.is_bool()) return v.as_bool();
  if (v.is_null()) return std::string();  // renders as nothing, and a section on it is hidden
  return v.to_string();
}

/// Line and column (1-based) of byte `at` in `text`.
SourceRange position(const std::string& path, const std::string& text, std::size_t at) {
  int line = 1, col = 1;
  for (std::size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') ++line, col = 1;
    else ++col;
  }
  return {path, line, col};
}

std::string trim(std::string s) {
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

/// Every {{#x}} / {{^x}} closed by its {{/x}}, in order; a tag closed with "}}".
Status check_sections(const std::string& path, const std::string& text) {
  std::vector<std::pair<std::string, std::size_t>> open;
  for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
    const bool triple = text.compare(at, 3, "{{{") == 0;
    const std::size_t end = text.find(triple ? "}}}" : "}}", at + 2);
    if (end == std::string::npos)
      return std::unexpected(make_error(ErrorCode::invalid_input, "template tag not closed with }}", position(path, text, at)));
    const std::string tag = text.substr(at + 2, end - at - 2);
    if (tag.empty() || triple) continue;
    const char kind = tag[0];
    if (kind == '!' || kind == '=') {
      if (kind == '=')
        return std::unexpected(make_error(ErrorCode::invalid_input, "template delimiters cannot be changed ({{=...=}})",
                                          position(path, text, at)));
      continue;
    }
    if (kind == '#' || kind == '^') {
      open.emplace_back(trim(tag.substr(1)), at);
    } else if (kind == '/') {
      const std::string name = trim(tag.substr(1));
      if (open.empty())
        return std::unexpected(make_error(ErrorCode::invalid_input, "template section {{/" + name + "}} closes nothing",
                                          position(path, text, at)));
      if (open.back().first != name)
        return std::unexpected(make_error(ErrorCode::invalid_input,
                                          "template section {{/" + name + "}} closes {{#" + open.back().first + "}}",
                                          position(path, text, at)));
      open.pop_back();
    } else if (kind == '>') {
      return std::unexpected(make_error(ErrorCode::invalid_input, "template partials ({{>name}}) are not supported",
                                        position(path, text, at)));
    }
  }
  if (!open.empty())
    return std::unexpected(make_error(ErrorCode::invalid_input, "template section {{#" + open.back().first + "}} is never closed",
                                      position(path, text, open.back().second)));
  return {};
}

}  // namespace

std::vector<std::string> template_names(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = text.find("{{"); at != std::string::npos; at = text.find("{{", at + 2)) {
    const bool triple = text.compare(at, 3, "{{{") == 0;
    const std::size_t end = text.find(triple ? "}}}" : "}}", at + 2);
    if (end == std::string::npos) break;
    std::string tag = text.substr(at + (triple ? 3 : 2), end - at - (triple ? 3 : 2));
    if (!tag.empty() && (tag[0] == '#' || tag[0] == '^' || tag[0] == '/' || tag[0] == '&')) tag.erase(0, 1);
    else if (!tag.empty() && tag[0] == '!') continue;
    out.push_back(trim(tag));
  }
  return out;
}

Result<std::string> render_template(const std::string& path, const std::string& text, const Map& context) {
  CONVERGE_CHECK(check_sections(path, text));
  static std::once_flag raw;
  std::call_once(raw, [] { mstch::config::escape = [](const std::string& s) { return s; }; });
  mstch::map root;
  for (const auto& [k, v] : context) root.emplace(k, to_node(v));
  try {
    return mstch::render(text, root);
  } catch (const std::exception& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, std::string("template: ") + e.what(), SourceRange{path, 1, 1}));
  }
}

}  // namespace converge
