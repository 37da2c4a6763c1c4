#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause
# lockcost benchmark, host side only (no VM, no kernel feature): the cost the
# thread word adds to an uncontended pthread mutex lock/unlock pair.
#
# Builds build/host-bin/lockcost (make -C bench/lockcost, which builds the client
# library first), runs it once with --json, and writes
# bench/results/lockcost.json and bench/results/lockcost.md.
#
# usage: bench/lockcost/run.sh [--iters N] [--reps N] [--warmup N] [--cpu C]
#            [--out-dir DIR]
#   --iters   lock/unlock pairs per timed loop (10000000)
#   --reps    repetitions of the 4 loops, order rotated each time (21)
#   --cpu     pin to this CPU (default: not pinned)
#
# The command recorded in the report is $BENCH_CMD if set, else this script's
# command line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

usage() { sed -n '/^# usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

cmd=${BENCH_CMD:-bench/lockcost/run.sh${*:+ $*}}
iters=10000000 reps=21 warmup=1 cpu=-1 outdir=$REPO/bench/results
while [ $# -gt 0 ]; do
	case $1 in
	--iters) iters=$2; shift ;;
	--reps) reps=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--out-dir) outdir=$2; shift ;;
	-h|--help) usage ;;
	*) echo "unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
for v in "$iters" "$reps" "$warmup"; do
	case $v in ''|*[!0-9]*) die "'$v' is not a number" ;; esac
done
case $cpu in -1|[0-9]|[0-9][0-9]|[0-9][0-9][0-9]) ;; *) die "--cpu '$cpu' is not a CPU number" ;; esac

make -s -C "$here" BUILD="$BUILD"
mkdir -p "$outdir"
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

load0=$(cut -d' ' -f1 /proc/loadavg)
log "lockcost: $reps reps x $iters pairs x 4 loops"
pin=()
if [ "$cpu" != -1 ]; then pin=(--cpu "$cpu"); fi
"$BUILD/host-bin/lockcost" --json --iters "$iters" --reps "$reps" --warmup "$warmup" "${pin[@]}" >"$raw"
load1=$(cut -d' ' -f1 /proc/loadavg)

RAW=$raw OUT=$outdir CMD=$cmd LOAD0=$load0 LOAD1=$load1 \
COMMIT=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown) \
CPU_MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) \
NCPU=$(nproc) KERNEL=$(uname -r) GCC=$(gcc --version | head -1) \
GLIBC=$(ldd --version 2>&1 | head -1) \
VIRT=$(grep -qw hypervisor /proc/cpuinfo && echo "virtual machine (hypervisor flag set)" || echo "bare metal (no hypervisor flag)") \
python3 - <<'PY'
import json, os, statistics, time

d = json.load(open(os.environ["RAW"]))
out = os.environ["OUT"]

def q(v, p):
    s = sorted(v)
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)

r4 = lambda x: round(x, 4)
diff = d["mx_minus_plain"]
csd = d["cs_minus_empty"]
summary = {
    "ns_per_pair_plain": r4(d["median_plain"]),
    "ns_per_pair_mx": r4(d["median_mx"]),
    "overhead_ns": r4(d["median_mx_minus_plain"]),
    "ns_per_pair_cs": r4(d["median_cs"]),
    "ns_per_iter_empty": r4(d["median_empty"]),
    "cs_overhead_ns": r4(d["median_cs_minus_empty"]),
    "reps": d["reps"],
}
machine = {
    "cpu": os.environ["CPU_MODEL"], "ncpu": int(os.environ["NCPU"]),
    "kernel": os.environ["KERNEL"], "compiler": os.environ["GCC"],
    "libc": os.environ["GLIBC"], "virt": os.environ["VIRT"],
    "loadavg_before": float(os.environ["LOAD0"]), "loadavg_after": float(os.environ["LOAD1"]),
}
date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
doc = dict(summary)
doc.update({
    "summary": summary,
    "iters": d["iters"], "warmup": d["warmup"], "cpu": d["cpu"],
    "overhead_ns_iqr": [r4(q(diff, 0.25)), r4(q(diff, 0.75))],
    "overhead_ns_min_max": [r4(min(diff)), r4(max(diff))],
    "min_ns_per_pair": {k: r4(d["min_" + k]) for k in ("plain", "mx", "cs", "empty")},
    "date": date, "commit": os.environ["COMMIT"], "command": os.environ["CMD"],
    "machine": machine,
    "raw_ns_per_pair": {k: d[k] for k in ("plain", "mx", "cs", "empty")},
    "raw_mx_minus_plain": diff, "raw_cs_minus_empty": csd,
})
with open(os.path.join(out, "lockcost.json"), "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")

