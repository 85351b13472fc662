// libFuzzer target: a `kind: Types` document through the YAML loader, the types schema and
// the type-file parser (regular expressions, placeholders, durations, conditions).
#include <cstdint>
#include <string>

#include "engine/model/datatype_parse.h"
#include "engine/model/schemas.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto doc = converge::parse_yaml(std::string(reinterpret_cast<const char*>(data), size), "types.yaml");
  if (!doc) return 0;
  if (!converge::validate_with_schema(*doc, "types").empty()) return 0;
  converge::Diagnostics diags;
  converge::datatype::TypeFile f = converge::datatype::parse_type_file(*doc, diags);
  if (diags.empty()) {
    converge::TypeRegistry reg;
    converge::datatype::register_types(f, reg, diags);
  }
  return 0;
}
