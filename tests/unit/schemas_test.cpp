// engine/model/schemas.h: the compiled-in JSON Schemas equal the files under schemas/, and
// violations are placed at the offending YAML node (an unknown key at the key itself).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/model/schemas.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

const std::string H = "apiVersion: converge/v1\nkind: Manifest\n";

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Every diagnostic for `text` against the manifest schema, one a line.
std::string violations(const std::string& text) {
  auto doc = parse_yaml(text, "m.yaml");
  if (!doc) FAIL("not YAML: " << doc.error().describe());
  std::string out;
  for (const auto& d : validate_with_schema(*doc, "manifest")) {
    CHECK(d.code == ErrorCode::invalid_input);
    out += d.describe() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("the embedded schemas are the files under schemas/", "[schemas]") {
  auto name = GENERATE(as<std::string>{}, "manifest", "lab", "lab-event");
  std::string file = read_text(std::string(CONVERGE_SOURCE_DIR) + "/schemas/" + name + ".schema.json");
  REQUIRE_FALSE(file.empty());
  auto embedded = embedded_schema(name);
  REQUIRE(embedded.has_value());
  CHECK(std::string(*embedded) == file);
}

TEST_CASE("an unknown schema name", "[schemas]") {
  CHECK_FALSE(embedded_schema("nope").has_value());
  CHECK_FALSE(embedded_schema("").has_value());
  auto doc = parse_yaml(H, "m.yaml");
  REQUIRE(doc.has_value());
  auto d = validate_with_schema(*doc, "nope");
  REQUIRE(d.size() == 1);
  CHECK(d[0].code == ErrorCode::internal);
  CHECK(d[0].describe() == "no schema named nope");
}

TEST_CASE("an unknown key is reported at the key", "[schemas]") {
  SECTION("top level") {
    CHECK(violations(H + "resourses: []\n") == "m.yaml:3:1: unknown field 'resourses'\n");
  }
  SECTION("inside a resource") {
    CHECK(violations(H + "resources:\n  - type: file\n    name: /a\n    propertes: {}\n") ==
          "m.yaml:6:5: unknown field 'propertes'\n");
  }
  SECTION("two unknown keys in one mapping: both") {
    CHECK(violations(H + "zzz: 1\nyyy: 2\n") == "m.yaml:3:1: unknown field 'zzz'\nm.yaml:4:1: unknown field 'yyy'\n");
  }
  SECTION("an unknown key beside a deeper error: both") {
    CHECK(violations(H + "zzz: 1\nmetadata:\n  name: x\n  colour: red\n") ==
          "m.yaml:3:1: unknown field 'zzz'\nm.yaml:6:3: unknown field 'colour'\n");
  }
}

TEST_CASE("a wrong type deep in the document is placed at that node", "[schemas]") {
  std::string out = violations(H +
                               "resources:\n"
                               "  - type: file\n"
                               "    name: /a\n"
                               "  - type: exec\n"
                               "    name: b\n"
                               "    sensitive: [env, 7]\n");
  CHECK_THAT(out, Catch::StartsWith("m.yaml:8:22: /resources/1/sensitive/1: "));
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("a missing required field is reported at the document", "[schemas]") {
  std::string out = violations("apiVersion: converge/v1\n");
  CHECK_THAT(out, Catch::StartsWith("m.yaml:1:1: "));
  CHECK_THAT(out, Catch::Contains("kind"));
}

TEST_CASE("a manifest using every section validates clean", "[schemas]") {
  CHECK(violations(H +
                   "metadata: {name: demo, description: all sections, labels: {team: ops}}\n"
                   "include: [common.yaml]\n"
                   "vars: {port: 8080, files: {a: 1}}\n"
                   "inventory:\n"
                   "  transport: {local: null}\n"
                   "  nodes:\n"
                   "    web1: {roles: [web], cluster: c1, vars: {rack: r1}, root: ./roots/web1}\n"
                   "    web2: {transport: {ssh: {host: h, user: u, port: 22, options: [BatchMode=yes]}}}\n"
                   "    db1:\n"
                   "  groups: {web: [web1, web2]}\n"
                   "resources:\n"
                   "  - type: file\n"
                   "    name: /srv/${each.key}\n"
                   "    for_each: ${vars.files}\n"
                   "    on: web\n"
                   "    properties: {content: x, mode: \"0644\"}\n"
                   "    depends_on: [\"directory[/srv]\"]\n"
                   "    sensitive: [content]\n"
                   "    description: one file per entry\n"
                   "constraints:\n"
                   "  - order: [web1, web2]\n"
                   "  - max_disrupted: 1\n    of: web\n"
                   "  - available: web\n    outage_budget: 1h30m\n"
                   "  - precondition: full_backup\n    max_age: 86400\n    on: db1\n"
                   "  - halt_after_failures: 1\n") == "");
}

TEST_CASE("manifests under manifests/ validate clean", "[schemas]") {
  fs::path root = fs::path(CONVERGE_SOURCE_DIR) / "manifests";
  REQUIRE(fs::is_directory(root));
  int checked = 0;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file() || e.path().extension() != ".yaml") continue;
    auto doc = load_yaml_file(e.path().string());
    REQUIRE(doc.has_value());
    const YNode* kind = doc->root.get("kind");
    if (!kind || kind->scalar != Value("Manifest")) continue;
    INFO(e.path().string());
    auto diags = validate_with_schema(*doc, "manifest");
    for (const auto& d : diags) UNSCOPED_INFO(d.describe());
    CHECK(diags.empty());
    ++checked;
  }
  // The shipped examples: the showcase, the web tier and the single host at least.
  CHECK(checked >= 3);
}
