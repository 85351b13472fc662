#!/usr/bin/env bash
# Refusals on the RTM lab: each exits 3 at once, names the blocking constraint (and the
# change it blocks), and sends the lab no command that changes anything:
#   - an outage budget too small for any plan (5 minutes: /upgradecms alone takes 10);
#   - a stale backup (the lab's last full backup 30 hours old, max_age 24h);
#   - two mailbox nodes allowed down at once while the CMS must stay online throughout
#     (max_disrupted 2, outage budget 0): still no plan, and the availability is named;
#   - `precondition: reachable` with NODE2 down.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
LAB=$SOURCE_DIR/manifests/labs/clus1-rtm.yaml

# variant NAME SED-EXPR...: the showcase with absolute paths, edited, as $WORK/NAME.yaml.
variant() {
  local out=$WORK/$1.yaml
  shift
  sed -e "s#\.\./resources/#$SOURCE_DIR/resources/#g" -e "s#{lab: labs/clus1-rtm.yaml}#{lab: $LAB}#" "$M" >"$out"
  for e in "$@"; do sed -i -e "$e" "$out"; done
}

# unchanged STATE: the lab saw only reads.
unchanged() {
  python3 - "$1/lab/events.jsonl" <<'PY' || fail "a refused run changed the lab"
import json, os, re, sys
read = re.compile(os.environ["LAB_READS"])
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["kind"] != "violation", line
    assert e["kind"] != "command" or read.match(e["command"]), line
PY
}

# refused NAME WANT...: apply exits 3 within 10 s and its message holds every WANT.
refused() {
  local name=$1
  shift
  local start=$SECONDS
  expect 3 apply "$WORK/$name.yaml" --state-dir "$WORK/$name.state" --json
  ((SECONDS - start <= 10)) || fail "$name: the refusal took $((SECONDS - start)) s"
  py 'assert doc["status"] == "refused", doc["status"]'
  for want in "$@"; do
    grep -qF -- "$want" <<<"$OUT" || fail "$name: the refusal does not say '$want': $OUT"
  done
  unchanged "$WORK/$name.state"
  expect 3 plan "$WORK/$name.yaml" --state-dir "$WORK/$name.state"
  grep -qF -- "$1" <<<"$ERR$OUT" || fail "$name: plan does not name '$1': $ERR$OUT"
}

variant small-budget 's/outage_budget: 30m/outage_budget: 5m/'
refused small-budget "available: E2K7CCR outage_budget 5m" "clustered_mailbox_server[E2K7CCR].version = SP1"

sed 's/last_full_backup_age: 2h/last_full_backup_age: 30h/' "$LAB" >"$WORK/stale-lab.yaml"
variant stale-backup "s#{lab: $LAB}#{lab: $WORK/stale-lab.yaml}#"
refused stale-backup "precondition full_backup" "last_full_backup of E2K7CCR is 30h old (max_age 24h)"

variant both-down 's/{max_disrupted: 1, of: mailbox}/{max_disrupted: 2, of: mailbox}/' 's/outage_budget: 30m/outage_budget: 0s/'
refused both-down "available: E2K7CCR outage_budget 0ms" "clustered_mailbox_server[E2K7CCR].version = SP1"

variant reachable 's/{halt_after_failures: 1}/{halt_after_failures: 1}\n  - {precondition: reachable}/'
# The same lab as a refused apply left it (a read-only check writes no lab state), with
# NODE2 stopped.
mkdir -p "$WORK/reachable.state"
cp -r "$WORK/small-budget.state/lab" "$WORK/reachable.state/"
python3 - "$WORK/reachable.state/lab/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["nodes"]["NODE2"]["online"] = False   # down, and not coming back by itself
json.dump(s, open(sys.argv[1], "w"))
PY
refused reachable "precondition reachable: node NODE2 does not answer"

pass "too small a budget, a stale backup and both nodes down with the CMS kept online, an unreachable node: refused, the lab untouched"
