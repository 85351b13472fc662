// resources/lab/lab_file.h — reading a lab file (YAML, `kind: Lab`) into the lab's initial
// state. The format is described by schemas/lab.schema.json and shown in
// manifests/labs/clus1-rtm.yaml:
//
//   apiVersion: converge/v1
//   kind: Lab
//   metadata: {name: clus1-rtm, description: ...}
//   options: {epoch: "2008-03-01T08:00:00Z", dotnet_sp1_leaves_reboot_pending: true}
//   nodes:
//     NODE1:
//       roles: [mailbox]            # domain_controller, hub_transport, client_access, mailbox
//       cluster: CLUS1
//       os: Windows Server 2003 SP2
//       dotnet: RTM                 # .NET Framework 2.0 service pack: RTM | SP1
//       exchange: RTM               # Exchange 2007 binaries: RTM | SP1
//       services: {SharedAccess: {state: stopped, startup: manual}, ...}
//   clusters:
//     CLUS1:
//       groups:
//         Cluster Group: {owner: NODE1, online: true}
//         E2K7CCR: {type: clustered_mailbox_server, owner: NODE1, online: true, version: RTM,
//                   databases: [{name: Mailbox Database, storage_group: First Storage Group,
//                                last_full_backup_age: 2h}]}
//   faults:
//     - {node: NODE1, command: "setup.com /m:upgrade", mode: fail_once}   # fail_always, hang, hang_once
//     - {node: NODE2, mode: no_return_from_reboot}
//
// Unknown keys, duplicate keys and inconsistent facts are errors, reported all at once as
// `path:line:col: message` (ErrorCode::invalid_input).
#pragma once

#include <string>

#include "engine/model/error.h"
#include "resources/lab/model.h"

namespace converge::lab {

/// Parses lab-file text; `file_name` is used in error positions.
[[nodiscard]] Result<LabState> parse_lab_text(const std::string& text, const std::string& file_name);

/// Reads and parses a lab file.
[[nodiscard]] Result<LabState> parse_lab_file(const std::string& path);

/// Parses an age such as "90s", "30m", "2h" or "1d" into seconds; std::nullopt if malformed.
[[nodiscard]] std::optional<VTime> parse_age(const std::string& text);

}  // namespace converge::lab
