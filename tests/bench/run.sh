#!/usr/bin/env bash
# converge benchmark: the same work for converge, its peers (CFEngine, Puppet,
# Ansible, Ansible+Mitogen) and a hand-written C++ floor, measured side by
# side in one run. See tests/bench/README.md.
#
#   bash tests/bench/run.sh [--smoke] [--peers LIST] [--sizes LIST] CONVERGE_BINARY
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEN=$HERE/gen.py
PY=/usr/bin/python3
# a plain PATH: a pyenv (or other) python3 shim must not be picked up by the
# peers (Mitogen starts "python3")
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

usage() {
    cat <<'EOF'
usage: bash tests/bench/run.sh [options] CONVERGE_BINARY

  --smoke             CI mode: small sizes, converge + floor only, few runs
  --peers LIST        comma list of cfengine,puppet,ansible,mitogen, or none
                      (default: all in full mode, none with --smoke)
  --sizes LIST        W3 sizes, comma list (default 100,1000,10000; smoke 20,50,200)
  --w1-n N            files in W1 (default 1000; smoke 50)
  --execs N           exec resources in W2 (default 200; smoke 20)
  --ansible-n N       stock Ansible's W1 size (default 100)
  --runs-fast N       timed runs for converge and the floor (default 20; smoke 5)
  --runs-mid N        timed runs for CFEngine (default 5)
  --runs-slow N       timed runs for Puppet and Ansible (default 3)
  --install-peers     apt-get install the missing peers, hyperfine and time first
  --keep              keep the work directory
  --no-memory         skip W1M (W1 first apply and no-op again on tmpfs, /dev/shm)
  --no-hyperfine      time with the python loop even if hyperfine is installed
  --no-gnu-time       take peak RSS from wait4 even if /usr/bin/time is installed
  -h, --help          this text
EOF
}

SMOKE=0 KEEP=0 INSTALL=0 NO_HF=0 NO_GT=0 NO_MEM=0
PEERS= SIZES= W1N= EXECS= ANS_N=100 RUNS_FAST= RUNS_MID=5 RUNS_SLOW=3 CONVERGE=
while [[ $# -gt 0 ]]; do
    case $1 in
        --smoke) SMOKE=1 ;;
        --keep) KEEP=1 ;;
        --install-peers) INSTALL=1 ;;
        --no-hyperfine) NO_HF=1 ;;
        --no-gnu-time) NO_GT=1 ;;
        --no-memory) NO_MEM=1 ;;
        --peers) PEERS=$2; shift ;;
        --sizes) SIZES=$2; shift ;;
        --w1-n) W1N=$2; shift ;;
        --execs) EXECS=$2; shift ;;
        --ansible-n) ANS_N=$2; shift ;;
        --runs-fast) RUNS_FAST=$2; shift ;;
        --runs-mid) RUNS_MID=$2; shift ;;
        --runs-slow) RUNS_SLOW=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) [[ -z $CONVERGE ]] || { echo "run.sh: one converge binary only" >&2; exit 2; }
           CONVERGE=$1 ;;
    esac
    shift
done
[[ -n $CONVERGE ]] || { usage >&2; exit 2; }
if [[ $SMOKE == 1 ]]; then
    : "${PEERS:=none}" "${SIZES:=20,50,200}" "${W1N:=50}" "${EXECS:=20}" "${RUNS_FAST:=5}"
else
    : "${PEERS:=cfengine,puppet,ansible,mitogen}" "${SIZES:=100,1000,10000}" "${W1N:=1000}" \
      "${EXECS:=200}" "${RUNS_FAST:=20}"
