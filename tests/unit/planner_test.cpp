// The planner on a hand-written model of an Exchange 2007 CCR pair: it must find the
// rolling order (passive node first, drain before disrupt, /upgradecms between the
// nodes), put transient changes back, stay within the outage budget, and refuse with the
// blocking constraint named. The model is a test fixture: the real knowledge lives in the
// type definitions under resources/.
#include <catch2/catch.hpp>

#include "engine/plan/planner.h"

using namespace converge;
using namespace converge::planning;

namespace {

Condition is(const std::string& f, Value v) { return {f, {std::move(v)}}; }

/// One CCR cluster C (nodes A, active, and B; clustered mailbox server G) into `p`; with
/// `hub`, setup on a node needs that server at SP1 first.
void add_ccr(Problem& p, const std::string& C, const std::string& A, const std::string& B, const std::string& G,
             const std::string& hub = "") {
  for (std::string n : {A, B}) {
    std::string other = n == A ? B : A;
    auto f = [&](const char* k) { return n + "/" + k; };
    p.initial[f("exchange")] = "RTM";
    p.initial[f("dotnet")] = 0;
    p.initial[f("pending")] = false;
    p.initial[f("fresh")] = true;
    p.initial[f("sa")] = "stopped";
    p.initial[f("sa_startup")] = n == A ? "manual" : "disabled";
    p.initial[f("mom")] = "running";
    p.initial[f("rr")] = false;
    auto add = [&](std::string name, std::vector<Condition> pre, std::vector<std::pair<std::string, Value>> eff,
                   std::int64_t s, Disruption d = Disruption::none, std::vector<std::string> outages = {}) {
      p.actions.push_back({std::move(name), n, std::move(pre), std::move(eff), d, std::move(outages), s});
    };
    add("NetFx20SP1", {is(f("dotnet"), 0)}, {{f("dotnet"), 1}, {f("pending"), true}}, 240);
    add("reboot", {is(f("pending"), true)},
        {{f("pending"), false}, {f("fresh"), true}, {f("rr"), false}, {f("mom"), "running"}, {f("sa"), "stopped"}}, 360,
        Disruption::node);
    add("stop MOM", {is(f("mom"), "running")}, {{f("mom"), "stopped"}}, 3);
    add("start MOM", {is(f("mom"), "stopped")}, {{f("mom"), "running"}}, 3);
    add("SharedAccess startup manual", {is(f("sa_startup"), "disabled")}, {{f("sa_startup"), "manual"}}, 3);
    add("SharedAccess startup disabled", {is(f("sa_startup"), "manual"), is(f("sa"), "stopped")}, {{f("sa_startup"), "disabled"}}, 3);
    add("start SharedAccess", {is(f("sa_startup"), "manual")}, {{f("sa"), "running"}}, 3);
    add("stop SharedAccess", {is(f("sa"), "running")}, {{f("sa"), "stopped"}}, 3);
    add("restart RemoteRegistry", {is(f("rr"), false)}, {{f("rr"), true}}, 6);
    std::vector<Condition> setup_pre{is(f("exchange"), "RTM"), is(f("dotnet"), 1), is(f("pending"), false), is(f("sa"), "running"),
                                     is(f("mom"), "stopped"), is(f("rr"), true), is(C + "/owner", other)};
    if (!hub.empty()) setup_pre.push_back(is(hub + "/exchange", "SP1"));
    add("setup.com /m:upgrade", setup_pre, {{f("exchange"), "SP1"}, {f("pending"), true}, {f("fresh"), false}}, 1500,
        Disruption::node);
    add("Stop-ClusteredMailboxServer", {is(C + "/owner", n), is(C + "/online", true)}, {{C + "/online", false}}, 60);
    for (std::string v : {"RTM", "SP1"})
      add("Start-ClusteredMailboxServer", {is(C + "/owner", n), is(C + "/online", false), is(C + "/version", v),
                                           is(f("exchange"), v), is(f("fresh"), true), is(f("pending"), false)},
          {{C + "/online", true}}, 90);
    add("Move-ClusteredMailboxServer (stopped) to " + other,
        {is(C + "/owner", n), is(C + "/online", false), is(other + "/fresh", true), is(other + "/pending", false)},
        {{C + "/owner", other}}, 30);
    for (std::string v : {"RTM", "SP1"})
      add("Move-ClusteredMailboxServer to " + other,
          {is(C + "/owner", n), is(C + "/online", true), is(C + "/version", v), is(other + "/exchange", v),
           is(other + "/fresh", true), is(other + "/pending", false)},
          {{C + "/owner", other}}, 120, Disruption::none, {G});
    add("setup.com /upgradecms",
        {is(C + "/owner", n), is(C + "/online", false), is(C + "/version", "RTM"), is(f("exchange"), "SP1"),
         is(other + "/exchange", "RTM"), is(f("fresh"), true)},
        {{C + "/version", "SP1"}}, 600);
    for (auto [k, v] : std::vector<std::pair<const char*, Value>>{{"exchange", "SP1"}, {"dotnet", 1}, {"pending", false},
                                                                  {"mom", "running"}})
      p.goal.push_back(is(f(k), v));
    p.goal.push_back(is(f("sa"), p.initial[f("sa")]));  // prior
    p.goal.push_back(is(f("sa_startup"), p.initial[f("sa_startup")]));
  }
  p.initial[C + "/owner"] = A;
  p.initial[C + "/online"] = true;
  p.initial[C + "/version"] = "RTM";
  p.goal.push_back(is(C + "/version", "SP1"));
  p.goal.push_back(is(C + "/online", true));
  p.goal.push_back(is(C + "/owner", A));
}

struct Ccr {
  Problem p;
  Ccr() {
    add_ccr(p, "CLUS1", "NODE1", "NODE2", "E2K7CCR");
    p.max_disrupted.push_back({1, {"NODE1", "NODE2"}});
    p.available.push_back({"E2K7CCR", "CLUS1/owner", "CLUS1/online", 30 * 60});
  }
  std::vector<std::string> trace(const Plan& plan) const {
    std::vector<std::string> out;
    for (const auto& s : plan.steps) out.push_back(p.actions[s.action].node + ": " + p.actions[s.action].name);
    return out;
  }
  static std::ptrdiff_t index_of(const std::vector<std::string>& t, const std::string& step) {
    auto it = std::find(t.begin(), t.end(), step);
    return it == t.end() ? -1 : it - t.begin();
  }
};

}  // namespace

