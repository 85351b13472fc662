#!/usr/bin/env bash
# Files over ssh, measured as users run them (the whole process), side by side with Ansible
# in one run: H hosts x F files (20 x 100; --smoke: 2 x 10), each host a loopback address
# (127.0.0.2 ...) of one sshd this script starts, each file under a directory of its host.
#   - floor: one multiplexed `ssh HOST true` per host, all hosts at once;
#   - no-op: every file already as desired;
#   - first apply: every file missing;
#   - repair: 10 files per host changed behind the tool's back.
# Both tools reach every host at once (converge -j H, Ansible forks = H) over ssh connections
# kept open between commands (ControlPersist), Ansible with pipelining and its copy module.
# The test user's sessions get a home of their own (tests/scenario/sshd.sh): a login shell's
# rc files would otherwise weigh on every round trip of both tools and of the floor alike.
#
#   bash tests/bench/ssh.sh [--smoke] [--peers ansible|none] CONVERGE_BINARY
#
# Targets: converge's no-op within 3x of the floor, and at least 20x faster than Ansible's.
# A missed target prints FAIL without changing the exit status; a tool that fails, or that
# changes anything in a no-op, exits 1. Ansible is skipped when not installed.
set -euo pipefail
SMOKE=0 PEERS=ansible H= F=
USAGE="usage: ssh.sh [--smoke] [--peers ansible|none] [--hosts H] [--files F] CONVERGE_BINARY"
while [[ ${1:-} == --* ]]; do
  case $1 in
    --smoke) SMOKE=1; PEERS=none; shift ;;
    --peers) PEERS=$2; shift 2 ;;
    --hosts) H=$2; shift 2 ;;
    --files) F=$2; shift 2 ;;
    *) echo "$USAGE" >&2; exit 2 ;;
  esac
done
BIN=${1:?$USAGE}
source "$(dirname "$0")/../scenario/lib.sh" "$BIN"
source "$SOURCE_DIR/tests/scenario/sshd.sh"
PY=/usr/bin/python3
H=${H:-$([[ $SMOKE == 1 ]] && echo 2 || echo 20)}
F=${F:-$([[ $SMOKE == 1 ]] && echo 10 || echo 100)}
RUNS=$([[ $SMOKE == 1 ]] && echo 3 || echo 11)
SLOW_RUNS=3  # converge's first apply and repair
PEER_RUNS=1  # Ansible takes minutes a run at 20 x 100 (about 20 on this VM)
ADDRS=()
for i in $(seq "$H"); do ADDRS+=("127.0.0.$((i + 1))"); done
start_sshd "${ADDRS[@]}"
SSH_OPTS=(-o BatchMode=yes -o "IdentityFile=$WORK/clientkey" -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new
  -o "UserKnownHostsFile=$WORK/known_hosts" -p "$PORT")

