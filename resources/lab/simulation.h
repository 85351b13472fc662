// resources/lab/simulation.h — the lab's state transitions, each of which emits its event.
//
// A Simulation wraps the LabState for the span of one command (or one clock advance). The
// command handlers (commands.h) change the world only through it, so that every change of a
// fact is logged. Time: a command starts at t0 and lasts `duration` virtual seconds; losses
// of availability are stamped at t0, gains and other facts at t0 + duration. Things that
// happen by themselves (a node finishing its boot, a group failing over after an unplanned
// reboot) are processed by advance(). Not thread-safe: the Lab holds its mutex around it.
#pragma once

#include <string>
#include <vector>

#include "resources/lab/events.h"
#include "resources/lab/model.h"

namespace converge::lab {

/// Virtual durations, in seconds, of what takes time in the lab.
namespace durations {
inline constexpr VTime setup_upgrade = 25 * 60;
inline constexpr VTime upgrade_cms = 10 * 60;
inline constexpr VTime dotnet_sp = 4 * 60;
inline constexpr VTime reboot = 6 * 60;
inline constexpr VTime cms_stop = 60;
inline constexpr VTime cms_start = 90;
inline constexpr VTime cms_move = 120;
inline constexpr VTime cluster_move = 30;
inline constexpr VTime failover = 60;
inline constexpr VTime service_change = 3;
inline constexpr VTime failed_command = 2;
}  // namespace durations

/// The state transitions of the lab.
class Simulation {
 public:
  /// REQUIRES: `state` outlives the Simulation. `t0` is when the current command starts.
  Simulation(LabState& state, VTime t0) : s_(state), t0_(t0), duration_(0) {}

  [[nodiscard]] LabState& state() { return s_; }
  [[nodiscard]] VTime t0() const { return t0_; }
  [[nodiscard]] VTime t_end() const { return t0_ + duration_; }
  /// Sets how long the current command takes (call before applying its effects).
  void set_duration(VTime d) { duration_ = d; }

  /// Sets a service's state and startup; logs a `service` event when either changed.
  /// Tracks Remote Registry's "stopped and restarted since boot".
  void set_service(Node& n, const std::string& name, Service next);
  /// Sets a product's version (`exchange` or `dotnet`); logs a `software` event.
  void set_software(Node& n, const std::string& product, const std::string& version);
  /// Takes a group offline at `at`; `stopped` marks an administrator's stop.
  void group_offline(Group& g, VTime at, bool stopped);
  /// Brings a group online on `owner` at `at`, closing its outage interval.
  void group_online(Group& g, const std::string& owner, VTime at);
  /// Changes an offline group's owner or version and logs it at t_end.
  void group_changed(Group& g);
  /// Records a violation of the domain's rules (an unplanned failover).
  void violation(const std::string& message, VTime at);
  /// Starts a reboot at `at`: the node goes offline, and every online group it owns fails
  /// over (a violation). The node returns after durations::reboot, unless a
  /// `no_return_from_reboot` fault names it.
  void begin_reboot(Node& n, VTime at);
  /// Logs the command event at t_end.
  void command_done(const std::string& node, const std::string& command, int exit_code, bool timed_out);

  /// Whether `g` may be online on `n`; when not, `why` says why (for messages).
  [[nodiscard]] bool can_host(const Group& g, const Node& n, std::string* why) const;

  /// Processes every boot completion and failover due at or before `upto`, in time order,
  /// and moves the clock (state.now) to at least `upto`.
  void advance(VTime upto);

  /// The events emitted so far, ordered by `t` (stable) and never earlier than `floor`.
  [[nodiscard]] std::vector<Event> take_events(VTime floor);

 private:
  void emit(Event e) { events_.push_back(std::move(e)); }
  void complete_boot(Node& n, VTime at);
  void fire_failover(const std::string& group, VTime at);
  void bring_up_failed_groups(VTime at);

  LabState& s_;
  VTime t0_;
  VTime duration_;
  std::vector<Event> events_;
};

}  // namespace converge::lab
