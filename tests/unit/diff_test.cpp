// engine/model/diff.h: desired vs observed for the built-in file, directory and exec schemas,
// with hand-made observations. Pure: no I/O.
#include <catch2/catch.hpp>

#include <string>

#include "engine/model/diff.h"

using namespace converge;

namespace {

/// The built-in schemas and a way to state a resource as the loader leaves it.
struct DiffFixture {
  TypeRegistry types = builtin_types();

  const TypeSchema& schema(const std::string& name) const {
    const TypeEntry* e = types.find(name);
    REQUIRE(e != nullptr);
    return e->schema;
  }

  static ResourceSpec spec(const std::string& type, const std::string& name, Map props) {
    ResourceSpec r;
    r.type = type;
    r.name = name;
    r.node = "localhost";
    r.properties = std::move(props);
    return r;
  }

  static ResourceSpec file(Map props) {
    props.emplace("path", Value("/srv/a"));
    props.emplace("ensure", Value("present"));
    return spec("file", "/srv/a", std::move(props));
  }

  static ResourceSpec exec() {
    return spec("exec", "migrate",
                Map{{"check", Value(List{Value("test"), Value("-f"), Value("/done")})},
                    {"apply", Value(List{Value("touch"), Value("/done")})},
                    {"timeout", Value("5m")},
                    {"ok", Value(true)}});
  }

  /// "word symbol reason | prop: before -> after; ..." — the whole change as one golden line.
  static std::string render(const ResourceChanges& c) {
    std::string out = std::string(action_word(c.action)) + " " + action_symbol(c.action) + " " + c.reason + " |";
    for (const auto& p : c.properties) out += " " + p.property + ": " + p.before.to_json() + " -> " + p.after.to_json() + ";";
    return out;
  }
};

}  // namespace

TEST_CASE("action vocabulary is stable", "[diff]") {
  auto [a, symbol, word] = GENERATE(table<ChangeKind, std::string, std::string>({
      {ChangeKind::none, " ", "none"},
      {ChangeKind::create, "+", "create"},
      {ChangeKind::update, "~", "update"},
      {ChangeKind::remove, "-", "delete"},
  }));
  CHECK(action_symbol(a) == symbol);
  CHECK(action_word(a) == word);
}

TEST_CASE_METHOD(DiffFixture, "diff: an absent file is created with ensure and every managed property", "[diff]") {
  auto c = diff(file({{"content", Value("hi\n")}, {"mode", Value("0640")}}), schema("file"), Observation::absent());
  CHECK(c.action == ChangeKind::create);
  CHECK_FALSE(c.empty());
  // path is a parameter, not state; owner and group are unmanaged.
  CHECK(render(c) == R"(create + does not exist | ensure: "absent" -> "present"; content: null -> "hi\n"; mode: null -> "0640";)");
  REQUIRE(c.find("content") != nullptr);
  CHECK(c.find("content")->before.is_null());
  CHECK(c.find("path") == nullptr);
  CHECK(c.find("owner") == nullptr);
}

TEST_CASE_METHOD(DiffFixture, "diff: an absent directory is created", "[diff]") {
  ResourceSpec d = spec("directory", "/srv", Map{{"path", Value("/srv")}, {"ensure", Value("present")},
                                                 {"mode", Value("0755")}, {"owner", Value("root")}});
  auto c = diff(d, schema("directory"), Observation::absent());
  CHECK(render(c) == R"(create + does not exist | ensure: "absent" -> "present"; mode: null -> "0755"; owner: null -> "root";)");
}

TEST_CASE_METHOD(DiffFixture, "diff: only the differing managed properties are updated", "[diff]") {
  Map observed{{"ensure", Value("present")}, {"content", Value("old")}, {"mode", Value("0600")},
               {"owner", Value("root")}, {"group", Value("root")}};
  SECTION("content differs") {
    auto c = diff(file({{"content", Value("new")}, {"mode", Value("0600")}}), schema("file"), Observation::present(observed));
    CHECK(render(c) == R"(update ~ differs: content | content: "old" -> "new";)");
  }
  SECTION("mode and owner differ") {
    auto c = diff(file({{"content", Value("old")}, {"mode", Value("0644")}, {"owner", Value("app")}}), schema("file"),
                  Observation::present(observed));
    CHECK(render(c) == R"(update ~ differs: mode, owner | mode: "0600" -> "0644"; owner: "root" -> "app";)");
  }
  SECTION("a managed property the observation lacks goes from null") {
    Map partial{{"ensure", Value("present")}, {"mode", Value("0600")}};
    auto c = diff(file({{"content", Value("x")}}), schema("file"), Observation::present(partial));
    CHECK(render(c) == R"(update ~ differs: content | content: null -> "x";)");
  }
}

