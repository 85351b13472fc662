#!/usr/bin/env bash
# State where an operator expects it:
#   - by default one state directory per manifest, outside the work tree
#     ($XDG_STATE_HOME/converge/STEM-HASH; /var/lib/converge/... as root without
#     XDG_STATE_HOME): two manifests of one folder keep their journals and locks apart (a
#     run of one does not wait for a run of the other), and nothing lands beside them;
#   - history MANIFEST shows that manifest's runs only, with the manifest per run, also in a
#     state directory both share; history with nothing names every state directory;
#   - a .converge/ an earlier version left beside a manifest goes on being used.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

mkdir site
for m in a b; do
  cat >site/$m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: slow-$m
    properties:
      check: [test, -f, $WORK/done-$m]
      apply: [sh, -c, 'sleep "\$(cat "\$1")"; touch "\$2"', sh, $WORK/slow, $WORK/done-$m]
YAML
done
hash_of() { printf '%s' "$WORK/site/$1.yaml" | sha256sum | cut -c1-12; }
A=$XDG_STATE_HOME/converge/a-$(hash_of a)
B=$XDG_STATE_HOME/converge/b-$(hash_of b)

# A slow apply of a.yaml holds its lock while b.yaml applies: separate locks.
echo 3 >slow
"$CONVERGE" apply site/a.yaml >a.out 2>&1 &
slow=$!
for _ in $(seq 100); do [[ -s $A/lock ]] && break; sleep 0.05; done
[[ -s $A/lock ]] || fail "a.yaml's run holds no lock in $A"
expect 0 apply site/b.yaml
wait "$slow" || fail "a.yaml's apply failed: $(cat a.out)"
[[ -f $A/journal.db && -f $B/journal.db ]] || fail "not one state directory per manifest: $(ls -a "$XDG_STATE_HOME/converge")"
[[ -z $(ls -A site | grep -v '\.yaml$') ]] || fail "state landed beside the manifests: $(ls -A site)"
[[ ! -e .converge ]] || fail "state landed in the working directory"

expect 0 check site/a.yaml
expect 0 history site/a.yaml --json
schema_ok report
py '
runs = doc["runs"]
assert [r["command"] for r in runs] == ["check", "apply"], runs
assert {r["manifest"]["path"] for r in runs} == {args[0]}, runs
assert doc["state_dir"] == args[1], doc["state_dir"]' "$WORK/site/a.yaml" "$A"
expect 0 history site/b.yaml
grep -q "MANIFEST" <<<"$OUT" && grep -q "$WORK/site/b.yaml" <<<"$OUT" || fail "no manifest column: $OUT"
grep -q "site/a.yaml" <<<"$OUT" && fail "b.yaml's history lists a.yaml's runs: $OUT"

# One state directory for both (--state-dir): history MANIFEST filters, history lists both.
SH=$WORK/shared
(cd site && "$CONVERGE" check a.yaml --state-dir "$SH" >/dev/null) || true
"$CONVERGE" check site/b.yaml --state-dir "$SH" >/dev/null || true
"$CONVERGE" check "$WORK/site/../site/a.yaml" --state-dir "$SH" >/dev/null || true
expect 0 history site/a.yaml --state-dir "$SH" --json
py '
paths = [r["manifest"]["path"] for r in doc["runs"]]
assert paths == [args[0], args[0]], paths' "$WORK/site/a.yaml"
expect 0 history --state-dir "$SH" --json
py 'assert len(doc["runs"]) == 3, doc["runs"]'

# history with no manifest: every state directory and its manifest.
expect 0 history --json
schema_ok report
py '
dirs = {d["state_dir"]: d["last_run"]["manifest"]["path"] for d in doc["state_dirs"]}
assert dirs == {args[0]: args[2], args[1]: args[3]}, dirs' "$A" "$B" "$WORK/site/a.yaml" "$WORK/site/b.yaml"
expect 0 history
grep -q "$WORK/site/a.yaml" <<<"$OUT" && grep -q "$B" <<<"$OUT" || fail "history does not list the state directories: $OUT"
expect 1 history 1
grep -q "name the manifest" <<<"$ERR" || fail "history RUN without a state does not say what is missing: $ERR"

# A .converge/ beside the manifest from an earlier version is still used.
mkdir old && cp site/b.yaml old/m.yaml
expect 0 apply old/m.yaml --state-dir old/.converge
expect 0 check old/m.yaml
expect 0 history old/m.yaml --json
py 'assert [r["command"] for r in doc["runs"]] == ["check", "apply"], doc["runs"]'
[[ ! -e $XDG_STATE_HOME/converge/m-$(printf '%s' "$WORK/old/m.yaml" | sha256sum | cut -c1-12) ]] ||
  fail "a new state directory was made although .converge/ exists beside the manifest"

# As root without XDG_STATE_HOME: /var/lib/converge (removed again; nothing else touched).
if [[ $(id -u) == 0 ]]; then
  had_base=0
  [[ -e /var/lib/converge ]] && had_base=1
  root_dir=/var/lib/converge/a-$(hash_of a)
  [[ -e $root_dir ]] && fail "$root_dir exists before the test"
  (unset XDG_STATE_HOME; "$CONVERGE" check site/a.yaml >/dev/null) || true
  ok=0
  [[ -f $root_dir/journal.db ]] && ok=1
  rm -rf "$root_dir"
  ((had_base)) || rmdir /var/lib/converge 2>/dev/null || true
  ((ok)) || fail "as root the default state is not under /var/lib/converge"
fi
pass
