#!/usr/bin/env bash
# A file whose content is marked sensitive: no command's output (text or JSON, stdout or
# stderr) and no file in the state directory ever holds the secret; "(sensitive)" shows.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
# One state directory beside the manifest for every run of this test (as earlier versions
# kept it by default).
export CONVERGE_STATE_DIR="$WORK/.converge"

SECRET='hunter2-S3cr3t-Passw0rd'
R=$WORK/root
mkdir -p "$R"
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
vars:
  password: "$SECRET"
resources:
  - type: file
    name: $R/db.conf
    sensitive: [content]
    properties:
      content: "password=\${vars.password}\n"
      mode: "0600"
  - type: file
    name: $R/public.conf
    properties: {content: "public\n"}
YAML

# no_secret WHAT: fails if the last command's output holds the secret.
no_secret() {
  if grep -qF "$SECRET" <<<"$OUT$ERR"; then fail "$1 printed the secret:
$OUT$ERR"; fi
  if grep -qF "${SECRET:0:12}" <<<"$OUT$ERR"; then fail "$1 printed part of the secret"; fi
}
shows_sensitive() {
  grep -qF '(sensitive)' <<<"$OUT" || fail "$1 does not show (sensitive):
$OUT"
}
json_hides() {
  py '
path = args[0]
rs = [r for r in doc["resources"] if r["id"] == f"file[{path}]@localhost"]
assert rs, doc["resources"]
ch = {c["property"]: c for c in rs[0]["changes"]}
assert ch["content"]["sensitive"] is True, ch
assert ch["content"]["observed"] == "(sensitive)" and ch["content"]["desired"] == "(sensitive)", ch
assert ch["mode"]["sensitive"] is False, ch
' "$R/db.conf"
}

expect 0 validate m.yaml; no_secret "validate"
expect 2 plan m.yaml; no_secret "plan"; shows_sensitive "plan"
expect 2 plan --json m.yaml; no_secret "plan --json"; json_hides
expect 2 plan -v m.yaml; no_secret "plan -v"
expect 0 apply m.yaml; no_secret "apply"
assert_content "$R/db.conf" "password=$SECRET"$'\n'
expect 0 check --json m.yaml; no_secret "check --json (in sync)"

# Drift in the secret file: both the observed and the desired value are secret.
printf 'password=%s-old\n' "$SECRET" > "$R/db.conf"
chmod 0644 "$R/db.conf"
expect 2 check m.yaml; no_secret "check"; shows_sensitive "check"
expect 2 check --json m.yaml; no_secret "check --json"; json_hides
expect 2 check --quiet m.yaml; no_secret "check --quiet"
expect 0 apply --json m.yaml; no_secret "apply --json"

# Nothing in the state directory (journal, caches) holds it either.
[[ -d .converge ]] || fail "no state directory beside the manifest"
if grep -rqF "$SECRET" .converge; then fail "the state directory holds the secret: $(grep -rlF "$SECRET" .converge)"; fi

# Errors quote what they are about: a command's stderr echoing its environment, a program
# that cannot start, an unknown owner. A sensitive value in them is blanked too.
cat > errors.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: echoes-env
    sensitive: [env]
    properties:
      check: ["false"]
      apply: ["sh", "-c", "echo token=\$TOKEN >&2; exit 3"]
      env: {TOKEN: "$SECRET"}
  - type: exec
    name: secret-argv
    sensitive: [apply]
    properties: {check: ["false"], apply: ["/nonexistent/$SECRET"]}
  - type: file
    name: $R/owned
    sensitive: [owner]
    properties: {content: "x", owner: "$SECRET"}
  - type: file
    name: $R/after-owned
    depends_on: ["file[$R/owned]"]
    properties: {content: "y"}
YAML
expect 1 apply errors.yaml; no_secret "apply (errors)"
for frag in "apply exited 3: token=(sensitive)" "cannot run '(sensitive)'" "no such user '(sensitive)'" \
            "file[$R/after-owned]@localhost  skipped"; do
  grep -qF "$frag" <<<"$OUT$ERR" || fail "apply (errors) does not say '$frag':
$OUT$ERR"
done
expect 1 apply --json errors.yaml; no_secret "apply --json (errors)"; schema_ok report
py 'assert sum(1 for r in doc["resources"] if r["outcome"] == "failed") == 3, doc["resources"]'
expect 0 history --json; no_secret "history --json"
last=$(printf '%s' "$OUT" | python3 -c 'import json, sys; print(json.load(sys.stdin)["runs"][0]["id"])')
expect 0 history --json "$last"; no_secret "history --json $last"
grep -qF 'token=(sensitive)' <<<"$OUT" || fail "history $last does not hold the scrubbed error: $OUT"
if grep -rqF "$SECRET" .converge; then fail "the state directory holds a secret from an error: $(grep -rlF "$SECRET" .converge)"; fi
pass
