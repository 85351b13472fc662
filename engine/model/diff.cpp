#include "engine/model/diff.h"

namespace converge {

const char* action_symbol(ChangeKind a) {
  switch (a) {
    case ChangeKind::create: return "+";
    case ChangeKind::update: return "~";
    case ChangeKind::remove: return "-";
    case ChangeKind::none: return " ";
  }
  return "?";
}

const char* action_word(ChangeKind a) {
  switch (a) {
    case ChangeKind::create: return "create";
    case ChangeKind::update: return "update";
    case ChangeKind::remove: return "delete";
    case ChangeKind::none: return "none";
  }
  return "?";
}

const PropertyChange* ResourceChanges::find(const std::string& prop) const {
  for (const auto& p : properties)
    if (p.property == prop) return &p;
  return nullptr;
}

ResourceChanges diff(const ResourceSpec& desired, const TypeSchema& type, const Observation& obs) {
  ResourceChanges out;
  bool want_absent = type.ensurable && desired.prop_string("ensure", "present") == "absent";
  if (want_absent) {
    if (obs.state == Observation::State::present) {
      out.action = ChangeKind::remove;
      out.properties.push_back({"ensure", Value("present"), Value("absent")});
      out.reason = "exists; ensure is absent";
    }
    return out;
  }
  bool absent = obs.state == Observation::State::absent;
  for (const auto& p : type.properties) {
    if (!p.state || (type.ensurable && p.name == "ensure")) continue;  // a data type's ensure is a property
    const Value* want = desired.prop(p.name);
    if (!want || want->is_null()) continue;  // unmanaged
    auto it = obs.props.find(p.name);
    const Value& have = (absent || it == obs.props.end()) ? Value() : it->second;
    if (absent || !(have == *want)) out.properties.push_back({p.name, absent ? Value() : have, *want});
  }
  if (absent) {
    out.action = ChangeKind::create;
    if (type.ensurable) out.properties.insert(out.properties.begin(), {"ensure", Value("absent"), Value("present")});
    out.reason = "does not exist";
  } else if (!out.properties.empty()) {
    out.action = ChangeKind::update;
    for (const auto& c : out.properties) out.reason += (out.reason.empty() ? "differs: " : ", ") + c.property;
    if (!obs.note.empty()) out.reason = obs.note;
  }
  return out;
}

}  // namespace converge
