#!/usr/bin/env bash
# The showcase on a lab where SharedAccess runs on NODE1 with startup Manual: the .NET
# reboot of NODE1 stops it (a manual service does not start at boot) and setup needs it
# running.
#   - With the Windows types (a service's state after a boot follows its startup type), the
#     first plan already starts it again after the reboot: apply exits 0 without planning
#     again, and SharedAccess ends as it began (running, manual).
#   - With types that do not say what a boot does, the plan made before the reboot has no
#     such step. The closed loop sees it before setup (the step's conditions observed
#     afresh), does not run setup, journals why ("not run: re-planned", the fact that
#     changed) and plans again: the same run converges, exit 0.
# Outage measured, not only planned (the lab in real time): each group's measured outage is
# shown beside the planned one and its budget (text, JSON, history). When upgradecms hangs
# once (the step times out and is tried again), the CMS's measured outage passes its
# budget: the step that would take it down again (the move back to NODE1) is not started,
# the run halts safely with exit 3 naming the group and the figures, and a rerun finishes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p "$WORK/labs"
sed 's|      SharedAccess: {state: stopped, startup: manual}.*|      SharedAccess: {state: running, startup: manual}|' \
  "$SOURCE_DIR/manifests/labs/clus1-rtm.yaml" >"$WORK/labs/clus1-rtm.yaml"
grep -q "SharedAccess: {state: running, startup: manual}" "$WORK/labs/clus1-rtm.yaml" || fail "the lab variant was not made"
sed "s|\.\./resources/|$SOURCE_DIR/resources/|g" "$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml" >"$WORK/m.yaml"
# The same types, without what a boot does to a service's state.
grep -v "after_boot: {from: startup" "$SOURCE_DIR/resources/windows.yaml" >"$WORK/windows-noboot.yaml"
cmp -s "$WORK/windows-noboot.yaml" "$SOURCE_DIR/resources/windows.yaml" && fail "windows.yaml has no after_boot rule to drop"
sed "s|$SOURCE_DIR/resources/windows.yaml|$WORK/windows-noboot.yaml|" "$WORK/m.yaml" >"$WORK/m-noboot.yaml"

sharedaccess_as_before() {
  python3 - "$1/lab/events.jsonl" <<'PY' || fail "$1: SharedAccess on NODE1 did not end as it began"
import json, sys
last = None
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["kind"] != "violation", e
    if e["kind"] == "service" and e["node"] == "NODE1" and e["service"] == "SharedAccess":
        last = (e["state"], e["startup"])
assert last == ("running", "manual"), last
PY
}

# --- the types say what a boot does: the first plan starts SharedAccess after the reboot
expect 2 plan "$WORK/m.yaml" --state-dir "$WORK/s1" --json
py '
steps = doc["plan"]["steps"]
boot = next(i for i, s in enumerate(steps) if s["node"] == "NODE1" and s["resource"].startswith("reboot"))
start = [i for i, s in enumerate(steps) if s["node"] == "NODE1" and s["resource"] == "service[SharedAccess]@NODE1" and s["action"] == "start"]
setup = next(i for i, s in enumerate(steps) if s["node"] == "NODE1" and s["resource"].startswith("exchange_server"))
assert any(boot < i < setup for i in start), (boot, start, setup)
'
expect 0 apply "$WORK/m.yaml" --state-dir "$WORK/s1" --json
py '
assert doc["status"] == "converged", doc["status"]
assert "replanned" not in doc, doc.get("replanned")
'
sharedaccess_as_before "$WORK/s1"
lab_judge "$WORK/s1" 1