TEST_CASE_METHOD(DiffFixture, "diff: properties come in the type's declaration order (diff.h contract)", "[diff]") {
  // diff.h: "in the type's declaration order (ensure first)". file declares mode before group.
  Map observed{{"ensure", Value("present")}, {"mode", Value("0600")}, {"group", Value("root")}};
  auto c = diff(file({{"mode", Value("0644")}, {"group", Value("staff")}}), schema("file"), Observation::present(observed));
  REQUIRE(c.properties.size() == 2);
  CHECK(c.properties[0].property == "mode");
  CHECK(c.properties[1].property == "group");
}

TEST_CASE_METHOD(DiffFixture, "diff: unmanaged properties are ignored", "[diff]") {
  Map observed{{"ensure", Value("present")}, {"content", Value("same")}, {"mode", Value("0777")},
               {"owner", Value("nobody")}, {"group", Value("nogroup")}};
  // mode not stated at all; owner stated as null: neither is managed.
  auto c = diff(file({{"content", Value("same")}, {"owner", Value()}}), schema("file"), Observation::present(observed));
  CHECK(c.action == ChangeKind::none);
  CHECK(c.empty());
  CHECK(c.properties.empty());
  CHECK(c.reason.empty());
}

TEST_CASE_METHOD(DiffFixture, "diff: in sync means no change", "[diff]") {
  Map observed{{"ensure", Value("present")}, {"content", Value("x")}, {"mode", Value("0644")}};
  auto c = diff(file({{"content", Value("x")}, {"mode", Value("0644")}}), schema("file"), Observation::present(observed));
  CHECK(render(c) == "none    |");
}

TEST_CASE_METHOD(DiffFixture, "diff: ensure absent deletes only what exists", "[diff]") {
  ResourceSpec gone = file({{"ensure", Value("absent")}, {"content", Value("ignored")}});
  SECTION("present: delete") {
    auto c = diff(gone, schema("file"), Observation::present(Map{{"ensure", Value("present")}, {"content", Value("x")}}));
    CHECK(render(c) == R"(delete - exists; ensure is absent | ensure: "present" -> "absent";)");
  }
  SECTION("absent: nothing to do") {
    auto c = diff(gone, schema("file"), Observation::absent());
    CHECK(c.empty());
    CHECK(c.properties.empty());
  }
}

TEST_CASE_METHOD(DiffFixture, "diff: an exec whose check fails is updated, with the check as reason", "[diff]") {
  auto c = diff(exec(), schema("exec"), Observation::present(Map{{"ok", Value(false)}}, "check exited 1"));
  CHECK(render(c) == "update ~ check exited 1 | ok: false -> true;");
  // check, apply and timeout are parameters: never compared.
  CHECK(c.find("check") == nullptr);
  CHECK(c.find("timeout") == nullptr);
}

TEST_CASE_METHOD(DiffFixture, "diff: an exec whose check passes needs nothing", "[diff]") {
  auto c = diff(exec(), schema("exec"), Observation::present(Map{{"ok", Value(true)}}, "a note that explains nothing"));
  CHECK(c.empty());
  CHECK(c.reason.empty());
}

TEST_CASE_METHOD(DiffFixture, "ResourceChanges::find", "[diff]") {
  auto c = diff(file({{"content", Value("a")}}), schema("file"), Observation::absent());
  REQUIRE(c.find("ensure") != nullptr);
  CHECK(c.find("ensure")->after == Value("present"));
  CHECK(c.find("mode") == nullptr);
  CHECK(ResourceChanges{}.find("ensure") == nullptr);
}
