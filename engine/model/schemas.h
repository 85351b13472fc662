// engine/model/schemas.h — the JSON Schemas under schemas/, compiled in, and validation against
// them with errors placed at the YAML's line and column.
#pragma once

#include <optional>
#include <string_view>

#include "engine/model/error.h"
#include "engine/model/yaml_doc.h"

namespace converge {

/// The text of schemas/NAME.schema.json as built into the binary, or nullopt.
[[nodiscard]] std::optional<std::string_view> embedded_schema(std::string_view name);

/// Validates a loaded YAML document against schemas/NAME.schema.json. Returns every
/// violation as a diagnostic at the offending node (an unknown key points at the key).
/// Thread-safe; each schema is parsed once per process.
[[nodiscard]] Diagnostics validate_with_schema(const YDoc& doc, std::string_view schema_name);

}  // namespace converge
