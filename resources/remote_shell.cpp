#include "resources/remote_shell.h"

#include <charconv>
#include <cstdint>

#include "resources/shell_batch.h"

namespace converge {

namespace {

constexpr std::string_view kCmdMeta = "\"^&|<>()!";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

Error refused(const std::string& why) { return make_error(ErrorCode::invalid_input, why); }

std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kB64[v & 63] : '=';
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  std::uint32_t v = 0;
  int bits = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size()) return std::nullopt;
      continue;
    }
    const char* p = std::char_traits<char>::find(kB64, 64, c);
    if (!p) return std::nullopt;
    v = (v << 6) | static_cast<std::uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

/// UTF-8 to UTF-16LE (what -EncodedCommand takes); invalid bytes become U+FFFD.
std::string utf16le(std::string_view s) {
  std::string out;
  auto unit = [&](std::uint32_t u) { out += static_cast<char>(u & 0xff), out += static_cast<char>(u >> 8); };
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xfffd;
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = len != 0 && i + len <= s.size();
    for (std::size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (!valid) {
      ++i;  // one byte that starts no valid sequence: U+FFFD, and the next byte is read afresh
    } else {
      cp = len == 1 ? c : c & (0x7f >> len);
      for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
      i += len;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xd800 | (cp >> 10)), unit(0xdc00 | (cp & 0x3ff));
    } else {
      unit(cp);
    }
  }
  return out;
}

std::optional<std::string> from_utf16le(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  auto put = [&](std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f)), out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  };
  for (std::size_t i = 0; i < s.size(); i += 2) {
    std::uint32_t u = static_cast<unsigned char>(s[i]) | static_cast<unsigned char>(s[i + 1]) << 8;
    if (u >= 0xd800 && u < 0xdc00 && i + 3 < s.size()) {
      std::uint32_t lo = static_cast<unsigned char>(s[i + 2]) | static_cast<unsigned char>(s[i + 3]) << 8;
      if (lo >= 0xdc00 && lo < 0xe000) {
        put(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
        i += 2;
        continue;
      }
    }
    put(u);
  }
  return out;
}

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// The words of argv single-quoted for PowerShell, joined by `sep`. Refuses what Windows
/// PowerShell 5.1 would pass a native program wrongly.
Result<std::string> ps_words(const std::vector<std::string>& argv, const char* sep) {
  if (argv.empty()) return std::unexpected(refused("no program to run"));
  std::string s;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    // Windows PowerShell 5.1 quotes a native program's argument holding a blank as "...",
    // escaping nothing: an empty one, one holding '"' or ending in '\' arrives wrong.
    if (a.empty() || a.find('"') != std::string::npos || (a.back() == '\\' && a.find_first_of(" \t") != std::string::npos))
      return std::unexpected(refused("Windows PowerShell passes an empty argument, one holding '\"' or one with a blank "
                                     "ending in '\\' wrongly to a program; use shell: cmd for this node"));
    // PowerShell also ends a single-quoted string at U+2018-U+201B.
    for (const char* q : {"\u2018", "\u2019", "\u201a", "\u201b"})
      if (a.find(q) != std::string::npos)
        return std::unexpected(refused("an argument holding a typographic single quote cannot go through PowerShell; use shell: cmd"));
    if (has_line_break(a)) return std::unexpected(refused("a line break in an argument cannot go through PowerShell"));
    if (i) s += sep;
    s += '\'';
    for (char c : a) s += c == '\'' ? std::string("''") : std::string(1, c);
    s += '\'';
  }
  return s;
}

/// Reads single-quoted PowerShell words separated by `sep` from the front of `s` up to
/// `end`; advances `s` past `end`.
Result<std::vector<std::string>> read_ps_words(std::string_view& s, std::string_view sep, std::string_view end) {
  std::vector<std::string> words;
  for (;;) {
    if (s.empty() || s.front() != '\'') return std::unexpected(refused("a word that is not single-quoted"));
    std::string w;
    std::size_t i = 1;
    for (;; ++i) {
      if (i >= s.size()) return std::unexpected(refused("an unclosed quote"));
      if (s[i] == '\'') {
        if (i + 1 < s.size() && s[i + 1] == '\'') {
          w += '\'', ++i;
          continue;
        }
        break;
      }
      w += s[i];
    }
    words.push_back(std::move(w));
    s.remove_prefix(i + 1);
    if (s.starts_with(end)) {
      s.remove_prefix(end.size());
      return words;
    }
    if (!s.starts_with(sep)) return std::unexpected(refused("words not separated as written"));
    s.remove_prefix(sep.size());
  }
}

