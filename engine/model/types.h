// engine/model/types.h — resource types: their property schemas as data, their providers, and
// the registry that maps a type name to both.
//
// A type declares which properties it takes (kind, required, default, allowed values) and
// which of them are *state* (compared by the diff) rather than *parameters* (how to reach
// the state: a path, a command). A Provider reads the observed state of one resource and
// acts to change it. Built-in types (file, directory, exec) register C++ providers;
// data-defined types (YAML under resources/) register a generic provider.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/value.h"

namespace converge {

namespace datatype {
struct DataType;
}

class Transport;
struct ExecRequest;
struct ExecResult;
class FileSystem;
struct ResourceSpec;
struct ResourceChanges;

/// One property a type accepts.
struct PropertySpec {
  std::string name;
  std::vector<Value::Kind> kinds;  ///< accepted kinds; empty = any
  bool required = false;
  bool state = true;               ///< compared by the diff (else a parameter)
  std::optional<Value> default_value;
  std::vector<Value> allowed;      ///< when non-empty, the value must be one of these
  std::string doc;
};

/// The schema of a resource type, as data.
struct TypeSchema {
  std::string name;
  std::string doc;
  std::vector<PropertySpec> properties;
  /// When set, this property defaults to the resource's name (file: path).
  std::string name_property;
  /// True when the type has `ensure: present|absent` semantics.
  bool ensurable = false;
  /// True when resources of this type live on a cluster (`on: CLUS1`) rather than on a node;
  /// their commands run on a member of the cluster (resources/transports.h, ClusterTransport).
  bool cluster_scoped = false;

  [[nodiscard]] const PropertySpec* find(const std::string& prop) const;
};

/// Tri-state observation: unknown (could not look), absent, or present with properties.
struct Observation {
  enum class State { unknown, absent, present };
  State state = State::unknown;
  Map props;          ///< present: the state properties as observed, canonical form
  std::string error;  ///< unknown: why
  std::string note;   ///< present: a human explanation of the state, used as the diff's reason

