#include "resources/exec_type.h"

#include "engine/model/duration.h"
#include "engine/model/manifest.h"
#include "resources/transport.h"

namespace converge {

namespace {

using K = Value::Kind;

std::expected<void, PropertyError> check_argv(const Map& props, const char* key) {
  auto it = props.find(key);
  if (it == props.end()) return {};
  const Value& v = it->second;
  if (!v.is_list() || v.as_list().empty()) return std::unexpected(PropertyError{key, "must be a non-empty list (argv)"});
  for (const auto& a : v.as_list())
    if (!a.is_string() && !a.is_int()) return std::unexpected(PropertyError{key, "argv elements must be strings"});
  return {};
}

ExecRequest request(const ResourceSpec& r, const char* key) {
  ExecRequest req;
  for (const auto& a : r.prop(key)->as_list()) req.argv.push_back(a.to_string());
  if (const Value* env = r.prop("env"); env && env->is_map())
    for (const auto& [k, v] : env->as_map()) req.env[k] = v.to_string();
  req.cwd = r.prop_string("cwd");
  req.timeout = std::chrono::milliseconds(parse_duration_ms(*r.prop("timeout")).value_or(0));
  return req;
}


class ExecProvider final : public Provider {
 public:
  std::expected<void, PropertyError> canonicalize(Map& props) const override {
    if (auto c = check_argv(props, "check"); !c) return c;
    if (auto c = check_argv(props, "apply"); !c) return c;
    if (auto c = check_argv(props, "refresh"); !c) return c;
    if (!parse_duration_ms(props["timeout"])) return std::unexpected(PropertyError{"timeout", "malformed duration"});
    // The check's verdict is observed, never chosen: false would run `apply` on a passing check.
    if (auto it = props.find("ok"); it != props.end() && !(it->second.is_bool() && it->second.as_bool()))
      return std::unexpected(PropertyError{"ok", "is the check's verdict and can only be true"});
    if (auto it = props.find("env"); it != props.end() && it->second.is_map())
      for (const auto& [k, v] : it->second.as_map())
        if (k.empty() || k.find('=') != std::string::npos || v.is_list() || v.is_map())
          return std::unexpected(PropertyError{"env", "entries must be NAME: scalar"});
    return {};
  }

  Observation observe(const ResourceSpec& r, Transport& t) const override { return observe_result(r, t.run(request(r, "check"))); }

  /// The check goes in its node's observation batch unless in_batch() says otherwise.
  bool observe_request(const ResourceSpec& r, ExecRequest& req) const override {
    req = request(r, "check");
    return in_batch(req);
  }

  Observation observe_result(const ResourceSpec& r, const Result<ExecResult>& res) const override {
    if (!res) return Observation::unknown(res.error().describe());
    // A check run in a batch's shell that could not start (no such program, no permission)
    // says so with 127 or 126, where run alone it is an error: the same verdict either way.
    if (res->exit_code == 126 || res->exit_code == 127)
      return Observation::unknown("the check could not run (exit " + std::to_string(res->exit_code) + ")" +
                                  (res->err.empty() ? std::string() : ": " + Secrets(r).tail(res->err, 200)));
    if (res->timed_out) return Observation::unknown("check timed out after " + format_duration_ms(parse_duration_ms(*r.prop("timeout")).value_or(0)));
    std::string note;
    if (res->exit_code != 0) {
      // What the check said is why it fails: the drift report quotes its last words.
      note = "check exited " + std::to_string(res->exit_code);
      if (auto said = Secrets(r).tail(res->err.empty() ? res->out : res->err, 200); !said.empty()) note += ": " + said;
    }
    return Observation::present(Map{{"ok", Value(res->exit_code == 0)}}, std::move(note));
  }

  Status apply(const ResourceSpec& r, const Observation&, const ResourceChanges&, Transport& t,
               ApplyContext&) const override {
    return run_command(r, "apply", t);
  }

  /// The apply goes in the wave's batch on its node unless in_batch() says otherwise.
  bool apply_request(const ResourceSpec& r, ExecRequest& req) const override {
    req = request(r, "apply");
    return in_batch(req);
  }

  Status apply_result(const ResourceSpec& r, const Result<ExecResult>& res) const override { return read_result(r, "apply", res); }

  bool refreshable(const ResourceSpec&) const override { return true; }

  /// `refresh` when given; else `apply` again, unless it just ran.
  Status refresh(const ResourceSpec& r, bool changed_now, Transport& t) const override {
    if (r.prop("refresh")) return run_command(r, "refresh", t);
    return changed_now ? Status{} : run_command(r, "apply", t);
  }

 private:
  /// In a batch a command's time limit only counts as part of the batch's
  /// (resources/shell_batch.h): a limit under a minute is one to hold to the second, so
  /// such a command runs on its own.
  static bool in_batch(const ExecRequest& req) { return req.timeout.count() == 0 || req.timeout >= std::chrono::minutes(1); }

  static Status run_command(const ResourceSpec& r, const char* key, Transport& t) { return read_result(r, key, t.run(request(r, key))); }

  static Status read_result(const ResourceSpec& r, const char* key, const Result<ExecResult>& res) {
    if (!res) return std::unexpected(res.error());
    if (res->timed_out)
      return std::unexpected(make_error(ErrorCode::timeout, std::string(key) + " timed out after " +
                                                                format_duration_ms(parse_duration_ms(*r.prop("timeout")).value_or(0))));
    if (res->exit_code != 0) {
      std::string msg = std::string(key) + " exited " + std::to_string(res->exit_code);
      if (auto e = Secrets(r).tail(res->err); !e.empty()) msg += ": " + e;
      return std::unexpected(make_error(ErrorCode::action_failed, msg));
    }
    return {};
  }
};

}  // namespace

TypeSchema exec_schema() {
  return TypeSchema{
      "exec",
      "Run `apply` when `check` fails (exits non-zero).",
      {
          {"check", {K::list}, true, false, std::nullopt, {}, "argv; exit 0 means converged"},
          {"apply", {K::list}, true, false, std::nullopt, {}, "argv run when check fails"},
          {"refresh", {K::list}, false, false, std::nullopt, {}, "argv run when a resource it subscribes to changed (else apply again)"},
          {"env", {K::map}, false, false, std::nullopt, {}, "environment added for both commands"},
          {"cwd", {K::string}, false, false, std::nullopt, {}, "working directory"},
          {"timeout", {K::string, K::integer}, false, false, Value("5m"), {}, "per command"},
          {"ok", {K::boolean}, false, true, Value(true), {}, "the check's verdict; desired true"},
      },
      "",
      false};
}

std::shared_ptr<const Provider> exec_provider() { return std::make_shared<ExecProvider>(); }

}  // namespace converge
