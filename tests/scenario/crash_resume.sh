#!/usr/bin/env bash
# kill -9 at seeded random moments of a large first apply: every rerun finishes the job
# and removes the temporaries the killed run left, the journal stays consistent, no file
# is ever half-written, and history shows the interrupted runs with their unfinished steps.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
# One state directory beside the manifest for every run of this test (as earlier versions
# kept it by default).
export CONVERGE_STATE_DIR="$WORK/.converge"
command -v sqlite3 >/dev/null || { echo "SKIP [$SCENARIO]: sqlite3 not installed"; exit 0; }

N=3000
/usr/bin/python3 - "$WORK" "$N" <<'PY'
import sys
work, n = sys.argv[1], int(sys.argv[2])
with open(f"{work}/m.yaml", "w") as f:
    f.write("apiVersion: converge/v1\nkind: Manifest\nresources:\n")
    f.write(f"  - {{type: directory, name: {work}/t, properties: {{mode: \"0755\"}}}}\n")
    for d in range(10):
        f.write(f"  - {{type: directory, name: {work}/t/d{d}}}\n")
        for i in range(n // 10):
            f.write(f"  - {{type: file, name: {work}/t/d{d}/f{i}, properties: {{content: \"file {d}/{i} \\n{'x' * 200}\\n\", mode: \"0640\"}}}}\n")
PY

RANDOM=20261125   # seeded: the same moments every run
kills=0
for round in $(seq 20); do
  rm -rf t
  delay_ms=$(( RANDOM % 300 ))
  "$CONVERGE" apply m.yaml --quiet >/dev/null 2>&1 &
  pid=$!
  # Odd rounds count from the start (a kill may land while the manifest loads or the
  # files are observed); even rounds from the first change (t/ appears once the first
  # wave is journaled), so that some kills land mid-apply however slow the build is
  # (a sanitizer build loads for longer than 300 ms).
  if (( round % 2 == 0 )); then
    for _ in $(seq 2000); do [[ -d t ]] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.01; done
  fi
  sleep "$(printf '0.%03d' "$delay_ms")"
  if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  # No half-written file: every file present has its full content.
  if [[ -d t ]]; then
    bad=$(find t -type f -name 'f*' -size -200c | head -1)
    [[ -z $bad ]] || fail "round $round: $bad is half-written"
  fi
  if [[ -e .converge/journal.db ]]; then
    [[ $(sqlite3 .converge/journal.db 'pragma integrity_check') == ok ]] || fail "round $round: journal corrupt"
  fi
  expect 0 apply m.yaml --quiet
  # The rerun removed the temporaries the killed run left beside its files.
  if [[ -d t ]]; then
    left=$(find t -name '.converge-*.tmp' | head -1)
    [[ -z $left ]] || fail "round $round: the rerun left $left behind"
  fi
  expect 0 check m.yaml
done
(( kills >= 5 )) || fail "only $kills of 20 runs were still running when killed; the test proves little"
interrupted=$(sqlite3 .converge/journal.db "select count(*) from runs where status='interrupted'")
(( interrupted >= 1 )) || fail "no run recorded as interrupted after $kills kills"
running=$(sqlite3 .converge/journal.db "select count(*) from runs where status='running'")
[[ $running == 0 ]] || fail "$running runs still marked running"
pass "$kills kills, $interrupted recorded as interrupted"
