#!/usr/bin/env bash
# The CLI contract (DESIGN §4): `converge M` is `converge apply M`; exit codes; --json
# prints one JSON document (checked against schemas/report.schema.json when it exists);
# unknown commands and options are refused without touching anything; --state-dir is
# honoured and private (0700); a second run on a locked state directory exits 4.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

# manifest DIR: writes DIR/m.yaml managing DIR/out/*.
manifest() {
  mkdir -p "$1/out"
  cat > "$1/m.yaml" <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: cli-contract}
resources:
  - type: file
    name: $1/out/a
    properties: {content: "a\n", mode: "0640"}
  - type: exec
    name: touch-b
    properties:
      check: [test, -f, $1/out/b]
      apply: [touch, $1/out/b]
YAML
}

# --- `converge M` means `converge apply M`
manifest "$WORK/implicit"
manifest "$WORK/explicit"
expect 0 "$WORK/implicit/m.yaml"
implicit="$OUT"
expect 0 apply "$WORK/explicit/m.yaml"
# Same report, once paths and timings are set aside.
normalize() { sed -E -e "s#$WORK/(implicit|explicit)#DIR#g" -e 's/[0-9]+ ms/N ms/g' <<<"$1"; }
[[ $(normalize "$implicit") == "$(normalize "$OUT")" ]] || fail "converge M and converge apply M differ:
$implicit
---
$OUT"
for d in implicit explicit; do
  assert_content "$WORK/$d/out/a" $'a\n'
  assert_mode "$WORK/$d/out/a" 0640
  [[ -f $WORK/$d/out/b ]] || fail "$d: exec did not run"
  expect 0 check "$WORK/$d/m.yaml"
done
grep -q '^Apply: 2 changed' <<<"$implicit" || fail "converge M did not print an apply report: $implicit"

# --- exit codes of validate, plan, check, apply
M=$WORK/main/m.yaml
manifest "$WORK/main"
expect 0 validate "$M"
expect 0 validate "$M" "$WORK/implicit/m.yaml"
printf 'apiVersion: converge/v1\nkind: Manifest\nbogus: 1\n' > bad.yaml
expect 1 validate "$M" bad.yaml
grep -q "bad.yaml:3:1: unknown field 'bogus'" <<<"$ERR" || fail "validate of a bad file must print file:line:col: $ERR"
expect 2 plan "$M"
expect 2 check "$M"
[[ -e $WORK/main/out/a || -e $WORK/main/out/b ]] && fail "plan or check changed something"
expect 0 apply "$M"
expect 0 plan "$M"
expect 0 check "$M"

# --- --quiet: nothing on stdout when all is well
expect 0 apply --quiet "$M"
[[ -z $OUT ]] || fail "--quiet printed on stdout: $OUT"

# --- --json: exactly one JSON document on stdout, for every command
SCHEMA=$SOURCE_DIR/schemas/report.schema.json
check_json() {
  py '
assert doc is not None, "stdout is not one JSON document"
assert isinstance(doc, (dict, list)), doc
for d in (doc if isinstance(doc, list) else [doc]):
    for k in ("command", "status", "exit_code"):
        assert k in d, f"report lacks {k}: {d}"
'
  if [[ -f $SCHEMA ]]; then
    printf '%s' "$OUT" | /usr/bin/python3 "$SOURCE_DIR/tests/scenario/validate_schema.py" "$SCHEMA" || fail "--json output of $1 does not match $SCHEMA:
$OUT"
  fi
}
[[ -f $SCHEMA ]] || echo "note [$SCENARIO]: $SCHEMA does not exist; --json checked for syntax only"
rm -f "$WORK/main/out/a"
expect 2 plan --json "$M"; check_json plan
expect 2 check --json "$M"; check_json check
expect 0 apply --json "$M"; check_json apply
expect 0 validate --json "$M"; check_json validate
expect 1 validate --json bad.yaml; check_json "validate (invalid)"
expect 1 plan --json bad.yaml; check_json "plan (invalid)"
# Global options may also come before the command.
expect 0 --json check "$M"; check_json "--json check"

