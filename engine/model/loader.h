// engine/model/loader.h — from a manifest file to a validated Manifest, or every diagnostic.
//
// Stages, each collecting diagnostics rather than stopping at the first: read and
// schema-check the file and its includes (loops and missing files reported at the include),
// merge them, build the inventory, stamp out resources (for_each, ${...}, targets), check
// properties against their types, resolve dependencies, refuse cycles, resolve constraints.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/manifest.h"
#include "engine/model/types.h"

namespace converge {

/// The result of loading: a model when there were no errors, and the diagnostics either way.
struct LoadOutcome {
  std::optional<Manifest> manifest;
  Diagnostics diagnostics;  ///< sorted; non-empty iff !manifest
  /// The registry the manifest was checked against: the given types plus those defined by
  /// its `kind: Types` includes (engine/model/datatype_parse.h). Use it to observe and apply.
  TypeRegistry types;
};

/// Runs a dynamic inventory's program (argv, in the manifest's directory) and returns what
/// it printed; an error when it could not run or failed. The loader starts no process itself.
using InventoryRunner = std::function<Result<std::string>(const std::vector<std::string>& argv, const std::string& dir)>;

/// Loads and validates a manifest. Touches no host: reads only the manifest, its includes
/// and its inventory file, or runs its inventory program through `run_inventory` (none
/// given: a manifest that names one is an error).
/// An include of `kind: Types` registers its types (a name defined twice is an error);
/// `kind: Manifest|Fragment` includes merge into the manifest; `inventory: FILE` (a
/// `kind: Inventory` file) and `inventory: {command: [...]}` (a program printing the same
/// as JSON) merge into the inventory.
[[nodiscard]] LoadOutcome load_manifest(const std::string& path, const TypeRegistry& types,
                                        const InventoryRunner& run_inventory = nullptr);

}  // namespace converge
