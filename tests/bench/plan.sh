#!/usr/bin/env bash
# The planner as users run it: `converge plan` as a process on generated estates
# (tests/bench/plan_gen.py), observation of every node included. Rolling tiers of web nodes
# on local node roots (k = 10% of the tier) and Exchange estates of CCR clusters on the lab
# (two Hub/CAS servers, k = 10% of the mailbox nodes). For each size: the median wall time
# of the warm runs (the first run, which also fills the model cache, apart), the peak RSS,
# the schedule's length against its lower bound, and the cost per doubling of the size.
# Uses GNU time (/usr/bin/time) for the peak RSS when installed.
# Targets on a quiet 2-core machine: the 1,000-node tier under 1 s, 50 clusters under 2 s,
# 200 clusters under 10 s, every run under 200 MB, every schedule within 5% of its lower
# bound, the cost per doubling near 2x (under 2.5x). A missed target prints FAIL; the exit
# status is 1 only when a run failed or printed no plan.
#   bash tests/bench/plan.sh [--smoke] [--runs N] build/converge
# --smoke: the small sizes (a 100-node tier, 10 clusters), 3 runs: CI.
set -euo pipefail
SMOKE=0
RUNS=5
while [[ $# -gt 1 ]]; do
  case $1 in
    --smoke) SMOKE=1; RUNS=3; shift ;;
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: plan.sh [--smoke] [--runs N] CONVERGE" >&2; exit 2 ;;
  esac
done
CONVERGE=${1:?usage: plan.sh [--smoke] [--runs N] CONVERGE}
CONVERGE=$(cd "$(dirname "$CONVERGE")" && pwd)/$(basename "$CONVERGE")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ $SMOKE == 1 ]]; then
  TIERS="100"; ESTATES="10"
else
  TIERS="100 1000 5000"; ESTATES="10 50 200"
fi

for n in $TIERS; do python3 "$HERE/plan_gen.py" tier "$WORK/tier-$n" "$HERE/../../resources" --nodes "$n"; done
for c in $ESTATES; do python3 "$HERE/plan_gen.py" estate "$WORK/estate-$c" "$HERE/../../resources" --clusters "$c"; done

python3 - "$CONVERGE" "$WORK" "$RUNS" "$SMOKE" "$TIERS" "$ESTATES" <<'PY'
import json, math, os, subprocess, sys, time

converge, work, runs, smoke = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
tiers = [int(x) for x in sys.argv[5].split()]
estates = [int(x) for x in sys.argv[6].split()]
failed = 0
met = missed = 0


# GNU time's %M when installed: a child's ru_maxrss also counts what it was before exec
# (this script, forked), which GNU time, small, keeps out.
GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
RSS_FILE = os.path.join(work, "rss")


def once(args):
    """Wall seconds, peak RSS (MB), exit code, stdout of one converge process."""
    if GNU_TIME:
        args = [GNU_TIME, "-f", "%M", "-o", RSS_FILE] + args
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    rss = usage.ru_maxrss / 1024.0
    if GNU_TIME:
        rss = int(open(RSS_FILE).read().split()[-1]) / 1024.0
    return wall, rss, os.waitstatus_to_exitcode(status), out


def measure(name, d):
    global failed
    m, sd = os.path.join(d, "manifest.yaml"), os.path.join(d, "state")
    first, rss, rc, _ = once([converge, "plan", m, "--state-dir", sd])
    walls = []
    for _ in range(runs):
        w, r, rc2, _ = once([converge, "plan", m, "--state-dir", sd])
        walls.append(w)
        rss = max(rss, r)
        rc = rc if rc != 2 else rc2
    _, _, rcj, out = once([converge, "plan", m, "--state-dir", sd, "--json"])
    try:
        plan = json.loads(out)["plan"]
    except (ValueError, KeyError):
        plan = None
    if rc != 2 or rcj != 2 or plan is None:
        print("  %-22s FAILED (exit %d)" % (name, rc))
        failed += 1
        return None
    walls.sort()
    med = walls[len(walls) // 2]
    return {"name": name, "first": first, "median": med, "rss": rss, "steps": len(plan["steps"]),
            "chains": plan["chains"], "makespan": plan["makespan_s"], "bound": plan["lower_bound_s"]}


def hms(s):
    return "%dh%02dm%02ds" % (s // 3600, s % 3600 // 60, s % 60)


def target(ok, text):
    global met, missed
    met += ok
    missed += not ok
    print("  %s  %s" % ("ok  " if ok else "FAIL", text))


def table(title, rows, size_of):
    print(title)
    print("  %-22s %9s %9s %8s %7s %7s %12s %12s %7s %9s" % ("size", "first s", "median s", "RSS MB", "steps", "chains",
                                                              "schedule", "lower bound", "ratio", "doubling"))
    prev = None
    for r in rows:
        ratio = r["makespan"] / r["bound"] if r["bound"] else 1.0
        r["ratio"] = ratio
        doubling = ""
        if prev:
            k = math.log2(size_of(r) / size_of(prev))
            r["doubling"] = (r["median"] / prev["median"]) ** (1 / k) if k > 0 and prev["median"] > 0 else 0
            doubling = "%.2fx" % r["doubling"]
        print("  %-22s %9.3f %9.3f %8.1f %7d %7d %12s %12s %7.3f %9s" % (
            r["name"], r["first"], r["median"], r["rss"], r["steps"], r["chains"], hms(r["makespan"]), hms(r["bound"]),
            ratio, doubling))
        prev = r


tier_rows = [r for r in (measure("tier %d nodes" % n, os.path.join(work, "tier-%d" % n)) for n in tiers) if r]
estate_rows = [r for r in (measure("estate %d clusters" % c, os.path.join(work, "estate-%d" % c)) for c in estates) if r]
table("converge plan: rolling web tiers on local node roots (k = 10%)", tier_rows, lambda r: int(r["name"].split()[1]))
table("converge plan: Exchange estates on the lab (2 Hub/CAS servers, k = 10% of the mailbox nodes)", estate_rows,
      lambda r: int(r["name"].split()[1]))
print("targets:")
by = {r["name"]: r for r in tier_rows + estate_rows}
for name, limit in (("tier 1000 nodes", 1.0), ("estate 50 clusters", 2.0), ("estate 200 clusters", 10.0)):
    if name in by:
        target(by[name]["median"] < limit, "%s: %.3f s (target < %.0f s)" % (name, by[name]["median"], limit))
for r in tier_rows + estate_rows:
    target(r["rss"] < 200, "%s: peak RSS %.1f MB (target < 200 MB)" % (r["name"], r["rss"]))
    target(r["ratio"] <= 1.05, "%s: schedule %.3fx its lower bound (target <= 1.05)" % (r["name"], r["ratio"]))
    if "doubling" in r:
        target(r["doubling"] < 2.5, "%s: %.2fx per doubling of the size (target near 2x, < 2.5x)" % (r["name"], r["doubling"]))
print("targets: %d met, %d missed" % (met, missed))
print("bench: %d passed, %d failed" % (len(tier_rows) + len(estate_rows), failed))
sys.exit(1 if failed else 0)
PY
