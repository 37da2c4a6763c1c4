#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# trim benchmark (P4), host side: trim to the working set without losing
# throughput, for no controller, a senpai reference controller and the
# memcg_ext agent, interleaved in one stock-kernel VM boot.
#
# Builds the binaries (make -C bench: senpai, the mx_* workloads; the agent
# from agent/ when it is there), boots the stock kernel with
# testbed/run-vm.sh --tests bench_trim, and writes bench/results/trim.json
# (top-level "summary") and trim.md.
#
# usage: bench/trim/run.sh [--reps N] [--duration S] [--window S]
#            [--hot-mib N] [--cold-mib N] [--controllers none,senpai,agent]
#            [--append "trim.senpai_max_probe=0.01 ..."] [--out-dir DIR]
#            [--timeout SECONDS] [--reuse]
#   --reuse   do not boot: analyse build/results/bench-trim/
#
# The command recorded in the report is $BENCH_CMD if set, else
# `make bench BENCH=trim` when make runs this script, else this script's
# command line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

usage() { sed -n '/^# usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

if [ -n "${BENCH_CMD:-}" ]; then
	cmd=$BENCH_CMD
elif [ -n "${MAKELEVEL:-}" ]; then
	cmd="make bench BENCH=trim${*:+ BENCH_ARGS=\"$*\"}"
else
	cmd="bench/trim/run.sh${*:+ $*}"
fi
reps=2 duration=80 window=30 hot=16 cold=48 controllers=none,senpai,agent extra=''
outdir=$REPO/bench/results timeout='' reuse=0
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--duration) duration=$2; shift ;;
	--window) window=$2; shift ;;
	--hot-mib) hot=$2; shift ;;
	--cold-mib) cold=$2; shift ;;
	--controllers) controllers=$2; shift ;;
	--append) extra=$2; shift ;;
	--out-dir) outdir=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--reuse) reuse=1 ;;
	-h|--help) usage ;;
	*) echo "unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
for v in "$reps" "$duration" "$window" "$hot" "$cold" ${timeout:+"$timeout"}; do
	case $v in ''|*[!0-9]*) die "'$v' is not a number" ;; esac
done
[ "$window" -lt "$duration" ] || die "--window must be below --duration"
nctl=$(echo "$controllers" | tr , '\n' | grep -c .)
# Per run: the duration, the fill and teardown (20 s under TCG on an idle
# host, over a minute at load 10); plus boot.
: "${timeout:=$((reps * nctl * (duration + 70) + 180))}"

tag=bench-trim
res=$BUILD/results/$tag
if [ $reuse = 0 ]; then
	make -s -C "$REPO/bench" all
	if [ -f "$REPO/agent/Makefile" ]; then
		make -s -C "$REPO/agent" all || log "trim: the agent does not build; its row will say 'not run'"
	fi
	[ -f "$BUILD/kernels/stock/bzImage" ] || die "no $BUILD/kernels/stock/bzImage: run scripts/kernel-build.sh stock"
	log "trim: stock kernel, $reps reps of $controllers, ${duration}s runs (timeout ${timeout}s)"
	load0=$(cut -d' ' -f1 /proc/loadavg)
	"$REPO/testbed/run-vm.sh" --kernel stock --tests bench_trim --tag "$tag" \
		--timeout "$timeout" --test-timeout "$((timeout - 60))" \
		--append "trim.reps=$reps trim.duration=$duration trim.window=$window trim.hot_mib=$hot trim.cold_mib=$cold trim.controllers=$controllers${extra:+ $extra}" ||
		log "trim: the VM run reported failures (see ${res#$REPO/}/results.txt)"
	echo "$load0 $(cut -d' ' -f1 /proc/loadavg) $(nproc)" > "$res/host-load.txt"
fi
jl=$res/bench_trim/trim.jsonl
if [ ! -s "$jl" ]; then
	mkdir -p "$res/bench_trim"
	sed -n 's/^\(\[bench_trim\] \)\{0,1\}@@BENCH //p' "$res/console.log" 2>/dev/null > "$jl" || :
fi
[ -s "$jl" ] || die "no trim output from the VM (${res#$REPO/}/console.log)"
mkdir -p "$outdir"
python3 "$here/analyze.py" --out-dir "$outdir" --command "$cmd" \
	--host-load "$(tr ' ' , < "$res/host-load.txt" 2>/dev/null || echo)" "$jl"
log "trim: wrote ${outdir#$REPO/}/trim.json and trim.md"
grep -q '^FAIL' "$res/results.txt" 2>/dev/null && exit 1
exit 0
