#include "resources/file_type.h"

#include <algorithm>
#include <set>

#include <cstdio>

#include "engine/model/diff.h"
#include "engine/model/manifest.h"
#include "engine/model/sha256.h"
#include "resources/remote_files.h"
#include "resources/transport.h"

namespace converge {

std::optional<std::uint32_t> parse_mode(const Value& v) {
  std::string s = v.is_int() ? std::to_string(v.as_int()) : v.is_string() ? v.as_string() : "";
  if (s.empty() || s.size() > 5 || s.find_first_not_of("01234567") != std::string::npos) return std::nullopt;
  std::uint32_t m = static_cast<std::uint32_t>(std::stoul(s, nullptr, 8));
  if (m > 07777) return std::nullopt;
  return m;
}

std::string format_mode(std::uint32_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

namespace {

using K = Value::Kind;

std::vector<PropertySpec> common_properties() {
  return {
      {"path", {K::string}, false, false, std::nullopt, {}, "absolute path; defaults to the resource name"},
      {"ensure", {K::string}, false, true, Value("present"), {Value("present"), Value("absent")}, "present or absent"},
      {"mode", {K::string, K::integer}, false, true, std::nullopt, {}, "permission bits, octal: \"0644\""},
      {"owner", {K::string, K::integer}, false, true, std::nullopt, {}, "user name or uid"},
      {"group", {K::string, K::integer}, false, true, std::nullopt, {}, "group name or gid"},
  };
}

/// Checks the path and canonicalizes mode, owner and group.
std::expected<void, PropertyError> canonicalize_common(Map& props) {
  const std::string& path = props["path"].is_string() ? props["path"].as_string() : "";
  if (path.empty() || path[0] != '/') return std::unexpected(PropertyError{"path", "must be an absolute path"});
  if (path.find("/../") != std::string::npos || path.ends_with("/..") || path.find("/./") != std::string::npos ||
      path.ends_with("/.") || path.find("//") != std::string::npos)
    return std::unexpected(PropertyError{"path", "must be normalized (no '.', '..' or '//' components)"});
  if (path.size() > 1 && path.back() == '/') props["path"] = Value(path.substr(0, path.size() - 1));
  if (auto it = props.find("mode"); it != props.end() && !it->second.is_null()) {
    auto m = parse_mode(it->second);
    if (!m) return std::unexpected(PropertyError{"mode", "must be octal permission bits such as \"0644\""});
    it->second = Value(format_mode(*m));
  }
  for (const char* k : {"owner", "group"}) {
    auto it = props.find(k);
    if (it == props.end() || it->second.is_null()) continue;
    if (it->second.is_int()) it->second = Value(it->second.to_string());
    if (auto id = numeric_id(it->second.as_string()); !id) return std::unexpected(PropertyError{k, id.error().message});
  }
  return {};
}

bool numeric(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

/// Observes mode/owner/group in the form the resource states them.
void observe_meta(const ResourceSpec& r, const FileInfo& info, FileSystem& fs, Map& props) {
  props["mode"] = Value(format_mode(info.mode));
  // In the form the resource states it: by number, or by name (the observed id's own name
  // when it is another, so that a report reads "root -> app", not "0 -> app").
  auto name_of = [&](const char* key, std::uint32_t id, auto lookup, auto name) {
    std::string want = r.prop_string(key);
    if (want.empty()) return;
    if (numeric(want)) {
      props[key] = Value(std::to_string(id));
    } else {
      auto wanted_id = lookup(want);
      props[key] = Value(wanted_id && *wanted_id == id ? want : name(id).value_or(std::to_string(id)));
    }
  };
  name_of("owner", info.uid, [&](const std::string& n) { return fs.user_id(n); },
          [&](std::uint32_t id) { return fs.user_name(id); });
  name_of("group", info.gid, [&](const std::string& n) { return fs.group_id(n); },
          [&](std::uint32_t id) { return fs.group_name(id); });
}

/// The ids a resource states for owner and group (std::nullopt where it states none).
Result<Ownership> wanted_ownership(const ResourceSpec& r, FileSystem& fs) {
  Ownership o;
  if (std::string owner = r.prop_string("owner"); !owner.empty()) {
    CONVERGE_TRY(o.uid, fs.user_id(owner));
  }
  if (std::string group = r.prop_string("group"); !group.empty()) {
    CONVERGE_TRY(o.gid, fs.group_id(group));
  }
  return o;
}

/// The mode a file or directory is to have: the stated one, else the one observed; none
/// for a new one that states none.
std::optional<std::uint32_t> kept_mode(const ResourceSpec& r, const Observation& before) {
  if (const Value* m = r.prop("mode")) return parse_mode(*m);
  if (before.state == Observation::State::present) return parse_mode(before.props.at("mode"));
  return std::nullopt;
}

/// Applies owner, group and mode changes to what is there, owner first: a change of owner
/// clears setuid and setgid, so the mode (the stated one, else the one observed) follows
/// whenever it holds either.
Status apply_metadata(const ResourceSpec& r, const Observation& before, const ResourceChanges& c, FileSystem& fs) {
  const std::string& path = r.prop("path")->as_string();
  bool owner_changes = c.find("owner") || c.find("group");
  if (owner_changes) {
    CONVERGE_TRY(Ownership o, wanted_ownership(r, fs));
    if (!c.find("owner")) o.uid.reset();
    if (!c.find("group")) o.gid.reset();
    CONVERGE_CHECK(fs.chown(path, o.uid, o.gid));
  }
  std::optional<std::uint32_t> mode = kept_mode(r, before);
  if (mode && (c.find("mode") || (owner_changes && (*mode & 06000)))) return fs.chmod(path, *mode);
  return {};
}

FileSystem* files_of(Transport& t, const ResourceSpec& r, std::string* why) {
  FileSystem* fs = t.files();
  if (!fs) *why = "node " + r.node + " (" + t.describe() + ") has no POSIX filesystem";
  return fs;
}

/// A killed run may have died between its writes (or new links) and their renames: its
/// temporaries sit beside the paths it was changing. Only those directories are read.
int sweep_beside(const std::vector<const ResourceSpec*>& rs, Transport& t) {
  FileSystem* fs = t.files();
  if (!fs) return 0;
  std::set<std::string> dirs;
  for (const ResourceSpec* r : rs)
    if (std::string p = r->prop_string("path"); p.size() > 1) dirs.insert(p.substr(0, std::max<std::size_t>(1, p.find_last_of('/'))));
  int swept = 0;
  for (const auto& d : dirs) swept += fs->sweep_temps(d);
  return swept;
}

class FileProvider final : public Provider {
 public:
  std::expected<void, PropertyError> canonicalize(Map& props) const override { return canonicalize_common(props); }

  int recover_interrupted(const std::vector<const ResourceSpec*>& rs, Transport& t) const override {
    return sweep_beside(rs, t);
  }

  Observation observe(const ResourceSpec& r, Transport& t) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return Observation::unknown(why);
    const std::string& path = r.prop("path")->as_string();
    auto in = fs->inspect(path, r.prop("content") != nullptr);
    if (!in) return Observation::unknown(in.error().describe());
    if (!in->info.exists) return Observation::absent();
    if (!in->info.is_regular) return Observation::unknown(path + " exists and is not a regular file");
    Map props{{"ensure", Value("present")}};
    if (in->content) {
      props["content"] = Value(std::move(*in->content));
    } else if (const Value* want = r.prop("content"); want && in->sha256) {
      // Only a hash came back: the content is the desired one when the hashes agree, and
      // is read (for the report and --diff) only when they do not.
      const std::string desired = want->to_string();
      if (sha256_hex(desired) == *in->sha256) {
        props["content"] = Value(desired);
      } else if (in->info.size > kMaxRemoteContent) {
        // Too large to bring back for the report: named by its size and hash, and rewritten.
        props["content"] = Value("(" + std::to_string(in->info.size) + " bytes, sha256 " + *in->sha256 + ")");
      } else {
        auto content = fs->read(path, in->info.size);
        if (!content) return Observation::unknown(content.error().describe());
        props["content"] = Value(std::move(*content));
      }
    }
    observe_meta(r, in->info, *fs, props);
    return Observation::present(std::move(props));
  }

  Status apply(const ResourceSpec& r, const Observation& before, const ResourceChanges& c, Transport& t,
               ApplyContext& ctx) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return std::unexpected(make_error(ErrorCode::action_failed, why));
    const std::string& path = r.prop("path")->as_string();
    if (c.action == ChangeKind::remove) return fs->remove(path, false);
    bool rewrite = c.action == ChangeKind::create || c.find("content");
    if (!rewrite) return apply_metadata(r, before, c, *fs);
    // A new inode: it takes the stated mode, owner and group, and what the file it replaces
    // had for those the resource leaves alone (as an editor saving in place would).
    bool replaces = before.state == Observation::State::present;
    // A new file of no stated mode: 0666 less the node's umask, as a shell would create it;
    // 0600 when its content is sensitive.
    std::uint32_t mode = kept_mode(r, before).value_or(r.sensitive.count("content") ? 0600 : 0666 & ~fs->umask());
    CONVERGE_TRY(Ownership owner, wanted_ownership(r, *fs));
    if (replaces && (!owner.uid || !owner.gid)) {
      CONVERGE_TRY(FileInfo old, fs->stat(path));
      if (old.exists) {
        // Carried over only where nothing is stated: a stated owner or group must be met.
        owner.carried_over = !owner.uid && !owner.gid;
        if (!owner.uid) owner.uid = old.uid;
        if (!owner.gid) owner.gid = old.gid;
      }
    }
    const Value* content = r.prop("content");
    CONVERGE_TRY(std::string temp, fs->write_temp(path, content ? content->to_string() : std::string(), mode, owner));
    ctx.defer(fs, [fs, temp, path](const Status& durable) -> Status {
      if (!durable) {
        fs->discard_temp(temp);
        return durable;
      }
      return fs->commit_temp(temp, path);
    });
    return {};
  }
};

class DirectoryProvider final : public Provider {
 public:
  std::expected<void, PropertyError> canonicalize(Map& props) const override { return canonicalize_common(props); }

  Observation observe(const ResourceSpec& r, Transport& t) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return Observation::unknown(why);
    const std::string& path = r.prop("path")->as_string();
    auto info = fs->stat(path);
    if (!info) return Observation::unknown(info.error().describe());
    if (!info->exists) return Observation::absent();
    if (!info->is_dir) return Observation::unknown(path + " exists and is not a directory");
    Map props{{"ensure", Value("present")}};
    observe_meta(r, *info, *fs, props);
    return Observation::present(std::move(props));
  }

  Status apply(const ResourceSpec& r, const Observation& before, const ResourceChanges& c, Transport& t,
               ApplyContext&) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return std::unexpected(make_error(ErrorCode::action_failed, why));
    const std::string& path = r.prop("path")->as_string();
    if (c.action == ChangeKind::remove) return fs->remove(path, false);
    if (c.action == ChangeKind::create) {
      std::uint32_t mode = r.prop("mode") ? *parse_mode(*r.prop("mode")) : 0777 & ~fs->umask();
      CONVERGE_CHECK(fs->make_dir(path, mode));
      if (!c.find("owner") && !c.find("group")) return {};
      // Owner after mode would clear a stated setgid: apply_metadata sets the mode again.
    }
    return apply_metadata(r, before, c, *fs);
  }
};