/// The batch's fixed part: R runs one argv, its stdout and stderr apart, and prints its line.
constexpr std::string_view kPsBatchHead =
    "$ErrorActionPreference='Continue'\n"
    "$u=New-Object Text.UTF8Encoding $false\n"
    "function R([int]$i,[string[]]$a){\n"
    " $p=Get-Command -CommandType Application -TotalCount 1 -Name $a[0] -ErrorAction SilentlyContinue\n"
    " $r=@();if($a.Length -gt 1){$r=$a[1..($a.Length-1)]}\n"
    " $global:LASTEXITCODE=9009\n"
    " if($null -eq $p){$e=\"'\"+$a[0]+\"' is not recognized as an internal or external command\"}else{$e=$($o=& $p @r) 2>&1}\n"
    " $os='';if($null -ne $o){$os=(@($o) -join \"`n\")+\"`n\"}\n"
    " $es='';if($null -ne $e){$es=(@($e|ForEach-Object{$_.ToString()}) -join \"`n\")+\"`n\"}\n"
    " [Console]::Out.Write($b+' '+$i+' '+$global:LASTEXITCODE+' '+[Convert]::ToBase64String($u.GetBytes($os))+' '+"
    "[Convert]::ToBase64String($u.GetBytes($es))+\"`n\")\n"
    "}\n";

constexpr std::string_view kExitMark = "converge-exit:";
constexpr std::string_view kCmdTrailer = " & 1>&2 call echo converge-exit:%^errorlevel%";
/// The single command's script: `kPsCall` 'PROGRAM') 'ARG' ... `kPsExit`. The program is
/// looked up as an application (`sc` is Set-Content's alias in PowerShell, not sc.exe); one
/// not found leaves the status at 9009, as cmd.exe says of an unknown command.
constexpr std::string_view kPsCall = "$global:LASTEXITCODE=9009; & (Get-Command -CommandType Application -TotalCount 1 -Name ";
constexpr std::string_view kPsExit = "; $c = $global:LASTEXITCODE; [Console]::Error.Write(\"converge-exit:$c\"); exit $c";

}  // namespace

std::optional<RemoteShell> parse_remote_shell(std::string_view name) {
  if (name == "posix") return RemoteShell::posix;
  if (name == "cmd") return RemoteShell::cmd;
  if (name == "powershell") return RemoteShell::powershell;
  return std::nullopt;
}

std::string windows_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos) return arg;
  std::string out = "\"";
  std::size_t slashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++slashes;
      continue;
    }
    // Backslashes count only before a quote: double them there, and escape the quote.
    out.append(c == '"' ? slashes * 2 + 1 : slashes, '\\');
    slashes = 0;
    out += c;
  }
  out.append(slashes * 2, '\\');  // before the closing quote
  return out + "\"";
}

Result<std::string> cmd_line(const std::vector<std::string>& argv) {
  std::string line;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (has_line_break(argv[i])) return std::unexpected(refused("cmd.exe cannot pass a line break in an argument"));
    if (i) line += ' ';
    for (char c : windows_quote(argv[i])) {
      // '%' cannot be escaped with '^' (%PATH:a=b^% still expands): %%cd:~,% is '%' and
      // the empty substring of CD, after which no name can start.
      if (c == '%') line += "%%cd:~,%";
      else if (kCmdMeta.find(c) != std::string_view::npos) line += '^', line += c;
      else line += c;
    }
  }
  return line + std::string(kCmdTrailer);
}

