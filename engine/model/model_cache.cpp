#include "engine/model/model_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string_view>

#include "engine/model/sha256.h"

namespace converge {

namespace {

// Bumped whenever the model or its serialization changes; the build stamp guards
// development builds whose type semantics changed without a format change.
const std::string kMagic = std::string("converge-model-12 ") + CONVERGE_VERSION + " " + __DATE__ + " " + __TIME__;

/// A checksum over the cache's bytes, stored after them: a flipped byte must make the
/// cache a miss, never a different desired state (or a crash on a nonsense model). Eight
/// bytes a step, so that it costs a fraction of reading the file; not a defence against
/// someone who can write the state directory, who could write any cache.
std::uint64_t checksum(std::string_view s) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
  };
  std::size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    mix(w);
  }
  std::uint64_t last = 0;
  std::memcpy(&last, s.data() + i, s.size() - i);
  mix(last);
  mix(0xC2B2AE3D27D4EB4Full);
  return h;
}

constexpr std::size_t kChecksumBytes = sizeof(std::uint64_t);

class Writer {
 public:
  void u64(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>(v | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  void where(const SourceRange& w) {
    str(w.file);
    i64(w.line);
    i64(w.col);
  }
  void value(const Value& v) {
    out_ += static_cast<char>(v.kind());
    switch (v.kind()) {
      case Value::Kind::null: break;
      case Value::Kind::boolean: out_ += v.as_bool() ? '\1' : '\0'; break;
      case Value::Kind::integer: i64(v.as_int()); break;
      case Value::Kind::string: str(v.as_string()); break;
      case Value::Kind::list:
        u64(v.as_list().size());
        for (const auto& e : v.as_list()) value(e);
        break;
      case Value::Kind::map: map(v.as_map()); break;
    }
  }
  void map(const Map& m) {
    u64(m.size());
    for (const auto& [k, e] : m) {
      str(k);
      value(e);
    }
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

/// Reads what Writer wrote; any inconsistency sets ok() false (never throws, never reads past the end).
class Reader {
 public:
  explicit Reader(const std::string& in) : in_(in) {}
  bool ok() const { return ok_; }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return fail();
      auto b = static_cast<unsigned char>(in_[pos_++]);
      v |= std::uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    return fail();
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  std::string str() {
    std::uint64_t n = u64();
    if (!ok_ || n > in_.size() - pos_) return fail(), std::string();
    std::string s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(count());
    for (auto& s : v) s = str();
    return v;
  }
  SourceRange where() {
    SourceRange w;
    w.file = str();
    w.line = static_cast<int>(i64());
    w.col = static_cast<int>(i64());
    return w;
  }
  Value value(int depth = 0) {
    if (pos_ >= in_.size() || depth > 200) return fail(), Value();
    auto kind = static_cast<Value::Kind>(in_[pos_++]);
    switch (kind) {
      case Value::Kind::null: return Value();
      case Value::Kind::boolean:
        if (pos_ >= in_.size()) return fail(), Value();
        return Value(in_[pos_++] != 0);
      case Value::Kind::integer: return Value(i64());
      case Value::Kind::string: return Value(str());
      case Value::Kind::list: {
        List l(count());
        for (auto& e : l) e = value(depth + 1);
        return Value(std::move(l));
      }
      case Value::Kind::map: return Value(map(depth + 1));
    }
    return fail(), Value();
  }
  Map map(int depth = 0) {
    Map m;
    std::size_t n = count();
    for (std::size_t i = 0; i < n && ok_; ++i) {
      std::string k = str();
      m.emplace_hint(m.end(), std::move(k), value(depth + 1));
    }
    return m;
  }
  std::size_t count() {
    std::uint64_t n = u64();
    if (n > in_.size() - pos_) return fail(), 0;  // every element takes at least one byte
    return static_cast<std::size_t>(n);
  }

 private:
  std::uint64_t fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  const std::string& in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

/// A file's identity as stat sees it: any write changes mtime or ctime (ctime cannot be
/// set back by users), so an unchanged identity means unchanged content, as make, ninja
/// and git's index assume.
std::string stat_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
}

bool read_file(const std::string& path, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return false;
  }
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  out.resize(got);
  return true;
}

void write_model(Writer& w, const Manifest& m) {
  w.str(m.path);
  w.str(m.dir);
  w.str(m.name);
  w.str(m.description);
  w.str(m.state_url);
  w.str(m.estate);
  w.u64(m.nodes.size());
  for (const auto& n : m.nodes) {
    w.str(n.name);
    const TransportSpec& t = n.transport;
    w.str(t.kind), w.str(t.root), w.str(t.host), w.str(t.user), w.i64(t.port), w.strs(t.options), w.str(t.lab_file);
    w.str(t.host_key), w.str(t.known_hosts), w.str(t.shell), w.strs(t.boot_id);
    w.strs(n.roles);
    w.str(n.cluster);
    w.map(n.vars);
    w.where(n.where);
  }
  w.u64(m.groups.size());
  for (const auto& [g, members] : m.groups) w.str(g), w.strs(members);
  w.u64(m.clusters.size());
  for (const auto& [c, members] : m.clusters) w.str(c), w.strs(members);
  w.strs(m.type_files);
  w.u64(m.resources.size());
  for (const auto& r : m.resources) {
    w.str(r.type), w.str(r.name), w.str(r.node);
    w.map(r.properties);
    w.strs(r.depends_on);
    w.strs(r.subscribe);
    w.strs({r.sensitive.begin(), r.sensitive.end()});
    w.strs(r.prior);
    w.strs(r.tags);
    w.where(r.where);
  }
  w.u64(m.constraints.size());
  for (const auto& c : m.constraints) {
    w.i64(static_cast<int>(c.kind));
    w.u64(c.order.size());
    for (const auto& set : c.order) w.strs(set);
    w.strs(c.nodes), w.i64(c.limit), w.str(c.subject), w.i64(c.seconds), w.where(c.where);
  }
}

Manifest read_model(Reader& r) {
  Manifest m;
  m.path = r.str(), m.dir = r.str(), m.name = r.str(), m.description = r.str();
  m.state_url = r.str(), m.estate = r.str();
  m.nodes.resize(r.count());
  for (auto& n : m.nodes) {
    n.name = r.str();
    TransportSpec& t = n.transport;
    t.kind = r.str(), t.root = r.str(), t.host = r.str(), t.user = r.str(), t.port = static_cast<int>(r.i64());
    t.options = r.strs(), t.lab_file = r.str();
    t.host_key = r.str(), t.known_hosts = r.str(), t.shell = r.str(), t.boot_id = r.strs();
    n.roles = r.strs(), n.cluster = r.str(), n.vars = r.map(), n.where = r.where();
  }
  std::size_t groups = r.count();
  for (std::size_t i = 0; i < groups && r.ok(); ++i) {
    std::string g = r.str();
    m.groups[g] = r.strs();
  }
  std::size_t clusters = r.count();
  for (std::size_t i = 0; i < clusters && r.ok(); ++i) {
    std::string c = r.str();
    m.clusters[c] = r.strs();
  }
  m.type_files = r.strs();
  m.resources.resize(r.count());
  for (auto& res : m.resources) {
    res.type = r.str(), res.name = r.str(), res.node = r.str();
    res.properties = r.map();
    res.depends_on = r.strs();
    res.subscribe = r.strs();
    auto s = r.strs();
    res.sensitive = {s.begin(), s.end()};
    res.prior = r.strs();
    res.tags = r.strs();
    res.where = r.where();
  }
  m.constraints.resize(r.count());
  for (auto& c : m.constraints) {
    c.kind = static_cast<ConstraintSpec::Kind>(r.i64());
    c.order.resize(r.count());
    for (auto& set : c.order) set = r.strs();
    c.nodes = r.strs(), c.limit = static_cast<int>(r.i64()), c.subject = r.str(), c.seconds = r.i64(), c.where = r.where();
  }
  return m;
}

}  // namespace

std::optional<Manifest> load_cached_model(const std::string& cache_file, const std::string& manifest_path) {
  std::string bytes;
  if (!read_file(cache_file, bytes) || bytes.size() < kChecksumBytes) return std::nullopt;
  std::uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - kChecksumBytes, kChecksumBytes);
  bytes.resize(bytes.size() - kChecksumBytes);
  if (stored != checksum(bytes)) return std::nullopt;
  Reader r(bytes);
  if (r.str() != kMagic || !r.ok()) return std::nullopt;
  std::error_code ec;
  std::string abs = std::filesystem::absolute(manifest_path, ec).lexically_normal().string();
  std::vector<std::string> sources = r.strs(), hashes = r.strs(), identities = r.strs();
  if (!r.ok() || sources.empty() || sources.size() != hashes.size() || sources.size() != identities.size() ||
      sources.front() != abs)
    return std::nullopt;
  std::string content;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    std::string id = stat_identity(sources[i]);
    if (!id.empty() && id == identities[i]) continue;  // unchanged since the cache was written
    if (!read_file(sources[i], content) || sha256_hex(content) != hashes[i]) return std::nullopt;
  }
  Manifest m = read_model(r);
  if (!r.ok()) return std::nullopt;
  m.sources = std::move(sources);
  m.source_sha256 = std::move(hashes);
  return m;
}

void store_cached_model(const std::string& cache_file, const Manifest& m) {
  // Secrets never reach the state directory: a manifest with sensitive values is not cached;
  // nor one whose inventory a program prints (its answer may change without any file).
  if (m.dynamic_inventory) {
    ::unlink(cache_file.c_str());
    return;
  }
  for (const auto& r : m.resources)
    if (!r.sensitive.empty()) {
      ::unlink(cache_file.c_str());
      return;
    }
  Writer w;
  w.str(kMagic);
  w.strs(m.sources);
  w.strs(m.source_sha256);
  std::vector<std::string> identities;
  for (const auto& src : m.sources) identities.push_back(stat_identity(src));
  w.strs(identities);
  write_model(w, m);
  std::uint64_t sum = checksum(w.bytes());
  w.bytes().append(reinterpret_cast<const char*>(&sum), kChecksumBytes);
  std::string temp = cache_file + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  const std::string& b = w.bytes();
  bool ok = ::write(fd, b.data(), b.size()) == static_cast<ssize_t>(b.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(temp.c_str(), cache_file.c_str()) != 0) ::unlink(temp.c_str());
}

}  // namespace converge