# --- they do not: the closed loop catches it before setup and plans again
expect 2 plan "$WORK/m-noboot.yaml" --state-dir "$WORK/s2" --json
py '
steps = doc["plan"]["steps"]
setup = next(i for i, s in enumerate(steps) if s["node"] == "NODE1" and s["resource"].startswith("exchange_server"))
assert not any(s["resource"] == "service[SharedAccess]@NODE1" and s["action"] == "start" for s in steps[:setup]), "the plan already starts it"
'
expect 0 apply "$WORK/m-noboot.yaml" --state-dir "$WORK/s2" --json
schema_ok report
py '
assert doc["status"] == "converged", doc["status"]
why = doc["replanned"]
assert len(why) == 1 and "exchange_server[exchange] upgrade" in why[0] and "NODE1" in why[0], why
assert "service[SharedAccess]@NODE1 state is stopped, not running as planned" in why[0], why
'
sharedaccess_as_before "$WORK/s2"
lab_judge "$WORK/s2" 1
expect 0 history 1 --state-dir "$WORK/s2" --json
py '
rows = [s for s in doc["steps"] if s["outcome"] == "not run: re-planned"]
assert len(rows) == 1, rows
assert rows[0]["resource"] == "exchange_server[exchange]@NODE1", rows[0]
assert "SharedAccess" in rows[0]["error"], rows[0]
'
# No setup command ran on NODE1 between the reboot and SharedAccess started again.
python3 - "$WORK/s2/lab/events.jsonl" <<'PY' || fail "setup ran while SharedAccess was stopped"
import json, sys
running = True
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["kind"] == "service" and e["node"] == "NODE1" and e["service"] == "SharedAccess":
        running = e["state"] == "running"
    if e["kind"] == "command" and e["node"] == "NODE1" and e["command"].startswith("setup.com /m:upgrade"):
        assert running, line
PY

# --- outage measured beside the planned one
expect 0 apply "$WORK/m.yaml" --state-dir "$WORK/s3" --lab-speed 600 --json
py '
o = doc["outage"]["E2K7CCR"]
assert o["budget_s"] == 1800 and 0 < o["planned_s"] <= 1800, o
assert o["planned_s"] * 0.9 <= o["measured_s"] <= 1800, o
'
expect 0 history 1 --state-dir "$WORK/s3"
grep -Eq "outage E2K7CCR: [0-9hms]+ measured, 15m30s planned of 30m" <<<"$OUT" || fail "history shows no measured outage: $OUT"
expect 0 history 1 --state-dir "$WORK/s3" --json
py 'assert doc["outage"]["E2K7CCR"]["measured_s"] > 0, doc.get("outage")'

# --- a CMS outage that ran long: the next one is not started
sed 's|^faults: \[\]|faults:\n  - {node: NODE2, command: "setup.com /upgradecms", mode: hang_once}|' \
  "$SOURCE_DIR/manifests/labs/clus1-rtm.yaml" >"$WORK/labs/clus1-rtm.yaml"
grep -q "mode: hang_once" "$WORK/labs/clus1-rtm.yaml" || fail "the fault was not injected"
expect 3 apply "$WORK/m.yaml" --state-dir "$WORK/s4" --lab-speed 3000 --json
py '
assert doc["status"] == "halted", doc["status"]
o = doc["outage"]["E2K7CCR"]
assert o["measured_s"] > o["budget_s"] == 1800, o
halt = doc["halt"]
assert "not started: it takes E2K7CCR down for about 2m (planned)" in halt and "of its 30m budget" in halt, halt
'
python3 - "$WORK/s4/lab/events.jsonl" <<'PY' || fail "the CMS went down again after its budget was spent"
import json, sys
downs, online = 0, True
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["kind"] == "group" and e["group"] == "E2K7CCR":
        downs += online and not e["online"]
        online = e["online"]
assert downs == 1, downs
PY
expect 0 apply "$WORK/m.yaml" --state-dir "$WORK/s4" --lab-speed 3000 --json
py 'assert doc["status"] == "converged", doc["status"]'
lab_judge "$WORK/s4" 1

pass "a reboot that stops a manual service: planned for by the types, caught by the closed loop without them; outage measured and its budget kept"
