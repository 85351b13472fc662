// resources/remote_files.h: the remote filesystem's shell scripts run for real, by a local
// shell standing in for the remote one (a LocalTransport without a root is the runner), in
// a temporary directory: one round trip for a prefetched observation, atomic two-phase
// writes with owner and mode, links, refusals, removal, sweeping, and the parsers.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/model/sha256.h"
#include "resources/local_transport.h"
#include "resources/remote_files.h"
#include "resources/ssh_transport.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

/// Runs through a local shell and counts the round trips (a batch is one).
class CountingRunner final : public CommandRunner {
 public:
  Result<ExecResult> run(const ExecRequest& req) override {
    ++trips;
    return local.run(req);
  }
  std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override {
    ++trips;
    return local.run_batch(reqs);
  }
  LocalTransport local;
  std::atomic<int> trips{0};
};

struct Dir {
  std::string path;
  CountingRunner runner;
  RemoteFileSystem files{runner, "h1"};
  Dir() {
    char tmpl[] = "/tmp/converge-remote-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void put(const std::string& name, const std::string& content) { std::ofstream(path + "/" + name) << content; }
  [[nodiscard]] std::string get(const std::string& name) const {
    std::ifstream in(path + "/" + name);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  [[nodiscard]] int temporaries() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(path)) n += e.path().filename().string().starts_with(".converge-ssh-");
    return n;
  }
};

}  // namespace

TEST_CASE_METHOD(Dir, "prefetch observes every path in one round trip, then answers from it", "[remote_files]") {
  put("a", "alpha\n");
  fs::create_directory(path + "/d");
  fs::create_symlink("a", path + "/l");
  ::chmod((path + "/a").c_str(), 0640);
  files.prefetch({{path + "/a", true}, {path + "/d", false}, {path + "/l", false}, {path + "/missing", true},
                  {path + "/a/below-a-file", false}});
  CHECK(runner.trips == 1);
  auto a = files.inspect(path + "/a", true);
  REQUIRE(a);
  CHECK(a->info.exists);
  CHECK(a->info.is_regular);
  CHECK(a->info.mode == 0640);
  CHECK(a->info.uid == ::getuid());
  // The content's hash, not the content: the caller compares, and reads only on a mismatch.
  CHECK_FALSE(a->content);
  CHECK(a->sha256 == std::optional<std::string>(sha256_hex("alpha\n")));
  CHECK(files.read(path + "/a").value() == "alpha\n");
  CHECK(runner.trips == 2);
  auto d = files.stat(path + "/d");
  REQUIRE(d);
  CHECK(d->is_dir);
  auto l = files.read_link(path + "/l");
  REQUIRE(l);
  CHECK(*l == std::optional<std::string>("a"));
  CHECK_FALSE(files.stat(path + "/missing")->exists);
  CHECK_FALSE(files.stat(path + "/a/below-a-file")->exists);  // "Not a directory": absent
  CHECK(files.user_name(::getuid()).has_value());
  CHECK(runner.trips == 2);
  // Not asked with content: fetched on demand.
  CHECK(files.read(path + "/d").error().message.find("not a regular file") != std::string::npos);
  files.forget();
  const int before = runner.trips;
  CHECK(files.stat(path + "/a"));
  CHECK(runner.trips == before + 1);
}

TEST_CASE_METHOD(Dir, "a change made through it drops what was prefetched", "[remote_files]") {
  put("a", "old");
  files.prefetch({{path + "/a", true}});
  REQUIRE(files.write_atomic(path + "/a", "new", 0600));
  CHECK(files.read(path + "/a").value() == "new");
}