std::optional<int> take_exit_trailer(std::string& err) {
  std::size_t at = err.rfind(kExitMark);
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest(err.data() + at + kExitMark.size(), err.size() - at - kExitMark.size());
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == '\r' || rest.back() == ' ')) rest.remove_suffix(1);
  long long v = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), v);
  if (rest.empty() || ec != std::errc() || p != rest.data() + rest.size() || v < INT32_MIN || v > UINT32_MAX) return std::nullopt;
  err.erase(at);
  return static_cast<int>(static_cast<std::int32_t>(v));
}

std::string exit_trailer(int code) { return std::string(kExitMark) + std::to_string(code) + "\r\n"; }

Result<std::string> powershell_script(const std::vector<std::string>& argv) {
  CONVERGE_TRY(std::string words, ps_words(argv, " "));  // every word checked
  CONVERGE_TRY(std::string program, ps_words({argv.front()}, " "));
  return std::string(kPsCall) + program + ")" + words.substr(program.size()) + std::string(kPsExit);
}

Result<std::string> powershell_batch(const std::vector<std::vector<std::string>>& argvs, const std::string& boundary) {
  std::string s = "$b='" + boundary + "'\n" + std::string(kPsBatchHead);
  for (std::size_t i = 0; i < argvs.size(); ++i) {
    CONVERGE_TRY(std::string words, ps_words(argvs[i], ","));
    s += "R " + std::to_string(i) + " @(" + words + ")\n";
  }
  return s;
}

std::string powershell_batch_line(const std::string& boundary, std::size_t index, int status, const std::string& out,
                                  const std::string& err) {
  return boundary + " " + std::to_string(index) + " " + std::to_string(status) + " " + base64(out) + " " + base64(err) + "\n";
}

std::vector<Result<ExecResult>> read_powershell_batch(const std::string& out, const std::string& boundary, std::size_t n,
                                                      bool timed_out, const std::string& why_missing) {
  std::vector<std::optional<ExecResult>> got(n);
  for (std::size_t at = 0; at < out.size();) {
    std::size_t eol = out.find('\n', at);
    if (eol == std::string::npos) break;  // a line cut short is no line
    std::string_view line(out.data() + at, eol - at);
    at = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.starts_with(boundary + " ")) continue;
    line.remove_prefix(boundary.size() + 1);
    std::vector<std::string_view> f;
    for (std::size_t sp; (sp = line.find(' ')) != std::string_view::npos; line.remove_prefix(sp + 1)) f.push_back(line.substr(0, sp));
    f.push_back(line);
    std::size_t index = 0;
    long long status = 0;
    if (f.size() != 4 || std::from_chars(f[0].data(), f[0].data() + f[0].size(), index).ptr != f[0].data() + f[0].size() ||
        std::from_chars(f[1].data(), f[1].data() + f[1].size(), status).ptr != f[1].data() + f[1].size() || index >= n)
      continue;
    auto o = unbase64(f[2]);
    auto e = unbase64(f[3]);
    if (!o || !e) continue;
    ExecResult r;
    r.exit_code = static_cast<int>(status);
    r.out = std::move(*o);
    r.err = std::move(*e);
    got[index] = std::move(r);
  }
  std::vector<Result<ExecResult>> results;
  for (auto& g : got) {
    if (g) results.emplace_back(std::move(*g));
    else if (timed_out) results.emplace_back(ExecResult{-1, true, "", ""});
    else results.emplace_back(std::unexpected(make_error(ErrorCode::io, why_missing)));
  }
  return results;
}

std::string powershell_encoded(const std::string& script) {
  return "powershell.exe -NoProfile -NonInteractive -EncodedCommand " + base64(utf16le(script));
}

