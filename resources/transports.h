// resources/transports.h — one Transport per node of a manifest, made from its inventory.
#pragma once

#include <functional>
#include <map>
#include <vector>
#include <memory>
#include <string>

#include "engine/manifest.h"
#include "resources/transport.h"

namespace converge {

struct TransportOptions {
  std::string state_dir;  ///< private state directory (ssh sockets, lab state)
  double lab_speed = 0;   ///< lab: virtual seconds per real second; 0 = instant
};

/// Owns the transports of a run.
class TransportSet {
 public:
  /// Opens a transport for every node. Fails on an unknown transport kind or a lab file
  /// that does not load.
  [[nodiscard]] static Result<std::unique_ptr<TransportSet>> open(const Manifest& m, const TransportOptions& opts);
  /// The node's transport, or nullptr for an unknown node.
  [[nodiscard]] Transport* find(const std::string& node) const;
  /// Text the lab wants shown at the end of a run (availability summary); empty otherwise.
  [[nodiscard]] std::string summary() const;

 private:
  std::map<std::string, std::unique_ptr<Transport>> by_node_;
  std::vector<std::function<std::string()>> summaries_;
  std::vector<std::shared_ptr<void>> keep_;  ///< shared backends (a lab) kept alive
};

}  // namespace converge
