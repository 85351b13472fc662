#!/usr/bin/env bash
# The ssh transport against a real sshd on a loopback address (127.0.0.2, a port of its
# own, a host key and a client key made here):
#   - host keys are verified: with the default (strict) policy an unknown host is refused,
#     naming it, before anything is written; `host_key: accept-new` records its key and
#     goes on; a changed key is refused even then, with nothing written;
#   - a node's ssh settings merge with the inventory's default (only host and port per
#     node here);
#   - a no-op check of several data-typed resources on the host costs one round trip for
#     their observation (counted through a stand-in ssh on PATH).
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$SOURCE_DIR/tests/scenario/sshd.sh"
start_sshd 127.0.0.2

# A stand-in ssh first on PATH that counts its invocations, then runs the real one.
REAL_SSH=$(command -v ssh)
mkdir "$WORK/bin"
cat >"$WORK/bin/ssh" <<SH
#!/bin/sh
echo x >>"$WORK/ssh-calls"
exec "$REAL_SSH" "\$@"
SH
chmod +x "$WORK/bin/ssh"
export PATH="$WORK/bin:$PATH"

cat >types.yaml <<'YAML'
apiVersion: converge/v1
kind: Types
types:
  marker:
    doc: A marker file, its path the resource's name.
    properties:
      present: {kinds: [boolean]}
    observe:
      - argv: [sh, -c, 'if [ -e "$1" ]; then echo present=true; else echo present=false; fi', sh, "{name}"]
        properties:
          present: {regex: '^present=(\w+)$'}
    actions:
      - name: make
        sets: {present: true}
        argv: [sh, -c, 'mkdir -p "$(dirname "$1")" && touch "$1"', sh, "{name}"]
        duration: 1s
YAML
write_manifest() {  # write_manifest HOST_KEY_POLICY
  cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
include: [types.yaml]
inventory:
  transport: {ssh: {user: $ME, host_key: $1, known_hosts: known_hosts, options: [IdentityFile=$WORK/clientkey, IdentitiesOnly=yes, ConnectTimeout=10]}}
  nodes:
    h1: {transport: {ssh: {host: 127.0.0.2, port: $PORT}}}
resources:
$(for n in m1 m2 m3 m4 m5; do echo "  - {type: marker, name: $WORK/out/$n, on: h1, properties: {present: true}}"; done)
YAML
}
: >known_hosts

# --- strict (the default): an unknown host is refused before anything is written
write_manifest strict
expect 1 apply m.yaml --state-dir "$WORK/s1"
grep -q "the host key of 127.0.0.2 is not in known_hosts" <<<"$OUT$ERR" || fail "the unknown host key is not named: $OUT$ERR"
[[ ! -e $WORK/out && ! -s known_hosts ]] || fail "something was written for an unverified host"

# --- accept-new: recorded, then the run goes on
write_manifest accept-new
expect 0 apply m.yaml --state-dir "$WORK/s2"
grep -q "127.0.0.2" known_hosts || ssh-keygen -F "[127.0.0.2]:$PORT" -f known_hosts >/dev/null || fail "the new host key was not recorded"
for n in m1 m2 m3 m4 m5; do [[ -e $WORK/out/$n ]] || fail "$n was not made over ssh"; done

# --- a no-op check: one round trip observes the five resources (and one reads the boot id)
: >"$WORK/ssh-calls"
expect 0 check m.yaml --state-dir "$WORK/s2"
calls=$(wc -l <"$WORK/ssh-calls")
((calls <= 2)) || fail "a no-op check of 5 resources on one host took $calls ssh round trips"
# strict again, now that the key is known: fine
write_manifest strict
expect 0 check m.yaml --state-dir "$WORK/s2"

# --- a changed host key is refused, even under accept-new, with nothing written
stop_sshd
rm -f "$WORK/hostkey" "$WORK/hostkey.pub"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/hostkey"
start_sshd
rm -rf "$WORK/out"
write_manifest accept-new
expect 1 apply m.yaml --state-dir "$WORK/s3"
grep -q "the host key of 127.0.0.2 has CHANGED" <<<"$OUT$ERR" || fail "the changed host key is not named: $OUT$ERR"
[[ ! -e $WORK/out ]] || fail "something was written to a host whose key changed"
pass
