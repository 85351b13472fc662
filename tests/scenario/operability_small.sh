#!/usr/bin/env bash
# Smaller things an operator meets every day:
#   - `validate` checks a type file on its own (valid, or every error with its position);
#   - `history MANIFEST` lists the runs kept beside that manifest;
#   - an exec's drift says what its check said, not only its exit code;
#   - an observed owner and group read by name, as the manifest names the desired ones.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# --- validate a type file alone --------------------------------------------------------------
expect 0 validate "$SOURCE_DIR/resources/windows.yaml"
grep -q "windows.yaml: valid type file (" <<<"$OUT" || fail "no summary of the type file: $OUT"
cat >types.yaml <<'YAML'
apiVersion: converge/v1
kind: Types
types:
  box:
    doc: a box
    properties: {size: {kinds: [integer]}}
    observe: [{argv: [q, '{nope}']}]
YAML
expect 1 validate types.yaml
grep -q "types.yaml:7:.*{nope}" <<<"$OUT$ERR" || fail "the bad placeholder is not placed: $OUT$ERR"

# --- history MANIFEST --------------------------------------------------------------------------
cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: listening
    properties:
      check: [sh, -c, 'test -f "\$1" || { echo "port 8080 is not listening" >&2; exit 1; }', sh, $WORK/up]
      apply: [touch, $WORK/up]
  - type: file
    name: $WORK/owned
    properties: {content: "x\n", owner: nobody, group: nogroup}
YAML
printf 'x\n' >owned
chown root:root owned
expect 2 check m.yaml
grep -qF "check exited 1: port 8080 is not listening" <<<"$OUT" || fail "the drift does not say what the check said: $OUT"
grep -qF 'owner: "root" -> "nobody"' <<<"$OUT" || fail "the observed owner is not shown by name: $OUT"
grep -qF 'group: "root" -> "nogroup"' <<<"$OUT" || fail "the observed group is not shown by name: $OUT"
expect 0 apply m.yaml
expect 0 history m.yaml
grep -q "check" <<<"$OUT" && grep -q "apply" <<<"$OUT" || fail "history m.yaml does not list the check and the apply: $OUT"
expect 0 history m.yaml --json
py 'assert [r["command"] for r in doc["runs"]] == ["apply", "check"], doc["runs"]'

pass
