// engine/plan/ground.h: the showcase's planning problem ground from the shipped type files and
// a synthetic observation of the RTM cluster (no host, no lab), then planned, expanded with
// its transient steps and verified; host times parsed for run preconditions.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/model/duration.h"
#include "engine/plan/ground.h"
#include "engine/model/loader.h"
#include "engine/run/orchestrate.h"
#include "engine/plan/planner.h"

using namespace converge;
using namespace converge::grounding;

namespace {

/// The showcase loaded, with every known resource observed as the RTM lab starts (the
/// services' `prior` resolved to what is observed, as on a maintenance's first run).
struct Showcase {
  LoadOutcome lo;
  Inputs in;

  Showcase() : lo(load_manifest(std::string(CONVERGE_SOURCE_DIR) + "/manifests/exchange2007-ccr-sp1.yaml", builtin_types())) {
    REQUIRE(lo.manifest);
    in.manifest = &*lo.manifest;
    in.subjects = subjects(*lo.manifest, lo.types);
    in.facts = datatype::declarations(lo.types).facts;
    REQUIRE(in.facts.size() == 3);  // reboot_pending, service_cycled:{name}, restarted_since_setup
    for (auto& s : in.subjects) {
      const std::string& n = s.spec.node;
      const std::string& t = s.spec.type;
      const std::string& name = s.spec.name;
      Map p;
      bool present = true;
      if (t == "dotnet") p = {{"servicepack", Value(n == "HUBCAS" ? 1 : 0)}};
      if (t == "exchange_server") p = {{"version", Value("RTM")}};
      if (t == "reboot") p = {{"pending", Value(false)}, {"boot_time", Value("20080301080000.000000+000")}};
      if (t == "clustered_mailbox_server") p = {{"version", Value("RTM")}, {"owner", Value("NODE1")}, {"online", Value(true)}};
      if (t == "cluster_group") p = {{"owner", Value("NODE1")}, {"online", Value(true)}};
      if (t == "service") {
        if (name == "HealthService" || (n == "HUBCAS" && name != "SharedAccess")) present = false;
        else if (name == "SharedAccess")
          p = {{"state", Value(n == "HUBCAS" ? "running" : "stopped")},
               {"startup", Value(n == "HUBCAS" ? "automatic" : n == "NODE1" ? "manual" : "disabled")}};
        else p = {{"state", Value("running")}, {"startup", Value("automatic")}};
        if (s.manifest_index >= 0) s.spec.properties["state"] = p["state"], s.spec.properties["startup"] = p["startup"];
      }
      in.observed.push_back(present ? Observation::present(p) : Observation::absent());
    }
    for (const auto& node : {"HUBCAS", "NODE1", "NODE2"}) {
      in.reachable.insert(node);
      in.node_facts[std::string(node) + "/@reboot_pending"] = Value(false);
    }
  }
};

const planning::Operator* find_action(const Grounded& g, const std::string& node, const std::string& prefix, int* index = nullptr) {
  for (std::size_t i = 0; i < g.problem.actions.size(); ++i)
    if (g.problem.actions[i].node == node && g.problem.actions[i].name.starts_with(prefix)) {
      if (index) *index = static_cast<int>(i);
      return &g.problem.actions[i];
    }
  return nullptr;
}

const planning::Condition* pre_on(const planning::Operator& a, const std::string& fact) {
  for (const auto& c : a.pre)
    if (c.fact == fact) return &c;
  return nullptr;
}

bool has(const std::vector<Value>& vs, const Value& v) { return std::find(vs.begin(), vs.end(), v) != vs.end(); }

}  // namespace

