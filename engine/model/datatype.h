// engine/model/datatype.h — data-defined resource types: the model of a `kind: Types` file.
//
// A type definition file (YAML, `apiVersion: converge/v1`, `kind: Types`, described by
// schemas/types.schema.json) declares resource types as data: their properties, the probes
// that observe them (argv + exit codes + regular expressions) and the actions that change
// them, with the metadata the planner reasons with (preconditions, transient requirements,
// effects, disruption, duration). It may also declare node facts (a pending reboot).
//
// Everything here is plain data and pure functions over it: engine/model/datatype_parse.h
// builds it from a loaded YAML document (every diagnostic carries file:line:col), the
// registry (engine/model/types.h) holds each DataType beside its schema, and the generic
// provider that runs the probes and actions through a node's Transport lives in
// resources/datatype_provider.h. The planner reads the action metadata through data_type().
//
// Templates: an argv element may hold placeholders `{name}` (resource name), `{node}`
// (node, or cluster for cluster-scoped resources), `{cluster}`, `{prop.X}` (the desired
// value of property X, mapped through the action's `values:` when it has an entry for X)
// Any other brace is text, so shell needs no escaping: `${VAR}` (a '{' after '$'), `$1`,
// awk's `{ print $2 }`, `{1..3}`, jq's `{a:{b:1}}`, Go templates' `{{.State}}` stay as
// written; `{{name}}` is the text `{name}`. Substitution happens inside one argv element and never splits or joins elements: no
// shell ever sees the text.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model/error.h"
#include "engine/model/types.h"
#include "engine/model/value.h"
#include "engine/model/disruption.h"

namespace converge {
struct ResourceSpec;
}  // namespace converge

namespace converge::datatype {

/// The marker a `sets:` entry uses for "whatever the manifest desires".
inline constexpr const char* kDesired = "desired";
/// The desired value meaning "the value it had before this maintenance began": the loader
/// moves such properties to ResourceSpec::prior (take_priors), and the planned run fills
/// them from the journal's priors or the first observation.
inline constexpr const char* kPrior = "prior";

/// Whether a type's resources live on a node or on a cluster (`on: CLUS1`).
enum class Scope { node, cluster };

/// "node" / "cluster".
[[nodiscard]] const char* scope_word(Scope s);

/// How one property is read from a probe's output.
struct Capture {
  std::string property;
  std::string regex;                  ///< ECMAScript, multiline; group 1 is the value (empty: use `exit`)
  std::map<std::string, Value> map;   ///< captured text (or exit code as text) -> value; empty = convert by kind
  int base = 10;                      ///< integer conversion base for unmapped text (16 for 0x.. dwords)
  bool stderr_too = false;            ///< search stdout and then stderr
  std::optional<Value> fallback;      ///< value when the regex does not match (else: unknown)
  SourceRange where;
};

/// One read command and how to interpret it.
struct Probe {
  std::vector<std::string> argv;      ///< template
  std::vector<int> present_exit{0};   ///< exit codes meaning "the resource exists"
  std::vector<int> absent_exit;       ///< exit codes meaning "it does not"; others: unknown
  std::vector<Capture> captures;      ///< in declaration order
  SourceRange where;
};

/// A condition over a property of this resource, of another resource, or a node fact.
struct ConditionDef {
  enum class Subject { self, resource, fact };
  Subject subject = Subject::self;
  std::string type;            ///< resource: the type ("service")
  std::string name;            ///< resource: the resource name ("SharedAccess"), "*" for every one
  std::string fact;            ///< fact: its name (may hold {name})
  std::string property;        ///< self / resource: the property
  /// Where the other resource (or fact) is: "node" (the same node, or for a cluster-scoped
  /// resource its cluster), "cluster" (the cluster of this node, or for a cluster-scoped
  /// resource its member nodes), "role:R" (every node with role R), "observed:P" / "desired:P"
  /// (the node named by this resource's observed / desired property P, e.g. a CMS's owner).
  std::string on = "node";
  /// When `on` designates several nodes or resources (or `name` is "*"): true = the
  /// condition must hold for at least one of them, false = for every one.
  bool any = false;
  std::string when_role;       ///< when set, the condition applies only on nodes with this role
  bool negate = false;         ///< true: `not_equals`
  Value value;                 ///< compared value; may be "desired" or hold {node}, {name}, {prop.X}
  /// `in:` instead of equals: the value is one of these (each may hold placeholders).
  std::vector<Value> one_of;
  std::string doc;
  SourceRange where;
};

/// A fact an action makes true besides its `sets`.
struct Effect {
  std::string fact;            ///< node fact name (may hold {name})
  Value value;
  SourceRange where;
};

/// One command of an action.
struct Command {
  std::vector<std::string> argv;   ///< template
  std::vector<int> ok_exit{0};     ///< exit codes meaning success (e.g. 0, 3010)
};

/// A way to change a resource.
struct ActionDef {
  std::string name;
  std::string doc;
  Map sets;                    ///< property -> value it leaves, or "desired"
  std::vector<Command> commands;  ///< run in order; the first failure stops the action
  /// property -> (desired value as text -> text for the argv); used by {prop.X}.
  std::map<std::string, std::map<std::string, std::string>> values;
  std::int64_t duration_seconds = 0;  ///< estimate
  Disruption disruption = Disruption::none;
  std::vector<ConditionDef> requires_;   ///< preconditions (YAML `requires`)
  std::vector<ConditionDef> transient;   ///< established for the action, restored after
  std::vector<Effect> effects;
  /// Cluster scope: a property whose observed value names the member node the commands
  /// must run on (setup.com /upgradecms runs on the CMS's owner); empty = any member.
  std::string run_on;
  /// The action restarts the node: the engine waits for a new boot, and every fact with an
  /// `after_boot` value takes it.
  bool boots = false;
  SourceRange where;

