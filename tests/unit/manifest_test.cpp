// engine/model/manifest.h: Secrets, which blanks a manifest's sensitive values out of any text.
// Pure: no I/O.
#include <catch2/catch.hpp>

#include "engine/model/manifest.h"

using namespace converge;

namespace {
ResourceSpec with(const std::string& name, Map props, std::set<std::string> sensitive) {
  ResourceSpec r;
  r.type = "exec";
  r.name = name;
  r.node = "n1";
  r.properties = std::move(props);
  r.sensitive = std::move(sensitive);
  return r;
}
}  // namespace

TEST_CASE("Secrets: scalars, argv elements and env values are blanked wherever they appear", "[manifest]") {
  Manifest m;
  m.resources.push_back(with("a", {{"apply", Value(List{Value("/opt/tool"), Value("--token=abc123")})},
                                   {"env", Value(Map{{"PASS", Value("hunter2")}, {"X", Value("ok")}})},
                                   {"cwd", Value("/srv")}},
                             {"apply", "env"}));
  m.resources.push_back(with("b", {{"owner", Value("svc-secret")}, {"mode", Value("0600")}}, {"owner"}));
  m.resources.push_back(with("c", {{"content", Value("public")}}, {}));  // nothing sensitive
  Secrets s(m);
  CHECK(s.scrub("apply exited 1: login hunter2 failed") == "apply exited 1: login (sensitive) failed");
  CHECK(s.scrub("cannot run '/opt/tool': --token=abc123") == "cannot run '(sensitive)': (sensitive)");
  CHECK(s.scrub("no such user 'svc-secret'") == "no such user '(sensitive)'");
  CHECK(s.scrub("hunter2hunter2") == "(sensitive)(sensitive)");
  // Short values ("ok") and values that are not sensitive stay; so does the mode.
  CHECK(s.scrub("ok: public /srv 0600") == "ok: public /srv 0600");
}

TEST_CASE("Secrets: a secret holding another is blanked whole", "[manifest]") {
  Manifest m;
  m.resources.push_back(with("a", {{"content", Value("abc")}}, {"content"}));
  m.resources.push_back(with("b", {{"content", Value("xxabcxx")}}, {"content"}));
  Secrets s(m);
  CHECK(s.scrub("[xxabcxx] [abc]") == "[(sensitive)] [(sensitive)]");
}

TEST_CASE("Secrets: a manifest without sensitive values leaves text alone", "[manifest]") {
  Manifest m;
  m.resources.push_back(with("a", {{"content", Value("hunter2")}}, {}));
  CHECK(Secrets(m).scrub("hunter2 (sensitive)") == "hunter2 (sensitive)");
}
