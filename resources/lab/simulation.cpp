#include "resources/lab/simulation.h"

#include <algorithm>
#include <limits>

#include "resources/lab/events.h"

namespace converge::lab {

namespace {
constexpr const char* kRemoteRegistry = "RemoteRegistry";
}  // namespace

void Simulation::set_service(Node& n, const std::string& name, Service next) {
  Service& cur = n.services[name];
  if (name == kRemoteRegistry) {
    if (cur.running && !next.running) n.remote_registry_stopped_since_boot = true;
    if (!cur.running && next.running && n.remote_registry_stopped_since_boot) {
      n.remote_registry_restarted_since_boot = true;
    }
  }
  bool changed = cur.running != next.running || cur.startup != next.startup;
  cur = next;
  if (changed) emit(service_event(t_end(), n.name, name, cur));
}

void Simulation::set_software(Node& n, const std::string& product, const std::string& version) {
  std::string& cur = product == "dotnet" ? n.dotnet : n.exchange;
  if (cur == version) return;
  cur = version;
  emit(software_event(t_end(), n.name, product, version));
}

void Simulation::group_offline(Group& g, VTime at, bool stopped) {
  g.stopped = g.stopped || stopped;
  if (!g.online) return;
  g.online = false;
  g.offline_since = at;
  emit(group_event(at, g));
}

void Simulation::group_online(Group& g, const std::string& owner, VTime at) {
  g.owner = owner;
  g.stopped = false;
  if (g.online) return;
  g.online = true;
  if (g.offline_since) g.outage_seconds += std::max<VTime>(0, at - *g.offline_since);
  g.offline_since.reset();
  emit(group_event(at, g));
}

void Simulation::group_changed(Group& g) { emit(group_event(t_end(), g)); }

void Simulation::violation(const std::string& message, VTime at) {
  s_.violations.push_back(message);
  emit(violation_event(at, message));
}

void Simulation::begin_reboot(Node& n, VTime at) {
  bool never_returns = std::any_of(s_.faults.begin(), s_.faults.end(), [&](const Fault& f) {
    return f.mode == Fault::Mode::no_return_from_reboot && (f.node.empty() || f.node == n.name);
  });
  n.online = false;
  n.back_at = never_returns ? std::nullopt : std::optional<VTime>(at + durations::reboot);
  emit(node_event(at, n));
  for (auto& [key, g] : s_.groups) {
    if (g.owner != n.name || !g.online) continue;
    violation("unplanned failover: " + n.name + " rebooted while owning online group " + g.name + " of " + g.cluster, at);
    group_offline(g, at, false);
    s_.timers.push_back(Timer{at + durations::failover, key});
  }
}

void Simulation::command_done(const std::string& node, const std::string& command, int exit_code, bool timed_out) {
  emit(command_event(t_end(), node, command, exit_code, timed_out));
}

bool Simulation::can_host(const Group& g, const Node& n, std::string* why) const {
  auto say = [&](std::string text) {
    if (why) *why = std::move(text);
    return false;
  };
  if (n.cluster != g.cluster) return say(n.name + " is not a node of cluster " + g.cluster);
  if (!n.online) return say(n.name + " is offline");
  if (!g.cms) return true;
  if (n.setup_reboot_pending) {
    return say(n.name + " must be restarted after Exchange setup before it can own " + g.name);
  }
  if (n.exchange != g.version) {
    return say("the Exchange binaries on " + n.name + " are at " + n.exchange + " but " + g.name + " is at " +
               g.version + "; a clustered mailbox server can be online only on a node whose binaries are at its version");
  }
  return true;
}

void Simulation::complete_boot(Node& n, VTime at) {
  n.online = true;
  n.back_at.reset();
  n.boot_count += 1;
  n.booted_at = at;
  n.reboot_pending = false;
  n.setup_reboot_pending = false;
  emit(node_event(at, n));
  for (auto& [name, svc] : n.services) {
    bool run = svc.startup == Startup::automatic;
    if (svc.running != run) {
      svc.running = run;
      emit(service_event(at, n.name, name, svc));
    }
  }
  auto rr = n.services.find(kRemoteRegistry);
  n.remote_registry_stopped_since_boot = rr == n.services.end() || !rr->second.running;
  n.remote_registry_restarted_since_boot = false;
  bring_up_failed_groups(at);
}

void Simulation::bring_up_failed_groups(VTime at) {
  for (auto& [name, g] : s_.groups) {
    if (g.online || g.stopped) continue;
    bool pending = std::any_of(s_.timers.begin(), s_.timers.end(), [&](const Timer& t) { return t.group == name; });
    if (!pending) fire_failover(name, at);
  }
}

void Simulation::fire_failover(const std::string& group, VTime at) {
  Group* g = s_.group(group);
  if (!g || g->online || g->stopped) return;
  std::vector<const Node*> candidates;
  if (const Node* owner = s_.node(g->owner)) candidates.push_back(owner);
  for (const auto& [name, n] : s_.nodes) {
    if (name != g->owner) candidates.push_back(&n);
  }
  for (const Node* n : candidates) {
    if (can_host(*g, *n, nullptr)) {
      group_online(*g, n->name, at);
      return;
    }
  }
}

void Simulation::advance(VTime upto) {
  for (;;) {
    VTime next = std::numeric_limits<VTime>::max();
    Node* boot = nullptr;
    for (auto& [name, n] : s_.nodes) {
      if (!n.online && n.back_at && *n.back_at <= upto && *n.back_at < next) {
        next = *n.back_at;
        boot = &n;
      }
    }
    auto timer = std::min_element(s_.timers.begin(), s_.timers.end(),
                                  [](const Timer& a, const Timer& b) { return a.at < b.at; });
    if (timer != s_.timers.end() && timer->at <= upto && timer->at < next) {
      Timer fired = *timer;
      s_.timers.erase(timer);
      fire_failover(fired.group, fired.at);
      continue;
    }
    if (!boot) break;
    complete_boot(*boot, next);
  }
  s_.now = std::max(s_.now, upto);
}

std::vector<Event> Simulation::take_events(VTime floor) {
  std::stable_sort(events_.begin(), events_.end(), [](const Event& a, const Event& b) {
    return a["t"].get<VTime>() < b["t"].get<VTime>();
  });
  for (auto& e : events_) {
    if (e["t"].get<VTime>() < floor) e["t"] = floor;
  }
  std::vector<Event> out;
  out.swap(events_);
  return out;
}

}  // namespace converge::lab
