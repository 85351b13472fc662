#!/usr/bin/env bash
# A directory, files (some stamped out by for_each) and an exec: the first apply creates
# everything; a second apply is a strict no-op; check finds exactly the drift we make;
# apply repairs it.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R"
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: files-lifecycle}
vars:
  root: $R
  files:
    a.txt: "alpha\n"
    b.txt: "bravo\n"
    c.txt: "charlie\n"
resources:
  - type: directory
    name: \${vars.root}/etc
    properties: {mode: "0750"}
  - type: file
    name: \${vars.root}/etc/\${each.key}
    for_each: \${vars.files}
    properties: {content: "\${each.value}", mode: "0640"}
  - type: file
    name: \${vars.root}/etc/motd
    properties: {content: "tab\there\nno final newline", mode: "0604"}
  - type: exec
    name: stamp
    depends_on: ["directory[$R/etc]"]
    properties:
      check: [test, -f, $R/stamp]
      apply: [sh, -c, 'echo ran >> "\$1" && touch "\$2"', sh, $R/counter, $R/stamp]
YAML

# --- first apply: everything is created, byte- and mode-exact
expect 0 m.yaml
[[ -d $R/etc ]] || fail "directory $R/etc was not created"
assert_mode "$R/etc" 0750
assert_content "$R/etc/a.txt" $'alpha\n'
assert_content "$R/etc/b.txt" $'bravo\n'
assert_content "$R/etc/c.txt" $'charlie\n'
assert_content "$R/etc/motd" $'tab\there\nno final newline'
for f in a b c; do assert_mode "$R/etc/$f.txt" 0640; done
assert_mode "$R/etc/motd" 0604
assert_content "$R/counter" $'ran\n'

# --- second apply: nothing changes, no command runs, no file is rewritten
before=$(for f in "$R"/etc "$R"/etc/*; do identity "$f"; done)
expect 0 apply --json m.yaml; schema_ok report
py '
assert doc["status"] == "in_sync", doc["status"]
assert doc["summary"]["changed"] == 0 and doc["summary"]["in_sync"] == 6, doc["summary"]
assert doc["resources"] == [], doc["resources"]
'
after=$(for f in "$R"/etc "$R"/etc/*; do identity "$f"; done)
[[ $before == "$after" ]] || fail "the no-op apply rewrote files:
before: $before
after:  $after"
assert_content "$R/counter" $'ran\n'
expect 0 check m.yaml

# --- three kinds of drift
printf 'tampered' > "$R/etc/a.txt"
chmod 0600 "$R/etc/b.txt"
rm "$R/etc/c.txt"
expect 2 check m.yaml
expect 2 check --json m.yaml; schema_ok report
py '
root = args[0]
res = {r["id"]: r for r in doc["resources"]}
want = {f"file[{root}/etc/{n}]@localhost" for n in ("a.txt", "b.txt", "c.txt")}
assert set(res) == want, f"drifted resources {sorted(res)}, expected {sorted(want)}"
for r in res.values():
    assert r["outcome"] == "pending", r
def changes(name):
    return {c["property"]: c for c in res[f"file[{root}/etc/{name}]@localhost"]["changes"]}
a = changes("a.txt")
assert set(a) == {"content"}, a
assert a["content"]["observed"] == "tampered" and a["content"]["desired"] == "alpha\n", a
assert a["content"]["sensitive"] is False, a
b = changes("b.txt")
assert set(b) == {"mode"}, b
assert b["mode"]["observed"] == "0600" and b["mode"]["desired"] == "0640", b
c = changes("c.txt")
assert c["ensure"]["observed"] == "absent" and c["ensure"]["desired"] == "present", c
for p, ch in c.items():
    if p != "ensure":
        assert ch["observed"] is None, ch
assert doc["summary"]["pending"] == 3 and doc["exit_code"] == 2 and doc["status"] == "drift", doc["summary"]
' "$R"
expect 2 plan m.yaml
[[ -f $R/etc/c.txt ]] && fail "plan created c.txt"
expect 2 plan --json m.yaml; schema_ok report
assert_content "$R/etc/a.txt" 'tampered'

# --- repair
expect 0 m.yaml
assert_content "$R/etc/a.txt" $'alpha\n'
assert_mode "$R/etc/b.txt" 0640
assert_content "$R/etc/c.txt" $'charlie\n'
assert_mode "$R/etc/c.txt" 0640
assert_content "$R/counter" $'ran\n'
expect 0 check m.yaml
pass