class SymlinkProvider final : public Provider {
 public:
  std::expected<void, PropertyError> canonicalize(Map& props) const override {
    if (auto c = canonicalize_common(props); !c) return c;
    const Value& target = props["target"];
    if (props["ensure"] == Value("present") && (!target.is_string() || target.as_string().empty()))
      return std::unexpected(PropertyError{"target", "is required (the path the link points to)"});
    if (target.is_string() && target.as_string().find('\0') != std::string::npos)
      return std::unexpected(PropertyError{"target", "holds a NUL byte"});
    return {};
  }

  Observation observe(const ResourceSpec& r, Transport& t) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return Observation::unknown(why);
    const std::string& path = r.prop("path")->as_string();
    auto target = fs->read_link(path);
    if (!target) {
      // A file where the link should be is replaced by it (a directory is refused then).
      auto info = fs->stat(path);
      if (info && info->exists && !info->is_dir)
        return Observation::present(Map{{"ensure", Value("present")}, {"target", Value()}}, path + " is not a symbolic link");
      return Observation::unknown(target.error().describe());
    }
    if (!*target) return Observation::absent();
    return Observation::present(Map{{"ensure", Value("present")}, {"target", Value(**target)}});
  }

  int recover_interrupted(const std::vector<const ResourceSpec*>& rs, Transport& t) const override {
    return sweep_beside(rs, t);
  }

  Status apply(const ResourceSpec& r, const Observation& before, const ResourceChanges& c, Transport& t,
               ApplyContext&) const override {
    std::string why;
    FileSystem* fs = files_of(t, r, &why);
    if (!fs) return std::unexpected(make_error(ErrorCode::action_failed, why));
    const std::string& path = r.prop("path")->as_string();
    if (c.action == ChangeKind::remove) {
      // Only a link goes: a file at the path is not this resource's to remove.
      if (auto it = before.props.find("target"); it != before.props.end() && it->second.is_null())
        return std::unexpected(make_error(ErrorCode::action_failed, path + " is not a symbolic link; it is left alone"));
      return fs->remove(path, false);
    }
    return fs->make_link(path, r.prop_string("target"));
  }
};

}  // namespace

