// engine/model/template.h — template files for `file` resources (`template: PATH`): Mustache,
// rendered with libmstch (Debian's libmstch-dev) at load time.
//
// {{vars.port}} (dotted names into the context), {{#vars.upstreams}}server {{.}};{{/...}}
// (a list repeats its section; a map enters it; true shows it), {{^vars.tls}}...{{/...}}
// (shown when false, empty or missing), {{! comments }}. Nothing is HTML-escaped: a
// configuration file is not HTML ({{x}} and {{{x}}} are the same). The context is the
// resource's scope: vars, node (name, vars, cluster, roles), and each (key, value) in a
// for_each; a template whose tags read env.NAME or secret.NAME gets those too, and the
// file's content is then sensitive. Sections are checked before rendering: an unclosed or mismatched one is an
// error at its line and column in the template file. Pure.
#pragma once

#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/value.h"

namespace converge {

/// The names the tags of `text` read ("vars.port", "secret.db", "."), in order.
[[nodiscard]] std::vector<std::string> template_names(const std::string& text);

/// Renders `text` (the template file `path`, for error positions) with `context`.
[[nodiscard]] Result<std::string> render_template(const std::string& path, const std::string& text, const Map& context);

}  // namespace converge
