#!/usr/bin/env bash
# Runs each libFuzzer target of a `fuzz` build for SECONDS (default 20) from its seed corpus
# (tests/bad-input, manifests/, the shipped type files, a journal converge writes) with the
# dictionary beside this script; fails on the first crash, hang or sanitizer report, leaving
# the input that caused it in the working directory's fuzz-artifacts/.
#   bash tests/fuzz/run.sh BUILD_DIR [SECONDS]
# For hours instead of seconds: bash tests/fuzz/run.sh build-fuzz 3600 (per target), or run
# one target by hand: build-fuzz/fuzz_manifest -dict=tests/fuzz/converge.dict CORPUS_DIR.
set -euo pipefail
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [SECONDS]}" && pwd)
SECONDS_EACH=${2:-20}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS=${FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}
mkdir -p "$ARTIFACTS"

seed() {  # seed TARGET FILES...: a private corpus directory for TARGET
  local dir=$WORK/corpus-$1
  shift
  mkdir -p "$dir"
  for f in "$@"; do [[ -f $f ]] && cp "$f" "$dir/$(basename "$(dirname "$f")")-$(basename "$f")"; done
  echo "$dir"
}

# A real journal as the journal target's seed: one run of converge on a small manifest.
mkdir -p "$WORK/j"
printf 'apiVersion: converge/v1\nkind: Manifest\ninventory: {nodes: {n: {root: %s/j/root}}}\nresources:\n  - {type: file, name: /f, properties: {content: "x\\n"}}\n' "$WORK" >"$WORK/j/m.yaml"
"$BUILD/converge" apply "$WORK/j/m.yaml" --state-dir "$WORK/j/state" >/dev/null 2>&1 || true
"$BUILD/converge" check "$WORK/j/m.yaml" --state-dir "$WORK/j/state" >/dev/null 2>&1 || true
sqlite3 "$WORK/j/state/journal.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null 2>&1 || true

shopt -s nullglob
declare -A CORPUS
CORPUS[fuzz_manifest]=$(seed manifest "$SRC"/tests/bad-input/*.yaml "$SRC"/manifests/*.yaml)
CORPUS[fuzz_types]=$(seed types "$SRC"/resources/*.yaml)
CORPUS[fuzz_lab]=$(seed lab "$SRC"/manifests/labs/*.yaml)
CORPUS[fuzz_journal]=$(seed journal "$WORK/j/state/journal.db")

for target in fuzz_manifest fuzz_types fuzz_lab fuzz_journal; do
  echo "fuzz: $target for ${SECONDS_EACH}s"
  # ASan's leak check stays on; -timeout catches hangs, -rss_limit_mb runaway memory.
  if ! "$BUILD/$target" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -dict="$SRC/tests/fuzz/converge.dict" -artifact_prefix="$ARTIFACTS/$target-" "${CORPUS[$target]}" \
      >"$WORK/$target.log" 2>&1; then
    tail -40 "$WORK/$target.log"
    echo "FAIL [fuzz]: $target found a crash; the input is in $ARTIFACTS"
    exit 1
  fi
  grep -E "stat::number_of_executed_units|cov:" "$WORK/$target.log" | tail -2
done
echo "PASS [fuzz]: 4 targets, ${SECONDS_EACH}s each"
