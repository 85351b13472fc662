// resources/local_transport.h: the local transport's files under a temporary root: stat,
// atomic and two-phase writes (no temporaries left), exact modes despite the umask,
// directories, removal, and the mapping of node paths under the root.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "resources/local_transport.h"

using namespace converge;
namespace fs = std::filesystem;

namespace {

struct RootFixture {
  std::string root;
  std::unique_ptr<LocalTransport> t;

  RootFixture() {
    char tmpl[] = "/tmp/converge-local-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    root = tmpl;
    t = std::make_unique<LocalTransport>(root);
  }
  ~RootFixture() { fs::remove_all(root); }

  /// Names in the real directory of a node path, sorted, joined by ",".
  std::string listing(const std::string& node_dir = "/") const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(t->real(node_dir))) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
    return out;
  }

  FileInfo stat_ok(const std::string& p) const {
    auto s = t->stat(p);
    if (!s) FAIL("stat " << p << ": " << s.error().describe());
    return *s;
  }
};

/// Sets the umask for a scope.
struct Umask {
  mode_t old;
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
};

}  // namespace

TEST_CASE("LocalTransport maps node paths under its root", "[local_transport]") {
  auto [root, path, real, describe] = GENERATE(table<std::string, std::string, std::string, std::string>({
      {"", "/etc/hosts", "/etc/hosts", "local"},
      {"/", "/etc/hosts", "/etc/hosts", "local"},
      {"/tmp/r", "/etc/hosts", "/tmp/r/etc/hosts", "local root=/tmp/r"},
      {"/tmp/r//", "/etc/hosts", "/tmp/r/etc/hosts", "local root=/tmp/r"},
  }));
  LocalTransport t(root);
  CHECK(t.real(path) == real);
  CHECK(t.describe() == describe);
  CHECK(t.files() == &t);
}

TEST_CASE_METHOD(RootFixture, "stat: absent paths are a definite absence", "[local_transport]") {
  std::ofstream(root + "/file") << "x";
  for (const char* p : {"/nope", "/nope/deeper", "/file/below"}) {
    INFO(p);
    FileInfo info = stat_ok(p);
    CHECK_FALSE(info.exists);
    CHECK_FALSE(info.is_regular);
    CHECK_FALSE(info.is_dir);
  }
}

TEST_CASE_METHOD(RootFixture, "stat: a present file and directory", "[local_transport]") {
  std::ofstream(root + "/file") << "12345";
  ::chmod((root + "/file").c_str(), 0640);
  FileInfo f = stat_ok("/file");
  CHECK(f.exists);
  CHECK(f.is_regular);
  CHECK_FALSE(f.is_dir);
  CHECK(f.size == 5);
  CHECK(f.mode == 0640);
  CHECK(f.uid == ::getuid());
  FileInfo d = stat_ok("/");
  CHECK(d.exists);
  CHECK(d.is_dir);
  CHECK(d.mode == 0700);  // mkdtemp
}

TEST_CASE_METHOD(RootFixture, "write_atomic then read, with the exact mode despite the umask", "[local_transport]") {
  Umask u(077);
  REQUIRE(t->write_atomic("/a.conf", "line 1\nline 2\n", 0644).has_value());
  CHECK(t->read("/a.conf").value() == "line 1\nline 2\n");
  CHECK(stat_ok("/a.conf").mode == 0644);
  SECTION("overwriting replaces content and mode") {
    REQUIRE(t->write_atomic("/a.conf", std::string("bin\0ary", 7), 0600).has_value());
    CHECK(t->read("/a.conf").value() == std::string("bin\0ary", 7));
    CHECK(stat_ok("/a.conf").mode == 0600);
  }
  SECTION("an empty file and unusual bits") {
    REQUIRE(t->write_atomic("/empty", "", 02755).has_value());
    CHECK(t->read("/empty").value().empty());
    CHECK(stat_ok("/empty").mode == 02755);
  }
  CHECK(listing().find(".converge-") == std::string::npos);
}

TEST_CASE_METHOD(RootFixture, "write_temp, sync, commit_temp leave no temporary behind", "[local_transport]") {
  Umask u(0);
  auto temp = t->write_temp("/b.txt", "new", 0604);
  REQUIRE(temp.has_value());
  CHECK(fs::path(*temp).parent_path() == fs::path(root));  // beside the target
  CHECK_THAT(fs::path(*temp).filename().string(), Catch::StartsWith(".converge-"));
  CHECK_FALSE(stat_ok("/b.txt").exists);  // nothing visible before the commit
  REQUIRE(t->sync().has_value());
  REQUIRE(t->commit_temp(*temp, "/b.txt").has_value());
  CHECK(listing() == "b.txt");
  CHECK(t->read("/b.txt").value() == "new");
  CHECK(stat_ok("/b.txt").mode == 0604);
}