// The search takes seconds here (about a million states): the heuristic does not yet see the
// outage budget, so it explores orders that spend it too early.
TEST_CASE_METHOD(Ccr, "the CCR rollout: passive node first, upgradecms between the nodes, drain before disrupt") {
  auto plan = planning::plan(p);
  REQUIRE(plan);
  auto t = trace(*plan);
  INFO([&] { std::string s; for (auto& x : t) s += x + "\n"; return s; }());
  auto setup2 = index_of(t, "NODE2: setup.com /m:upgrade"), setup1 = index_of(t, "NODE1: setup.com /m:upgrade");
  auto upgradecms = index_of(t, "NODE2: setup.com /upgradecms");
  REQUIRE(setup2 >= 0);
  REQUIRE(setup1 >= 0);
  CHECK(setup2 < setup1);                           // the passive node first
  CHECK(upgradecms > setup2);                       // after the first node...
  CHECK(upgradecms < setup1);                       // ...and before the second
  CHECK(index_of(t, "NODE1: Stop-ClusteredMailboxServer") < upgradecms);
  CHECK(plan->outage_s.at("E2K7CCR") <= 30 * 60);
  CHECK(plan->outage_s.at("E2K7CCR") >= 60 + 600 + 90);  // at least stop, upgradecms, start
  CHECK(verify(p, *plan));
}

TEST_CASE_METHOD(Ccr, "transient changes are put back: SharedAccess ends as it began") {
  auto plan = planning::plan(p);
  REQUIRE(plan);
  Facts f = p.initial;
  for (const auto& s : plan->steps)
    for (const auto& [k, v] : p.actions[s.action].effects) f[k] = v;
  CHECK(f["NODE1/sa"] == Value("stopped"));
  CHECK(f["NODE1/sa_startup"] == Value("manual"));
  CHECK(f["NODE2/sa_startup"] == Value("disabled"));
  CHECK(f["NODE2/mom"] == Value("running"));
}

TEST_CASE_METHOD(Ccr, "a budget too small for any plan is refused, naming the constraint") {
  p.available[0].budget_s = 10 * 60;
  p.max_expansions = 20'000;
  auto plan = planning::plan(p);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().constraint == "available: E2K7CCR outage_budget 10m");
  CHECK(plan.error().message.find("outage_budget") != std::string::npos);
}

