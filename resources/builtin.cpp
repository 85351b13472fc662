// The built-in types, registered by name.
#include "engine/model/types.h"
#include "resources/datatype_provider.h"
#include "resources/exec_type.h"
#include "resources/file_type.h"

namespace converge {

TypeRegistry builtin_types() {
  TypeRegistry reg(datatype::make_data_provider);
  // Names are unique by construction here; a clash would be a programming error.
  (void)reg.add(file_schema(), file_provider());
  (void)reg.add(directory_schema(), directory_provider());
  (void)reg.add(symlink_schema(), symlink_provider());
  (void)reg.add(exec_schema(), exec_provider());
  return reg;
}

}  // namespace converge
