#!/usr/bin/env bash
# Files, directories, links and exec over ssh, against a real sshd of the test's own on two
# loopback addresses (h1 = 127.0.0.2, h2 = 127.0.0.3; both are this machine, so each host
# manages a tree of its own):
#   - apply creates them with their content, mode and owner; a rerun is a no-op that costs
#     one ssh round trip per host for every path, and one for the exec's check (counted by
#     a stand-in ssh);
#   - `check` finds drift in content, mode and a link's target; apply repairs it;
#   - a sensitive content never appears in any ssh argv, the output or the journal;
#   - ensure: absent removes them;
#   - connection faults: sshd killed with its sessions mid-run and back a second later: the
#     run retries and finishes (exit 0); killed for good: the run stops with the node
#     unreachable and nothing half-written, and the rerun converges;
#   - a state directory whose path is far too long for a socket's name.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$SOURCE_DIR/tests/scenario/sshd.sh"
start_sshd 127.0.0.2 127.0.0.3

# A stand-in ssh first on PATH: logs each call's argv (one line per call), runs a hook
# named by $WORK/hook when present, then the real ssh.
REAL_SSH=$(command -v ssh)
mkdir "$WORK/bin"
cat >"$WORK/bin/ssh" <<SH
#!/bin/bash
printf '%s\n' "\$*" >>"$WORK/ssh-calls"
if [[ -x $WORK/hook ]]; then "$WORK/hook"; fi
exec "$REAL_SSH" "\$@"
SH
chmod +x "$WORK/bin/ssh"
export PATH="$WORK/bin:$PATH"
GROUP=$(id -gn)
SECRET="s3cret-$RANDOM$RANDOM"

write_manifest() {  # write_manifest ENSURE [CONTENT_SUFFIX]
  local ensure=$1 suffix=${2:-}
  {
    cat <<YAML
apiVersion: converge/v1
kind: Manifest
inventory:
  transport: {ssh: {user: $ME, port: $PORT, host_key: accept-new, known_hosts: $WORK/known_hosts, options: [IdentityFile=$WORK/clientkey, IdentitiesOnly=yes, ConnectTimeout=10]}}
  nodes:
    h1: {transport: {ssh: {host: 127.0.0.2}}}
    h2: {transport: {ssh: {host: 127.0.0.3}}}
resources:
YAML
    for h in h1 h2; do
      local d=$WORK/out/$h top="" sub=""
      if [[ $ensure == present ]]; then
        echo "  - {type: directory, name: $d, on: $h, properties: {mode: '0750', group: $GROUP}}"
        echo "  - {type: directory, name: $d/conf.d, on: $h, depends_on: ['directory[$d]']}"
        top="depends_on: ['directory[$d]'], " sub="depends_on: ['directory[$d/conf.d]'], "
      fi
      for i in 1 2 3 4 5 6; do
        echo "  - {type: file, name: $d/conf.d/f$i.conf, on: $h, ${sub}properties: {ensure: $ensure, content: \"line $i on $h$suffix\\n\", mode: '0640'}}"
      done
      echo "  - {type: file, name: $d/key, on: $h, ${top}sensitive: [content], properties: {ensure: $ensure, content: \"$SECRET$suffix\", mode: '0600'}}"
      echo "  - {type: symlink, name: $d/current, on: $h, ${top}properties: {ensure: $ensure, target: conf.d/f1.conf}}"
      if [[ $ensure == present ]]; then
        echo "  - {type: exec, name: stamp-$h, on: $h, depends_on: ['file[$d/key]'], properties: {check: [test, -e, $d/stamp], apply: [touch, $d/stamp]}}"
        echo "  - {type: exec, name: env-$h, on: $h, depends_on: ['directory[$d]'], properties: {check: [sh, -c, 'test \"\$WANT\" = \"it is\" && test -d $d'], apply: ['true'], env: {WANT: it is}}}"
      fi
    done
  } >m.yaml
}

mkdir "$WORK/out"
# --- first apply: everything made over ssh, as stated
write_manifest present
expect 0 apply m.yaml --state-dir "$WORK/s"
# Per host and wave: the wave's changes (directories, links) in one round trip, its writes
# in one, the renames with the verification's look in one; an exec's apply is one of its own.
calls=$(wc -l <"$WORK/ssh-calls")
echo "first apply: $calls ssh round trips for 2 hosts"
((calls <= 2 * 16)) || fail "a first apply of 2 hosts x 11 resources in 4 waves took $calls ssh round trips"
for h in h1 h2; do
  d=$WORK/out/$h
  [[ $(stat -c %a "$d") == 750 && $(stat -c %G "$d") == "$GROUP" ]] || fail "$d: mode or group not as stated"
  [[ $(cat "$d/conf.d/f3.conf") == "line 3 on $h" ]] || fail "$d/conf.d/f3.conf: wrong content"
  [[ $(stat -c %a "$d/conf.d/f3.conf") == 640 && $(stat -c %a "$d/key") == 600 ]] || fail "$h: file modes not as stated"
  [[ $(readlink "$d/current") == conf.d/f1.conf && -e $d/stamp ]] || fail "$h: link or exec not done"
  ! ls -a "$d" "$d/conf.d" | grep -q '\.converge-ssh' || fail "$h: a temporary was left behind"