fi
[[ $PEERS == none ]] && PEERS=
for v in "$W1N" "$EXECS" "$ANS_N" "$RUNS_FAST" "$RUNS_MID" "$RUNS_SLOW" ${SIZES//,/ }; do
    [[ $v =~ ^[0-9]+$ && $v -gt 0 ]] || { echo "run.sh: not a positive number: $v" >&2; exit 2; }
done
[[ $W1N -ge 20 ]] || { echo "run.sh: --w1-n must be >= 20 (drift touches 20 files)" >&2; exit 2; }
[[ -x $CONVERGE && -f $CONVERGE ]] || { echo "run.sh: not an executable: $CONVERGE" >&2; exit 2; }
CONVERGE=$(cd "$(dirname "$CONVERGE")" && pwd)/$(basename "$CONVERGE")
[[ -x $PY ]] || { echo "run.sh: needs $PY" >&2; exit 2; }

say() { printf '%s\n' "$*"; }

# ------------------------------------------------------------ peers, tools
if [[ $INSTALL == 1 ]]; then
    say "installing missing peers with apt-get"
    apt-get update -q >/dev/null || { echo "run.sh: apt-get update failed" >&2; exit 2; }
    want=()
    for p in cfengine3 puppet ansible ansible-mitogen hyperfine time; do
        if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then continue; fi
        if apt-cache policy "$p" | grep -q 'Candidate: [0-9]'; then want+=("$p")
        else say "  no package $p in the configured sources"; fi
    done
    if [[ ${#want[@]} -gt 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${want[@]}" >/dev/null \
            || { echo "run.sh: apt-get install ${want[*]} failed" >&2; exit 2; }
    fi
fi

have() { command -v "$1" >/dev/null 2>&1; }
USE=()
for p in ${PEERS//,/ }; do
    case $p in
        cfengine) have cf-agent && USE+=(cfengine) || say "skipped: CFEngine (cf-agent not installed)" ;;
        puppet) have puppet && USE+=(puppet) || say "skipped: Puppet (puppet not installed)" ;;
        ansible) have ansible-playbook && USE+=(ansible) || say "skipped: Ansible (ansible-playbook not installed)" ;;
        mitogen) if have ansible-playbook && $PY -c 'import ansible_mitogen' 2>/dev/null; then USE+=(mitogen)
                 else say "skipped: Ansible+Mitogen (ansible-playbook or ansible-mitogen not installed)"; fi ;;
        *) echo "run.sh: unknown peer $p (cfengine,puppet,ansible,mitogen)" >&2; exit 2 ;;
    esac
done
uses() { local x; for x in "${USE[@]}"; do [[ $x == "$1" ]] && return 0; done; return 1; }

HYPERFINE=
[[ $NO_HF == 1 ]] || HYPERFINE=$(command -v hyperfine || true)
GNUTIME=
[[ $NO_GT == 0 && -x /usr/bin/time ]] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null && GNUTIME=/usr/bin/time
[[ -n $HYPERFINE ]] || say "note: hyperfine not found, timing with a python loop (gen.py time)"
[[ -n $GNUTIME ]] || say "note: GNU time not found, peak RSS from wait4 (floor maxrss)"
have g++ || { echo "run.sh: needs g++ to build the floor" >&2; exit 2; }

# ------------------------------------------------------------ work dir
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/converge-bench.XXXXXX") || exit 2
[[ $ROOT =~ ^[A-Za-z0-9_./+-]+$ ]] || { echo "run.sh: work dir path has odd characters: $ROOT" >&2; rm -rf "$ROOT"; exit 2; }
MEM_ROOT=  # W1M's work dir on tmpfs, when there is one
cleanup() {
    if [[ $KEEP == 1 ]]; then say "work dir kept: $ROOT ${MEM_ROOT}"; else rm -rf "$ROOT" ${MEM_ROOT:+"$MEM_ROOT"}; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RES=$ROOT/results
mkdir -p "$RES"
RESULTS=$RES/rows.tsv
NOTES=$RES/checks.txt
: >"$RESULTS"; : >"$NOTES"
FLOOR=$ROOT/bin/floor
mkdir -p "$ROOT/bin"
g++ -O2 -std=c++17 -o "$FLOOR" "$HERE/floor.cpp" || { echo "run.sh: floor did not build" >&2; exit 2; }

say "converge bench: $([[ $SMOKE == 1 ]] && echo smoke || echo full) mode; converge=$CONVERGE"
say "  W1 N=$W1N, W2 execs=$EXECS, W3 sizes=$SIZES; peers: ${USE[*]:-none}; runs fast/mid/slow=$RUNS_FAST/$RUNS_MID/$RUNS_SLOW"
say "  timer: ${HYPERFINE:-python loop}; RSS: ${GNUTIME:-wait4}; work dir: $ROOT"
{
    say "  machine: $(nproc) cores, $(uname -sr); $(g++ --version | head -1)"
    say "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates every row)"
    have cf-agent && uses cfengine && say "  $(cf-agent --version 2>/dev/null | head -1)"
    have puppet && uses puppet && say "  Puppet $(puppet --version 2>/dev/null)"
    have ansible && { uses ansible || uses mitogen; } && say "  $(ansible --version 2>/dev/null | head -1)"
} 2>/dev/null

# ------------------------------------------------------------ measuring
# Globals describing the row being measured: WL PH N TOOL FORM SPEED PREP.
SEQ=0 ANY_FAIL=0
LAST_JSON= LAST_RSS= LAST_LOG=

runs_for() { case $SPEED in fast) echo "$RUNS_FAST" ;; mid) echo "$RUNS_MID" ;; *) echo "$RUNS_SLOW" ;; esac; }
warmup_for() {
    [[ $PH == a || $PH == c ]] && { echo 0; return; }  # every run is prepared
    case $SPEED in fast) echo 3 ;; mid) echo 2 ;; *) echo 1 ;; esac
}

