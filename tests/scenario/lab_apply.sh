#!/usr/bin/env bash
# The showcase on the RTM lab, end to end. plan exits 2 with a deterministic plan (the same
# JSON twice) that upgrades HUBCAS first and the passive node NODE2 before NODE1, lists the
# constraints it checked and writes a DOT graph; apply exits 0. Then the lab's own event
# log is the judge: no violation; setup never ran on a node that owned an online group; the
# CMS was offline no longer than the 30-minute budget; every server and the CMS at SP1, the
# CMS online on NODE1, "Cluster Group" on NODE1; every service back to its state and
# startup type at t = 0. Afterwards plan and check exit 0, and a second apply sends the lab
# no command that changes anything.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
S=$WORK/state
EVENTS=$S/lab/events.jsonl

# --- plan: exit 2, deterministic, the rolling order, constraints, DOT
expect 2 plan "$M" --state-dir "$S" --json --graph "$WORK/plan.dot"
printf '%s' "$OUT" >"$WORK/plan1.json"
schema_ok report
py '
plan = doc["plan"]
steps = [s for s in plan["steps"] if s["kind"] == "planned"]
setups = [s["node"] for s in steps if s["resource"].startswith("exchange_server") and s["action"] == "upgrade"]
assert setups == ["HUBCAS", "NODE2", "NODE1"], setups
cms = [(s["action"], s["node"]) for s in steps if s["resource"].startswith("clustered_mailbox_server")]
assert ("upgrade", "NODE2") in cms, cms
assert any("max_disrupted 1 of [NODE1, NODE2]" == c for c in plan["constraints"]), plan["constraints"]
assert any(c.startswith("available E2K7CCR") for c in plan["constraints"]), plan["constraints"]
assert plan["outage_s"]["E2K7CCR"] <= 1800, plan["outage_s"]
kinds = {s["kind"] for s in plan["steps"]}
assert kinds == {"planned", "establish", "restore"}, kinds
'
head -1 "$WORK/plan.dot" | grep -q "^digraph plan" || fail "no DOT graph"
grep -q " -> " "$WORK/plan.dot" || fail "the DOT graph has no edges"
expect 2 plan "$M" --state-dir "$S" --json
py '
import json
a = json.load(open(args[0]))["plan"]
assert a == doc["plan"], "two plans of the same state differ"
' "$WORK/plan1.json"
grep -v '"t":0,' "$EVENTS" | grep -q . && fail "plan changed the lab"

# --- apply
expect 0 apply "$M" --state-dir "$S" --json
schema_ok report
py '
assert doc["status"] == "converged", doc["status"]
assert doc["summary"]["failed"] == 0, doc["summary"]
'

# --- the lab's event log judges the run
python3 - "$EVENTS" <<'PY' || fail "the event log shows a wrong run"
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
initial_services, services, software, groups = {}, {}, {}, {}
offline_since, offline_total = None, 0
for e in events:
    k = e["kind"]
    if k == "violation":
        sys.exit("violation: %s" % e)
    if k == "service":
        key = (e["node"], e["service"])
        services[key] = (e["state"], e["startup"])
        if e["t"] == 0:
            initial_services[key] = (e["state"], e["startup"])
    if k == "software":
        software[(e["node"], e["product"])] = e["version"]
    if k == "group":
        groups[e["group"]] = e
        if e["group"] == "E2K7CCR":
            if not e["online"] and offline_since is None:
                offline_since = e["t"]
            if e["online"] and offline_since is not None:
                offline_total += e["t"] - offline_since
                offline_since = None
    if k == "command" and e["command"].startswith("setup.com /m:upgrade"):
        owned = [g for g, s in groups.items() if s["owner"] == e["node"] and s["online"]]
        assert not owned, "setup on %s while it owned %s" % (e["node"], owned)
assert offline_since is None, "E2K7CCR left offline"
assert offline_total <= 1800, "E2K7CCR offline %ds" % offline_total
for n in ("HUBCAS", "NODE1", "NODE2"):
    assert software[(n, "exchange")] == "SP1", (n, software)
for n in ("NODE1", "NODE2"):
    assert software[(n, "dotnet")] == "SP1", (n, software)
cms = groups["E2K7CCR"]
assert cms["owner"] == "NODE1" and cms["online"] and cms["version"] == "SP1", cms
assert groups["Cluster Group"]["owner"] == "NODE1", groups["Cluster Group"]
assert services == initial_services, {k: (initial_services.get(k), v) for k, v in services.items() if initial_services.get(k) != v}
assert any(k[1] == "SharedAccess" for k in services), "no SharedAccess events"
PY

# --- afterwards: in sync everywhere, and a second apply changes nothing in the lab
expect 0 plan "$M" --state-dir "$S"
expect 0 check "$M" --state-dir "$S"
before=$(wc -l <"$EVENTS")
expect 0 apply "$M" --state-dir "$S" --json
py 'assert doc["status"] == "in_sync" and doc["summary"]["changed"] == 0, doc["summary"]'
lab_only_reads "$EVENTS" "$before" "the second apply"
expect 0 history --state-dir "$S" --json
py '
runs = doc["runs"]
assert runs[0]["command"] == "apply" and runs[0]["status"] == "in_sync", runs[0]
applied = [r for r in runs if r["status"] == "converged"]
assert len(applied) == 1 and applied[0]["changes"] > 20, applied
'

pass "the rolling upgrade converged on the lab with no violation, services as before, and a no-op rerun"
