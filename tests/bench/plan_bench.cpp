// Planner benchmark: a synthetic tier of N nodes (drain, upgrade with a node disruption,
// undrain), at most 10% disrupted at once. Prints the planning time and the schedule's
// length against the lower bound (batches x per-node time). Exit 1 when the plan is
// wrong (verify fails) or the schedule is more than 5% over the bound.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/plan/planner.h"

using namespace converge::planning;

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 1000;
  Problem p;
  std::vector<std::string> tier;
  const std::int64_t drain = 15, upgrade = 300, undrain = 15;
  for (int i = 0; i < n; ++i) {
    std::string node = "web" + std::to_string(100000 + i);
    tier.push_back(node);
    p.initial[node + "/version"] = "1.0";
    p.initial[node + "/in_lb"] = true;
    p.actions.push_back({"drain", node, {{node + "/in_lb", {true}}, {node + "/version", {"1.0"}}}, {{node + "/in_lb", false}}, Disruption::none, {}, drain});
    p.actions.push_back({"upgrade", node, {{node + "/in_lb", {false}}, {node + "/version", {"1.0"}}}, {{node + "/version", "1.1"}}, Disruption::node, {}, upgrade});
    p.actions.push_back({"undrain", node, {{node + "/in_lb", {false}}, {node + "/version", {"1.1"}}}, {{node + "/in_lb", true}}, Disruption::none, {}, undrain});
    p.goal.push_back({node + "/version", {"1.1"}});
    p.goal.push_back({node + "/in_lb", {true}});
  }
  int k = std::max(1, n / 10);
  p.max_disrupted.push_back({k, tier});
  auto t0 = std::chrono::steady_clock::now();
  auto plan = converge::planning::plan(p);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!plan) {
    std::printf("plan-bench: no plan: %s\n", plan.error().message.c_str());
    return 1;
  }
  std::int64_t batches = (n + k - 1) / k;
  std::int64_t bound = batches * (drain + upgrade + undrain);
  double over = 100.0 * static_cast<double>(plan->makespan_s - bound) / static_cast<double>(bound);
  std::printf("plan-bench: %d nodes, max %d disrupted: %zu steps planned in %.1f ms; schedule %lld s, lower bound %lld s (%+.1f%%)\n",
              n, k, plan->steps.size(), ms, static_cast<long long>(plan->makespan_s), static_cast<long long>(bound), over);
  bool ok = over <= 5.0;
  std::printf("plan-bench: targets: planned in under 1 s: %s; within 5%% of the bound: %s\n", ms < 1000 ? "PASS" : "FAIL",
              ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
