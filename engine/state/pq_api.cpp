#include "engine/state/pq_api.h"

#include <dlfcn.h>

#include <mutex>

namespace converge::pq {

namespace {

Api loaded;
std::string failure;

void load_once() {
  void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = ::dlerror();
    failure = "PostgreSQL needs libpq (Debian: apt-get install libpq5): " + std::string(why ? why : "dlopen failed");
    return;
  }
#define CONVERGE_PQ_RESOLVE(name)                                                       \
  loaded.name = reinterpret_cast<decltype(&::name)>(::dlsym(lib, #name));               \
  if (!loaded.name) {                                                                   \
    failure = "libpq.so.5 has no " #name " (libpq too old?)";                           \
    return;                                                                             \
  }
  CONVERGE_PQ_FUNCTIONS(CONVERGE_PQ_RESOLVE)
#undef CONVERGE_PQ_RESOLVE
}

}  // namespace

Result<const Api*> load() {
  static std::once_flag once;
  std::call_once(once, load_once);
  if (!failure.empty()) return std::unexpected(make_error(ErrorCode::io, failure));
  return &loaded;
}

const Api& api() { return loaded; }

}  // namespace converge::pq
