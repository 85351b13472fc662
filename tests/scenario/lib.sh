# Helpers shared by the scenario tests; source it: `source "$(dirname "$0")/lib.sh" "$1"`.
# CMake runs every *.sh here as a test, so executed directly this file does nothing.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then exit 0; fi

# The converge binary (absolute), the scenario's name, and a private work directory that
# is removed on exit.
CONVERGE=${1:?usage: bash $(basename "$0") CONVERGE_BINARY}
CONVERGE=$(cd "$(dirname "$CONVERGE")" && pwd)/$(basename "$CONVERGE")
SCENARIO=$(basename "$0" .sh)
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
# Default state directories go under the work directory, never the machine's own
# (/var/lib/converge as root); a test that wants one state directory for all its runs
# exports CONVERGE_STATE_DIR itself.
export XDG_STATE_HOME="$WORK/.xdg-state"
unset CONVERGE_STATE_DIR

fail() {
  echo "FAIL [$SCENARIO]: $*" >&2
  exit 1
}

pass() { echo "PASS [$SCENARIO]${1:+: $1}"; }

# run ARGS...: runs converge; sets $RC, $OUT (stdout) and $ERR (stderr). Never aborts.
run() {
  set +e
  "$CONVERGE" "$@" >"$WORK/.out" 2>"$WORK/.err"
  RC=$?
  set -e
  OUT=$(cat "$WORK/.out")
  ERR=$(cat "$WORK/.err")
}

# expect CODE ARGS...: runs converge and fails unless it exits with CODE.
expect() {
  local want=$1
  shift
  run "$@"
  if [[ $RC != "$want" ]]; then
    fail "converge $* exited $RC, expected $want
--- stdout
$OUT
--- stderr
$ERR"
  fi
}

# py 'python code' ARGS...: runs a stdlib-only python3 assertion; $OUT is on stdin.
# The code sees `doc` (stdout parsed as JSON, or None) and `args`.
py() {
  local code=$1
  shift
  if ! printf '%s' "$OUT" | /usr/bin/python3 -c '
import json, sys
text = sys.stdin.read()
try:
    doc = json.loads(text)
except ValueError:
    doc = None
args = sys.argv[2:]
exec(sys.argv[1])
' "$code" "$@"; then
    fail "python assertion failed on this output:
$OUT"
  fi
}

# mode_of PATH: octal permission bits, 4 digits.
mode_of() { printf '%04o' "0$(stat -c %a "$1")"; }

# identity PATH: inode and nanosecond mtime (changes when a file is rewritten).
identity() { stat -c '%i %y' "$1"; }

# assert_content PATH EXPECTED: byte-for-byte.
assert_content() {
  [[ -f $1 ]] || fail "$1 does not exist"
  cmp -s "$1" <(printf '%s' "$2") || fail "$1 holds $(od -c "$1" | head -5), expected $(printf '%s' "$2" | od -c | head -5)"
}

assert_mode() {
  local got
  got=$(mode_of "$1")
  [[ $got == "$2" ]] || fail "$1 has mode $got, expected $2"
}

# schema_ok SCHEMA_NAME: $OUT matches schemas/SCHEMA_NAME.schema.json.
schema_ok() {
  printf '%s' "$OUT" | /usr/bin/python3 "$SOURCE_DIR/tests/scenario/validate_schema.py" "$SOURCE_DIR/schemas/$1.schema.json" ||
    fail "output does not match schemas/$1.schema.json: $OUT"
}