TEST_CASE("the showcase grounds from the type definitions", "[ground]") {
  Showcase sc;
  // Referenced by conditions though not declared: observed, never given a goal.
  auto known = [&](const std::string& id) {
    return std::any_of(sc.in.subjects.begin(), sc.in.subjects.end(), [&](const Subject& s) { return s.spec.id() == id; });
  };
  CHECK(known("dotnet[2.0]@HUBCAS"));
  CHECK(known("service[HealthService]@NODE2"));
  CHECK(known("service[SharedAccess]@HUBCAS"));
  CHECK_FALSE(known("service[RemoteRegistry]@HUBCAS"));  // when_role: mailbox

  auto g = ground(sc.in);
  REQUIRE(g);
  int setup2 = -1;
  const planning::Operator* setup = find_action(*g, "NODE2", "exchange_server[exchange] upgrade", &setup2);
  REQUIRE(setup);
  CHECK(setup->disruption == planning::Disruption::node);
  CHECK(setup->seconds == 25 * 60);
  // not_equals {node} becomes the other values the owner can take
  const auto* cms_owner = pre_on(*setup, "CLUS1/clustered_mailbox_server[E2K7CCR].owner");
  REQUIRE(cms_owner);
  CHECK(has(cms_owner->any_of, Value("NODE1")));
  CHECK_FALSE(has(cms_owner->any_of, Value("NODE2")));
  REQUIRE(pre_on(*setup, "CLUS1/cluster_group[Cluster Group].owner"));
  REQUIRE(pre_on(*setup, "HUBCAS/exchange_server[exchange].version"));
  REQUIRE(pre_on(*setup, "NODE2/@service_cycled:RemoteRegistry"));
  REQUIRE(pre_on(*setup, "NODE2/@reboot_pending"));  // the reboot resource's property is the fact
  // Transient requirements stay out of the search's preconditions; HealthService, absent
  // on the node, holds vacuously.
  CHECK_FALSE(pre_on(*setup, "NODE2/service[MOM].state"));
  std::vector<std::string> transient;
  for (const auto& c : g->actions[setup2].transient) transient.push_back(c.fact);
  CHECK(std::count(transient.begin(), transient.end(), "NODE2/service[SharedAccess].state") == 1);
  CHECK(std::count(transient.begin(), transient.end(), "NODE2/service[MOM].state") == 1);
  CHECK(std::count(transient.begin(), transient.end(), "NODE2/service[HealthService].state") == 0);

  // A restart resets the facts that have an after_boot value.
  const planning::Operator* reboot = find_action(*g, "NODE2", "reboot[host] restart");
  REQUIRE(reboot);
  auto effect = [&](const planning::Operator& a, const std::string& k) -> std::optional<Value> {
    for (const auto& [f, v] : a.effects)
      if (f == k) return v;
    return std::nullopt;
  };
  CHECK(effect(*reboot, "NODE2/@service_cycled:RemoteRegistry") == Value(false));
  CHECK(effect(*reboot, "NODE2/@restarted_since_setup") == Value(true));
  CHECK(effect(*reboot, "NODE2/@reboot_pending") == Value(false));

  // /upgradecms runs on the owner: one ground action per member it may run on.
  CHECK(find_action(*g, "NODE1", "clustered_mailbox_server[E2K7CCR] upgrade"));
  CHECK(find_action(*g, "NODE2", "clustered_mailbox_server[E2K7CCR] upgrade"));
  // Starting a running service serves no goal: kept out of the search.
  const planning::Operator* start_mom = find_action(*g, "NODE1", "service[MOM] start");
  REQUIRE(start_mom);
  CHECK_FALSE(start_mom->search);
  // The constraints, from the manifest.
  REQUIRE(g->problem.available.size() == 2);
  CHECK(g->problem.available[0].budget_s == 30 * 60);
  CHECK(g->problem.max_disrupted.at(0).nodes == std::vector<std::string>{"NODE1", "NODE2"});
}

TEST_CASE("the showcase's ground problem plans the rolling order, with transients around setup", "[ground]") {
  Showcase sc;
  auto g = ground(sc.in);
  REQUIRE(g);
  auto p = planning::plan(g->problem);
  REQUIRE(p);
  auto full = expand_transients(*g, *p);
  REQUIRE(full);
  REQUIRE(g->step_kind.size() == full->steps.size());
  std::vector<std::string> setups;
  int establish = 0, restore = 0;
  std::vector<std::string> sa_on_node2;
  for (std::size_t i = 0; i < full->steps.size(); ++i) {
    const auto& a = g->problem.actions[full->steps[i].action];
    if (a.name.starts_with("exchange_server[exchange] upgrade")) setups.push_back(a.node);
    establish += g->step_kind[i] == grounding::StepKind::establish;
    restore += g->step_kind[i] == grounding::StepKind::restore;
    if (a.node == "NODE2" && a.name.starts_with("service[SharedAccess]")) sa_on_node2.push_back(a.name);
  }
  CHECK(setups == std::vector<std::string>{"HUBCAS", "NODE2", "NODE1"});
  CHECK(establish == restore);
  CHECK(establish >= 8);
  // Disabled on NODE2: enabled and started for setup, then stopped and disabled again.
  REQUIRE(sa_on_node2.size() == 4);
  CHECK(sa_on_node2[0].starts_with("service[SharedAccess] configure"));
  CHECK(sa_on_node2[1] == "service[SharedAccess] start (state=running)");
  std::vector<std::string> put_back{sa_on_node2[2], sa_on_node2[3]};
  std::sort(put_back.begin(), put_back.end());
  CHECK(put_back == std::vector<std::string>{"service[SharedAccess] configure (startup=disabled)",
                                             "service[SharedAccess] stop (state=stopped)"});
  CHECK(full->outage_s.at("E2K7CCR") <= 30 * 60);
  CHECK(planning::verify(g->problem, *full));

  // Deterministic: the same problem, the same plan.
  auto g2 = ground(sc.in);
  REQUIRE(g2);
  auto p2 = planning::plan(g2->problem);
  REQUIRE(p2);
  REQUIRE(p2->steps.size() == p->steps.size());
  for (std::size_t i = 0; i < p->steps.size(); ++i) CHECK(p2->steps[i].action == p->steps[i].action);
}

