// resources/lab/events.h — the lab's event log, `<state_dir>/lab/events.jsonl`.
//
// One JSON object per line, described by schemas/lab-event.schema.json. Every object has
// `t` (virtual seconds since the lab was created) and `kind`:
//   command   {node, command, exit[, timed_out]}   a command as sent, joined with spaces
//   node      {node, online, boot}                 a node went down or finished booting
//   service   {node, service, state, startup}      state: running|stopped
//   software  {node, product, version}             product: exchange|dotnet; version RTM|SP1
//   group     {group, cluster, owner, online, version}  version null for the core "Cluster Group"
//   violation {message}                            an unplanned failover
// A new lab writes one event per initial fact at t = 0, so the log alone replays history.
// Lines are appended in the order the lab applies them; `t` never decreases at speed 0. Under
// real time (lab.h) a command's events are stamped with its cluster's time, its gains at
// its end: `t` may step back between clusters, and what happens by itself (a boot's end)
// is logged when the clock passes it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/error.h"
#include "resources/lab/model.h"

namespace converge::lab {

/// One event-log object; keys keep insertion order, so every line starts with `t` and `kind`.
using Event = nlohmann::ordered_json;

/// Event builders. Each returns one log object.
[[nodiscard]] Event command_event(VTime t, const std::string& node, const std::string& command,
                                           int exit_code, bool timed_out);
[[nodiscard]] Event node_event(VTime t, const Node& n);
[[nodiscard]] Event service_event(VTime t, const std::string& node, const std::string& service,
                                           const Service& s);
[[nodiscard]] Event software_event(VTime t, const std::string& node, const std::string& product,
                                            const std::string& version);
[[nodiscard]] Event group_event(VTime t, const Group& g);
[[nodiscard]] Event violation_event(VTime t, const std::string& message);

/// The t = 0 events that describe a freshly created lab, in a fixed order: nodes, their
/// software, their services, then groups.
[[nodiscard]] std::vector<Event> initial_events(const LabState& s);

/// Appends lines to events.jsonl. Not thread-safe: the Lab serialises calls under its mutex.
class EventLog {
 public:
  /// Opens `path` (created if absent). When the file is longer than `valid_size` (a crash
  /// between appending events and saving the state that accounts for them), it is truncated
  /// to `valid_size`, so the log never shows a command the state does not.
  [[nodiscard]] static Result<EventLog> open(const std::string& path, std::uint64_t valid_size);

  /// Appends one line per event and fsyncs. Returns the file's new size in bytes.
  [[nodiscard]] Result<std::uint64_t> append(const std::vector<Event>& events);

  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  explicit EventLog(std::string path, std::uint64_t size) : path_(std::move(path)), size_(size) {}
  std::string path_;
  std::uint64_t size_ = 0;
};

}  // namespace converge::lab
