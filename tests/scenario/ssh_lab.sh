#!/usr/bin/env bash
# The showcase over real ssh connections: the lab's three Windows hosts behind a real sshd
# of the test's own, HUBCAS at 127.0.0.2, NODE1 at .3, NODE2 at .4, each address's sessions
# forced into `converge lab serve --node NAME` (a Match LocalAddress block per host). The
# manifest is the showcase's with only its transport changed: ssh, the mailbox nodes
# through cmd.exe (OpenSSH for Windows' default shell), HUBCAS through encoded PowerShell.
#   - apply exits 0; the lab's event log judges it as on the lab transport: no violation,
#     setup never on a node owning an online group, the CMS's outage within its budget,
#     everything at SP1, services back to where they were; `converge lab summary` agrees;
#   - the lab received the same changing commands as a run on the lab transport does
#     (Windows exit statuses past 255, 3010 and 1056, came through ssh whole);
#   - restarts were waited for by the boot id over ssh (wmic's LastBootUpTime);
#   - check observes each host in one round trip per phase (a PowerShell batch);
#   - check exits 0 and a rerun only reads;
#   - a value that cmd.exe would expand or split reaches the host as written;
#   - `lab serve` refuses a line no host shell would run as one program, changing nothing.
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$@"
source "$SOURCE_DIR/tests/scenario/sshd.sh"

LAB=$SOURCE_DIR/manifests/labs/clus1-rtm.yaml
HOME_LAB=$WORK/labhome
serve() { echo "ForceCommand $CONVERGE lab serve --lab $LAB --state-dir $HOME_LAB --node $1 --shell $2"; }
SSHD_MATCH="Match LocalAddress 127.0.0.2
$(serve HUBCAS powershell)
Match LocalAddress 127.0.0.3
$(serve NODE1 cmd)
Match LocalAddress 127.0.0.4
$(serve NODE2 cmd)"
start_sshd 127.0.0.2 127.0.0.3 127.0.0.4

# The showcase with its transport changed, and nothing else.
M=$WORK/showcase-ssh.yaml
python3 - "$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml" "$M" <<PY
import re, sys
text = open(sys.argv[1]).read()
text = text.replace("../resources/", "$SOURCE_DIR/resources/")
ssh = ("{ssh: {user: $ME, port: $PORT, shell: cmd, host_key: accept-new, known_hosts: $WORK/known_hosts, "
       "options: [IdentityFile=$WORK/clientkey, IdentitiesOnly=yes]}}")
old = "transport: {lab: labs/clus1-rtm.yaml}"
assert old in text
text = text.replace(old, "transport: " + ssh)
hosts = {"HUBCAS": "127.0.0.2, shell: powershell", "NODE1": "127.0.0.3", "NODE2": "127.0.0.4"}
for node, host in hosts.items():
    text, n = re.subn(r"^(    %s: \{)" % node, r"\1transport: {ssh: {host: %s}}, " % host, text, flags=re.M)
    assert n == 1, node
open(sys.argv[2], "w").write(text)
PY

# A stand-in ssh first on PATH counts the round trips.
REAL_SSH=$(command -v ssh)
mkdir "$WORK/bin"
printf '#!/bin/sh\necho "$*" >>"%s"\nexec "%s" "$@"\n' "$WORK/ssh-calls" "$REAL_SSH" >"$WORK/bin/ssh"
chmod +x "$WORK/bin/ssh"
export PATH="$WORK/bin:$PATH"

S=$WORK/state
EVENTS=$HOME_LAB/lab/events.jsonl
expect 0 validate "$M"
expect 2 check "$M" --state-dir "$S"
reads=$(grep -c '"kind":"command"' "$EVENTS") || fail "check sent the lab no command over ssh"
trips=$(wc -l <"$WORK/ssh-calls")
echo "check: $reads commands in $trips ssh round trips"
# A round trip per host for each of the check's three phases (the manifest's resources, what
# else the planner reads, the node's boot id and facts), each a batch (an encoded
# PowerShell script), and one for the cluster's resources through a member.
((trips <= 3 * 3 + 1 && reads > 5 * trips)) || fail "check of 3 Windows hosts: $reads commands in $trips round trips"

# --- apply over ssh
expect 0 apply "$M" --state-dir "$S" --json
py '
assert doc["status"] == "converged", doc["status"]
assert doc["summary"]["failed"] == 0, doc["summary"]
'
lab_judge "$HOME_LAB" 1
python3 - "$EVENTS" <<'PY' || fail "the run over ssh broke a rule of the lab"
import json, sys
groups, offline_since, offline_total, boots = {}, None, 0, set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["kind"] == "group":
        groups[e["group"]] = e
        if e["group"] == "E2K7CCR":
            if not e["online"] and offline_since is None:
                offline_since = e["t"]
            if e["online"] and offline_since is not None:
                offline_total, offline_since = offline_total + e["t"] - offline_since, None
    if e["kind"] == "command" and e["command"].startswith("setup.com /m:upgrade"):
        owned = [g for g, s in groups.items() if s["owner"] == e["node"] and s["online"]]
        assert not owned, "setup on %s while it owned %s" % (e["node"], owned)
    if e["kind"] == "node" and e["online"] and e["t"] > 0:
        boots.add(e["node"])
