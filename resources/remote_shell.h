// resources/remote_shell.h — how a command's argv becomes the one line an ssh server hands
// to the host's shell, and back.
//
// OpenSSH sends a command as a single string; the server gives it to the user's shell:
//   posix       `sh -c LINE` (Linux, the BSDs): every word single-quoted.
//   cmd         OpenSSH for Windows' default, `cmd.exe /c LINE`: every word quoted as the
//               Microsoft C runtime splits a command line (CommandLineToArgvW), then every
//               character cmd.exe gives a meaning (" ^ & | < > ( ) !) escaped with ^ and
//               every % written %%cd:~,% (a '%' and an empty substring of CD, which no
//               %NAME% or %NAME:MODIFIER% can span), so cmd.exe runs exactly one program and
//               expands no variable.
//   powershell  whatever the default shell: `powershell.exe -NoProfile -NonInteractive
//               -EncodedCommand B64`, the script `& 'PROGRAM' 'ARG' ...` and the trailer
//               below, in UTF-16LE base64, so no shell of the host parses any value.
//               The program is looked up as an application (never an alias: `sc` is
//               Set-Content's). Windows PowerShell 5.1 passes a native program an empty
//               argument, one holding '"' or one with a blank ending in '\' wrongly, and
//               ends a quoted string at a typographic quote too, so those are refused.
// The ssh client exits with the low 8 bits of the remote status, and Windows programs exit
// with 32-bit codes (3010: restart required; 1056: already running). So a Windows line ends
// with a trailer that prints the whole status last on stderr, `converge-exit:N`: for cmd,
// ` & 1>&2 call echo converge-exit:%^errorlevel%` (the caret keeps cmd.exe from expanding
// it while it reads the line; `call` expands it after the program ran).
// The parsers are what the host does with such a line (the lab's `converge lab serve`
// answers as a Windows host behind a real sshd with them; the tests check the quoting
// against the C runtime's documented examples). Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/model/error.h"
#include "resources/transport.h"

namespace converge {

enum class RemoteShell { posix, cmd, powershell };

/// "posix", "cmd" or "powershell"; nullopt for anything else.
[[nodiscard]] std::optional<RemoteShell> parse_remote_shell(std::string_view name);

/// One argument quoted so that CommandLineToArgvW (and the C runtime) gives it back:
/// `"a b"`, `"say \"hi\""`, `"C:\dir\\"`; a word with no space, tab or quote as it is.
[[nodiscard]] std::string windows_quote(const std::string& arg);

/// The line for cmd.exe /c: the words windows_quote()d, joined by spaces, every cmd.exe
/// metacharacter escaped with '^', then the exit trailer. A word holding a line break is
/// refused (cmd.exe ends a command there).
[[nodiscard]] Result<std::string> cmd_line(const std::vector<std::string>& argv);

/// The PowerShell script that runs argv as a native program, prints the exit trailer and
/// exits with its status. Refuses an empty word and a word holding '"' (see above), and a
/// line break.
[[nodiscard]] Result<std::string> powershell_script(const std::vector<std::string>& argv);

/// The command line that runs `script` in PowerShell whatever the default shell:
/// `powershell.exe -NoProfile -NonInteractive -EncodedCommand BASE64(UTF-16LE(script))`.
[[nodiscard]] std::string powershell_encoded(const std::string& script);

/// Several commands for a Windows host in one round trip: a PowerShell script (to send
/// with powershell_encoded()) that runs each argv in order as a native program and prints,
/// for each, one line "BOUNDARY INDEX STATUS BASE64(STDOUT) BASE64(STDERR)" (UTF-8; lines
/// ending "\n": PowerShell hands a native program's output back by lines). `boundary` is
/// of letters, digits and '-'. Refuses what powershell_script() refuses.
[[nodiscard]] Result<std::string> powershell_batch(const std::vector<std::vector<std::string>>& argvs,
                                                   const std::string& boundary);

/// The line a host prints for one command of a powershell_batch().
[[nodiscard]] std::string powershell_batch_line(const std::string& boundary, std::size_t index, int status,
                                                const std::string& out, const std::string& err);

/// The results of a powershell_batch() of `n` commands from what it printed: a command
/// whose line is missing is timed out when the batch was (`timed_out`), else an error
/// saying `why_missing`.
[[nodiscard]] std::vector<Result<ExecResult>> read_powershell_batch(const std::string& out, const std::string& boundary,
                                                                           std::size_t n, bool timed_out,
                                                                           const std::string& why_missing);

/// Takes the exit trailer off the end of a Windows command's stderr: the program's whole
/// exit status; nullopt (and `err` unchanged) when there is none (the connection dropped,
/// the program could not start).
[[nodiscard]] std::optional<int> take_exit_trailer(std::string& err);

/// The trailer a host prints for `code` (what `converge lab serve` writes).
[[nodiscard]] std::string exit_trailer(int code);

// --- What the host does with a line ----------------------------------------------------

/// CommandLineToArgvW: the words of a Windows command line (the first word, the program,
/// by its own rule: up to the next space outside quotes, backslashes literal).
[[nodiscard]] std::vector<std::string> split_windows_line(std::string_view line);

/// What cmd.exe /c does to LINE before it starts the program: '^' escapes the next
/// character outside quotes, '"' toggles quoting; an unescaped & | < > outside quotes (a
/// second command, a redirection) is refused, as is a %NAME% that names a variable of
/// `env` (cmd.exe would expand it: the line was not escaped for cmd.exe).
[[nodiscard]] Result<std::string> cmd_unescape(std::string_view line, const std::vector<std::string>& env_names = {});

/// The argv a `powershell.exe ... -EncodedCommand B64` call runs, when `argv` is one whose
/// script has the form powershell_script() writes; nullopt when argv is not such a call; an
/// error when it is one whose script has another form.
[[nodiscard]] Result<std::optional<std::vector<std::string>>> decode_powershell_call(const std::vector<std::string>& argv);

/// The argv a POSIX shell would run for a line of single-quoted words (what the ssh
/// transport sends a POSIX host without an environment or directory). Anything else refused.
[[nodiscard]] Result<std::vector<std::string>> split_posix_words(std::string_view line);

/// What a host runs for a line: one program, or the programs of a PowerShell batch.
struct HostCommand {
  std::vector<std::vector<std::string>> argvs;  ///< one argv, or a batch's in order
  std::string boundary;                         ///< a batch's; empty for one program
};

/// The program(s) a host whose sshd runs `shell` starts for `line`, a line the ssh
/// transport writes for that shell: one command (for cmd and powershell, with its exit
/// trailer), or a batch (powershell_batch(), encoded, under either Windows shell).
/// `env_names`: the host's environment variables (cmd.exe expands them).
[[nodiscard]] Result<HostCommand> host_command(RemoteShell shell, std::string_view line,
                                               const std::vector<std::string>& env_names = {});

/// host_command() of a line that runs one program: its argv (a batch is refused).
[[nodiscard]] Result<std::vector<std::string>> host_argv(RemoteShell shell, std::string_view line,
                                                         const std::vector<std::string>& env_names = {});

}  // namespace converge