# run_prep: run $PREP once (a shell-free word list, as hyperfine -N runs it)
run_prep() { [[ -z $PREP ]] && return 0; local w; read -ra w <<<"$PREP"; "${w[@]}" >/dev/null; }

# measure CMD...: time CMD (hyperfine, or the python loop) and take its peak RSS.
# Slow tools are timed wrapped in GNU time (under 1 ms on a run of seconds);
# converge, the floor and CFEngine are timed bare and their RSS is taken from
# 3 extra runs (each prepared like the timed ones).
measure() {
    local runs warm rc=0 k
    runs=$(runs_for); warm=$(warmup_for)
    SEQ=$((SEQ + 1))
    LAST_JSON=$RES/$SEQ.json LAST_RSS=$RES/$SEQ.rss LAST_LOG=$RES/$SEQ.log
    local tcmd=("$@") wrapped=0
    if [[ $SPEED == slow && -n $GNUTIME ]]; then
        tcmd=("$GNUTIME" -f %M -a -o "$LAST_RSS" "$@"); wrapped=1
    fi
    printf '%s\n' "${tcmd[*]}" >"$LAST_LOG"
    if [[ -n $HYPERFINE ]]; then
        local hf=("$HYPERFINE" -N --style basic --runs "$runs" --warmup "$warm" --export-json "$LAST_JSON")
        [[ -n $PREP ]] && hf+=(--prepare "$PREP")
        "${hf[@]}" "${tcmd[*]}" >>"$LAST_LOG" 2>&1 || rc=$?
    else
        local py=("$PY" "$GEN" time --runs "$runs" --warmup "$warm" --export-json "$LAST_JSON")
        [[ -n $PREP ]] && py+=(--prepare "$PREP")
        "${py[@]}" -- "${tcmd[@]}" >>"$LAST_LOG" 2>&1 || rc=$?
    fi
    if [[ $rc != 0 ]]; then
        rm -f "$LAST_JSON"
        return 1
    fi
    if [[ $wrapped == 0 ]]; then
        for k in 1 2 3; do
            run_prep || return 1
            if [[ -n $GNUTIME ]]; then
                "$GNUTIME" -f %M -a -o "$LAST_RSS" "$@" >/dev/null 2>&1 || return 1
            else
                "$FLOOR" maxrss "$LAST_RSS" "$@" || return 1
            fi
        done
    fi
    return 0
}

# record STATUS [NOTE]: one result row; prints a progress line
record() {
    local status=$1 note=${2:-}
    [[ $status == verified || $status == ok ]] || ANY_FAIL=1
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$WL" "$PH" "$N" "$TOOL" "$FORM" \
        "${LAST_JSON:-}" "${LAST_RSS:-}" "$status" "$note" >>"$RESULTS"
    local med=-
    if [[ -s ${LAST_JSON:-/nonexistent} ]]; then
        med=$("$PY" -c 'import json,statistics,sys; t=json.load(open(sys.argv[1]))["results"][0]["times"]; print("%.2f ms" % (statistics.median(t)*1000))' "$LAST_JSON")
    fi
    say "  $WL${PH/-/} $TOOL $FORM N=$N: $med [$status]"
}

