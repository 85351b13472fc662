// resources/shell_batch.h: several commands in one `sh -s`, their outputs framed back byte
// for byte; a real /bin/sh runs the script (through run_process, as the local transport does).
#include <catch2/catch.hpp>

#include <unistd.h>

#include "resources/process.h"
#include "resources/shell_batch.h"

using namespace converge;

namespace {

/// Runs requests with run_process and remembers what it was asked to run.
struct Recorder final : CommandRunner {
  std::vector<ExecRequest> asked;
  Result<ExecResult> run(const ExecRequest& req) override {
    asked.push_back(req);
    return run_process(req);
  }
};

ExecRequest req(std::vector<std::string> argv) {
  ExecRequest r;
  r.argv = std::move(argv);
  r.timeout = std::chrono::seconds(20);
  return r;
}

}  // namespace

TEST_CASE("shell batch: each command's exit code, stdout and stderr come back in order, in one process") {
  Recorder rec;
  std::vector<ExecRequest> reqs = {
      req({"printf", "a\\nb"}),
      req({"sh", "-c", "echo \"$1:$2\"; echo oops >&2; exit 3", "zero", "one two", "it's"}),
      req({"/no/such/program"}),
      req({"head", "-c", "300", "/dev/zero"}),
      req({"true"}),
  };
  reqs[4].env = {{"SECRET", "s3 'cr\"et"}};
  reqs.push_back(req({"sh", "-c", "printf %s \"$SECRET\""}));
  reqs.back().env = {{"SECRET", "x'y\"z $HOME"}};
  reqs.push_back(req({"pwd"}));
  reqs.back().cwd = "/";
  reqs.push_back(req({"sh", "-c", "echo \"$0 $1\"", "zero", "one"}));  // reads $0: a shell of its own
  auto out = run_in_one_shell(rec, reqs);
  REQUIRE(rec.asked.size() == 1);
  CHECK(rec.asked[0].argv == std::vector<std::string>{"/bin/sh", "-s"});  // nothing of the requests in argv
  CHECK(rec.asked[0].env.empty());
  REQUIRE(out.size() == reqs.size());
  for (auto& r : out) REQUIRE(r);
  CHECK(out[0]->exit_code == 0);
  CHECK(out[0]->out == "a\nb");
  CHECK(out[1]->exit_code == 3);
  CHECK(out[1]->out == "one two:it's\n");
  CHECK(out[1]->err == "oops\n");
  CHECK(out[2]->exit_code == 127);
  CHECK(out[3]->out == std::string(300, '\0'));
  CHECK(out[4]->exit_code == 0);
  CHECK(out[4]->out.empty());
  CHECK(out[5]->out == "x'y\"z $HOME");
  CHECK(out[6]->out == "/\n");
  CHECK(out[7]->out == "zero one\n");
}

TEST_CASE("shell batch: what a shell that died or timed out left is missing or timed out, never misread") {
  const std::string B = "b0undary";
  // Command 0 printed "hi" and nothing on stderr; command 1 printed "x" (no newline) and
  // "e\n" on stderr, exit 1; frames of 10 and 1 differ ("B 1" is a prefix of "B 10").
  const std::string out = "b0undary 0\nhi\nb0undary 0 0\nb0undary 1\nx\nb0undary 1 1\n";
  const std::string err = "b0undary 0\n\nb0undary 0\nb0undary 1\ne\n\nb0undary 1\n";
  auto full = read_batch(out, err, B, 2, false, "gone");
  REQUIRE(full[0]);
  CHECK(full[0]->out == "hi");
  CHECK(full[0]->err.empty());
  REQUIRE(full[1]);
  CHECK(full[1]->exit_code == 1);
  CHECK(full[1]->out == "x");
  CHECK(full[1]->err == "e\n");
  auto cut = read_batch(out.substr(0, out.size() - 1), err, B, 2, false, "gone");  // the last frame cut
  REQUIRE(cut[0]);
  REQUIRE(!cut[1]);
  CHECK(cut[1].error().message == "gone");
  auto no_err = read_batch(out, "", B, 2, false, "gone");  // stderr lost: nothing is trusted
  CHECK(!no_err[0]);
  auto late = read_batch("", "", B, 2, true, "gone");
  REQUIRE(late[1]);
  CHECK(late[1]->timed_out);
  // Another batch's boundary (a command printing frames of its own) is not this one's.
  auto forged = read_batch("other 0\nhi\nother 0 0\n", "other 0\n\nother 0\n", B, 1, false, "gone");
  CHECK(!forged[0]);
}