std::vector<std::string> split_windows_line(std::string_view line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  auto skip_blanks = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  skip_blanks();
  if (i == line.size()) return out;
  // The program: up to the next blank, quotes toggling; no backslash escapes.
  std::string prog;
  bool quoted = false;
  for (; i < line.size() && (quoted || (line[i] != ' ' && line[i] != '\t')); ++i) {
    if (line[i] == '"') quoted = !quoted;
    else prog += line[i];
  }
  out.push_back(std::move(prog));
  for (;;) {
    skip_blanks();
    if (i >= line.size()) break;
    std::string word;
    quoted = false;
    while (i < line.size() && (quoted || (line[i] != ' ' && line[i] != '\t'))) {
      std::size_t slashes = 0;
      while (i < line.size() && line[i] == '\\') ++slashes, ++i;
      if (i < line.size() && line[i] == '"') {
        word.append(slashes / 2, '\\');
        if (slashes % 2) {
          word += '"';
        } else if (quoted && i + 1 < line.size() && line[i + 1] == '"') {
          word += '"';  // "" inside quotes: a literal quote (the C runtime since 2008)
          ++i;
        } else {
          quoted = !quoted;
        }
        ++i;
      } else {
        word.append(slashes, '\\');
        if (i < line.size() && (quoted || (line[i] != ' ' && line[i] != '\t'))) word += line[i++];
      }
    }
    out.push_back(std::move(word));
  }
  return out;
}

Result<std::string> cmd_unescape(std::string_view line, const std::vector<std::string>& env_names) {
  // Phase 1, %NAME% (or %NAME:MODIFIER%) expansion, as at cmd.exe's command line: a
  // variable that is set (CD always is) would be replaced, which only the empty substring
  // %CD:~,% may be; anything else leaves its '%' as it is, the scan going on after it.
  std::string line1;
  for (std::size_t i = 0; i < line.size();) {
    const std::size_t end = line[i] == '%' ? line.find('%', i + 1) : std::string_view::npos;
    if (end == std::string_view::npos) {
      line1 += line[i++];
      continue;
    }
    const std::string_view name = line.substr(i + 1, end - i - 1);
    const std::string_view var = name.substr(0, name.find(':'));
    bool set = iequals(var, "cd");
    for (const auto& n : env_names) set = set || iequals(n, var);
    if (!set) {
      line1 += line[i++];
      continue;
    }
    if (!iequals(name, "cd:~,")) return std::unexpected(refused("cmd.exe would expand %" + std::string(name) + "% in this line"));
    i = end + 1;  // expands to nothing
  }
  line = line1;
  std::string out;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '^') {
      if (++i == line.size()) break;
      c = line[i];
    } else if (!quoted && std::string_view("&|<>").find(c) != std::string_view::npos) {
      return std::unexpected(refused(std::string("cmd.exe would read an unescaped '") + c + "' as an operator"));
    }
    out += c;
  }
  return out;
}

namespace {

/// The script of a `powershell.exe -NoProfile -NonInteractive -EncodedCommand B64` argv;
/// nullopt when argv is no such call.
Result<std::optional<std::string>> encoded_script(const std::vector<std::string>& argv) {
  using Out = std::optional<std::string>;
  if (argv.size() != 5) return Out{};
  const std::size_t slash = argv[0].find_last_of("\\/");
  const std::string prog = argv[0].substr(slash == std::string::npos ? 0 : slash + 1);
  if (!iequals(prog, "powershell.exe") && !iequals(prog, "powershell")) return Out{};
  if (!iequals(argv[1], "-NoProfile") || !iequals(argv[2], "-NonInteractive") || !iequals(argv[3], "-EncodedCommand"))
    return Out{};
  auto bytes = unbase64(argv[4]);
  std::optional<std::string> script = bytes ? from_utf16le(*bytes) : std::nullopt;
  if (!script) return std::unexpected(refused("-EncodedCommand is not base64 of UTF-16LE text"));
  return Out{std::move(*script)};
}

/// A powershell_batch() script: its boundary and argvs.
Result<HostCommand> read_batch_script(std::string_view s) {
  HostCommand c;
  if (!s.starts_with("$b='")) return std::unexpected(refused("not a batch"));
  s.remove_prefix(4);
  const std::size_t q = s.find("'\n");
  if (q == std::string_view::npos) return std::unexpected(refused("the batch's boundary is not closed"));
  c.boundary = std::string(s.substr(0, q));
  s.remove_prefix(q + 2);
  if (!s.starts_with(kPsBatchHead)) return std::unexpected(refused("the batch's head is not the one converge writes"));
  s.remove_prefix(kPsBatchHead.size());
  while (!s.empty()) {
    const std::string head = "R " + std::to_string(c.argvs.size()) + " @(";
    if (!s.starts_with(head)) return std::unexpected(refused("batch line " + std::to_string(c.argvs.size()) + " is not `" + head + "...)`"));
    s.remove_prefix(head.size());
    auto words = read_ps_words(s, ",", ")\n");
    if (!words) return std::unexpected(refused("batch line " + std::to_string(c.argvs.size()) + ": " + words.error().message));
    c.argvs.push_back(std::move(*words));
  }
  if (c.argvs.empty()) return std::unexpected(refused("the batch runs nothing"));
  return c;
}

}  // namespace

