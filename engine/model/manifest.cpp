#include "engine/model/manifest.h"

#include <algorithm>

#include "engine/model/sha256.h"

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

namespace {
void collect_secrets(const Value& v, std::vector<std::string>& out) {
  if (v.is_list()) {
    for (const auto& e : v.as_list()) collect_secrets(e, out);
  } else if (v.is_map()) {
    for (const auto& [k, e] : v.as_map()) collect_secrets(e, out);
  } else if (!v.is_null()) {
    if (std::string s = v.to_string(); s.size() >= 3) out.push_back(std::move(s));
  }
}
}  // namespace

Secrets::Secrets(const Manifest& m) {
  for (const auto& r : m.resources) add(r);
  order();
}

Secrets::Secrets(const ResourceSpec& r) {
  add(r);
  order();
}

void Secrets::add(const ResourceSpec& r) {
  for (const auto& k : r.sensitive)
    if (const Value* v = r.prop(k)) collect_secrets(*v, values_);
}

std::string Secrets::tail(const std::string& text, std::size_t n) const {
  // Scrubbed whole first: a cut through a secret would leave a piece no scrub can match.
  std::string s = scrub(text);
  std::string t = s.size() > n ? "..." + s.substr(s.size() - n) : s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ' || t.back() == '\r')) t.pop_back();
  while (!t.empty() && (t.front() == '\n' || t.front() == '\r')) t.erase(t.begin());
  return t;
}

void Secrets::order() {
  std::sort(values_.begin(), values_.end(),
            [](const std::string& a, const std::string& b) { return a.size() != b.size() ? a.size() > b.size() : a < b; });
  values_.erase(std::unique(values_.begin(), values_.end()), values_.end());
}

std::string Secrets::scrub(std::string text) const {
  static const std::string kMask = "(sensitive)";
  for (const auto& secret : values_)
    for (std::size_t at = 0; (at = text.find(secret, at)) != std::string::npos; at += kMask.size())
      text.replace(at, secret.size(), kMask);
  return text;
}

}  // namespace converge
