// engine/model/diff.h — desired vs observed, per property. Pure.
//
// Action vocabulary (stable; the JSON report uses the words, the text report the symbols):
//   create "+"  the resource is absent and must exist: every state property goes null -> desired
//   update "~"  it exists and some state properties differ: each before -> after
//   delete "-"  it exists and `ensure: absent` says it must not: before -> null
// `before` is the observed value (null when absent), `after` the desired one.
#pragma once

#include <string>
#include <vector>

#include "engine/model/manifest.h"
#include "engine/model/types.h"

namespace converge {

enum class ChangeKind { none, create, update, remove };

/// "+", "~", "-" (or " " for none).
[[nodiscard]] const char* action_symbol(ChangeKind a);
/// "create", "update", "delete", "none".
[[nodiscard]] const char* action_word(ChangeKind a);

/// One property that differs.
struct PropertyChange {
  std::string property;
  Value before;  ///< observed; null when the resource is absent
  Value after;   ///< desired; null when the resource is to be deleted
};

/// What one resource needs.
struct ResourceChanges {
  ChangeKind action = ChangeKind::none;
  std::vector<PropertyChange> properties;  ///< in the type's declaration order (ensure first)
  std::string reason;                      ///< why, for humans only

  [[nodiscard]] bool empty() const { return action == ChangeKind::none; }
  [[nodiscard]] const PropertyChange* find(const std::string& prop) const;
};

/// Compares a resource's desired state properties with an observation.
/// REQUIRES: obs.state != unknown.
[[nodiscard]] ResourceChanges diff(const ResourceSpec& desired, const TypeSchema& type, const Observation& obs);

}  // namespace converge
