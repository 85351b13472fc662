// engine/model/template.h: Mustache templates rendered with libmstch, unescaped; sections
// checked with positions; the names a template reads.
#include <catch2/catch.hpp>

#include "engine/model/template.h"

using namespace converge;

namespace {

Map context() {
  return Map{{"vars", Value(Map{{"port", Value(8080)},
                                {"hosts", Value(List{Value("a"), Value("b")})},
                                {"tls", Value(false)},
                                {"backend", Value(Map{{"name", Value("db")}})},
                                {"text", Value("x<&>\"y")}})},
             {"node", Value(Map{{"name", Value("web1")}})}};
}

std::string rendered(const std::string& text) {
  auto r = render_template("t.mustache", text, context());
  REQUIRE(r);
  return *r;
}

std::string refused(const std::string& text) {
  auto r = render_template("t.mustache", text, context());
  REQUIRE_FALSE(r);
  return r.error().describe();
}

}  // namespace

TEST_CASE("templates: values, loops, conditionals, maps, no HTML escaping", "[template]") {
  CHECK(rendered("listen {{vars.port}}; # {{node.name}}") == "listen 8080; # web1");
  CHECK(rendered("{{#vars.hosts}}server {{.}};\n{{/vars.hosts}}") == "server a;\nserver b;\n");
  CHECK(rendered("{{#vars.tls}}on{{/vars.tls}}{{^vars.tls}}off{{/vars.tls}}") == "off");
  CHECK(rendered("{{#vars.backend}}{{name}}{{/vars.backend}}") == "db");
  CHECK(rendered("{{vars.text}}|{{{vars.text}}}|{{&vars.text}}") == "x<&>\"y|x<&>\"y|x<&>\"y");
  CHECK(rendered("[{{vars.missing}}]{{#vars.missing}}never{{/vars.missing}}") == "[]");
  CHECK(rendered("a{{! comment }}b") == "ab");
  // Shell and awk braces that are not tags stay as written.
  CHECK(rendered("${HOME} awk '{ print $1 }'") == "${HOME} awk '{ print $1 }'");
}

TEST_CASE("templates: unclosed, mismatched and unsupported tags are errors at their position", "[template]") {
  CHECK(refused("a\n  {{#vars.hosts}}x") == "t.mustache:2:3: template section {{#vars.hosts}} is never closed");
  CHECK(refused("{{#a}}{{/b}}") == "t.mustache:1:7: template section {{/b}} closes {{#a}}");
  CHECK(refused("x{{/a}}") == "t.mustache:1:2: template section {{/a}} closes nothing");
  CHECK(refused("ok\nbad {{vars.port") == "t.mustache:2:5: template tag not closed with }}");
  CHECK(refused("{{>partial}}") == "t.mustache:1:1: template partials ({{>name}}) are not supported");
  CHECK(refused("{{=<% %>=}}") == "t.mustache:1:1: template delimiters cannot be changed ({{=...=}})");
}

TEST_CASE("templates: the names their tags read", "[template]") {
  CHECK(template_names("{{vars.a}} {{#secret.db}}{{.}}{{/secret.db}} {{{env.HOME}}} {{! x }}") ==
        std::vector<std::string>{"vars.a", "secret.db", ".", "secret.db", "env.HOME"});
}