reading = ("the enter/leave pair on its own costs "
    f"{summary['cs_overhead_ns']:.2f} ns over the empty loop (a TLS read-modify-write and a "
    "load/test/store, no atomic instruction, no system call). ")
if summary["overhead_ns"] < 0:
    reading += ("Around a real lock/unlock pair the mx loop measured *faster* than the plain one. "
        "Adding instructions cannot make the lock itself cheaper: this is a code-layout / "
        "micro-architectural effect (loop alignment, spacing between the lock's and the "
        "unlock's atomic instructions); during development, timing whole 10M loops on this "
        "loaded host, the difference came out with both signs. Read it as: the thread word's "
        "cost per lock/unlock pair is below this benchmark's resolution; the cs row is "
        "the order of magnitude to expect.")
else:
    reading += ("Around a real lock/unlock pair the difference is of the same order; runs on this "
        "loaded host during development gave differences of both signs, so the per-pair cost "
        "is at the benchmark's resolution; the cs row is the order of magnitude to expect.")
rel = 100.0 * summary["overhead_ns"] / summary["ns_per_pair_plain"]
md = f"""<!-- SPDX-License-Identifier: LGPL-2.1 OR BSD-2-Clause -->
# Benchmark: lockcost (thread word cost per lock/unlock)

- Date: {date}, commit {os.environ["COMMIT"]}
- Command: `{os.environ["CMD"]}`
- Runs on the host; no VM, no kernel feature involved.

## Method

`lockcost` (bench/lockcost/lockcost.c, gcc -O2, linked with
build/lib/libmemcg_ext_client.a) runs one thread on one process-private
default `pthread_mutex_t` that no other thread touches (always uncontended).
Four loops of N = {d["iters"]:,} iterations each, run in blocks of 100,000
iterations, each block timed with CLOCK_MONOTONIC; a loop's figure is the
10th percentile of its blocks' ns per iteration (the host is shared and
preempts the benchmark for milliseconds now and then, which only ever adds
time to the block it hits, so a low percentile of short blocks is the
undisturbed cost):

- **plain**: `pthread_mutex_lock(); pthread_mutex_unlock();`
- **mx**: `mx_mutex_lock(); mx_mutex_unlock();` (client/include/memcg_ext/thread.h:
  cs_depth increment before the lock, decrement after the unlock, compiler
  barriers; the TLS word is one `%fs`-relative access, initial-exec TLS)
- **cs**: `mx_cs_enter(); mx_cs_leave();` alone
- **empty**: the loop with a compiler barrier only (the loop's own cost)

{d["warmup"]} warm-up round, then {d["reps"]} repetitions; the order of the four loops rotates
from one repetition to the next. Figures are ns per pair (per iteration), the
median over repetitions of the loops' figures; the overhead is the median of the per-repetition
paired differences mx − plain (and cs − empty). CPU pinning: {"none" if d["cpu"] < 0 else "CPU %d" % d["cpu"]}.

## Machine

- CPU: {machine["cpu"]}, {machine["ncpu"]} CPUs, {machine["virt"]}
- Kernel {machine["kernel"]}; {machine["compiler"]}; {machine["libc"]}
- Load average {machine["loadavg_before"]} before, {machine["loadavg_after"]} after (a shared host: other jobs ran)

## Results

| loop | median ns/pair | min over reps ns/pair |
|---|---|---|
| plain pthread lock/unlock | {d["median_plain"]:.3f} | {d["min_plain"]:.3f} |
| mx_mutex_lock/unlock | {d["median_mx"]:.3f} | {d["min_mx"]:.3f} |
| mx_cs_enter/leave alone | {d["median_cs"]:.3f} | {d["min_cs"]:.3f} |
| empty loop | {d["median_empty"]:.3f} | {d["min_empty"]:.3f} |

- **overhead_ns (mx − plain, median of paired differences): {summary["overhead_ns"]:+.3f} ns per pair**
  ({rel:+.1f}% of a plain pair); per-repetition IQR {q(diff,0.25):+.3f} … {q(diff,0.75):+.3f},
  min–max {min(diff):+.3f} … {max(diff):+.3f}.
- mx_cs_enter/leave alone minus the empty loop: {summary["cs_overhead_ns"]:+.3f} ns per pair.

Reading: {reading}

Raw data: `lockcost.json` (every repetition).
"""
with open(os.path.join(out, "lockcost.md"), "w") as f:
    f.write(md)
print(json.dumps(summary))
PY
log "lockcost: wrote $outdir/lockcost.json and lockcost.md"
