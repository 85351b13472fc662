// engine/model/selection.h: --limit and --tags mark what a run leaves out.
#include <catch2/catch.hpp>

#include "engine/model/selection.h"

using namespace converge;

namespace {

ResourceSpec res(const std::string& type, const std::string& name, const std::string& node,
                 std::vector<std::string> tags = {}) {
  ResourceSpec r;
  r.type = type;
  r.name = name;
  r.node = node;
  r.tags = std::move(tags);
  return r;
}

/// Two clustered mailbox nodes, a hub, a web group; resources on each and on the cluster.
Manifest estate() {
  Manifest m;
  m.path = "/site.yaml";
  for (const char* n : {"HUB", "N1", "N2", "W1"}) {
    NodeSpec node;
    node.name = n;
    m.nodes.push_back(node);
  }
  m.groups["mailbox"] = {"N1", "N2"};
  m.groups["web"] = {"W1"};
  m.clusters["CLUS"] = {"N1", "N2"};
  m.resources = {res("exchange_server", "x", "HUB", {"exchange"}), res("exchange_server", "x", "N1", {"exchange"}),
                 res("exchange_server", "x", "N2", {"exchange"}), res("cms", "E", "CLUS", {"exchange"}),
                 res("file", "/etc/motd", "W1", {"motd"}),       res("file", "/etc/motd", "N1", {"motd"})};
  return m;
}

std::vector<bool> excluded(const Manifest& m) {
  std::vector<bool> out;
  for (const auto& r : m.resources) out.push_back(r.excluded);
  return out;
}

}  // namespace

TEST_CASE("select: no limit and no tags leaves everything in") {
  Manifest m = estate();
  auto s = select(m, Selection{});
  REQUIRE(s);
  CHECK(s->left_out == 0);
  CHECK(!m.limit);
  CHECK(excluded(m) == std::vector<bool>(6, false));
}

TEST_CASE("select: a node limit keeps that node; a cluster resource needs the whole cluster") {
  Manifest m = estate();
  auto s = select(m, Selection{{"N1"}, {}});
  REQUIRE(s);
  CHECK(excluded(m) == std::vector<bool>{true, false, true, true, true, false});
  CHECK(s->left_out == 4);
  CHECK(s->nodes_left_out == std::set<std::string>{"CLUS", "HUB", "N2", "W1"});
  REQUIRE(m.limit);
  CHECK(*m.limit == std::set<std::string>{"N1"});
}

TEST_CASE("select: a group, or the cluster by name, brings in the cluster's resources") {
  for (const char* word : {"mailbox", "CLUS"}) {
    Manifest m = estate();
    REQUIRE(select(m, Selection{{word}, {}}));
    CHECK(excluded(m) == std::vector<bool>{true, false, false, false, true, false});
    CHECK(m.limit->count("CLUS") == 1);
  }
}

TEST_CASE("select: tags keep only resources that carry one; with a limit both must hold") {
  Manifest m = estate();
  REQUIRE(select(m, Selection{{}, {"motd"}}));
  CHECK(excluded(m) == std::vector<bool>{true, true, true, true, false, false});
  Manifest m2 = estate();
  REQUIRE(select(m2, Selection{{"web"}, {"motd", "exchange"}}));
  CHECK(excluded(m2) == std::vector<bool>{true, true, true, true, false, true});
}

TEST_CASE("select: an unknown name or tag is an error, not an empty run") {
  Manifest m = estate();
  auto bad = select(m, Selection{{"N9"}, {}});
  REQUIRE(!bad);
  CHECK_THAT(bad.error().message, Catch::Contains("'N9' is no node, group or cluster"));
  auto tag = select(m, Selection{{}, {"exchnage"}});
  REQUIRE(!tag);
  CHECK_THAT(tag.error().message, Catch::Contains("carries tag 'exchnage'"));
}

TEST_CASE("split_list and describe") {
  CHECK(split_list("a, b,,c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(split_list("").empty());
  CHECK(Selection{{"N1", "web"}, {"x"}}.describe() == "--limit N1,web --tags x");
}