  [[nodiscard]] static Observation unknown(std::string why) { return {State::unknown, {}, std::move(why), {}}; }
  [[nodiscard]] static Observation absent() { return {State::absent, {}, {}, {}}; }
  [[nodiscard]] static Observation present(Map props, std::string note = {}) {
    return {State::present, std::move(props), {}, std::move(note)};
  }
};

/// Lets a provider split an action into a preparation and a commit that runs after one
/// shared sync of the node's filesystem (group commit: 1,000 atomic file writes cost one
/// syncfs instead of 1,000 fsyncs, and each rename still happens only after its data is
/// durable).
class ApplyContext {
 public:
  virtual ~ApplyContext() = default;
  /// Registers `commit` to run once everything written so far on `fs` was made durable:
  /// it is called with the outcome of that sync (an error: it must undo, not commit) and
  /// always exactly once. The action counts as done only when its commit succeeded.
  using Commit = std::function<Status(const Status& durable)>;
  virtual void defer(FileSystem* fs, Commit commit) = 0;
};

/// A property value a provider rejects at load time.
struct PropertyError {
  std::string property;
  std::string message;
};

/// Reads and changes resources of one type. Implementations are stateless and thread-safe.
class Provider {
 public:
  virtual ~Provider() = default;
  /// Brings desired properties into canonical form (mode 644 -> "0644") and checks values a
  /// schema cannot (an octal mode, an absolute path). Called once at load time.
  [[nodiscard]] virtual std::expected<void, PropertyError> canonicalize(Map& props) const { return {}; }
  /// Observes the resource. Never throws; an unreachable node yields State::unknown.
  [[nodiscard]] virtual Observation observe(const ResourceSpec& r, Transport& t) const = 0;
  /// A provider whose observation is one command (an exec's check) sets `req` to it and
  /// returns true: the executor then sends it in one batch with the node's other commands
  /// of the observation (one round trip) and hands the result to observe_result(). False:
  /// observe() reads on its own.
  [[nodiscard]] virtual bool observe_request(const ResourceSpec& r, ExecRequest& req) const { return false; }
  /// What `res`, the result of observe_request()'s command, says of `r`.
  [[nodiscard]] virtual Observation observe_result(const ResourceSpec& r, const Result<ExecResult>& res) const {
    return Observation::unknown("this type observes on its own");
  }
  /// A provider whose action is one command (an exec's apply) sets `req` to it and returns
  /// true: the executor then sends it in one batch with the wave's other such commands on
  /// the node and hands the result to apply_result() instead of calling apply(). False:
  /// apply() acts on its own.
  [[nodiscard]] virtual bool apply_request(const ResourceSpec& r, ExecRequest& req) const { return false; }
  /// What `res`, the result of apply_request()'s command, means for `r`: its apply's status.
  [[nodiscard]] virtual Status apply_result(const ResourceSpec& r, const Result<ExecResult>& res) const {
    return std::unexpected(make_error(ErrorCode::internal, "this type acts on its own"));
  }
  /// Makes the changes. REQUIRES: `changes` came from diff(r, before).
  [[nodiscard]] virtual Status apply(const ResourceSpec& r, const Observation& before,
                                     const ResourceChanges& changes, Transport& t, ApplyContext& ctx) const = 0;
  /// After a run was interrupted, before anything changes: removes what an action of this
  /// type may have left half done on the node (the file type: temporaries written and not
  /// yet renamed). `rs` are this type's resources on the node. Returns how many leftovers
  /// it removed; best effort.
  virtual int recover_interrupted(const std::vector<const ResourceSpec*>& rs, Transport& t) const { return 0; }
  /// True when a refresh (subscribe/notify) of `r` does something of its own: an exec runs
  /// a command, a data type with `refresh:` its action. Others only pass it on.
  [[nodiscard]] virtual bool refreshable(const ResourceSpec& r) const { return false; }
  /// Refreshes `r` once after a resource it subscribes to changed (a service's reload).
  /// `changed_now`: `r` itself changed in this run (an exec that just ran needs no rerun).
  [[nodiscard]] virtual Status refresh(const ResourceSpec& r, bool changed_now, Transport& t) const { return {}; }
};

/// A registered type: its schema and provider, and for a data-defined type its definition
/// (engine/model/datatype.h), which the planner reads; null for a built-in type.
struct TypeEntry {
  TypeSchema schema;
  std::shared_ptr<const Provider> provider;
  std::shared_ptr<const datatype::DataType> data;
};

/// Makes the provider of a data-defined type. The registry is handed one (by
/// builtin_types(), from resources/) so that the model never depends on how a provider
/// reaches a node.
using DataProviderFactory = std::function<std::shared_ptr<const Provider>(std::shared_ptr<const datatype::DataType>)>;

/// Type name -> schema + provider. Registration of a duplicate name is an error.
class TypeRegistry {
 public:
  TypeRegistry() = default;
  explicit TypeRegistry(DataProviderFactory data_providers) : data_providers_(std::move(data_providers)) {}

  [[nodiscard]] Status add(TypeSchema schema, std::shared_ptr<const Provider> provider);
  /// Registers a data-defined type: its schema (datatype::type_schema), the provider the
  /// factory makes for it (none without a factory: such a registry only loads and plans)
  /// and the definition itself.
  [[nodiscard]] Status add_data(datatype::DataType t);
  [[nodiscard]] const TypeEntry* find(const std::string& name) const;
  [[nodiscard]] std::vector<std::string> names() const;

 private:
  std::map<std::string, TypeEntry> types_;
  DataProviderFactory data_providers_;
};

/// A registry holding the built-in types (file, directory, exec) and the factory of
/// data-type providers (resources/builtin.cpp).
[[nodiscard]] TypeRegistry builtin_types();

}  // namespace converge