fail_detail() {  # fail_detail CMD...: say why a timed series failed, with the tool's own output
    say "    FAILED: the timed series did not complete (the command or its prepare step exited non-zero):"
    grep -v '^ *$' "$LAST_LOG" | tail -n 3 | sed 's/^/      /'
    local rc=0
    run_prep >/dev/null 2>&1
    "$@" >"$LAST_LOG.out" 2>&1 </dev/null || rc=$?
    say "    one more run, exit status $rc; its last output lines:"
    grep -v '^ *$' "$LAST_LOG.out" | tail -n 6 | sed 's/^/      /'
}

# timed_row VERIFY... -- CMD...: measure CMD, then run the VERIFY command
# (prints one line; exit 0 = correct), then record the row.
timed_row() {
    local verify=()
    while [[ $1 != -- ]]; do verify+=("$1"); shift; done
    shift
    if ! measure "$@"; then
        fail_detail "$@"; record FAILED "command failed"; return 1
    fi
    if [[ ${#verify[@]} -eq 0 ]]; then record ok; return 0; fi
    local out
    if out=$("${verify[@]}" 2>&1); then
        record verified
    else
        say "    FAILED verification: $out"
        record FAILED "wrong result"
        return 1
    fi
}

# once CMD...: one untimed run (to converge a target before a no-op series)
once() {
    local log=$RES/once.$SEQ.log
    if ! "$@" >"$log" 2>&1; then
        say "    FAILED: untimed run exited non-zero: $*"; tail -n 6 "$log" | sed 's/^/      /'
        return 1
    fi
}

# tool_cmd TOOL FORM DIR: sets CMD for a tool's form directory
tool_cmd() {
    local tool=$1 form=$2 fd=$3
    case $tool in
        converge) CMD=("$CONVERGE" apply "$fd/manifest.yaml" --state-dir "$fd/state" --quiet) ;;
        floor) CMD=() ;;  # set by the caller
        cfengine) CMD=(cf-agent -KIf "$fd/policy.cf") ;;
        puppet) CMD=(puppet apply --vardir "$fd/var" "$fd/site.pp") ;;
        ansible|mitogen) CMD=(env "ANSIBLE_CONFIG=$fd/ansible.cfg" ansible-playbook -i localhost, "$fd/play.yml") ;;
    esac
}

speed_of() { case $1 in converge|floor) echo fast ;; cfengine) echo mid ;; *) echo slow ;; esac; }

declare -A DONE_B  # "tool/form/N" -> a no-op row exists (W1 and W3 share it)

# files_phases DIR N TOOL FORM DIRNAME PHASES: W1 phases (a b c) or W3 (b)
files_phases() {
    local d=$1 n=$2 dirname=$5 phases=$6
    TOOL=$3 FORM=$4 N=$n SPEED=$(speed_of "$3")
    local fd=$d/$dirname tgt=$d/$dirname/target spec=$d/spec.tsv
    tool_cmd "$TOOL" "$FORM" "$fd"
    [[ $TOOL == floor ]] && CMD=("$FLOOR" files "$spec" "$tgt")
    local converged=0
    if [[ $phases == *a* ]]; then
        PH=a PREP="$PY $GEN reset $tgt"
        timed_row "$PY" "$GEN" verify-files "$spec" "$tgt" -- "${CMD[@]}" && converged=1
    fi
    if [[ $phases == *b* ]]; then
        PH=b PREP=
        if [[ $converged == 0 ]]; then once "${CMD[@]}"; fi
        "$PY" "$GEN" snapshot "$tgt" "$fd/snapshot.json"
        timed_row "$PY" "$GEN" verify-files "$spec" "$tgt" "$fd/snapshot.json" -- "${CMD[@]}"
        DONE_B[$TOOL/$FORM/$n]=1
    fi
    if [[ $phases == *c* ]]; then
        PH=c PREP="$PY $GEN drift $tgt $n"
        timed_row "$PY" "$GEN" verify-files "$spec" "$tgt" -- "${CMD[@]}"
    fi
}

