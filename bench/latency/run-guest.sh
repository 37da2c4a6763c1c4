#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# latency benchmark (P1), VM side (busybox sh). Runs as a test-bed test.
#
# The `latency` program (bench/latency/latency.c) runs a batch process that
# allocates anonymous memory beyond the cgroup's limit at a steady rate
# (its working set fits under the limit) and a latency-critical process
# that maps, touches and unmaps a small buffer every millisecond, both in
# one fresh cgroup, and reports the critical process's per-operation
# latency and the cgroup's reclaim counters over a measured window.
#
# The two processes sit in child cgroups crit/ and batch/ of the run's
# cgroup, without controllers of their own (both charge the run's memcg,
# where the limits are): PSI is per cgroup, so crit/memory.pressure is the
# time the critical process alone stalled on memory.
#
# Configurations, interleaved within one boot (rep 0 in the order below,
# rep 1 reversed, ...), each in a fresh cgroup:
#   none   no limit: the floor
#   max    memory.max=LIMIT, no policy (stock enforcement: on the
#          memcg_ext kernel the static key is off, the code path is stock)
#   high   memory.high=LIMIT (memory.max=max), no policy
#   mcx    memory.max=LIMIT with memcg_ext_bgreclaim attached for this
#          cgroup only (-c CGROUP -q, from the root cgroup, so the loader's
#          own memory and CPU are not the workload's)
#   mcx-high  memory.high=LIMIT with the policy (not in the default list)
# Then the rate sweep: the policy configuration (sweep_configs) at each
# rate of sweep_rates, one run each (or sweep_reps), shorter window.
#
# Every run prints "@@BENCH {json}" and appends it to
# $MEMCG_EXT_ARTIFACTS/latency.jsonl; first line "type":"meta", last "end".
#
# Parameters (kernel command line latency.NAME=, else $LATENCY_NAME, else
# the default):
#   reps=3 configs=none,max,high,mcx rate=8 duration=15 settle=3
#   limit_mib=128 ring_mib=256 ws_mib=32 prefill_mib=LIMIT period_us=1000
#   buf_kib=64 sweep_rates=8,16,32,64,128 sweep_configs=mcx sweep_reps=1
#   sweep_duration=10 policy_args= policy_settle=3
#   (policy_args: extra memcg_ext_bgreclaim options, commas for spaces,
#   e.g. latency.policy_args=-p,4)
#
# Exit status: 0 all runs valid, 1 a run failed, 4 skip.
set -u

PATH=/opt/memcg_ext/bin:$PATH
art=${MEMCG_EXT_ARTIFACTS:-/tmp}
reasonf=${MEMCG_EXT_REASON:-/dev/null}
out=$art/latency.jsonl
cgroot=/sys/fs/cgroup
sysd=/sys/kernel/memcg_ext
plog=/tmp/latency-policy.log
ppid=
fails=0

