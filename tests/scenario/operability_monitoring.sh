#!/usr/bin/env bash
# What monitoring and CI read, each checked by its consumer's own parser:
#   - check --format prometheus --output FILE: a node_exporter textfile, parsed by the
#     Prometheus client library's text parser; written atomically (a new inode, no
#     temporary left, readable by the collector), the text report still on stdout;
#   - --format junit: parsed by junitparser; one case per resource, drift a failure, a
#     resource that cannot be observed an error;
#   - --format nagios: one plugin line with perfdata, and the plugin's exit codes
#     (0 OK, 1 WARNING on drift, 2 CRITICAL when a resource cannot be observed, 3 UNKNOWN
#     for an invalid manifest);
#   - --syslog: one summary line per run, caught on a local datagram socket.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
PY=/usr/bin/python3
$PY -c 'import prometheus_client.parser, junitparser' 2>/dev/null ||
  fail "python3-prometheus-client and python3-junitparser are needed (.ci/deps installs them)"

cat >m.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: monitored}
inventory:
  nodes:
    a: {root: a}
    b: {root: b}
resources:
  - {type: file, name: /etc/one, on: [a, b], properties: {content: "1\n"}}
  - {type: file, name: /etc/two, on: a, properties: {content: "2\n"}}
YAML
mkdir -p a/etc b/etc
S=$WORK/state
expect 0 apply m.yaml --state-dir "$S"
echo drifted >b/etc/one

# --- prometheus -----------------------------------------------------------------------------------
mkdir textfile
echo "old" >textfile/converge.prom
before=$(stat -c %i textfile/converge.prom)
expect 2 check m.yaml --state-dir "$S" --format prometheus --output textfile/converge.prom
grep -q "^Check: 1 of 3 resources drifted" <<<"$OUT" || fail "the text report is not on stdout: $OUT"
[[ $(stat -c %i textfile/converge.prom) != "$before" ]] || fail "the textfile was rewritten in place, not replaced"
[[ -z $(find textfile -name '*.tmp') ]] || fail "a temporary was left: $(ls -a textfile)"
assert_mode textfile/converge.prom 0644
$PY - textfile/converge.prom <<'PY' || fail "the textfile is not what Prometheus reads: $(cat textfile/converge.prom)"
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def value(name, **labels):
    got = [s.value for s in fams[name].samples if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(got) == 1, (name, labels, fams[name].samples)
    return got[0]
assert fams["converge_resources_drifted"].type == "gauge"
assert value("converge_resources_drifted", node="b", type="file") == 1
assert value("converge_resources_drifted", node="a", type="file") == 0
assert value("converge_resources", node="a", type="file") == 2
assert value("converge_last_run_status", status="drift", command="check") == 1
assert value("converge_last_run_status", status="in_sync", command="check") == 0
assert value("converge_last_run_exit_code", manifest="monitored") == 2
assert value("converge_last_run_timestamp_seconds") > 1.6e9
PY
expect 1 check m.yaml --state-dir "$S" --format prometheus --output "$WORK/no/such/dir/converge.prom"
grep -q "cannot write $WORK/no/such/dir/converge.prom" <<<"$ERR" || fail "an unwritable textfile is not an error: $ERR"

expect 1 check m.yaml --state-dir "$S" --output textfile/plain.txt
grep -q -- "--output writes a --format" <<<"$ERR" || fail "--output without a format is not refused: $ERR"
expect 1 check m.yaml --state-dir "$S" --json --format junit
[[ ! -e textfile/plain.txt ]] || fail "a refused --output wrote its file"

# --- junit ----------------------------------------------------------------------------------------
expect 2 check m.yaml --state-dir "$S" --format junit
printf '%s' "$OUT" >junit.xml
$PY - junit.xml <<'PY' || fail "junitparser does not read the JUnit XML: $(cat junit.xml)"
import sys
from junitparser import JUnitXml, Failure, Error
xml = JUnitXml.fromfile(sys.argv[1])
suites = list(xml)
assert len(suites) == 1, suites
s = suites[0]
assert (s.tests, s.failures, s.errors) == (3, 1, 0), (s.tests, s.failures, s.errors)
cases = {c.name: c for c in s}
assert set(cases) == {"file[/etc/one]@a", "file[/etc/one]@b", "file[/etc/two]@a"}, set(cases)
bad = cases["file[/etc/one]@b"]
assert bad.classname == "b"
assert isinstance(bad.result[0], Failure) and "content" in bad.result[0].message, bad.result
assert cases["file[/etc/two]@a"].is_passed
PY

# --- nagios ---------------------------------------------------------------------------------------
nagios_line_ok() {
  [[ $(wc -l <<<"$OUT") == 1 ]] || fail "a Nagios plugin prints one line: $OUT"
  grep -qE "^CONVERGE $1 - check monitored: .* \| drifted=[0-9]+;1;;0;[0-9]+ failed=[0-9]+;;1;0;[0-9]+ .*time=[0-9.]+s;;;0;$" <<<"$OUT" ||
    fail "not a plugin line with perfdata: $OUT"
}
expect 1 check m.yaml --state-dir "$S" --format nagios
nagios_line_ok WARNING
grep -q "1 of 3 resources drifted: file\[/etc/one\]@b" <<<"$OUT" || fail "the drifted resource is not named: $OUT"
expect 0 apply m.yaml --state-dir "$S"
expect 0 check m.yaml --state-dir "$S" --format nagios
nagios_line_ok OK
cat >broken.yaml <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: monitored}
resources:
  - {type: exec, name: probe, properties: {check: [$WORK/no-such-program], apply: ["true"]}}
