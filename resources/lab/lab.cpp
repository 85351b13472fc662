#include "resources/lab/lab.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "resources/lab/commands.h"
#include "resources/lab/lab_file.h"
#include "resources/lab/simulation.h"

namespace converge::lab {

namespace {

Error io_error(const std::string& what, const std::string& path) {
  return make_error(ErrorCode::io, what + " " + path + ": " + std::strerror(errno));
}

Status make_dirs(const std::string& path) {
  std::string cur;
  std::stringstream parts(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    cur += part;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) return std::unexpected(io_error("cannot create", cur));
    cur += "/";
  }
  return {};
}

// Temporary file in the same directory, fsync, rename, fsync the directory.
Status write_atomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return std::unexpected(io_error("cannot create", tmp));
  std::size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return std::unexpected(io_error("cannot write", tmp));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) return std::unexpected(io_error("cannot fsync", tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return std::unexpected(io_error("cannot rename onto", path));
  std::string dir = path.substr(0, path.find_last_of('/'));
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<LabState> load_state(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(io_error("cannot read", path));
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    auto s = state_from_json(j);
    if (!s) return std::unexpected(wrap_error(path, s.error()));
    return s;
  } catch (const nlohmann::json::exception& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, path + ": " + e.what()));
  }
}

bool whole_word_match(const std::string& line, const std::string& needle) {
  if (needle.empty()) return false;
  std::string l = lower(line), n = lower(needle);
  for (std::size_t p = l.find(n); p != std::string::npos; p = l.find(n, p + 1)) {
    bool starts = p == 0 || l[p - 1] == ' ';
    bool ends = p + n.size() == l.size() || l[p + n.size()] == ' ';
    if (starts && ends) return true;
  }
  return false;
}

/// The transport the engine is handed for one lab node.
class LabTransport final : public Transport {
 public:
  LabTransport(std::shared_ptr<Lab> lab, std::string node) : lab_(std::move(lab)), node_(std::move(node)) {}
  Result<ExecResult> run(const ExecRequest& req) override { return lab_->run(node_, req); }
  std::vector<Result<ExecResult>> run_batch(const std::vector<ExecRequest>& reqs) override { return lab_->run_batch(node_, reqs); }
  FileSystem* files() override { return nullptr; }
  Result<std::string> boot_id() override { return lab_->boot_id(node_); }
  std::string describe() const override { return "lab " + node_; }

 private:
  std::shared_ptr<Lab> lab_;
  std::string node_;
};

}  // namespace

Lab::Lab(std::string dir, LabState state, std::optional<EventLog> log, double speed)
    : dir_(std::move(dir)),
      speed_(speed),
      anchor_real_(std::chrono::steady_clock::now()),
      anchor_virtual_(state.now),
      state_(std::move(state)),
      log_(std::move(log)) {}

Result<std::shared_ptr<Lab>> Lab::open(const std::string& lab_file, const std::string& state_dir, double speed,
                                       bool durable) {
  if (!(speed >= 0) || std::isinf(speed)) return std::unexpected(make_error(ErrorCode::invalid_input, "lab speed must be 0 or a positive number"));
  std::string dir = state_dir + "/lab";
  if (durable) CONVERGE_CHECK(make_dirs(dir));
  std::string state_file = Lab::state_file(state_dir);
  struct stat st {};
  if (::stat(state_file.c_str(), &st) == 0) {
    CONVERGE_TRY(LabState state, load_state(state_file));
    if (!durable) return std::make_shared<Lab>(dir, std::move(state), std::nullopt, speed);
    CONVERGE_TRY(EventLog log, EventLog::open(dir + "/events.jsonl", state.event_log_size));
    return std::make_shared<Lab>(dir, std::move(state), std::move(log), speed);
  }
  CONVERGE_TRY(LabState state, parse_lab_file(lab_file));
  if (state.name.empty()) {
    std::string base = lab_file.substr(lab_file.find_last_of('/') + 1);
    state.name = base.substr(0, base.find('.'));
  }
  if (!durable) return std::make_shared<Lab>(dir, std::move(state), std::nullopt, speed);
  CONVERGE_TRY(EventLog log, EventLog::open(dir + "/events.jsonl", 0));
  auto lab = std::make_shared<Lab>(dir, std::move(state), std::move(log), speed);
  std::lock_guard lk(lab->mu_);
  CONVERGE_CHECK(lab->persist_locked(initial_events(lab->state_)));
  return lab;
}

std::unique_ptr<Transport> Lab::transport(const std::string& node) {
  return std::make_unique<LabTransport>(shared_from_this(), node);
}

VTime Lab::clock_locked() const {
  if (speed_ <= 0) return state_.now;
  std::chrono::duration<double> real = std::chrono::steady_clock::now() - anchor_real_;
  VTime v = anchor_virtual_ + static_cast<VTime>(std::floor(real.count() * speed_));
  return std::max(state_.now, v);
}

