#include "engine/model/yaml_doc.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace converge {

const YNode* YNode::get(const std::string& key) const {
  const YEntry* e = entry(key);
  return e ? &e->node() : nullptr;
}

const YEntry* YNode::entry(const std::string& key) const {
  if (kind != Kind::map) return nullptr;
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

Value YNode::to_value() const {
  switch (kind) {
    case Kind::null: return Value();
    case Kind::scalar: return scalar;
    case Kind::seq: {
      List l;
      l.reserve(items.size());
      for (const auto& i : items) l.push_back(i.to_value());
      return Value(std::move(l));
    }
    case Kind::map: {
      Map m;
      for (const auto& e : entries) m.emplace(e.key, e.node().to_value());
      return Value(std::move(m));
    }
  }
  return Value();
}

nlohmann::json YNode::to_json() const {
  switch (kind) {
    case Kind::null: return nullptr;
    case Kind::scalar:
      if (scalar.is_bool()) return scalar.as_bool();
      if (scalar.is_int()) return scalar.as_int();
      if (scalar.is_null()) return nullptr;
      return scalar.as_string();
    case Kind::seq: {
      auto j = nlohmann::json::array();
      for (const auto& i : items) j.push_back(i.to_json());
      return j;
    }
    case Kind::map: {
      auto j = nlohmann::json::object();
      for (const auto& e : entries) j[e.key] = e.node().to_json();
      return j;
    }
  }
  return nullptr;
}

const YNode& locate(const YNode& root, const std::vector<std::string>& path) {
  const YNode* cur = &root;
  for (const auto& part : path) {
    if (cur->is_map()) {
      const YNode* next = cur->get(part);
      if (!next) break;
      cur = next;
    } else if (cur->is_seq()) {
      std::size_t idx = 0;
      auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), idx);
      if (ec != std::errc() || idx >= cur->items.size()) break;
      cur = &cur->items[idx];
    } else {
      break;
    }
  }
  return *cur;
}

namespace {

/// Thrown inside yaml-cpp callbacks (which cannot return errors); caught at the boundary.
struct LoadAbort {
  Error error;
};

/// Checks the raw bytes: NUL and UTF-8 validity, reporting the line and column.
Status check_bytes(const std::string& text, const std::string& path, std::size_t max_line) {
  int line = 1, col = 1;
  std::size_t line_start = 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c == 0) return std::unexpected(make_error(ErrorCode::invalid_input, "NUL byte in file", {path, line, col}));
    std::size_t len = c < 0x80 ? 1 : utf8_length(text, i);
    if (len == 0) return std::unexpected(make_error(ErrorCode::invalid_input, "invalid UTF-8", {path, line, col}));
    if (c == '\n') {
      if (i - line_start > max_line) break;
      ++line;
      col = 1;
      line_start = i + 1;
    } else {
      ++col;
    }
    i += len;
  }
  // A line longer than the scalar limit holds a scalar over it (or is not YAML anyone
  // wrote): refuse it before yaml-cpp spends a second scanning it.
  std::size_t end = text.find('\n', line_start);
  std::size_t len = (end == std::string::npos ? n : end) - line_start;
  if (len > max_line)
    return std::unexpected(make_error(ErrorCode::invalid_input,
                                      "line of " + std::to_string(len) + " bytes exceeds the scalar limit of " +
                                          std::to_string(max_line),
                                      {path, line, 1}));
  return {};
}

/// Types a plain scalar by the YAML 1.2 core schema.
Value type_plain_scalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Value();
  if (s == "true" || s == "True" || s == "TRUE") return Value(true);
  if (s == "false" || s == "False" || s == "FALSE") return Value(false);
  std::size_t start = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (start < s.size() && s.find_first_not_of("0123456789", start) == std::string::npos) {
    std::int64_t v = 0;
    const char* b = s.data() + (s[0] == '+' ? 1 : 0);
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return Value(v);
  }
  return Value(s);
}

