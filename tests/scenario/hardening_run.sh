#!/usr/bin/env bash
# A run under signals and bad luck:
#   - Ctrl-C (SIGINT) or SIGTERM while a command runs: the command's process group is asked
#     to end (and killed after the grace period when it ignores that), no further step starts,
#     the run is journaled as interrupted, exit 130; a rerun finishes the job;
#   - a closed progress pipe (`converge apply --progress M 2>&1 | head -1`) does not kill the run;
#   - a journal with bytes flipped outside its first page is refused before anything changes;
#   - a sensitive value cut in half by the 400-byte tail of a command's stderr does not leak.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

header() { printf 'apiVersion: converge/v1\nkind: Manifest\n'; }

# interrupt SIGNAL CHILD-SCRIPT MAX-SECONDS: a run whose command runs CHILD-SCRIPT (it writes
# its pid to child.pid) gets SIGNAL; converge must exit 130 within MAX-SECONDS, the child gone.
interrupt() {
  local sig=$1 script=$2 max=$3
  rm -f child.pid done.marker
  { header; cat <<YAML
resources:
  - type: exec
    name: long
    properties: {check: [test, -f, $WORK/done.marker], apply: [sh, -c, '$script'], timeout: 5m}
  - type: exec
    name: after
    properties: {check: [test, -f, $WORK/after.marker], apply: [touch, $WORK/after.marker]}
    depends_on: ["exec[long]"]
YAML
  } >sig.yaml
  "$CONVERGE" apply sig.yaml --state-dir "$WORK/sig.state" >sig.out 2>sig.err &
  local conv=$!
  for _ in $(seq 1 200); do [[ -s child.pid ]] && break; sleep 0.05; done
  [[ -s child.pid ]] || fail "$sig: the command never started: $(cat sig.err)"
  local child start=$SECONDS rc=0
  child=$(cat child.pid)
  kill -"$sig" $conv
  wait $conv || rc=$?
  ((SECONDS - start <= max)) || fail "$sig: converge took $((SECONDS - start)) s to stop (at most $max)"
  [[ $rc == 130 ]] || fail "$sig: exit $rc, expected 130: $(cat sig.out sig.err)"
  kill -0 "$child" 2>/dev/null && fail "$sig: the command (pid $child) outlived converge"
  grep -q "interrupted" sig.err || fail "$sig: nothing says the run was interrupted: $(cat sig.err)"
  [[ ! -e after.marker ]] || fail "$sig: a step started after the interrupt"
  expect 0 history --state-dir "$WORK/sig.state" --json
  py 'assert doc["runs"][0]["status"] == "interrupted", doc["runs"][0]' 
  # The rerun finishes the job (the command, this time, completes at once).
  touch done.marker
  expect 0 apply sig.yaml --state-dir "$WORK/sig.state"
  [[ -e after.marker ]] || fail "$sig: the rerun did not finish the job"
  rm -f after.marker
}

interrupt INT 'echo $$ > child.pid; exec sleep 60' 5
interrupt TERM 'echo $$ > child.pid; exec sleep 60' 5
# A command that ignores SIGTERM is killed once the 10 s grace period is over.
interrupt INT 'trap "" TERM; echo $$ > child.pid; sleep 60 & wait' 16

# --- SIGPIPE on progress ----------------------------------------------------------------------
{ header; printf 'resources:\n'
  for i in 1 2 3 4 5 6; do
    printf '  - {type: exec, name: e%s, properties: {check: [test, -f, %s/p%s], apply: [touch, %s/p%s]}}\n' "$i" "$WORK" "$i" "$WORK" "$i"
  done
} >pipe.yaml
set +o pipefail
"$CONVERGE" apply --progress -j 1 pipe.yaml --state-dir "$WORK/pipe.state" 2>&1 | head -1 >/dev/null
set -o pipefail
for i in 1 2 3 4 5 6; do [[ -e p$i ]] || fail "a closed progress pipe stopped the run before e$i"; done
expect 0 history --state-dir "$WORK/pipe.state" --json
py 'assert doc["runs"][0]["status"] == "converged", doc["runs"][0]'

# --- a damaged journal is refused before any change ------------------------------------------
{ header; printf 'resources:\n'
  for i in $(seq 1 60); do printf '  - {type: file, name: %s/j/f%02d, properties: {content: "%0200d\\n"}}\n' "$WORK" "$i" "$i"; done
} >journal.yaml
mkdir -p j
expect 0 apply journal.yaml --state-dir "$WORK/j.state"
sqlite3 "$WORK/j.state/journal.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
pages=$(( $(stat -c %s "$WORK/j.state/journal.db") / 4096 ))
((pages >= 3)) || fail "the journal has $pages pages; the test needs a page past the first"
echo tampered >j/f07
cp j/f07 f07.before
# The header of the second page: SQLite itself now finds the file malformed.
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$WORK/j.state/journal.db" bs=1 seek=4096 conv=notrunc status=none
[[ $(sqlite3 "$WORK/j.state/journal.db" "PRAGMA integrity_check;" 2>&1 | head -1) != ok ]] ||
  fail "the flipped bytes left the journal intact; the test damages nothing"
expect 1 apply journal.yaml --state-dir "$WORK/j.state"
grep -q "journal .* is damaged" <<<"$OUT$ERR" || fail "no clear journal error: $OUT$ERR"
cmp -s j/f07 f07.before || fail "a file changed although the journal is damaged"

# --- a secret cut by the stderr tail does not leak -------------------------------------------
SECRET=Zq9-the-whole-secret-value-Zq9-0123456789
{ header; cat <<YAML
resources:
  - type: exec
    name: leaky
    properties:
      check: ["false"]
      apply: [sh, -c, 'printf "%s" "\$TOKEN" >&2; printf "%0380d" 0 >&2; exit 3']
      env: {TOKEN: $SECRET}
    sensitive: [env]
YAML
} >secret.yaml
expect 1 apply secret.yaml --state-dir "$WORK/secret.state"
text="$OUT$ERR"
expect 1 apply secret.yaml --state-dir "$WORK/secret.state" --json
text="$text$OUT$ERR"
expect 0 history 1 --state-dir "$WORK/secret.state" --json
text="$text$OUT"
for piece in "${SECRET:10:12}" "${SECRET:20:12}" "${SECRET:28}"; do
  grep -qF -- "$piece" <<<"$text" && fail "a piece of the secret ($piece) leaked: $text"
done
grep -q "exited 3" <<<"$text" || fail "the failure itself is not reported: $text"

pass
