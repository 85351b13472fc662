// engine/run/refresh.h and the loader's subscribe/notify: who owes a refresh when what
// changes, the journal's owed records, and how the manifest states subscriptions.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/model/loader.h"
#include "engine/run/refresh.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

/// Loads `resources` (YAML list items) on one local node from a temporary file.
LoadOutcome load_resources(const std::string& resources) {
  char tmpl[] = "/tmp/converge-refresh-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  std::ofstream(dir + "/m.yaml") << "apiVersion: converge/v1\nkind: Manifest\n"
                                    "inventory: {nodes: {web: {root: /tmp}}}\nresources:\n"
                                 << resources;
  LoadOutcome o = load_manifest(dir + "/m.yaml", builtin_types());
  fs::remove_all(dir);
  return o;
}

std::string diagnostics(const LoadOutcome& o) {
  std::string out;
  for (const auto& d : o.diagnostics) out += d.message + "\n";
  return out;
}

int index_of(const Manifest& m, const std::string& id) {
  for (std::size_t i = 0; i < m.resources.size(); ++i)
    if (m.resources[i].id() == id) return static_cast<int>(i);
  FAIL("no resource " << id);
  return -1;
}

const std::string kChain =
    "  - {type: file, name: /conf, properties: {content: x}}\n"
    "  - {type: exec, name: check, subscribe: 'file[/conf]', properties: {check: ['true'], apply: ['true']}}\n"
    "  - {type: exec, name: reload, properties: {check: ['true'], apply: ['true']}}\n"
    "  - {type: file, name: /other, notify: ['exec[reload]'], properties: {content: y}}\n"
    "  - {type: exec, name: alone, properties: {check: ['true'], apply: ['true']}}\n";

}  // namespace

TEST_CASE("subscribe and notify become one list of subscriptions, each a dependency too", "[refresh]") {
  LoadOutcome o = load_resources(kChain + "  - {type: exec, name: last, subscribe: ['exec[check]', 'exec[reload]'], properties: {check: ['true'], apply: ['true']}}\n");
  REQUIRE(o.manifest);
  const Manifest& m = *o.manifest;
  const ResourceSpec& reload = m.resources[index_of(m, "exec[reload]@web")];
  CHECK(reload.subscribe == std::vector<std::string>{"file[/other]@web"});
  CHECK(std::count(reload.depends_on.begin(), reload.depends_on.end(), "file[/other]@web") == 1);
  const ResourceSpec& check = m.resources[index_of(m, "exec[check]@web")];
  CHECK(check.subscribe == std::vector<std::string>{"file[/conf]@web"});
  CHECK(check.depends_on == std::vector<std::string>{"file[/conf]@web"});
  const auto subs = subscriptions(m);
  CHECK(subs[index_of(m, "exec[last]@web")] == std::vector<int>{index_of(m, "exec[check]@web"), index_of(m, "exec[reload]@web")});
}

TEST_CASE("a refresh passes on: the subscribers of what changes owe one, and theirs in turn", "[refresh]") {
  LoadOutcome o = load_resources(kChain + "  - {type: exec, name: last, subscribe: ['exec[check]'], properties: {check: ['true'], apply: ['true']}}\n");
  REQUIRE(o.manifest);
  const Manifest& m = *o.manifest;
  std::vector<char> changing(m.resources.size(), 0);
  CHECK(refresh_closure(m, changing) == std::vector<char>(m.resources.size(), 0));
  changing[index_of(m, "file[/conf]@web")] = 1;
  std::vector<char> owes = refresh_closure(m, changing);
  CHECK(owes[index_of(m, "exec[check]@web")]);
  CHECK(owes[index_of(m, "exec[last]@web")]);  // through the middle step
  CHECK_FALSE(owes[index_of(m, "exec[reload]@web")]);
  CHECK_FALSE(owes[index_of(m, "exec[alone]@web")]);
  CHECK_FALSE(owes[index_of(m, "file[/conf]@web")]);
  changing.assign(m.resources.size(), 0);
  changing[index_of(m, "file[/other]@web")] = 1;
  owes = refresh_closure(m, changing);
  CHECK(owes[index_of(m, "exec[reload]@web")]);
  CHECK_FALSE(owes[index_of(m, "exec[check]@web")]);
}

TEST_CASE("owed refreshes are the journal's non-empty refresh records", "[refresh]") {
  std::vector<std::pair<std::string, std::string>> meta{{refresh_key("exec[a]@web"), "run 3"},
                                                        {refresh_key("exec[b]@web"), ""},
                                                        {"git_dirty:abc", "1"},
                                                        {refresh_key("service[nginx]@web1"), "run 4"}};
  CHECK(owed_refreshes(meta) == std::set<std::string>{"exec[a]@web", "service[nginx]@web1"});
}

TEST_CASE("subscriptions are checked like dependencies", "[refresh]") {
  CHECK(diagnostics(load_resources("  - {type: exec, name: a, subscribe: 'file[/nope]', properties: {check: ['true'], apply: ['true']}}\n")) ==
        "subscribe names unknown resource 'file[/nope]' (write type[name] or type[name]@node)\n");
  CHECK(diagnostics(load_resources("  - {type: exec, name: a, notify: 'exec[b]', properties: {check: ['true'], apply: ['true']}}\n")) ==
        "notify names unknown resource 'exec[b]' (write type[name] or type[name]@node)\n");
  CHECK(diagnostics(load_resources("  - {type: exec, name: a, subscribe: 'exec[a]', properties: {check: ['true'], apply: ['true']}}\n")) ==
        "exec[a]@web subscribes to itself\n");
  const std::string cycle = diagnostics(load_resources(
      "  - {type: exec, name: a, subscribe: 'exec[b]', properties: {check: ['true'], apply: ['true']}}\n"
      "  - {type: exec, name: b, depends_on: 'exec[a]', properties: {check: ['true'], apply: ['true']}}\n"));
  CHECK(cycle.starts_with("dependency cycle: "));
}