std::size_t count_nodes(const YNode& n) {
  std::size_t c = 1;
  for (const auto& i : n.items) c += count_nodes(i);
  for (const auto& e : n.entries) c += count_nodes(e.node());
  return c;
}

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const std::string& path, const YamlLimits& limits) : path_(path), limits_(limits) {}

  YNode take_root() { return std::move(root_); }
  int documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++documents_ > 1) fail(mark, "a file holds one YAML document; found a second one");
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YNode n;
    n.kind = YNode::Kind::null;
    set_pos(n, mark);
    finish(std::move(n), anchor, mark);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) fail(mark, "alias to an unknown anchor");
    std::size_t size = count_nodes(it->second);
    nodes_ += size;
    if (nodes_ > limits_.max_nodes)
      fail(mark, "aliases expand the document past " + std::to_string(limits_.max_nodes) +
                     " nodes (alias bomb?)");
    YNode copy = it->second;
    set_pos(copy, mark);
    finish(std::move(copy), 0, mark);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (value.size() > limits_.max_scalar_bytes)
      fail(mark, "scalar of " + std::to_string(value.size()) + " bytes exceeds the limit of " +
                     std::to_string(limits_.max_scalar_bytes));
    // A "\0" escape: no path, argv element or name can hold one (the system would cut it
    // there, and a file other than the one named would be written).
    if (value.find('\0') != std::string::npos) fail(mark, "NUL character (\\0) in a string");
    YNode n;
    n.kind = YNode::Kind::scalar;
    set_pos(n, mark);
    if (tag == "?") {
      n.scalar = type_plain_scalar(value);
      if (n.scalar.is_null()) n.kind = YNode::Kind::null;
    } else if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      n.plain = false;
      n.scalar = Value(value);
    } else if (tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:bool" ||
               tag == "tag:yaml.org,2002:null" || tag == "tag:yaml.org,2002:float") {
      n.scalar = type_plain_scalar(value);
      if (n.scalar.is_null()) n.kind = YNode::Kind::null;
    } else {
      fail(mark, "unsupported YAML tag '" + tag + "'");
    }
    finish(std::move(n), anchor, mark);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "tag:yaml.org,2002:seq");
    open(YNode::Kind::seq, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    check_collection_tag(mark, tag, "tag:yaml.org,2002:map");
    open(YNode::Kind::map, mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Frame {
    YNode node;
    YAML::anchor_t anchor = 0;
    YAML::Mark mark;
    bool have_key = false;
    YEntry pending;
    std::unordered_set<std::string> keys;
  };

  [[noreturn]] void fail(const YAML::Mark& mark, const std::string& msg) {
    throw LoadAbort{make_error(ErrorCode::invalid_input, msg, {path_, mark.line + 1, mark.column + 1})};
  }

  static void set_pos(YNode& n, const YAML::Mark& mark) {
    n.line = mark.line + 1;
    n.col = mark.column + 1;
  }

  void check_collection_tag(const YAML::Mark& mark, const std::string& tag, const char* standard) {
    if (tag != "?" && tag != "!" && tag != "" && tag != standard) fail(mark, "unsupported YAML tag '" + tag + "'");
  }

  void open(YNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (static_cast<int>(stack_.size()) >= limits_.max_depth)
      fail(mark, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    Frame f;
    f.node.kind = kind;
    set_pos(f.node, mark);
    f.anchor = anchor;
    f.mark = mark;
    stack_.push_back(std::move(f));
  }

  void close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    finish(std::move(f.node), f.anchor, f.mark);
  }

  void finish(YNode n, YAML::anchor_t anchor, const YAML::Mark& mark) {
    if (++nodes_ > limits_.max_nodes) fail(mark, "document has more than " + std::to_string(limits_.max_nodes) + " nodes");
    if (anchor != 0) {
      // Keeping a copy for later aliases costs as much as the node itself: count it, so
      // that nested anchors cannot amplify work past the budget either.
      nodes_ += count_nodes(n);
      if (nodes_ > limits_.max_nodes) fail(mark, "anchors and aliases expand the document past " + std::to_string(limits_.max_nodes) + " nodes");
      anchors_[anchor] = n;
    }
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.node.kind == YNode::Kind::seq) {
      parent.node.items.push_back(std::move(n));
      return;
    }
    if (!parent.have_key) {
      if (n.kind != YNode::Kind::scalar && n.kind != YNode::Kind::null) fail(mark, "mapping keys must be scalars");
      std::string key = n.kind == YNode::Kind::null ? std::string() : n.scalar.to_string();
      if (key == "<<" && n.plain) fail(mark, "merge keys (<<) are not supported");
      if (!parent.keys.insert(key).second) fail(mark, "duplicate key '" + key + "'");
      parent.pending = YEntry{std::move(key), n.line, n.col, {}};
      parent.have_key = true;
      return;
    }
    parent.pending.value.push_back(std::move(n));
    parent.node.entries.push_back(std::move(parent.pending));
    parent.pending = YEntry{};
    parent.have_key = false;
  }

  std::string path_;
  YamlLimits limits_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, YNode> anchors_;
  YNode root_;
  std::size_t nodes_ = 0;
  int documents_ = 0;
};

}  // namespace

Result<YDoc> parse_yaml(std::string text, const std::string& path, const YamlLimits& limits) {
  if (text.size() > limits.max_bytes)
    return std::unexpected(make_error(ErrorCode::invalid_input,
                                      "file of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                          std::to_string(limits.max_bytes) + " bytes",
                                      {path, 0, 0}));
  CONVERGE_CHECK(check_bytes(text, path, limits.max_scalar_bytes));
  YDoc doc;
  doc.path = path;
  TreeBuilder builder(path, limits);
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const LoadAbort& a) {
    return std::unexpected(a.error);
  } catch (const YAML::ParserException& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, "YAML syntax: " + e.msg,
                                      {path, e.mark.line + 1, e.mark.column + 1}));
  } catch (const std::exception& e) {
    return std::unexpected(make_error(ErrorCode::invalid_input, std::string("YAML: ") + e.what(), {path, 0, 0}));
  }
  doc.root = builder.take_root();
  doc.text = std::move(text);
  return doc;
}

Result<YDoc> load_yaml_file(const std::string& path, const YamlLimits& limits) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::unexpected(make_error(ErrorCode::invalid_input, std::strerror(errno), {path, 0, 0}));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::unexpected(make_error(ErrorCode::invalid_input, "not a regular file", {path, 0, 0}));
  }
  if (static_cast<std::size_t>(st.st_size) > limits.max_bytes) {
    ::close(fd);
    return std::unexpected(make_error(ErrorCode::invalid_input,
                                      "file of " + std::to_string(st.st_size) + " bytes exceeds the limit of " +
                                          std::to_string(limits.max_bytes) + " bytes",
                                      {path, 0, 0}));
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t r = ::read(fd, text.data() + got, text.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  text.resize(got);
  return parse_yaml(std::move(text), path, limits);
}

}  // namespace converge