TEST_CASE_METHOD(Ccr, "two mailbox nodes down at once with the CMS online is refused") {
  // Only one node may own the CMS, so the other must be up whenever it is online; asking for
  // both to be disrupted while keeping it available, with no outage at all, cannot work.
  p.available[0].budget_s = 0;
  p.max_expansions = 20'000;
  auto plan = planning::plan(p);
  REQUIRE_FALSE(plan);
  CHECK(plan.error().constraint.rfind("available: E2K7CCR", 0) == 0);
}

TEST_CASE("verify rejects a plan that reboots the owner of an online group") {
  Problem p;
  p.initial = {{"N1/pending", true}, {"C/owner", "N1"}, {"C/online", true}};
  p.actions.push_back({"reboot", "N1", {{"N1/pending", {true}}}, {{"N1/pending", false}}, Disruption::node, {}, 360});
  p.goal.push_back({"N1/pending", {false}});
  p.available.push_back({"G", "C/owner", "C/online", -1});
  Plan bad;
  bad.steps.push_back({0, 0, 360});
  auto v = verify(p, bad);
  REQUIRE_FALSE(v);
  CHECK(v.error().constraint == "available: G");
  auto found = plan(p);
  REQUIRE_FALSE(found);  // and no plan exists: nothing can move the group
  CHECK(found.error().constraint == "available: G");
}

TEST_CASE("a tier of independent nodes is scheduled in batches at the lower bound") {
  Problem p;
  std::vector<std::string> tier;
  for (int i = 0; i < 1000; ++i) {
    std::string n = "web" + std::to_string(1000 + i);
    tier.push_back(n);
    p.initial[n + "/version"] = "1";
    p.initial[n + "/in_lb"] = true;
    p.actions.push_back({"drain", n, {{n + "/in_lb", {true}}, {n + "/version", {"1"}}}, {{n + "/in_lb", false}}, Disruption::none, {}, 10});
    p.actions.push_back({"upgrade", n, {{n + "/in_lb", {false}}, {n + "/version", {"1"}}}, {{n + "/version", "2"}}, Disruption::node, {}, 120});
    p.actions.push_back({"undrain", n, {{n + "/in_lb", {false}}, {n + "/version", {"2"}}}, {{n + "/in_lb", true}}, Disruption::none, {}, 10});
    p.goal.push_back({n + "/version", {"2"}});
    p.goal.push_back({n + "/in_lb", {true}});
  }
  p.max_disrupted.push_back({100, tier});
  auto plan = planning::plan(p);
  REQUIRE(plan);
  CHECK(plan->steps.size() == 3000);
  CHECK(plan->makespan_s == 10 * (10 + 120 + 10));  // 10 batches x per-node time: the lower bound
  CHECK(verify(p, *plan));
}

TEST_CASE("planner: a limited run (held goals) that an order constraint forbids is refused, naming it") {
  // HUB must be upgraded before N1; the run leaves HUB out (its goal is held).
  Problem p;
  for (std::string n : {"HUB", "N1"}) {
    p.initial[n + "/v"] = "RTM";
    p.actions.push_back({"upgrade " + n, n, {is(n + "/v", "RTM")}, {{n + "/v", "SP1"}}, Disruption::node, {}, 60});
  }
  p.order.push_back({{{"HUB"}, {"N1"}}});
  p.held.push_back(is("HUB/v", "SP1"));
  p.goal.push_back(is("N1/v", "SP1"));
  auto refused = plan(p);
  REQUIRE(!refused);
  CHECK(refused.error().constraint == "order [HUB] before [N1]");
  CHECK(refused.error().blocked == "N1/v");
  CHECK_THAT(refused.error().message, Catch::Contains("leaves out HUB/v"));

  SECTION("a held goal that already holds does not block") {
    p.initial["HUB/v"] = "SP1";
    REQUIRE(plan(p));
  }
  SECTION("a held goal on a later set does not block an earlier one") {
    p.held = {is("N1/v", "SP1")};
    p.goal = {is("HUB/v", "SP1")};
    auto ok = plan(p);
    REQUIRE(ok);
    CHECK(ok->steps.size() == 1);
  }
}

