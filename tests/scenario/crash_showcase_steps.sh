#!/usr/bin/env bash
# Crash safety of the showcase at every step boundary: for each step N of the plan, a run
# dies with SIGKILL right after step N's outcome is journaled (CONVERGE_TEST_KILL_AT_STEP,
# a test hook); the next `converge` reports the interrupted run, exits 0, and the lab's
# event log shows no violation, everything at SP1 with the CMS online on NODE1, and every
# service, SharedAccess above all, with its state and startup type of before the first run.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
expect 2 plan "$M" --state-dir "$WORK/probe" --json
steps=$(py 'print(len(doc["plan"]["steps"]))')
((steps > 20)) || fail "a suspiciously short plan: $steps steps"

for ((n = 1; n <= steps; n++)); do
  S=$WORK/s$n
  set +e
  { (CONVERGE_TEST_KILL_AT_STEP=$n exec "$CONVERGE" apply "$M" --state-dir "$S" >/dev/null 2>&1); } 2>/dev/null
  rc=$?
  set -e
  ((rc == 137)) || fail "step $n: the run was not killed (exit $rc)"
  ! grep -q '"kind":"violation"' "$S/lab/events.jsonl" || fail "step $n: a violation before the crash"
  expect 0 apply "$M" --state-dir "$S"
  grep -q "was interrupted" <<<"$OUT" || fail "step $n: the rerun did not report the interrupted run"
  lab_judge "$S" 1
  rm -rf "$S"
done
pass "killed after each of $steps steps, every rerun converged with no violation and services as before"
