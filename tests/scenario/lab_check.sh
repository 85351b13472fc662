#!/usr/bin/env bash
# The showcase manifest against a fresh lab, through the data-defined Windows and Exchange
# types: validate is clean; check finds the drift (Exchange RTM on every server, .NET 2.0
# without SP1 on the mailbox nodes, the CMS at RTM) and exits 2, also from the model cache;
# plan exits 2; neither writes anything of the lab (no state, no event log: read-only runs
# keep the lab in memory). A broken type file is reported at file:line:col. (lab_apply.sh applies it.)
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
S=$WORK/state

# untouched: a read-only run left nothing of the lab on disk (no state, no event log).
untouched() {
  [[ ! -e $S/lab ]] || fail "a read-only run wrote the lab: $(ls -l "$S/lab")"
}

# --- validate
expect 0 validate "$M"
grep -q "valid (20 resources on 3 nodes, 6 constraints)" <<<"$OUT" || fail "unexpected validate output: $OUT"

# --- check: drift, from YAML and then from the model cache
for pass in fresh cached; do
  expect 2 check "$M" --state-dir "$S" --json
  py '
assert doc["status"] == "drift", doc["status"]
drift = {r["id"]: {c["property"]: (c["observed"], c["desired"]) for c in r["changes"]}
         for r in doc["resources"] if r["outcome"] == "pending"}
want = {
  "exchange_server[exchange]@HUBCAS": {"version": ("RTM", "SP1")},
  "exchange_server[exchange]@NODE1": {"version": ("RTM", "SP1")},
  "exchange_server[exchange]@NODE2": {"version": ("RTM", "SP1")},
  "dotnet[2.0]@NODE1": {"servicepack": (0, 1)},
  "dotnet[2.0]@NODE2": {"servicepack": (0, 1)},
  "clustered_mailbox_server[E2K7CCR]@CLUS1": {"version": ("RTM", "SP1")},
}
assert drift == want, drift
# the core group, the restarts (none pending) and the services, whose prior state and
# startup are the observed ones in a maintenance that has not begun
assert doc["summary"]["in_sync"] == 14 and doc["summary"]["failed"] == 0, doc["summary"]
'
  [[ -f $S/model.cache ]] || fail "check did not cache the model"
done
untouched

# --- plan changes nothing
expect 2 plan "$M" --state-dir "$S"
untouched

# --- a broken type file is reported at file:line:col
mkdir -p bad
cat > bad/types.yaml <<'YAML'
apiVersion: converge/v1
kind: Types
types:
  widget:
    doc: a thing
    properties:
      size: {kinds: [integer]}
    observe:
      - argv: [widget, show, "{nmae}"]
YAML
cat > bad/m.yaml <<'YAML'
apiVersion: converge/v1
kind: Manifest
include: [types.yaml]
resources:
  - {type: widget, name: w, properties: {size: 1}}
YAML
expect 1 validate bad/m.yaml
grep -q "bad/types.yaml:9:30: unknown placeholder {nmae}" <<<"$ERR" || fail "type file error not placed: $ERR"

pass "check/plan report the drift, the lab is untouched"