TypeSchema symlink_schema() {
  return {"symlink",
          "A symbolic link: its target (as stored, relative or absolute), made atomically.",
          {
              {"path", {K::string}, false, false, std::nullopt, {}, "absolute path; defaults to the resource name"},
              {"ensure", {K::string}, false, true, Value("present"), {Value("present"), Value("absent")}, "present or absent"},
              {"target", {K::string}, false, true, std::nullopt, {}, "what the link points to, as stored"},
          },
          "path",
          true};
}

std::shared_ptr<const Provider> symlink_provider() { return std::make_shared<SymlinkProvider>(); }

TypeSchema file_schema() {
  TypeSchema s{"file", "A regular file: content, mode, ownership; written atomically.", common_properties(), "path", true};
  s.properties.insert(s.properties.begin() + 2,
                      PropertySpec{"content", {K::string}, false, true, std::nullopt, {}, "the file's exact bytes"});
  // Rendered into content by the loader (engine/model/template.h); never reaches a provider.
  s.properties.insert(s.properties.begin() + 3,
                      PropertySpec{"template", {K::string}, false, false, std::nullopt, {},
                                   "a Mustache file (relative to the manifest) rendered into content"});
  return s;
}

TypeSchema directory_schema() {
  return {"directory", "A directory: mode and ownership (not its contents).", common_properties(), "path", true};
}

std::shared_ptr<const Provider> file_provider() { return std::make_shared<FileProvider>(); }
std::shared_ptr<const Provider> directory_provider() { return std::make_shared<DirectoryProvider>(); }

}  // namespace converge
