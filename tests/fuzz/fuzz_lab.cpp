// libFuzzer target: a lab file through the hardened YAML loader and the lab's own checks.
#include <cstdint>
#include <string>

#include "resources/lab/lab_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)converge::lab::parse_lab_text(std::string(reinterpret_cast<const char*>(data), size), "lab.yaml");
  return 0;
}