# lab_judge STATE_DIR FINAL: the lab's event log shows no violation, the CMS online and
# every service with its state and startup type of t = 0; FINAL=1 also wants every server
# and the CMS at SP1, the CMS on NODE1 and "Cluster Group" on NODE1.
lab_judge() {
  python3 - "$1/lab/events.jsonl" "$2" <<'PY' || fail "$1: the lab is not where it should be"
import json, sys
initial, services, groups, software = {}, {}, {}, {}
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e["kind"] != "violation", line
    if e["kind"] == "service":
        services[(e["node"], e["service"])] = (e["state"], e["startup"])
        if e["t"] == 0:
            initial[(e["node"], e["service"])] = (e["state"], e["startup"])
    if e["kind"] == "group":
        groups[e["group"]] = e
    if e["kind"] == "software":
        software[(e["node"], e["product"])] = e["version"]
assert services == initial, {k: (initial[k], v) for k, v in services.items() if initial[k] != v}
assert groups["E2K7CCR"]["online"], groups["E2K7CCR"]
if sys.argv[2] == "1":
    assert groups["E2K7CCR"]["owner"] == "NODE1" and groups["E2K7CCR"]["version"] == "SP1", groups["E2K7CCR"]
    assert groups["Cluster Group"]["owner"] == "NODE1", groups["Cluster Group"]
    assert all(v == "SP1" for v in software.values()), software
PY
}

# The commands of the lab's vocabulary that only read (a service's state or startup, the
# registry, the boot time, a cluster group, a Get- cmdlet): a regular expression.
export LAB_READS='^(sc\.exe (query|qc) |reg\.exe query |wmic\.exe os get |cluster\.exe \S+ group [^/]*$|powershell\.exe( -\w+)* -Command Get-)'

# lab_only_reads EVENTS FROM WHAT: past its first FROM lines, the lab's event log holds only
# commands that read; fails saying WHAT changed the lab otherwise.
lab_only_reads() {
  python3 - "$1" "$2" <<'PY' || fail "$3 changed the lab"
import json, os, re, sys
read = re.compile(os.environ["LAB_READS"])
for line in open(sys.argv[1]).readlines()[int(sys.argv[2]):]:
    e = json.loads(line)
    assert e["kind"] == "command" and read.match(e["command"]), line
PY
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 50 ms; fails naming WHAT when it
# has not succeeded within SECONDS.
wait_for() {
  local what=$1 secs=$2
  shift 2
  local i
  for ((i = 0; i < secs * 20; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  fail "timed out after ${secs}s waiting for $what"
}

# start_postgres: a private PostgreSQL for this test (initdb in $WORK/pg, trust auth,
# listening on 127.0.0.1 only at a free port, no Unix socket), stopped on exit; sets
# PGURL. As root it runs as the `postgres` user, since initdb refuses root. fsync is off
# (tests do not cut power) unless PG_FSYNC=on (benchmarks).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_AS=()
start_postgres() {
  [[ -x $PG_BIN/initdb ]] || fail "no PostgreSQL server (install postgresql-15)"
  mkdir -p "$WORK/pg"
  if [[ $(id -u) == 0 ]]; then
    id postgres >/dev/null 2>&1 || fail "no postgres user (install postgresql-15)"
    PG_AS=(runuser -u postgres --)
    chmod 711 "$WORK"
    chown postgres "$WORK/pg"
  fi
  "${PG_AS[@]}" "$PG_BIN/initdb" -D "$WORK/pg/data" -U converge --auth=trust -E UTF8 --no-sync >"$WORK/initdb.log" 2>&1 ||
    fail "initdb failed: $(cat "$WORK/initdb.log")"
  local attempt
  for attempt in 1 2 3; do  # a free port may be taken before the server binds it: another
    PG_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    PG_RETRY=$((attempt < 3)) pg_ctl_start && break
  done
  PGURL="postgresql://converge@127.0.0.1:$PG_PORT/postgres"
  trap 'stop_postgres; rm -rf "$WORK"' EXIT
}
pg_ctl_start() {
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='' -c fsync=${PG_FSYNC:-off}" start >/dev/null && return 0
  [[ ${PG_RETRY:-0} == 1 ]] && return 1
  fail "PostgreSQL did not start: $(cat "$WORK/pg/log")"
}
stop_postgres() {
  [[ -f $WORK/pg/data/postmaster.pid ]] && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1
  return 0
}
# psql_q SQL: one query against the test's database, unaligned, tuples only.
psql_q() { "$PG_BIN/psql" -X -A -t -q "$PGURL" -c "$1"; }