TEST_CASE("planner: a limited run whose steps fall on an order constraint's later set is refused") {
  // The goal lives on the cluster (in no set), but its only action runs on N1, which must
  // wait for HUB; HUB's goal is held (left out) and unmet.
  Problem p;
  p.initial["HUB/v"] = "RTM";
  p.initial["CL/v"] = "RTM";
  p.actions.push_back({"upgrade HUB", "HUB", {is("HUB/v", "RTM")}, {{"HUB/v", "SP1"}}, Disruption::node, {}, 60});
  p.actions.push_back({"upgrade CL", "N1", {is("CL/v", "RTM")}, {{"CL/v", "SP1"}}, Disruption::none, {}, 60});
  p.actions[0].search = false;  // left out
  p.order.push_back({{{"HUB"}, {"N1"}}});
  p.held.push_back(is("HUB/v", "SP1"));
  p.goal.push_back(is("CL/v", "SP1"));
  auto refused = plan(p);
  REQUIRE(!refused);
  CHECK(refused.error().constraint == "order [HUB] before [N1]");
  CHECK_THAT(refused.error().message, Catch::Contains("blocked: upgrade CL on N1"));
  p.held.clear();
  CHECK(plan(p));
}

namespace {

/// An estate of `clusters` CCR clusters CLUSi (NODE2i-1 active, NODE2i) with their CMSi, at
/// most `k` mailbox nodes disrupted at once, each CMS within 30 minutes of outage; with
/// `hub`, one Hub Transport server HUB every setup waits for.
Problem estate(int clusters, int k, bool hub) {
  Problem p;
  std::vector<std::string> mailbox;
  for (int c = 1; c <= clusters; ++c) {
    const std::string C = "CLUS" + std::to_string(c), A = "NODE" + std::to_string(2 * c - 1), B = "NODE" + std::to_string(2 * c);
    add_ccr(p, C, A, B, "CMS" + std::to_string(c), hub ? "HUB" : "");
    p.available.push_back({"CMS" + std::to_string(c), C + "/owner", C + "/online", 30 * 60});
    mailbox.push_back(A), mailbox.push_back(B);
  }
  p.max_disrupted.push_back({k, mailbox});
  if (hub) {
    p.initial["HUB/exchange"] = "RTM";
    p.actions.push_back({"setup.com /m:upgrade", "HUB", {is("HUB/exchange", "RTM")}, {{"HUB/exchange", "SP1"}},
                         Disruption::node, {}, 1500});
    p.goal.push_back(is("HUB/exchange", "SP1"));
  }
  return p;
}

/// What a composed plan does, judged without the planner's code: every precondition in
/// start order and the goals at the end; how many nodes of the max_disrupted set are
/// disrupted at once (from the start of a node's first disruptive step to the end of the
/// step after which its goals all hold); each group's outage in wall time; how many
/// clusters (a cluster: the span of its nodes' and its own steps) are at work at once.
struct Judged {
  bool preconditions = true, goals = true;
  int most_disrupted = 0, most_clusters = 0;
  std::map<std::string, std::int64_t> outage;
};

Judged judge(const Problem& p, const Plan& plan) {
  Judged j;
  Facts f = p.initial;
  auto ok = [&](const Condition& c) {
    auto it = f.find(c.fact);
    Value v = it == f.end() ? Value() : it->second;
    return std::find(c.any_of.begin(), c.any_of.end(), v) != c.any_of.end();
  };
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> open;  // node -> [from, to)
  std::map<std::string, std::int64_t> down_since;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> cluster_span;
  auto cluster_of = [](const std::string& node) {
    if (node.starts_with("CLUS")) return node;
    if (!node.starts_with("NODE")) return std::string();
    return "CLUS" + std::to_string((std::stoi(node.substr(4)) + 1) / 2);
  };
  for (const auto& s : plan.steps) {
    const Operator& a = p.actions[s.action];
    for (const auto& c : a.pre) j.preconditions = j.preconditions && ok(c);
    for (const auto& g : p.available) {
      bool was_online = f[g.online_fact] == Value(true), sets_off = false, sets_on = false;
      for (const auto& [k, v] : a.effects)
        if (k == g.online_fact) sets_off = v == Value(false), sets_on = v == Value(true);
      if (!was_online && sets_on) j.outage[g.group] += s.end_s - down_since[g.group];
      else if (was_online && sets_off) down_since[g.group] = s.start_s;
      else if (was_online && std::count(a.outages.begin(), a.outages.end(), g.group)) j.outage[g.group] += s.end_s - s.start_s;
    }
    for (const auto& [k, v] : a.effects) f[k] = v;
    if (a.disruption != Disruption::none && !open.count(a.node)) open[a.node] = {s.start_s, -1};
    for (auto& [node, w] : open) {
      if (w.second >= 0) continue;
      bool met = true;
      for (const auto& g : p.goal)
        if (g.fact.starts_with(node + "/")) met = met && ok(g);
      if (met) w.second = s.end_s;
    }
    if (std::string c = cluster_of(a.node); !c.empty()) {
      auto [it, fresh] = cluster_span.emplace(c, std::make_pair(s.start_s, s.end_s));
      if (!fresh) it->second.second = std::max(it->second.second, s.end_s);
    }
  }
  for (const auto& g : p.goal) j.goals = j.goals && ok(g);
  auto most = [](const std::map<std::string, std::pair<std::int64_t, std::int64_t>>& spans, std::int64_t end) {
    std::vector<std::pair<std::int64_t, int>> edges;
    for (const auto& [_, w] : spans) edges.push_back({w.first, 1}), edges.push_back({w.second < 0 ? end : w.second, -1});
    std::sort(edges.begin(), edges.end());
    int now = 0, top = 0;
    for (const auto& [_, d] : edges) top = std::max(top, now += d);
    return top;
  };
  j.most_disrupted = most(open, plan.makespan_s);
  j.most_clusters = most(cluster_span, plan.makespan_s);
  return j;
}

}  // namespace

