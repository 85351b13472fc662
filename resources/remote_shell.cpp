#include "resources/remote_shell.h"

#include <charconv>
#include <cstdint>

#include "resources/shell_batch.h"

namespace converge {

namespace {

constexpr std::string_view kCmdMeta = "\"^&|<>()%!";
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
    if (len == 0 || i + len > s.size()) {
      ++i;
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

constexpr std::string_view kExitMark = "converge-exit:";
constexpr std::string_view kCmdTrailer = " & 1>&2 call echo converge-exit:%^errorlevel%";
constexpr std::string_view kPsExit = "; $c = $LASTEXITCODE; [Console]::Error.Write(\"converge-exit:$c\"); exit $c";

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
      if (kCmdMeta.find(c) != std::string_view::npos) line += '^';
      line += c;
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
  if (argv.empty()) return std::unexpected(refused("no program to run"));
  std::string s = "& ";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.empty() || a.find('"') != std::string::npos)
      return std::unexpected(refused("Windows PowerShell passes an empty argument or one holding '\"' wrongly to a "
                                     "program; use shell: cmd for this node"));
    if (has_line_break(a)) return std::unexpected(refused("a line break in an argument cannot go through PowerShell"));
    if (i) s += ' ';
    s += '\'';
    for (char c : a) s += c == '\'' ? std::string("''") : std::string(1, c);
    s += '\'';
  }
  return s + std::string(kPsExit);
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
  // Phase 1, %NAME% expansion: a name that is set would be replaced.
  for (std::size_t at = line.find('%'); at != std::string_view::npos; at = line.find('%', at + 1)) {
    std::size_t end = line.find('%', at + 1);
    if (end == std::string_view::npos) break;
    std::string_view name = line.substr(at + 1, end - at - 1);
    for (const auto& n : env_names)
      if (iequals(n, name))
        return std::unexpected(refused("cmd.exe would expand %" + std::string(name) + "% in this line"));
  }
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

Result<std::optional<std::vector<std::string>>> decode_powershell_call(const std::vector<std::string>& argv) {
  using Out = std::optional<std::vector<std::string>>;
  if (argv.size() != 5) return Out{};
  std::string prog = argv[0].substr(argv[0].find_last_of("\\/") == std::string::npos ? 0 : argv[0].find_last_of("\\/") + 1);
  if (!iequals(prog, "powershell.exe") && !iequals(prog, "powershell")) return Out{};
  if (!iequals(argv[1], "-NoProfile") || !iequals(argv[2], "-NonInteractive") || !iequals(argv[3], "-EncodedCommand"))
    return Out{};
  auto bytes = unbase64(argv[4]);
  std::optional<std::string> script = bytes ? from_utf16le(*bytes) : std::nullopt;
  if (!script) return std::unexpected(refused("-EncodedCommand is not base64 of UTF-16LE text"));
  std::string_view s = *script;
  if (!s.starts_with("& ") || !s.ends_with(kPsExit))
    return std::unexpected(refused("the encoded script is not `& 'PROGRAM' 'ARG' ...` and the exit trailer"));
  s = s.substr(2, s.size() - 2 - kPsExit.size());
  std::vector<std::string> words;
  std::size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '\'') return std::unexpected(refused("the encoded script has a word that is not single-quoted"));
    std::string w;
    for (++i;; ++i) {
      if (i >= s.size()) return std::unexpected(refused("the encoded script has an unclosed quote"));
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
    if (++i < s.size() && s[i++] != ' ') return std::unexpected(refused("the encoded script's words are not separated by spaces"));
  }
  if (words.empty()) return std::unexpected(refused("the encoded script runs nothing"));
  return Out{std::move(words)};
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

Result<std::vector<std::string>> host_argv(RemoteShell shell, std::string_view line, const std::vector<std::string>& env_names) {
  if (shell == RemoteShell::posix) return split_posix_words(line);
  // Under either Windows shell the line goes through cmd.exe /c first (OpenSSH for
  // Windows' default); a powershell line is one encoded call, which its trailer ends.
  if (shell == RemoteShell::cmd) {
    if (!line.ends_with(kCmdTrailer)) return std::unexpected(refused("the line does not end with the exit trailer"));
    line.remove_suffix(kCmdTrailer.size());
  }
  CONVERGE_TRY(std::string plain, cmd_unescape(line, env_names));
  std::vector<std::string> argv = split_windows_line(plain);
  if (argv.empty()) return std::unexpected(refused("the line runs nothing"));
  CONVERGE_TRY(auto inner, decode_powershell_call(argv));
  if (shell == RemoteShell::powershell) {
    if (!inner) return std::unexpected(refused("the line is not an encoded PowerShell call"));
    return std::move(*inner);
  }
  return argv;
}

}  // namespace converge
