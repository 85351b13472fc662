// engine/model/sha256.h — SHA-256 (FIPS 180-4) for manifest hashes recorded in the journal and
// the model cache key. Pure.
#pragma once

#include <string>
#include <string_view>

namespace converge {

/// Lower-case hex SHA-256 of `data`.
[[nodiscard]] std::string sha256_hex(std::string_view data);

}  // namespace converge
