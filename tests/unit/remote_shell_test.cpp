// resources/remote_shell.h: argv to the line a Windows (or POSIX) host's shell runs, and
// back. The splitter is pinned by the Microsoft C runtime's documented examples
// ("Parsing C command-line arguments"); the writers must survive a trip through it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "resources/remote_shell.h"
#include "resources/shell_batch.h"
#include "resources/ssh_transport.h"

using namespace converge;
using Words = std::vector<std::string>;

namespace {

/// Words no shell may touch: quotes, backslashes at the end and before quotes, cmd.exe's
/// operators and variables, PowerShell's, POSIX's, blanks and non-ASCII text.
const std::vector<Words> kTricky = {
    {"sc.exe", "query", "SharedAccess"},
    {"D:\\setup.com", "/mode:upgrade", "/targetDir:C:\\Program Files\\Exchange"},
    {"reg.exe", "query", "HKLM\\SOFTWARE\\Microsoft\\NET Framework Setup\\NDP\\v2.0.50727", "/v", "SP"},
    {"prog", "a\"b", "\"quoted\"", "back\\\\", "trail\\", "mid\\\"q", "\\\\server\\share\\"},
    {"prog", "100%", "%PATH%", "%^PATH%", "%PATH:a=b%", "%PATH:~0,1%", "%%", "!x!", "a^b", "x & del C:\\x", "a|b", "<in", ">out", "(y)"},
    {"prog", "$env:PATH", "$(whoami)", "`tick`", "'single'", "a;b", "@splat", "-Command"},
    {"prog", "tab\there", "two  spaces", " lead", "trail ", "Ünïcödé ✓", "日本"},
    {"prog", "C:\\dir with blank\\", "C:\\x\\"},
};

}  // namespace

TEST_CASE("the Windows splitter follows the C runtime's documented examples", "[remote_shell]") {
  // Microsoft's table: input -> argv[1..3].
  CHECK(split_windows_line(R"(p "a b c" d e)") == Words{"p", "a b c", "d", "e"});
  CHECK(split_windows_line(R"(p "ab\"c" "\\" d)") == Words{"p", "ab\"c", "\\", "d"});
  CHECK(split_windows_line(R"(p a\\\b d"e f"g h)") == Words{"p", "a\\\\\\b", "de fg", "h"});
  CHECK(split_windows_line(R"(p a\\\"b c d)") == Words{"p", "a\\\"b", "c", "d"});
  CHECK(split_windows_line(R"(p a\\\\"b c" d e)") == Words{"p", "a\\\\b c", "d", "e"});
  CHECK(split_windows_line(R"(p a"b"" c d)") == Words{"p", "ab\" c d"});
  // The program name: quotes group, backslashes are literal.
  CHECK(split_windows_line(R"("C:\Program Files\x.exe" "" z)") == Words{"C:\\Program Files\\x.exe", "", "z"});
}

TEST_CASE("windows_quote leaves a plain word alone and quotes the rest", "[remote_shell]") {
  CHECK(windows_quote("query") == "query");
  CHECK(windows_quote("") == "\"\"");
  CHECK(windows_quote("a b") == "\"a b\"");
  CHECK(windows_quote("say \"hi\"") == R"("say \"hi\"")");
  CHECK(windows_quote("C:\\dir with space\\") == R"("C:\dir with space\\")");
  CHECK(windows_quote("C:\\no\\space\\") == "C:\\no\\space\\");  // no quote follows: literal
}

TEST_CASE("a cmd line gives back every word, whatever it holds", "[remote_shell]") {
  for (const auto& argv : kTricky) {
    INFO(argv[1]);
    auto line = cmd_line(argv);
    REQUIRE(line);
    // Nothing cmd.exe reads as an operator or a variable is left unescaped: with PATH
    // and ERRORLEVEL set on the host, the line still gives back exactly argv.
    auto back = host_argv(RemoteShell::cmd, *line, {"PATH", "ERRORLEVEL", "x"});
    REQUIRE(back);
    CHECK(*back == argv);
  }
  CHECK_FALSE(cmd_line({"prog", "two\nlines"}));
}