Result<std::optional<std::vector<std::string>>> decode_powershell_call(const std::vector<std::string>& argv) {
  using Out = std::optional<std::vector<std::string>>;
  CONVERGE_TRY(std::optional<std::string> script, encoded_script(argv));
  if (!script) return Out{};
  std::string_view s = *script;
  if (!s.starts_with(kPsCall) || !s.ends_with(kPsExit))
    return std::unexpected(refused("the encoded script is not a program's call and the exit trailer as converge writes them"));
  s.remove_prefix(kPsCall.size());
  auto program = read_ps_words(s, "", ")");
  if (!program || program->size() != 1) return std::unexpected(refused("the encoded script's program is not as converge writes it"));
  if (s == kPsExit) return Out{std::move(*program)};
  if (!s.starts_with(" ")) return std::unexpected(refused("the encoded script's words are not as converge writes them"));
  s.remove_prefix(1);
  auto words = read_ps_words(s, " ", kPsExit);
  if (!words || !s.empty()) return std::unexpected(refused("the encoded script's words are not as converge writes them"));
  words->insert(words->begin(), std::move(program->front()));
  return Out{std::move(*words)};
}

Result<std::vector<std::string>> split_posix_words(std::string_view line) {
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    std::string w;
    while (i < line.size() && line[i] != ' ') {
      if (line.substr(i).starts_with("\\'")) {
        w += '\'', i += 2;
      } else if (line[i] == '\'') {
        std::size_t end = line.find('\'', i + 1);
        if (end == std::string_view::npos) return std::unexpected(refused("an unclosed single quote"));
        w.append(line.substr(i + 1, end - i - 1)), i = end + 1;
      } else {
        return std::unexpected(refused(std::string("'") + line[i] + "' outside quotes: only single-quoted words are served"));
      }
    }
    words.push_back(std::move(w));
  }
  return words;
}

Result<HostCommand> host_command(RemoteShell shell, std::string_view line, const std::vector<std::string>& env_names) {
  if (shell == RemoteShell::posix) {
    CONVERGE_TRY(auto words, split_posix_words(line));
    return HostCommand{{std::move(words)}, ""};
  }
  // Under either Windows shell the line goes through cmd.exe /c first (OpenSSH for
  // Windows' default). A cmd command ends with its exit trailer; anything else must be an
  // encoded PowerShell call or batch.
  const bool one_cmd = shell == RemoteShell::cmd && line.ends_with(kCmdTrailer);
  if (one_cmd) line.remove_suffix(kCmdTrailer.size());
  CONVERGE_TRY(std::string plain, cmd_unescape(line, env_names));
  std::vector<std::string> argv = split_windows_line(plain);
  if (argv.empty()) return std::unexpected(refused("the line runs nothing"));
  if (one_cmd) return HostCommand{{std::move(argv)}, ""};
  CONVERGE_TRY(std::optional<std::string> script, encoded_script(argv));
  if (!script) return std::unexpected(refused(shell == RemoteShell::cmd ? "the line does not end with the exit trailer"
                                                                        : "the line is not an encoded PowerShell call"));
  if (script->starts_with("$b='")) return read_batch_script(*script);
  CONVERGE_TRY(auto one, decode_powershell_call(argv));
  return HostCommand{{std::move(*one)}, ""};
}

Result<std::vector<std::string>> host_argv(RemoteShell shell, std::string_view line, const std::vector<std::string>& env_names) {
  CONVERGE_TRY(HostCommand c, host_command(shell, line, env_names));
  if (!c.boundary.empty()) return std::unexpected(refused("the line is a batch"));
  return std::move(c.argvs.front());
}

}  // namespace converge