# median_ms RUNS WARMUPS RESET -- CMD...: median wall time of CMD over RUNS runs, each after
# RESET (a shell line, not timed), after WARMUPS untimed runs; every run must exit 0.
median_ms() {
  local runs=$1 warm=$2 reset=$3
  shift 4
  "$PY" - "$runs" "$warm" "$reset" "$@" <<'PYEOF'
import statistics, subprocess, sys, time
runs, warm, reset, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
times = []
for i in range(runs + warm):
    if reset:
        subprocess.run(["bash", "-c", reset], check=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if i >= warm: times.append((time.perf_counter() - t0) * 1000)
    if p.returncode != 0:
        sys.exit("exit %d: %s\n%s" % (p.returncode, " ".join(cmd), p.stdout.decode(errors="replace")[-2000:]))
print("%.1f" % statistics.median(times))
PYEOF
}
content() { printf 'host h%s file %s\n' "$1" "$2"; }
# tamper DIR: changes 10 files of each host under DIR
tamper_line() { echo "for i in \$(seq $H); do for f in \$(seq 10); do echo tampered >$1/h\$i/f\$f.conf; done; done"; }
clear_line() { echo "rm -f $1/h*/f*.conf"; }
check_tree() {  # check_tree DIR: every file as desired
  local dir=$1
  for i in $(seq "$H"); do for f in 1 $((F / 2)) "$F"; do
    [[ $(cat "$dir/h$i/f$f.conf") == "$(content "$i" "$f")" ]] || fail "$dir/h$i/f$f.conf is not as desired"
  done; done
}

# --- the floor: one multiplexed round trip per host, all at once
mkdir "$WORK/cm"
floor_cmd="printf '%s\n' ${ADDRS[*]} | xargs -P $H -I{} ssh ${SSH_OPTS[*]} -o ControlMaster=auto -o ControlPath=$WORK/cm/%C -o ControlPersist=120 $ME@{} true"
bash -c "$floor_cmd"
MS_FLOOR=$(median_ms "$RUNS" 1 "" -- bash -c "$floor_cmd") || fail "the floor's ssh failed"

# --- converge
mkdir -p converge
for i in $(seq "$H"); do mkdir -p "$WORK/data/h$i"; done
{
  cat <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: ssh-bench}
inventory:
  transport: {ssh: {user: $ME, port: $PORT, host_key: accept-new, known_hosts: $WORK/known_hosts, options: [IdentityFile=$WORK/clientkey, IdentitiesOnly=yes]}}
  nodes:
YAML
  for i in $(seq "$H"); do echo "    h$i: {transport: {ssh: {host: 127.0.0.$((i + 1))}}}"; done
  echo "resources:"
  for i in $(seq "$H"); do for f in $(seq "$F"); do
    echo "  - {type: file, name: $WORK/data/h$i/f$f.conf, on: h$i, properties: {content: \"host h$i file $f\\n\", mode: '0644'}}"
  done; done
} >converge/files.yaml
C=("$CONVERGE" apply converge/files.yaml --state-dir "$WORK/converge/state" -j "$H" --quiet)
expect 0 apply converge/files.yaml --state-dir "$WORK/converge/state" -j "$H" --json
py 'assert doc["summary"]["failed"] == 0, doc["summary"]'
check_tree "$WORK/data"
expect 0 apply converge/files.yaml --state-dir "$WORK/converge/state" -j "$H" --json
py "assert doc['status'] == 'in_sync' and doc['summary']['in_sync'] == $((H * F)), doc['summary']"
declare -A MS
MS[c_noop]=$(median_ms "$RUNS" 1 "" -- "${C[@]}") || fail "converge's no-op failed"
MS[c_first]=$(median_ms "$SLOW_RUNS" 0 "$(clear_line "$WORK/data")" -- "${C[@]}") || fail "converge's first apply failed"
check_tree "$WORK/data"
MS[c_repair]=$(median_ms "$SLOW_RUNS" 0 "$(tamper_line "$WORK/data")" -- "${C[@]}") || fail "converge's repair failed"
check_tree "$WORK/data"

# --- Ansible
if [[ ,$PEERS, == *,ansible,* ]] && command -v ansible-playbook >/dev/null; then
  mkdir -p ansible
  for i in $(seq "$H"); do mkdir -p "$WORK/data-ansible/h$i"; done
  cat >ansible/ansible.cfg <<CFG
[defaults]
forks = $H
host_key_checking = True
stdout_callback = default
retry_files_enabled = False
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=120 -o IdentityFile=$WORK/clientkey -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile=$WORK/known_hosts
control_path_dir = $WORK/ansible/cp
CFG
  {
    echo "[bench]"
    for i in $(seq "$H"); do echo "h$i ansible_host=127.0.0.$((i + 1)) ansible_port=$PORT ansible_user=$ME"; done
  } >ansible/hosts
  cat >ansible/play.yml <<YAML
