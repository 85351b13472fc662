#!/usr/bin/env bash
# An exec whose apply fails: the run fails (exit 1), its dependents and their dependents
# are skipped naming the failed root, and unrelated resources still converge.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R"
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: broken
    properties:
      check: ["false"]
      apply: [sh, -c, 'echo boom-from-broken >&2; exit 1']
  - type: exec
    name: child
    depends_on: ["exec[broken]"]
    properties:
      check: [test, -f, $R/child-ran]
      apply: [touch, $R/child-ran]
  - type: file
    name: $R/grandchild
    depends_on: ["exec[child]"]
    properties: {content: "gc\n"}
  - type: file
    name: $R/unrelated
    properties: {content: "fine\n"}
YAML

expect 1 apply --json m.yaml; schema_ok report
py '
root = args[0]
res = {r["id"]: r for r in doc["resources"]}
broken, child, gc, unrelated = ("exec[broken]@localhost", "exec[child]@localhost",
                               f"file[{root}/grandchild]@localhost", f"file[{root}/unrelated]@localhost")
assert res[broken]["outcome"] == "failed", res[broken]
assert "boom-from-broken" in res[broken]["error"], res[broken]
assert res[child]["outcome"] == "skipped", res[child]
assert res[child]["blocked_by"] == broken, res[child]
assert res[gc]["outcome"] == "skipped", res[gc]
assert res[gc]["blocked_by"] == broken, f"a dependent of a dependent must name the root: {res[gc]}"
for r in (child, gc):
    assert "boom-from-broken" not in json.dumps(res[r]), f"the root failure is repeated in {r}"
assert res[unrelated]["outcome"] == "changed", res[unrelated]
s = doc["summary"]
assert (s["failed"], s["skipped"], s["changed"]) == (1, 2, 1), s
assert doc["exit_code"] == 1 and doc["status"] == "failed", doc
' "$R"
[[ -e $R/child-ran ]] && fail "a dependent of the failed exec ran"
[[ -e $R/grandchild ]] && fail "a dependent of a dependent was created"
assert_content "$R/unrelated" $'fine\n'

# The text report names the failure once, at the root.
rm "$R/unrelated"
expect 1 m.yaml
all="$OUT$ERR"
n=$(grep -c 'boom-from-broken' <<<"$all" || true)
[[ $n == 1 ]] || fail "the root failure is reported $n times, expected once:
$all"
grep -q 'exec\[child\]@localhost.*skipped.*exec\[broken\]@localhost' <<<"$all" ||
  fail "the text report does not say exec[child] was skipped because of exec[broken]:
$all"
grep -q "file\[$R/grandchild\]@localhost.*skipped.*exec\[broken\]@localhost" <<<"$all" ||
  fail "the text report does not say the grandchild was skipped because of exec[broken]:
$all"
assert_content "$R/unrelated" $'fine\n'
pass
