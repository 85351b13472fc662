#include "engine/manifest.h"

namespace converge {

const Value* ResourceSpec::prop(const std::string& key) const {
  auto it = properties.find(key);
  return it == properties.end() ? nullptr : &it->second;
}

std::string ResourceSpec::prop_string(const std::string& key, const std::string& fallback) const {
  const Value* v = prop(key);
  return v && v->is_string() ? v->as_string() : fallback;
}

const NodeSpec* Manifest::node(const std::string& n) const {
  for (const auto& x : nodes)
    if (x.name == n) return &x;
  return nullptr;
}

}  // namespace converge