TEST_CASE("an unescaped cmd operator or variable is not mistaken for an argument", "[remote_shell]") {
  CHECK_FALSE(cmd_unescape("prog x & del y"));
  CHECK_FALSE(cmd_unescape("prog >out"));
  CHECK_FALSE(cmd_unescape("prog %PATH%", {"Path"}));
  CHECK_FALSE(cmd_unescape("prog ^%PATH:a=b^%", {"PATH"}));  // a caret does not stop a modifier
  CHECK_FALSE(cmd_unescape("prog %cd%"));                    // CD is always set
  CHECK(*cmd_unescape("prog %%cd:~,%PATH:a=b%%cd:~,%", {"PATH"}) == "prog %PATH:a=b%");
  CHECK(*cmd_unescape("prog %UNSET% 100%") == "prog %UNSET% 100%");
  CHECK(*cmd_unescape("prog \"a & b\"") == "prog \"a & b\"");  // inside quotes: literal
  CHECK(*cmd_unescape("prog ^& ^\"x^\"") == "prog & \"x\"");
  CHECK_FALSE(host_argv(RemoteShell::cmd, "sc.exe query x"));  // no exit trailer: not ours
}

TEST_CASE("a PowerShell call gives back every word, under any default shell", "[remote_shell]") {
  for (const auto& argv : kTricky) {
    if (!powershell_script(argv)) continue;  // what Windows PowerShell would mangle: refused (below)
    INFO(argv[1]);
    auto script = powershell_script(argv);
    REQUIRE(script);
    const std::string line = powershell_encoded(*script);
    CHECK(line.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=.- ") == std::string::npos);
    auto back = host_argv(RemoteShell::powershell, line, {"PATH"});
    REQUIRE(back);
    CHECK(*back == argv);
  }
  CHECK_FALSE(powershell_script({"prog", "a\"b"}));  // Windows PowerShell would mangle it
  CHECK_FALSE(powershell_script({"prog", ""}));
  CHECK_FALSE(powershell_script({"prog", "C:\\Program Files\\"}));
  CHECK(powershell_script({"prog", "C:\\NoBlank\\"}));
  CHECK_FALSE(powershell_script({"prog", "it\u2019s'; Remove-Item C:\\x; '"}));  // a typographic quote ends a string
  // Invalid UTF-8 cannot swallow the quote doubled after it: the words come back balanced.
  auto bad = powershell_script({"prog", "a\xC3'b"});
  REQUIRE(bad);
  auto back = host_argv(RemoteShell::powershell, powershell_encoded(*bad));
  REQUIRE(back);
  CHECK(*back == Words{"prog", "a\uFFFD'b"});
  // The program is an application looked up by name, never an alias; none found is 9009.
  CHECK(bad->find("Get-Command -CommandType Application") != std::string::npos);
  CHECK(bad->find("$global:LASTEXITCODE=9009") < bad->find("& ("));
  CHECK_FALSE(host_argv(RemoteShell::powershell, "sc.exe query x & 1>&2 call echo converge-exit:%^errorlevel%"));
}

TEST_CASE("the exit trailer carries a Windows status past ssh's 8 bits", "[remote_shell]") {
  std::string err = "warning: something\r\n" + exit_trailer(3010);
  CHECK(take_exit_trailer(err) == std::optional<int>(3010));
  CHECK(err == "warning: something\r\n");
  err = "no newline at the end" + exit_trailer(-1073741819);  // 0xC0000005, as a signed status
  CHECK(take_exit_trailer(err) == std::optional<int>(-1073741819));
  CHECK(err == "no newline at the end");
  err = "converge-exit:";  // PowerShell found no program: no status
  CHECK_FALSE(take_exit_trailer(err));
  CHECK(err == "converge-exit:");
  err = "just text";
  CHECK_FALSE(take_exit_trailer(err));
}

TEST_CASE("a POSIX line of quoted words splits back", "[remote_shell]") {
  for (const auto& argv : kTricky) {
    std::string line;
    for (const auto& w : argv) line += (line.empty() ? "" : " ") + shell_quote(w);
    auto back = host_argv(RemoteShell::posix, line);
    REQUIRE(back);
    CHECK(*back == argv);
  }
  CHECK_FALSE(split_posix_words("'a' $(b)"));
}

TEST_CASE("the ssh transport writes a Windows node's line for its shell", "[remote_shell][ssh]") {
  TransportSpec t;
  t.kind = "ssh";
  t.shell = "cmd";
  SshTransport cmd("NODE1", t, "/tmp/s");
  ExecRequest req{{"sc.exe", "config", "SharedAccess", "start=", "auto"}, {}, "", {}, ""};
  auto line = cmd.command_line(req);
  REQUIRE(line);
  CHECK(*host_argv(RemoteShell::cmd, *line) == req.argv);
  CHECK(cmd.files() == nullptr);  // no POSIX filesystem on a Windows host
  req.env = {{"TOKEN", "x"}};
  auto refused = cmd.command_line(req);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("takes no environment"));
  t.shell = "powershell";
  SshTransport ps("NODE2", t, "/tmp/s");
  req.env.clear();
  REQUIRE(ps.command_line(req));
  CHECK(*host_argv(RemoteShell::powershell, *ps.command_line(req)) == req.argv);
  t.shell = "posix";
  CHECK(SshTransport("web1", t, "/tmp/s").files() != nullptr);
}