  /// True when the action can bring `prop` to `desired`.
  [[nodiscard]] bool can_set(const std::string& prop, const Value& desired) const;
};

/// A node fact (a pending reboot): observed by a probe, or only known through effects.
struct Fact {
  std::string name;
  std::string doc;
  std::optional<Probe> probe;       ///< captures the property "value"
  std::optional<Value> after_boot;  ///< the value a boot resets it to
  SourceRange where;
};

/// One property's data-level extras beyond PropertySpec.
struct PropertyExtra {
  bool observed_only = false;   ///< read for preconditions; a desired value is refused
  bool accepts_prior = false;   ///< `prior` is a valid desired value
  /// The property is the node fact of this name (reboot.pending is `reboot_pending`): the
  /// planner sees one fact, whether an action sets the property or has the fact as effect.
  std::string fact;
  /// What a boot of its node leaves the property at, by the value another property has
  /// then (`after_boot: {from: startup, map: {automatic: running, manual: stopped}}`: a
  /// Windows service runs after a boot only when it starts automatically). Empty: a boot
  /// does not change it.
  std::string after_boot_from;
  std::map<std::string, Value> after_boot_map;  ///< `from` value (as text) -> value after a boot
};

struct FileDeclarations;

/// A data-defined type.
struct DataType {
  std::string name;
  std::string doc;
  Scope scope = Scope::node;
  std::vector<PropertySpec> properties;
  std::map<std::string, PropertyExtra> extras;
  std::vector<Probe> observe;
  std::vector<ActionDef> actions;  ///< in declaration order (apply's order)
  /// The action a refresh runs (`refresh:`, e.g. a service's reload) when a resource this
  /// one subscribes to changed; empty: a refresh only passes on to its own subscribers.
  std::string refresh;
  std::string file;             ///< the type file it came from
  /// The node facts and run preconditions declared in the same file (shared by its types):
  /// the engine reads them through the registry rather than parsing the file again.
  std::shared_ptr<const FileDeclarations> declared;
  SourceRange where;

  [[nodiscard]] const ActionDef* find_action(const std::string& name) const;
};

/// A run precondition a manifest may name (`precondition: full_backup, max_age: 24h`): the
/// age of a timestamp property of every resource of a type, measured by a clock property
/// of the same resource (the host's own time, so a lab's virtual clock works too).
struct Precondition {
  std::string name;
  std::string doc;
  std::string type;       ///< resource type read
  std::string timestamp;  ///< property holding the time of the last event
  std::string clock;      ///< property holding the host's time now
  SourceRange where;
};

/// What a type file declares besides its types.
struct FileDeclarations {
  std::vector<Fact> facts;
  std::vector<Precondition> preconditions;
};

/// The declarations of every type file behind the data types of `reg`, each file once.
[[nodiscard]] FileDeclarations declarations(const TypeRegistry& reg);

/// The data definition behind a registry entry, or nullptr for a built-in type.
[[nodiscard]] inline const DataType* data_type(const TypeEntry& e) { return e.data.get(); }
/// The data definition of the registered type `type`, or nullptr when it is unknown or built in.
[[nodiscard]] const DataType* data_type(const TypeRegistry& reg, const std::string& type);

/// The registry's schema of a data type: its properties, scope and name.
[[nodiscard]] TypeSchema type_schema(const DataType& t);

/// Refuses desired values of observed-only properties (the property and why); every
/// property whose desired value is `prior` is named in `prior` (sorted) and left null in
/// `props` (the diff skips null) until the planned run resolves it.
[[nodiscard]] std::expected<void, PropertyError> take_priors(const DataType& t, Map& props, std::vector<std::string>& prior);

/// Expands placeholders in one argv element. `vars` holds "name", "node", "cluster" and
/// "prop.X" entries. Errors name the unknown placeholder. Pure.
[[nodiscard]] Result<std::string> render_element(const std::string& tmpl, const std::map<std::string, std::string>& vars);

/// Expands a whole argv template element by element (never re-splits). Pure.
[[nodiscard]] Result<std::vector<std::string>> render_argv(const std::vector<std::string>& tmpl,
                                                           const std::map<std::string, std::string>& vars);

/// The placeholder values of `r` for argv templates ({name}, {node}, {cluster}, {prop.X},
/// mapped through `a`'s values when given).
[[nodiscard]] std::map<std::string, std::string> action_vars(const DataType& type, const ResourceSpec& r, const ActionDef* a);

}  // namespace converge::datatype
