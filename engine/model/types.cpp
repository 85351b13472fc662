#include "engine/model/types.h"

#include "engine/model/datatype.h"

namespace converge {

const PropertySpec* TypeSchema::find(const std::string& prop) const {
  for (const auto& p : properties)
    if (p.name == prop) return &p;
  return nullptr;
}

Status TypeRegistry::add(TypeSchema schema, std::shared_ptr<const Provider> provider) {
  std::string name = schema.name;
  if (types_.count(name)) return std::unexpected(make_error(ErrorCode::invalid_input, "type '" + name + "' is defined twice"));
  types_.emplace(name, TypeEntry{std::move(schema), std::move(provider), nullptr});
  return {};
}

Status TypeRegistry::add_data(datatype::DataType t) {
  TypeSchema schema = datatype::type_schema(t);
  auto data = std::make_shared<const datatype::DataType>(std::move(t));
  auto provider = data_providers_ ? data_providers_(data) : nullptr;
  CONVERGE_CHECK(add(std::move(schema), std::move(provider)));
  types_.at(data->name).data = std::move(data);
  return {};
}

const TypeEntry* TypeRegistry::find(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : &it->second;
}

std::vector<std::string> TypeRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [n, _] : types_) out.push_back(n);
  return out;
}

}  // namespace converge
