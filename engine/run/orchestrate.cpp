#include "engine/run/orchestrate.h"

#include "engine/model/datatype.h"
#include "engine/run/planned_run.h"

namespace converge {

const char* command_word(Command c) {
  switch (c) {
    case Command::apply: return "apply";
    case Command::plan: return "plan";
    case Command::check: return "check";
  }
  return "?";
}

std::vector<char> planned_resources(const Manifest& m, const TypeRegistry& types) {
  std::vector<char> planned;
  planned.reserve(m.resources.size());
  for (const auto& r : m.resources) planned.push_back(datatype::data_type(types, r.type) ? 1 : 0);
  return planned;
}

PlannedOutcome run_planned(Command command, const Manifest& m, const TypeRegistry& types, const TransportLookup& transports,
                           Journal* journal, const BeginRun& begin_run, std::vector<ResourceResult>& results,
                           const PlannedRunOptions& opts) {
  return orchestration::PlannedRun(command, m, types, transports, journal, begin_run, results, opts).run();
}

}  // namespace converge