TEST_CASE("a transient change a killed run left is a goal to put back", "[ground]") {
  Showcase sc;
  // FSCController on NODE2 was stopped for setup when the run died; its prior says running.
  for (std::size_t i = 0; i < sc.in.subjects.size(); ++i)
    if (sc.in.subjects[i].spec.id() == "service[HealthService]@NODE2") sc.in.observed[i] = Observation::absent();
  sc.in.restore["NODE2/service[FSCController].state"] = Value("running");
  for (std::size_t i = 0; i < sc.in.subjects.size(); ++i)
    if (sc.in.subjects[i].spec.id() == "service[FSCController]@NODE2") sc.in.observed[i].props["state"] = Value("stopped");
  auto g = ground(sc.in);
  REQUIRE(g);
  auto start = find_action(*g, "NODE2", "service[FSCController] start");
  REQUIRE(start);
  CHECK(start->search);
  auto p = planning::plan(g->problem);
  REQUIRE(p);
  // Started by hand, or by NODE2's reboot (its startup is automatic: it runs after a boot).
  bool started = false;
  for (const auto& s : p->steps)
    for (const auto& [k, v] : g->problem.actions[s.action].effects)
      started = started || (k == "NODE2/service[FSCController].state" && v == Value("running"));
  CHECK(started);
}

TEST_CASE("a reboot leaves a service as its startup type says", "[ground]") {
  Showcase sc;
  // SharedAccess runs on NODE1 with startup manual: the reboot stops it.
  for (std::size_t i = 0; i < sc.in.subjects.size(); ++i)
    if (sc.in.subjects[i].spec.id() == "service[SharedAccess]@NODE1") sc.in.observed[i].props["state"] = Value("running");
  auto g = ground(sc.in);
  REQUIRE(g);
  const auto* reboot = find_action(*g, "NODE1", "reboot[host] restart");
  REQUIRE(reboot);
  auto effect = [&](const std::string& fact) -> std::optional<Value> {
    for (const auto& [k, v] : reboot->effects)
      if (k == fact) return v;
    return std::nullopt;
  };
  CHECK(effect("NODE1/service[SharedAccess].state") == Value("stopped"));
  CHECK(effect("NODE1/service[MOM].state") == Value("running"));  // automatic
  // The plan starts it again after the reboot that precedes setup.
  auto p = planning::plan(g->problem);
  REQUIRE(p);
  auto full = expand_transients(*g, *p);
  REQUIRE(full);
  int boots = 0, setups = 0;
  bool running_for_setup = false;
  for (const auto& s : full->steps) {
    const auto& a = g->problem.actions[s.action];
    if (a.node != "NODE1") continue;
    if (a.name.starts_with("reboot[host]")) ++boots;
    if (boots == 1 && a.name.starts_with("service[SharedAccess] start")) running_for_setup = true;
    if (a.name.starts_with("exchange_server[exchange] upgrade")) {
      CHECK(running_for_setup);
      ++setups;
    }
  }
  CHECK(boots >= 1);
  CHECK(setups == 1);
}

TEST_CASE("an available constraint naming no group is an error at the constraint", "[ground]") {
  Showcase sc;
  Manifest m = *sc.lo.manifest;
  for (auto& c : m.constraints)
    if (c.kind == ConstraintSpec::Kind::available) c.subject = "NOSUCH";
  sc.in.manifest = &m;
  auto g = ground(sc.in);
  REQUIRE_FALSE(g);
  CHECK(g.error().message.find("available: no resource named 'NOSUCH'") != std::string::npos);
  REQUIRE(g.error().where);
  CHECK(g.error().where->line > 0);
}

