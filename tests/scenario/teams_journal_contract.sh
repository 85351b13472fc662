#!/usr/bin/env bash
# The journal's contract against a real PostgreSQL: the unit tests tagged
# [journal-contract] (tests/unit/journal_contract_test.cpp) run against both stores, SQLite
# and this server, each test in a schema of its own; and the estate lock, interrupted runs
# and the migration's copy, which only the server has.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"

UNIT=$(dirname "$CONVERGE")/converge_unit_tests
[[ -x $UNIT ]] || fail "no unit test binary beside $CONVERGE"
start_postgres
CONVERGE_TEST_PG_URL=$PGURL "$UNIT" "[journal-contract]" >"$WORK/unit.out" 2>&1 ||
  fail "the contract does not hold against PostgreSQL: $(tail -40 "$WORK/unit.out")"
grep -q "All tests passed" "$WORK/unit.out" || fail "unexpected output: $(tail -5 "$WORK/unit.out")"
# Each of the four contract tests ran once per store, and the server's own tests ran.
schemas=$(psql_q "SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 't%\_%'")
((schemas >= 7)) || fail "only $schemas test schemas were used: the PostgreSQL store did not run"
pass "$(grep -o 'All tests passed.*' "$WORK/unit.out")"
