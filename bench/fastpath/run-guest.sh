#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# fastpath benchmark, VM side (busybox sh). Runs as a test-bed test.
#
# Creates a memory cgroup far below its limits (memory.max=1G, memory.high
# max), moves itself into it and runs the `fastpath` binary (build/bin, on
# PATH) REPS times per state, pinned to one CPU:
#
#   stock kernel      states "stock" and "root" (the same, run in the root
#                     cgroup, which try_charge skips: stock - root is the
#                     cost of the whole charge, the resolution of the
#                     benchmark), interleaved S R R S ...
#   memcg_ext kernel  states "idle" (no policy: /sys/kernel/memcg_ext/state
#                     is "disabled") and "passthrough" (memcg_ext_passthrough
#                     attached: state "enabled"), interleaved in the order
#                     I P P I I P P I ... so that drift cancels and a policy
#                     attach serves two adjacent runs
#
# Every run prints one JSON line, "@@BENCH {...}", on stdout and appends it
# to $MEMCG_EXT_ARTIFACTS/fastpath.jsonl; the host (bench/fastpath/run.sh)
# reads either. The first line has "type":"meta", the last "type":"end".
#
# Parameters, from the kernel command line (testbed/run-vm.sh --append) or
# the environment (FASTPATH_REPS, ...), command line first:
#   fastpath.reps=16 fastpath.iters=15 fastpath.warmup=2 fastpath.size_mib=16
#   fastpath.modes=anon,file fastpath.cpu=1 fastpath.settle=5
#
# Exit status: 0 all runs valid, 1 a run was invalid (the kernel state was
# not the expected one, the cgroup hit a limit, the policy died), 4 skip.
set -u

PATH=/opt/memcg_ext/bin:$PATH
art=${MEMCG_EXT_ARTIFACTS:-/tmp}
reasonf=${MEMCG_EXT_REASON:-/dev/null}
out=$art/fastpath.jsonl
sysd=${FASTPATH_SYSD:-/sys/kernel/memcg_ext}  # override: tests of this script only
cgroot=/sys/fs/cgroup
cg=$cgroot/bench-fastpath
plog=/tmp/fastpath-policy.log
ppid=
fails=0

log() { echo "fastpath: $*" >&2; }
fail() {
	log "FAIL: $*"
	[ $fails = 0 ] && echo "$*" >"$reasonf"
	fails=$((fails + 1))
}
skip() { log "SKIP: $*"; echo "$*" >"$reasonf"; exit 4; }
emit() { echo "@@BENCH $1"; echo "$1" >>"$out"; }
# param NAME DEFAULT: fastpath.NAME= on the kernel command line, else
# $FASTPATH_<NAME>, else DEFAULT
param() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^fastpath\.$1=//p" | tail -n1)
	if [ -z "$v" ]; then
		uc=$(echo "$1" | tr a-z A-Z)
		eval "v=\${FASTPATH_$uc:-}"
	fi
	echo "${v:-$2}"
}
num() { # NAME VALUE
	case $2 in '' | *[!0-9]*) skip "fastpath.$1='$2' is not a number" ;; esac
}
kstate() { cat $sysd/state 2>/dev/null || echo none; }
# Sum of the high, max and oom counters of memory.events of the cgroup: a
# run on the fast path must not move it.
events() { awk '$1 == "high" || $1 == "max" || $1 == "oom" { s += $2 } END { print s + 0 }' "$cg/memory.events"; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }

reps=$(param reps 16); num reps "$reps"
iters=$(param iters 15); num iters "$iters"
warmup=$(param warmup 2); num warmup "$warmup"
size=$(param size_mib 16); num size_mib "$size"
modes=$(param modes anon,file | tr , ' ')
ncpu=$(nproc)
cpu=$(param cpu 1); num cpu "$cpu"
# Seconds to wait after attaching or detaching the policy: a detach leaves
# deferred work behind (RCU-tasks, freeing of BPF trampolines and JIT
# images; under TCG code patching also invalidates translated code).
settle=$(param settle 5); num settle "$settle"
trans=$(cut -d' ' -f1 /proc/uptime)
[ "$cpu" -ge "$ncpu" ] && cpu=$((ncpu - 1))

command -v fastpath >/dev/null || skip "no fastpath binary on PATH (make -C bench)"
grep -qw memory $cgroot/cgroup.subtree_control || skip "memory controller not enabled in $cgroot"
if [ -e $sysd/state ]; then
	kernel=memcg_ext
	command -v memcg_ext_passthrough >/dev/null ||
		skip "no memcg_ext_passthrough on PATH (build/bin)"
	[ "$(kstate)" = disabled ] ||
		skip "memcg_ext state is '$(kstate)' before the benchmark, want 'disabled' (was the VM booted with --policy?)"
else
	kernel=stock
fi

# The cgroup: far below its limits, so every charge takes the fast path.
rmdir "$cg" 2>/dev/null
mkdir "$cg" || skip "cannot create $cg"
echo 1G >"$cg/memory.max" && echo max >"$cg/memory.high" ||
	skip "cannot set the limits of $cg"
echo $$ >"$cg/cgroup.procs" || skip "cannot move into $cg"

policy_on() {
	[ -n "$ppid" ] && return 0
	# The loader lives in the root cgroup: its own memory is not measured.
	sh -c "echo \$\$ >$cgroot/cgroup.procs && exec memcg_ext_passthrough" \
		>>"$plog" 2>&1 </dev/null &
	ppid=$!
	i=0
	while [ "$(kstate)" != enabled ]; do
		if ! kill -0 "$ppid" 2>/dev/null || [ $i -ge 600 ]; then
			fail "memcg_ext_passthrough did not attach (state '$(kstate)' after $((i / 10))s)"
			tail -n 20 "$plog" >&2
			policy_off
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	log "policy attached after ~$((i / 10)).$((i % 10))s (enable_seq $(cat $sysd/enable_seq 2>/dev/null))"
	trans=$(cut -d' ' -f1 /proc/uptime)
	sleep "$settle"
}

