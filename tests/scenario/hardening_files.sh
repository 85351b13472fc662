#!/usr/bin/env bash
# Files as an attacker and bad luck would have them:
#   - a symlinked directory beneath a node root does not lead out of it (write, chmod, delete);
#   - without a root, a link another user planted above a managed file is not followed, and
#     the system's own kind of link (root's, in a directory only root writes) still is;
#   - a mode change races a swap of the file for a link to a victim: the victim keeps its mode;
#   - new files and directories of no stated mode follow the umask; sensitive content is 0600;
#   - ids past 4294967294 and paths ending in "/." are refused at validation, with positions;
#   - temporaries left by a killed run that was PID 1 (a container's entrypoint) are swept.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

header() { printf 'apiVersion: converge/v1\nkind: Manifest\n'; }

# --- a node root is not escaped through a symlinked directory ------------------------------
mkdir -p root/srv outside
echo keep >outside/victim
chmod 0644 outside/victim
ln -s "$WORK/outside" root/srv/app
{ header; cat <<YAML
inventory: {nodes: {n1: {root: $WORK/root}}}
resources:
  - {type: file, name: /srv/app/evil.conf, properties: {content: "pwned\n"}}
YAML
} >escape.yaml
expect 1 apply escape.yaml --state-dir "$WORK/s1"
[[ ! -e outside/evil.conf ]] || fail "a write went through root/srv/app to outside/"
grep -q "symbolic link" <<<"$OUT$ERR" || fail "the error does not name the link: $OUT$ERR"
{ header; cat <<YAML
inventory: {nodes: {n1: {root: $WORK/root}}}
resources:
  - {type: file, name: /srv/app/victim, properties: {ensure: absent}}
  - {type: directory, name: /srv/app/sub, properties: {mode: "0700"}}
YAML
} >escape-delete.yaml
expect 1 apply escape-delete.yaml --state-dir "$WORK/s2"
[[ -f outside/victim ]] || fail "ensure: absent deleted outside/victim through the link"
[[ ! -e outside/sub ]] || fail "a directory was made through the link"

# --- without a root: a planted link is refused, the system's kind of link followed ---------
mkdir -p home/u real sys
chown nobody home/u
ln -s "$WORK/outside" home/u/.config
chown -h nobody home/u/.config
ln -s "$WORK/real" sys/lnk          # root's link in a directory only root writes
chmod 0755 sys
{ header; cat <<YAML
resources:
  - {type: file, name: $WORK/home/u/.config/app.conf, properties: {content: "x\n"}}
YAML
} >planted.yaml
expect 1 apply planted.yaml --state-dir "$WORK/s3"
[[ ! -e outside/app.conf ]] || fail "root followed a link nobody planted"
{ header; cat <<YAML
resources:
  - {type: file, name: $WORK/sys/lnk/f.conf, properties: {content: "ok\n"}}
YAML
} >trusted.yaml
expect 0 apply trusted.yaml --state-dir "$WORK/s4"
assert_content real/f.conf $'ok\n'

# --- a mode change does not follow a link swapped in after the observation ----------------
mkdir -p race/srv
echo victim >victim
chmod 0644 victim
printf 'data\n' >race/srv/f
{ header; cat <<YAML
inventory: {nodes: {n1: {root: $WORK/race}}}
resources:
  - {type: file, name: /srv/f, properties: {content: "data\n", mode: "0600"}}
YAML
} >race.yaml
(
  # Swap the file for a link to the victim and back, for a bounded time.
  end=$((SECONDS + 8))
  while ((SECONDS < end)); do
    ln -sfn "$WORK/victim" race/srv/.swap && mv -T race/srv/.swap race/srv/f
    printf 'data\n' >race/srv/.swap2 && chmod 0644 race/srv/.swap2 && mv -T race/srv/.swap2 race/srv/f
    [[ -f "$WORK/stop-racer" ]] && break
  done
) &
racer=$!
for i in $(seq 1 120); do
  run apply race.yaml --state-dir "$WORK/s5" --no-cache
  chmod 0644 race/srv/f 2>/dev/null || true
  [[ $(mode_of victim) == 0644 ]] || { touch stop-racer; wait $racer || true; fail "apply $i changed the victim's mode through a link"; }
