// resources/transports.h — one Transport per node of a manifest, made from its inventory,
// plus one per cluster (resources of cluster-scoped types are addressed to the cluster).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/manifest.h"
#include "resources/transport.h"

namespace converge {

struct TransportOptions {
  std::string state_dir;  ///< private state directory (ssh sockets, lab state)
  double lab_speed = 0;   ///< lab: virtual seconds per real second; 0 = instant
  bool changes = true;    ///< false (plan, check): a missing node root is left missing, a lab writes nothing
};

/// A cluster reached through its member nodes. A command runs on the first member (in
/// name order) that answers; a member that is unreachable is skipped. member() lets an
/// action that must run on one node (the owner of a group) pick it. Does not own the
/// members. Thread-safe as far as the members are.
class ClusterTransport final : public Transport {
 public:
  /// REQUIRES: `members` sorted by name, non-empty, each outliving this object.
  ClusterTransport(std::string name, std::vector<std::pair<std::string, Transport*>> members);
  [[nodiscard]] Result<ExecResult> run(const ExecRequest& req) override;
  /// The batch goes to the first member that answers, in that member's one round trip.
  [[nodiscard]] std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override;
  [[nodiscard]] FileSystem* files() override { return nullptr; }
  /// The boot id of the first member that answers.
  [[nodiscard]] Result<std::string> boot_id() override;
  [[nodiscard]] std::string describe() const override { return "cluster " + name_; }
  /// The member node's transport, or nullptr when `node` is not a member.
  [[nodiscard]] Transport* member(const std::string& node) const;

 private:
  std::string name_;
  std::vector<std::pair<std::string, Transport*>> members_;
};

/// Loads the lab file the manifest's lab nodes name (one for all of them), and reports
/// what is wrong with it at its file:line:col. Validation runs it, and a run before it
/// creates anything in its state directory; given that directory, it checks nothing once
/// the lab exists there (its file is read only to create it).
[[nodiscard]] Diagnostics check_lab_file(const Manifest& m, const std::string& state_dir = "");

/// The directory whose lab/ holds the emulated lab's state: $CONVERGE_LAB_HOME, so that
/// runs with different state directories (a team with a shared journal, rehearsing, or
/// `converge lab serve` behind sshd) meet one lab as they would meet the same hosts; else
/// the state directory.
[[nodiscard]] std::string lab_home(const std::string& state_dir);

/// Owns the transports of a run.
class TransportSet {
 public:
  /// Opens a transport for every node and cluster. Nodes on the lab share one lab, opened
  /// (or created from its lab file) under `<state_dir>/lab/`. Fails on an unknown
  /// transport kind, nodes naming different lab files, or a lab file that does not load.
  [[nodiscard]] static Result<std::unique_ptr<TransportSet>> open(const Manifest& m, const TransportOptions& opts);
  /// The transport of a node or a cluster, or nullptr for an unknown name.
  [[nodiscard]] Transport* find(const std::string& node) const;
  /// Lets every node's filesystem keep directories open for a bulk observation (see
  /// FileSystem::hold_directories) for as long as the returned hold lives.
  class DirectoryHold {
   public:
    explicit DirectoryHold(std::vector<FileSystem*> held) : held_(std::move(held)) {}
    ~DirectoryHold() {
      for (FileSystem* fs : held_) fs->hold_directories(false);
    }
    DirectoryHold(const DirectoryHold&) = delete;
    DirectoryHold& operator=(const DirectoryHold&) = delete;

   private:
    std::vector<FileSystem*> held_;
  };
  [[nodiscard]] DirectoryHold hold_directories() const;
  /// Text the lab wants shown at the end of a run (availability summary); empty otherwise.
  [[nodiscard]] std::string summary() const;

 private:
  std::map<std::string, std::unique_ptr<Transport>> by_node_;
  std::vector<std::function<std::string()>> summaries_;
  std::vector<std::shared_ptr<void>> keep_;  ///< shared backends (a lab) kept alive
};

}  // namespace converge
