// engine/run/run_journal.h — what a run writes to the journal, built from the model and the
// executor's results. Sensitive values are masked here, before anything reaches SQLite.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/run/executor.h"
#include "engine/state/journal.h"
#include "engine/model/manifest.h"

namespace converge {

/// The run row's identity fields: command, user, host, pid, manifest path and version,
/// git commit and dirtiness (the dirtiness is cached in the journal per version).
[[nodiscard]] RunRow describe_run(const std::string& command, const Manifest& m, Journal& journal);

/// JSON of a resource's observed properties with sensitive ones masked.
[[nodiscard]] std::string observation_json(const ResourceSpec& spec, const Observation& obs);

/// Writes steps around the executor's waves: started before, outcomes after.
class StepRecorder {
 public:
  /// Steps are numbered from first_seq + 1 (a run applies built-in resources before and
  /// after its plan: one numbering).
  StepRecorder(Journal& journal, std::int64_t run, const Manifest& m, const std::vector<ResourceResult>& results,
               int first_seq = 0)
      : journal_(journal), run_(run), m_(m), results_(results), seq_(first_seq) {}
  /// The last step number given.
  [[nodiscard]] int seq() const { return seq_; }
  [[nodiscard]] Status started(const std::vector<int>& wave);
  [[nodiscard]] Status ended(const std::vector<int>& wave);

 private:
  Journal& journal_;
  std::int64_t run_;
  const Manifest& m_;
  const std::vector<ResourceResult>& results_;
  std::map<int, StepRow> open_;
  int seq_;
};

/// Rows of the drift table for every pending change: resource, property, observed, desired.
[[nodiscard]] std::vector<std::vector<std::string>> drift_rows(const Manifest& m, const std::vector<ResourceResult>& results);

}  // namespace converge
