#!/usr/bin/env bash
# The built-in types at their edges: a rewrite keeps the owner and group it does not manage,
# setuid survives a new owner, a tree marked absent is removed leaves first, a file of
# arbitrary bytes still gets a valid JSON report, an action that leaves drift fails, and
# exec's env and cwd reach the command.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

[[ $(id -u) == 0 ]] || { echo "SKIP [$SCENARIO]: needs root (chown)"; exit 0; }
R=$WORK/root
mkdir -p "$R/tree/sub" "$R/cwd"
printf 'old\n' > "$R/owned"
chown nobody:nogroup "$R/owned"
chmod 0640 "$R/owned"
printf 'x' > "$R/tree/sub/leaf"
printf 'y' > "$R/tree/top"
printf 'ab\xff\xfe\0cd' > "$R/binary"

cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - {type: file, name: $R/owned, properties: {content: "new\n"}}
  - {type: file, name: $R/suid, properties: {content: "s", mode: "4755", owner: nobody}}
  - {type: file, name: $R/binary, properties: {content: "text\n"}}
  - type: exec
    name: env-and-cwd
    properties:
      check: ["test", "-e", "$R/cwd/marker"]
      apply: ["sh", "-c", "printf '%s' \"\$GREETING\" > marker"]
      env: {GREETING: "hello; \$(id)"}
      cwd: $R/cwd
YAML

# Drift in a file that is not UTF-8: the JSON report is still a valid document.
expect 2 check --json m.yaml; schema_ok report
py '
r = [r for r in doc["resources"] if r["id"].startswith("file[") and r["id"].endswith("/binary]@localhost")][0]
assert r["changes"][0]["observed"] == "ab\ufffd\ufffd\u0000cd", r
'
expect 0 apply --progress m.yaml
# Progress: a command is announced as it starts (it may run for minutes), then finished.
python3 - "$ERR" <<'PY' || fail "progress lines: $ERR"
import sys
lines = [l.split() for l in sys.argv[1].splitlines()]
run = lines.index(["running", "exec[env-and-cwd]@localhost"])
done = lines.index(["changed", "exec[env-and-cwd]@localhost"])
assert run < done, lines
assert not any(l[0] == "running" and l[1].startswith("file[") for l in lines), lines
PY
assert_content "$R/owned" $'new\n'
[[ $(stat -c '%U:%G %a' "$R/owned") == "nobody:nogroup 640" ]] || fail "the rewrite changed owner or mode: $(stat -c '%U:%G %a' "$R/owned")"
[[ $(stat -c '%U %a' "$R/suid") == "nobody 4755" ]] || fail "setuid and owner: $(stat -c '%U %a' "$R/suid")"
assert_content "$R/binary" $'text\n'
assert_content "$R/cwd/marker" 'hello; $(id)'
expect 0 check m.yaml

# An owner change alone on a setuid file keeps the bit (chown clears it; the mode follows).
chown root "$R/suid"
chmod 4755 "$R/suid"
expect 0 apply m.yaml
[[ $(stat -c '%U %a' "$R/suid") == "nobody 4755" ]] || fail "owner repair lost setuid: $(stat -c '%U %a' "$R/suid")"

# A tree marked absent goes leaves first, whatever the declaration order.
cat > rm.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - {type: directory, name: $R/tree, properties: {ensure: absent}}
  - {type: directory, name: $R/tree/sub, properties: {ensure: absent}}
  - {type: file, name: $R/tree/sub/leaf, properties: {ensure: absent}}
  - {type: file, name: $R/tree/top, properties: {ensure: absent}}
YAML
expect 0 apply rm.yaml
[[ ! -e $R/tree ]] || fail "the tree is still there: $(find "$R/tree")"
expect 0 apply rm.yaml

# An action that reports success but leaves drift is a failure; a missing cwd is named.
cat > liar.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - {type: exec, name: liar, properties: {check: ["false"], apply: ["true"]}}
  - {type: exec, name: nowhere, properties: {check: ["true"], apply: ["true"], cwd: $R/missing}}
YAML
expect 1 apply liar.yaml
grep -qF "exec[liar]@localhost  failed: the action reported success but drift remains (check exited 1)" <<<"$OUT" ||
  fail "no drift-remains failure: $OUT"
grep -qF "working directory '$R/missing': No such file or directory" <<<"$OUT" || fail "missing cwd not named: $OUT"

# Nothing left behind: no temporaries beside the files written.
leftovers=$(find "$R" -name '.converge-*' | head -3)
[[ -z $leftovers ]] || fail "temporaries left: $leftovers"
pass
