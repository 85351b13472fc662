#!/usr/bin/env bash
# --diff: plan, check and apply show a unified diff of changed file content (-old/+new
# lines in hunks, a created file all +), in text and in JSON (valid against the report
# schema); a sensitive file's diff is withheld, binary content summarised; without --diff
# no diff; --diff is refused where it means nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R"
for i in $(seq 1 30); do echo "setting_$i = $i"; done >"$R/app.conf"
printf 'ab\xff\xfe\0cd' >"$R/blob"
printf 'old secret\n' >"$R/secret"
new_conf=$(sed 's/^setting_15 = 15$/setting_15 = fifteen/' "$R/app.conf")
cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
vars:
  conf: |
$(sed 's/^/    /' <<<"$new_conf")
resources:
  - {type: file, name: $R/app.conf, properties: {content: "\${vars.conf}"}}
  - {type: file, name: $R/new.txt, properties: {content: "first\nsecond\n"}}
  - {type: file, name: $R/blob, properties: {content: "text now\n"}}
  - {type: file, name: $R/secret, sensitive: [content], properties: {content: "new secret\n"}}
YAML

expect 2 plan m.yaml --diff --no-color
grep -qxF -- "        -setting_15 = 15" <<<"$OUT" || fail "no -old line: $OUT"
grep -qxF -- "        +setting_15 = fifteen" <<<"$OUT" || fail "no +new line: $OUT"
grep -qxF -- "        @@ -12,7 +12,7 @@" <<<"$OUT" || fail "no hunk with three lines of context: $OUT"
grep -qxF -- "         setting_12 = 12" <<<"$OUT" || fail "no context line: $OUT"
! grep -q "setting_11 = 11\|setting_19 = 19" <<<"$OUT" || fail "more context than three lines: $OUT"
grep -qxF -- "        +second" <<<"$OUT" || fail "the created file is not shown as added lines: $OUT"
grep -qF "(binary content, not shown: 7 -> 9 bytes)" <<<"$OUT" || fail "binary content not summarised: $OUT"
grep -qF "(diff withheld: sensitive)" <<<"$OUT" || fail "the sensitive diff is not withheld: $OUT"
! grep -q "old secret\|new secret" <<<"$OUT" || fail "a secret leaked: $OUT"

expect 2 plan m.yaml --no-color
! grep -q "^        [-+@]" <<<"$OUT" || fail "a diff without --diff: $OUT"

expect 2 check m.yaml --diff --json
schema_ok report
py '
by = {r["id"]: r for r in doc["resources"]}
conf = [r for i, r in by.items() if i.endswith("/app.conf]@localhost")][0]
d = [c for c in conf["changes"] if c["property"] == "content"][0]["diff"]
assert "-setting_15 = 15\n+setting_15 = fifteen\n" in d, d
sec = [r for i, r in by.items() if i.endswith("/secret]@localhost")][0]
assert sec["changes"][0]["diff"] == "(diff withheld: sensitive)\n", sec
'
expect 0 apply m.yaml --diff --no-color
grep -qxF -- "        +setting_15 = fifteen" <<<"$OUT" || fail "apply --diff does not show what it changed: $OUT"
expect 0 apply m.yaml --diff --no-color
! grep -q "^        [-+@]" <<<"$OUT" || fail "a no-op shows a diff: $OUT"
expect 1 validate m.yaml --diff
grep -q -- "--diff" <<<"$ERR" || fail "validate --diff: $ERR"
pass
