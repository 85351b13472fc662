#!/usr/bin/env bash
# Every run records which version of the manifest it applied: sha256 always, and the git
# commit plus "dirty" when the manifest sits in a git work tree.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
# One state directory beside the manifest for every run of this test (as earlier versions
# kept it by default).
export CONVERGE_STATE_DIR="$WORK/repo/.converge"
command -v git >/dev/null || { echo "SKIP [$SCENARIO]: git not installed"; exit 0; }

git init -q repo
cd repo
git config user.email ci@example.invalid
git config user.name ci
cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - {type: file, name: $WORK/out, properties: {content: "one\n"}}
YAML
echo ".converge/" >.gitignore
git add m.yaml .gitignore
git commit -qm v1
head=$(git rev-parse HEAD)

expect 0 apply m.yaml --json
run_id=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
expect 0 history --json
py 'r = doc["runs"][0]; m = r["manifest"]
assert m["git_commit"] == args[0], m
assert m["git_dirty"] is False, m
assert len(m["sha256"]) == 64' "$head"
expect 0 history "$run_id"
[[ $OUT == *"${head:0:12}"* && $OUT != *dirty* ]] || fail "history $run_id does not show the commit: $OUT"

# Edit without committing: the run is recorded as dirty, with the new content's hash.
sed -i 's/one/two/' m.yaml
expect 0 apply m.yaml
expect 0 history --json
py 'new, old = doc["runs"][0], doc["runs"][1]
assert new["manifest"]["git_dirty"] is True, new
assert new["manifest"]["git_commit"] == args[0]
assert new["manifest"]["sha256"] != old["manifest"]["sha256"]' "$head"
expect 0 history
[[ $OUT == *"(dirty)"* ]] || fail "history does not say dirty: $OUT"

# Committing the edit makes it clean again, at the new commit.
git commit -qam v2
expect 0 check m.yaml
expect 0 history --json
py 'r = doc["runs"][0]["manifest"]
assert r["git_dirty"] is False and r["git_commit"] == args[0], r' "$(git rev-parse HEAD)"

# check records drift, so history shows when something drifted.
echo tampered >"$WORK/out"
expect 2 check m.yaml --json
run_id=$(printf '%s' "$OUT" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')
expect 0 history "$run_id" --json
py 'd = doc["drift"]; assert len(d) == 1 and d[0]["property"] == "content" and d[0]["observed"] == "tampered\n", d'
pass
