// engine/model/disruption.h — how much an action disrupts: one vocabulary for the type
// definitions (engine/model/datatype.h) and the planner (engine/plan/planner.h).
#pragma once

namespace converge {

/// Nothing, the resource itself, or the whole node (a restart, an upgrade of its binaries).
enum class Disruption { none, resource, node };

/// "none" / "resource" / "node".
[[nodiscard]] constexpr const char* disruption_word(Disruption d) {
  switch (d) {
    case Disruption::none: return "none";
    case Disruption::resource: return "resource";
    case Disruption::node: return "node";
  }
  return "?";
}

}  // namespace converge