log() { echo "latency: $*" >&2; }
fail() {
	log "FAIL: $*"
	[ $fails = 0 ] && echo "$*" >"$reasonf"
	fails=$((fails + 1))
}
skip() { log "SKIP: $*"; echo "$*" >"$reasonf"; exit 4; }
emit() { echo "@@BENCH $1"; echo "$1" >>"$out"; }
param() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^latency\.$1=//p" | tail -n1)
	if [ -z "$v" ]; then
		uc=$(echo "$1" | tr a-z A-Z)
		eval "v=\${LATENCY_$uc:-}"
	fi
	echo "${v:-$2}"
}
num() { case $2 in '' | *[!0-9]*) skip "latency.$1='$2' is not a number" ;; esac; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
kstate() { cat $sysd/state 2>/dev/null || echo none; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# Kernel warnings so far (the host checks the console too; this ties them
# to a run).
kwarn() { dmesg 2>/dev/null | grep -cE 'WARNING:|BUG:|Oops|soft lockup|rcu_.* detected stalls'; }

reps=$(param reps 3); num reps "$reps"
configs=$(param configs none,max,high,mcx | tr , ' ')
rate=$(param rate 8); num rate "$rate"
duration=$(param duration 15); num duration "$duration"
settle=$(param settle 3); num settle "$settle"
limit=$(param limit_mib 128); num limit_mib "$limit"
ring=$(param ring_mib 256); num ring_mib "$ring"
ws=$(param ws_mib 32); num ws_mib "$ws"
prefill=$(param prefill_mib "$limit"); num prefill_mib "$prefill"
period=$(param period_us 1000); num period_us "$period"
buf=$(param buf_kib 64); num buf_kib "$buf"
sweep_rates=$(param sweep_rates 8,16,32,64,128 | tr , ' ')
sweep_configs=$(param sweep_configs mcx | tr , ' ')
sweep_reps=$(param sweep_reps 1); num sweep_reps "$sweep_reps"
sweep_duration=$(param sweep_duration 10); num sweep_duration "$sweep_duration"
policy_args=$(param policy_args "" | tr , ' ')
policy_settle=$(param policy_settle 3); num policy_settle "$policy_settle"
[ "$sweep_rates" = none ] && sweep_rates=
for r in $sweep_rates; do num sweep_rates "$r"; done

command -v latency >/dev/null || skip "no latency binary on PATH (make -C bench)"
grep -qw memory $cgroot/cgroup.subtree_control || skip "memory controller not enabled in $cgroot"
grep -q '^/dev/zram0 ' /proc/swaps || skip "no zram swap"
if [ -e $sysd/state ]; then
	kernel=memcg_ext
	[ "$(kstate)" = disabled ] ||
		skip "memcg_ext state is '$(kstate)' before the benchmark, want 'disabled' (was the VM booted with --policy?)"
else
	kernel=stock
fi
# The policy configurations need the memcg_ext kernel and the policy.
nopolicy=
if [ $kernel != memcg_ext ]; then
	nopolicy="stock kernel"
elif ! command -v memcg_ext_bgreclaim >/dev/null; then
	nopolicy="no memcg_ext_bgreclaim on PATH (make policies)"
fi
if [ -n "$nopolicy" ]; then
	c2=
	for c in $configs; do case $c in mcx*) log "not running $c: $nopolicy" ;; *) c2="$c2 $c" ;; esac; done
	configs=$c2
	s2=
	for c in $sweep_configs; do case $c in mcx*) ;; *) s2="$s2 $c" ;; esac; done
	sweep_configs=$s2
fi
for c in $configs $sweep_configs; do
	case $c in none | max | high | mcx | mcx-high) ;; *) skip "unknown configuration '$c'" ;; esac
done
[ -n "$configs$sweep_configs" ] || skip "no configuration to run ($nopolicy)"

policy_on() { # CGROUP
	: >"$plog"
	# The loader lives in the root cgroup: its own memory and CPU are not
	# the workload's.
	sh -c "echo \$\$ >$cgroot/cgroup.procs && exec memcg_ext_bgreclaim -c $1 -q $policy_args" \
		>>"$plog" 2>&1 </dev/null &
	ppid=$!
	i=0
	until grep -q 'memcg_ext_bgreclaim: attached' "$plog"; do
		if ! kill -0 "$ppid" 2>/dev/null || [ $i -ge 600 ]; then
			fail "memcg_ext_bgreclaim did not attach (state '$(kstate)' after $((i / 10))s): $(tail -n 3 "$plog" | tr '\n' ' ')"
			policy_off
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(cat $sysd/root/ops 2>/dev/null)" = bgreclaim ] || {
		fail "policy attached but root/ops is '$(cat $sysd/root/ops 2>/dev/null)'"
		policy_off
		return 1
	}
	log "policy attached after ~$((i / 10)).$((i % 10))s"
}

