// engine/model/interpolate.h — ${...} expressions in manifest strings.
//
// A string that is exactly one expression ("${vars.files}") takes the expression's value
// with its type (a map stays a map). Expressions embedded in text ("/srv/${each.key}")
// must name scalars and are spliced as text. "$${" writes a literal "${".
// Roots: vars.NAME..., each.key, each.value..., node.name, node.vars.NAME..., node.cluster,
// and in a resource's properties env.NAME and secret.NAME (Scope). Pure: no I/O.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "engine/model/error.h"
#include "engine/model/value.h"
#include "engine/model/yaml_doc.h"

namespace converge {

/// What the variables' expressions may copy in all, in bytes of weight(): variables that
/// double each other reach it within a few dozen lines.
inline constexpr std::size_t kVarsBudget = std::size_t{32} << 20;
/// What the resources' expressions may copy in all (a 40 KB variable on 1,000 nodes is 40 MB).
inline constexpr std::size_t kStampBudget = std::size_t{128} << 20;

/// What expressions can see.
struct Scope {
  const Map* vars = nullptr;
  std::optional<Value> each_key;
  std::optional<Value> each_value;
  const Map* node = nullptr;  ///< {name, vars, cluster, roles} of the node being stamped
  /// Left of an expansion budget; every expression's value is taken from it (an error
  /// once it runs out). nullptr: unbounded.
  std::size_t* budget = nullptr;
  std::size_t budget_size = 0;  ///< the whole budget, for the message
  /// ${env.NAME} (the environment) and ${secret.NAME} (the manifest's secrets file): only
  /// where this is set (a resource's property, which they make sensitive: never printed,
  /// journaled or cached); set to true when one was used.
  const Map* env = nullptr;
  const Map* secrets = nullptr;
  bool* sensitive_used = nullptr;
};

/// The cost of copying a value, close to the memory the copy takes: its strings' bytes
/// and 48 for each element.
[[nodiscard]] std::size_t weight(const Value& v);

/// Interpolates one string; `where` positions errors.
[[nodiscard]] Result<Value> interpolate_string(const std::string& s, const Scope& scope, const SourceRange& where);

/// Converts a YAML node to a Value, interpolating every string scalar in it.
[[nodiscard]] Result<Value> interpolate(const YNode& n, const Scope& scope, const YDoc& doc);

/// True when the string holds a "${".
[[nodiscard]] inline bool has_expression(const std::string& s) { return s.find("${") != std::string::npos; }

}  // namespace converge