TEST_CASE("components: a cluster with its nodes, a server its readers only wait for alone") {
  Problem p = estate(2, 2, true);
  auto comps = components(p);
  REQUIRE(comps.size() == 3);
  CHECK(comps[0] == std::vector<std::string>{"CLUS1", "NODE1", "NODE2"});
  CHECK(comps[1] == std::vector<std::string>{"CLUS2", "NODE3", "NODE4"});
  CHECK(comps[2] == std::vector<std::string>{"HUB"});
  SECTION("a condition the other location's goal does not satisfy couples them") {
    for (auto& a : p.actions)
      for (auto& c : a.pre)
        if (c.fact == "HUB/exchange" && a.node == "NODE3") c.any_of = {Value("RTM")};
    auto joined = components(p);
    REQUIRE(joined.size() == 2);
    CHECK(joined[1] == std::vector<std::string>{"CLUS2", "HUB", "NODE3", "NODE4"});
  }
  SECTION("a link (a transient requirement elsewhere) couples them") {
    p.links.push_back({"NODE2", "NODE3"});
    CHECK(components(p).size() == 2);
  }
}

TEST_CASE("an estate: each cluster planned alone, two at once under max_disrupted 2, each within its budget") {
  Problem p = estate(4, 2, false);
  auto plan = planning::plan(p);
  REQUIRE(plan);
  CHECK(plan->chains == 4);
  CHECK(verify(p, *plan));
  Judged j = judge(p, *plan);
  CHECK(j.preconditions);
  CHECK(j.goals);
  CHECK(j.most_disrupted == 2);
  CHECK(j.most_clusters == 2);
  for (int c = 1; c <= 4; ++c) {
    const std::string g = "CMS" + std::to_string(c);
    CHECK(j.outage[g] > 0);
    CHECK(j.outage[g] <= 30 * 60);
    CHECK(plan->outage_s.at(g) == j.outage[g]);
  }
  // Identical clusters: two rounds of two, exactly the lower bound.
  CHECK(plan->lower_bound_s == plan->makespan_s);
  std::map<int, std::int64_t> chain_length;
  for (const auto& s : plan->steps) chain_length[s.chain] += s.end_s - s.start_s;
  for (const auto& [_, len] : chain_length) CHECK(len == chain_length.begin()->second);
  CHECK(plan->makespan_s == 2 * chain_length.begin()->second);
}

TEST_CASE("an estate: the server every setup reads goes first, then the clusters side by side") {
  Problem p = estate(3, 2, true);
  auto plan = planning::plan(p);
  REQUIRE(plan);
  CHECK(plan->chains == 4);
  CHECK(verify(p, *plan));
  Judged j = judge(p, *plan);
  CHECK((j.preconditions && j.goals));
  CHECK(j.most_disrupted <= 2);
  std::int64_t hub_end = 0, others_start = INT64_MAX;
  for (const auto& s : plan->steps) {
    if (p.actions[s.action].node == "HUB") hub_end = std::max(hub_end, s.end_s);
    else others_start = std::min(others_start, s.start_s);
  }
  CHECK(hub_end == 1500);
  CHECK(others_start >= hub_end);
  // Three clusters, two at a time: the third waits for a slot.
  CHECK(plan->makespan_s > plan->lower_bound_s);
  CHECK(plan->lower_bound_s >= hub_end);
}

