#!/usr/bin/env bash
# The everyday Linux library's no-op, measured as users run it (the whole process), side by
# side with the same job in Ansible and Puppet in one run: a host with 20 library-typed
# resources, every one already as desired. The host is this machine, read only: 4 packages
# installed, 3 users and 3 groups with their ids, a service in the state it is in (the
# day's work of tests/scenario/everyday_linux.sh has one), 3 cron entries absent, 3 lines in
# a file and 2 archives unpacked (in the work directory), a kernel parameter at its value.
# Nothing outside the work directory is changed.
#
#   bash tests/bench/everyday.sh [--smoke] [--peers puppet,ansible|none] CONVERGE_BINARY
#
# Targets: converge's no-op under 100 ms, and at least 20x faster than Puppet's. (Ansible's
# ratio is printed.) Each peer does what its users write for the job: Ansible's apt, user,
# group, service, file, lineinfile, unarchive (creates:) and sysctl modules; Puppet's core
# package, user, group, service and file types, and exec with `unless`/`creates` for what
# core Puppet has no type for (a line, an archive, a sysctl). A peer that is not installed
# is skipped (`apt-get install puppet ansible python3-apt`). A missed target prints FAIL
# without changing the exit status; a tool that fails, or changes anything in a no-op,
# exits 1.
set -euo pipefail
SMOKE=0 PEERS=puppet,ansible
while [[ ${1:-} == --* ]]; do
  case $1 in
    --smoke) SMOKE=1; PEERS=none; shift ;;
    --peers) PEERS=$2; shift 2 ;;
    *) echo "usage: everyday.sh [--smoke] [--peers puppet,ansible|none] CONVERGE_BINARY" >&2; exit 2 ;;
  esac
done
BIN=${1:?usage: everyday.sh [--smoke] [--peers puppet,ansible|none] CONVERGE_BINARY}
source "$(dirname "$0")/../scenario/lib.sh" "$BIN"
PY=/usr/bin/python3
RUNS=$([[ $SMOKE == 1 ]] && echo 5 || echo 21)
PEER_RUNS=$([[ $SMOKE == 1 ]] && echo 1 || echo 5)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# The machine as it is: what the resources desire is what they find.
PACKAGES=(bash coreutils dpkg tar)
USERS=(root daemon bin)
GROUPS_=(root adm daemon)
# A service whose init script answers `status` (the usual ones first).
SERVICES=()
for s in cron dbus ssh rsyslog postgresql $(ls /etc/init.d); do
  [[ -x /etc/init.d/$s ]] && grep -q 'status)' "/etc/init.d/$s" && SERVICES+=("$s") && break
