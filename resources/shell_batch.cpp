#include "resources/shell_batch.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <random>

#include <fmt/format.h>

namespace converge {

namespace {


bool valid_env_name(const std::string& k) {
  if (k.empty() || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  return std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

/// Reads the unsigned number at `pos` (skipping blanks); advances `pos`.
bool number(const std::string& s, std::size_t& pos, std::size_t& out) {
  while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + s.size(), out);
  if (ec != std::errc() || p == s.data() + pos) return false;
  pos = static_cast<std::size_t>(p - s.data());
  return true;
}

}  // namespace

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

bool batchable(const ExecRequest& req) {
  return !req.argv.empty() && req.stdin_data.empty() &&
         std::all_of(req.env.begin(), req.env.end(), [](const auto& kv) { return valid_env_name(kv.first); });
}

namespace {

/// One request as a subshell line. `sh -c SCRIPT [NAME [ARGS...]]` runs in the batch's own
/// shell (its arguments set, the script eval'ed) instead of starting another.
std::string command_line(const ExecRequest& r) {
  std::string line = "(";
  // What could not start says so as run_process() would (cannot run 'PROGRAM': ...), with
  // the shell's 126 or 127, and no helper process: test, cd and command are builtins.
  const std::string prog = shell_quote(r.argv[0]);
  if (!r.cwd.empty()) {
    const std::string dir = shell_quote(r.cwd);
    line += "cd " + dir + " 2>/dev/null || { if [ ! -e " + dir + " ]; then w='No such file or directory'; elif [ ! -d " + dir +
            " ]; then w='Not a directory'; else w='Permission denied'; fi; printf \"cannot run '%s': working directory "
            "'%s': %s\\n\" " + prog + " " + dir + " \"$w\" >&2; exit 126; }; ";
  }
  // (Not when the script reads $0, which only a shell of its own sets as asked.)
  const bool own_shell = r.argv.size() >= 3 && (r.argv[0] == "sh" || r.argv[0] == "/bin/sh") && r.argv[1] == "-c" &&
                         r.argv[2].find("$0") == std::string::npos && r.argv[2].find("${0") == std::string::npos;
  if (own_shell) {
    for (const auto& [k, v] : r.env) line += k + "=" + shell_quote(v) + "; export " + k + "; ";
    line += "set --";
    for (std::size_t i = 4; i < r.argv.size(); ++i) line += " " + shell_quote(r.argv[i]);  // argv[3] is $0
    line += "; eval " + shell_quote(r.argv[2]);
  } else {
    if (!r.env.count("PATH"))  // (a PATH of its own is where the program is looked for)
      line += "command -v " + prog + " >/dev/null 2>&1 || { printf \"cannot run '%s': No such file or directory\\n\" " + prog +
              " >&2; exit 127; }; ";
    for (const auto& [k, v] : r.env) line += k + "=" + shell_quote(v) + " ";
    line += "exec";
    for (const auto& a : r.argv) line += " " + shell_quote(a);
  }
  return line + ")";
}

}  // namespace

std::string batch_script(const std::vector<ExecRequest>& reqs, const std::string& boundary) {
  std::string s;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const std::string frame = boundary + " " + std::to_string(i);
    s += "printf '%s\\n' '" + frame + "'; printf '%s\\n' '" + frame + "' >&2\n";
    s += command_line(reqs[i]) + " </dev/null\n";
    s += "printf '\\n%s %s\\n' '" + frame + "' $?; printf '\\n%s\\n' '" + frame + "' >&2\n";
  }
  return s;
}

namespace {

/// The text of one command in one stream: after its opening frame "F\n", up to the closing
/// frame "\nF" + `close` (" " before the exit code on stdout, "\n" on stderr: "B 1" is a
/// prefix of "B 10"), searched from `after`, which is set past the closing frame. Nullopt
/// when a frame is missing.
std::optional<std::string> framed(const std::string& text, const std::string& frame, const char* close, std::size_t& after) {
  const std::size_t open = text.find(frame + "\n", after);
  if (open == std::string::npos) return std::nullopt;
  const std::size_t body = open + frame.size() + 1;
  const std::string closing = "\n" + frame + close;
  const std::size_t end = text.find(closing, body);
  if (end == std::string::npos) return std::nullopt;
  after = end + closing.size();
  return text.substr(body, end - body);
}

}  // namespace

std::vector<Result<ExecResult>> read_batch(const std::string& out, const std::string& err, const std::string& boundary,
                                           std::size_t n, bool timed_out, const std::string& why_missing) {
  std::vector<Result<ExecResult>> results;
  std::size_t out_from = 0, err_from = 0;  // past the last command read whole
  for (std::size_t i = 0; i < n; ++i) {
    const std::string frame = boundary + " " + std::to_string(i);
    std::size_t at = out_from, err_at = err_from, code = 0;
    auto o = framed(out, frame, " ", at);
    auto e = framed(err, frame, "\n", err_at);
    // stdout's closing frame carries the exit code: "\nF CODE\n".
    if (o && e && number(out, at, code) && at < out.size() && out[at] == '\n') {
      out_from = at;
      err_from = err_at;
      ExecResult r;
      r.exit_code = static_cast<int>(code);
      r.out = std::move(*o);
      r.err = std::move(*e);
      results.emplace_back(std::move(r));
    } else if (timed_out) {
      ExecResult r;
      r.timed_out = true;
      results.emplace_back(std::move(r));
    } else {
      results.emplace_back(std::unexpected(make_error(ErrorCode::io, why_missing)));
    }
  }
  return results;
}

std::string draw_boundary() {
  std::random_device rd;
  std::string boundary = "converge-batch-";
  for (int i = 0; i < 4; ++i) boundary += fmt::format("{:08x}", rd());
  return boundary;
}

std::chrono::milliseconds batch_limit(std::span<const ExecRequest> reqs) {
  std::chrono::milliseconds total{0};
  for (const auto& r : reqs) {
    if (r.timeout.count() == 0) return std::chrono::milliseconds(0);
    total += r.timeout;
  }
  return total + std::chrono::seconds(5);
}

void rerun_missing(CommandRunner& runner, std::span<const ExecRequest> reqs, std::vector<Result<ExecResult>>& results,
                   bool cut) {
  std::size_t running = reqs.size();
  if (cut)
    for (std::size_t i = 0; i < reqs.size() && running == reqs.size(); ++i)
      if (results[i] && results[i]->timed_out) running = i;
  for (std::size_t i = 0; i < reqs.size(); ++i)
    if (i > running || (!cut && !results[i])) results[i] = runner.run(reqs[i]);
}

std::vector<Result<ExecResult>> run_in_one_shell(CommandRunner& runner, const std::vector<ExecRequest>& reqs) {
  const std::string boundary = draw_boundary();
  ExecRequest batch;
  batch.argv = {"/bin/sh", "-s"};
  batch.stdin_data = batch_script(reqs, boundary);
  batch.timeout = batch_limit(reqs);
  auto res = runner.run(batch);
  if (!res) return std::vector<Result<ExecResult>>(reqs.size(), std::unexpected(res.error()));
  std::string why = "the batch shell ended (exit " + std::to_string(res->exit_code) + ") before this command ran";
  if (!res->err.empty()) why += ": " + res->err.substr(0, 300);
  auto results = read_batch(res->out, res->err, boundary, reqs.size(), res->timed_out, why);
  rerun_missing(runner, reqs, results, res->timed_out);
  return results;
}

}  // namespace converge
