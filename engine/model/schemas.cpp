#include "engine/model/schemas.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

namespace converge::generated {
extern const std::pair<std::string_view, std::string_view> kSchemas[];
}

namespace converge {

std::optional<std::string_view> embedded_schema(std::string_view name) {
  for (const auto* s = generated::kSchemas; !s->first.empty(); ++s)
    if (s->first == name) return s->second;
  return std::nullopt;
}

namespace {

const valijson::Schema* parsed_schema(std::string_view name) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<valijson::Schema>, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end()) return it->second.get();
  auto text = embedded_schema(name);
  if (!text) return nullptr;
  auto json = nlohmann::json::parse(*text);
  auto schema = std::make_unique<valijson::Schema>();
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter adapter(json);
  parser.populateSchema(adapter, *schema);
  return cache.emplace(std::string(name), std::move(schema)).first->second.get();
}

/// valijson contexts look like {"<root>", "[resources]", "[0]"}; strip to path parts.
std::vector<std::string> context_path(const std::vector<std::string>& ctx) {
  std::vector<std::string> out;
  for (const auto& c : ctx) {
    if (c.size() >= 2 && c.front() == '[' && c.back() == ']') out.push_back(c.substr(1, c.size() - 2));
  }
  return out;
}

bool is_prefix(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return a.size() < b.size() && std::equal(a.begin(), a.end(), b.begin());
}

/// Rewrites valijson's wording into a short message; finds an unknown key's name.
std::string tidy(const std::string& d, std::string* unknown_key) {
  static const std::string kAdditional = "could not be validated using 'properties' or 'additionalProperties' constraints: '";
  if (auto p = d.find(kAdditional); p != std::string::npos) {
    std::string key = d.substr(p + kAdditional.size());
    if (!key.empty() && key.back() == '.') key.pop_back();
    if (!key.empty() && key.back() == '\'') key.pop_back();
    *unknown_key = key;
    return "unknown field '" + key + "'";
  }
  return d;
}

}  // namespace

namespace {

/// One validation pass. Fills `unknown` with (path, key) of the unknown keys it reported.
Diagnostics validate_once(const YDoc& doc, const valijson::Schema& schema, const nlohmann::json& json,
                          std::vector<std::pair<std::vector<std::string>, std::string>>& unknown) {
  Diagnostics out;
  valijson::adapters::NlohmannJsonAdapter target(json);
  valijson::Validator validator;
  valijson::ValidationResults results;
  if (validator.validate(schema, target, &results)) return out;

  // Keep the most specific errors: drop those whose path is a prefix of another's, and
  // of several at one path (a oneOf's branches) keep the most telling one.
  std::vector<std::pair<std::vector<std::string>, std::string>> errs;
  auto weight = [](const std::string& d) {
    if (d.starts_with("Failed to validate against")) return 3;
    if (d.find("'type' constraint") != std::string::npos) return 2;
    return 1;
  };
  for (const auto& e : results) {
    auto path = context_path(e.context);
    auto same = std::find_if(errs.begin(), errs.end(), [&](const auto& x) { return x.first == path; });
    if (same == errs.end()) errs.emplace_back(std::move(path), e.description);
    else if (weight(e.description) < weight(same->second)) same->second = e.description;
  }
  for (std::size_t i = 0; i < errs.size(); ++i) {
    bool shadowed = false;
    // An unknown key is about the key itself, not its subtree: never shadowed.
    bool unknown_key = errs[i].second.find("could not be validated using 'properties'") != std::string::npos;
    for (std::size_t j = 0; j < errs.size() && !shadowed && !unknown_key; ++j) shadowed = is_prefix(errs[i].first, errs[j].first);
    if (shadowed) continue;
    std::string key;
    std::string msg = tidy(errs[i].second, &key);
    const YNode& at = locate(doc.root, errs[i].first);
    SourceRange where = doc.at(at);
    if (const YEntry* e = key.empty() ? nullptr : at.entry(key)) where = doc.at(*e);
    if (!key.empty()) unknown.emplace_back(errs[i].first, key);
    std::string path;
    for (const auto& p : errs[i].first) path += "/" + p;
    const std::string last = errs[i].first.empty() ? "" : errs[i].first.back();
    if (msg.find("'pattern' constraint") != std::string::npos || msg.find("'const' constraint") != std::string::npos ||
        msg.find("'enum' constraint") != std::string::npos) {
      std::string got = at.is_scalar() ? at.scalar.to_string() : "";
      if (last == "outage_budget" || last == "max_age" || last == "timeout")
        msg = "malformed duration '" + got + "' (write seconds, or 90s, 30m, 24h, 1h30m)";
      else if (at.is_scalar())
        msg = "value '" + got + "' is not allowed here (" + msg + ")";
    }
    if (!path.empty() && key.empty()) msg = path + ": " + msg;
    out.push_back(make_error(ErrorCode::invalid_input, msg, where));
  }
  return out;
}

}  // namespace

Diagnostics validate_with_schema(const YDoc& doc, std::string_view schema_name) {
  Diagnostics out;
  const valijson::Schema* schema = parsed_schema(schema_name);
  if (!schema) {
    out.push_back(make_error(ErrorCode::internal, "no schema named " + std::string(schema_name)));
    return out;
  }
  nlohmann::json json = doc.root.to_json();
  // valijson stops at the first unknown key of an object: drop the keys it reported and
  // validate again, so that every unknown key is reported (a few passes at most).
  for (int pass = 0; pass < 16; ++pass) {
    std::vector<std::pair<std::vector<std::string>, std::string>> unknown;
    Diagnostics d = validate_once(doc, *schema, json, unknown);
    out.insert(out.end(), d.begin(), d.end());
    if (unknown.empty()) break;
    for (const auto& [path, key] : unknown) {
      nlohmann::json* node = &json;
      for (const auto& part : path) {
        if (node->is_object() && node->contains(part)) node = &(*node)[part];
        else if (node->is_array() && std::all_of(part.begin(), part.end(), ::isdigit) && std::stoul(part) < node->size()) node = &(*node)[std::stoul(part)];
        else break;
      }
      if (node->is_object()) node->erase(key);
    }
  }
  sort_diagnostics(out);
  return out;
}

}  // namespace converge