TEST_CASE_METHOD(RootFixture, "sweep_temps removes only what writers no longer running left", "[local_transport]") {
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  REQUIRE(dead > 0);
  REQUIRE(::waitpid(dead, nullptr, 0) == dead);  // reaped: the pid names no process now
  auto touch = [&](const std::string& name) { std::ofstream(root + "/" + name) << "x"; };
  touch(".converge-" + std::to_string(dead) + "-7.tmp");            // its writer is gone
  touch(".converge-1-3.tmp");                                         // pid 1 runs
  touch(".converge-" + std::to_string(::getpid()) + "-1.tmp");      // this process's own
  touch(".converge-x-1.tmp");                                         // not a name of ours
  touch("app.conf");
  CHECK(t->sweep_temps("/") == 1);
  CHECK(listing() == ".converge-1-3.tmp,.converge-" + std::to_string(::getpid()) + "-1.tmp,.converge-x-1.tmp,app.conf");
  CHECK(t->sweep_temps("/missing") == 0);
}

TEST_CASE_METHOD(RootFixture, "a failed commit removes its temporary", "[local_transport]") {
  REQUIRE(t->make_dir("/d", 0755).has_value());
  auto temp = t->write_temp("/d/x", "data", 0644);
  REQUIRE(temp.has_value());
  auto c = t->commit_temp(*temp, "/missing/x");
  REQUIRE_FALSE(c.has_value());
  CHECK(c.error().code == ErrorCode::io);
  CHECK(c.error().describe() == "rename onto /missing/x: No such file or directory");
  CHECK(listing("/d").empty());
}

TEST_CASE_METHOD(RootFixture, "make_dir applies the exact mode; an existing one is an error", "[local_transport]") {
  Umask u(077);
  REQUIRE(t->make_dir("/srv", 0775).has_value());
  FileInfo d = stat_ok("/srv");
  CHECK(d.is_dir);
  CHECK(d.mode == 0775);
  auto again = t->make_dir("/srv", 0775);
  REQUIRE_FALSE(again.has_value());
  CHECK(again.error().describe() == "mkdir /srv: File exists");
  REQUIRE(t->chmod("/srv", 0710).has_value());
  CHECK(stat_ok("/srv").mode == 0710);
}

TEST_CASE_METHOD(RootFixture, "remove: files, empty and non-empty directories", "[local_transport]") {
  REQUIRE(t->write_atomic("/f", "x", 0644).has_value());
  REQUIRE(t->make_dir("/empty", 0755).has_value());
  REQUIRE(t->make_dir("/tree", 0755).has_value());
  REQUIRE(t->write_atomic("/tree/leaf", "x", 0644).has_value());

  REQUIRE(t->remove("/f", false).has_value());
  CHECK_FALSE(stat_ok("/f").exists);
  REQUIRE(t->remove("/empty", false).has_value());
  CHECK_FALSE(stat_ok("/empty").exists);
  auto refused = t->remove("/tree", false);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().describe(), Catch::StartsWith("remove /tree: "));
  CHECK(stat_ok("/tree/leaf").exists);
  REQUIRE(t->remove("/tree", true).has_value());
  CHECK_FALSE(stat_ok("/tree").exists);
  CHECK(t->remove("/never-was", false).has_value());  // already absent: done
  CHECK(listing().empty());
}

TEST_CASE_METHOD(RootFixture, "read of a missing file is an I/O error naming the node path", "[local_transport]") {
  auto r = t->read("/nope");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().describe() == "open /nope: No such file or directory");
}

TEST_CASE_METHOD(RootFixture, "commands see CONVERGE_ROOT; names resolve to ids", "[local_transport]") {
  ExecRequest req;
  req.argv = {"printenv", "CONVERGE_ROOT"};
  auto r = t->run(req);
  REQUIRE(r.has_value());
  CHECK(r->out == root + "\n");
  CHECK(t->user_id("0").value() == 0);
  CHECK(t->user_id("root").value() == 0);
  CHECK(t->group_id("root").value() == 0);
  auto nobody = t->user_id("converge-no-such-user");
  REQUIRE_FALSE(nobody.has_value());
  CHECK(nobody.error().describe() == "no such user 'converge-no-such-user'");
}

