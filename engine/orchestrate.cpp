#include "engine/orchestrate.h"

#include "engine/planned_run.h"
#include "resources/datatype.h"

namespace converge {

bool runs_planned(const Manifest& m, const TypeRegistry& types) {
  for (const auto& r : m.resources)
    if (const TypeEntry* e = types.find(r.type); e && datatype::data_type(*e)) return true;
  return false;
}

PlannedOutcome run_planned(const std::string& command, const Manifest& m, const TypeRegistry& types, TransportSet& transports,
                           Journal* journal, const std::function<Result<std::int64_t>()>& begin_run,
                           std::vector<ResourceResult>& results, Report& report, const GlobalOptions& opts, bool resumed) {
  return orchestration::PlannedRun(command, m, types, transports, journal, begin_run, results, report, opts, resumed).run();
}

}  // namespace converge