# policy_off: SIGINT (the loader prints its per-cgroup totals), wait.
prc=0
policy_off() {
	prc=0
	[ -n "$ppid" ] || return 0
	kill -INT "$ppid" 2>/dev/null
	i=0
	while kill -0 "$ppid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -0 "$ppid" 2>/dev/null && { fail "memcg_ext_bgreclaim ignored SIGINT"; kill -KILL "$ppid"; }
	wait "$ppid"
	prc=$?
	ppid=
	[ $prc = 0 ] || fail "memcg_ext_bgreclaim exited with status $prc: $(tail -n 3 "$plog" | tr '\n' ' ')"
	i=0
	while [ "$(kstate)" != disabled ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(kstate)" = disabled ] || fail "memcg_ext state '$(kstate)' after the policy stopped"
	sleep "$policy_settle"
}

cg=
cleanup() {
	policy_off
	if [ -n "$cg" ] && [ -d "$cg" ]; then
		for p in $(cat "$cg/cgroup.procs" "$cg/crit/cgroup.procs" "$cg/batch/cgroup.procs" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
		sleep 0.5
		rmdir "$cg/crit" "$cg/batch" "$cg" 2>/dev/null
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# run_one KIND CONFIG REP RATE DURATION
run_one() {
	kind=$1 conf=$2 rep=$3 r=$4 dur=$5
	cg=$cgroot/bench-lat-$kind-$conf-$rep-$r
	rmdir "$cg/crit" "$cg/batch" "$cg" 2>/dev/null
	mkdir "$cg" && mkdir "$cg/crit" "$cg/batch" || { fail "cannot create $cg"; return; }
	case $conf in
	max | mcx) echo "${limit}M" >"$cg/memory.max" ;;
	high | mcx-high) echo "${limit}M" >"$cg/memory.high" ;;
	esac || { fail "cannot set the limit of $cg"; return; }
	want=disabled
	case $conf in
	mcx*)
		want=enabled
		policy_on "$cg" || { rmdir "$cg/crit" "$cg/batch" "$cg"; cg=; return; }
		;;
	esac
	kb=$(kstate)
	w0=$(kwarn)
	t0=$(uptime_s)
	log "$kind $conf rep $rep: ${r} MiB/s, ${dur}s window (memory.max $(cat $cg/memory.max), memory.high $(cat $cg/memory.high))"
	res=$(sh -c "echo \$\$ >$cg/cgroup.procs && exec latency --cgroup $cg --crit-cgroup $cg/crit --batch-cgroup $cg/batch --label $conf --rep $rep --rate $r --duration-s $dur --settle-s $settle --ring-mib $ring --ws-mib $ws --prefill-mib $prefill --period-us $period --buf-kib $buf --crit-cpu 1 --batch-cpu 0" 2>/tmp/latency.err)
	lrc=$?
	cat /tmp/latency.err >&2
	ka=$(kstate)
	alive=true
	if [ -n "$ppid" ] && ! kill -0 "$ppid" 2>/dev/null; then alive=false; fi
	extstat=$(cat "$cg/memory.ext.stat" 2>/dev/null | tr '\n' ' ')
	events=$(cat "$cg/memory.events" | tr '\n' ' ')
	ptot=
	case $conf in
	mcx*)
		policy_off
		ptot=$(grep '^total ' "$plog" | paste -sd';')
		cat "$plog" >>"$art/policy.log"
		;;
	esac
	w1=$(kwarn)
	secs=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
	ok=true
	if [ $lrc != 0 ] || [ -z "$res" ]; then
		fail "$kind $conf rep $rep rate $r: latency failed (status $lrc): $(tail -n 2 /tmp/latency.err | tr '\n' ' ')"
		ok=false
		res=null
	fi
	if [ $kernel = memcg_ext ] && { [ "$kb" != "$want" ] || [ "$ka" != "$want" ]; }; then
		fail "$kind $conf rep $rep: memcg_ext state '$kb' -> '$ka', want '$want'"
		ok=false
	fi
	[ $alive = true ] || { fail "$kind $conf rep $rep: the policy died during the run"; ok=false; }
	[ "$w1" = "$w0" ] || log "WARNING: $((w1 - w0)) new kernel warning line(s) in dmesg during $kind $conf rep $rep"
	emit "{\"type\":\"run\",\"kind\":\"$kind\",\"config\":\"$conf\",\"rep\":$rep,\"rate_mibps\":$r,\"valid\":$ok,\"kernel\":\"$kernel\",\"kstate_before\":\"$kb\",\"kstate_after\":\"$ka\",\"seconds\":$secs,\"kernel_warnings\":$((w1 - w0)),\"memory_events_end\":$(jstr "$events"),\"memory_ext_stat_end\":$(jstr "$extstat"),\"policy_totals\":$(jstr "$ptot"),\"policy_exit\":$prc,\"result\":$res}"
	# Wait for the processes to be gone (the exit frees the ring and swap).
	i=0
	while ! grep -q '^populated 0' "$cg/cgroup.events" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	rmdir "$cg/crit" "$cg/batch" "$cg" 2>/dev/null || log "cannot remove $cg"
	cg=
	sleep 1
}

