#!/usr/bin/env bash
# The journal's two stores side by side, measured as users run them (the whole converge
# process): SQLite in the state directory, and PostgreSQL on loopback (a private server,
# fsync on, started and stopped here). Workloads: W1's no-op (N files in sync, one run row
# written) and the showcase's first apply on a fresh lab (37 steps written ahead, priors,
# restores). Prints medians, the ratio PostgreSQL / SQLite, and the targets.
#
#   bash tests/bench/state_backends.sh [--smoke] CONVERGE_BINARY
#
# Targets (a network round trip per write is the price of sharing; it must stay small next
# to the work): a W1 no-op with PostgreSQL within SQLite's + 30 ms, and the showcase within
# 1.5 x SQLite's. A missed target prints FAIL without changing the exit status; a run that
# fails or leaves a wrong result exits 1.
set -euo pipefail
SMOKE=0
if [[ ${1:-} == --smoke ]]; then SMOKE=1; shift; fi
BIN=${1:?usage: state_backends.sh [--smoke] CONVERGE_BINARY}
source "$(dirname "$0")/../scenario/lib.sh" "$BIN"
BENCH=$SOURCE_DIR/tests/bench
PY=/usr/bin/python3
N=$([[ $SMOKE == 1 ]] && echo 50 || echo 1000)
RUNS=$([[ $SMOKE == 1 ]] && echo 3 || echo 15)
SHOW_RUNS=$([[ $SMOKE == 1 ]] && echo 2 || echo 7)

PG_FSYNC=on start_postgres
"$PY" "$BENCH/gen.py" files "$WORK/w1" "$N" converge-flat >/dev/null
W1=$WORK/w1/converge-flat/manifest.yaml
SHOWCASE=$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml

# median_ms RUNS PREP -- CMD...: median wall time of CMD over RUNS runs, PREP (a shell
# command, may be ":") before each; every run must exit 0.
median_ms() {
  local runs=$1 prep=$2
  shift 3
  "$PY" - "$runs" "$prep" "$@" <<'PYEOF'
import statistics, subprocess, sys, time
runs, prep, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times = []
for _ in range(runs):
    subprocess.run(["bash", "-c", prep], check=True)
    t0 = time.perf_counter()
    rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    times.append((time.perf_counter() - t0) * 1000)
    if rc != 0:
        sys.exit("exit %d: %s" % (rc, " ".join(cmd)))
print("%.1f" % statistics.median(times))
PYEOF
}

declare -A W1_MS SHOW_MS
for store in sqlite postgresql; do
  args=(--state-dir "$WORK/state-$store-w1")
  [[ $store == postgresql ]] && args+=(--state "$PGURL")
  expect 0 apply "$W1" "${args[@]}"          # converge the target once
  expect 0 apply "$W1" "${args[@]}" --json   # then every run is a no-op
  py 'assert doc["summary"]["changed"] == 0, doc["summary"]'
  W1_MS[$store]=$(median_ms "$RUNS" ":" -- "$CONVERGE" apply "$W1" "${args[@]}") || fail "$store W1 no-op failed"
  sargs=(--state-dir "$WORK/state-$store-show")
  [[ $store == postgresql ]] && sargs+=(--state "$PGURL")
  # A fresh lab before each run: the state directory's lab/ (and, SQLite, its journal:
  # its priors would say the maintenance is over).
  SHOW_MS[$store]=$(median_ms "$SHOW_RUNS" "rm -rf '$WORK/state-$store-show'" -- "$CONVERGE" apply "$SHOWCASE" "${sargs[@]}") ||
    fail "$store showcase failed"
  lab_judge "$WORK/state-$store-show" 1
done

"$PY" - "${W1_MS[sqlite]}" "${W1_MS[postgresql]}" "${SHOW_MS[sqlite]}" "${SHOW_MS[postgresql]}" "$N" <<'PYEOF'
import sys
w1s, w1p, shs, shp = map(float, sys.argv[1:5])
n = sys.argv[5]
print("state backends (median wall time of the whole converge process)")
print("  %-28s %12s %12s %8s" % ("workload", "SQLite", "PostgreSQL", "ratio"))
print("  %-28s %9.1f ms %9.1f ms %7.2fx" % ("W1 no-op, N=%s" % n, w1s, w1p, w1p / w1s))
print("  %-28s %9.1f ms %9.1f ms %7.2fx" % ("showcase first apply", shs, shp, shp / shs))
met = 0
for ok, text in ((w1p <= w1s + 30, "W1 no-op with PostgreSQL within SQLite's + 30 ms: %.1f <= %.1f" % (w1p, w1s + 30)),
                 (shp <= shs * 1.5, "showcase with PostgreSQL within 1.5 x SQLite's: %.1f <= %.1f" % (shp, shs * 1.5))):
    print("  %s %s" % ("PASS" if ok else "FAIL", text))
    met += ok
print("targets: %d met, %d missed" % (met, 2 - met))
PYEOF
pass "both stores verified"
