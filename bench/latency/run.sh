#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# latency benchmark (P1), host side: allocation latency of a latency-critical
# task sharing a cgroup with a batch allocator that runs into the limit, for
# no limit, stock memory.max, stock memory.high and memcg_ext with the
# bgreclaim policy, interleaved in one memcg_ext-kernel VM boot, plus a
# sweep of the batch allocation rate with the policy.
#
# Builds the benchmark (make -C bench), boots the memcg_ext kernel with
# testbed/run-vm.sh --tests bench_latency, and writes
# bench/results/latency.json (top-level "summary") and latency.md.
#
# usage: bench/latency/run.sh [--reps N] [--rate MIBPS] [--duration S]
#            [--configs none,max,high,mcx] [--limit-mib N]
#            [--sweep-rates 8,16,32,64,128|none] [--sweep-configs mcx]
#            [--sweep-duration S] [--kernel memcg_ext|stock]
#            [--append "latency.ws_mib=32 ..."] [--out-dir DIR]
#            [--timeout SECONDS] [--reuse]
#   --reuse   do not boot: analyse build/results/bench-latency-<kernel>/
#   --kernel stock runs only the configurations without the policy
#
# The command recorded in the report is $BENCH_CMD if set, else
# `make bench BENCH=latency` when make runs this script, else this script's
# command line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

usage() { sed -n '/^# usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

if [ -n "${BENCH_CMD:-}" ]; then
	cmd=$BENCH_CMD
elif [ -n "${MAKELEVEL:-}" ]; then
	cmd="make bench BENCH=latency${*:+ BENCH_ARGS=\"$*\"}"
else
	cmd="bench/latency/run.sh${*:+ $*}"
fi
reps=3 rate=8 duration=15 configs=none,max,high,mcx limit=128
sweep_rates=8,16,32,64,128 sweep_configs=mcx sweep_duration=10 kernel=memcg_ext
extra='' outdir=$REPO/bench/results timeout='' reuse=0
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--rate) rate=$2; shift ;;
	--duration) duration=$2; shift ;;
	--configs) configs=$2; shift ;;
	--limit-mib) limit=$2; shift ;;
	--sweep-rates) sweep_rates=$2; shift ;;
	--sweep-configs) sweep_configs=$2; shift ;;
	--sweep-duration) sweep_duration=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--append) extra=$2; shift ;;
	--out-dir) outdir=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--reuse) reuse=1 ;;
	-h|--help) usage ;;
	*) echo "unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
for v in "$reps" "$rate" "$duration" "$limit" "$sweep_duration" ${timeout:+"$timeout"}; do
	case $v in ''|*[!0-9]*) die "'$v' is not a number" ;; esac
done
case $kernel in stock|memcg_ext) ;; *) die "--kernel must be memcg_ext or stock" ;; esac
nconf=$(echo "$configs" | tr , '\n' | grep -c .)
nsr=0
[ "$sweep_rates" = none ] || nsr=$(echo "$sweep_rates" | tr , '\n' | grep -c .)
nsc=$(echo "$sweep_configs" | tr , '\n' | grep -c .)
# Per run: prefill, settle (3 s), teardown, policy attach/detach (~15 s
# under TCG on a busy host); plus the boot.
: "${timeout:=$((reps * nconf * (duration + 20) + nsr * nsc * (sweep_duration + 20) + 180))}"

tag=bench-latency-$kernel
res=$BUILD/results/$tag
if [ $reuse = 0 ]; then
	make -s -C "$REPO/bench" all
	[ -f "$BUILD/kernels/$kernel/bzImage" ] ||
		die "no $BUILD/kernels/$kernel/bzImage: run scripts/kernel-build.sh $kernel"
	if [ "$kernel" = memcg_ext ]; then
		[ -x "$BUILD/bin/memcg_ext_bgreclaim" ] ||
			die "no $BUILD/bin/memcg_ext_bgreclaim: make policies"
	fi
	log "latency: $kernel kernel, $reps reps of $configs at $rate MiB/s (${duration}s), sweep $sweep_configs at $sweep_rates MiB/s (timeout ${timeout}s)"
	load0=$(cut -d' ' -f1 /proc/loadavg)
	"$REPO/testbed/run-vm.sh" --kernel "$kernel" --tests bench_latency --tag "$tag" \
		--timeout "$timeout" --test-timeout "$((timeout - 60))" \
		--append "latency.reps=$reps latency.rate=$rate latency.duration=$duration latency.configs=$configs latency.limit_mib=$limit latency.sweep_rates=$sweep_rates latency.sweep_configs=$sweep_configs latency.sweep_duration=$sweep_duration${extra:+ $extra}" ||
		log "latency: the VM run reported failures (see ${res#$REPO/}/results.txt)"
	echo "$load0 $(cut -d' ' -f1 /proc/loadavg) $(nproc)" > "$res/host-load.txt"
fi
jl=$res/bench_latency/latency.jsonl
if [ ! -s "$jl" ]; then
	mkdir -p "$res/bench_latency"
	sed -n 's/^\(\[bench_latency\] \)\{0,1\}@@BENCH //p' "$res/console.log" 2>/dev/null > "$jl" || :
fi
[ -s "$jl" ] || die "no latency output from the VM (${res#$REPO/}/console.log)"
mkdir -p "$outdir"
python3 "$here/analyze.py" --out-dir "$outdir" --command "$cmd" \
	--host-load "$(tr ' ' , < "$res/host-load.txt" 2>/dev/null || echo)" \
	--results "$res/results.txt" --console "$res/console.log" "$jl"
log "latency: wrote ${outdir#$REPO/}/latency.json and latency.md"
grep -q '^FAIL' "$res/results.txt" 2>/dev/null && exit 1
exit 0
