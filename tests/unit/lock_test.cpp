// engine/state/lock.h: one run per state directory. A second acquire is refused naming the
// holder, the lock goes with its holder's destruction or death.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/state/lock.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

struct LockFixture {
  std::string dir;
  LockFixture() {
    char tmpl[] = "/tmp/converge-lock-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
  }
  ~LockFixture() { fs::remove_all(dir); }

  nlohmann::json holder_record() const {
    std::ifstream in(dir + "/lock");
    return nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}), nullptr, false);
  }
};

}  // namespace

TEST_CASE_METHOD(LockFixture, "a second acquire is refused, naming pid and host", "[lock]") {
  auto first = RunLock::acquire(dir, "apply");
  REQUIRE(first.has_value());
  auto second = RunLock::acquire(dir, "check");
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == ErrorCode::locked);
  std::string expected_prefix = "state directory " + dir + " is locked by pid " + std::to_string(::getpid()) + " on " +
                                host_name() + " (converge apply, started ";
  CHECK_THAT(second.error().describe(), Catch::StartsWith(expected_prefix));
  CHECK_THAT(second.error().describe(), Catch::EndsWith("Z)"));

  auto rec = holder_record();
  REQUIRE(rec.is_object());
  CHECK(rec["pid"] == static_cast<long>(::getpid()));
  CHECK(rec["command"] == "apply");
  struct stat st {};
  REQUIRE(::stat((dir + "/lock").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE_METHOD(LockFixture, "the lock is released on destruction and survives a move", "[lock]") {
  {
    auto held = RunLock::acquire(dir, "apply");
    REQUIRE(held.has_value());
    RunLock moved = std::move(*held);
    CHECK_FALSE(RunLock::acquire(dir, "apply").has_value());  // still held by `moved`
  }
  auto again = RunLock::acquire(dir, "plan");
  REQUIRE(again.has_value());
  CHECK(holder_record()["command"] == "plan");
}

TEST_CASE_METHOD(LockFixture, "a lock left by a dead process is taken over", "[lock]") {
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto l = RunLock::acquire(dir, "apply");
    ::_exit(l ? 0 : 1);  // dies holding the lock: no destructor runs
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(holder_record()["pid"] == static_cast<long>(child));  // the dead holder's record is there

  auto taken = RunLock::acquire(dir, "apply");
  REQUIRE(taken.has_value());
  CHECK(holder_record()["pid"] == static_cast<long>(::getpid()));
}

TEST_CASE_METHOD(LockFixture, "an unreadable holder record still refuses", "[lock]") {
  {
    std::ofstream(dir + "/lock") << "not json";
  }
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);  // the lock is the directory's
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto l = RunLock::acquire(dir, "apply");
  ::close(fd);
  REQUIRE_FALSE(l.has_value());
  CHECK(l.error().code == ErrorCode::locked);
  CHECK(l.error().describe() == "state directory " + dir + " is locked by another process");
}

TEST_CASE_METHOD(LockFixture, "a missing state directory is an I/O error", "[lock]") {
  auto l = RunLock::acquire(dir + "/nope", "apply");
  REQUIRE_FALSE(l.has_value());
  CHECK(l.error().code == ErrorCode::io);
  CHECK(l.error().describe() == "cannot open state directory " + dir + "/nope: No such file or directory");
}

TEST_CASE_METHOD(LockFixture, "deleting the lock file does not let a second run in", "[lock]") {
  auto first = RunLock::acquire(dir, "apply");
  REQUIRE(first.has_value());
  REQUIRE(::unlink((dir + "/lock").c_str()) == 0);  // a tmp cleaner
  auto second = RunLock::acquire(dir, "apply");
  REQUIRE_FALSE(second.has_value());
  CHECK(second.error().code == ErrorCode::locked);
  CHECK(second.error().describe() == "state directory " + dir + " is locked by another run (its lock file " + dir +
                                         "/lock was removed)");
}

TEST_CASE("now_iso is ISO 8601 UTC with milliseconds", "[lock]") {
  CHECK(std::regex_match(now_iso(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  CHECK_FALSE(host_name().empty());
}
