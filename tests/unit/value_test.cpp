// engine/model/value.h: kinds, equality and order, JSON and scalar rendering, map lookup.
// Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>
#include <tuple>

#include "engine/model/value.h"

using namespace converge;
using K = Value::Kind;

TEST_CASE("Value: each constructor yields its kind", "[value]") {
  auto [v, kind, name] = GENERATE(table<Value, K, std::string>({
      {Value(), K::null, "null"},
      {Value(nullptr), K::null, "null"},
      {Value(true), K::boolean, "boolean"},
      {Value(false), K::boolean, "boolean"},
      {Value(42), K::integer, "integer"},
      {Value(std::int64_t{-9'000'000'000}), K::integer, "integer"},
      {Value("text"), K::string, "string"},
      {Value(std::string("")), K::string, "string"},
      {Value(List{Value(1)}), K::list, "list"},
      {Value(Map{{"a", Value(1)}}), K::map, "map"},
  }));
  CHECK(v.kind() == kind);
  CHECK(std::string(kind_name(v.kind())) == name);
  CHECK(v.is_null() == (kind == K::null));
  CHECK(v.is_bool() == (kind == K::boolean));
  CHECK(v.is_int() == (kind == K::integer));
  CHECK(v.is_string() == (kind == K::string));
  CHECK(v.is_list() == (kind == K::list));
  CHECK(v.is_map() == (kind == K::map));
}

TEST_CASE("Value: accessors return what was stored", "[value]") {
  CHECK(Value(true).as_bool());
  CHECK(Value(std::int64_t{-9'000'000'000}).as_int() == -9'000'000'000);
  CHECK(Value("abc").as_string() == "abc");
  CHECK(Value(List{Value(1), Value("x")}).as_list().size() == 2);
  Value m(Map{{"k", Value(7)}});
  m.as_map()["j"] = Value(8);
  CHECK(m.as_map().size() == 2);
  CHECK(m.to_json() == R"({"j":8,"k":7})");
}

TEST_CASE("Value: equality is by kind and content", "[value]") {
  CHECK(Value(1) == Value(std::int64_t{1}));
  CHECK(Value("a") == Value(std::string("a")));
  CHECK(Value() == Value(nullptr));
  CHECK(Value(List{Value(1), Value("a")}) == Value(List{Value(1), Value("a")}));
  CHECK(Value(Map{{"a", Value(1)}}) == Value(Map{{"a", Value(1)}}));

  auto [a, b] = GENERATE(table<Value, Value>({
      {Value(1), Value("1")},         // an integer is not its text
      {Value(true), Value(1)},        // nor is a bool an integer
      {Value(false), Value()},        // nor false null
      {Value(""), Value()},           // nor the empty string null
      {Value("0644"), Value(644)},
      {Value(List{Value(1), Value(2)}), Value(List{Value(2), Value(1)})},  // lists are ordered
      {Value(Map{{"a", Value(1)}}), Value(Map{{"a", Value(2)}})},
      {Value(Map{{"a", Value(1)}}), Value(Map{{"b", Value(1)}})},
  }));
  CHECK_FALSE(a == b);
  CHECK_FALSE(b == a);
}

TEST_CASE("Value: order is by kind first, then content", "[value]") {
  // null < bool < integer < string < list < map, whatever the content.
  auto [lo, hi] = GENERATE(table<Value, Value>({
      {Value(), Value(false)},
      {Value(true), Value(std::int64_t{-5})},
      {Value(1'000'000), Value("")},
      {Value("zzz"), Value(List{})},
      {Value(List{Value(9)}), Value(Map{})},
      {Value(false), Value(true)},
      {Value(2), Value(10)},
      {Value(-3), Value(2)},
      {Value("10"), Value("9")},  // strings compare as text
      {Value("b"), Value("c")},
      {Value(List{Value(1)}), Value(List{Value(1), Value(0)})},
  }));
  CHECK(lo < hi);
  CHECK_FALSE(hi < lo);
}

TEST_CASE("Value::to_json escapes strings as JSON", "[value]") {
  auto [in, out] = GENERATE(table<std::string, std::string>({
      {"plain", R"("plain")"},
      {"say \"hi\"", R"("say \"hi\"")"},
      {"back\\slash", R"("back\\slash")"},
      {"a\nb\rc\td", R"("a\nb\rc\td")"},
      {std::string("\x01\x1f", 2), R"("\u0001\u001f")"},
      {std::string("nul\0x", 5), R"("nul\u0000x")"},
      {"\x7f", "\"\x7f\""},                          // DEL is legal in JSON
      {"caf\xc3\xa9", "\"caf\xc3\xa9\""},            // UTF-8 passes through unchanged
      {"\xe6\x97\xa5\xe6\x9c\xac", "\"\xe6\x97\xa5\xe6\x9c\xac\""},
      {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},  // 4-byte sequence
      {"/", R"("/")"},                               // '/' is not escaped
  }));
  CHECK(Value(in).to_json() == out);
}

TEST_CASE("Value::to_json turns bytes that are not UTF-8 into U+FFFD, one per byte", "[value]") {
  auto [in, out] = GENERATE(table<std::string, std::string>({
      {"ab\xff\xfe", R"("ab\ufffd\ufffd")"},                 // never valid in UTF-8
      {"\x80x", R"("\ufffdx")"},                             // stray continuation byte
      {"\xc3", R"("\ufffd")"},                               // sequence cut short at the end
      {"\xc3(", R"("\ufffd(")"},                             // lead byte without continuation
      {"\xc0\xaf", R"("\ufffd\ufffd")"},                     // overlong '/'
      {"\xed\xa0\x80", R"("\ufffd\ufffd\ufffd")"},           // UTF-16 surrogate
      {"\xf4\x90\x80\x80", R"("\ufffd\ufffd\ufffd\ufffd")"},  // past U+10FFFF
      {"\xe6\x97\xa5\xff", "\"\xe6\x97\xa5\\ufffd\""},       // valid then invalid
  }));
  CHECK(Value(in).to_json() == out);
  CHECK(Value(List{Value(in)}).to_json() == "[" + out + "]");
}

TEST_CASE("utf8_length measures one well-formed sequence", "[value]") {
  CHECK(utf8_length("a", 0) == 1);
  CHECK(utf8_length("\xc3\xa9", 0) == 2);
  CHECK(utf8_length("\xe6\x97\xa5", 0) == 3);
  CHECK(utf8_length("\xf0\x9f\x98\x80", 0) == 4);
  CHECK(utf8_length("x\xf0\x9f\x98\x80", 1) == 4);
  CHECK(utf8_length("\xf0\x9f\x98", 0) == 0);
  CHECK(utf8_length("\xa9", 0) == 0);
}

TEST_CASE("Value::to_json renders every kind compactly with sorted keys", "[value]") {
  Map inner{{"z", Value()}, {"a", Value(List{Value(true), Value(false)})}};
  Value v(Map{{"name", Value("x")}, {"count", Value(-7)}, {"inner", Value(inner)}, {"k\"ey", Value("")}});
  CHECK(v.to_json() == R"({"count":-7,"inner":{"a":[true,false],"z":null},"k\"ey":"","name":"x"})");
  CHECK(Value().to_json() == "null");
  CHECK(Value(List{}).to_json() == "[]");
  CHECK(Value(Map{}).to_json() == "{}");
}

TEST_CASE("Value::to_string renders scalars bare and collections as JSON", "[value]") {
  auto [v, out] = GENERATE(table<Value, std::string>({
      {Value(), "null"},
      {Value(true), "true"},
      {Value(false), "false"},
      {Value(42), "42"},
      {Value(-7), "-7"},
      {Value("text with \"quotes\""), "text with \"quotes\""},
      {Value(""), ""},
      {Value(List{Value(1), Value("a")}), R"([1,"a"])"},
      {Value(Map{{"b", Value(1)}, {"a", Value("x")}}), R"({"a":"x","b":1})"},
  }));
  CHECK(v.to_string() == out);
}

TEST_CASE("Value::find looks up map keys only", "[value]") {
  Value m(Map{{"a", Value(1)}, {"b", Value(Map{{"c", Value("deep")}})}});
  const Value* a = m.find("a");
  REQUIRE(a != nullptr);
  CHECK(a->as_int() == 1);
  const Value* b = m.find("b");
  REQUIRE(b != nullptr);
  REQUIRE(b->find("c") != nullptr);
  CHECK(b->find("c")->as_string() == "deep");
  CHECK(m.find("missing") == nullptr);
  CHECK(m.find("") == nullptr);
  CHECK(m.find("c") == nullptr);  // not recursive

  auto non_map = GENERATE(Value(), Value(1), Value("a"), Value(List{Value("a")}));
  CHECK(non_map.find("a") == nullptr);
}
