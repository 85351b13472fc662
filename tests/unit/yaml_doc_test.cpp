// engine/model/yaml_doc.h: scalar typing by the YAML 1.2 core schema, 1-based positions, every
// refusal with its exact "file:line:col: message", and locate(). Pure: parse_yaml only.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/model/yaml_doc.h"

using namespace converge;

namespace {

/// Parses `text` as m.yaml, requiring success.
YDoc parse_ok(const std::string& text, const YamlLimits& limits = {}) {
  auto doc = parse_yaml(text, "m.yaml", limits);
  if (!doc) FAIL("unexpected refusal: " << doc.error().describe());
  return std::move(*doc);
}

/// Parses `text` as m.yaml, requiring a refusal; returns its description.
std::string refusal(const std::string& text, const YamlLimits& limits = {}) {
  auto doc = parse_yaml(text, "m.yaml", limits);
  if (doc) FAIL("accepted: " << text);
  CHECK(doc.error().code == ErrorCode::invalid_input);
  return doc.error().describe();
}

YamlLimits with_nodes(std::size_t n) {
  YamlLimits l;
  l.max_nodes = n;
  return l;
}
YamlLimits with_depth(int d) {
  YamlLimits l;
  l.max_depth = d;
  return l;
}
YamlLimits with_scalar(std::size_t n) {
  YamlLimits l;
  l.max_scalar_bytes = n;
  return l;
}
YamlLimits with_bytes(std::size_t n) {
  YamlLimits l;
  l.max_bytes = n;
  return l;
}

}  // namespace

TEST_CASE("parse_yaml types plain scalars by the core schema", "[yaml_doc]") {
  auto [text, json] = GENERATE(table<std::string, std::string>({
      {"null", "null"},
      {"~", "null"},
      {"", "null"},
      {"NULL", "null"},
      {"true", "true"},
      {"True", "true"},
      {"False", "false"},
      {"FALSE", "false"},
      {"42", "42"},
      {"-7", "-7"},
      {"+3", "3"},
      {"0644", "644"},  // leading zeros: decimal integer, not octal
      {"0", "0"},
      {"1.5", R"("1.5")"},        // floats stay strings
      {"yes", R"("yes")"},        // YAML 1.1 booleans are text
      {"0x1F", R"("0x1F")"},
      {"1_000", R"("1_000")"},
      {"99999999999999999999", R"("99999999999999999999")"},  // overflows int64: text
      {"-x", R"("-x")"},
      {"+", R"("+")"},
      {R"("42")", R"("42")"},     // quoted: always a string
      {"'true'", R"("true")"},
      {R"("")", R"("")"},
      {"!!str 42", R"("42")"},
      {"!!int 17", "17"},
  }));
  YDoc doc = parse_ok("v: " + text + "\n");
  const YNode* v = doc.root.get("v");
  REQUIRE(v != nullptr);
  CHECK(v->to_value().to_json() == json);
  CHECK((v->kind == YNode::Kind::null) == (json == "null"));
}

TEST_CASE("parse_yaml records whether a scalar was quoted", "[yaml_doc]") {
  YDoc doc = parse_ok("a: x\nb: \"x\"\nc: 'x'\n");
  CHECK(doc.root.get("a")->plain);
  CHECK_FALSE(doc.root.get("b")->plain);
  CHECK_FALSE(doc.root.get("c")->plain);
}

TEST_CASE("parse_yaml gives nodes and keys 1-based positions", "[yaml_doc]") {
  YDoc doc = parse_ok(
      "a: 1\n"            // 1
      "b:\n"              // 2
      "  c: [x, yy]\n"    // 3
      "  d:\n"            // 4
      "    - e\n"         // 5
      "    - {f: g}\n");  // 6
  const YNode& r = doc.root;
  REQUIRE(r.is_map());
  REQUIRE(r.entries.size() == 2);
  CHECK(r.entries[0].key == "a");  // document order
  CHECK(r.entries[1].key == "b");
  auto pos = [&](int line, int col) { return std::to_string(line) + ":" + std::to_string(col); };
  auto at = [&](const YNode& n) { return pos(n.line, n.col); };
  auto key_at = [&](const YEntry& e) { return pos(e.line, e.col); };

  CHECK(key_at(*r.entry("a")) == "1:1");
  CHECK(at(*r.get("a")) == "1:4");
  CHECK(key_at(*r.entry("b")) == "2:1");
  const YNode& b = *r.get("b");
  CHECK(at(b) == "3:3");
  CHECK(key_at(*b.entry("c")) == "3:3");
  const YNode& c = *b.get("c");
  REQUIRE(c.is_seq());
  CHECK(at(c) == "3:6");
  CHECK(at(c.items[0]) == "3:7");
  CHECK(at(c.items[1]) == "3:10");
  CHECK(key_at(*b.entry("d")) == "4:3");
  const YNode& d = *b.get("d");
  CHECK(at(d) == "5:5");
  CHECK(at(d.items[0]) == "5:7");
  CHECK(at(d.items[1]) == "6:7");
  CHECK(key_at(*d.items[1].entry("f")) == "6:8");
  CHECK(at(*d.items[1].get("f")) == "6:11");

  SourceRange where = doc.at(*b.entry("d"));
  CHECK(where.file == "m.yaml");
  CHECK(where.line == 4);
  CHECK(where.col == 3);
}