# converge_checks DIR N FORM: `converge check` exit codes, and that it changes nothing
note() { say "  $1"; printf '%s\n' "$1" >>"$NOTES"; [[ $1 == PASS* ]] || ANY_FAIL=1; }
converge_checks() {
    local d=$1 n=$2 form=$3 fd=$1/converge-$3
    local tgt=$fd/target spec=$d/spec.tsv rc
    local chk=("$CONVERGE" check "$fd/manifest.yaml" --state-dir "$fd/state" --quiet)
    tool_cmd converge "$form" "$fd"
    "${CMD[@]}" >/dev/null 2>&1  # converge first (the drift phase left it converged)
    "$PY" "$GEN" snapshot "$tgt" "$fd/snap-check.json"
    rc=0; "${chk[@]}" >"$RES/check.log" 2>&1 || rc=$?
    local v
    v=$("$PY" "$GEN" verify-files "$spec" "$tgt" "$fd/snap-check.json")
    if [[ $rc == 0 && $v == ok* ]]; then
        note "PASS converge check [$form, N=$n] in sync: exit 0, nothing changed"
    else
        note "FAIL converge check [$form, N=$n] in sync: exit $rc (want 0); target: $v; $(tail -n 2 "$RES/check.log" | tr '\n' ' ')"
    fi
    "$PY" "$GEN" drift "$tgt" "$n"
    "$PY" "$GEN" snapshot "$tgt" "$fd/snap-drift.json"
    rc=0; "${chk[@]}" >"$RES/check.log" 2>&1 || rc=$?
    local same
    same=$("$PY" - "$fd/snap-drift.json" "$tgt" <<'EOF'
import json, os, sys
before = json.load(open(sys.argv[1]))
after = {}
for e in os.scandir(sys.argv[2]):
    st = e.stat(follow_symlinks=False)
    after[e.name] = [st.st_ino, st.st_mtime_ns, st.st_mode, st.st_size]
print("same" if before == after else "changed")
EOF
)
    if [[ $rc == 2 && $same == same ]]; then
        note "PASS converge check [$form, N=$n] after drift: exit 2, nothing changed"
    else
        note "FAIL converge check [$form, N=$n] after drift: exit $rc (want 2), target $same; $(tail -n 2 "$RES/check.log" | tr '\n' ' ')"
    fi
    "${CMD[@]}" >/dev/null 2>&1
    if "$PY" "$GEN" verify-files "$spec" "$tgt" >/dev/null; then
        note "PASS converge apply [$form, N=$n] repairs the drift after check"
    else
        note "FAIL converge apply [$form, N=$n] repairs the drift after check: $("$PY" "$GEN" verify-files "$spec" "$tgt")"
    fi
    "$PY" "$GEN" drift-stealth "$tgt" "$n"
    "${CMD[@]}" >/dev/null 2>&1
    if "$PY" "$GEN" verify-files "$spec" "$tgt" >/dev/null; then
        note "PASS converge apply [$form, N=$n] repairs same-size drift whose mtime was put back"
    else
        note "FAIL converge apply [$form, N=$n] same-size drift with mtime put back: $("$PY" "$GEN" verify-files "$spec" "$tgt")"
    fi
}

# ------------------------------------------------------------ W0
say ""
say "W0: empty manifest"
W0=$ROOT/w0
w0forms=(converge floor)
for p in "${USE[@]}"; do w0forms+=("$p"); done
"$PY" "$GEN" empty "$W0" "${w0forms[@]}"
WL=W0 PH=- N=0
for t in "${w0forms[@]}"; do
    TOOL=$t FORM=empty SPEED=$(speed_of "$t") PREP=
    tool_cmd "$t" empty "$W0/$t"
    [[ $t == floor ]] && CMD=("$FLOOR" files "$W0/floor/spec.tsv" "$W0/floor/target")
    timed_row -- "${CMD[@]}"
done

