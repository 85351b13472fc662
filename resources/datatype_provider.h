// resources/datatype_provider.h — the generic provider of data-defined types: it renders a
// type's argv templates, runs its probes and actions through the node's Transport and reads
// the outputs with the type's regular expressions. The types themselves are data
// (engine/model/datatype.h).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "engine/model/datatype.h"
#include "resources/transport.h"

namespace converge::datatype {

/// The provider of one data type (installed as the registry's data-provider factory by
/// builtin_types()).
[[nodiscard]] std::shared_ptr<const Provider> make_data_provider(std::shared_ptr<const DataType> t);

/// Runs an action's commands on `target` with `r`'s properties as the values they set;
/// the first command that fails, times out or exits outside ok_exit stops it.
[[nodiscard]] Status run_commands(const DataType& type, const ActionDef& a, const ResourceSpec& r, Transport& target,
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

/// One probe to run in a batch: the probe, its type and the values its argv renders with.
struct ProbeCall {
  const Probe* probe = nullptr;
  const DataType* type = nullptr;
  std::map<std::string, std::string> vars;
};

/// Runs every call in one Transport::run_batch() (one round trip on a node that can) and
/// reads each as run_probe() would. Parallel to `calls`.
[[nodiscard]] std::vector<ProbeReading> run_probes(const std::vector<ProbeCall>& calls, Transport& target);

/// A batch's requests with what they stand for, so that the batch may carry other requests
/// too (a node's boot id, an exec's check): run_probes() in two halves, probe_batch() then
/// read_probe_batch(); observe_batch() likewise, observation_batch() then
/// read_observation_batch().
struct ObservationBatch {
  std::vector<ExecRequest> requests;    ///< to run in order, in one batch
  std::vector<ProbeCall> calls;         ///< every probe (of every resource), in order
  std::vector<std::size_t> which;       ///< calls[which[k]] made requests[k]
  std::vector<std::string> unrendered;  ///< parallel to calls: why it made no request ("" if it did)
};
[[nodiscard]] ObservationBatch probe_batch(std::vector<ProbeCall> calls);
/// Each call's reading, parallel to b.calls. REQUIRES: `results` parallel to b.requests.
[[nodiscard]] std::vector<ProbeReading> read_probe_batch(const ObservationBatch& b, const std::vector<Result<ExecResult>>& results);
[[nodiscard]] ObservationBatch observation_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs);
/// REQUIRES: `b` came from observation_batch(rs); `results` parallel to b.requests.
[[nodiscard]] std::vector<Observation> read_observation_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs,
                                                              const ObservationBatch& b,
                                                              const std::vector<Result<ExecResult>>& results);

/// Observes resources of data-defined types on one node with every probe of every one of
/// them in one batch; each resource's readings then count in order as observe() counts
/// them (an absent verdict ends its observation). Parallel to `rs`.
[[nodiscard]] std::vector<Observation> observe_batch(const std::vector<std::pair<const ResourceSpec*, const DataType*>>& rs,
                                                     Transport& target);

}  // namespace converge::datatype