# --- unknown commands and options: non-zero, and nothing is applied
rm -f "$WORK/main/out/a"
for args in "chekc $M" "frobnicate" "plan --frobnicate $M" "--frobnicate apply $M" "apply $M extra-argument" "--parallel 0 apply $M" "plan"; do
  # shellcheck disable=SC2086
  run $args
  [[ $RC != 0 ]] || fail "converge $args exited 0"
  (( RC < 128 )) || fail "converge $args died of a signal ($RC)"
  [[ -e $WORK/main/out/a ]] && fail "converge $args applied the manifest"
done

# --- --state-dir is honoured and private, whatever the umask
mkdir -p elsewhere && cp "$M" elsewhere/m.yaml
(umask 000 && "$CONVERGE" plan --state-dir "$WORK/state/nested" elsewhere/m.yaml >/dev/null) && rc=0 || rc=$?
[[ $rc == 2 ]] || fail "plan with --state-dir exited $rc"
[[ -d $WORK/state/nested ]] || fail "--state-dir was not created"
assert_mode "$WORK/state/nested" 0700
[[ -e elsewhere/.converge ]] && fail "--state-dir given, yet .converge was created beside the manifest"
# Files in it are private too (journal 0600).
if found=$(find "$WORK/state/nested" -mindepth 1 -perm /077 | head -5) && [[ -n $found ]]; then
  fail "state files readable by group or others: $found"
fi
# The default is one directory per manifest under $XDG_STATE_HOME/converge (lib.sh points it
# into the work directory): neither beside the manifest (a git checkout) nor in the working
# directory.
mkdir -p cwd && (cd cwd && "$CONVERGE" plan ../elsewhere/m.yaml >/dev/null) || true
hash=$(printf '%s' "$WORK/elsewhere/m.yaml" | sha256sum | cut -c1-12)
default="$XDG_STATE_HOME/converge/m-$hash"
[[ -f $default/journal.db ]] || fail "no default state directory at $default: $(find "$XDG_STATE_HOME" 2>&1 | head)"
assert_mode "$default" 0700
[[ -e elsewhere/.converge ]] && fail "a state directory was created beside the manifest"
[[ -e cwd/.converge ]] && fail "a state directory was created in the working directory"
# CONVERGE_STATE_DIR overrides the default, and --state-dir overrides both.
CONVERGE_STATE_DIR="$WORK/env-state" "$CONVERGE" plan elsewhere/m.yaml >/dev/null || true
[[ -f $WORK/env-state/journal.db ]] || fail "CONVERGE_STATE_DIR was not used"
CONVERGE_STATE_DIR="$WORK/env-state2" "$CONVERGE" plan --state-dir "$WORK/flag-state" elsewhere/m.yaml >/dev/null || true
[[ -f $WORK/flag-state/journal.db && ! -e $WORK/env-state2 ]] || fail "--state-dir did not override CONVERGE_STATE_DIR"

# --- a run holding the lock makes a second run exit 4
mkdir -p lock
cat > lock/m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - type: exec
    name: slow
    properties:
      check: ["false"]
      apply: [sh, -c, 'touch "\$1"; sleep 3', sh, $WORK/lock/started]
      timeout: 30s
YAML
"$CONVERGE" apply --state-dir "$WORK/lock/state" lock/m.yaml >/dev/null 2>&1 &
first=$!
for _ in $(seq 100); do [[ -e lock/started ]] && break; sleep 0.05; done
[[ -e lock/started ]] || { kill "$first" 2>/dev/null; fail "the first run never started its command"; }
expect 4 plan --state-dir "$WORK/lock/state" lock/m.yaml
wait "$first" || true

# --- options before an implicit apply: `converge --json M` is `converge apply --json M`
manifest "$WORK/implicit-opts"
expect 0 --json "$WORK/implicit-opts/m.yaml"
py 'assert doc["command"] == "apply" and doc["status"] == "converged", doc'
expect 0 --state-dir "$WORK/implicit-opts/state" "$WORK/implicit-opts/m.yaml"
[[ -d $WORK/implicit-opts/state ]] || fail "converge --state-dir DIR M did not use DIR"
pass