Status Lab::persist_locked(const std::vector<Event>& events) {
  if (!log_) return {};  // a read-only run: the lab lives in memory only
  CONVERGE_TRY(std::uint64_t size, log_->append(events));
  state_.event_log_size = size;
  return write_atomic(state_path(), to_json(state_).dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

Result<Node*> Lab::reach_locked(const std::string& node, std::vector<Event>& events) {
  VTime floor = state_.now;
  Simulation sim(state_, clock_locked());
  sim.advance(sim.t0());
  Node* n = state_.node(node);
  if (n && !n->online && n->back_at && speed_ <= 0) sim.advance(*n->back_at);  // wait out the reboot
  events = sim.take_events(floor);
  if (!n) return std::unexpected(make_error(ErrorCode::unreachable, "lab: no node named " + node));
  if (!n->online) {
    std::string why = n->back_at ? "is restarting" : "did not come back from its restart";
    return std::unexpected(make_error(ErrorCode::unreachable, "lab: " + node + " " + why + " (no route to host)"));
  }
  return n;
}

Fault* Lab::match_fault_locked(const std::string& node, const std::string& line) {
  for (auto& f : state_.faults) {
    if (f.mode == Fault::Mode::no_return_from_reboot || f.spent) continue;
    if (!f.node.empty() && f.node != node) continue;
    if (whole_word_match(line, f.command)) return &f;
  }
  return nullptr;
}

Lab::Ran Lab::run_locked(const std::string& node, const ExecRequest& req, std::vector<Event>& events) {
  auto reached = reach_locked(node, events);
  if (!reached) return {std::unexpected(reached.error()), {}};
  Node& n = **reached;
  const std::string line = command_line(req.argv);
  VTime floor = state_.now;
  // Under real time, clusters (and stand-alone nodes) work side by side: a command starts
  // when the engine sends it, after what its cluster is still doing, whatever the others do.
  const std::string domain = n.cluster.empty() ? n.name : n.cluster;
  const VTime t0 = speed_ > 0 ? std::max(state_.now, busy_[domain]) : state_.now;
  Simulation sim(state_, t0);
  Outcome outcome;
  bool hang = false;
  if (Fault* f = match_fault_locked(node, line)) {
    if (f->mode == Fault::Mode::fail_once || f->mode == Fault::Mode::hang_once) f->spent = true;
    hang = f->mode == Fault::Mode::hang || f->mode == Fault::Mode::hang_once;
    if (hang) {
      auto ms = req.timeout.count();
      VTime virt = speed_ > 0 ? static_cast<VTime>(std::ceil(static_cast<double>(ms) / 1000.0 * speed_)) : (ms + 999) / 1000;
      outcome = fail(137, "", "", virt);
      outcome.result.timed_out = true;
    } else {
      std::string msg = f->message.empty() ? "lab: injected fault: `" + line + "` failed on " + node : f->message;
      outcome = fail(f->exit_code, msg + "\n");
    }
  } else {
    outcome = run_command(sim, n, req.argv);
  }
  // Under real time, a command that outlasts the request's timeout is cut off at the timeout;
  // its effects stand, as setup.com runs on when its ssh session drops.
  std::chrono::duration<double> real_duration(speed_ > 0 ? static_cast<double>(outcome.duration) / speed_ : 0.0);
  bool cut = !hang && speed_ > 0 && req.timeout.count() > 0 && real_duration > req.timeout;
  if (cut) {
    outcome.result.exit_code = 137;
    outcome.result.timed_out = true;
  }
  sim.set_duration(outcome.duration);
  sim.command_done(node, line, outcome.result.exit_code, outcome.result.timed_out);
  // Under real time the shared clock follows real time (reach_locked moved it), not this
  // command's end: the command's cluster is busy until then.
  if (speed_ > 0) busy_[domain] = sim.t_end();
  else sim.advance(sim.t_end());
  for (auto& e : sim.take_events(floor)) events.push_back(std::move(e));
  Ran r{outcome.result, {}};
  if (hang && req.timeout.count() == 0) {
    r.result = std::unexpected(make_error(ErrorCode::timeout, "lab: `" + line + "` on " + node +
                                                                  " hangs (injected fault) and the request set no timeout"));
    return r;
  }
  if ((hang || cut) && speed_ > 0) r.sleep = req.timeout;
  else if (speed_ > 0 && outcome.duration > 0) r.sleep = std::chrono::duration<double>(static_cast<double>(outcome.duration) / speed_);
  return r;
}

Result<ExecResult> Lab::run(const std::string& node, const ExecRequest& req) {
  std::unique_lock lk(mu_);
  std::vector<Event> events;
  Ran r = run_locked(node, req, events);
  if (r.result || !events.empty()) CONVERGE_CHECK(persist_locked(events));
  lk.unlock();
  if (r.sleep.count() > 0) std::this_thread::sleep_for(r.sleep);
  return r.result;
}

std::vector<Result<ExecResult>> Lab::run_batch(const std::string& node, const std::vector<ExecRequest>& reqs) {
  std::vector<Result<ExecResult>> out;
  std::unique_lock lk(mu_);
  std::vector<Event> events;
  auto persist = [&]() -> Status {
    if (events.empty()) return {};
    auto st = persist_locked(events);
    events.clear();
    return st;
  };
  for (const auto& req : reqs) {
    Ran r = run_locked(node, req, events);
    out.push_back(std::move(r.result));
    if (r.sleep.count() <= 0) continue;
    // A command that takes time: what it did is kept before the clock runs on.
    if (auto st = persist(); !st) {
      while (out.size() < reqs.size()) out.push_back(std::unexpected(st.error()));
      return out;
    }
    lk.unlock();
    std::this_thread::sleep_for(r.sleep);
    lk.lock();
  }
  if (auto st = persist(); !st)
    for (auto& r : out) r = std::unexpected(st.error());
  return out;
}

Result<std::string> Lab::boot_id(const std::string& node) {
  std::lock_guard lk(mu_);
  std::vector<Event> events;
  auto reached = reach_locked(node, events);
  if (!events.empty()) CONVERGE_CHECK(persist_locked(events));
  if (!reached) return std::unexpected(reached.error());
  return std::to_string((*reached)->boot_count);
}

LabSummary Lab::summary() const {
  std::lock_guard lk(mu_);
  LabState copy = state_;
  copy.now = clock_locked();
  return summarize(copy);
}

LabState Lab::snapshot() const {
  std::lock_guard lk(mu_);
  return state_;
}

}  // namespace converge::lab