# ------------------------------------------------------------ W1
IFS=, read -ra SIZE_LIST <<<"$SIZES"
mkfiles() {  # mkfiles N FORMDIR...: generate files-N once per form
    local n=$1; shift
    local todo=() f
    for f in "$@"; do [[ -d $ROOT/files-$n/$f ]] || todo+=("$f"); done
    [[ ${#todo[@]} -eq 0 ]] || "$PY" "$GEN" files "$ROOT/files-$n" "$n" "${todo[@]}"
}
say ""
say "W1: $W1N files, content + mode 0644: (a) first apply, (b) no-op, (c) drift repair"
D=$ROOT/files-$W1N
w1forms=(converge-flat converge-each floor)
uses cfengine && w1forms+=(cfengine-flat)
uses puppet && w1forms+=(puppet-flat puppet-each)
uses mitogen && w1forms+=(mitogen-loop)
mkfiles "$W1N" "${w1forms[@]}"
WL=W1
files_phases "$D" "$W1N" converge flat converge-flat abc
converge_checks "$D" "$W1N" flat
files_phases "$D" "$W1N" converge each converge-each abc
converge_checks "$D" "$W1N" each
files_phases "$D" "$W1N" floor files floor abc
uses cfengine && files_phases "$D" "$W1N" cfengine flat cfengine-flat abc
uses puppet && files_phases "$D" "$W1N" puppet flat puppet-flat abc
uses puppet && files_phases "$D" "$W1N" puppet each puppet-each abc
uses mitogen && files_phases "$D" "$W1N" mitogen loop mitogen-loop abc
if uses ansible; then
    if [[ $ANS_N -lt 20 ]]; then
        say "  skipped: stock Ansible in W1 needs --ansible-n >= 20"
    else
        [[ $ANS_N != "$W1N" ]] && say "  stock Ansible: W1 at N=$ANS_N only (it needs minutes per run at N=$W1N)"
        mkfiles "$ANS_N" ansible-loop floor converge-flat converge-each
        files_phases "$ROOT/files-$ANS_N" "$ANS_N" ansible loop ansible-loop abc
        if [[ $ANS_N != "$W1N" ]]; then  # the same three phases at its N, for the ratios
            files_phases "$ROOT/files-$ANS_N" "$ANS_N" converge flat converge-flat abc
            files_phases "$ROOT/files-$ANS_N" "$ANS_N" converge each converge-each abc
            files_phases "$ROOT/files-$ANS_N" "$ANS_N" floor files floor abc
        fi
    fi
fi

# ------------------------------------------------------------ W1M: W1 in memory
# A first apply creates N files. On this VM's ext4 the kernel's inode allocation dominates
# that for every tool and the floor alike (it scans recently freed inodes after each
# reset's rm -rf), and it varies by the minute. The same phases on tmpfs show each tool's
# own cost without the disk's.
if [[ $NO_MEM == 0 && -d /dev/shm && -w /dev/shm && $(stat -f -c %T /dev/shm 2>/dev/null) == tmpfs ]] &&
        [[ $(stat -f -c %T "$ROOT") != tmpfs ]]; then
    MEM_ROOT=$(mktemp -d /dev/shm/converge-bench.XXXXXX) || exit 2
    say ""
    say "W1M: W1 (a) and (b) again on tmpfs ($MEM_ROOT): the tools' own cost without the disk"
    mforms=(converge-flat converge-each floor)
    uses cfengine && mforms+=(cfengine-flat)
    "$PY" "$GEN" files "$MEM_ROOT/files-$W1N" "$W1N" "${mforms[@]}"
    WL=W1M
    for f in "${mforms[@]}"; do
        t=${f%%-*} fm=${f#*-}; [[ $t == floor ]] && fm=files
        files_phases "$MEM_ROOT/files-$W1N" "$W1N" "$t" "$fm" "$f" ab
    done
    rm -rf "$MEM_ROOT/files-$W1N"
else
    say ""
    say "W1M: skipped ($([[ $NO_MEM == 1 ]] && echo "--no-memory" || echo "no tmpfs at /dev/shm, or the work dir is on tmpfs already"))"
fi

# ------------------------------------------------------------ W2
say ""
say "W2: $EXECS exec resources, check passes (no-op)"
E=$ROOT/execs-$EXECS
w2forms=(converge-flat floor-spawn floor-parallel floor-stat)
uses cfengine && w2forms+=(cfengine-returnszero)
uses puppet && w2forms+=(puppet-unless)
uses mitogen && w2forms+=(mitogen-creates)
uses ansible && w2forms+=(ansible-creates)
"$PY" "$GEN" execs "$E" "$EXECS" "${w2forms[@]}"
WL=W2 PH=b N=$EXECS PREP=
for f in "${w2forms[@]}"; do
    TOOL=${f%%-*} FORM=${f#*-} SPEED=$(speed_of "${f%%-*}")
    fd=$E/$f
    tool_cmd "$TOOL" "$FORM" "$fd"
    [[ $f == floor-spawn ]] && CMD=("$FLOOR" spawn "$EXECS" "$fd/markers")
    [[ $f == floor-parallel ]] && CMD=("$FLOOR" spawn "$EXECS" "$fd/markers" "$(nproc)")
    [[ $f == floor-stat ]] && CMD=("$FLOOR" stat "$EXECS" "$fd/markers")
    timed_row "$PY" "$GEN" verify-markers "$fd/markers" "$EXECS" -- "${CMD[@]}"
done
# converge must also run the apply command when a check fails, and `check` must see it
fd=$E/converge-flat
TOOL=converge FORM=flat
tool_cmd converge flat "$fd"
miss=(0 $((EXECS / 2)) $((EXECS - 1)))
for i in "${miss[@]}"; do rm -f "$fd/markers/marker_$i"; done
rc=0; "$CONVERGE" check "$fd/manifest.yaml" --state-dir "$fd/state" --quiet >"$RES/check.log" 2>&1 || rc=$?
absent=0; for i in "${miss[@]}"; do [[ -e $fd/markers/marker_$i ]] || absent=$((absent + 1)); done
if [[ $rc == 2 && $absent == "${#miss[@]}" ]]; then
    note "PASS converge check [W2] with ${#miss[@]} markers missing: exit 2, nothing run"
else
    note "FAIL converge check [W2] with ${#miss[@]} markers missing: exit $rc (want 2), $absent of ${#miss[@]} still missing (want all)"
fi
rc=0; "${CMD[@]}" >"$RES/apply.log" 2>&1 || rc=$?
absent=0; for i in "${miss[@]}"; do [[ -e $fd/markers/marker_$i ]] || absent=$((absent + 1)); done
if [[ $rc == 0 && $absent == 0 ]]; then
    note "PASS converge apply [W2] runs the apply command for the ${#miss[@]} failing checks"
else
    note "FAIL converge apply [W2] with ${#miss[@]} markers missing: exit $rc, $absent still missing; $(tail -n 2 "$RES/apply.log" | tr '\n' ' ')"
fi

# ------------------------------------------------------------ W3
say ""
say "W3: W1 no-op at N = $SIZES"
WL=W3
for n in "${SIZE_LIST[@]}"; do
    forms=(converge-flat converge-each floor)
    uses cfengine && forms+=(cfengine-flat)
    uses puppet && forms+=(puppet-flat)
    if uses mitogen; then
        if [[ $n -le 1000 ]]; then forms+=(mitogen-loop)
        else say "  dropped: Ansible+Mitogen at N=$n (about 22 ms a file or more: minutes per run)"; fi
    fi
    if uses ansible && [[ $n != "$ANS_N" ]]; then
        say "  dropped: stock Ansible at N=$n (about 0.23 s a file or more; measured at N=$ANS_N only)"
    fi
    todo=()
    for f in "${forms[@]}"; do
        t=${f%%-*} fm=${f#*-}; [[ $t == floor ]] && fm=files
        [[ -n ${DONE_B[$t/$fm/$n]:-} ]] || todo+=("$f")
    done
    [[ ${#todo[@]} -gt 0 ]] || continue
    mkfiles "$n" "${todo[@]}"
    for f in "${todo[@]}"; do
        t=${f%%-*} fm=${f#*-}; [[ $t == floor ]] && fm=files
        files_phases "$ROOT/files-$n" "$n" "$t" "$fm" "$f" b
    done
    # the targets of a finished size are not needed again; free the disk
    [[ $n == "$W1N" || $n == "$ANS_N" ]] || rm -rf "$ROOT/files-$n"
done

# ------------------------------------------------------------ report
say ""
say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
say "==================================================================="
rargs=("$RESULTS" --w1-n "$W1N" --notes "$NOTES")
[[ $SMOKE == 1 ]] && rargs+=(--smoke)
rc=0
"$PY" "$GEN" report "${rargs[@]}" || rc=$?
# the report's last line is the summary, "bench: P passed, F failed"
[[ $ANY_FAIL == 1 || $rc != 0 ]] && exit 1
exit 0
