#!/usr/bin/env bash
# A team's shared journal and estate lock in a real PostgreSQL (initdb in the work
# directory, 127.0.0.1 only, a free port, started and stopped here):
#   1. the showcase against it: converged, judged by the lab's event log; a rerun is a
#      no-op; nothing of the journal is kept in the state directory;
#   2. two runs of one estate from two state directories and two database roles: the
#      second exits 4 within a second, naming the first's user, host and pid, and touches
#      nothing; a check (a shared lock) is refused too, and so is a run limited to another
#      member of the cluster the first one is changing;
#   3. runs on disjoint nodes proceed side by side (each waits for the other to have
#      started); two manifests declaring one estate name do not;
#   4. a coordinator killed with SIGKILL mid-run is resumed by another process, in another
#      working directory, with another state directory: the interrupted run, its prior
#      values and the plan's progress come from the database; the lab shows no violation
#      and every service as before;
#   5. the database stopped mid-run: the run starts no further step and exits 1, keeping
#      the writes it could not send; after a restart the next run sends them and converges;
#      a torn spool line is skipped, a damaged one stops the next run before any change;
#   6. an unreachable database is an error before anything changes, without the password;
#   7. `state migrate` copies a SQLite journal: history is the same against both;
#   8. `history MANIFEST` against the database lists the runs that locked its nodes.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

M=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml
start_postgres
export CONVERGE_STATE=$PGURL
now_ms() { date +%s%3N; }

# --- 1. the showcase
expect 2 plan "$M" --state-dir "$WORK/a"
expect 0 apply "$M" --state-dir "$WORK/a"
lab_judge "$WORK/a" 1
[[ ! -e $WORK/a/journal.db ]] || fail "a journal.db in the state directory: the journal should be in the database"
steps=$(psql_q "SELECT count(*) FROM steps WHERE outcome = 'changed'")
((steps > 20)) || fail "the database holds $steps changed steps"
expect 0 apply "$M" --state-dir "$WORK/a" --json
py 'assert doc["status"] == "in_sync" and doc["summary"]["changed"] == 0, doc["summary"]'
expect 0 check "$M" --state-dir "$WORK/a"
expect 0 history --json
schema_ok report
py '
runs = doc["runs"]
assert doc["state"].startswith("postgresql://"), doc
assert [(r["command"], r["status"]) for r in runs] == [("check", "in_sync"), ("apply", "in_sync"), ("apply", "converged")], runs
'

# --- 2. one estate, two state directories and two database roles: refused at once
psql_q "CREATE ROLE teammate LOGIN; GRANT ALL ON ALL TABLES IN SCHEMA public TO teammate;
        GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO teammate" >/dev/null