done

# --- a no-op rerun: one round trip per host observes every path, one more runs its two
# exec checks together, with nothing changed
: >"$WORK/ssh-calls"
expect 0 apply m.yaml --state-dir "$WORK/s"
grep -q "0 to change\|no changes\|in sync" <<<"$OUT" || fail "the rerun was not a no-op: $OUT"
calls=$(wc -l <"$WORK/ssh-calls")
((calls <= 4)) || fail "a no-op of 2 hosts x 10 resources took $calls ssh round trips: $(cat "$WORK/ssh-calls")"

# --- drift: content, mode and a link's target changed behind converge's back
echo tampered >"$WORK/out/h1/conf.d/f2.conf"
chmod 0644 "$WORK/out/h2/conf.d/f4.conf"
ln -sfn conf.d/f5.conf "$WORK/out/h2/current"
expect 2 check m.yaml --state-dir "$WORK/s"
for what in "h1/conf.d/f2.conf" "h2/conf.d/f4.conf" "h2/current"; do
  grep -q "$what" <<<"$OUT" || fail "check did not report drift of $what: $OUT"
done
expect 0 apply m.yaml --state-dir "$WORK/s"
[[ $(cat "$WORK/out/h1/conf.d/f2.conf") == "line 2 on h1" && $(stat -c %a "$WORK/out/h2/conf.d/f4.conf") == 640 ]] ||
  fail "drift not repaired"
[[ $(readlink "$WORK/out/h2/current") == conf.d/f1.conf ]] || fail "the link was not repaired"
expect 0 check m.yaml --state-dir "$WORK/s"

# --- the secret travelled on stdin only: no argv, output or journal holds it
grep -q "$SECRET" "$WORK/ssh-calls" && fail "a sensitive content appeared in an ssh command line"
grep -q "$SECRET" <<<"$OUT$ERR" && fail "a sensitive content was printed"
grep -rqa "$SECRET" "$WORK/s" && fail "a sensitive content reached the state directory"

# --- a connection fault healed within the backoff: sshd and its sessions are killed before
# the run's 4th ssh call, and back a second later; the run finishes
write_manifest present " v2"
cat >"$WORK/hook" <<SH
#!/bin/bash
n=\$(wc -l <"$WORK/ssh-calls")
if ((n == 4)); then
  pid=\$(cat "$WORK/sshd.pid"); pkill -KILL -P "\$pid"; kill "\$pid"
  (sleep 1; "$SSHD" -f "$WORK/sshd_config" -E "$WORK/sshd.log") </dev/null >/dev/null 2>&1 &
fi
SH
chmod +x "$WORK/hook"
: >"$WORK/ssh-calls"
expect 0 apply m.yaml --state-dir "$WORK/s"
rm -f "$WORK/hook"
[[ $(cat "$WORK/out/h2/conf.d/f6.conf") == "line 6 on h2 v2" ]] || fail "the run did not finish after the connection came back"
for _ in $(seq 100); do [[ -s $WORK/sshd.pid ]] && break; sleep 0.05; done

# --- killed for good: the run stops with the node unreachable, nothing half-written; the
# rerun, with sshd back, converges
write_manifest present " v3"
cat >"$WORK/hook" <<SH
#!/bin/bash
n=\$(wc -l <"$WORK/ssh-calls")
if ((n == 4)); then pid=\$(cat "$WORK/sshd.pid"); pkill -KILL -P "\$pid"; kill "\$pid"; fi
SH
chmod +x "$WORK/hook"
: >"$WORK/ssh-calls"
run apply m.yaml --state-dir "$WORK/s"
rm -f "$WORK/hook"
((RC != 0)) || fail "a run whose hosts went away exited 0"
grep -qi "unreachable\|ssh to h[12]" <<<"$OUT$ERR" || fail "the lost connection is not named: $OUT$ERR"
for f in "$WORK"/out/h*/conf.d/*.conf; do
  c=$(cat "$f")
  [[ $c == *" v2" || $c == *" v3" ]] || fail "$f holds neither the old nor the new content: '$c'"
done
rm -f "$WORK/sshd.pid"
start_sshd
expect 0 apply m.yaml --state-dir "$WORK/s"
[[ $(cat "$WORK/out/h1/conf.d/f1.conf") == "line 1 on h1 v3" ]] || fail "the rerun did not converge"
for h in h1 h2; do ! ls -a "$WORK/out/$h" "$WORK/out/$h/conf.d" | grep -q '\.converge-ssh' || fail "$h: a temporary was left"; done
expect 0 check m.yaml --state-dir "$WORK/s"

# --- a state directory far past a socket name's length
LONG="$WORK/$(printf 'very-long-state-directory-name-%.0s' 1 2 3 4 5)"
expect 0 check m.yaml --state-dir "$LONG"

# --- removal
write_manifest absent " v3"
expect 0 apply m.yaml --state-dir "$WORK/s"
for h in h1 h2; do
  [[ ! -e $WORK/out/$h/key && ! -L $WORK/out/$h/current && ! -e $WORK/out/$h/conf.d/f1.conf ]] || fail "$h: not removed"
done
pass
