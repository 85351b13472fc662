#!/usr/bin/env bash
# A state directory that cannot serve gets a clear error before anything changes: a corrupt
# journal, a journal of a newer format, a state "directory" that is a file, an immutable
# (read-only) directory.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"

cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
resources:
  - {type: file, name: $WORK/out, properties: {content: "hello\n"}}
YAML

# Corrupt journal.
mkdir -p s1
head -c 8192 /dev/urandom >s1/journal.db
expect 1 apply m.yaml --state-dir s1
[[ $ERR == *"journal"* ]] || fail "no journal error: $ERR"
[[ ! -e out ]] || fail "a change was made despite the corrupt journal"

# Newer format.
mkdir -p s2
run check m.yaml --state-dir s2
[[ -e s2/journal.db ]] || fail "check did not create the journal"
if command -v sqlite3 >/dev/null; then
  sqlite3 s2/journal.db 'pragma user_version = 99'
  expect 1 apply m.yaml --state-dir s2
  [[ $ERR == *"newer than this converge understands"* ]] || fail "newer format not named: $ERR"
  [[ ! -e out ]] || fail "a change was made despite the newer journal"
fi

# A file where the state directory should be.
echo x >s3
expect 1 apply m.yaml --state-dir s3
[[ $ERR == *"state directory"* ]] || fail "no state directory error: $ERR"
[[ ! -e out ]] || fail "a change was made without a state directory"

# Read-only (immutable even for root), when the filesystem supports it.
mkdir -p s4
if chattr +i s4 2>/dev/null; then
  trap 'chattr -i "$WORK/s4" 2>/dev/null; rm -rf "$WORK"' EXIT
  expect 1 apply m.yaml --state-dir s4
  [[ $ERR == *"s4"* ]] || fail "the read-only state directory is not named: $ERR"
  [[ ! -e out ]] || fail "a change was made with a read-only state directory"
  chattr -i s4
else
  echo "note [$SCENARIO]: chattr +i unsupported here; read-only case skipped"
fi

expect 0 apply m.yaml --state-dir s5
[[ -e out ]] || fail "a healthy state directory did not work"
pass