: >"$out"
: >"$art/policy.log"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
emit "{\"type\":\"meta\",\"kernel\":\"$kernel\",\"uname\":$(jstr "$(uname -r)"),\"cpus\":$(nproc),\"mem_total_kb\":$(awk '/MemTotal/ { print $2 }' /proc/meminfo),\"swap\":$(jstr "$(tail -n +2 /proc/swaps | tr -s ' \n' '  ')"),\"zram_comp\":$(jstr "$(cat /sys/block/zram0/comp_algorithm 2>/dev/null)"),\"lru\":$(jstr "${MEMCG_EXT_LRU:-}"),\"thp\":$(jstr "$thp"),\"reps\":$reps,\"configs\":$(jstr "$configs"),\"rate_mibps\":$rate,\"duration_s\":$duration,\"settle_s\":$settle,\"limit_mib\":$limit,\"ring_mib\":$ring,\"ws_mib\":$ws,\"prefill_mib\":$prefill,\"period_us\":$period,\"buf_kib\":$buf,\"sweep_rates\":$(jstr "$sweep_rates"),\"sweep_configs\":$(jstr "$sweep_configs"),\"sweep_reps\":$sweep_reps,\"sweep_duration_s\":$sweep_duration,\"policy_args\":$(jstr "$policy_args"),\"skipped\":$(jstr "$nopolicy")}"
log "kernel $kernel ($(uname -r)), $(nproc) cpus; $reps reps of '$configs' at $rate MiB/s, limit ${limit} MiB; sweep '$sweep_configs' at '$sweep_rates' MiB/s"

start=$(cut -d. -f1 /proc/uptime)
rep=0
while [ $rep -lt "$reps" ]; do
	order=$configs
	[ $((rep % 2)) = 1 ] && order=$(echo $configs | tr ' ' '\n' | sed '1!G;h;$!d' | tr '\n' ' ')
	for c in $order; do
		run_one main "$c" "$rep" "$rate" "$duration"
	done
	rep=$((rep + 1))
	log "rep $rep/$reps done ($(($(cut -d. -f1 /proc/uptime) - start))s)"
done
sr=0
while [ $sr -lt "$sweep_reps" ]; do
	for r in $sweep_rates; do
		for c in $sweep_configs; do
			run_one sweep "$c" "$sr" "$r" "$sweep_duration"
		done
	done
	sr=$((sr + 1))
done

secs=$(($(cut -d. -f1 /proc/uptime) - start))
emit "{\"type\":\"end\",\"kernel\":\"$kernel\",\"ok\":$([ $fails = 0 ] && echo true || echo false),\"failures\":$fails,\"seconds\":$secs,\"last_exit\":$(jstr "$(cat $sysd/last_exit 2>/dev/null || echo n/a)"),\"kernel_warnings_total\":$(kwarn)}"
[ $fails = 0 ]
