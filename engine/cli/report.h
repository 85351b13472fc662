// engine/cli/report.h — what a command tells its user: human text and one JSON document
// (schemas/report.schema.json). Sensitive values print as "(sensitive)" in both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/model/error.h"
#include "engine/run/executor.h"
#include "engine/model/manifest.h"
#include "engine/model/run_status.h"

namespace converge {


/// The outcome of one command, ready to print.
struct Report {
  std::string command;             ///< apply | plan | check | validate | history
  std::string manifest_path;
  std::string manifest_name;
  std::string manifest_sha256;
  RunStatus status = RunStatus::in_sync;  ///< its word and exit code: engine/model/run_status.h
  Diagnostics diagnostics;
  std::vector<std::string> preamble;  ///< lines for humans before the resources (the plan)
  std::vector<std::string> notes;  ///< extra lines for humans after the summary (run id, cache, ...)
  const Manifest* manifest = nullptr;              ///< may be null (validation failed)
  const std::vector<ResourceResult>* results = nullptr;
  std::int64_t duration_ms = 0;
  std::int64_t run_id = 0;         ///< journal run id, 0 when none
  nlohmann::json extra = nlohmann::json::object();  ///< command-specific additions
  bool diff = false;               ///< --diff: unified diffs of changed text (content) in the report
};

/// Renders a value for humans: strings quoted, long ones cut with their size.
[[nodiscard]] std::string render_value(const Value& v);

/// The whole report as the JSON document of schemas/report.schema.json.
[[nodiscard]] nlohmann::json report_json(const Report& r);

/// JSON text for output. Bytes that are not UTF-8 (a command's stderr quoted in an error,
/// say) print as U+FFFD instead of aborting the document.
[[nodiscard]] std::string json_text(const nlohmann::json& j, int indent = 2);

/// The whole report as text. `color` adds ANSI colors; `verbose` lists in-sync resources.
[[nodiscard]] std::string report_text(const Report& r, bool color, bool verbose);


}  // namespace converge
