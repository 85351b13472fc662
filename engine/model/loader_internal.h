// engine/model/loader_internal.h — state shared by the loader's stages (loader.cpp,
// loader_resources.cpp). Not part of the public API.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/model/interpolate.h"
#include "engine/model/loader.h"
#include "engine/model/yaml_doc.h"

namespace converge::detail {

/// A YAML node together with the document it came from (for positions).
struct Located {
  const YDoc* doc = nullptr;
  const YNode* node = nullptr;
};

/// Resources one manifest may stamp out (for_each items times target nodes): a 50 KB file
/// of 1,000 nodes and 1,000 resources would otherwise make a million.
inline constexpr std::size_t kMaxResources = 50'000;

struct LoaderState {
  TypeRegistry types;  ///< the given types plus those of the Types includes
  Diagnostics diags;
  std::vector<std::unique_ptr<YDoc>> docs;  ///< every file read, top-level first
  Manifest out;
  Map vars;
  std::vector<Located> resource_nodes;
  std::vector<Located> constraint_nodes;
  InventoryRunner run_inventory;  ///< for `inventory: {command: [...]}`; may be empty
  /// What the variables' and the resources' expressions may still copy (interpolate.h).
  std::size_t vars_budget = kVarsBudget;
  std::size_t stamp_budget = kStampBudget;
  std::set<std::string> default_names;  ///< variables from `defaults:` (a node's vars override them)
  Map env;                     ///< the environment, for ${env.NAME} in properties
  std::optional<Map> secrets;  ///< the manifest's secrets file, for ${secret.NAME}

  /// A scope over the manifest's variables, drawing on `budget` (one of the two above).
  Scope scope(std::size_t& budget) {
    return Scope{&vars, std::nullopt, std::nullopt, nullptr, &budget, &budget == &vars_budget ? kVarsBudget : kStampBudget};
  }

  void error(const std::string& msg, const SourceRange& where) {
    diags.push_back(make_error(ErrorCode::invalid_input, msg, where));
  }
  /// Expands a list of node/group names into sorted unique node names; reports unknowns.
  std::vector<std::string> resolve_targets(const Value& v, const SourceRange& where);
  /// Adds the node, or the group's or cluster's nodes, named `s` to `into`; false when
  /// none exists.
  bool out_node_or_group(const std::string& s, std::set<std::string>& into) const;
};

/// `inventory: FILE` or `inventory: {command: [...]}` of a manifest document: reads or runs
/// it, validates it with positions in that file (or the program's output), and adds it to
/// `st.docs` as a fragment holding only that inventory (loader_inventory.cpp).
void load_inventory_source(LoaderState& st, const YDoc& from);

/// `p` made absolute against the working directory, normalized.
[[nodiscard]] std::string absolute_path(const std::string& p);

/// Stamps out every resource (loader_resources.cpp).
void expand_resources(LoaderState& st);
/// Resolves depends_on ids and refuses cycles (loader_resources.cpp).
void resolve_dependencies(LoaderState& st);

}  // namespace converge::detail
