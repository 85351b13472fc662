#!/usr/bin/env bash
# Injected faults on the RTM lab. Each run halts safely: exit 3 (the showcase's
# halt_after_failures 1 is reached), no violation, the CMS online, every service back to
# its t = 0 state and startup, the failure named; then, with the fault cleared in the lab's
# state (as an operator would fix the host), a rerun converges (exit 0, CMS at SP1 online on
# NODE1, no violation).
#   - setup.com /m:upgrade fails on NODE2, the first mailbox node;
#   - NODE2 does not come back from its first restart (the wait times out);
#   - `sc.exe stop MOM` on NODE2 hangs past its timeout, on every retry.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
LAB=$SOURCE_DIR/manifests/labs/clus1-rtm.yaml

# with_fault NAME FAULT-YAML: a lab file and a showcase manifest using it.
with_fault() {
  sed "s#^faults: \[\]#faults:\n  - $2#" "$LAB" >"$WORK/$1-lab.yaml"
  sed -e "s#\.\./resources/#$SOURCE_DIR/resources/#g" -e "s#{lab: labs/clus1-rtm.yaml}#{lab: $WORK/$1-lab.yaml}#" "$M" \
    >"$WORK/$1.yaml"
}

# clear STATE [NODE]: drop the lab's faults; bring NODE back up as if powered on again.
clear() {
  python3 - "$1/lab/state.json" "${2:-}" <<'PY'
import json, os, sys
path, node = sys.argv[1], sys.argv[2]
s = json.load(open(path))
s["faults"] = []
if node:
    n = s["nodes"][node]
    n["online"], n["back_at"], n["boot_count"] = True, None, n["boot_count"] + 1
json.dump(s, open(path + ".new", "w"))
os.replace(path + ".new", path)
PY
}

# halts NAME RESOURCE WANT [NODE]: apply halts safely with RESOURCE failed, naming WANT;
# cleared, a rerun converges.
halts() {
  local name=$1 res=$2 want=$3 node=${4:-}
  expect 3 apply "$WORK/$name.yaml" --state-dir "$WORK/$name.state" --json --retry-backoff 10ms --reboot-timeout 1s
  schema_ok report
  py '
assert doc["status"] == "halted", doc["status"]
failed = [r["id"] for r in doc["resources"] if r["outcome"] == "failed"]
assert args[0] in failed, (args[0], failed)
' "$res"
  grep -qF -- "$want" <<<"$OUT" || fail "$name: the report does not say '$want'"
  grep -q "halted safely" <<<"$OUT" || fail "$name: no safe-halt note"
  lab_judge "$WORK/$name.state" 0
  clear "$WORK/$name.state" "$node"
  expect 0 apply "$WORK/$name.yaml" --state-dir "$WORK/$name.state" --json
  py 'assert doc["status"] == "converged", doc["status"]'
  lab_judge "$WORK/$name.state" 1
  expect 0 check "$WORK/$name.yaml" --state-dir "$WORK/$name.state"
}

with_fault setup-fails '{command: "setup.com /m:upgrade", node: NODE2, mode: fail_always}'
halts setup-fails 'exchange_server[exchange]@NODE2' 'exchange_server[exchange] upgrade (version=SP1) on NODE2 failed'

# The safe halt's own steps are journaled like any other.
expect 0 history --state-dir "$WORK/setup-fails.state" --json
run=$(py 'print([r["id"] for r in doc["runs"] if r["status"] == "halted"][0])')
expect 0 history "$run" --state-dir "$WORK/setup-fails.state" --json
py '
safe = [s for s in doc["steps"] if s["reason"].startswith("safe halt")]
assert len(safe) >= 4 and all(s["outcome"] == "changed" for s in safe), doc["steps"][-6:]
failed = [s for s in doc["steps"] if s["outcome"] == "failed"]
assert len(failed) == 1 and failed[0]["action"] == "upgrade", failed
'

# halt_after_failures 2: the first failed run exits 1 and says so, the second halts (3).
with_fault twice '{command: "setup.com /m:upgrade", node: NODE2, mode: fail_always}'
sed -i 's/{halt_after_failures: 1}/{halt_after_failures: 2}/' "$WORK/twice.yaml"
expect 1 apply "$WORK/twice.yaml" --state-dir "$WORK/twice.state" --retry-backoff 10ms
grep -q "failed run 1 of the 2 this maintenance allows" <<<"$OUT" || fail "no threshold note: $OUT"
expect 3 apply "$WORK/twice.yaml" --state-dir "$WORK/twice.state" --retry-backoff 10ms
grep -q "failure threshold reached (halt_after_failures 2: 2 failed runs" <<<"$OUT" || fail "no threshold reached: $OUT"
lab_judge "$WORK/twice.state" 0

with_fault no-return '{node: NODE2, mode: no_return_from_reboot}'
halts no-return 'reboot[host]@NODE2' 'NODE2 did not come back from its restart within 1s' NODE2

with_fault hang '{command: "sc.exe stop MOM", node: NODE2, mode: hang}'
halts hang 'service[MOM]@NODE2' '`sc.exe stop MOM` timed out'
# the hung command was tried three times (two retries with backoff) before the halt; the
# rerun that converged sent it once more
tries=$(grep '"node":"NODE2"' "$WORK/hang.state/lab/events.jsonl" | grep -c '"command":"sc.exe stop MOM"' || true)
((tries == 4)) || fail "sc.exe stop MOM sent $tries times, expected 3 tries and 1 after the fault was cleared"

pass "three injected faults halt safely and converge once cleared"