assert offline_since is None and offline_total <= 1800, offline_total
assert boots == {"HUBCAS", "NODE1", "NODE2"}, boots  # each restarted, and was waited for
PY
expect 0 lab summary --lab "$LAB" --state-dir "$HOME_LAB"
grep -q "violations: none" <<<"$OUT" || fail "the lab summary: $OUT"

# --- the same changing commands as on the lab transport
expect 0 apply "$SOURCE_DIR/manifests/exchange2007-ccr-sp1.yaml" --state-dir "$WORK/direct"
python3 - "$EVENTS" "$WORK/direct/lab/events.jsonl" <<'PY' || fail "over ssh the lab got other commands"
import json, os, re, sys
read = re.compile(os.environ["LAB_READS"])
def changes(path):
    out = []
    for line in open(path):
        e = json.loads(line)
        if e["kind"] == "command" and not read.match(e["command"]):
            out.append((e["node"], e["command"], e["exit"]))
    return sorted(out)
ssh, direct = changes(sys.argv[1]), changes(sys.argv[2])
assert ssh == direct, "\n".join(map(str, sorted(set(ssh) ^ set(direct))))
codes = {c[2] for c in ssh}
assert any(c > 255 for c in codes), codes  # a Windows status past ssh's 8 bits came through
assert sum(1 for c in ssh if c[1].startswith("shutdown.exe")) >= 3, ssh
PY

# --- afterwards: in sync, and a rerun only reads
expect 0 check "$M" --state-dir "$S"
before=$(wc -l <"$EVENTS")
expect 0 apply "$M" --state-dir "$S" --json
py 'assert doc["status"] == "in_sync" and doc["summary"]["changed"] == 0, doc["summary"]'
lab_only_reads "$EVENTS" "$before" "the rerun over ssh"

# --- values cmd.exe or PowerShell would read: they reach the host as written
cat >"$WORK/odd.yaml" <<YAML
apiVersion: converge/v1
kind: Manifest
inventory:
  transport: {ssh: {user: $ME, port: $PORT, host_key: accept-new, known_hosts: $WORK/known_hosts, options: [IdentityFile=$WORK/clientkey, IdentitiesOnly=yes]}}
  nodes:
    NODE1: {transport: {ssh: {host: 127.0.0.3, shell: cmd}}}
    HUBCAS: {transport: {ssh: {host: 127.0.0.2, shell: powershell}}}
resources:
  - type: exec
    name: odd
    on: [NODE1, HUBCAS]
    properties:
      check: ["sc.exe", "query", "%PATH% & del C:\\\\ | \$(whoami) 'x' ^"]
      apply: ["sc.exe", "query", "SharedAccess"]
YAML
expect 2 check "$WORK/odd.yaml" --state-dir "$WORK/odd-state"
python3 - "$EVENTS" <<'PY' || fail "an argument was changed on its way"
import json, sys
want = "sc.exe query %PATH% & del C:\\ | $(whoami) 'x' ^"
seen = {json.loads(l)["node"] for l in open(sys.argv[1]) if json.loads(l).get("command") == want}
assert seen == {"NODE1", "HUBCAS"}, seen
PY

# --- lab serve refuses a line the host's shell would not run as one program, and the lab
# is left as it was
before=$(sha256sum "$HOME_LAB/lab/state.json" "$EVENTS")
serve_as() { run lab serve --lab "$LAB" --node NODE1 --state-dir "$HOME_LAB" "$@"; }
unset SSH_ORIGINAL_COMMAND
serve_as
[[ $RC == 1 && $ERR == *"SSH_ORIGINAL_COMMAND is not set"* ]] || fail "serve without a session: $RC $ERR"
SSH_ORIGINAL_COMMAND='sc.exe query x & del C:\x & 1>&2 call echo converge-exit:%^errorlevel%' serve_as
[[ $RC == 1 && $ERR == *"unescaped '&'"* ]] || fail "serve ran a line with an operator: $RC $ERR"
SSH_ORIGINAL_COMMAND='powershell.exe -NoProfile -NonInteractive -EncodedCommand @@@@' serve_as --shell powershell
[[ $RC == 1 && $ERR == *"not base64"* ]] || fail "serve read a bad encoded command: $RC $ERR"
SSH_ORIGINAL_COMMAND="sc.exe query SharedAccess" serve_as
[[ $RC == 1 && $ERR == *"exit trailer"* ]] || fail "serve ran a line not written for cmd: $RC $ERR"
[[ $(sha256sum "$HOME_LAB/lab/state.json" "$EVENTS") == "$before" ]] || fail "a refused line changed the lab"

pass "the showcase converged over real ssh (cmd.exe and PowerShell lines) with the lab's verdict and commands of a direct run"