TEST_CASE_METHOD(Dir, "a wave's writes: one round trip to write and sync, one to rename and look again",
                 "[remote_files]") {
  put("f", "before");
  const std::string content("binary\0bytes\n'quoted' $(not run)", 33);
  Ownership o;
  o.uid = ::getuid();
  o.gid = ::getgid();
  auto temp = files.write_temp(path + "/f", content, 04750, o);
  auto temp2 = files.write_temp(path + "/g", "", 0600);
  auto temp3 = files.write_temp(path + "/h", "h\n", 0644);
  REQUIRE(temp);
  REQUIRE(temp2);
  REQUIRE(temp3);
  CHECK(runner.trips == 0);  // queued
  REQUIRE(files.sync());
  CHECK(runner.trips == 1);
  CHECK(get("f") == "before");
  CHECK(temporaries() == 3);
  REQUIRE(files.commit_temp(*temp, path + "/f"));
  REQUIRE(files.commit_temp(*temp2, path + "/g"));
  REQUIRE(files.commit_temp(*temp3, path + "/h"));
  CHECK(runner.trips == 1);  // renames queued too
  files.prefetch({{path + "/f", true}, {path + "/g", true}, {path + "/h", true}});
  CHECK(runner.trips == 2);
  CHECK(files.inspect(path + "/f", true)->sha256 == std::optional<std::string>(sha256_hex(content)));
  CHECK(files.inspect(path + "/g", true)->sha256 == std::optional<std::string>(sha256_hex("")));
  CHECK(files.stat(path + "/h")->mode == 0644);
  CHECK(runner.trips == 2);
  CHECK(get("f") == content);
  struct stat st {};
  REQUIRE(::stat((path + "/f").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04750);
  CHECK(temporaries() == 0);
}

TEST_CASE_METHOD(Dir, "a discarded write leaves nothing, queued or written", "[remote_files]") {
  auto queued = files.write_temp(path + "/f", "x", 0644);
  REQUIRE(queued);
  files.discard_temp(*queued);
  REQUIRE(files.sync());
  CHECK(runner.trips == 0);
  auto written = files.write_temp(path + "/f", "x", 0644);
  REQUIRE(written);
  REQUIRE(files.sync());
  CHECK(temporaries() == 1);
  files.discard_temp(*written);
  CHECK(temporaries() == 0);
  CHECK_FALSE(fs::exists(path + "/f"));
}

TEST_CASE_METHOD(Dir, "a write into a missing directory fails its own commit, not the others", "[remote_files]") {
  auto bad = files.write_temp(path + "/no/such/f", "x", 0644);
  auto good = files.write_temp(path + "/ok", "fine", 0644);
  REQUIRE(bad);
  REQUIRE(good);
  REQUIRE(files.sync());
  auto c = files.commit_temp(*bad, path + "/no/such/f");
  REQUIRE_FALSE(c);
  CHECK(c.error().message.find("on h1") != std::string::npos);
  CHECK(c.error().message.find(path + "/no/such/f") != std::string::npos);
  REQUIRE(files.commit_temp(*good, path + "/ok"));
  files.forget();
  CHECK(get("ok") == "fine");
}

TEST_CASE_METHOD(Dir, "a rename that fails is the path's next observation", "[remote_files]") {
  fs::create_directory(path + "/d");
  auto t = files.write_temp(path + "/d", "x", 0644);
  REQUIRE(t);
  REQUIRE(files.sync());
  REQUIRE(files.commit_temp(*t, path + "/d"));
  auto seen = files.inspect(path + "/d", true);
  REQUIRE_FALSE(seen);
  CHECK(seen.error().message.find("rename " + path + "/d on h1") != std::string::npos);
  CHECK(fs::is_directory(path + "/d"));
}

TEST_CASE_METHOD(Dir, "a wave's changes are queued and go in one round trip; a failure is the path's next observation",
                 "[remote_files]") {
  fs::create_directory(path + "/e");
  put("e/inside", "x");
  REQUIRE(files.make_dir(path + "/d", 02750));
  REQUIRE(files.chmod(path + "/d", 0700));
  REQUIRE(files.chown(path + "/d", ::getuid(), ::getgid()));
  REQUIRE(files.remove(path + "/e", false));  // not empty: rmdir will refuse
  CHECK(runner.trips == 0);
  CHECK_FALSE(fs::exists(path + "/d"));       // nothing yet
  files.forget();                             // the wave is done: its changes go, in order
  CHECK(runner.trips == 1);
  struct stat st {};
  REQUIRE(::stat((path + "/d").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  auto e = files.inspect(path + "/e", false);
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("remove " + path + "/e on h1") != std::string::npos);
  CHECK(files.inspect(path + "/d", false));
  REQUIRE(files.remove(path + "/e", true));
  files.forget();
  CHECK_FALSE(fs::exists(path + "/e"));
  CHECK(files.inspect(path + "/e", false).value().info.exists == false);  // the failure is past
}

TEST_CASE_METHOD(Dir, "a link: made atomically over a file, never followed by chmod, refused over a directory",
                 "[remote_files]") {
  put("target", "t");
  put("f", "a file where the link goes");
  REQUIRE(files.make_link(path + "/f", "target"));
  files.forget();
  CHECK(fs::read_symlink(path + "/f") == "target");
  REQUIRE(files.make_link(path + "/f", "-odd name"));
  files.forget();
  CHECK(fs::read_symlink(path + "/f") == "-odd name");
  REQUIRE(files.chmod(path + "/f", 0777));
  files.forget();
  auto ch = files.inspect(path + "/f", false);
  REQUIRE_FALSE(ch);
  CHECK(ch.error().message.find("symbolic link") != std::string::npos);
  fs::create_directory(path + "/dir");
  REQUIRE(files.make_link(path + "/dir", "target"));
  files.forget();
  CHECK_FALSE(files.read_link(path + "/dir"));
  CHECK(fs::is_directory(fs::symlink_status(path + "/dir")));
  CHECK(files.read_link(path + "/target").error().message.find("not a symbolic link") != std::string::npos);
  CHECK(files.read_link(path + "/none").value() == std::nullopt);
  REQUIRE(files.remove(path + "/f", false));
  files.forget();
  CHECK_FALSE(fs::exists(fs::symlink_status(path + "/f")));
  CHECK(temporaries() == 0);
}

TEST_CASE_METHOD(Dir, "sweep_temps removes what a dead writer of this machine left, and nothing else", "[remote_files]") {
  // A temporary of this (live) process, written and not committed: its name has our mark.
  auto token = files.write_temp(path + "/live", "being written", 0644);
  REQUIRE(token);
  REQUIRE(files.sync());
  REQUIRE(temporaries() == 1);
  std::string mine;
  for (const auto& e : fs::directory_iterator(path)) mine = e.path().filename().string();
  // ".converge-ssh-" MACHINE "-" PID "-" START "-" RANDOM ".tmp"
  const std::string machine = mine.substr(0, mine.find('-', 14) + 1);
  REQUIRE(machine.size() == 14 + 12 + 1);
  // A process of this machine that is gone: it ran, we noted its start, it was killed.
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const unsigned long long start = process_start(child);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  put(machine + std::to_string(child) + "-" + std::to_string(start) + "-AbCdEfGhIj.tmp", "half");
  fs::create_symlink("x", path + "/" + machine + std::to_string(child) + "-" + std::to_string(start) + "-link.tmp");
  put(".converge-ssh-0123456789ab-1-1-other.tmp", "another controller's");  // another machine
  put(".converge-ssh-AbCdEfGhIj.tmp", "an older version's: whose, nobody can tell");
  put("keep.tmp", "mine");
  const int before = runner.trips;
  CHECK(files.sweep_temps(path) == 2);
  CHECK(runner.trips - before == 2);  // list, then remove
  CHECK(temporaries() == 3);
  CHECK(fs::exists(path + "/" + mine));
  CHECK(fs::exists(path + "/keep.tmp"));
  CHECK(files.sweep_temps(path) == 0);
  files.discard_temp(*token);
}

TEST_CASE_METHOD(Dir, "names resolve through the node's tables, numbers as themselves", "[remote_files]") {
  CHECK(files.user_id("root").value() == 0);
  CHECK(files.group_id("root").value() == 0);
  CHECK(files.user_id("1234").value() == 1234);
  auto none = files.user_id("no-such-user-here");
  REQUIRE_FALSE(none);
  CHECK(none.error().message == "no user 'no-such-user-here' on h1");
  CHECK_FALSE(files.user_id("4294967295"));  // -1 to chown
}

TEST_CASE("parse_inspection reads stat's line and refuses what it cannot read", "[remote_files]") {
  std::optional<std::string> link;
  auto r = RemoteFileSystem::parse_inspection("/x", true, ExecResult{0, false, "81a4 0 0 3\nabc", ""}, &link);
  REQUIRE(r);
  CHECK(r->info.mode == 0644);
  CHECK(r->content == std::optional<std::string>("abc"));
  r = RemoteFileSystem::parse_inspection("/x", false, ExecResult{0, false, "a1ff 5 6 1\nt\n", ""}, &link);
  REQUIRE(r);
  CHECK_FALSE(r->info.is_regular);
  CHECK(link == std::optional<std::string>("t"));
  CHECK_FALSE(RemoteFileSystem::parse_inspection("/x", false, ExecResult{0, false, "garbage\n", ""}, &link));
  CHECK_FALSE(RemoteFileSystem::parse_inspection("/x", false, ExecResult{3, false, "", "stat: Permission denied"}, &link));
  CHECK_FALSE(
      RemoteFileSystem::parse_inspection("/x", false, ExecResult{3, false, "", "stat: No such file or directory"}, &link)
          ->info.exists);
  const std::string big(kMaxRemoteContent + 1, 'x');
  auto too = RemoteFileSystem::parse_inspection("/x", true, ExecResult{0, false, "81a4 0 0 2000000\n" + big, ""}, &link);
  REQUIRE_FALSE(too);
  CHECK(too.error().message.find("cannot be compared") != std::string::npos);
}

TEST_CASE("the bulk records: stat's and sha256sum's, paths with spaces and newlines kept whole", "[remote_files]") {
  using namespace std::string_literals;
  auto st = RemoteFileSystem::parse_stats("- /gone\0"s + "81a4 0 0 3 /a b\n c\0"s + "41ed 1 2 4096 /d\0"s +
                                          "a1ff 0 0 1 /l\0"s + "junk\0"s + "end\0"s);
  REQUIRE(st);
  REQUIRE(st->size() == 4);
  CHECK_FALSE(st->at("/gone").exists);
  CHECK(st->at("/a b\n c").is_regular);
  CHECK(st->at("/a b\n c").size == 3);
  CHECK(st->at("/d").is_dir);
  CHECK(st->at("/d").gid == 2);
  CHECK(st->at("/l").is_link);
  // Cut before its end: nothing is certain, not even an absence.
  CHECK_FALSE(RemoteFileSystem::parse_stats("- /gone\0"s + "81a4 0 0 9 /cut"));
  const std::string h(64, 'a');
  auto hs = RemoteFileSystem::parse_hashes(h + "  /x y\0"s + "zz  /bad\0"s);
  REQUIRE(hs.size() == 1);
  CHECK(hs.at("/x y") == h);
}

TEST_CASE_METHOD(Dir, "prefetch: odd names, a file not readable, a link", "[remote_files]") {
  put("a b\nc", "odd");
  put("locked", "secret");
  fs::create_symlink("a b\nc", path + "/l");
  files.prefetch({{path + "/a b\nc", true}, {path + "/l", true}, {path + "/locked", true}});
  CHECK(files.inspect(path + "/a b\nc", true)->sha256 == std::optional<std::string>(sha256_hex("odd")));
  CHECK(files.read_link(path + "/l").value() == std::optional<std::string>("a b\nc"));
  CHECK(runner.trips == 1);
}

TEST_CASE("the write batch's outcomes are matched by index, and what is missing is named", "[remote_files]") {
  using namespace std::string_literals;
  ExecResult r{1, false, "fail 1 /b: mktemp: failed\0"s + "ok 0 /a/.converge-ssh-x.tmp\0"s + "ok 7 /bogus\0"s,
               "sync: I/O error"};
  auto w = RemoteFileSystem::parse_writes(r, 3, "h1");
  REQUIRE(w.size() == 3);
  CHECK(w[0].value() == "/a/.converge-ssh-x.tmp");
  CHECK(w[1].error().message == "write on h1: /b: mktemp: failed");
  CHECK(w[2].error().message == "write on h1: the batch stopped: sync: I/O error");
}

TEST_CASE("parse_table reads passwd and group lines, the first name of an id kept", "[remote_files]") {
  std::map<std::string, std::uint32_t> by_name;
  std::map<std::uint32_t, std::string> by_id;
  RemoteFileSystem::parse_table("root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/:/bin/sh\nbad line\n:x:5:5\napp:x:1001:1001::/:\n",
                                by_name, by_id);
  CHECK(by_name.at("root") == 0);
  CHECK(by_name.at("toor") == 0);
  CHECK(by_id.at(0) == "root");
  CHECK(by_name.at("app") == 1001);
  CHECK(by_name.size() == 3);
}

TEST_CASE("only a connection never made is retried", "[ssh]") {
  CHECK(ssh_connect_failed("ssh: connect to host 127.0.0.2 port 22: Connection refused"));
  CHECK(ssh_connect_failed("kex_exchange_identification: read: Connection reset by peer"));
  CHECK(ssh_connect_failed("ssh: connect to host 10.0.0.9 port 22: Connection timed out"));
  CHECK_FALSE(ssh_connect_failed("Connection to 127.0.0.2 closed by remote host."));
  CHECK_FALSE(ssh_connect_failed("client_loop: send disconnect: Connection reset by peer"));
  CHECK_FALSE(ssh_connect_failed("Read from remote host 10.0.0.9: Connection reset by peer"));
  CHECK_FALSE(ssh_connect_failed("rsync: connection unexpectedly closed\nssh: connect to host x: Permission denied"));
  CHECK_FALSE(ssh_connect_failed("mux_client_read_packet: read header failed: Broken pipe"));
  CHECK_FALSE(ssh_connect_failed("Host key verification failed."));
}
