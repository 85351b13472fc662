#include "engine/value.h"

#include <cstdio>

namespace converge {

const Value* Value::find(const std::string& key) const {
  if (!is_map()) return nullptr;
  const auto& m = as_map();
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

namespace {
void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void append_json(std::string& out, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null: out += "null"; break;
    case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; break;
    case Value::Kind::integer: out += std::to_string(v.as_int()); break;
    case Value::Kind::string: append_json_string(out, v.as_string()); break;
    case Value::Kind::list: {
      out += '[';
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      break;
    }
    case Value::Kind::map: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        append_json(out, e);
      }
      out += '}';
      break;
    }
  }
}
}  // namespace

std::string Value::to_json() const {
  std::string out;
  append_json(out, *this);
  return out;
}

std::string Value::to_string() const {
  switch (kind()) {
    case Kind::null: return "null";
    case Kind::boolean: return as_bool() ? "true" : "false";
    case Kind::integer: return std::to_string(as_int());
    case Kind::string: return as_string();
    default: return to_json();
  }
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "boolean";
    case Value::Kind::integer: return "integer";
    case Value::Kind::string: return "string";
    case Value::Kind::list: return "list";
    case Value::Kind::map: return "map";
  }
  return "?";
}

}  // namespace converge
