#!/usr/bin/env bash
# An exec whose check or apply outlives `timeout: 1s` fails cleanly and quickly: exit 1,
# a message that says it timed out, no process left behind, even one that forked.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R"
# Each command starts `sleep` as a grandchild of converge and records its pid: killing only
# the direct child (the shell) would leave `sleep` running and holding the output pipes.
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: slow-check
    properties:
      timeout: 1s
      check: [sh, -c, 'sleep 30 & echo \$! > "\$1"; wait', sh, $R/check.pid]
      apply: ["true"]
  - type: exec
    name: slow-apply
    properties:
      timeout: 1s
      check: ["false"]
      apply: [sh, -c, 'sleep 30 & echo \$! > "\$1"; wait', sh, $R/apply.pid]
YAML

cleanup_pids() {
  local f pid
  for f in "$R"/*.pid; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap 'cleanup_pids; rm -rf "$WORK"' EXIT

start=$(date +%s%3N)
expect 1 apply --json m.yaml
elapsed=$(( $(date +%s%3N) - start ))
(( elapsed < 5000 )) || fail "the run took ${elapsed} ms; a 1s timeout must end it in well under 5 s"
py '
res = {r["id"]: r for r in doc["resources"]}
c, a = res["exec[slow-check]@localhost"], res["exec[slow-apply]@localhost"]
assert c["outcome"] == "failed" and "timed out" in c["error"], c
assert a["outcome"] == "failed" and "timed out" in a["error"], a
assert doc["exit_code"] == 1, doc
'
for f in check apply; do
  [[ -f $R/$f.pid ]] || fail "the slow $f never started"
  pid=$(cat "$R/$f.pid")
  # SIGKILL was sent to the whole process group when the timeout fired; on a loaded machine
  # the kernel may take a moment to finish the grandchild. Left behind = alive after 3 s.
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]] || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null && [[ $(ps -o stat= -p "$pid" 2>/dev/null) != Z* ]]; then
    fail "the timed-out $f (pid $pid) is still running 3 s after its timeout"
  fi
done

# Text output says so too, and check/plan (which run the check) time out the same way.
rm -f "$R"/*.pid
start=$(date +%s%3N)
expect 1 check m.yaml
elapsed=$(( $(date +%s%3N) - start ))
(( elapsed < 5000 )) || fail "check took ${elapsed} ms"
grep -q 'timed out' <<<"$OUT$ERR" || fail "check does not say the command timed out:
$OUT$ERR"
pass
