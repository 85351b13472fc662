#include "resources/shell_batch.h"

#include <algorithm>
#include <charconv>

namespace converge {

namespace {

const std::string kFrame = "@converge-batch@";
const std::string kData = "@converge-batch-data@";

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
  if (!r.cwd.empty()) line += "cd " + shell_quote(r.cwd) + " || exit 126; ";
  // (Not when the script reads $0, which only a shell of its own sets as asked.)
  const bool own_shell = r.argv.size() >= 3 && (r.argv[0] == "sh" || r.argv[0] == "/bin/sh") && r.argv[1] == "-c" &&
                         r.argv[2].find("$0") == std::string::npos && r.argv[2].find("${0") == std::string::npos;
  if (own_shell) {
    for (const auto& [k, v] : r.env) line += k + "=" + shell_quote(v) + "; export " + k + "; ";
    line += "set --";
    for (std::size_t i = 4; i < r.argv.size(); ++i) line += " " + shell_quote(r.argv[i]);  // argv[3] is $0
    line += "; eval " + shell_quote(r.argv[2]);
  } else {
    for (const auto& [k, v] : r.env) line += k + "=" + shell_quote(v) + " ";
    line += "exec";
    for (const auto& a : r.argv) line += " " + shell_quote(a);
  }
  return line + ")";
}

}  // namespace

std::string batch_script(const std::vector<ExecRequest>& reqs) {
  std::string s =
      "d=$(mktemp -d 2>/dev/null || mktemp -d -t converge.XXXXXX) || exit 125\n"
      "trap 'rm -rf \"$d\"' EXIT\n";
  std::string files, indexes;
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    const std::string n = std::to_string(i);
    s += command_line(reqs[i]) + " </dev/null >\"$d/" + n + ".o\" 2>\"$d/" + n + ".e\"; echo $? >\"$d/" + n + ".c\"\n";
    files += " " + n + ".o " + n + ".e";
    indexes += " " + n;
  }
  // Exit codes, sizes, then every output byte for byte: three processes for the lot.
  s += "cd \"$d\" || exit 125\n";
  s += "printf '" + kFrame + "'; for i in" + indexes + "; do read c <\"$i.c\"; printf ' %s' \"$c\"; done; printf '\\n'\n";
  s += "wc -c" + files + " /dev/null\n";
  s += "printf '" + kData + "\\n'\n";
  s += "cat" + files + "\n";
  return s;
}

std::vector<Result<ExecResult>> read_batch(const std::string& out, std::size_t n, bool timed_out,
                                           const std::string& why_missing) {
  auto missing = [&]() {
    std::vector<Result<ExecResult>> results;
    for (std::size_t i = 0; i < n; ++i) {
      if (timed_out) {
        ExecResult r;
        r.timed_out = true;
        results.emplace_back(std::move(r));
      } else {
        results.emplace_back(std::unexpected(make_error(ErrorCode::io, why_missing)));
      }
    }
    return results;
  };
  const std::size_t head = out.find(kFrame);
  const std::size_t data = out.find(kData + "\n", head == std::string::npos ? 0 : head);
  if (head == std::string::npos || data == std::string::npos) return missing();
  // "@converge-batch@ C0 C1 ...\n", then wc's "SIZE NAME" lines.
  std::size_t p = head + kFrame.size();
  std::vector<ExecResult> rs(n);
  for (auto& r : rs) {
    std::size_t code = 0;
    if (!number(out, p, code)) return missing();
    r.exit_code = static_cast<int>(code);
  }
  std::vector<std::size_t> sizes(2 * n, 0);
  std::size_t line = out.find('\n', p);
  while (line != std::string::npos && line + 1 < data) {
    std::size_t q = line + 1, size = 0, index = 0;
    std::size_t end = out.find('\n', q);
    if (number(out, q, size) && number(out, q, index) && q < out.size() && out[q] == '.' && index < n)
      sizes[2 * index + (out[q + 1] == 'e' ? 1 : 0)] = size;
    line = end;
  }
  std::size_t at = data + kData.size() + 1;
  for (std::size_t i = 0; i < n; ++i) {
    if (out.size() - std::min(out.size(), at) < sizes[2 * i] + sizes[2 * i + 1]) return missing();
    rs[i].out = out.substr(at, sizes[2 * i]);
    rs[i].err = out.substr(at + sizes[2 * i], sizes[2 * i + 1]);
    at += sizes[2 * i] + sizes[2 * i + 1];
  }
  std::vector<Result<ExecResult>> results;
  for (auto& r : rs) results.emplace_back(std::move(r));
  return results;
}

std::vector<Result<ExecResult>> run_in_one_shell(CommandRunner& runner, const std::vector<ExecRequest>& reqs) {
  ExecRequest batch;
  batch.argv = {"/bin/sh", "-s"};
  batch.stdin_data = batch_script(reqs);
  // The commands run one after another: the batch may take as long as all of them may.
  std::chrono::milliseconds total{0};
  bool unlimited = false;
  for (const auto& r : reqs) {
    total += r.timeout;
    unlimited = unlimited || r.timeout.count() == 0;
  }
  if (!unlimited) batch.timeout = total + std::chrono::seconds(5);
  auto res = runner.run(batch);
  if (!res) return std::vector<Result<ExecResult>>(reqs.size(), std::unexpected(res.error()));
  std::string why = "the batch shell ended (exit " + std::to_string(res->exit_code) + ") before this command ran";
  if (!res->err.empty()) why += ": " + res->err.substr(0, 300);
  // Output past what a run keeps (one large output) leaves frames missing: those commands
  // run again one by one, each with the whole allowance of its own.
  auto results = read_batch(res->out, reqs.size(), res->timed_out, why);
  if (!res->timed_out)
    for (std::size_t i = 0; i < reqs.size(); ++i)
      if (!results[i]) results[i] = runner.run(reqs[i]);
  return results;
}

}  // namespace converge
