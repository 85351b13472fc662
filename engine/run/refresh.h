// engine/run/refresh.h — refresh on change: `subscribe:` (and `notify:`, its mirror).
//
// A resource that subscribes to others is refreshed once, after the run's changes, when any
// of them changed or was itself refreshed in the run (a refresh passes on: config file ->
// symlink into sites-enabled -> service reload). Refreshes run one by one in dependency
// order after every change of the run, as Ansible's handlers do at the end of a play; an
// exec runs its `refresh` argv, a data type its `refresh:` action (a service's reload), a
// type with neither only passes the refresh on.
//
// Nothing is lost to a crash: before the run's first change (and after each stage that
// observes afresh, for what became pending), every resource that will owe a refresh if the
// pending changes happen is recorded in the journal's meta table ("refresh:ID"); the record
// is cleared when that refresh is done. A rerun refreshes what an earlier run left owed,
// whether or not anything changes now. (A subscriber whose source then failed without
// changing anything is refreshed by a later run: a refresh too many, never one too few.)
#pragma once

#include <set>
#include <string>
#include <vector>

#include "engine/model/manifest.h"

namespace converge {

/// The journal's meta key of a refresh owed to the resource `id`; the value is the run that
/// recorded it, "" once done.
[[nodiscard]] std::string refresh_key(const std::string& id);

/// The resources each one subscribes to, as indices into m.resources.
[[nodiscard]] std::vector<std::vector<int>> subscriptions(const Manifest& m);

/// Who will owe a refresh if the resources marked in `changing` change: their subscribers,
/// and theirs in turn. Pure.
[[nodiscard]] std::vector<char> refresh_closure(const Manifest& m, const std::vector<char>& changing);

/// The ids in `meta` rows (key, value) of refreshes still owed.
[[nodiscard]] std::set<std::string> owed_refreshes(const std::vector<std::pair<std::string, std::string>>& meta);

}  // namespace converge
