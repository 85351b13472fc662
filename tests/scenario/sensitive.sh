#!/usr/bin/env bash
# A file whose content is marked sensitive: no command's output (text or JSON, stdout or
# stderr) and no file in the state directory ever holds the secret; "(sensitive)" shows.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

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
pass
