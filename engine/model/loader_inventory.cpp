// Inventories kept apart from the manifest: `inventory: FILE` (a `kind: Inventory` file:
// transport, nodes, groups, group_vars) and `inventory: {command: [...]}` (a program that
// prints the same as JSON, as Ansible's dynamic inventories do). Either becomes a fragment
// document holding only an `inventory` section, so the inventory is merged, resolved and
// checked like one written inline, with positions in its own file or in the output.
#include <filesystem>

#include "engine/model/loader_internal.h"
#include "engine/model/schemas.h"
#include "engine/model/sha256.h"

namespace converge::detail {

namespace fs = std::filesystem;

namespace {

YNode scalar_at(const YNode& where, const std::string& text) {
  YNode n;
  n.kind = YNode::Kind::scalar;
  n.scalar = Value(text);
  n.plain = false;
  n.line = where.line;
  n.col = where.col;
  return n;
}

YEntry entry(const std::string& key, const YNode& where, YNode value) {
  YEntry e{key, where.line, where.col, {}};
  e.value.push_back(std::move(value));
  return e;
}

/// The inventory document `doc` (a map) as a fragment `{apiVersion, kind: Fragment,
/// inventory: {...}}`, schema-checked as a manifest's inventory is; false when invalid.
bool add_as_fragment(LoaderState& st, YDoc doc, bool from_file) {
  YNode inventory;
  inventory.kind = YNode::Kind::map;
  inventory.line = doc.root.line;
  inventory.col = doc.root.col;
  for (auto& e : doc.root.entries) {
    if (e.key == "apiVersion" || e.key == "kind") continue;
    if (e.key == "command") {
      st.error(std::string(from_file ? "an inventory file" : "an inventory program's output") +
                   " cannot name an inventory program (command)",
               doc.at(e));
      return false;
    }
    inventory.entries.push_back(std::move(e));
  }
  YNode root;
  root.kind = YNode::Kind::map;
  root.line = doc.root.line;
  root.col = doc.root.col;
  root.entries.push_back(entry("apiVersion", doc.root, scalar_at(doc.root, "converge/v1")));
  root.entries.push_back(entry("kind", doc.root, scalar_at(doc.root, "Fragment")));
  root.entries.push_back(entry("inventory", doc.root, std::move(inventory)));
  doc.root = std::move(root);
  auto diags = validate_with_schema(doc, "manifest");
  const bool valid = diags.empty();
  st.diags.insert(st.diags.end(), diags.begin(), diags.end());
  if (from_file) {
    st.out.sources.push_back(doc.path);
    st.out.source_sha256.push_back(sha256_hex(doc.text));
  }
  if (valid) st.docs.push_back(std::make_unique<YDoc>(std::move(doc)));
  return valid;
}

/// apiVersion and kind of an inventory document: required in a file, optional in a
/// program's output; false (reported) when wrong.
bool check_header(LoaderState& st, const YDoc& doc, bool required) {
  if (!doc.root.is_map()) {
    st.error("an inventory is a map (nodes, groups, group_vars, transport)", doc.at(doc.root));
    return false;
  }
  const YNode* api = doc.root.get("apiVersion");
  const YNode* kind = doc.root.get("kind");
  if ((api || required) && (!api || !api->is_scalar() || api->scalar.to_string() != "converge/v1")) {
    st.error("an inventory needs apiVersion: converge/v1", api ? doc.at(*api) : doc.at(doc.root));
    return false;
  }
  if ((kind || required) && (!kind || !kind->is_scalar() || kind->scalar.to_string() != "Inventory")) {
    st.error("an inventory file is of kind Inventory" +
                 (kind && kind->is_scalar() ? ", not " + kind->scalar.to_string() : std::string()),
             kind ? doc.at(*kind) : doc.at(doc.root));
    return false;
  }
  return true;
}

void load_file(LoaderState& st, const YDoc& from, const YNode& name) {
  const fs::path dir = fs::path(from.path).parent_path();
  const std::string path = (dir / name.scalar.to_string()).lexically_normal().string();
  auto doc = load_yaml_file(path);
  if (!doc) {
    if (doc.error().where && doc.error().where->line == 0)
      st.error("cannot read inventory '" + path + "': " + doc.error().message, from.at(name));
    else
      st.diags.push_back(doc.error());
    return;
  }
  if (!check_header(st, *doc, true)) return;
  add_as_fragment(st, std::move(*doc), true);
}

void run_program(LoaderState& st, const YDoc& from, const YNode& command) {
  std::vector<std::string> argv;
  for (const auto& i : command.items) argv.push_back(i.scalar.to_string());
  if (!st.run_inventory) {
    st.error("this command runs no inventory program", from.at(command));
    return;
  }
  const std::string dir = fs::path(from.path).parent_path().string();
  auto out = st.run_inventory(argv, dir);
  if (!out) {
    st.error("inventory program " + argv.front() + ": " + out.error().describe(), from.at(command));
    return;
  }
  // Positions in the output: "DIR/PROGRAM (output):LINE:COL", in the manifest's directory so
  // that the relative paths the output names (a node's root, a lab file) start there.
  auto doc = parse_yaml(std::move(*out), (fs::path(dir) / (fs::path(argv.front()).filename().string() + " (output)")).string());
  if (!doc) {
    st.diags.push_back(doc.error());
    return;
  }
  if (doc->root.kind == YNode::Kind::null) {
    st.error("inventory program " + argv.front() + " printed nothing", from.at(command));
    return;
  }
  if (!check_header(st, *doc, false)) return;
  if (add_as_fragment(st, std::move(*doc), false)) st.out.dynamic_inventory = true;
}

}  // namespace

void load_inventory_source(LoaderState& st, const YDoc& from) {
  const YNode* inv = from.root.get("inventory");
  if (!inv) return;
  if (inv->is_scalar()) return load_file(st, from, *inv);
  if (const YNode* command = inv->get("command")) run_program(st, from, *command);
}

}  // namespace converge::detail
