#include "resources/lab/events.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace converge::lab {

using json = Event;

json command_event(VTime t, const std::string& node, const std::string& command, int exit_code, bool timed_out) {
  json e = {{"t", t}, {"kind", "command"}, {"node", node}, {"command", command}, {"exit", exit_code}};
  if (timed_out) e["timed_out"] = true;
  return e;
}

json node_event(VTime t, const Node& n) {
  return {{"t", t}, {"kind", "node"}, {"node", n.name}, {"online", n.online}, {"boot", n.boot_count}};
}

json service_event(VTime t, const std::string& node, const std::string& service, const Service& s) {
  return {{"t", t},
          {"kind", "service"},
          {"node", node},
          {"service", service},
          {"state", s.running ? "running" : "stopped"},
          {"startup", startup_name(s.startup)}};
}

json software_event(VTime t, const std::string& node, const std::string& product, const std::string& version) {
  return {{"t", t}, {"kind", "software"}, {"node", node}, {"product", product}, {"version", version}};
}

json group_event(VTime t, const Group& g) {
  return {{"t", t},
          {"kind", "group"},
          {"group", g.name},
          {"cluster", g.cluster},
          {"owner", g.owner},
          {"online", g.online},
          {"version", g.version.empty() ? json(nullptr) : json(g.version)}};
}

json violation_event(VTime t, const std::string& message) {
  return {{"t", t}, {"kind", "violation"}, {"message", message}};
}

std::vector<json> initial_events(const LabState& s) {
  std::vector<json> out;
  for (const auto& [name, n] : s.nodes) out.push_back(node_event(0, n));
  for (const auto& [name, n] : s.nodes) {
    out.push_back(software_event(0, name, "dotnet", n.dotnet));
    out.push_back(software_event(0, name, "exchange", n.exchange));
  }
  for (const auto& [name, n] : s.nodes) {
    for (const auto& [sname, svc] : n.services) out.push_back(service_event(0, name, sname, svc));
  }
  for (const auto& [name, g] : s.groups) out.push_back(group_event(0, g));
  return out;
}

namespace {

Error io_error(const std::string& what, const std::string& path) {
  return make_error(ErrorCode::io, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

Result<EventLog> EventLog::open(const std::string& path, std::uint64_t valid_size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(io_error("cannot open", path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return std::unexpected(io_error("cannot stat", path));
  }
  std::uint64_t size = static_cast<std::uint64_t>(st.st_size);
  if (size > valid_size) {
    if (::ftruncate(fd, static_cast<off_t>(valid_size)) != 0 || ::fsync(fd) != 0) {
      ::close(fd);
      return std::unexpected(io_error("cannot truncate", path));
    }
    size = valid_size;
  }
  ::close(fd);
  return EventLog(path, size);
}

Result<std::uint64_t> EventLog::append(const std::vector<json>& events) {
  if (events.empty()) return size_;
  std::string text;
  // Invalid UTF-8 (from a command line) is replaced rather than thrown on.
  for (const auto& e : events) text += e.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(io_error("cannot open", path_));
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::unexpected(io_error("cannot append to", path_));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return std::unexpected(io_error("cannot fsync", path_));
  }
  ::close(fd);
  size_ += text.size();
  return size_;
}

}  // namespace converge::lab
