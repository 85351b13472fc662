// resources/process.h: running argv without a shell: exit codes, captured output, stdin,
// environment, working directory, start failures and timeouts.
#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "resources/process.h"

using namespace converge;
using namespace std::chrono_literals;

namespace {

ExecResult run_ok(ExecRequest req) {
  auto r = run_process(req);
  if (!r) FAIL("could not run " << req.argv.at(0) << ": " << r.error().describe());
  return std::move(*r);
}

ExecResult run_ok(std::vector<std::string> argv) {
  ExecRequest req;
  req.argv = std::move(argv);
  return run_ok(std::move(req));
}

/// Runs req in a forked child and reports "exit N, echoed M bytes intact|garbled", or
/// "no answer within 5 s" (the child is then killed) — so that a hang fails, not blocks.
std::string run_guarded(const ExecRequest& req) {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    auto r = run_process(req);
    std::string msg = !r ? "error " + r.error().describe()
                         : "exit " + std::to_string(r->exit_code) + ", echoed " + std::to_string(r->out.size()) +
                               " bytes " + (r->out == req.stdin_data ? "intact" : "garbled");
    (void)!::write(fds[1], msg.data(), msg.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  std::string answer = "no answer within 5 s";
  if (::poll(&p, 1, 5000) == 1) {
    answer.clear();
    char buf[256];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  return answer;
}

}  // namespace

TEST_CASE("run_process reports exit codes, and 128+signal for a killed process", "[process]") {
  auto [argv, code] = GENERATE(table<std::vector<std::string>, int>({
      {{"true"}, 0},
      {{"false"}, 1},
      {{"sh", "-c", "exit 7"}, 7},
      {{"sh", "-c", "exit 255"}, 255},
      {{"sh", "-c", "kill -TERM $$"}, 128 + 15},
  }));
  ExecResult r = run_ok(argv);
  CHECK(r.exit_code == code);
  CHECK_FALSE(r.timed_out);
}

TEST_CASE("run_process captures stdout and stderr apart", "[process]") {
  ExecResult r = run_ok({"sh", "-c", "printf 'to out\\n'; printf 'to err' >&2; printf more"});
  CHECK(r.out == "to out\nmore");
  CHECK(r.err == "to err");
  CHECK(r.exit_code == 0);
}

TEST_CASE("run_process feeds stdin, or /dev/null when there is none", "[process]") {
  ExecRequest req;
  req.argv = {"cat"};
  SECTION("small input") {
    req.stdin_data = "hello\nworld";
    CHECK(run_ok(req).out == "hello\nworld");
  }
  SECTION("input larger than the pipe buffers, echoed back") {
    // A deadlock here would hang the suite, so the run happens in a child process that must
    // answer within 5 s.
    req.stdin_data = std::string(300'000, 'x') + "end";
    CHECK(run_guarded(req) == "exit 0, echoed 300003 bytes intact");
  }
  SECTION("no input") {
    ExecResult r = run_ok(req);
    CHECK(r.out.empty());
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("run_process adds and overrides environment variables", "[process]") {
  ExecRequest req;
  req.argv = {"sh", "-c", "printf '%s|%s|' \"$CONVERGE_T\" \"$HOME\"; env | grep -c '^HOME='"};
  req.env = {{"CONVERGE_T", "v 1 $(x)"}, {"HOME", "/nowhere"}};
  ExecResult r = run_ok(req);
  CHECK(r.out == "v 1 $(x)|/nowhere|1\n");
}

TEST_CASE("run_process runs in the requested directory", "[process]") {
  ExecRequest req;
  req.argv = {"pwd"};
  req.cwd = "/";
  CHECK(run_ok(req).out == "/\n");
}

TEST_CASE("run_process passes argv elements literally (no shell)", "[process]") {
  ExecResult r = run_ok({"printf", "%s|", "a b", "\"q\"", "$(echo hi)", "`id`", "*", "'x'", "$HOME", "a;b", ""});
  CHECK(r.out == "a b|\"q\"|$(echo hi)|`id`|*|'x'|$HOME|a;b||");
}

TEST_CASE("run_process: a program that cannot start is an Error naming it", "[process]") {
  ExecRequest req;
  req.argv = {"converge-no-such-program", "arg"};
  auto r = run_process(req);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::action_failed);
  CHECK(r.error().describe() == "cannot run 'converge-no-such-program': No such file or directory");

  // A missing working directory fails the same way inside posix_spawn: the message names it.
  req.argv = {"true"};
  req.cwd = "/nonexistent-converge-cwd";
  auto nocwd = run_process(req);
  REQUIRE_FALSE(nocwd.has_value());
  CHECK(nocwd.error().describe() ==
        "cannot run 'true': working directory '/nonexistent-converge-cwd': No such file or directory");
  req.cwd = "/etc/passwd";
  auto notdir = run_process(req);
  REQUIRE_FALSE(notdir.has_value());
  CHECK(notdir.error().describe() == "cannot run 'true': working directory '/etc/passwd': Not a directory");
  req.cwd.clear();

  req.argv = {};
  auto empty = run_process(req);
  REQUIRE_FALSE(empty.has_value());
  CHECK(empty.error().code == ErrorCode::invalid_input);
  CHECK(empty.error().describe() == "empty command");
}

TEST_CASE("run_process kills a command at its timeout, with its children", "[process]") {
  auto argv = GENERATE(std::vector<std::string>{"sleep", "10"},
                       std::vector<std::string>{"sh", "-c", "sleep 10; echo late"},
                       std::vector<std::string>{"sh", "-c", "exec >/dev/null 2>&1; sleep 10"});
  ExecRequest req;
  req.argv = argv;
  req.timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  ExecResult r = run_ok(req);
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.timed_out);
  CHECK(r.exit_code == 128 + 9);
  CHECK(r.out.empty());
  CHECK(took >= 200ms);
  CHECK(took < 1s);
}

TEST_CASE("run_process: a command inside its timeout is not marked timed out", "[process]") {
  ExecRequest req;
  req.argv = {"sh", "-c", "printf done"};
  req.timeout = 5s;
  auto start = std::chrono::steady_clock::now();
  ExecResult r = run_ok(req);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "done");
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}