TEST_CASE("parse_yaml expands an ordinary alias", "[yaml_doc]") {
  YDoc doc = parse_ok("a: &x {k: [1, 2]}\nb: *x\n");
  const YNode* b = doc.root.get("b");
  REQUIRE(b != nullptr);
  CHECK(b->to_value().to_json() == R"({"k":[1,2]})");
  CHECK(b->line == 2);  // the copy is placed at the alias
  CHECK(b->col == 4);
  CHECK(doc.root.to_value().to_json() == R"({"a":{"k":[1,2]},"b":{"k":[1,2]}})");
}

TEST_CASE("parse_yaml accepts a quoted '<<' as an ordinary key", "[yaml_doc]") {
  YDoc doc = parse_ok("\"<<\": 1\n");
  CHECK(doc.root.to_value().to_json() == R"({"<<":1})");
}

TEST_CASE("parse_yaml accepts what is just inside its limits", "[yaml_doc]") {
  auto block = parse_yaml("v: |-\n  1234\n  5678\n  9\n", "m.yaml", with_scalar(11));  // an 11-byte scalar
  REQUIRE(block.has_value());
  CHECK(block->root.get("v")->scalar == Value("1234\n5678\n9"));
  CHECK(parse_yaml("a: [[1]]\n", "m.yaml", with_depth(3)).has_value());
  CHECK(parse_yaml("v: 1234\n", "m.yaml", with_bytes(8)).has_value());
  CHECK(parse_yaml("v: \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\n", "m.yaml").has_value());
}

struct Refusal {
  std::string name;
  std::string text;
  YamlLimits limits;
  std::string expected;
};

