#!/usr/bin/env bash
# Crash safety of the showcase at 20 seeded random moments: the lab runs at 3000 virtual
# seconds per real second, so the whole rollout takes a few seconds; a run is killed with
# SIGKILL at a random moment of it (mid-command, mid-restart, between a step's journal row
# and its command...); the rerun (at full speed) exits 0 and the lab's event log shows no
# violation, the desired end state, and every service back to its state and startup type
# of before the first run.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
RANDOM=20081127  # seeded: the same 20 moments every time
interrupted=0
for ((i = 1; i <= 20; i++)); do
  S=$WORK/r$i
  ms=$((300 + RANDOM % 3500))
  "$CONVERGE" apply "$M" --state-dir "$S" --lab-speed 3000 >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  expect 0 apply "$M" --state-dir "$S"
  grep -q "was interrupted" <<<"$OUT" && interrupted=$((interrupted + 1))
  lab_judge "$S" 1
  expect 0 check "$M" --state-dir "$S"
  rm -rf "$S"
done
((interrupted >= 10)) || fail "only $interrupted of 20 kills interrupted a run: the moments miss the rollout"
pass "20 kills ($interrupted mid-run) at seeded random moments: every rerun converged with no violation and services as before"