- hosts: bench
  gather_facts: false
  tasks:
    - copy:
        dest: "$WORK/data-ansible/{{ inventory_hostname }}/f{{ item }}.conf"
        content: "host {{ inventory_hostname }} file {{ item }}\n"
        mode: "0644"
      loop: "{{ range(1, $F + 1) | list }}"
YAML
  A=(env ANSIBLE_CONFIG="$WORK/ansible/ansible.cfg" ansible-playbook -i "$WORK/ansible/hosts" "$WORK/ansible/play.yml")
  "${A[@]}" >"$WORK/ansible.out" 2>&1 || fail "Ansible's first run failed: $(tail -20 "$WORK/ansible.out")"
  check_tree "$WORK/data-ansible"
  # The no-op, timed (one run: Ansible takes minutes a run at 20 x 100), and checked to be one.
  t0=$(date +%s%N)
  "${A[@]}" >"$WORK/ansible.out" 2>&1 || fail "Ansible's no-op failed: $(tail -20 "$WORK/ansible.out")"
  MS[a_noop]=$("$PY" -c "print('%.1f' % (($(date +%s%N) - $t0) / 1e6))")
  grep -q 'changed=0 ' "$WORK/ansible.out" || fail "Ansible's second run is not a no-op: $(tail -5 "$WORK/ansible.out")"
  MS[a_first]=$(median_ms "$PEER_RUNS" 0 "$(clear_line "$WORK/data-ansible")" -- "${A[@]}") || fail "Ansible's first apply failed"
  MS[a_repair]=$(median_ms "$PEER_RUNS" 0 "$(tamper_line "$WORK/data-ansible")" -- "${A[@]}") || fail "Ansible's repair failed"
  check_tree "$WORK/data-ansible"
elif [[ ,$PEERS, == *,ansible,* ]]; then
  echo "  ansible: not installed (apt-get install ansible), skipped"
fi

"$PY" - "$H" "$F" "$MS_FLOOR" "${MS[c_noop]}" "${MS[c_first]}" "${MS[c_repair]}" "${MS[a_noop]:-}" "${MS[a_first]:-}" \
  "${MS[a_repair]:-}" "$SMOKE" <<'PYEOF'
import sys
h, f = int(sys.argv[1]), int(sys.argv[2])
floor, cn, cf, cr = (float(x) for x in sys.argv[3:7])
an, af, ar = (float(x) if x else None for x in sys.argv[7:10])
smoke = sys.argv[10] == "1"
print("files over ssh: %d hosts x %d files on loopback sshd (median wall time, whole process)" % (h, f))
print("  floor: one multiplexed `ssh HOST true` per host, all at once: %.1f ms" % floor)
print("  %-14s %12s %12s %12s" % ("", "no-op", "first apply", "repair 10/host"))
print("  %-14s %9.1f ms %9.1f ms %9.1f ms" % ("converge", cn, cf, cr))
if an is not None:
    print("  %-14s %9.1f ms %9.1f ms %9.1f ms" % ("ansible", an, af, ar))
    print("  %-14s %11.1fx %11.1fx %11.1fx" % ("ansible/conv.", an / cn, af / cf, ar / cr))
met = missed = unmeasured = 0
def target(ok, text):
    global met, missed, unmeasured
    if ok is None:
        unmeasured += 1
        print("  n/a  " + text)
        return
    print("  %s %s" % ("PASS" if ok else ("FAIL" if not smoke else "(smoke) miss"), text))
    if ok: met += 1
    else: missed += 1
target(cn <= 3 * floor, "converge's no-op within 3x of the floor: %.1fx" % (cn / floor))
target(None if an is None else an / cn >= 20, "at least 20x faster than Ansible's no-op" + ("" if an is None else ": %.1fx" % (an / cn)))
print("targets: %d met, %d missed, %d not measured" % (met, missed, unmeasured))
PYEOF
pass "every tool's no-op verified"