TEST_CASE("host times as the Windows tools print them", "[ground]") {
  CHECK(parse_host_time("2008-03-01 08:35:09Z") == parse_host_time("3/1/2008 8:35:09 AM"));
  CHECK(*parse_host_time("3/1/2008 8:35:09 PM") - *parse_host_time("3/1/2008 8:35:09 AM") == 12 * 3600);
  CHECK(*parse_host_time("3/1/2008 12:00:00 AM") == *parse_host_time("2008-03-01 00:00:00Z"));
  CHECK(*parse_host_time("2008-03-01 00:00:00Z") - *parse_host_time("2008-02-28 00:00:00Z") == 2 * 86400);  // leap year
  CHECK_FALSE(parse_host_time(""));
  CHECK_FALSE(parse_host_time("yesterday"));
  CHECK_FALSE(parse_host_time("13/1/2008 1:00:00 AM"));
  CHECK_FALSE(parse_host_time("3/1/2008 13:00:00 PM"));
}

TEST_CASE("a goal out of reach is refused as such, not blamed on the outage budget", "[ground]") {
  Showcase sc;
  auto g = ground(sc.in);
  REQUIRE(g);
  g->problem.goal.push_back({"NODE1/dotnet[2.0].servicepack", {Value(5)}});  // no action installs SP5
  auto p = planning::plan(g->problem);
  REQUIRE_FALSE(p);
  CHECK(p.error().constraint.starts_with("(none: the goal is unreachable"));
  CHECK(p.error().message.find("outage_budget") == std::string::npos);
  CHECK(p.error().blocked == "NODE1/dotnet[2.0].servicepack = 5");
}

TEST_CASE("depends_on between data-typed resources: no action before what it needs reached its goal", "[ground]") {
  char tmpl[] = "/tmp/converge-ground-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  // Declared user first: only the dependency can put the group's step before it.
  std::ofstream(dir + "/m.yaml") << "apiVersion: converge/v1\nkind: Manifest\ninclude: [" << CONVERGE_SOURCE_DIR
                                 << "/resources/linux-system.yaml]\n"
                                    "inventory: {nodes: {host: {transport: {local: {}}}}}\nresources:\n"
                                    "  - {type: user, name: app, depends_on: ['group[app]'], properties: {uid: 4100, group: app}}\n"
                                    "  - {type: group, name: app, properties: {gid: 4100}}\n"
                                    "  - {type: cron, name: unrelated, properties: {schedule: '@daily', command: 'true'}}\n";
  LoadOutcome lo = load_manifest(dir + "/m.yaml", builtin_types());
  std::filesystem::remove_all(dir);
  REQUIRE(lo.manifest);
  Inputs in;
  in.manifest = &*lo.manifest;
  in.subjects = subjects(*lo.manifest, lo.types);
  for (std::size_t i = 0; i < in.subjects.size(); ++i) in.observed.push_back(Observation::present({{"ensure", Value("absent")}}));
  in.reachable.insert("host");
  auto g = ground(in);
  REQUIRE(g);
  int user_manage = -1;
  const planning::Operator* manage = find_action(*g, "host", "user[app] manage", &user_manage);
  REQUIRE(manage);
  CHECK(std::any_of(manage->pre.begin(), manage->pre.end(), [](const planning::Condition& c) {
    return c.fact == "host/group[app].gid" && c.any_of == std::vector<Value>{Value(4100)};
  }));
  const planning::Operator* cron = find_action(*g, "host", "cron[unrelated] write");
  REQUIRE(cron);
  CHECK(std::none_of(cron->pre.begin(), cron->pre.end(), [](const planning::Condition& c) { return c.fact.find("group[") != std::string::npos; }));
  auto p = planning::plan(g->problem);
  REQUIRE(p);
  std::vector<std::string> order;
  for (const auto& s : p->steps) order.push_back(g->problem.actions[s.action].name.substr(0, g->problem.actions[s.action].name.find(']') + 1));
  auto at = [&](const std::string& what) { return std::find(order.begin(), order.end(), what) - order.begin(); };
  REQUIRE(at("group[app]") < static_cast<long>(order.size()));
  CHECK(at("group[app]") < at("user[app]"));
}
