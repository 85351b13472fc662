// The benchmark "floor": the least a program can do for the benchmark's work,
// written by hand in C++ with no engine around it. converge and the peers are
// compared to it (tests/bench/README.md).
//
//   floor files SPEC TARGET      W1: make TARGET/NAME hold CONTENT with MODE
//                                 for every line of SPEC; a correct file is
//                                 only read (stat + read + compare), a wrong
//                                 one is written to a temporary file, fchmod-ed
//                                 and renamed over; a wrong mode alone is
//                                 fixed with fchmod.
//   floor spawn N DIR [J]        W2: for i < N, posix_spawn
//                                 `/usr/bin/test -e DIR/marker_i` and, if it
//                                 fails, `/usr/bin/touch DIR/marker_i`; with J,
//                                 keep up to J checks running at once
//                                 (default 1: one after the other).
//   floor stat N DIR             W2 reference: the same guard as stat(), no
//                                 process (not the same work as a check
//                                 command; shown for scale only).
//   floor maxrss OUT CMD...      run CMD (output discarded), append its peak
//                                 RSS in KiB to OUT, exit with its status; the
//                                 harness's stand-in for GNU time's %M (a small
//                                 parent, so CMD's figure is its own).
//
// SPEC is written by gen.py: one file a line, NAME TAB MODE(octal) TAB
// CONTENT, where CONTENT escapes backslash as \\ and newline as \n.
// Exit status 0 on success, 1 on any error (with a message on stderr).
// Build: g++ -O2 -o floor floor.cpp

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace {

struct Entry {
    std::string name;
    mode_t mode;
    std::string content;
};

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "floor: %s: %s\n", what.c_str(), std::strerror(errno));
    std::exit(1);
}

std::string slurp(const char* path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(std::string("open ") + path);
    std::string out;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            die(std::string("read ") + path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return out;
}

std::vector<Entry> parse_spec(const std::string& text) {
    std::vector<Entry> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        size_t t1 = text.find('\t', pos);
        size_t t2 = t1 == std::string::npos ? t1 : text.find('\t', t1 + 1);
        if (t1 == std::string::npos || t2 == std::string::npos || t2 > eol) {
            errno = EINVAL;
            die("malformed spec line");
        }
        Entry e;
        e.name.assign(text, pos, t1 - pos);
        e.mode = static_cast<mode_t>(std::strtoul(text.substr(t1 + 1, t2 - t1 - 1).c_str(), nullptr, 8));
        e.content.reserve(eol - t2);
        for (size_t i = t2 + 1; i < eol; ++i) {
            char c = text[i];
            if (c == '\\' && i + 1 < eol) {
                char d = text[++i];
                e.content.push_back(d == 'n' ? '\n' : d == 't' ? '\t' : d);
            } else {
                e.content.push_back(c);
            }
        }
        out.push_back(std::move(e));
        pos = eol + 1;
    }
    return out;
}

bool write_all(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = write(fd, s.data() + off, s.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += static_cast<size_t>(n);
    }
    return true;
}

// True when fd holds exactly `want`.
bool same_content(int fd, const struct stat& st, const std::string& want, std::string& buf) {
    if (static_cast<size_t>(st.st_size) != want.size()) return false;
    buf.resize(want.size() + 1);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, &buf[got], buf.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
        if (got == buf.size()) break;  // longer than expected
    }
    return got == want.size() && std::memcmp(buf.data(), want.data(), got) == 0;
}

int files(const char* spec_path, const char* target) {
    std::vector<Entry> entries = parse_spec(slurp(spec_path));
    int dfd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) die(std::string("open ") + target);
    std::string buf;
    std::string tmp_name;
    const std::string pid = std::to_string(getpid());
    for (const Entry& e : entries) {
        int fd = openat(dfd, e.name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) != 0) die("fstat " + e.name);
            if (S_ISREG(st.st_mode) && same_content(fd, st, e.content, buf)) {
                if ((st.st_mode & 07777) != e.mode && fchmod(fd, e.mode) != 0) die("fchmod " + e.name);
                close(fd);
                continue;
            }
            close(fd);
        } else if (errno != ENOENT) {
            die("open " + e.name);
        }
        tmp_name = "." + e.name + ".floor-" + pid;
        int tfd = openat(dfd, tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (tfd < 0) die("create " + tmp_name);
        if (!write_all(tfd, e.content)) die("write " + tmp_name);
        if (fchmod(tfd, e.mode) != 0) die("fchmod " + tmp_name);
        if (close(tfd) != 0) die("close " + tmp_name);
        if (renameat(dfd, tmp_name.c_str(), dfd, e.name.c_str()) != 0) die("rename " + e.name);
    }
    close(dfd);
    return 0;
}

int run(const char* const argv[]) {
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ);
    if (rc != 0) {
        errno = rc;
        die(std::string("posix_spawn ") + argv[0]);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid");
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

pid_t start(const char* const argv[]) {
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ);
    if (rc != 0) {
        errno = rc;
        die(std::string("posix_spawn ") + argv[0]);
    }
    return pid;
}

int spawn(int n, const char* dir, int jobs) {
    std::vector<std::string> paths;
    for (int i = 0; i < n; ++i) paths.push_back(std::string(dir) + "/marker_" + std::to_string(i));
    std::vector<std::pair<pid_t, int>> running;  // pid, index
    int next = 0;
    while (next < n || !running.empty()) {
        while (next < n && static_cast<int>(running.size()) < jobs) {
            const char* check[] = {"/usr/bin/test", "-e", paths[next].c_str(), nullptr};
            running.emplace_back(start(check), next);
            ++next;
        }
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            die("waitpid");
        }
        for (size_t k = 0; k < running.size(); ++k) {
            if (running[k].first != pid) continue;
            int idx = running[k].second;
            running.erase(running.begin() + static_cast<long>(k));
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                const char* apply[] = {"/usr/bin/touch", paths[idx].c_str(), nullptr};
                if (run(apply) != 0) {
                    std::fprintf(stderr, "floor: touch %s failed\n", paths[idx].c_str());
                    return 1;
                }
            }
            break;
        }
    }
    return 0;
}

int stat_only(int n, const char* dir) {
    for (int i = 0; i < n; ++i) {
        std::string path = std::string(dir) + "/marker_" + std::to_string(i);
        struct stat st;
        if (stat(path.c_str(), &st) != 0) {
            const char* apply[] = {"/usr/bin/touch", path.c_str(), nullptr};
            if (run(apply) != 0) return 1;
        }
    }
    return 0;
}

int maxrss(const char* out, char** cmd) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(cmd[0], cmd);
        _exit(127);
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) die("wait4");
    }
    FILE* f = std::fopen(out, "a");
    if (!f) die(std::string("open ") + out);
    std::fprintf(f, "%ld\n", ru.ru_maxrss);
    std::fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 4 && std::strcmp(argv[1], "files") == 0) return files(argv[2], argv[3]);
    if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "spawn") == 0)
        return spawn(std::atoi(argv[2]), argv[3], argc == 5 ? std::max(1, std::atoi(argv[4])) : 1);
    if (argc == 4 && std::strcmp(argv[1], "stat") == 0) return stat_only(std::atoi(argv[2]), argv[3]);
    if (argc >= 4 && std::strcmp(argv[1], "maxrss") == 0) return maxrss(argv[2], argv + 3);
    std::fprintf(stderr, "usage: floor files SPEC TARGET | floor spawn N DIR [J] | floor stat N DIR | floor maxrss OUT CMD...\n");
    return 2;
}
