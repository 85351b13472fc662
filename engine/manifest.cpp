#include "engine/manifest.h"

#include "engine/sha256.h"

namespace converge {

const Value* ResourceSpec::prop(const std::string& key) const {
  auto it = properties.find(key);
  return it == properties.end() ? nullptr : &it->second;
}

std::string ResourceSpec::prop_string(const std::string& key, const std::string& fallback) const {
  const Value* v = prop(key);
  return v && v->is_string() ? v->as_string() : fallback;
}

std::string Manifest::version_sha256() const {
  if (source_sha256.size() == 1) return source_sha256.front();
  std::string all;
  for (const auto& h : source_sha256) all += h + "\n";
  return sha256_hex(all);
}

const NodeSpec* Manifest::node(const std::string& n) const {
  for (const auto& x : nodes)
    if (x.name == n) return &x;
  return nullptr;
}

}  // namespace converge