TEST_CASE("an estate: clusters alike but for their state are planned each for its own") {
  Problem p = estate(3, 2, false);
  p.initial["NODE3/dotnet"] = 1;  // CLUS2's passive node already has .NET SP1
  auto plan = planning::plan(p);
  REQUIRE(plan);
  CHECK(verify(p, *plan));
  int installs = 0;
  for (const auto& s : plan->steps) installs += p.actions[s.action].name == "NetFx20SP1";
  CHECK(installs == 5);
  Judged j = judge(p, *plan);
  CHECK((j.preconditions && j.goals));
}

TEST_CASE("schedule: capacity, order and the lower bound") {
  Problem p;
  for (std::string n : {"a", "b", "c"}) {
    p.initial[n + "/v"] = 0;
    p.goal.push_back(is(n + "/v", 1));
    p.actions.push_back({"set", n, {is(n + "/v", 0)}, {{n + "/v", 1}}, Disruption::node, {}, 10});
  }
  const std::vector<std::vector<int>> chains{{0}, {1}, {2}};
  SECTION("two of three at once") {
    p.max_disrupted.push_back({2, {"a", "b", "c"}});
    auto s = schedule(p, chains);
    REQUIRE(s);
    CHECK(s->makespan_s == 20);
    CHECK(s->lower_bound_s == 15);
    CHECK(verify(p, *s));
  }
  SECTION("order: c before a and b, which then run together") {
    p.order.push_back({{{"c"}, {"a", "b"}}});
    auto s = schedule(p, chains);
    REQUIRE(s);
    CHECK(s->makespan_s == 20);
    CHECK(s->steps.front().action == 2);
    CHECK(s->steps[1].start_s == 10);
    CHECK(s->steps[2].start_s == 10);
    CHECK(verify(p, *s));
  }
  SECTION("a chain that holds open more nodes than k alone cannot be scheduled") {
    // a is disrupted (its goal unmet) while b's step runs: two at once.
    p.actions.push_back({"prepare", "a", {}, {{"a/w", 1}}, Disruption::node, {}, 5});
    p.max_disrupted.push_back({1, {"a", "b", "c"}});
    CHECK_FALSE(schedule(p, {{3, 1, 0}, {2}}));
    p.max_disrupted.back().k = 2;
    CHECK(schedule(p, {{3, 1, 0}, {2}}));
  }
  SECTION("a chain placed late by what it waits for does not delay one alike that waits for nothing") {
    // h (1500 s) then x (10 s, reads h's fact); y (10 s) waits for nothing, then z (1000 s) reads y's.
    p.actions.push_back({"h", "h", {is("h/v", 0)}, {{"h/v", 1}}, Disruption::none, {}, 1500});
    p.actions.push_back({"x", "x", {is("h/v", 1)}, {{"x/v", 1}}, Disruption::none, {}, 10});
    p.actions.push_back({"y", "y", {}, {{"y/v", 1}}, Disruption::none, {}, 10});
    p.actions.push_back({"z", "z", {is("y/v", 1)}, {{"z/v", 1}}, Disruption::none, {}, 1000});
    p.initial["h/v"] = 0;
    auto s = schedule(p, {{3}, {4}, {5}, {6}});
    REQUIRE(s);
    CHECK(s->makespan_s == 1510);
    for (const auto& st : s->steps)
      if (p.actions[st.action].name == "y") CHECK(st.start_s == 0);
  }
  SECTION("chains that wait on each other cannot be scheduled apart") {
    p.order.push_back({{{"a"}, {"b"}}});
    p.order.push_back({{{"b"}, {"a"}}});
    CHECK_FALSE(schedule(p, chains));
  }
  SECTION("verify catches a schedule that runs too many at once") {
    p.max_disrupted.push_back({1, {"a", "b", "c"}});
    Plan all_at_once;
    for (int a = 0; a < 3; ++a) all_at_once.steps.push_back({a, 0, 10, a});
    all_at_once.makespan_s = 10;
    auto v = verify(p, all_at_once);
    REQUIRE_FALSE(v);
    CHECK(v.error().constraint.starts_with("max_disrupted"));
  }
}