done
touch stop-racer
wait $racer || true

# --- default modes follow the umask; sensitive content is private -------------------------
{ header; cat <<YAML
inventory: {nodes: {n1: {root: $WORK/modes}}}
resources:
  - {type: directory, name: /d}
  - {type: file, name: /d/plain, properties: {content: "p\n"}}
  - {type: file, name: /d/secret, properties: {content: "s3cr3t-value\n"}, sensitive: [content]}
YAML
} >modes.yaml
(umask 027 && "$CONVERGE" apply modes.yaml --state-dir "$WORK/s6" >/dev/null) || fail "apply under umask 027 failed"
assert_mode modes/d 0750
assert_mode modes/d/plain 0640
assert_mode modes/d/secret 0600

# --- ids and paths out of range are refused where they are written -------------------------
{ header; cat <<YAML
resources:
  - {type: file, name: /tmp/x, properties: {content: "", owner: 4294968296}}
  - {type: file, name: /tmp/y, properties: {content: "", group: "123456789012345678901"}}
  - {type: file, name: /tmp/z/.}
YAML
} >bounds.yaml
expect 1 validate bounds.yaml
grep -q "bounds.yaml:4:.*owner.*out of range" <<<"$OUT$ERR" || fail "owner 4294968296 not refused with its position: $OUT$ERR"
grep -q "bounds.yaml:5:.*group.*out of range" <<<"$OUT$ERR" || fail "a 21-digit group not refused with its position: $OUT$ERR"
grep -q "bounds.yaml:6:.*normalized" <<<"$OUT$ERR" || fail "a path ending in /. not refused: $OUT$ERR"
grep -qi "stoul\|exception" <<<"$OUT$ERR" && fail "an exception text leaked: $OUT$ERR"

# --- temporaries a killed PID-1 run left are swept ------------------------------------------
if unshare --pid --fork --mount-proc true 2>/dev/null; then
  mkdir -p pid1/etc
  { header; cat <<YAML
inventory: {nodes: {n1: {root: $WORK/pid1}}}
resources:
  - {type: file, name: /etc/app.conf, properties: {content: "v2\n"}}
  - {type: exec, name: slow, properties: {check: ["false"], apply: [sleep, "30"]}, depends_on: ["file[/etc/app.conf]"]}
YAML
  } >pid1.yaml
  # A run as PID 1 of its own namespace, killed mid-run (its row stays `running`).
  unshare --pid --fork --mount-proc "$CONVERGE" apply pid1.yaml --state-dir "$WORK/s7" >/dev/null 2>&1 &
  victim=$!
  for _ in $(seq 1 100); do [[ -f pid1/etc/app.conf ]] && break; sleep 0.05; done
  # SIGKILL to the namespace's PID 1 (converge) ends every process in it.
  pkill -9 -f "$CONVERGE apply pid1.yaml" || true
  wait $victim 2>/dev/null || true
  # What it would have left mid-write: a temporary named for PID 1 of that namespace.
  echo half >pid1/etc/.converge-1-4242-0.tmp
  sed -i 's/\["false"\]/["true"]/' pid1.yaml
  unshare --pid --fork --mount-proc "$CONVERGE" apply pid1.yaml --state-dir "$WORK/s7" >"$WORK/.out" 2>&1 ||
    fail "the rerun as PID 1 failed: $(cat "$WORK/.out")"
  [[ ! -e pid1/etc/.converge-1-4242-0.tmp ]] || fail "the PID-1 run's temporary was not swept"
  grep -q "removed 1 temporary" "$WORK/.out" || fail "the sweep is not reported: $(cat "$WORK/.out")"
fi

pass
