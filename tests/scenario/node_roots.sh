#!/usr/bin/env bash
# Two local nodes, each with its own root directory standing for "/", grouped; resources
# `on:` the group land under each root, and nothing lands in the real "/".
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

mkdir -p nodes/web1 nodes/web2
# A path that cannot exist on the real machine, to prove nothing is written outside the roots.
TOP=/converge-node-roots-$$-$RANDOM
[[ -e $TOP ]] && fail "$TOP exists already"
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
inventory:
  nodes:
    web1: {root: nodes/web1}          # relative to the manifest
    web2: {root: $WORK/nodes/web2}    # absolute
  groups:
    web: [web1, web2]
resources:
  - type: directory
    name: $TOP
    on: web
    properties: {mode: "0755"}
  - type: file
    name: $TOP/node.conf
    on: web
    properties: {content: "node=\${node.name}\n", mode: "0644"}
  - type: file
    name: $TOP/only-web1
    on: web1
    properties: {content: "one\n"}
  - type: exec                        # commands see the node's root as \$CONVERGE_ROOT
    name: marker
    on: [web]
    properties:
      check: [sh, -c, 'test -f "\$CONVERGE_ROOT$TOP/marker"']
      apply: [sh, -c, 'echo "\$CONVERGE_ROOT" > "\$CONVERGE_ROOT$TOP/marker"']
    depends_on: ["directory[$TOP]"]
YAML

expect 0 validate m.yaml
grep -q '7 resources on 2 nodes' <<<"$OUT$ERR" || fail "validate should count 7 resources on 2 nodes: $OUT$ERR"
expect 2 plan --json m.yaml
py '
top = args[0]
ids = sorted(r["id"] for r in doc["resources"])
want = sorted([f"directory[{top}]@web1", f"directory[{top}]@web2", f"file[{top}/node.conf]@web1",
               f"file[{top}/node.conf]@web2", f"file[{top}/only-web1]@web1",
               "exec[marker]@web1", "exec[marker]@web2"])
assert ids == want, ids
' "$TOP"

expect 0 m.yaml
[[ -e $TOP ]] && fail "$TOP was created in the real root directory"
for n in web1 web2; do
  assert_mode "$WORK/nodes/$n$TOP" 0755
  assert_content "$WORK/nodes/$n$TOP/node.conf" "node=$n"$'\n'
  assert_content "$WORK/nodes/$n$TOP/marker" "$WORK/nodes/$n"$'\n'
done
assert_content "$WORK/nodes/web1$TOP/only-web1" $'one\n'
[[ -e $WORK/nodes/web2$TOP/only-web1 ]] && fail "a resource on web1 landed under web2's root"

expect 0 check m.yaml
# Drift on one node only is reported for that node only.
rm "$WORK/nodes/web2$TOP/node.conf"
expect 2 check --json m.yaml
py '
ids = [r["id"] for r in doc["resources"]]
assert ids == [f"file[{args[0]}/node.conf]@web2"], ids
' "$TOP"
expect 0 m.yaml
assert_content "$WORK/nodes/web2$TOP/node.conf" $'node=web2\n'
pass
