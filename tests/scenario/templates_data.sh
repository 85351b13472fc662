#!/usr/bin/env bash
# Templates and data: a `file` rendered from a Mustache template (loops, conditionals,
# the node's and for_each's values), re-rendered when the template changes; `defaults:` in a
# fragment that the manifest's vars and a node's vars override; ${env.X} and ${secret.X} in
# properties, applied but never printed, journaled or cached; and the errors of each, with
# their positions, before anything is written.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/root
mkdir -p "$R/etc" tpl
cat >tpl/site.conf.mustache <<'EOF'
# {{node.name}} ({{vars.site}})
listen {{vars.port}};
{{#vars.upstreams}}
server {{.}};
{{/vars.upstreams}}
{{#vars.tls}}ssl on;{{/vars.tls}}{{^vars.tls}}ssl off;{{/vars.tls}}
raw {{vars.amp}} {{{vars.amp}}}
{{! a comment renders as nothing }}
EOF
cat >fragment.yaml <<'EOF'
apiVersion: converge/v1
kind: Fragment
defaults:
  port: 80
  tls: false
  site: default-site
EOF
cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: templates}
include: [fragment.yaml]
vars:
  site: shop.example
  upstreams: [10.0.0.1:8080, 10.0.0.2:8080]
  amp: "a&b<c>"
inventory:
  nodes:
    web1: {root: $R/web1}
    web2: {root: $R/web2, vars: {port: 8443, tls: true, site: node-site}}
resources:
  - {type: directory, name: /etc}
  - {type: file, name: /etc/site.conf, properties: {template: tpl/site.conf.mustache, mode: "0644"}}
  - {type: file, name: /etc/port, properties: {content: "\${vars.port}\n"}}
YAML
mkdir -p "$R/web1" "$R/web2"
expect 0 validate m.yaml
expect 0 apply m.yaml
assert_content "$R/web1/etc/site.conf" "# web1 (shop.example)
listen 80;
server 10.0.0.1:8080;
server 10.0.0.2:8080;
ssl off;
raw a&b<c> a&b<c>
"
# web2's own vars override the fragment's defaults; the manifest's vars override its site,
# and win over web2's own (a node overrides only a default no vars: sets).
assert_content "$R/web2/etc/site.conf" "# web2 (shop.example)
listen 8443;
server 10.0.0.1:8080;
server 10.0.0.2:8080;
ssl on;
raw a&b<c> a&b<c>
"
assert_content "$R/web1/etc/port" "80
"
assert_content "$R/web2/etc/port" "8443
"
expect 0 apply m.yaml --json
py 'assert doc["status"] == "in_sync", doc["status"]'
# An edit to the template alone (the manifest unchanged) re-renders: the model cache knows it.
sed -i 's/^listen /listen [::]:/' tpl/site.conf.mustache
expect 0 apply m.yaml --json
py 'assert doc["summary"]["changed"] == 2, doc["summary"]'
grep -q '^listen \[::\]:80;$' "$R/web1/etc/site.conf" || fail "the edited template was not rendered: $(cat "$R/web1/etc/site.conf")"

# Template errors: positions in the template, or at the template key; nothing written.
before=$(cat "$R/web1/etc/site.conf")
printf 'a\n{{#vars.upstreams}}\nserver {{.}};\n' >tpl/site.conf.mustache
expect 1 apply m.yaml
grep -q "tpl/site.conf.mustache:2:1: template section {{#vars.upstreams}} is never closed" <<<"$ERR" || fail "no position for the unclosed section: $ERR"
printf '{{#a}}x{{/b}}\n' >tpl/site.conf.mustache
expect 1 validate m.yaml
grep -q "tpl/site.conf.mustache:1:8: template section {{/b}} closes {{#a}}" <<<"$ERR" || fail "no position for the mismatched section: $ERR"
rm tpl/site.conf.mustache
expect 1 apply m.yaml
grep -q "m.yaml:15:63: cannot read template 'tpl/site.conf.mustache'" <<<"$ERR" || fail "a missing template is not reported at its key: $ERR"
[[ $(cat "$R/web1/etc/site.conf") == "$before" ]] || fail "a refused run changed the file"
sed -i 's|properties: {template: tpl/site.conf.mustache, mode: "0644"}|properties: {template: tpl/x, content: "y"}|' m.yaml
expect 1 validate m.yaml
grep -q "m.yaml:15:.*a file takes content or template, not both" <<<"$ERR" || fail "content and template together: $ERR"

# Defaults: two fragments defining one default is an error; vars beside a default is not.
cat >other.yaml <<'EOF'
apiVersion: converge/v1
kind: Fragment
defaults: {port: 81}
EOF
sed -i 's|include: \[fragment.yaml\]|include: [fragment.yaml, other.yaml]|; s|properties: {template: tpl/x, content: "y"}|properties: {content: "y"}|' m.yaml
expect 1 validate m.yaml
grep -q "defaults 'port' is defined twice" <<<"$ERR" || fail "a default defined twice: $ERR"

# ${env.X} and ${secret.X}: applied, never printed, journaled or cached.
S=$WORK/state
cat >s.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: secrets}
secrets: secrets.yaml
inventory:
  nodes:
    web1: {root: $R/web1}
resources:
  - {type: file, name: /etc/db.conf, properties: {content: "password=\${secret.db_password}\n", mode: "0600"}}
  - {type: file, name: /etc/token, properties: {content: "\${env.CONVERGE_TEST_TOKEN}"}}
  - {type: file, name: /etc/plain, properties: {content: "nothing secret\n"}}
YAML
printf 'db_password: "s3cr3t-from-file"\n' >secrets.yaml
chmod 0644 secrets.yaml
export CONVERGE_TEST_TOKEN=tok-from-env-4711
expect 1 validate s.yaml
grep -q "s.yaml:4:10: the secrets file 'secrets.yaml' is readable by others (mode 0644): chmod 600 it" <<<"$ERR" ||
  fail "a world-readable secrets file was not refused: $ERR"
chmod 0600 secrets.yaml
expect 2 plan s.yaml --state-dir "$S" --diff
! grep -q "s3cr3t-from-file\|tok-from-env-4711" <<<"$OUT$ERR" || fail "plan printed a secret: $OUT"
expect 0 apply s.yaml --state-dir "$S" --diff --json
! grep -q "s3cr3t-from-file\|tok-from-env-4711" <<<"$OUT$ERR" || fail "apply printed a secret"
py 'assert doc["status"] == "converged", doc["status"]'
assert_content "$R/web1/etc/db.conf" "password=s3cr3t-from-file
"
assert_content "$R/web1/etc/token" "tok-from-env-4711"
! grep -rqa "s3cr3t-from-file\|tok-from-env-4711" "$S" || fail "a secret reached the state directory: $(grep -rla 's3cr3t-from-file\|tok-from-env-4711' "$S")"
[[ ! -e $S/model.cache ]] || fail "a model holding secrets was cached"
# A new value in the environment is applied on the next run (nothing stale is cached).
export CONVERGE_TEST_TOKEN=tok-rotated-0815
expect 0 apply s.yaml --state-dir "$S"
assert_content "$R/web1/etc/token" "tok-rotated-0815"
! grep -q "tok-rotated-0815" <<<"$OUT$ERR" || fail "apply printed the rotated token"
# Errors: an unset variable, a name missing from the file, a secret where it would be printed.
unset CONVERGE_TEST_TOKEN
expect 1 validate s.yaml
grep -q "s.yaml:10:.*environment variable CONVERGE_TEST_TOKEN is not set" <<<"$ERR" || fail "an unset variable: $ERR"
export CONVERGE_TEST_TOKEN=x
sed -i 's/secret.db_password/secret.nope/' s.yaml
expect 1 validate s.yaml
grep -q "s.yaml:9:.*'nope' is not in the secrets file" <<<"$ERR" || fail "a missing secret: $ERR"
sed -i 's/secret.nope/secret.db_password/; s|name: /etc/plain|name: "/etc/${secret.db_password}"|' s.yaml
expect 1 validate s.yaml
grep -q "can be used only in a resource's properties" <<<"$ERR" || fail "a secret in a name: $ERR"
! grep -q "s3cr3t-from-file" <<<"$OUT$ERR" || fail "the refusal printed the secret"
pass
