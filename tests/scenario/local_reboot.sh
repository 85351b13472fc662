#!/usr/bin/env bash
# Reboot-and-continue on the machine converge runs on: a local node (under a root, whose
# /proc/sys/kernel/random/boot_id stands for the host's) gets a kernel that needs a
# restart, then the restart (a data type whose action `boots`), then an application that
# may start only once no restart is pending. The first apply runs up to the restart and
# stops "awaiting reboot" (exit 2); a rerun before the restart does nothing and says so;
# after the restart (a new boot id) the next run continues and converges (exit 0); then a
# rerun is a no-op. The journal shows the awaiting run. A sensitive property of a data type
# (an API key written by a planned step) reaches neither output nor the state directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

R=$WORK/host
mkdir -p "$R/proc/sys/kernel/random" "$R/etc" "$R/var/run"
echo boot-1 >"$R/proc/sys/kernel/random/boot_id"
echo 6.1.0 >"$R/etc/kernel"

cat >"$WORK/types.yaml" <<'YAML'
apiVersion: converge/v1
kind: Types
facts:
  restart_required:
    doc: a restart is pending
    probe: {argv: [sh, -c, 'test -e "$CONVERGE_ROOT/var/run/reboot-required"'], exit: {"0": true, "1": false}}
    after_boot: false
types:
  kernel:
    doc: the installed kernel
    properties: {version: {kinds: [string]}}
    observe:
      - argv: [sh, -c, 'cat "$CONVERGE_ROOT/etc/kernel"']
        properties: {version: {regex: '^(\S+)'}}
    actions:
      - name: install
        sets: {version: desired}
        argv: [sh, -c, 'echo "$1" > "$CONVERGE_ROOT/etc/kernel" && touch "$CONVERGE_ROOT/var/run/reboot-required"', sh, "{prop.version}"]
        duration: 1m
        disruption: node
        effects: [{fact: restart_required, value: true}]
  reboot:
    doc: the host's pending restart
    properties: {pending: {kinds: [boolean], fact: restart_required}}
    observe:
      - argv: [sh, -c, 'test -e "$CONVERGE_ROOT/var/run/reboot-required"']
        present: [0, 1]
        properties: {pending: {exit: {"0": true, "1": false}}}
    actions:
      - name: restart
        sets: {pending: false}
        argv: [sh, -c, 'touch "$CONVERGE_ROOT/var/run/restart-requested"']
        duration: 2m
        disruption: node
        boots: true
  credential:
    doc: an API key in a file
    properties: {key: {kinds: [string]}}
    observe:
      - argv: [sh, -c, 'cat "$CONVERGE_ROOT/etc/api-key" 2>/dev/null || true']
        properties: {key: {regex: '^(.*)$', default: ""}}
    actions:
      - name: write
        sets: {key: desired}
        argv: [sh, -c, 'printf "%s\n" "$1" > "$CONVERGE_ROOT/etc/api-key"', sh, "{prop.key}"]
  app:
    doc: an application that runs on the new kernel only
    properties: {running: {kinds: [boolean]}}
    observe:
      - argv: [sh, -c, 'if test -e "$CONVERGE_ROOT/var/run/app"; then echo yes; else echo no; fi']
        properties: {running: {regex: '^(\w+)', map: {"yes": true, "no": false}}}
    actions:
      - name: start
        sets: {running: true}
        argv: [sh, -c, 'touch "$CONVERGE_ROOT/var/run/app"']
        requires:
          - {resource: "kernel[linux]", property: version, not_equals: 6.1.0}
          - {fact: restart_required, equals: false}
YAML
cat >"$WORK/m.yaml" <<YAML
apiVersion: converge/v1
kind: Manifest
include: [types.yaml]
inventory:
  nodes: {box: {root: host}}
resources:
  - {type: kernel, name: linux, properties: {version: 6.6.0}}
  - {type: reboot, name: host, properties: {pending: false}}
  - {type: app, name: shop, properties: {running: true}}
  - {type: credential, name: api, properties: {key: s3cr3t-k3y-4242}, sensitive: [key]}
YAML
S=$WORK/state

expect 2 apply "$WORK/m.yaml" --state-dir "$S" --json
schema_ok report
py 'assert doc["status"] == "awaiting_reboot", doc["status"]'
[[ -e $R/var/run/restart-requested ]] || fail "the restart was not requested"
[[ ! -e $R/var/run/app ]] || fail "the app started before the restart"
[[ $(cat "$R/etc/kernel") == 6.6.0 ]] || fail "the kernel was not installed"

# Before the restart: nothing happens, and the run says why.
expect 2 apply "$WORK/m.yaml" --state-dir "$S"
grep -q "still awaiting the restart of box" <<<"$OUT" || fail "no awaiting note: $OUT"
[[ ! -e $R/var/run/app ]] || fail "the app started before the restart"

# The host restarts: a new boot id, the pending restart gone.
echo boot-2 >"$R/proc/sys/kernel/random/boot_id"
rm -f "$R/var/run/reboot-required" "$R/var/run/restart-requested"
expect 0 apply "$WORK/m.yaml" --state-dir "$S"
grep -q "box restarted (new boot id); continuing the work of run #1" <<<"$OUT" || fail "no continue note: $OUT"
[[ -e $R/var/run/app ]] || fail "the app did not start after the restart"
expect 0 apply "$WORK/m.yaml" --state-dir "$S" --json
py 'assert doc["status"] == "in_sync", doc["status"]'
expect 0 history --state-dir "$S" --json
py '
by = {r["id"]: r["status"] for r in doc["runs"]}
assert by[1] == "awaiting_reboot" and by[3] == "converged", by
'
[[ $(cat "$R/etc/api-key") == s3cr3t-k3y-4242 ]] || fail "the key was not written"
echo wrong >"$R/etc/api-key"
expect 2 plan "$WORK/m.yaml" --state-dir "$S" --json
all=$OUT
expect 0 apply "$WORK/m.yaml" --state-dir "$S" --json
all+=$OUT$ERR
expect 0 history --state-dir "$S" --json
all+=$OUT
for run in 1 2 3 4 5 6; do
  run history "$run" --state-dir "$S" --json
  all+=$OUT
done
grep -q "s3cr3t" <<<"$all" && fail "the sensitive key reached the output"
grep -rq "s3cr3t" "$S" && fail "the sensitive key reached the state directory"
grep -q "(sensitive)" <<<"$all" || fail "the masked key is not shown as (sensitive)"

pass "a local restart leaves the run awaiting reboot; the next run after the new boot continues it"
