// engine/model/yaml_doc.h — hardened YAML loading with source positions.
//
// Every YAML input (manifests, includes, type definitions, lab files) goes through here.
// The loader checks the raw bytes first (size, NUL bytes, UTF-8), then drives yaml-cpp's
// event parser into a small positioned tree, refusing what yaml-cpp would accept silently:
// duplicate keys, merge keys, unknown tags, non-scalar keys, several documents, alias
// expansion past a node budget (alias bombs), nesting past a depth limit, huge scalars,
// a NUL written as the escape "\0". Scalars are typed by the YAML 1.2 core schema (null,
// bool, decimal int); the 0o/0x forms and floats stay strings.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "engine/model/error.h"
#include "engine/model/value.h"

namespace converge {

/// Limits applied to every YAML input.
struct YamlLimits {
  std::size_t max_bytes = 8u << 20;         ///< whole file
  std::size_t max_scalar_bytes = 2u << 20;  ///< one scalar
  std::size_t max_nodes = 200'000;          ///< nodes, anchor copies and alias expansions
  int max_depth = 64;                       ///< nesting of maps and lists
};

struct YNode;

/// One `key: value` of a mapping, with the key's position.
struct YEntry {
  std::string key;
  int line = 0;
  int col = 0;
  std::vector<YNode> value;  ///< exactly one element (vector only to allow the recursive type)
  [[nodiscard]] const YNode& node() const { return value.front(); }
};

/// A node of a loaded YAML document. Positions are 1-based.
struct YNode {
  enum class Kind { null, scalar, seq, map };
  Kind kind = Kind::null;
  Value scalar;               ///< typed scalar value (Kind::scalar and Kind::null)
  bool plain = true;          ///< scalar was unquoted
  int line = 0;
  int col = 0;
  std::vector<YNode> items;   ///< Kind::seq
  std::vector<YEntry> entries;  ///< Kind::map, in document order, keys unique

  [[nodiscard]] bool is_map() const { return kind == Kind::map; }
  [[nodiscard]] bool is_seq() const { return kind == Kind::seq; }
  [[nodiscard]] bool is_scalar() const { return kind == Kind::scalar; }
  /// Map lookup; nullptr when absent or not a map.
  [[nodiscard]] const YNode* get(const std::string& key) const;
  /// The entry for a key (for its position); nullptr when absent.
  [[nodiscard]] const YEntry* entry(const std::string& key) const;
  /// Converts to a plain Value (positions dropped).
  [[nodiscard]] Value to_value() const;
  /// Converts to JSON for schema validation.
  [[nodiscard]] nlohmann::json to_json() const;
};

/// A loaded document and the file it came from.
struct YDoc {
  std::string path;
  std::string text;  ///< the raw bytes (for hashing)
  YNode root;
  [[nodiscard]] SourceRange at(const YNode& n) const { return {path, n.line, n.col}; }
  [[nodiscard]] SourceRange at(const YEntry& e) const { return {path, e.line, e.col}; }
};

/// Reads and parses a YAML file. Errors carry `path:line:col`.
[[nodiscard]] Result<YDoc> load_yaml_file(const std::string& path, const YamlLimits& limits = {});
/// Parses YAML text; `path` is used for messages only.
[[nodiscard]] Result<YDoc> parse_yaml(std::string text, const std::string& path,
                                      const YamlLimits& limits = {});

/// Finds the node a JSON pointer-like path ("/resources/3/type") designates, or the deepest
/// existing ancestor. Used to place schema errors.
[[nodiscard]] const YNode& locate(const YNode& root, const std::vector<std::string>& path);

}  // namespace converge
