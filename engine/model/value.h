// engine/model/value.h — the property value model shared by desired and observed state.
//
// A Value is null, bool, integer, string, list or map (keys sorted, so printing and
// comparison are deterministic). Values are plain data: copyable, comparable, hashable
// into text. Nothing here does I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace converge {

class Value;
using List = std::vector<Value>;
using Map = std::map<std::string, Value>;

/// A property value. Default-constructed Values are null.
class Value {
 public:
  enum class Kind { null, boolean, integer, string, list, map };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(List l) : v_(std::move(l)) {}
  Value(Map m) : v_(std::move(m)) {}

  [[nodiscard]] Kind kind() const { return static_cast<Kind>(v_.index()); }
  [[nodiscard]] bool is_null() const { return kind() == Kind::null; }
  [[nodiscard]] bool is_bool() const { return kind() == Kind::boolean; }
  [[nodiscard]] bool is_int() const { return kind() == Kind::integer; }
  [[nodiscard]] bool is_string() const { return kind() == Kind::string; }
  [[nodiscard]] bool is_list() const { return kind() == Kind::list; }
  [[nodiscard]] bool is_map() const { return kind() == Kind::map; }

  /// REQUIRES: the matching is_*() holds.
  [[nodiscard]] bool as_bool() const { return std::get<bool>(v_); }
  [[nodiscard]] std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  [[nodiscard]] const std::string& as_string() const { return std::get<std::string>(v_); }
  [[nodiscard]] const List& as_list() const { return std::get<List>(v_); }
  [[nodiscard]] const Map& as_map() const { return std::get<Map>(v_); }
  [[nodiscard]] List& as_list() { return std::get<List>(v_); }
  [[nodiscard]] Map& as_map() { return std::get<Map>(v_); }

  /// Map lookup; returns nullptr when this is not a map or the key is missing.
  [[nodiscard]] const Value* find(const std::string& key) const;

  /// The value as a scalar string ("true", "42", "text"); lists and maps render as JSON.
  [[nodiscard]] std::string to_string() const;
  /// Compact JSON text with sorted keys (stable, used for hashing and journaling).
  [[nodiscard]] std::string to_json() const;

  friend bool operator==(const Value& a, const Value& b) { return a.v_ == b.v_; }
  friend bool operator<(const Value& a, const Value& b) { return a.v_ < b.v_; }

 private:
  std::variant<std::monostate, bool, std::int64_t, std::string, List, Map> v_;
};

/// Name of a kind, for messages ("string", "map", ...).
[[nodiscard]] const char* kind_name(Value::Kind k);

/// Length of the well-formed UTF-8 sequence starting at s[i] (1 to 4), or 0 when the bytes
/// there are not one (stray continuation, overlong form, surrogate, past U+10FFFF, cut short).
[[nodiscard]] std::size_t utf8_length(const std::string& s, std::size_t i);

}  // namespace converge
