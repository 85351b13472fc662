// resources/inventory_command.h — runs a dynamic inventory's program for the loader
// (engine/model/loader.h: InventoryRunner), through the same process runner as `exec`.
#pragma once

#include <string>
#include <vector>

#include "engine/model/error.h"

namespace converge {

/// Runs argv in `dir` (a relative program path is taken from there), with no stdin and a
/// two-minute limit; returns its stdout. A program that cannot start, times out, or exits
/// non-zero is an error quoting the end of its stderr.
[[nodiscard]] Result<std::string> run_inventory_command(const std::vector<std::string>& argv, const std::string& dir);

}  // namespace converge
