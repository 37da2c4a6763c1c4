#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# fastpath benchmark, host side: memcg charge fast-path overhead.
#
# Builds the benchmark (make -C bench), boots the memcg_ext kernel once
# (idle and pass-through policy, interleaved) and the stock kernel once with
# testbed/run-vm.sh --tests bench_fastpath, and writes
# bench/results/fastpath.json (top-level "summary") and fastpath.md.
#
# usage: bench/fastpath/run.sh [--reps N] [--iters N] [--warmup N]
#            [--size-mib N] [--modes anon,file] [--kernels "memcg_ext stock"]
#            [--out-dir DIR] [--timeout SECONDS] [--reuse]
#   --reuse   do not boot: analyse build/results/bench-fastpath-<kernel>/
#
# The command recorded in the report is $BENCH_CMD if set, else
# `make bench BENCH=fastpath` when make runs this script, else this script's
# command line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../scripts/common.sh"

usage() { sed -n '/^# usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

if [ -n "${BENCH_CMD:-}" ]; then
	cmd=$BENCH_CMD
elif [ -n "${MAKELEVEL:-}" ]; then	# the top-level `make bench`
	cmd="make bench BENCH=fastpath${*:+ BENCH_ARGS=\"$*\"}"
else
	cmd="bench/fastpath/run.sh${*:+ $*}"
fi
reps=16 iters=15 warmup=2 size=16 modes=anon,file kernels="memcg_ext stock"
outdir=$REPO/bench/results timeout=480 reuse=0
while [ $# -gt 0 ]; do
	case $1 in
	--reps) reps=$2; shift ;;
	--iters) iters=$2; shift ;;
	--warmup) warmup=$2; shift ;;
	--size-mib) size=$2; shift ;;
	--modes) modes=$2; shift ;;
	--kernels) kernels=$2; shift ;;
	--out-dir) outdir=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--reuse) reuse=1 ;;
	-h|--help) usage ;;
	*) echo "unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
for v in "$reps" "$iters" "$warmup" "$size" "$timeout"; do
	case $v in ''|*[!0-9]*) die "'$v' is not a number" ;; esac
done
case $modes in *anon*) ;; *) die "--modes must include anon (the primary mode)" ;; esac

if [ $reuse = 0 ]; then
	make -s -C "$REPO/bench" all
	for k in $kernels; do
		case $k in stock|memcg_ext) ;; *) die "unknown kernel '$k'" ;; esac
		[ -f "$BUILD/kernels/$k/bzImage" ] ||
			die "no $BUILD/kernels/$k/bzImage: run scripts/kernel-build.sh $k"
	done
	case " $kernels " in *" memcg_ext "*)
		[ -x "$BUILD/bin/memcg_ext_passthrough" ] ||
			die "no $BUILD/bin/memcg_ext_passthrough: build the pass-through policy first" ;;
	esac
	grep -q "bench_" "$REPO/testbed/run-vm.sh" && grep -q "bench/" "$REPO/testbed/mkinitramfs.sh" ||
		die "testbed/run-vm.sh cannot run bench_* tests yet (see bench/README.md, 'Test-bed hook')"
fi

inputs=()
hostinfo=()
fail=0
for k in $kernels; do
	tag=bench-fastpath-$k
	res=$BUILD/results/$tag
	if [ $reuse = 0 ]; then
		log "fastpath: $k kernel, $reps reps, modes $modes"
		load0=$(cut -d' ' -f1 /proc/loadavg)
		"$REPO/testbed/run-vm.sh" --kernel "$k" --tests bench_fastpath --tag "$tag" \
			--timeout "$timeout" --test-timeout "$((timeout - 30))" \
			--append "fastpath.reps=$reps fastpath.iters=$iters fastpath.warmup=$warmup fastpath.size_mib=$size fastpath.modes=$modes" ||
			{ fail=1; log "fastpath: the $k VM run reported failures (see ${res#$REPO/}/results.txt)"; }
		# TCG timings are only as good as the host is idle: keep the load.
		echo "$load0 $(cut -d' ' -f1 /proc/loadavg) $(nproc)" > "$res/host-load.txt"
	fi
	[ -f "$res/host-load.txt" ] && hostinfo+=(--host-load "$k=$(tr ' ' , < "$res/host-load.txt")")
	jl=$res/bench_fastpath/fastpath.jsonl
	if [ ! -s "$jl" ]; then
		# No artifact: take the lines from the console.
		mkdir -p "$res/bench_fastpath"
		sed -n 's/^\(\[bench_fastpath\] \)\{0,1\}@@BENCH //p' "$res/console.log" 2>/dev/null > "$jl" || :
	fi
	[ -s "$jl" ] || die "no fastpath output from the $k VM (${res#$REPO/}/console.log)"
	inputs+=("$k=$jl")
done

python3 "$here/analyze.py" --out-dir "$outdir" --command "$cmd" ${hostinfo[@]+"${hostinfo[@]}"} "${inputs[@]}"
log "fastpath: wrote ${outdir#$REPO/}/fastpath.json and fastpath.md"
exit $fail
