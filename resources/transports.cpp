#include "resources/transports.h"

#include <sys/stat.h>

#include <filesystem>

#include "resources/local_transport.h"
#include "resources/ssh_transport.h"

namespace converge {

Result<std::unique_ptr<TransportSet>> TransportSet::open(const Manifest& m, const TransportOptions& opts) {
  auto set = std::make_unique<TransportSet>();
  for (const auto& n : m.nodes) {
    const TransportSpec& t = n.transport;
    if (t.kind == "local") {
      // A node root stands for a host's "/": create it when missing, as a new host would
      // simply exist.
      if (!t.root.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(t.root, ec);
        if (ec)
          return std::unexpected(make_error(ErrorCode::unreachable,
                                            "node " + n.name + ": cannot create root " + t.root + ": " + ec.message()));
      }
      set->by_node_[n.name] = std::make_unique<LocalTransport>(t.root);
    } else if (t.kind == "ssh") {
      std::string dir = opts.state_dir + "/ssh";
      ::mkdir(dir.c_str(), 0700);
      set->by_node_[n.name] = std::make_unique<SshTransport>(n.name, t, dir);
    } else if (t.kind == "lab") {
      return std::unexpected(make_error(ErrorCode::invalid_input, "the lab transport is not available in this build", n.where));
    } else {
      return std::unexpected(make_error(ErrorCode::invalid_input, "unknown transport '" + t.kind + "'", n.where));
    }
  }
  return set;
}

Transport* TransportSet::find(const std::string& node) const {
  auto it = by_node_.find(node);
  return it == by_node_.end() ? nullptr : it->second.get();
}

std::string TransportSet::summary() const {
  std::string out;
  for (const auto& s : summaries_) out += s();
  return out;
}

}  // namespace converge