YAML
expect 2 check broken.yaml --state-dir "$WORK/state-broken" --format nagios
nagios_line_ok CRITICAL
printf 'apiVersion: converge/v1\nkind: Manifest\nzzz: 1\n' >invalid.yaml
expect 3 check invalid.yaml --state-dir "$WORK/state-invalid" --format nagios
grep -q "^CONVERGE UNKNOWN - check invalid: .*invalid.yaml:3:1" <<<"$OUT" || fail "not UNKNOWN with the position: $OUT"

# --- syslog ---------------------------------------------------------------------------------------
SOCK=$WORK/log.sock
$PY - "$SOCK" >syslog.txt <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
for _ in range(2):
    print(s.recv(65536).decode(), flush=True)
PY
listener=$!
for _ in $(seq 100); do [[ -S $SOCK ]] && break; sleep 0.05; done
echo drifted >a/etc/two
expect 2 check m.yaml --state-dir "$S" --syslog --syslog-socket "$SOCK"
expect 0 apply m.yaml --state-dir "$S" --syslog --syslog-socket "$SOCK" --quiet
wait "$listener" || fail "the syslog socket did not receive two messages: $(cat syslog.txt)"
$PY - syslog.txt "$WORK/m.yaml" <<'PY' || fail "not the syslog lines expected: $(cat syslog.txt)"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
pat = r"<(\d+)>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d converge\[\d+\]: (\w+) (\S+): (\w+) \(exit (\d)\), run #\d+, 3 resources: "
check = re.match(pat, lines[0])
apply = re.match(pat, lines[1])
assert check and apply, lines
assert check.groups()[:5] == ("12", "check", sys.argv[2], "drift", "2"), check.groups()     # user.warning
assert apply.groups()[:5] == ("13", "apply", sys.argv[2], "converged", "0"), apply.groups()  # user.notice
PY
expect 0 check m.yaml --state-dir "$S" --syslog --syslog-socket "$WORK/nobody-listens.sock"
grep -q "warning: cannot send to syslog at $WORK/nobody-listens.sock" <<<"$ERR" || fail "no warning when syslog is down: $ERR"
pass
