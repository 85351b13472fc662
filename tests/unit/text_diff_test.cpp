// engine/model/text_diff.h: unified diffs as `diff -u` prints them (hunks with three lines
// of context, the missing final newline marked), and the cases that get no diff.
#include <catch2/catch.hpp>

#include <string>

#include "engine/model/text_diff.h"

using namespace converge;

namespace {

std::string numbered(int from, int to) {
  std::string s;
  for (int i = from; i <= to; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("a changed line in a long text: one hunk with three lines of context", "[text_diff]") {
  std::string before = numbered(1, 20), after = before;
  after.replace(after.find("line 10\n"), 8, "line ten\n");
  TextDiff d = unified_diff(before, after, "file[/etc/x]@n1");
  REQUIRE(d.kind == TextDiff::Kind::text);
  CHECK(d.text ==
        "--- file[/etc/x]@n1 (observed)\n"
        "+++ file[/etc/x]@n1 (desired)\n"
        "@@ -7,7 +7,7 @@\n"
        " line 7\n line 8\n line 9\n"
        "-line 10\n"
        "+line ten\n"
        " line 11\n line 12\n line 13\n");
}

TEST_CASE("created from nothing, and a final newline added", "[text_diff]") {
  TextDiff created = unified_diff("", "a\nb\n", "f");
  REQUIRE(created.kind == TextDiff::Kind::text);
  CHECK(created.text == "--- f (observed)\n+++ f (desired)\n@@ -0,0 +1,2 @@\n+a\n+b\n");
  TextDiff nl = unified_diff("a\nb", "a\nb\n", "f");
  REQUIRE(nl.kind == TextDiff::Kind::text);
  CHECK(nl.text == "--- f (observed)\n+++ f (desired)\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n");
}

TEST_CASE("no diff for equal, binary or too large texts", "[text_diff]") {
  CHECK(unified_diff("same\n", "same\n", "f").kind == TextDiff::Kind::identical);
  CHECK(unified_diff(std::string("a\0b", 3), "ab\n", "f").kind == TextDiff::Kind::binary);
  CHECK(unified_diff("ab\xff\n", "ab\n", "f").kind == TextDiff::Kind::binary);
  CHECK(unified_diff("caf\xc3\xa9\n", "cafe\n", "f").kind == TextDiff::Kind::text);  // UTF-8 is text
  CHECK(unified_diff(std::string(100, 'a'), std::string(100, 'b'), "f", 400, 50).kind == TextDiff::Kind::too_large);
}

TEST_CASE("a long diff is cut, saying how much was left out", "[text_diff]") {
  TextDiff d = unified_diff("", numbered(1, 50), "f", 10);
  REQUIRE(d.kind == TextDiff::Kind::text);
  CHECK(d.text.find("+line 9\n") != std::string::npos);
  CHECK(d.text.find("+line 10\n") == std::string::npos);
  CHECK(d.text.find("... (41 more lines of the diff)\n") != std::string::npos);
}