TEST_CASE_METHOD(RootFixture, "inspect: the stat, and content only of a regular file; held or not, the same",
                 "[local_transport]") {
  fs::create_directories(root + "/d/sub");
  std::ofstream(root + "/d/file") << "payload\n";
  ::chmod((root + "/d/file").c_str(), 0604);
  fs::create_symlink("file", root + "/d/link");
  REQUIRE(::mkfifo((root + "/d/fifo").c_str(), 0600) == 0);
  std::ofstream(root + "/top") << "at the root";
  for (bool hold : {false, true}) {
    INFO("held: " << hold);
    t->hold_directories(hold);
    auto file = t->inspect("/d/file", true);
    REQUIRE(file);
    CHECK(file->info.is_regular);
    CHECK(file->info.mode == 0604);
    CHECK(file->content == std::optional<std::string>("payload\n"));
    auto no_content = t->inspect("/d/file", false);
    REQUIRE(no_content);
    CHECK(no_content->info.size == 8);
    CHECK_FALSE(no_content->content);
    // A symlink is not followed and a FIFO is never opened (which would block): neither is
    // a regular file, and neither has content.
    for (const char* p : {"/d/link", "/d/fifo", "/d/sub"}) {
      INFO(p);
      auto other = t->inspect(p, true);
      REQUIRE(other);
      CHECK(other->info.exists);
      CHECK_FALSE(other->info.is_regular);
      CHECK_FALSE(other->content);
    }
    CHECK(t->inspect("/d/sub", true)->info.is_dir);
    for (const char* p : {"/d/nope", "/nope/deeper", "/d/file/below"}) {
      INFO(p);
      auto absent = t->inspect(p, true);
      REQUIRE(absent);
      CHECK_FALSE(absent->info.exists);
    }
    CHECK(t->inspect("/top", true)->content == std::optional<std::string>("at the root"));
    CHECK(t->inspect("/", true)->info.is_dir);
    // A file that grew since it was last seen is read whole.
    std::ofstream(root + "/d/file", std::ios::app) << std::string(100000, 'x');
    CHECK(t->inspect("/d/file", true)->content->size() == 8 + 100000);
    std::ofstream(root + "/d/file", std::ios::trunc) << "payload\n";
  }
  t->hold_directories(false);
}

TEST_CASE_METHOD(RootFixture, "held directories: more directories than are held are still looked up",
                 "[local_transport]") {
  t->hold_directories(true);
  for (int i = 0; i < 300; ++i) {
    fs::create_directories(root + "/many/" + std::to_string(i));
    std::ofstream(root + "/many/" + std::to_string(i) + "/f") << i;
  }
  for (int i = 0; i < 300; ++i) {
    auto in = t->inspect("/many/" + std::to_string(i) + "/f", true);
    REQUIRE(in);
    CHECK(in->content == std::optional<std::string>(std::to_string(i)));
  }
  // Released, a directory replaced since it was held is seen as it is now.
  t->hold_directories(false);
  fs::remove_all(root + "/many/7");
  fs::create_directories(root + "/many/7");
  std::ofstream(root + "/many/7/f") << "new";
  CHECK(t->inspect("/many/7/f", true)->content == std::optional<std::string>("new"));
}

TEST_CASE_METHOD(RootFixture, "symbolic links: read as stored, replaced atomically, never over a directory", "[local_transport]") {
  REQUIRE(t->make_dir("/srv", 0755));
  auto none = t->read_link("/srv/current");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto missing_dir = t->read_link("/nowhere/current");
  REQUIRE(missing_dir);
  CHECK_FALSE(missing_dir->has_value());
  REQUIRE(t->make_link("/srv/current", "releases/1"));
  CHECK(fs::read_symlink(t->real("/srv/current")) == "releases/1");
  auto read = t->read_link("/srv/current");
  REQUIRE(read);
  CHECK(**read == "releases/1");
  // Replaced, not followed: the old target is untouched, no temporary is left.
  REQUIRE(t->make_link("/srv/current", "/etc/passwd-not-followed"));
  CHECK(fs::read_symlink(t->real("/srv/current")) == "/etc/passwd-not-followed");
  CHECK(listing("/srv") == "current");
  // A file is replaced; a directory is refused; a non-link is an error to read.
  REQUIRE(t->write_atomic("/srv/file", "x", 0644));
  CHECK_FALSE(t->read_link("/srv/file"));
  REQUIRE(t->make_link("/srv/file", "elsewhere"));
  CHECK(fs::is_symlink(fs::symlink_status(t->real("/srv/file"))));
  auto refused = t->make_link("/srv", "x");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("is a directory") != std::string::npos);
  // A long target reads back whole.
  const std::string long_target(1000, 'a');
  REQUIRE(t->make_link("/srv/long", long_target));
  CHECK(**t->read_link("/srv/long") == long_target);
}
