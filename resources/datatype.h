// resources/datatype.h — data-defined resource types: the model of a `kind: Types` file.
//
// A type definition file (YAML, `apiVersion: converge/v1`, `kind: Types`, described by
// schemas/types.schema.json) declares resource types as data: their properties, the probes
// that observe them (argv + exit codes + regular expressions) and the actions that change
// them, with the metadata the planner reasons with (preconditions, transient requirements,
// effects, disruption, duration). It may also declare node facts (a pending reboot).
//
// Everything here is plain data: parse_type_file() builds it from a loaded YAML document
// (pure; every diagnostic carries file:line:col), make_type_entry() turns one DataType into a
// TypeSchema plus the generic DataProvider, which runs the probes and actions through the
// node's Transport. The planner reads the action metadata from these structs via
// data_type().
//
// Templates: an argv element may hold placeholders `{name}` (resource name), `{node}`
// (node, or cluster for cluster-scoped resources), `{cluster}`, `{prop.X}` (the desired
// value of property X, mapped through the action's `values:` when it has an entry for X)
// and `{{`/`}}` for literal braces. Substitution happens inside one argv element and never
// splits or joins elements: no shell ever sees the text.
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
#include "engine/model/yaml_doc.h"

namespace converge {
class Transport;
struct ResourceSpec;
}  // namespace converge

namespace converge::datatype {

/// The marker a `sets:` entry uses for "whatever the manifest desires".
inline constexpr const char* kDesired = "desired";
/// The desired value meaning "the value it had before this maintenance began" (see
/// DataProvider::canonicalize for how it is treated today).
inline constexpr const char* kPrior = "prior";

/// Whether a type's resources live on a node or on a cluster (`on: CLUS1`).
enum class Scope { node, cluster };

/// How much an action disrupts: nothing, the resource itself, or the whole node.
enum class Disruption { none, resource, node };

/// "node" / "cluster"; "none" / "resource" / "node".
[[nodiscard]] const char* scope_word(Scope s);
[[nodiscard]] const char* disruption_word(Disruption d);

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
struct Condition {
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
struct Action {
  std::string name;
  std::string doc;
  Map sets;                    ///< property -> value it leaves, or "desired"
  std::vector<Command> commands;  ///< run in order; the first failure stops the action
  /// property -> (desired value as text -> text for the argv); used by {prop.X}.
  std::map<std::string, std::map<std::string, std::string>> values;
  std::int64_t duration_seconds = 0;  ///< estimate
  Disruption disruption = Disruption::none;
  std::vector<Condition> requires_;   ///< preconditions (YAML `requires`)
  std::vector<Condition> transient;   ///< established for the action, restored after
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
  std::vector<Action> actions;  ///< in declaration order (apply's order)
  std::string file;             ///< the type file it came from
  /// The node facts and run preconditions declared in the same file (shared by its types):
  /// the engine reads them through the registry rather than parsing the file again.
  std::shared_ptr<const FileDeclarations> declared;
  SourceRange where;

  [[nodiscard]] const Action* find_action(const std::string& name) const;
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

/// What a type file declares.
struct TypeFile {
  std::string path;
  std::vector<DataType> types;
  std::vector<Fact> facts;
  std::vector<Precondition> preconditions;
};

/// Parses and checks a loaded `kind: Types` document; every semantic error (unknown
/// property, bad regex, unknown placeholder, malformed duration...) is appended to `diags`
/// with its position. Returns the types even when there are diagnostics; callers register
/// them only when `diags` stayed empty.
/// REQUIRES: `doc` passed validate_with_schema(doc, "types") without diagnostics.
[[nodiscard]] TypeFile parse_type_file(const YDoc& doc, Diagnostics& diags);

/// Reads, schema-checks and parses a type file from disk.
[[nodiscard]] TypeFile load_type_file(const std::string& path, Diagnostics& diags);

/// The registry entry for a data type: its TypeSchema and a DataProvider.
[[nodiscard]] TypeEntry make_type_entry(DataType t);

/// Registers every type of `f` into `reg`; a name already registered is reported at the
/// type's position.
void register_types(const TypeFile& f, TypeRegistry& reg, Diagnostics& diags);

/// Loads each type file and registers its types (used on a model-cache hit).
[[nodiscard]] Diagnostics register_type_files(const std::vector<std::string>& paths, TypeRegistry& reg);

/// The data definition behind a registry entry, or nullptr for a built-in type.
[[nodiscard]] const DataType* data_type(const TypeEntry& e);
/// The data definition of the registered type `type`, or nullptr when it is unknown or built in.
[[nodiscard]] const DataType* data_type(const TypeRegistry& reg, const std::string& type);

/// Expands placeholders in one argv element. `vars` holds "name", "node", "cluster" and
/// "prop.X" entries. Errors name the unknown placeholder. Pure.
[[nodiscard]] Result<std::string> render_element(const std::string& tmpl, const std::map<std::string, std::string>& vars);

/// Expands a whole argv template element by element (never re-splits). Pure.
[[nodiscard]] Result<std::vector<std::string>> render_argv(const std::vector<std::string>& tmpl,
                                                           const std::map<std::string, std::string>& vars);

/// The placeholder values of `r` for argv templates ({name}, {node}, {cluster}, {prop.X},
/// mapped through `a`'s values when given).
[[nodiscard]] std::map<std::string, std::string> action_vars(const DataType& type, const ResourceSpec& r, const Action* a);

/// Runs an action's commands on `target` with `r`'s properties as the values they set;
/// the first command that fails, times out or exits outside ok_exit stops it.
[[nodiscard]] Status run_commands(const DataType& type, const Action& a, const ResourceSpec& r, Transport& target,
                                  std::chrono::milliseconds timeout);

/// Interprets one probe's result: nullopt props when the exit code says absent; an error
/// text when it says neither or a capture fails. Pure.
struct ProbeReading {
  enum class Verdict { present, absent, unknown };
  Verdict verdict = Verdict::unknown;
  Map props;
  std::string error;
};
[[nodiscard]] ProbeReading read_probe(const Probe& p, const DataType& t, int exit_code, const std::string& out,
                                      const std::string& err);

/// Renders a probe with `vars`, runs it on `target` (two minutes at most) and reads it;
/// an error (render, transport, timeout, unreadable output) is an unknown reading.
[[nodiscard]] ProbeReading run_probe(const Probe& p, const DataType& t, const std::map<std::string, std::string>& vars,
                                     Transport& target);

}  // namespace converge::datatype