TEST_CASE("a Windows batch: one encoded script for many commands, read back by boundary", "[remote_shell]") {
  std::vector<Words> argvs;
  for (const auto& w : kTricky)
    if (powershell_script(w)) argvs.push_back(w);
  REQUIRE(argvs.size() >= 4);
  const std::string boundary = "converge-batch-0123abcd";
  auto script = powershell_batch(argvs, boundary);
  REQUIRE(script);
  const std::string line = powershell_encoded(*script);
  for (RemoteShell shell : {RemoteShell::cmd, RemoteShell::powershell}) {
    auto host = host_command(shell, line, {"PATH"});
    REQUIRE(host);
    CHECK(host->boundary == boundary);
    CHECK(host->argvs == argvs);
  }
  CHECK_FALSE(host_argv(RemoteShell::cmd, line));  // a batch is not one program
  CHECK_FALSE(powershell_batch({{"prog", "say \"x\""}}, boundary));

  // What the host prints: a line per command, in any order, among other output; CR LF too.
  std::string out = "noise\r\n" + powershell_batch_line(boundary, 1, 3010, "line 1\nline 2\n", "") +
                    powershell_batch_line("converge-batch-other", 0, 5, "", "") +
                    powershell_batch_line(boundary, 0, 0, std::string("bin\0ary\n", 8), "warn\n");
  out.insert(out.size() - 1, "\r");
  auto got = read_powershell_batch(out, boundary, 3, false, "gone");
  REQUIRE(got[0]);
  CHECK(got[0]->exit_code == 0);
  CHECK(got[0]->out == std::string("bin\0ary\n", 8));
  CHECK(got[0]->err == "warn\n");
  REQUIRE(got[1]);
  CHECK(got[1]->exit_code == 3010);
  CHECK(got[1]->out == "line 1\nline 2\n");
  REQUIRE_FALSE(got[2]);
  CHECK(got[2].error().message == "gone");
  // A line cut short (the connection dropped mid-line) is no result; under a timeout the
  // missing ones timed out.
  std::string cut = powershell_batch_line(boundary, 0, 0, "x", "");
  cut.pop_back();
  auto late = read_powershell_batch(cut, boundary, 1, true, "gone");
  REQUIRE(late[0]);
  CHECK(late[0]->timed_out);
}

TEST_CASE("a Windows command line past cmd.exe's 8191 characters is refused before it is sent", "[remote_shell][ssh]") {
  TransportSpec t;
  t.kind = "ssh";
  for (const char* shell : {"cmd", "powershell"}) {
    t.shell = shell;
    SshTransport host("NODE1", t, "/tmp/s");
    auto ok = host.command_line(ExecRequest{{"prog", std::string(1000, 'x')}, {}, "", {}, ""});
    CHECK(ok);
    auto long_one = host.command_line(ExecRequest{{"prog", std::string(9000, 'x')}, {}, "", {}, ""});
    REQUIRE_FALSE(long_one);
    CHECK_THAT(long_one.error().message, Catch::Contains("cmd.exe takes 8191 at most"));
  }
}