TEST_CASE("parse_yaml refuses with the exact position and message", "[yaml_doc]") {
  auto c = GENERATE(values<Refusal>({
      {"duplicate top-level key", "a: 1\nb: 2\na: 3\n", {}, "m.yaml:3:1: duplicate key 'a'"},
      {"duplicate nested key", "x:\n  a: 1\n  b: 2\n  a: 3\n", {}, "m.yaml:4:3: duplicate key 'a'"},
      {"duplicate flow key", "x: {a: 1, a: 2}\n", {}, "m.yaml:1:11: duplicate key 'a'"},
      {"merge key", "base: &b {x: 1}\nother:\n  <<: *b\n", {}, "m.yaml:3:3: merge keys (<<) are not supported"},
      // 7 nodes for a and 6 for its anchored copy, then b's key and one alias of 6 + 1: the
      // second alias would pass 21.
      {"alias expansion budget", "a: &a [1, 2, 3, 4, 5]\nb: [*a, *a, *a]\n", with_nodes(21),
       "m.yaml:2:9: aliases expand the document past 21 nodes (alias bomb?)"},
      {"anchor copies count too", "a: &a [1, 2, 3]\n", with_nodes(6),
       "m.yaml:1:4: anchors and aliases expand the document past 6 nodes"},
      {"node budget without aliases", "[1, 2, 3, 4, 5]\n", with_nodes(4), "m.yaml:1:14: document has more than 4 nodes"},
      {"alias inside its own anchor", "a: &x [1, *x]\n", {}, "m.yaml:1:11: alias to an unknown anchor"},
      {"alias to an undefined anchor", "a: *nope\n", {}, "m.yaml:1:4: YAML syntax: the referenced anchor is not defined"},
      {"nesting past max_depth", "a: [[[1]]]\n", with_depth(3), "m.yaml:1:6: nesting deeper than 3 levels"},
      {"huge scalar", "x: 1\nv: |-\n  1234\n  5678\n  9\n", with_scalar(10),
       "m.yaml:2:4: scalar of 11 bytes exceeds the limit of 10"},
      {"line longer than the scalar limit", "x: 1\nv: 123456789abc\ny: 2\n", with_scalar(8),
       "m.yaml:2:1: line of 15 bytes exceeds the scalar limit of 8"},
      {"last line, unterminated", "x: 1\nv: 123456789abc", with_scalar(8),
       "m.yaml:2:1: line of 15 bytes exceeds the scalar limit of 8"},
      {"custom tag", "v: !custom hello\n", {}, "m.yaml:1:4: unsupported YAML tag '!custom'"},
      {"python tag", "v: !!python/object {}\n", {}, "m.yaml:1:4: unsupported YAML tag 'tag:yaml.org,2002:python/object'"},
      {"custom tag on a list", "v: !set [a]\n", {}, "m.yaml:1:4: unsupported YAML tag '!set'"},
      {"two documents", "a: 1\n---\nb: 2\n", {}, "m.yaml:2:1: a file holds one YAML document; found a second one"},
      {"list as key", "? [a, b]\n: x\n", {}, "m.yaml:1:3: mapping keys must be scalars"},
      {"map as key", "x:\n  ? {a: 1}\n  : y\n", {}, "m.yaml:2:5: mapping keys must be scalars"},
      {"NUL byte", std::string("a: 1\nb: x\0y\n", 12), {}, "m.yaml:2:5: NUL byte in file"},
      {"lone continuation byte", "a: \x80\n", {}, "m.yaml:1:4: invalid UTF-8"},
      {"overlong 2-byte", "a: 1\nbb: \xc0\xaf\n", {}, "m.yaml:2:5: invalid UTF-8"},
      {"overlong 3-byte", "a: \xe0\x80\xaf\n", {}, "m.yaml:1:4: invalid UTF-8"},
      {"overlong 4-byte", "a: \xf0\x80\x80\xaf\n", {}, "m.yaml:1:4: invalid UTF-8"},
      {"surrogate after multibyte text", "a\xc3\xa9\xe6\x97\xa5: \xed\xa0\x80\n", {}, "m.yaml:1:6: invalid UTF-8"},
      {"low surrogate", "x: \"ab\xed\xbf\xbf\"\n", {}, "m.yaml:1:7: invalid UTF-8"},
      {"past U+10FFFF", "a: \xf4\x90\x80\x80\n", {}, "m.yaml:1:4: invalid UTF-8"},
      {"5-byte lead", "a: \xf8\x88\x80\x80\x80\n", {}, "m.yaml:1:4: invalid UTF-8"},
      {"truncated at end of file", "a: \xe2\x82", {}, "m.yaml:1:4: invalid UTF-8"},
      {"file size limit", "v: 12345\n", with_bytes(8), "m.yaml: file of 9 bytes exceeds the limit of 8 bytes"},
  }));
  INFO(c.name);
  CHECK(refusal(c.text, c.limits) == c.expected);
}

TEST_CASE("parse_yaml reports a syntax error at its position", "[yaml_doc]") {
  std::string msg = refusal("a: [1, 2\nb: 3\n");
  CHECK(msg.rfind("m.yaml:", 0) == 0);
  CHECK(msg.find(": YAML syntax: ") != std::string::npos);
}

TEST_CASE("locate finds a path's node or its deepest existing ancestor", "[yaml_doc]") {
  YDoc doc = parse_ok(
      "resources:\n"
      "  - type: file\n"
      "    name: a\n"
      "  - type: exec\n"
      "    properties: {check: [x]}\n");
  const YNode& root = doc.root;
  auto at = [](const YNode& n) { return std::to_string(n.line) + ":" + std::to_string(n.col); };
  auto [path, expected] = GENERATE(table<std::string, std::string>({
      {"", "1:1"},
      {"resources", "2:3"},
      {"resources/1", "4:5"},
      {"resources/1/type", "4:11"},
      {"resources/1/properties/check/0", "5:26"},
      {"resources/0/name", "3:11"},
      {"resources/0/missing", "2:5"},      // missing key: the map
      {"resources/7/type", "2:3"},         // index out of range: the list
      {"resources/x", "2:3"},              // not an index: the list
      {"resources/0/name/deeper", "3:11"}, // below a scalar: the scalar
      {"nope/at/all", "1:1"},
  }));
  std::vector<std::string> parts;
  for (std::size_t b = 0; b < path.size();) {
    std::size_t e = std::min(path.find('/', b), path.size());
    parts.push_back(path.substr(b, e - b));
    b = e + 1;
  }
  INFO(path);
  CHECK(at(locate(root, parts)) == expected);
}
