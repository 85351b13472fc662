#!/usr/bin/env bash
# --limit and --tags, with the same meaning in plan, check and apply:
#   - the showcase: a limit that leaves out what an order constraint puts first is refused
#     (exit 3, naming the constraint); one whose goal needs steps on a resource it leaves out
#     is refused naming those steps; HUBCAS,NODE2 (the hub and the passive node) plans and
#     applies only there, the lab stays without a violation, check then finds the drift
#     only on what was left out, and an unlimited apply finishes the job;
#   - a six-node web tier (data types and built-in files, with tags): --limit web1,web2
#     deploys only those two, --tags motd writes only the tagged files, both together only
#     their intersection; every run says how many resources it left out;
#   - a run limited to what is in sync keeps the journaled priors of what it left out (an
#     interrupted maintenance is still put back by the next full run);
#   - an unknown node, group or tag, or an empty list, is an error (exit 1) that changes
#     nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# --- the showcase --------------------------------------------------------------------------------
M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
S=$WORK/state
expect 3 plan "$M" --state-dir "$S" --limit NODE1
grep -q "no plan satisfies order \[HUBCAS\] before \[NODE1, NODE2\]" <<<"$ERR$OUT" || fail "the order constraint is not named: $ERR$OUT"
grep -q "leaves out HUBCAS/exchange_server\[exchange\].version" <<<"$ERR$OUT" || fail "what was left out is not named: $ERR$OUT"
expect 3 plan "$M" --state-dir "$S" --limit HUBCAS,NODE1
grep -q "needs steps the run leaves out (.*clustered_mailbox_server\[E2K7CCR\] move" <<<"$ERR$OUT" ||
  fail "the left-out steps the goal needs are not named: $ERR$OUT"
expect 2 plan "$M" --state-dir "$S" --limit HUBCAS,NODE2 --json
schema_ok report
py '
s = doc["summary"]
assert s["excluded"] == 10 and s["pending"] == 3, s
nodes = {st["node"] for st in doc["plan"]["steps"]}
assert nodes == {"HUBCAS", "NODE2"}, nodes
assert all(r["id"].endswith(("@HUBCAS", "@NODE2")) for r in doc["resources"]), doc["resources"]
'
expect 0 apply "$M" --state-dir "$S" --limit HUBCAS,NODE2 --lab-speed 0
grep -q "note: --limit HUBCAS,NODE2: 10 of 20 resources left out (on CLUS1, NODE1)" <<<"$OUT" || fail "no note of what was left out: $OUT"
lab_judge "$S" 0
expect 2 check "$M" --state-dir "$S" --json
py '
drifted = sorted(r["id"] for r in doc["resources"])
assert drifted == ["clustered_mailbox_server[E2K7CCR]@CLUS1", "dotnet[2.0]@NODE1", "exchange_server[exchange]@NODE1"], drifted
'
expect 0 check "$M" --state-dir "$S" --limit HUBCAS,NODE2
expect 0 apply "$M" --state-dir "$S" --lab-speed 0
lab_judge "$S" 1
expect 0 check "$M" --state-dir "$S"

# --- a limited run keeps the priors of what it leaves out: killed after step 7 (NODE2's
# services stopped for its setup), a run limited to HUBCAS (in sync by then) must not close
# them, so that the full rerun still puts NODE2's services back as they were.
K=$WORK/killed
set +e
{ (CONVERGE_TEST_KILL_AT_STEP=7 exec "$CONVERGE" apply "$M" --state-dir "$K" >/dev/null 2>&1); } 2>/dev/null
rc=$?
set -e
((rc == 137)) || fail "the run was not killed at step 7 (exit $rc)"
expect 0 apply "$M" --state-dir "$K" --limit HUBCAS
expect 0 apply "$M" --state-dir "$K"
lab_judge "$K" 1

# --- a web tier with tags -----------------------------------------------------------------------
cat >web.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
include: [$SOURCE_DIR/resources/linux.yaml]
vars: {release: "2024.06.1"}
inventory:
  transport: {local: {}}
  nodes:
$(for n in 1 2 3 4 5 6; do echo "    web$n: {root: nodes/web$n}"; done)
  groups:
    web: [web1, web2, web3, web4, web5, web6]
    front: [web1, web2]
resources:
  - {type: web_release, name: shop, on: web, tags: [deploy], properties: {version: "\${vars.release}"}}
  - {type: lb_member, name: shop, on: web, tags: [deploy], properties: {enabled: true}}
  - {type: file, name: /etc/motd, on: web, tags: [motd], properties: {content: "welcome\n"}}
  - {type: file, name: /etc/issue, on: web, properties: {content: "web\n"}}
constraints:
  - {max_disrupted: 2, of: web}
YAML
for n in 1 2 3 4 5 6; do mkdir -p nodes/web$n/etc; done
WS=$WORK/web-state
expect 1 plan web.yaml --state-dir "$WS" --limit web7
grep -q -- "--limit: 'web7' is no node, group or cluster" <<<"$ERR" || fail "unknown limit: $ERR"
expect 1 apply web.yaml --state-dir "$WS" --tags motdd
grep -q -- "--tags: no resource of .* carries tag 'motdd'" <<<"$ERR" || fail "unknown tag: $ERR"
expect 1 apply web.yaml --state-dir "$WS" --limit ""
grep -q -- "--limit and --tags need at least one name" <<<"$ERR" || fail "an empty --limit is not refused: $ERR"
expect 1 apply web.yaml --state-dir "$WS" --tags ,
[[ -z $(find nodes -type f) ]] || fail "a refused run changed a node: $(find nodes -type f)"

expect 0 apply web.yaml --state-dir "$WS" --tags motd
for n in 1 2 3 4 5 6; do
  assert_content nodes/web$n/etc/motd $'welcome\n'
  [[ -e nodes/web$n/etc/issue || -e nodes/web$n/srv/shop/current ]] && fail "web$n: --tags motd changed an untagged resource"
done
grep -q "note: --tags motd: 18 of 24 resources left out" <<<"$OUT" || fail "no note for --tags: $OUT"

expect 2 plan web.yaml --state-dir "$WS" --limit front --json
py '
nodes = {st["node"] for st in doc["plan"]["steps"]}
assert nodes == {"web1", "web2"}, nodes
assert doc["summary"]["excluded"] == 16, doc["summary"]
'
expect 0 apply web.yaml --state-dir "$WS" --limit front
for n in 1 2; do
  [[ $(cat nodes/web$n/srv/shop/current) == 2024.06.1 ]] || fail "web$n: not deployed"
  assert_content nodes/web$n/etc/issue $'web\n'
done
for n in 3 4 5 6; do
  [[ -e nodes/web$n/srv/shop/current || -e nodes/web$n/etc/issue ]] && fail "web$n: changed by --limit front"
done

expect 0 apply web.yaml --state-dir "$WS" --limit web3 --tags deploy
[[ $(cat nodes/web3/srv/shop/current) == 2024.06.1 ]] || fail "web3: not deployed"
[[ -e nodes/web3/etc/issue || -e nodes/web4/srv/shop/current ]] && fail "--limit web3 --tags deploy went beyond both"

expect 2 check web.yaml --state-dir "$WS" --json
py '
drifted = sorted(r["id"] for r in doc["resources"])
want = sorted(["file[/etc/issue]@web%d" % n for n in (3, 4, 5, 6)] + [t + "[shop]@web%d" % n for n in (4, 5, 6) for t in ("web_release", "lb_member")])
assert drifted == want, drifted
'
expect 0 apply web.yaml --state-dir "$WS"
expect 0 check web.yaml --state-dir "$WS"
pass
