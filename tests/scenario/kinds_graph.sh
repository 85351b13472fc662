#!/usr/bin/env bash
# One dependency graph across kinds: a built-in resource that depends on a data-defined
# one runs after it (the plan first, then what needs it, observed afresh), in both
# directions; a data-defined resource that needs a built-in one that failed is not planned
# (skipped, exit 1) while what does not need the failure goes ahead; a chain data ->
# built-in -> data -> built-in runs in stages (two plans), each stage reading what the one
# before did, and a failure in the middle skips what comes after; a cycle across kinds is
# found by validate.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R"
head() {
  cat <<YAML
apiVersion: converge/v1
kind: Manifest
include: [$SOURCE_DIR/resources/linux.yaml]
inventory:
  nodes:
    web1: {transport: {local: {root: $R}}}
resources:
YAML
}

# The release needs its directory (built-in before the plan); a file and an exec need the
# release (built-in after it): the exec copies what the release wrote, so it fails if it
# runs first.
{
  head
  cat <<YAML
  - {type: directory, name: /srv, on: web1}
  - {type: web_release, name: shop, on: web1, depends_on: ["directory[/srv]"], properties: {version: "1.0"}}
  - type: exec
    name: seen
    on: web1
    depends_on: ["web_release[shop]"]
    properties:
      check: [sh, -c, 'cmp -s "\$CONVERGE_ROOT/srv/shop/current" "\$CONVERGE_ROOT/seen"']
      apply: [sh, -c, 'cat "\$CONVERGE_ROOT/srv/shop/current" > "\$CONVERGE_ROOT/seen.new" && mv "\$CONVERGE_ROOT/seen.new" "\$CONVERGE_ROOT/seen"']
  - {type: file, name: /after.txt, on: web1, depends_on: ["exec[seen]"], properties: {content: "after\n"}}
YAML
} >ok.yaml
expect 0 validate ok.yaml
expect 0 apply ok.yaml
assert_content "$R/seen" "1.0"
assert_content "$R/after.txt" "after
"
expect 0 apply ok.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'
# A new release: before the plan the exec reads in sync (it saw 1.0, the release is 1.0);
# observed again after the plan, it is not, and copies 2.0.
sed -i 's/version: "1.0"/version: "2.0"/' ok.yaml
expect 0 apply ok.yaml
assert_content "$R/srv/shop/current" "2.0"
assert_content "$R/seen" "2.0"
assert_content "$R/after.txt" "after
"

# A built-in prerequisite fails: the release is not planned, nor what needs it.
{
  head
  cat <<YAML
  - {type: exec, name: prep, on: web1, properties: {check: ["false"], apply: ["false"]}}
  - {type: web_release, name: other, on: web1, depends_on: ["exec[prep]"], properties: {version: "1.0"}}
  - {type: file, name: /needs-other.txt, on: web1, depends_on: ["web_release[other]"], properties: {content: "x"}}
  - {type: web_release, name: third, on: web1, properties: {version: "3.0"}}
  - {type: file, name: /needs-third.txt, on: web1, depends_on: ["web_release[third]"], properties: {content: "3"}}
YAML
} >fail.yaml
expect 1 apply fail.yaml --json
py '
by = {r["id"]: r for r in doc["resources"]}
assert by["exec[prep]@web1"]["outcome"] == "failed", by["exec[prep]@web1"]
rel = by["web_release[other]@web1"]
assert rel["outcome"] == "skipped" and rel["blocked_by"] == "exec[prep]@web1", rel
f = by["file[/needs-other.txt]@web1"]
assert f["outcome"] == "skipped" and f["blocked_by"] == "exec[prep]@web1", f
'
[[ ! -e $R/srv/other ]] || fail "the release was deployed although its prerequisite failed"
[[ ! -e $R/needs-other.txt ]] || fail "a file that needs the release was written"
# What does not need the failure goes ahead: another release, and what needs it.
assert_content "$R/srv/third/current" "3.0"
assert_content "$R/needs-third.txt" "3"

# data -> built-in -> data -> built-in: applied in stages (plan, built-in, plan, built-in),
# each reading what the one before did: b's release is copied from mid.txt, which copies a's.
{
  head
  cat <<YAML
  - {type: web_release, name: a, on: web1, properties: {version: "7"}}
  - type: exec
    name: mid
    on: web1
    depends_on: ["web_release[a]"]
    properties:
      check: [sh, -c, 'cmp -s "\$CONVERGE_ROOT/srv/a/current" "\$CONVERGE_ROOT/mid.txt"']
      apply: [sh, -c, 'cp "\$CONVERGE_ROOT/srv/a/current" "\$CONVERGE_ROOT/mid.txt"']
  - {type: web_release, name: b, on: web1, depends_on: ["exec[mid]"], properties: {version: "7"}}
  - type: exec
    name: last
    on: web1
    depends_on: ["web_release[b]"]
    properties:
      check: [test, -e, "$R/last.txt"]
      apply: [sh, -c, 'test -s "\$CONVERGE_ROOT/srv/b/current" && test -s "\$CONVERGE_ROOT/mid.txt" && touch "\$CONVERGE_ROOT/last.txt"']
YAML
} >chain.yaml
expect 0 validate chain.yaml
expect 0 apply chain.yaml --json
py '
assert doc["status"] == "converged", doc["status"]
assert doc["summary"]["changed"] == 4 and doc["summary"]["failed"] == 0, doc["summary"]
assert len(doc.get("plans", [])) == 2, "two plans expected: %s" % doc.keys()
'
assert_content "$R/mid.txt" "7"
[[ -e $R/last.txt ]] || fail "the last built-in stage did not run"
expect 0 apply chain.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'
# b's stage waits for mid: when mid fails, b is not planned (skipped); a is deployed.
sed -i 's/version: "7"/version: "8"/' chain.yaml
sed -i "s|cp \"\\\$CONVERGE_ROOT/srv/a/current\" \"\\\$CONVERGE_ROOT/mid.txt\"|false|" chain.yaml
grep -q "apply: \[sh, -c, 'false'\]" chain.yaml || fail "the test did not break exec[mid]: $(cat chain.yaml)"
expect 1 apply chain.yaml --json
py '
by = {r["id"]: r for r in doc["resources"]}
assert by["exec[mid]@web1"]["outcome"] == "failed", by
assert by["web_release[b]@web1"]["outcome"] == "skipped" and by["web_release[b]@web1"]["blocked_by"] == "exec[mid]@web1", by
'
assert_content "$R/srv/a/current" "8"
assert_content "$R/srv/b/current" "7"

# A cycle across kinds is found by validate.
{
  head
  cat <<YAML
  - {type: web_release, name: c, on: web1, depends_on: ["file[/c.txt]"], properties: {version: "1"}}
  - {type: file, name: /c.txt, on: web1, depends_on: ["web_release[c]"], properties: {content: "c"}}
YAML
} >cycle.yaml
expect 1 validate cycle.yaml
grep -q "dependency cycle: file\[/c.txt\]@web1 -> web_release\[c\]@web1 -> file\[/c.txt\]@web1" <<<"$ERR" ||
  fail "no cycle across kinds: $ERR"
pass
