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
  const std::string script_out = "@converge-batch@ 0 1\n       2 0.o\n       0 0.e\n       1 1.o\n       0 1.e\n@converge-batch-data@\nhi";
  auto full = read_batch(script_out + "x", 2, false, "gone");
  REQUIRE(full[0]);
  CHECK(full[0]->out == "hi");
  REQUIRE(full[1]);
  CHECK(full[1]->exit_code == 1);
  CHECK(full[1]->out == "x");
  auto cut = read_batch(script_out, 2, false, "gone");  // one byte short
  REQUIRE(!cut[0]);
  CHECK(cut[0].error().message == "gone");
  auto late = read_batch("", 2, true, "gone");
  REQUIRE(late[1]);
  CHECK(late[1]->timed_out);
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
