#include "resources/transports.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "resources/lab/lab.h"
#include "resources/lab/lab_file.h"
#include "resources/local_transport.h"
#include "resources/ssh_transport.h"

namespace converge {

ClusterTransport::ClusterTransport(std::string name, std::vector<std::pair<std::string, Transport*>> members)
    : name_(std::move(name)), members_(std::move(members)) {}

Result<ExecResult> ClusterTransport::run(const ExecRequest& req) {
  std::optional<Error> last;
  for (const auto& [node, t] : members_) {
    auto r = t->run(req);
    if (r || r.error().code != ErrorCode::unreachable) return r;
    last = r.error();
  }
  return std::unexpected(last ? wrap_error("no member of cluster " + name_ + " answers", *last)
                              : make_error(ErrorCode::unreachable, "cluster " + name_ + " has no members"));
}

std::vector<Result<ExecResult>> ClusterTransport::run_batch(const std::vector<ExecRequest>& reqs) {
  std::vector<Result<ExecResult>> out;
  for (const auto& [node, t] : members_) {
    out = t->run_batch(reqs);
    // A member that did not answer at all: the next one may.
    if (!std::all_of(out.begin(), out.end(), [](const auto& r) { return !r && r.error().code == ErrorCode::unreachable; }))
      return out;
  }
  if (out.empty() && !reqs.empty())
    out.assign(reqs.size(), std::unexpected(make_error(ErrorCode::unreachable, "cluster " + name_ + " has no members")));
  else
    for (auto& r : out) r = std::unexpected(wrap_error("no member of cluster " + name_ + " answers", r.error()));
  return out;
}

Result<std::string> ClusterTransport::boot_id() {
  std::optional<Error> last;
  for (const auto& [node, t] : members_) {
    auto r = t->boot_id();
    if (r) return node + ":" + *r;
    last = r.error();
  }
  return std::unexpected(last ? *last : make_error(ErrorCode::unreachable, "cluster " + name_ + " has no members"));
}

Transport* ClusterTransport::member(const std::string& node) const {
  for (const auto& [n, t] : members_)
    if (n == node) return t;
  return nullptr;
}

namespace {

/// The lab file every lab node names ("" when there is none).
Result<std::string> lab_file_of(const Manifest& m) {
  std::string file;
  for (const auto& n : m.nodes) {
    if (n.transport.kind != "lab") continue;
    if (file.empty()) file = n.transport.lab_file;
    else if (n.transport.lab_file != file)
      return std::unexpected(make_error(ErrorCode::invalid_input,
                                        "node " + n.name + " names another lab file; a run uses one lab", n.where));
  }
  return file;
}


/// The one lab of a run: every lab node must name the same lab file.
Result<std::shared_ptr<lab::Lab>> open_lab(const Manifest& m, const TransportOptions& opts) {
  CONVERGE_TRY(std::string file, lab_file_of(m));
  if (file.empty()) return std::shared_ptr<lab::Lab>();
  auto l = lab::Lab::open(file, lab_home(opts.state_dir), opts.lab_speed, opts.changes);
  if (!l) return std::unexpected(wrap_error("cannot open the lab " + file, l.error()));
  return *l;
}

}  // namespace

std::string lab_home(const std::string& state_dir) {
  const char* env = std::getenv("CONVERGE_LAB_HOME");
  return env && *env ? env : state_dir;
}

Diagnostics check_lab_file(const Manifest& m, const std::string& state_dir) {
  auto file = lab_file_of(m);
  if (!file) return {file.error()};
  if (file->empty()) return {};
  struct stat st {};
  if (!state_dir.empty() && ::stat(lab::Lab::state_file(lab_home(state_dir)).c_str(), &st) == 0) return {};
  if (auto lab = lab::parse_lab_file(*file); !lab) return {lab.error()};
  return {};
}

Result<std::unique_ptr<TransportSet>> TransportSet::open(const Manifest& m, const TransportOptions& opts) {
  auto set = std::make_unique<TransportSet>();
  CONVERGE_TRY(std::shared_ptr<lab::Lab> lab, open_lab(m, opts));
  if (lab) {
    set->keep_.push_back(lab);
    set->summaries_.push_back([lab] { return lab::render_summary(lab->summary()); });
  }
  for (const auto& n : m.nodes) {
    const TransportSpec& t = n.transport;
    if (t.kind == "local") {
      // A node root stands for a host's "/": an apply creates it when missing, as a new
      // host would simply exist; plan and check observe everything under it as absent.
      if (!t.root.empty() && opts.changes) {
        std::error_code ec;
        std::filesystem::create_directories(t.root, ec);
        if (ec)
          return std::unexpected(make_error(ErrorCode::unreachable,
                                            "node " + n.name + ": cannot create root " + t.root + ": " + ec.message()));
      }
      set->by_node_[n.name] = std::make_unique<LocalTransport>(t.root);
    } else if (t.kind == "ssh") {
      std::string dir = opts.state_dir + "/ssh";
      ::mkdir(dir.c_str(), 0700);
      set->by_node_[n.name] = std::make_unique<SshTransport>(n.name, t, dir);
    } else if (t.kind == "lab") {
      set->by_node_[n.name] = lab->transport(n.name);
    } else {
      return std::unexpected(make_error(ErrorCode::invalid_input, "unknown transport '" + t.kind + "'", n.where));
    }
  }
  for (const auto& [cluster, nodes] : m.clusters) {
    std::vector<std::pair<std::string, Transport*>> members;
    for (const auto& n : nodes) members.emplace_back(n, set->by_node_.at(n).get());
    set->by_node_[cluster] = std::make_unique<ClusterTransport>(cluster, std::move(members));
  }
  return set;
}

Transport* TransportSet::find(const std::string& node) const {
  auto it = by_node_.find(node);
  return it == by_node_.end() ? nullptr : it->second.get();
}

TransportSet::DirectoryHold TransportSet::hold_directories() const {
  std::vector<FileSystem*> held;
  for (const auto& [name, t] : by_node_)
    if (FileSystem* fs = t ? t->files() : nullptr) {
      fs->hold_directories(true);
      held.push_back(fs);
    }
  return DirectoryHold(std::move(held));
}

std::string TransportSet::summary() const {
  std::string out;
  for (const auto& s : summaries_) out += s();
  return out;
}

}  // namespace converge
