// resources/exec_type.h — the built-in `exec` type: run `apply` only when `check` fails.
//
// Both commands are argv lists run without a shell; manifest values are whole argv
// elements or environment values, never spliced into a command line. The state property
// `ok` is the check's verdict (desired: true). After `apply`, the engine re-runs `check`:
// an apply that exits 0 but leaves the check failing is reported as an error.
#pragma once

#include "engine/model/types.h"

namespace converge {

[[nodiscard]] TypeSchema exec_schema();
[[nodiscard]] std::shared_ptr<const Provider> exec_provider();

}  // namespace converge
