// engine/model/duration.h: parsing manifest durations into milliseconds and rendering them back.
// Pure: no I/O.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "engine/model/duration.h"

using namespace converge;

TEST_CASE("parse_duration_ms accepts seconds and unit strings", "[duration]") {
  auto [v, ms] = GENERATE(table<Value, std::int64_t>({
      {Value(0), 0},
      {Value(90), 90'000},                 // a bare integer is seconds
      {Value("0s"), 0},
      {Value("90s"), 90'000},
      {Value("500ms"), 500},
      {Value("30m"), 1'800'000},
      {Value("24h"), 86'400'000},
      {Value("2d"), 172'800'000},
      {Value("1h30m"), 5'400'000},
      {Value("2m30s"), 150'000},
      {Value("1m500ms"), 60'500},
      {Value("1h1m1s1ms"), 3'661'001},
      {Value("007s"), 7'000},
      {Value("999999999d"), 86'399'999'913'600'000},  // the largest count of one term
  }));
  auto got = parse_duration_ms(v);
  REQUIRE(got.has_value());
  CHECK(*got == ms);
}

TEST_CASE("parse_duration_ms refuses malformed durations", "[duration]") {
  auto v = GENERATE(Value(), Value(true), Value(-1), Value(List{Value("5s")}), Value(""), Value("30"),
                    Value("m"), Value("s5"), Value("30x"), Value("1.5h"), Value("-5s"), Value(" 5s"),
                    Value("5 s"), Value("5S"), Value("5m "), Value("1h30"), Value("100000000000s"));
  INFO(v.to_json());
  CHECK_FALSE(parse_duration_ms(v).has_value());
}

TEST_CASE("parse_duration_ms refuses a sum that would overflow", "[duration]") {
  std::string s;
  for (int i = 0; i < 120; ++i) s += "999999999d";
  CHECK_FALSE(parse_duration_ms(Value(s)).has_value());
  CHECK(parse_duration_ms(Value("10000000000s")).value() == 10'000'000'000'000);  // large but fine
}

TEST_CASE("format_duration_ms renders the largest units, dropping zeros", "[duration]") {
  auto [ms, text] = GENERATE(table<std::int64_t, std::string>({
      {0, "0ms"},
      {120, "120ms"},
      {999, "999ms"},
      {1'000, "1s"},
      {1'500, "1s"},  // sub-second remainder dropped above one second
      {4'000, "4s"},
      {60'000, "1m"},
      {90'000, "1m30s"},
      {1'500'000, "25m"},
      {3'600'000, "1h"},
      {3'600'500, "1h"},
      {3'661'000, "1h1m1s"},
      {3'601'000, "1h1s"},
      {5'400'000, "1h30m"},
      {86'400'000, "24h"},
      {90'000'000, "25h"},
  }));
  CHECK(format_duration_ms(ms) == text);
}

TEST_CASE("format_duration_ms output parses back to the same whole seconds", "[duration]") {
  auto ms = GENERATE(std::int64_t{1'000}, std::int64_t{59'000}, std::int64_t{61'000}, std::int64_t{3'599'000},
                     std::int64_t{7'322'000}, std::int64_t{86'400'000});
  auto back = parse_duration_ms(Value(format_duration_ms(ms)));
  REQUIRE(back.has_value());
  CHECK(*back == ms);
}
