#!/usr/bin/env bash
# Generality: the six-node web tier of manifests/rolling-web-tier.yaml (data types only,
# resources/linux.yaml; local nodes under root directories). A first apply deploys and
# enables every node. Rolling to a new release: every node is drained from the load
# balancer before its deploy (a transient requirement) and enabled again after; the nodes'
# chains run side by side, two at a time (max_disrupted 2), and never more than two nodes
# are out at once; with max_disrupted 1, one at a time. The journal's steps show it; a
# rerun is a no-op.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

sed -e "s#\.\./resources/#$SOURCE_DIR/resources/#" "$SOURCE_DIR/manifests/rolling-web-tier.yaml" >"$WORK/web.yaml"
S=$WORK/state

expect 0 apply "$WORK/web.yaml" --state-dir "$S"
for n in 1 2 3 4 5 6; do
  [[ $(cat "$WORK/.rolling-web/web$n/srv/shop/current") == 2024.06.1 ]] || fail "web$n: not deployed"
  [[ -e $WORK/.rolling-web/web$n/etc/lb/shop.enabled ]] || fail "web$n: not enabled"
done

# out_at_once RUN: the most nodes drained at the same time in a run's journaled steps, and
# every deploy happens while its node is drained.
out_at_once() {
  expect 0 history "$1" --state-dir "$S" --json
  py '
out, most, deploys = set(), 0, 0
for s in doc["steps"]:
    node = s["resource"].split("@")[1]
    assert s["outcome"] == "changed", s
    if s["action"].startswith("drain"):
        out.add(node)
    elif s["action"].startswith("enable"):
        out.discard(node)
    elif s["action"] == "deploy":
        assert node in out, "deploy on %s while it takes traffic" % node
        deploys += 1
    most = max(most, len(out))
assert not out, "left drained: %s" % out
assert deploys == 6, deploys
print(most)
' >"$WORK/most"
  cat "$WORK/most"
}

sed -i 's/release: "2024.06.1"/release: "2024.07.1"/' "$WORK/web.yaml"
expect 2 plan "$WORK/web.yaml" --state-dir "$S" --json
py '
steps = [s for s in doc["plan"]["steps"] if s["chain"] == doc["plan"]["steps"][0]["chain"]]
assert [s["kind"] for s in steps] == ["establish", "planned", "restore"], steps
assert doc["plan"]["chains"] == 6 and doc["plan"]["makespan_s"] == doc["plan"]["lower_bound_s"], doc["plan"]
assert "max_disrupted 2 of [web1, web2, web3, web4, web5, web6]" in doc["plan"]["constraints"], doc["plan"]
'
expect 0 apply "$WORK/web.yaml" --state-dir "$S" --json
schema_ok report
py 'assert doc["chains"] == {"count": 6, "at_once": 2}, doc.get("chains")'
run=$(py 'print(doc["run_id"])')
most=$(out_at_once "$run")
((most >= 1 && most <= 2)) || fail "$most nodes out at once with max_disrupted 2"
for n in 1 2 3 4 5 6; do
  [[ $(cat "$WORK/.rolling-web/web$n/srv/shop/current") == 2024.07.1 ]] || fail "web$n: not rolled"
  [[ -e $WORK/.rolling-web/web$n/etc/lb/shop.enabled ]] || fail "web$n: left out of the pool"
done
expect 0 apply "$WORK/web.yaml" --state-dir "$S" --json
py 'assert doc["status"] == "in_sync", doc["status"]'

sed -i -e 's/release: "2024.07.1"/release: "2024.08.1"/' -e 's/{max_disrupted: 2, of: web}/{max_disrupted: 1, of: web}/' "$WORK/web.yaml"
expect 0 apply "$WORK/web.yaml" --state-dir "$S" --json
py 'assert doc["chains"] == {"count": 6, "at_once": 1}, doc.get("chains")'
run=$(py 'print(doc["run_id"])')
most=$(out_at_once "$run")
((most == 1)) || fail "$most nodes out at once with max_disrupted 1"

pass "six nodes rolled side by side within max_disrupted, each drained for its deploy; rerun is a no-op"