TEST_CASE("shell batch: eleven commands and more are framed apart, and the batch starts no helper process") {
  Recorder rec;
  std::vector<ExecRequest> reqs;
  for (int i = 0; i < 12; ++i) reqs.push_back(req({"sh", "-c", "printf %s \"$1\"; exit \"$1\"", "sh", std::to_string(i)}));
  auto out = run_in_one_shell(rec, reqs);
  REQUIRE(rec.asked.size() == 1);
  // No mktemp, wc, cat or rm: the script names no program but what the requests run.
  for (const char* helper : {"mktemp", "wc ", "cat ", "rm "}) CHECK(rec.asked[0].stdin_data.find(helper) == std::string::npos);
  for (int i = 0; i < 12; ++i) {
    REQUIRE(out[i]);
    CHECK(out[i]->exit_code == i);
    CHECK(out[i]->out == std::to_string(i));
  }
}

TEST_CASE("shell batch: a request with its own input is not batchable") {
  ExecRequest r = req({"cat"});
  CHECK(batchable(r));
  r.stdin_data = "x";
  CHECK(!batchable(r));
  ExecRequest e = req({"true"});
  e.env = {{"BAD NAME", "v"}};
  CHECK(!batchable(e));
}

TEST_CASE("shell batch: cut at its limit, the running command timed out and the ones after it run alone") {
  // The batch's shell ran command 0, was killed in command 1: a runner that says so for the
  // batch (it has no clock to wait on) and runs anything else for real.
  struct CutBatch final : CommandRunner {
    std::vector<ExecRequest> alone;
    Result<ExecResult> run(const ExecRequest& r) override {
      if (r.argv == std::vector<std::string>{"/bin/sh", "-s"}) {
        const std::string script = r.stdin_data;
        const std::string b = script.substr(script.find("converge-batch-"), 15 + 32);
        ExecResult cut;
        cut.timed_out = true;
        cut.exit_code = 137;
        cut.out = b + " 0\nzero" + "\n" + b + " 0 0\n" + b + " 1\n";
        cut.err = b + " 0\n\n" + b + " 0\n" + b + " 1\n";
        return cut;
      }
      alone.push_back(r);
      return run_process(r);
    }
  } runner;
  std::vector<ExecRequest> reqs = {req({"printf", "zero"}), req({"sleep", "600"}), req({"printf", "two"}),
                                   req({"printf", "three"})};
  auto out = run_in_one_shell(runner, reqs);
  REQUIRE(out[0]);
  CHECK(out[0]->out == "zero");
  REQUIRE(out[1]);
  CHECK(out[1]->timed_out);
  REQUIRE(runner.alone.size() == 2);  // 2 and 3, each with its own limit; 1 not again
  CHECK(runner.alone[0].argv == reqs[2].argv);
  CHECK(runner.alone[0].timeout == reqs[2].timeout);
  REQUIRE(out[2]);
  CHECK(out[2]->out == "two");
  REQUIRE(out[3]);
  CHECK(out[3]->out == "three");
}

TEST_CASE("shell batch: what could not start says so as a process of its own would") {
  Recorder rec;
  ExecRequest missing_dir = req({"true"});
  missing_dir.cwd = "/no/such/dir";
  ExecRequest own_path = req({"converge-test-nowhere"});
  own_path.env = {{"PATH", "/no/such/bin"}};
  auto out = run_in_one_shell(rec, {req({"/no/such/program"}), missing_dir, own_path});
  REQUIRE(rec.asked.size() == 1);
  REQUIRE(out[0]);
  CHECK(out[0]->exit_code == 127);
  CHECK(out[0]->err == "cannot run '/no/such/program': No such file or directory\n");
  REQUIRE(out[1]);
  CHECK(out[1]->exit_code == 126);
  CHECK(out[1]->err == "cannot run 'true': working directory '/no/such/dir': No such file or directory\n");
  REQUIRE(out[2]);
  CHECK(out[2]->exit_code == 127);  // looked for on its own PATH, by the shell's exec
}