policy_off() {
	[ -n "$ppid" ] || return 0
	kill -TERM "$ppid" 2>/dev/null
	i=0
	while kill -0 "$ppid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$ppid" 2>/dev/null && { fail "memcg_ext_passthrough ignored SIGTERM"; kill -KILL "$ppid"; }
	wait "$ppid"
	rc=$?
	ppid=
	[ $rc = 0 ] || [ $rc = 143 ] || fail "memcg_ext_passthrough exited with status $rc"
	i=0
	while [ "$(kstate)" != disabled ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(kstate)" = disabled ] || fail "memcg_ext state '$(kstate)' after the policy stopped"
	trans=$(cut -d' ' -f1 /proc/uptime)
	sleep "$settle"
}

cleanup() {
	policy_off
	echo $$ >$cgroot/cgroup.procs 2>/dev/null
	rmdir "$cg" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run_one STATE REP MODE
run_one() {
	want=
	case $1 in idle) want=disabled ;; passthrough) want=enabled ;; esac
	since=$(awk -v t="$trans" '{ printf "%.1f", $1 - t }' /proc/uptime)
	kb=$(kstate)
	sb=$(cat $sysd/enable_seq 2>/dev/null || echo -1)
	e0=$(events)
	# root: the benchmark alone moves to the root cgroup.
	enter=:
	[ "$1" = root ] && enter="echo \$\$ >$cgroot/cgroup.procs"
	if ! r=$(sh -c "$enter && exec fastpath \"\$@\"" fastpath --label "$1" --rep "$2" \
		--mode "$3" --size-mib "$size" --iters "$iters" --warmup "$warmup" --cpu "$cpu" \
		--dir /dev/shm); then
		fail "fastpath --mode $3 failed ($1, rep $2)"
		return
	fi
	ka=$(kstate)
	sa=$(cat $sysd/enable_seq 2>/dev/null || echo -1)
	ed=$(($(events) - e0))
	ok=true
	if [ -n "$want" ] && { [ "$kb" != "$want" ] || [ "$ka" != "$want" ] || [ "$sb" != "$sa" ]; }; then
		ok=false
		fail "$1 rep $2 $3: memcg_ext state '$kb' -> '$ka' (enable_seq $sb -> $sa), want '$want' throughout"
	fi
	if [ "$ed" != 0 ]; then
		ok=false
		fail "$1 rep $2 $3: memory.events high+max+oom moved by $ed: not the fast path"
	fi
	if [ -n "$ppid" ] && ! kill -0 "$ppid" 2>/dev/null; then
		ok=false
		fail "$1 rep $2 $3: memcg_ext_passthrough died"
	fi
	emit "{\"type\":\"run\",\"kernel\":\"$kernel\",\"state\":\"$1\",\"valid\":$ok,\"kstate_before\":\"$kb\",\"kstate_after\":\"$ka\",\"memcg_events_delta\":$ed,\"secs_since_transition\":$since,\"result\":$r}"
}

: >"$out"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
emit "{\"type\":\"meta\",\"kernel\":\"$kernel\",\"uname\":$(jstr "$(uname -r)"),\"cpus\":$ncpu,\"cpu\":$cpu,\"reps\":$reps,\"iters\":$iters,\"warmup\":$warmup,\"size_mib\":$size,\"modes\":$(jstr "$modes"),\"lru\":$(jstr "${MEMCG_EXT_LRU:-}"),\"thp\":$(jstr "$thp"),\"cgroup\":$(jstr "${cg#$cgroot}"),\"memory_max\":$(jstr "$(cat $cg/memory.max)"),\"memory_high\":$(jstr "$(cat $cg/memory.high)")}"
log "kernel $kernel ($(uname -r)), $ncpu cpus, pinned to cpu $cpu; $reps reps x modes '$modes', ${size} MiB x ($warmup warm-up + $iters) passes"

start=$(cut -d. -f1 /proc/uptime)
sleep 1
rep=0
while [ $rep -lt "$reps" ]; do
	if [ $kernel = stock ] && [ $((rep % 2)) = 0 ]; then
		order="stock root"
	elif [ $kernel = stock ]; then
		order="root stock"
	elif [ $((rep % 2)) = 0 ]; then
		order="idle passthrough"
	else
		order="passthrough idle"
	fi
	for st in $order; do
		case $st in
		idle) policy_off ;;
		passthrough) policy_on || break 2 ;;
		esac
		for m in $modes; do
			run_one "$st" "$rep" "$m"
		done
	done
	rep=$((rep + 1))
	log "rep $rep/$reps done ($(($(cut -d. -f1 /proc/uptime) - start))s)"
done
policy_off

secs=$(($(cut -d. -f1 /proc/uptime) - start))
last_exit=$(cat $sysd/last_exit 2>/dev/null || echo n/a)
# What the loader saw: its "charge events: high=.. swap_high=.. max=.." line
# per attach (all zero when only the fast path ran).
pev=$(grep -h 'charge events' "$plog" 2>/dev/null | paste -sd';')
emit "{\"type\":\"end\",\"kernel\":\"$kernel\",\"ok\":$([ $fails = 0 ] && echo true || echo false),\"failures\":$fails,\"seconds\":$secs,\"last_exit\":$(jstr "$last_exit"),\"policy_charge_events\":$(jstr "$pev")}"
[ -s "$plog" ] && cp "$plog" "$art/policy.log"
rc=$((fails != 0))
cleanup
trap - EXIT
exit $rc
