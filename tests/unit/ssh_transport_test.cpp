// resources/ssh_transport.h: the remote command line, what travels on stdin, the control
// sockets' directory. The remote side is played by a local `sh -c` running the very line
// ssh would send, so the prelude that reads the environment from stdin runs for real.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "resources/process.h"
#include "resources/ssh_transport.h"

using namespace converge;

namespace {

SshTransport host(const std::string& control_dir = "/tmp/s") {
  TransportSpec t;
  t.kind = "ssh";
  t.host = "10.9.8.7";
  t.user = "ops";
  t.port = 2222;
  return SshTransport("web1", t, control_dir);
}

}  // namespace

TEST_CASE("shell_quote quotes every word for a POSIX shell", "[ssh]") {
  CHECK(shell_quote("plain") == "'plain'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
  CHECK(shell_quote("$(rm -rf /) `x` \"y\"") == "'$(rm -rf /) `x` \"y\"'");
}

TEST_CASE("the ssh argv carries no environment value", "[ssh]") {
  SshTransport t = host();
  ExecRequest req{{"deploy", "--to", "it's here"}, {{"TOKEN", "s3cr3t-token-value"}}, "/srv", {}, ""};
  auto argv = t.ssh_argv(*t.command_line(req));
  REQUIRE(argv.size() > 4);
  CHECK(argv[0] == "ssh");
  CHECK(std::find(argv.begin(), argv.end(), "ops@10.9.8.7") != argv.end());
  CHECK(std::find(argv.begin(), argv.end(), "2222") != argv.end());
  for (const auto& a : argv) CHECK(a.find("s3cr3t-token-value") == std::string::npos);
  CHECK(argv.back().starts_with("cd '/srv' && sh -c "));
  CHECK(SshTransport::env_stdin(req).find("s3cr3t-token-value") != std::string::npos);
}

TEST_CASE("the remote line exports the environment from stdin and passes the rest on", "[ssh]") {
  SshTransport t = host();
  ExecRequest req{{"sh", "-c", "printf '%s|%s|' \"$A\" \"$B\"; cat"},
                  {{"A", "multi\nline = value "}, {"B", "it's $HOME"}},
                  "",
                  std::chrono::seconds(10),
                  "the command's own input\n"};
  // What sshd would do with the last argv element: hand it to the login shell.
  ExecRequest remote{{"sh", "-c", t.ssh_argv(*t.command_line(req)).back()}, {}, "", std::chrono::seconds(10), SshTransport::env_stdin(req)};
  auto r = run_process(remote);
  REQUIRE(r);
  INFO(r->err);
  CHECK(r->exit_code == 0);
  CHECK(r->out == "multi\nline = value |it's $HOME|the command's own input\n");
}

TEST_CASE("a command without an environment is sent as it is", "[ssh]") {
  SshTransport t = host();
  ExecRequest req{{"true"}, {}, "", {}, "in"};
  CHECK(t.ssh_argv(*t.command_line(req)).back() == "'true'");
  CHECK(SshTransport::env_stdin(req) == "in");
}

TEST_CASE("control sockets of a long state directory live in a short private directory", "[ssh]") {
  const std::string long_dir = "/tmp/" + std::string(120, 'x') + "/ssh";
  SshTransport t = host(long_dir);
  CHECK(t.control_dir().size() + 1 + 40 + 17 <= 107);
  CHECK(t.control_dir().starts_with("/tmp/converge-"));
  SshTransport again = host(long_dir);
  CHECK(again.control_dir() == t.control_dir());  // the same state directory, the same sockets
  CHECK(host("/tmp/s").control_dir() == "/tmp/s");
}

TEST_CASE("an ssh failure always says why", "[ssh]") {
  // A stand-in `ssh` first on PATH: it exits 255 (ssh's own failure) with nothing on stderr,
  // as a dropped connection may, or with ssh's message.
  char tmpl[] = "/tmp/converge-ssh-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  const std::string dir = tmpl;
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (dir + ":" + old_path).c_str(), 1);
  auto fake = [&](const std::string& body) {
    std::ofstream(dir + "/ssh") << "#!/bin/sh\n" << body << "\n";
    ::chmod((dir + "/ssh").c_str(), 0755);
  };
  SshTransport t = host();
  SECTION("silent") {
    fake("exit 255");
    auto r = t.run({{"true"}, {}, "", std::chrono::seconds(10), ""});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::unreachable);
    CHECK(r.error().message == "ssh to web1 failed: ssh exited 255 and said nothing (the connection was dropped, or the "
                               "remote command exited 255)");
  }
  SECTION("with ssh's own words") {
    fake("echo 'ssh: connect to host 10.9.8.7 port 2222: Connection refused' >&2; exit 255");
    auto r = t.run({{"true"}, {}, "", std::chrono::seconds(10), ""});
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "ssh to web1 failed: ssh: connect to host 10.9.8.7 port 2222: Connection refused");
  }
  SECTION("an unknown host key") {
    fake("echo 'No ED25519 host key is known for 10.9.8.7 and you have requested strict checking.' >&2; "
         "echo 'Host key verification failed.' >&2; exit 255");
    auto r = t.run({{"true"}, {}, "", std::chrono::seconds(10), ""});
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "ssh to web1: the host key of 10.9.8.7 is not in known_hosts (add it, or set host_key: "
                               "accept-new in the node's ssh transport)");
  }
  SECTION("a changed host key") {
    fake("echo '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @' >&2; "
         "echo 'Host key verification failed.' >&2; exit 255");
    auto r = t.run({{"true"}, {}, "", std::chrono::seconds(10), ""});
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::StartsWith("ssh to web1: the host key of 10.9.8.7 has CHANGED"));
  }
  ::setenv("PATH", old_path.c_str(), 1);
  std::filesystem::remove_all(dir);
}

TEST_CASE("host keys are checked strictly unless accept-new is asked for, before the free-form options", "[ssh]") {
  ExecRequest req{{"true"}, {}, "", {}, ""};
  auto option = [](const std::vector<std::string>& argv, const std::string& name) -> std::string {
    for (std::size_t i = 0; i + 1 < argv.size(); ++i)
      if (argv[i] == "-o" && argv[i + 1].starts_with(name + "=")) return argv[i + 1].substr(name.size() + 1);
    return "(none)";
  };
  TransportSpec spec;
  spec.kind = "ssh";
  spec.options = {"StrictHostKeyChecking=no"};  // cannot loosen the policy: ssh takes the first value
  auto strict = SshTransport("h", spec, "/tmp/s").ssh_argv("true");
  CHECK(option(strict, "StrictHostKeyChecking") == "yes");
  CHECK(option(strict, "UserKnownHostsFile") == "(none)");
  spec.host_key = "accept-new";
  spec.known_hosts = "/etc/converge/known_hosts";
  auto relaxed = SshTransport("h", spec, "/tmp/s").ssh_argv("true");
  CHECK(option(relaxed, "StrictHostKeyChecking") == "accept-new");
  CHECK(option(relaxed, "UserKnownHostsFile") == "\"/etc/converge/known_hosts\"");
  spec.known_hosts = "/srv/my keys/100%/known_hosts";
  CHECK(option(SshTransport("h", spec, "/tmp/s").ssh_argv("true"), "UserKnownHostsFile") == "\"/srv/my keys/100%%/known_hosts\"");
}
