#!/usr/bin/env bash
# One run per state directory: a second run exits 4 at once and names the holder; a lock
# left by a run killed with SIGKILL is taken over, and that run is reported interrupted.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
# One state directory beside the manifest for every run of this test (as earlier versions
# kept it by default).
export CONVERGE_STATE_DIR="$WORK/.converge"

cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: slow
    properties: {check: [test, -e, $WORK/done], apply: [sh, -c, 'sleep 3; touch "\$0"', $WORK/done]}
  - {type: file, name: $WORK/after, depends_on: ["exec[slow]"], properties: {content: "x\n"}}
YAML

# A first run holds the lock for ~3 s.
"$CONVERGE" apply m.yaml --quiet >first.out 2>&1 &
first=$!
for _ in $(seq 50); do [[ -s .converge/lock ]] && break; sleep 0.05; done
sleep 0.3
start=$(date +%s%N)
expect 4 apply m.yaml
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
(( elapsed_ms < 1000 )) || fail "the second run took ${elapsed_ms} ms to give up (limit 1000)"
[[ $ERR == *"locked by pid $first on "* ]] || fail "the refusal does not name the holder (pid $first): $ERR"
expect 4 check m.yaml
expect 4 apply --json m.yaml
py 'assert doc["status"] == "locked" and doc["exit_code"] == 4, doc'
wait "$first" || fail "the first run failed: $(cat first.out)"
[[ -e done && -e after ]] || fail "the first run did not finish its work"
expect 0 apply m.yaml

# A run killed mid-step leaves its lock file behind; the kernel released the flock.
rm -f done after
"$CONVERGE" apply m.yaml --quiet >/dev/null 2>&1 &
victim=$!
for _ in $(seq 100); do
  [[ $(sqlite3 .converge/journal.db "select count(*) from steps where outcome is null" 2>/dev/null) == 1 ]] && break
  sleep 0.05
done
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
[[ -s .converge/lock ]] || fail "no lock file left behind to take over"
expect 0 apply m.yaml
[[ $OUT == *"was interrupted"* ]] || fail "the interrupted run is not reported: $OUT"
[[ -e done && -e after ]] || fail "the rerun did not finish the job"
expect 0 history --json --state-dir .converge
py 'st=[r["status"] for r in doc["runs"]]; assert "interrupted" in st, st'
pass
