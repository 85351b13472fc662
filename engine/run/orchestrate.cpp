#include "engine/run/orchestrate.h"

#include "engine/run/planned_run.h"
#include "engine/model/datatype.h"

namespace converge {

std::vector<char> planned_resources(const Manifest& m, const TypeRegistry& types) {
  std::vector<char> planned;
  planned.reserve(m.resources.size());
  for (const auto& r : m.resources) planned.push_back(datatype::data_type(types, r.type) ? 1 : 0);
  return planned;
}

PlannedOutcome run_planned(const std::string& command, const Manifest& m, const TypeRegistry& types, TransportSet& transports,
                           Journal* journal, const std::function<Result<std::int64_t>()>& begin_run,
                           std::vector<ResourceResult>& results, Report& report, const GlobalOptions& opts, bool resumed) {
  return orchestration::PlannedRun(command, m, types, transports, journal, begin_run, results, report, opts, resumed).run();
}

}  // namespace converge
