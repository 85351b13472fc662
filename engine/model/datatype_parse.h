// engine/model/datatype_parse.h — reading `kind: Types` files into the model of
// engine/model/datatype.h and registering their types. Parsing is pure (every problem is a
// diagnostic at its node); loading reads the file from disk, as the manifest loader does.
#pragma once

#include <string>
#include <vector>

#include "engine/model/datatype.h"
#include "engine/model/yaml_doc.h"

namespace converge::datatype {

/// What a type file declares.
struct TypeFile {
  std::string path;
  std::vector<DataType> types;
  std::vector<Fact> facts;
  std::vector<Precondition> preconditions;
};

/// Parses and checks a loaded `kind: Types` document; every semantic error (unknown
/// property, bad regex, unknown placeholder, malformed duration...) is appended to `diags`
/// with its position. Returns the types even when there are diagnostics; callers register
/// them only when `diags` stayed empty.
/// REQUIRES: `doc` passed validate_with_schema(doc, "types") without diagnostics.
[[nodiscard]] TypeFile parse_type_file(const YDoc& doc, Diagnostics& diags);

/// Reads, schema-checks and parses a type file from disk. `schema_checked`: the file's
/// content passed the schema before (the model cache hashes it), the check is skipped.
[[nodiscard]] TypeFile load_type_file(const std::string& path, Diagnostics& diags, bool schema_checked = false);

/// Registers every type of `f` into `reg` (TypeRegistry::add_data: its provider comes from
/// the registry's factory); a name already registered is reported at the type's position.
void register_types(const TypeFile& f, TypeRegistry& reg, Diagnostics& diags);

/// Loads each type file and registers its types (used on a model-cache hit, whose hashes
/// say the files are those the schema passed: it is not checked again).
[[nodiscard]] Diagnostics register_type_files(const std::vector<std::string>& paths, TypeRegistry& reg);

}  // namespace converge::datatype