TEAMMATE=postgresql://teammate@127.0.0.1:$PG_PORT/postgres
advisory_locks() { [[ $(psql_q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") -gt 0 ]]; }
rm -rf "$WORK/b1" "$WORK/b2"
# The first run upgrades the hub and the passive node only: it holds cluster CLUS1.
"$CONVERGE" apply "$M" --state-dir "$WORK/b1" --lab-speed 600 --limit HUBCAS,NODE2 >"$WORK/b1.out" 2>&1 &
first=$!
wait_for "the first run's lock" 10 advisory_locks
t0=$(now_ms)
expect 4 apply "$M" --state-dir "$WORK/b2" --state "$TEAMMATE"
elapsed=$(($(now_ms) - t0))
((elapsed < 1000)) || fail "the second run took $elapsed ms to be refused"
grep -q "pid $first" <<<"$ERR" && grep -q "$(id -un) on $(hostname)" <<<"$ERR" ||
  fail "the refusal does not name the holder (pid $first): $ERR"
[[ ! -e $WORK/b2/lab ]] || fail "the refused run opened the lab"
# A check takes a shared lock: refused while an apply holds the estate.
expect 4 check "$M" --state-dir "$WORK/b2" --state "$TEAMMATE"
# Another member of the cluster the first run is changing.
expect 4 apply "$M" --state-dir "$WORK/b2" --limit NODE1
grep -q "cluster:CLUS1 is locked" <<<"$ERR" || fail "--limit NODE1 beside --limit HUBCAS,NODE2: $ERR"
kill -0 "$first" 2>/dev/null || fail "the first run ended before the refusals were all tried: the test proves nothing"
wait "$first" || fail "the first run failed: $(cat "$WORK/b1.out")"
lab_judge "$WORK/b1" 0

# --- 3. disjoint nodes side by side; one declared estate is one lock
# tier NODE ME OTHER MEET [STATE]: a manifest on local node NODE whose one step waits (up
# to 20 s) for OTHER's step to have started, so that both finish only if they overlap.
tier() {
  cat <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: $1}
${5:-}
inventory:
  nodes:
    $1: {transport: {local: {root: $WORK/root-$1}}}
resources:
  - type: exec
    name: meet
    on: $1
    properties:
      check: [test, -e, $4/$2]
      apply: [sh, -c, 'touch "\$1/\$2"; for i in \$(seq 400); do [ -e "\$1/\$3" ] && exit 0; sleep 0.05; done; exit 1', sh, $4, $2, $3]
YAML
}
mkdir -p "$WORK/meet1" "$WORK/meet2"
tier alpha A B "$WORK/meet1" >"$WORK/alpha.yaml"
tier beta B A "$WORK/meet1" >"$WORK/beta.yaml"
"$CONVERGE" apply "$WORK/alpha.yaml" >"$WORK/alpha.out" 2>&1 &
pa=$!
"$CONVERGE" apply "$WORK/beta.yaml" >"$WORK/beta.out" 2>&1 &
pb=$!
wait "$pa" || fail "alpha did not converge beside beta: $(cat "$WORK/alpha.out")"
wait "$pb" || fail "beta did not converge beside alpha: $(cat "$WORK/beta.out")"
# Both declare `estate: tier` (and the database in the manifest): one lock.
unset CONVERGE_STATE
tier alpha A B "$WORK/meet2" "state: {url: '$PGURL', estate: tier}" >"$WORK/alpha2.yaml"
tier beta B A "$WORK/meet2" "state: {url: '$PGURL', estate: tier}" >"$WORK/beta2.yaml"
"$CONVERGE" apply "$WORK/alpha2.yaml" >"$WORK/alpha2.out" 2>&1 &
pa=$!
wait_for "alpha2's step" 20 test -e "$WORK/meet2/A"
expect 4 apply "$WORK/beta2.yaml"
grep -q "estate:tier is locked" <<<"$ERR" || fail "the refusal does not name the estate: $ERR"
touch "$WORK/meet2/B"
wait "$pa" || fail "alpha2 failed: $(cat "$WORK/alpha2.out")"
export CONVERGE_STATE=$PGURL

# --- 4. killed on one machine, resumed from another
export CONVERGE_LAB_HOME=$WORK/lab4
mkdir -p "$WORK/w1" "$WORK/w2"
expect 2 plan "$M" --state-dir "$WORK/probe" --json
n=$(py 'print(len(doc["plan"]["steps"]) // 2)')
set +e
{ (cd "$WORK/w1" && CONVERGE_TEST_KILL_AT_STEP=$n exec "$CONVERGE" apply "$M" --state-dir "$WORK/d1" >/dev/null 2>&1); } 2>/dev/null
rc=$?
set -e
((rc == 137)) || fail "the run was not killed at step $n (exit $rc)"
outstanding=$(psql_q "SELECT count(*) FROM priors WHERE restored_at IS NULL")
((outstanding > 0)) || fail "no outstanding prior value in the database after the kill"
cd "$WORK/w2"
expect 0 apply "$M" --state-dir "$WORK/d2"
cd "$WORK"
grep -q "was interrupted" <<<"$OUT" || fail "the resume did not report the interrupted run: $OUT"
lab_judge "$WORK/lab4" 1
[[ $(psql_q "SELECT count(*) FROM priors WHERE restored_at IS NULL") == 0 ]] || fail "prior values left outstanding"
[[ $(psql_q "SELECT count(*) FROM runs WHERE status = 'interrupted'") == 1 ]] || fail "the killed run is not marked interrupted"

# --- 5. the database stopped mid-run
export CONVERGE_LAB_HOME=$WORK/lab5
"$CONVERGE" apply "$M" --state-dir "$WORK/e1" --lab-speed 1000 >"$WORK/e1.out" 2>&1 &
pe=$!
three_steps_ended() {
  run_id=$(psql_q "SELECT max(id) FROM runs WHERE status = 'running'")
  [[ -n $run_id ]] && (($(psql_q "SELECT count(*) FROM steps WHERE run_id = $run_id AND outcome IS NOT NULL") >= 3))
}
wait_for "three steps of the run" 30 three_steps_ended
stop_postgres
set +e
wait "$pe"
rc=$?
set -e
((rc == 1)) || fail "the run went on without its journal (exit $rc): $(cat "$WORK/e1.out")"
grep -q "kept in" "$WORK/e1.out" || fail "the run does not say where it kept what it could not send: $(cat "$WORK/e1.out")"
ls "$WORK/e1"/unsent-*.jsonl >/dev/null 2>&1 || fail "no spool of unsent writes in the state directory"
! grep -q '"kind":"violation"' "$WORK/lab5/lab/events.jsonl" || fail "a violation after the database went away"
pg_ctl_start
expect 0 apply "$M" --state-dir "$WORK/e1"
! ls "$WORK/e1"/unsent-*.jsonl >/dev/null 2>&1 || fail "the spool was not sent"
[[ $(psql_q "SELECT status FROM runs WHERE id = $run_id") == halted ]] || fail "the halted run's end was not sent: $(psql_q "SELECT id, status, note FROM runs") $(cat "$WORK/e1.out")"
lab_judge "$WORK/lab5" 1
# A damaged spool: a torn last line is skipped (it was never reported as kept); a line that
# is JSON but not a write stops the run before anything changes, naming the file.
expect 0 apply "$M" --state-dir "$WORK/e1"
ls "$WORK/e1"/unsent-*.jsonl >/dev/null 2>&1 && fail "a spool appeared after a clean run"
printf '{"op":"end_run","at":"2026-01-01T00:00:00.000Z","run":1,"status":' >"$WORK/e1/torn"
printf '{"op":"end_run","at":"2026-01-01T00:00:00.000Z","run":"one"}\n' >"$WORK/e1/bad"
name=unsent-$(printf '%s' "$PGURL" | sha256sum | cut -c1-12).jsonl
cp "$WORK/e1/torn" "$WORK/e1/$name"
expect 0 apply "$M" --state-dir "$WORK/e1"
[[ ! -e $WORK/e1/$name ]] || fail "a spool holding only a torn line was not cleared"
cp "$WORK/e1/bad" "$WORK/e1/$name"
expect 1 apply "$M" --state-dir "$WORK/e1"
grep -q "$name" <<<"$ERR$OUT" && grep -q "move the file aside" <<<"$ERR$OUT" || fail "a damaged spool: $ERR$OUT"
rm "$WORK/e1/$name"
unset CONVERGE_LAB_HOME

# --- 6. unreachable: an error before anything changes, the password never shown
expect 1 apply "$M" --state-dir "$WORK/u" --state "postgresql://converge:hunter22@127.0.0.1:1/postgres"
grep -q "cannot reach the state database" <<<"$ERR$OUT" || fail "no clear error: $ERR$OUT"
! grep -q hunter22 <<<"$ERR$OUT" || fail "the password was printed"
[[ ! -e $WORK/u/lab ]] || fail "the lab was created although the database was unreachable"
expect 1 apply "$M" --state-dir "$WORK/u" --state "postgresql://converge:50%off@127.0.0.1:1/postgres"
grep -q "not one libpq can parse" <<<"$ERR$OUT" || fail "a malformed URL: $ERR$OUT"
! grep -q "50%off" <<<"$ERR$OUT" || fail "the malformed URL's password was printed: $ERR$OUT"
expect 1 apply "$M" --state "$WORK/somewhere"
grep -q -- "--state-dir" <<<"$ERR" || fail "a directory given to --state: $ERR"

# --- 7. migration
unset CONVERGE_STATE
expect 0 apply "$M" --state-dir "$WORK/f"
expect 0 check "$M" --state-dir "$WORK/f"
psql_q "CREATE DATABASE migrated" >/dev/null
URL2=${PGURL%/postgres}/migrated
expect 0 state migrate --from "$WORK/f" --to "$URL2"
expect 0 history --state-dir "$WORK/f" --json
before=$OUT
expect 0 history --state "$URL2" --json
/usr/bin/python3 - "$before" "$OUT" <<'PY' || fail "history differs after the migration"
import json, sys
a, b = (json.loads(x)["runs"] for x in sys.argv[1:3])
strip = lambda runs: [{k: v for k, v in r.items() if k != "id"} for r in runs]
assert len(a) == 2 and strip(a) == strip(b), (a, b)
PY
first_sqlite=$("$CONVERGE" history --state-dir "$WORK/f" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-1]["id"])')
first_pg=$("$CONVERGE" history --state "$URL2" --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][-1]["id"])')
expect 0 history "$first_sqlite" --state-dir "$WORK/f" --json
before=$OUT
expect 0 history "$first_pg" --state "$URL2" --json
/usr/bin/python3 - "$before" "$OUT" <<'PY' || fail "a run's steps differ after the migration"
import json, sys
a, b = (json.loads(x) for x in sys.argv[1:3])
assert len(a["steps"]) > 20 and a["steps"] == b["steps"], (len(a["steps"]), len(b["steps"]))
PY
expect 1 state migrate --from "$WORK/f/./" --to "$URL2"
grep -q "already copied" <<<"$ERR" || fail "a second migration (the directory spelled otherwise) was not refused: $ERR"
CONVERGE_LAB_HOME=$WORK/f expect 0 apply "$M" --state-dir "$WORK/f2" --state "$URL2" --json
py 'assert doc["status"] == "in_sync", doc["status"]'

# --- 8. history MANIFEST against the shared journal: the runs that locked its nodes
expect 0 history "$WORK/alpha.yaml" --state "$PGURL" --json
py '
runs = doc["runs"]
assert runs and all(r["manifest"]["path"].endswith("alpha.yaml") or r["manifest"]["path"].endswith("alpha2.yaml") for r in runs), runs
'
expect 0 history "$M" --state "$PGURL" --json
py 'assert doc["runs"] and all(r["manifest"]["path"].endswith("exchange2007-ccr-sp1.yaml") for r in doc["runs"]), doc["runs"]'

pass "showcase, lock (refused in ${elapsed} ms), disjoint nodes, kill -9 and resume elsewhere, database lost mid-run, unreachable, migration"
