// libFuzzer target: a manifest file through the whole loader (YAML, schema, semantics,
// includes, interpolation, types, dependencies). Any crash, hang or sanitizer report is a bug;
// a refusal is the expected answer to almost every input.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/model/loader.h"
#include "engine/model/types.h"

namespace {

const std::string& work_dir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/converge-fuzz-manifest-XXXXXX";
    return std::string(::mkdtemp(tmpl) ? tmpl : "/tmp");
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = work_dir() + "/m.yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  converge::LoadOutcome lo = converge::load_manifest(path, converge::builtin_types());
  // A model comes with no diagnostics, and diagnostics with no model.
  if (lo.manifest.has_value() == !lo.diagnostics.empty()) std::abort();
  return 0;
}
