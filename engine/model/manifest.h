// engine/model/manifest.h — the validated model of a manifest.
//
// Produced by load_manifest() (engine/model/loader.h): includes merged, for_each stamped out,
// ${...} interpolated, targets resolved to nodes, properties checked against their types
// and canonicalized, dependencies resolved. Everything downstream (diff, plan, execute)
// works on this model and never looks at YAML again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/value.h"

namespace converge {

/// How a node is reached.
struct TransportSpec {
  std::string kind = "local";       ///< local | ssh | lab
  std::string root;                 ///< local: directory standing for "/" (absolute); empty = "/"
  std::string host;                 ///< ssh: host name (default: the node's name)
  std::string user;                 ///< ssh
  int port = 0;                     ///< ssh; 0 = default
  std::vector<std::string> options; ///< ssh: extra -o options
  std::string host_key = "strict";  ///< ssh: strict (known_hosts only) | accept-new (record a new host's key)
  std::string known_hosts;          ///< ssh: the known_hosts file (absolute); empty = ssh's own
  std::string shell = "posix";      ///< ssh: posix | cmd | powershell (resources/remote_shell.h)
  std::vector<std::string> boot_id; ///< ssh: the command whose output changes at each boot; empty = the shell's
  std::string lab_file;             ///< lab: absolute path of the lab file
};

/// A managed host.
struct NodeSpec {
  std::string name;
  TransportSpec transport;
  std::vector<std::string> roles;
  std::string cluster;
  Map vars;
  SourceRange where;
};

/// One resource on one node, fully resolved.
struct ResourceSpec {
  std::string type;
  std::string name;
  std::string node;
  Map properties;                       ///< canonical; defaults applied
  std::vector<std::string> depends_on;  ///< ids of resources this one needs first
  /// Ids of resources whose change refreshes this one (`subscribe:`, and the `notify:` of
  /// others); each is in depends_on too.
  std::vector<std::string> subscribe;
  /// `notify:` as written (ids of resources that subscribe to this one); the loader moves
  /// each into the target's `subscribe` (load time only; not cached).
  std::vector<std::string> notify;
  std::set<std::string> sensitive;      ///< property names never printed or journaled
  /// Properties whose desired value is `prior` (data types): the value each had before this
  /// maintenance began, from the journal; null in `properties` until the planned run fills it.
  std::vector<std::string> prior;
  std::vector<std::string> tags;        ///< `tags:`, for --tags
  /// Left out of this run by --limit/--tags (set by select(); never cached): a built-in
  /// resource is neither observed nor changed; a data-typed one is observed for the
  /// constraints but given no goal, and the search takes none of its actions.
  bool excluded = false;
  SourceRange where;
  SourceRange depends_where;            ///< position of depends_on (load time only; not cached)

  /// "type[name]@node", unique in a manifest.
  [[nodiscard]] std::string id() const { return type + "[" + name + "]@" + node; }
  [[nodiscard]] const Value* prop(const std::string& key) const;
  [[nodiscard]] std::string prop_string(const std::string& key, const std::string& fallback = "") const;
};

/// A declared availability or run constraint (enforced by the planner).
struct ConstraintSpec {
  enum class Kind { order, max_disrupted, available, precondition, halt_after_failures };
  Kind kind = Kind::order;
  std::vector<std::vector<std::string>> order;  ///< order: node sets, earliest first
  std::vector<std::string> nodes;               ///< max_disrupted / precondition: the node set
  int limit = 0;                                ///< max_disrupted k; halt_after_failures k
  std::string subject;                          ///< available: the group, or TYPE[*]; precondition: its name

  /// available: whether it names this resource (by name, or every resource of TYPE[*]).
  [[nodiscard]] bool names_group(const std::string& type, const std::string& name) const {
    if (subject.ends_with("[*]")) return type == subject.substr(0, subject.size() - 3);
    return name == subject;
  }
  std::int64_t seconds = -1;                    ///< outage budget or max age; -1 = none
  SourceRange where;
};

/// A loaded manifest: the model plus what it was made from.
struct Manifest {
  std::string path;         ///< absolute path of the top-level file
  std::string dir;          ///< its directory
  std::string name;
  std::string description;
  /// `state: {url: postgresql://…}`: the shared journal and lock (the CLI's --state and
  /// CONVERGE_STATE come first). Empty: the state directory's SQLite journal.
  std::string state_url;
  /// `state: {estate: NAME}`: a shared journal's lock covers this name, the whole estate,
  /// instead of the nodes a run touches.
  std::string estate;
  std::vector<NodeSpec> nodes;                              ///< sorted by name
  std::map<std::string, std::vector<std::string>> groups;   ///< group -> sorted node names
  /// cluster -> sorted member node names, from the nodes' `cluster:` field. A cluster name
  /// is a target only for cluster-scoped types (`on: CLUS1`); such resources have the
  /// cluster's name as their `node`.
  std::map<std::string, std::vector<std::string>> clusters;
  std::vector<ResourceSpec> resources;                      ///< in declaration order
  std::vector<ConstraintSpec> constraints;
  std::vector<std::string> sources;                         ///< the manifest and every include
  std::vector<std::string> source_sha256;                   ///< sha256 of each source's bytes
  /// The included `kind: Types` files (absolute, in include order; also in `sources`).
  /// Their types must be registered again when the model comes from the cache.
  std::vector<std::string> type_files;
  /// --limit of this run (set by select(); never cached): the nodes and clusters in scope.
  /// Nullopt: every node.
  std::optional<std::set<std::string>> limit;
  /// The inventory came (partly) from a program (`inventory: {command: [...]}`): the model
  /// is never cached, since the program may answer differently next time.
  bool dynamic_inventory = false;

  /// One hash for the manifest version: sha256 over the sources' hashes, in order.
  [[nodiscard]] std::string version_sha256() const;

  [[nodiscard]] const NodeSpec* node(const std::string& name) const;
};

/// Every sensitive value of a manifest, to blank out of any text that may quote one: an
/// error naming a user or a path, a command's stderr echoing its environment.
class Secrets {
 public:
  explicit Secrets(const Manifest& m);
  /// The sensitive values of one resource (what its own command could echo).
  explicit Secrets(const ResourceSpec& r);
  Secrets() = default;
  /// `text` with each sensitive value replaced by "(sensitive)". A list or map counts
  /// element by element (argv, env); values under 3 bytes are left alone, as they would
  /// blank out common words without hiding anything.
  [[nodiscard]] std::string scrub(std::string text) const;
  /// The last `n` bytes of `text` scrubbed (scrubbed before the cut, so that no piece of a
  /// secret survives it), "..." before them when cut, blank lines around trimmed.
  [[nodiscard]] std::string tail(const std::string& text, std::size_t n = 400) const;

 private:
  void add(const ResourceSpec& r);
  void order();  ///< longest first, each once
  std::vector<std::string> values_;  ///< longest first: a secret holding another goes whole
};

}  // namespace converge
