#!/usr/bin/env bash
# The model cache is an optimization only: a cache with flipped bytes, cut short, emptied or
# replaced by garbage is a miss. The manifest is read again, and the result is the one a
# run without any cache gives: never a crash, never a different desired state.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
# One state directory beside the manifest for every run of this test (as earlier versions
# kept it by default).
export CONVERGE_STATE_DIR="$WORK/.converge"

R=$WORK/root
mkdir -p "$R"
cat > m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
vars:
  files: {a: "alpha\n", b: "beta\n", c: "gamma\n"}
resources:
  - type: directory
    name: $R/etc
  - type: file
    for_each: \${vars.files}
    name: $R/etc/\${each.key}.conf
    properties: {content: "\${each.value}", mode: "0640"}
  - type: exec
    name: marker
    properties: {check: ["test", "-e", "$R/marker"], apply: ["touch", "$R/marker"]}
YAML
expect 0 apply m.yaml
C=.converge/model.cache
# summary: what the last check --json said of each resource, in one comparable line.
summary() {
  printf '%s' "$OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(json.dumps(sorted((r["id"], r["outcome"], json.dumps(r.get("changes", []), sort_keys=True)) for r in d["resources"])))'
}
[[ -s $C ]] || fail "apply wrote no model cache"
cp "$C" good.cache
expect 0 check m.yaml

# The reference: what check says with no cache at all, after one file drifted.
printf 'other\n' > "$R/etc/b.conf"
rm -f "$C"
expect 2 check --json m.yaml
reference=$(summary)

size=$(stat -c %s good.cache)
for round in $(seq 1 30); do
  case $round in
    1) : > "$C" ;;                                      # empty
    2) head -c $((size / 2)) good.cache > "$C" ;;       # cut short
    3) head -c "$size" /dev/urandom > "$C" ;;           # garbage of the right size
    4) cp good.cache "$C"; printf 'x' >> "$C" ;;        # one byte too many
    *) cp good.cache "$C"                                # 1 to 4 bytes flipped
       python3 - "$C" "$round" <<'PY'
import random, sys
path, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
b = bytearray(open(path, "rb").read())
for _ in range(rng.randint(1, 4)):
    i = rng.randrange(len(b))
    b[i] ^= rng.randrange(1, 256)
open(path, "wb").write(bytes(b))
PY
       ;;
  esac
  expect 2 check --json m.yaml
  got=$(summary)
  [[ $got == "$reference" ]] || fail "round $round: check from a damaged cache differs from check without one:
$got
vs
$reference"
done
expect 0 apply m.yaml
expect 0 check m.yaml
pass