done
((${#SERVICES[@]} == 1)) || { echo "SKIP [everyday bench]: no init script here answers status"; exit 0; }
[[ ! -d /run/systemd/system ]] || { echo "SKIP [everyday bench]: systemd runs here; the services are read as init scripts"; exit 0; }
running() { "/etc/init.d/$1" status >/dev/null 2>&1 && echo true || echo false; }
enabled() { compgen -G "/etc/rc[2345].d/S[0-9][0-9]$1" >/dev/null && echo true || echo false; }
uid_of() { getent passwd "$1" | cut -d: -f3; }
gid_of() { getent group "$1" | cut -d: -f3; }
SYSCTLS=(kernel.pid_max)
sysval() { tr '\t' ' ' <"/proc/sys/${1//.//}"; }

mkdir -p src/app-1.0/bin
echo v1 >src/app-1.0/VERSION
tar -czf "$WORK/app.tar.gz" -C src app-1.0
SUM=$(sha256sum "$WORK/app.tar.gz" | cut -d' ' -f1)
printf '127.0.0.1 localhost\n' >"$WORK/hosts"
LINES=("10.0.0.1 db1" "10.0.0.2 db2" "10.0.0.3 cache1")

# --- converge
mkdir -p converge
{
  cat <<YAML
apiVersion: converge/v1
kind: Manifest
metadata: {name: everyday-bench}
include: [$SOURCE_DIR/resources/linux-system.yaml]
inventory:
  nodes:
    host: {transport: {local: {}}}
resources:
YAML
  for p in "${PACKAGES[@]}"; do echo "  - {type: package, name: $p}"; done
  for u in "${USERS[@]}"; do echo "  - {type: user, name: $u, properties: {uid: $(uid_of "$u")}}"; done
  for g in "${GROUPS_[@]}"; do echo "  - {type: group, name: $g, properties: {gid: $(gid_of "$g")}}"; done
  for s in "${SERVICES[@]}"; do echo "  - {type: service, name: $s, properties: {running: $(running "$s"), enabled: $(enabled "$s")}}"; done
  for c in a b c; do echo "  - {type: cron, name: converge-bench-$c, properties: {ensure: absent}}"; done
  i=0
  for l in "${LINES[@]}"; do i=$((i + 1)); echo "  - {type: line, name: host$i, properties: {path: $WORK/hosts, line: \"$l\"}}"; done
  for a in 1 2; do echo "  - {type: archive, name: $WORK/converge/app$a, properties: {source: $WORK/app.tar.gz, sha256: $SUM, strip: 1}}"; done
  for k in "${SYSCTLS[@]}"; do echo "  - {type: sysctl, name: $k, properties: {value: \"$(sysval "$k")\", persisted: false}}"; done
} >converge/day.yaml
[[ $(grep -c '^  - {type:' converge/day.yaml) == 20 ]] || fail "the converge manifest does not hold 20 resources"
echo "  the job: packages ${PACKAGES[*]}; users ${USERS[*]}; groups ${GROUPS_[*]}; service ${SERVICES[*]} (init script);"
echo "           3 cron entries absent; 3 lines; 2 archives; sysctl ${SYSCTLS[*]}"

# median_ms RUNS -- CMD...: median wall time of CMD over RUNS runs (after one warm-up);
# every run must exit 0.
median_ms() {
  local runs=$1
  shift 2
  "$PY" - "$runs" "$@" <<'PYEOF'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(runs + 1):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if i: times.append((time.perf_counter() - t0) * 1000)
    if p.returncode != 0:
        sys.exit("exit %d: %s\n%s" % (p.returncode, " ".join(cmd), p.stdout.decode(errors="replace")[-2000:]))
print("%.1f" % statistics.median(times))
PYEOF
}
snapshot() { find "$WORK/hosts" "$WORK"/*/app* -printf '%p %i %T@ %m\n' 2>/dev/null | sort; }

STATE=(--state-dir "$WORK/converge/state")
expect 0 apply converge/day.yaml "${STATE[@]}" --json  # the lines and archives, once
py 'assert doc["summary"]["failed"] == 0, doc["summary"]'
expect 0 apply converge/day.yaml "${STATE[@]}" --json
py 'assert doc["status"] == "in_sync" and doc["summary"]["in_sync"] == 20, doc["summary"]'
before=$(snapshot)
declare -A MS
MS[converge]=$(median_ms "$RUNS" -- "$CONVERGE" apply converge/day.yaml "${STATE[@]}" --quiet) || fail "converge's no-op failed"
[[ $(snapshot) == "$before" ]] || fail "converge's no-op changed a file"
expect 0 check converge/day.yaml "${STATE[@]}"
# Processes for the host's 20 probes: one batch shell (it starts no helper of its own),
# then only what a probe must run: an init script's `status` (and what it runs), a `cat`
# per sysctl (a /proc/sys number cannot be read a byte at a time). Packages (no version
# pinned), users, groups, cron entries, lines and archives start none.
if command -v strace >/dev/null; then
  strace -f -qq -e trace=execve -o "$WORK/trace" "$CONVERGE" apply converge/day.yaml "${STATE[@]}" --quiet
  started=$(($(grep -c 'execve(' "$WORK/trace" || true) - 1))
  shells=$(grep -c 'execve("/bin/sh"' "$WORK/trace" || true)
  echo "  converge no-op: $started processes started besides converge itself, $shells of them a shell"
  grep 'execve(' "$WORK/trace" | tail -n +2 | sed -E 's/^[0-9]+ +execve\("([^"]*)".*/    \1/' | sort | uniq -c
  ((shells == 1)) || fail "the no-op started $shells shells, not one batch"
  ((started < 20)) || fail "the no-op started $started processes for 20 resources"
fi

# --- Ansible
if [[ ,$PEERS, == *,ansible,* ]] && command -v ansible-playbook >/dev/null && "$PY" -c 'import apt' 2>/dev/null; then
  mkdir -p ansible/app1 ansible/app2
  cp "$WORK/hosts" "$WORK/hosts.ansible"
  cat >ansible/ansible.cfg <<EOF
[defaults]
interpreter_python = /usr/bin/python3
forks = 5
host_key_checking = False
retry_files_enabled = False
[connection]
pipelining = False
EOF
  {
    echo "- hosts: localhost"
    echo "  connection: local"
    echo "  gather_facts: false"
    echo "  tasks:"
    for p in "${PACKAGES[@]}"; do echo "    - {apt: {name: $p, state: present}}"; done
    for u in "${USERS[@]}"; do echo "    - {user: {name: $u, uid: $(uid_of "$u")}}"; done
    for g in "${GROUPS_[@]}"; do echo "    - {group: {name: $g, gid: $(gid_of "$g")}}"; done
    for s in "${SERVICES[@]}"; do
      echo "    - {service: {name: $s, state: $([[ $(running "$s") == true ]] && echo started || echo stopped), enabled: $(enabled "$s")}}"
    done
    for c in a b c; do echo "    - {file: {path: /etc/cron.d/converge-bench-$c, state: absent}}"; done
    for l in "${LINES[@]}"; do echo "    - {lineinfile: {path: $WORK/hosts.ansible, line: \"$l\"}}"; done
    for a in 1 2; do echo "    - {unarchive: {src: $WORK/app.tar.gz, dest: $WORK/ansible/app$a, extra_opts: [--strip-components=1], creates: $WORK/ansible/app$a/VERSION}}"; done
    for k in "${SYSCTLS[@]}"; do echo "    - {ansible.posix.sysctl: {name: $k, value: \"$(sysval "$k")\", sysctl_file: $WORK/ansible/sysctl.conf, reload: false}}"; done
  } >ansible/play.yml
  run_ansible() { ANSIBLE_CONFIG=$WORK/ansible/ansible.cfg ansible-playbook -i localhost, "$WORK/ansible/play.yml" "$@"; }
  run_ansible >/dev/null || fail "Ansible's first run failed: $(run_ansible 2>&1 | tail -20)"
  out=$(run_ansible) || fail "Ansible's second run failed"
  grep -q 'changed=0 ' <<<"$out" || fail "Ansible's second run is not a no-op: $(tail -3 <<<"$out")"
  MS[ansible]=$(median_ms "$PEER_RUNS" -- env ANSIBLE_CONFIG="$WORK/ansible/ansible.cfg" ansible-playbook -i localhost, "$WORK/ansible/play.yml") ||
    fail "Ansible's no-op failed"
elif [[ ,$PEERS, == *,ansible,* ]]; then
  echo "  ansible: not installed (apt-get install ansible python3-apt), skipped"
fi

# --- Puppet
if [[ ,$PEERS, == *,puppet,* ]] && command -v puppet >/dev/null; then
  mkdir -p puppet/app1 puppet/app2
  cp "$WORK/hosts" "$WORK/hosts.puppet"
  {
    for p in "${PACKAGES[@]}"; do echo "package { '$p': ensure => installed }"; done
    for u in "${USERS[@]}"; do echo "user { '$u': uid => $(uid_of "$u") }"; done
    for g in "${GROUPS_[@]}"; do echo "group { '$g': gid => $(gid_of "$g") }"; done
    for s in "${SERVICES[@]}"; do
      echo "service { '$s': ensure => $([[ $(running "$s") == true ]] && echo running || echo stopped), enable => $(enabled "$s") }"
    done
    for c in a b c; do echo "file { '/etc/cron.d/converge-bench-$c': ensure => absent }"; done
    i=0
    for l in "${LINES[@]}"; do
      i=$((i + 1))
      echo "exec { 'line$i': command => \"/bin/sh -c 'echo \\\"$l\\\" >> $WORK/hosts.puppet'\", unless => \"/bin/grep -qxF '$l' $WORK/hosts.puppet\" }"
    done
    for a in 1 2; do
      echo "exec { 'archive$a': command => '/bin/tar -xzf $WORK/app.tar.gz -C $WORK/puppet/app$a --strip-components=1', creates => '$WORK/puppet/app$a/VERSION' }"
    done
    for k in "${SYSCTLS[@]}"; do
      echo "exec { 'sysctl-$k': command => '/sbin/sysctl -w $k=\"$(sysval "$k")\"', unless => \"/bin/sh -c 'test \\\"\$(cat /proc/sys/${k//.//})\\\" = \\\"$(sysval "$k")\\\"'\" }"
    done
  } >puppet/site.pp
  run_puppet() { puppet apply --vardir "$WORK/puppet/var" --detailed-exitcodes "$WORK/puppet/site.pp" 2>&1; }
  set +e
  run_puppet >"$WORK/puppet.out"; rc=$?
  run_puppet >"$WORK/puppet.out"; rc=$?
  set -e
  [[ $rc == 0 ]] || fail "Puppet's second run is not a clean no-op (exit $rc): $(tail -20 "$WORK/puppet.out")"
  MS[puppet]=$(median_ms "$PEER_RUNS" -- puppet apply --vardir "$WORK/puppet/var" --detailed-exitcodes "$WORK/puppet/site.pp") ||
    fail "Puppet's no-op failed"
elif [[ ,$PEERS, == *,puppet,* ]]; then
  echo "  puppet: not installed (apt-get install puppet), skipped"
fi

"$PY" - "${MS[converge]}" "${MS[ansible]:-}" "${MS[puppet]:-}" "$SMOKE" <<'PYEOF'
import sys
conv = float(sys.argv[1])
ansible = float(sys.argv[2]) if sys.argv[2] else None
puppet = float(sys.argv[3]) if sys.argv[3] else None
smoke = sys.argv[4] == "1"
print("everyday Linux: a no-op of 20 library-typed resources on this host (median wall time, whole process)")
print("  %-10s %10.1f ms" % ("converge", conv))
for name, ms in (("ansible", ansible), ("puppet", puppet)):
    if ms is None:
        print("  %-10s %13s" % (name, "not measured"))
    else:
        print("  %-10s %10.1f ms   %6.1fx converge's" % (name, ms, ms / conv))
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
target(conv < 100, "converge's no-op under 100 ms: %.1f ms" % conv)
target(None if puppet is None else puppet / conv >= 20,
       "at least 20x faster than Puppet" + ("" if puppet is None else ": %.1fx" % (puppet / conv)))
print("targets: %d met, %d missed, %d not measured" % (met, missed, unmeasured))
PYEOF
pass "every tool's no-op verified"
