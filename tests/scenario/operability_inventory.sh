#!/usr/bin/env bash
# Inventories apart from the manifest:
#   - inventory: FILE (kind: Inventory): nodes with their transport and roots, groups,
#     group_vars (a node's own vars win); an edit of the inventory file is seen by the next
#     run (the cached model is keyed on it too);
#   - inventory: {command: [...]}: a program in the manifest's directory prints the
#     inventory as JSON; its answer is asked afresh on every run (never cached), by validate
#     too; merged with groups written inline.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p site/nodes/web1/etc site/nodes/web2/etc site/nodes/web3/etc
cat >site/inventory.yaml <<'YAML'
apiVersion: converge/v1
kind: Inventory
transport: {local: {}}
nodes:
  web1: {root: nodes/web1, vars: {greeting: "hello from web1"}}
  web2: {root: nodes/web2}
groups:
  web: [web1, web2]
group_vars:
  web: {greeting: "hello from the web group", port: 8080}
YAML
cat >site/m.yaml <<'YAML'
apiVersion: converge/v1
kind: Manifest
inventory: inventory.yaml
resources:
  - {type: file, name: /etc/motd, on: web, properties: {content: "${node.vars.greeting} on ${node.vars.port}\n"}}
YAML
S=$WORK/state
expect 0 validate site/m.yaml
grep -q "1 resources on 2 nodes\|2 resources on 2 nodes" <<<"$OUT" || fail "validate does not count the inventory's nodes: $OUT"
expect 0 apply site/m.yaml --state-dir "$S"
assert_content site/nodes/web1/etc/motd $'hello from web1 on 8080\n'
assert_content site/nodes/web2/etc/motd $'hello from the web group on 8080\n'
expect 0 apply site/m.yaml --state-dir "$S"
grep -q "in_sync" <<<"$OUT" || fail "a second apply is not a no-op: $OUT"

# An edit of the inventory file alone: the next run sees it (no stale cached model).
sed -i -e 's|  web2: {root: nodes/web2}|  web2: {root: nodes/web2}\n  web3: {root: nodes/web3}|' -e 's|web: \[web1, web2\]|web: [web1, web2, web3]|' site/inventory.yaml
expect 2 plan site/m.yaml --state-dir "$S" --json
py '
ids = [r["id"] for r in doc["resources"]]
assert ids == ["file[/etc/motd]@web3"], ids'

# --- a program prints the inventory --------------------------------------------------------------
cat >site/zones.json <<'JSON'
{"transport": {"local": {}},
 "nodes": {"db1": {"root": "nodes/db1"}, "db2": {"root": "nodes/db2", "vars": {"role": "replica"}}},
 "group_vars": {"db": {"role": "primary"}}}
JSON
cat >site/inventory.py <<'PY'
#!/usr/bin/env python3
# A dynamic inventory: what a cloud API would answer, from zones.json beside it.
import json, os, sys
here = os.path.dirname(os.path.abspath(sys.argv[0]))
inv = json.load(open(os.path.join(here, "zones.json")))
json.dump(inv, sys.stdout)
PY
chmod +x site/inventory.py
mkdir -p site/nodes/db1/etc site/nodes/db2/etc site/nodes/db3/etc
cat >site/db.yaml <<'YAML'
apiVersion: converge/v1
kind: Manifest
inventory: {command: [./inventory.py], groups: {db: [db1, db2]}}
resources:
  - {type: file, name: /etc/role, on: db, properties: {content: "${node.name} ${node.vars.role}\n"}}
YAML
DS=$WORK/db-state
(cd / && expect 0 validate "$WORK/site/db.yaml")
expect 0 apply site/db.yaml --state-dir "$DS"
assert_content site/nodes/db1/etc/role $'db1 primary\n'
assert_content site/nodes/db2/etc/role $'db2 replica\n'
[[ ! -e $DS/model.cache ]] || fail "a model from a program's inventory was cached"
# The program answers differently: the next run asks it again.
/usr/bin/python3 - site/zones.json <<'PY'
import json, sys
inv = json.load(open(sys.argv[1]))
inv["nodes"]["db3"] = {"root": "nodes/db3"}
json.dump(inv, open(sys.argv[1], "w"))
PY
sed -i 's/db: \[db1, db2\]/db: [db1, db2, db3]/' site/db.yaml
expect 0 apply site/db.yaml --state-dir "$DS"
assert_content site/nodes/db3/etc/role $'db3 primary\n'
# A failing program stops the run before anything is touched, naming it.
printf '#!/bin/sh\necho "cloud API unreachable" >&2\nexit 7\n' >site/inventory.py
rm site/nodes/db1/etc/role
expect 1 apply site/db.yaml --state-dir "$DS"
grep -q "db.yaml:3:22: inventory program ./inventory.py: exited 7: cloud API unreachable" <<<"$ERR" || fail "the failing program is not named: $ERR"
[[ ! -e site/nodes/db1/etc/role ]] || fail "a run went ahead without its inventory"
pass
