// engine/model/model_cache.h — the validated model of a manifest, cached in the state directory.
//
// Parsing and validating a 1,000-resource manifest costs tens of milliseconds (yaml-cpp,
// schema, interpolation); a no-op run should cost a few. The cache holds the model of the
// last successful load in a compact binary form, keyed by the content hash of every source
// file (the manifest and its includes) and by this binary's format. Any edit to any source
// misses the cache and reloads from YAML; a damaged cache file is ignored.
#pragma once

#include <optional>
#include <string>

#include "engine/model/manifest.h"

namespace converge {

/// The cached model for `manifest_path` when every source still has the recorded content.
[[nodiscard]] std::optional<Manifest> load_cached_model(const std::string& cache_file, const std::string& manifest_path);

/// Writes the model (atomically: temporary file and rename; mode 0600). Best effort: a
/// cache that cannot be written is not an error. A model holding sensitive values is
/// never written (and an older cache file is removed).
void store_cached_model(const std::string& cache_file, const Manifest& m);

}  // namespace converge
