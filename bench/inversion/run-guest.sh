#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# inversion benchmark (P2), VM side (busybox sh). Runs as a test-bed test.
#
# Priority inversion through reclaim: a low-priority task at its cgroup's
# limit holds a lock a high-priority task needs (bench/inversion/inversion.c).
#   pthread  one process in cgroup pt/ (memory limited): mlocked ballast + ring keep
#            it at the limit; a low thread allocates 1-4 MiB while holding a
#            pthread mutex, a high thread takes the mutex every 5 ms and
#            records its wait.
#   fs       ext4 (with a journal) on a zram disk: a low process in fslow/
#            (limited, same ballast + ring) does mkdir + small file creates,
#            a high process in fshigh/ (no limit) does create + write + fsync
#            every 10 ms and records each operation's latency.
#
# Configurations, interleaved within one boot (rep 0 in the order below,
# rep 1 reversed, ...), each in a fresh cgroup tree
# /sys/fs/cgroup/bench-inv-CONF-REP/{pt,fslow,fshigh}:
#   none   no limit: the floor
#   max    memory.max=LIMIT on pt/ and fslow/, no policy (stock enforcement)
#   high   memory.high=LIMIT (memory.max=max), no policy
#   mcx    memory.max=LIMIT with `memcg_ext_prio -c pt:T1:-:- -c fslow:T1:-:-
#          -o CAP` attached (from the root cgroup) for both variants of the
#          rep; the pthread program runs with --mx (mx_mutex_lock/unlock in the
#          low thread, the high thread registered as class never).
#
# The ext4 file system: the busybox mke2fs makes no journal, so the host
# (bench/inversion/run.sh) makes the image with mke2fs and ships it as the
# script inversion-ext4-image on PATH (it writes the image to stdout). Each
# fs run starts from a fresh copy of the image on /dev/zramN.
#
# Every run prints "@@BENCH {json}" and appends it to
# $MEMCG_EXT_ARTIFACTS/inversion.jsonl; first line "type":"meta", last "end".
#
# Parameters (kernel command line inversion.NAME=, else $INVERSION_NAME, else
# the default):
#   reps=3 configs=none,max,high,mcx variants=pthread,fs duration=10 settle=2
#   limit_mib=64 ballast_mib=48 (mlocked) ring_mib=32 hold_min_kib=1024
#   hold_max_kib=4096 gap_us=10000 period_us=5000 t1_mib=60 cap_mib=16
#   fs_churn_rate=0 fs_period_us=10000 fs_files=2 fs_gap_us=0 high_file_kib=4
#   sample_ms=10 low_cpu=0 high_cpu=1 churn_cpu=0 policy_args= policy_settle=3
#   wq_cpumask=1 (hex mask written to /sys/devices/virtual/workqueue/cpumask for
#   the benchmark: unbound workqueues - memcg_ext background reclaim,
#   writeback - run on the low side's CPU 0, not on the high side's; "-": leave)
#   (pthread: the low thread refills the ring after each hold, no churn
#   thread; fs: a churn thread writes the ring at fs_churn_rate MiB/s if > 0)
#   (policy_args: extra memcg_ext_prio options, commas for spaces)
#
# Exit status: 0 all runs valid, 1 a run failed, 4 skip.
set -u

PATH=/opt/memcg_ext/bin:$PATH
art=${MEMCG_EXT_ARTIFACTS:-/tmp}
reasonf=${MEMCG_EXT_REASON:-/dev/null}
out=$art/inversion.jsonl
cgroot=/sys/fs/cgroup
sysd=/sys/kernel/memcg_ext
plog=/tmp/inversion-policy.log
mnt=/mnt/inversion
ppid=
fails=0

log() { echo "inversion: $*" >&2; }
fail() {
	log "FAIL: $*"
	[ $fails = 0 ] && echo "$*" >"$reasonf"
	fails=$((fails + 1))
}
skip() { log "SKIP: $*"; echo "$*" >"$reasonf"; exit 4; }
emit() { echo "@@BENCH $1"; echo "$1" >>"$out"; }
param() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^inversion\.$1=//p" | tail -n1)
	if [ -z "$v" ]; then
		uc=$(echo "$1" | tr a-z A-Z)
		eval "v=\${INVERSION_$uc:-}"
	fi
	echo "${v:-$2}"
}
num() { case $2 in '' | *[!0-9]*) skip "inversion.$1='$2' is not a number" ;; esac; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
kstate() { cat $sysd/state 2>/dev/null || echo none; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
kwarn() { dmesg 2>/dev/null | grep -cE 'WARNING:|BUG:|Oops|soft lockup|rcu_.* detected stalls|hung_task|blocked for more than'; }

reps=$(param reps 3); num reps "$reps"
configs=$(param configs none,max,high,mcx | tr , ' ')
variants=$(param variants pthread,fs | tr , ' ')
duration=$(param duration 10); num duration "$duration"
settle=$(param settle 2); num settle "$settle"
limit=$(param limit_mib 64); num limit_mib "$limit"
ballast=$(param ballast_mib 48); num ballast_mib "$ballast"
ring=$(param ring_mib 32); num ring_mib "$ring"
churn=$(param fs_churn_rate 0); num fs_churn_rate "$churn"
hmin=$(param hold_min_kib 1024); num hold_min_kib "$hmin"
hmax=$(param hold_max_kib 4096); num hold_max_kib "$hmax"
gap=$(param gap_us 10000); num gap_us "$gap"
period=$(param period_us 5000); num period_us "$period"
t1=$(param t1_mib 60); num t1_mib "$t1"
cap=$(param cap_mib 16); num cap_mib "$cap"
fsperiod=$(param fs_period_us 10000); num fs_period_us "$fsperiod"
fsfiles=$(param fs_files 2); num fs_files "$fsfiles"
fsgap=$(param fs_gap_us 0); num fs_gap_us "$fsgap"
hkib=$(param high_file_kib 4); num high_file_kib "$hkib"
sample=$(param sample_ms 10); num sample_ms "$sample"
lowcpu=$(param low_cpu 0); num low_cpu "$lowcpu"
highcpu=$(param high_cpu 1); num high_cpu "$highcpu"
churncpu=$(param churn_cpu 0); num churn_cpu "$churncpu"
policy_args=$(param policy_args "" | tr , ' ')
policy_settle=$(param policy_settle 3); num policy_settle "$policy_settle"
wqmask=$(param wq_cpumask 1)

command -v inversion >/dev/null || skip "no inversion binary on PATH (make -C bench)"
grep -qw memory $cgroot/cgroup.subtree_control || skip "memory controller not enabled in $cgroot"
grep -q '^/dev/zram0 ' /proc/swaps || skip "no zram swap"
if [ -e $sysd/state ]; then
	kernel=memcg_ext
	[ "$(kstate)" = disabled ] ||
		skip "memcg_ext state is '$(kstate)' before the benchmark, want 'disabled' (was the VM booted with --policy?)"
else
	kernel=stock
fi
nopolicy=
if [ $kernel != memcg_ext ]; then
	nopolicy="stock kernel"
elif ! command -v memcg_ext_prio >/dev/null; then
	nopolicy="no memcg_ext_prio on PATH (make -C policies)"
fi
if [ -n "$nopolicy" ]; then
	c2=
	for c in $configs; do case $c in mcx) log "not running $c: $nopolicy" ;; *) c2="$c2 $c" ;; esac; done
	configs=$c2
fi
for c in $configs; do
	case $c in none | max | high | mcx) ;; *) skip "unknown configuration '$c'" ;; esac
done
nofs=
for v in $variants; do
	case $v in
	pthread) ;;
	fs) command -v inversion-ext4-image >/dev/null ||
		nofs="no inversion-ext4-image on PATH (bench/inversion/run.sh makes it: busybox mke2fs has no journal); in /opt/memcg_ext/bin: $(ls /opt/memcg_ext/bin | grep inversion | tr '\n' ' ')" ;;
	*) skip "unknown variant '$v'" ;;
	esac
done
if [ -n "$nofs" ]; then
	log "not running the fs variant: $nofs"
	variants=$(echo $variants | tr ' ' '\n' | grep -v '^fs$' | tr '\n' ' ')
fi
[ -n "$configs" ] && [ -n "$(echo $variants)" ] || skip "nothing to run ($nopolicy $nofs)"

# The ext4 file system on a zram disk of its own, from a fresh image per run.
zdev=
fs_reset() {
	umount $mnt 2>/dev/null
	if [ -z "$zdev" ]; then
		zdev=$(cat /sys/class/zram-control/hot_add) || { fail "no zram hot_add"; return 1; }
		mkdir -p $mnt
	else
		echo 1 >/sys/block/zram$zdev/reset || { fail "cannot reset zram$zdev"; return 1; }
	fi
	echo "$(inversion-ext4-image size)" >/sys/block/zram$zdev/disksize &&
		inversion-ext4-image >/dev/zram$zdev &&
		mount -t ext4 /dev/zram$zdev $mnt || { fail "cannot set up ext4 on /dev/zram$zdev"; return 1; }
}

policy_on() { # ARGS...
	: >"$plog"
	sh -c "echo \$\$ >$cgroot/cgroup.procs && exec memcg_ext_prio -q $* $policy_args" \
		>>"$plog" 2>&1 </dev/null &
	ppid=$!
	i=0
	until grep -q 'memcg_ext_prio: attached' "$plog"; do
		if ! kill -0 "$ppid" 2>/dev/null || [ $i -ge 600 ]; then
			fail "memcg_ext_prio did not attach (state '$(kstate)' after $((i / 10))s): $(tail -n 3 "$plog" | tr '\n' ' ')"
			policy_off
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	log "policy attached after ~$((i / 10)).$((i % 10))s: $(cat $sysd/root/ops 2>/dev/null)"
}

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
	kill -0 "$ppid" 2>/dev/null && { fail "memcg_ext_prio ignored SIGINT"; kill -KILL "$ppid"; }
	wait "$ppid"
	prc=$?
	ppid=
	[ $prc = 0 ] || fail "memcg_ext_prio exited with status $prc: $(tail -n 3 "$plog" | tr '\n' ' ')"
	i=0
	while [ "$(kstate)" != disabled ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(kstate)" = disabled ] || fail "memcg_ext state '$(kstate)' after the policy stopped"
	sleep "$policy_settle"
}

base=
cg_kill() {
	[ -n "$base" ] && [ -d "$base" ] || return 0
	for d in pt fslow fshigh; do
		for p in $(cat "$base/$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
	for d in pt fslow fshigh; do
		i=0
		while [ -d "$base/$d" ] && ! grep -q '^populated 0' "$base/$d/cgroup.events" && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		rmdir "$base/$d" 2>/dev/null
	done
	rmdir "$base" 2>/dev/null || log "cannot remove $base"
	base=
}
wqf=/sys/devices/virtual/workqueue/cpumask
wqold=
if [ "$wqmask" != - ] && [ -w $wqf ]; then
	wqold=$(cat $wqf)
	echo "$wqmask" >$wqf || { log "cannot set $wqf to $wqmask"; wqold=; }
fi
cleanup() {
	policy_off
	cg_kill
	umount $mnt 2>/dev/null
	[ -n "$wqold" ] && echo "$wqold" >$wqf
}
trap cleanup EXIT
trap 'exit 1' INT TERM

common_args() { # CONF REP
	echo "--label $1 --rep $2 --settle-s $settle --duration-s $duration --ballast-mib $ballast --ring-mib $ring --sample-ms $sample --low-cpu $lowcpu --high-cpu $highcpu --churn-cpu $churncpu"
}

# run_variant VARIANT CONF REP
run_variant() {
	v=$1 conf=$2 rep=$3
	want=disabled
	[ $conf = mcx ] && want=enabled
	kb=$(kstate)
	w0=$(kwarn)
	t0=$(uptime_s)
	ok=true
	case $v in
	pthread)
		mx=
		[ $conf = mcx ] && mx=--mx
		res=$(sh -c "echo \$\$ >$base/pt/cgroup.procs && exec inversion pthread --cgroup $base/pt $(common_args $conf $rep) --refill --hold-min-kib $hmin --hold-max-kib $hmax --gap-us $gap --period-us $period $mx" 2>/tmp/inversion.err)
		rc=$?
		;;
	fs)
		if fs_reset; then
			res=$(inversion fs --low-cgroup $base/fslow --high-cgroup $base/fshigh --dir $mnt $(common_args $conf $rep) --churn-rate $churn --fs-period-us $fsperiod --fs-files $fsfiles --fs-gap-us $fsgap --high-file-kib $hkib 2>/tmp/inversion.err)
			rc=$?
			df=$(df -k $mnt | tail -n1 | tr -s ' ')
			dfi=$(df -i $mnt 2>/dev/null | tail -n1 | tr -s ' ')
		else
			res= rc=99
		fi
		;;
	esac
	cat /tmp/inversion.err >&2
	ka=$(kstate)
	alive=true
	if [ -n "$ppid" ] && ! kill -0 "$ppid" 2>/dev/null; then alive=false; fi
	if [ $rc != 0 ] || [ -z "$res" ]; then
		fail "$v $conf rep $rep: inversion failed (status $rc): $(tail -n 2 /tmp/inversion.err | tr '\n' ' ')"
		ok=false
		res=null
	fi
	if [ $kernel = memcg_ext ] && { [ "$kb" != "$want" ] || [ "$ka" != "$want" ]; }; then
		fail "$v $conf rep $rep: memcg_ext state '$kb' -> '$ka', want '$want'"
		ok=false
	fi
	[ $alive = true ] || { fail "$v $conf rep $rep: the policy died during the run"; ok=false; }
	w1=$(kwarn)
	[ "$w1" = "$w0" ] || log "WARNING: $((w1 - w0)) new kernel warning line(s) in dmesg during $v $conf rep $rep"
	secs=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
	extra=
	[ $v = fs ] && extra=",\"df\":$(jstr "${df:-}"),\"df_inodes\":$(jstr "${dfi:-}")"
	emit "{\"type\":\"run\",\"variant\":\"$v\",\"config\":\"$conf\",\"rep\":$rep,\"valid\":$ok,\"kernel\":\"$kernel\",\"kstate_before\":\"$kb\",\"kstate_after\":\"$ka\",\"seconds\":$secs,\"kernel_warnings\":$((w1 - w0))$extra,\"result\":$res}"
	# Kill leftovers (a failed run), wait until the processes are gone.
	for d in pt fslow fshigh; do
		for p in $(cat "$base/$d/cgroup.procs" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
	done
}

# run_one CONF REP: both variants in one cgroup tree (and one policy attach).
run_one() {
	conf=$1 rep=$2
	base=$cgroot/bench-inv-$conf-$rep
	rmdir "$base"/* "$base" 2>/dev/null
	mkdir "$base" && echo +memory >"$base/cgroup.subtree_control" &&
		mkdir "$base/pt" "$base/fslow" "$base/fshigh" || { fail "cannot create $base"; return; }
	for d in pt fslow; do
		case $conf in
		max | mcx) echo "${limit}M" >"$base/$d/memory.max" ;;
		high) echo "${limit}M" >"$base/$d/memory.high" ;;
		esac || { fail "cannot set the limit of $base/$d"; return; }
	done
	if [ $conf = mcx ]; then
		policy_on -c "$base/pt:${t1}M:-:-" -c "$base/fslow:${t1}M:-:-" -o $((cap * 1048576)) ||
			{ cg_kill; return; }
	fi
	log "$conf rep $rep: $variants (memory.max $(cat $base/pt/memory.max), memory.high $(cat $base/pt/memory.high), overdraft $(cat $base/pt/memory.ext.overdraft 2>/dev/null || echo n/a))"
	for v in $variants; do
		run_variant "$v" "$conf" "$rep"
	done
	if [ $conf = mcx ]; then
		policy_off
		ptot=$(grep '^total ' "$plog" | paste -sd';')
		cat "$plog" >>"$art/policy.log"
		emit "{\"type\":\"policy\",\"config\":\"$conf\",\"rep\":$rep,\"exit\":$prc,\"totals\":$(jstr "$ptot")}"
	fi
	cg_kill
	sleep 1
}

: >"$out"
: >"$art/policy.log"
thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)
emit "{\"type\":\"meta\",\"kernel\":\"$kernel\",\"uname\":$(jstr "$(uname -r)"),\"cpus\":$(nproc),\"mem_total_kb\":$(awk '/MemTotal/ { print $2 }' /proc/meminfo),\"swap\":$(jstr "$(tail -n +2 /proc/swaps | tr -s ' \n' '  ')"),\"zram_comp\":$(jstr "$(cat /sys/block/zram0/comp_algorithm 2>/dev/null)"),\"lru\":$(jstr "${MEMCG_EXT_LRU:-}"),\"thp\":$(jstr "$thp"),\"reps\":$reps,\"configs\":$(jstr "$configs"),\"variants\":$(jstr "$variants"),\"duration_s\":$duration,\"settle_s\":$settle,\"limit_mib\":$limit,\"ballast_mib\":$ballast,\"ring_mib\":$ring,\"fs_churn_rate_mibps\":$churn,\"hold_min_kib\":$hmin,\"hold_max_kib\":$hmax,\"gap_us\":$gap,\"period_us\":$period,\"t1_mib\":$t1,\"cap_mib\":$cap,\"fs_period_us\":$fsperiod,\"fs_files\":$fsfiles,\"fs_gap_us\":$fsgap,\"high_file_kib\":$hkib,\"sample_ms\":$sample,\"low_cpu\":$lowcpu,\"high_cpu\":$highcpu,\"churn_cpu\":$churncpu,\"policy_args\":$(jstr "$policy_args"),\"wq_cpumask\":$(jstr "$(cat $wqf 2>/dev/null)"),\"image\":$(jstr "$(inversion-ext4-image info 2>/dev/null)"),\"skipped\":$(jstr "$nopolicy $nofs")}"
log "kernel $kernel ($(uname -r)), $(nproc) cpus; $reps reps of '$configs' x '$variants', limit ${limit} MiB, ${duration}s windows"

start=$(cut -d. -f1 /proc/uptime)
rep=0
while [ $rep -lt "$reps" ]; do
	order=$configs
	[ $((rep % 2)) = 1 ] && order=$(echo $configs | tr ' ' '\n' | sed '1!G;h;$!d' | tr '\n' ' ')
	for c in $order; do
		run_one "$c" "$rep"
	done
	rep=$((rep + 1))
	log "rep $rep/$reps done ($(($(cut -d. -f1 /proc/uptime) - start))s)"
done

secs=$(($(cut -d. -f1 /proc/uptime) - start))
emit "{\"type\":\"end\",\"kernel\":\"$kernel\",\"ok\":$([ $fails = 0 ] && echo true || echo false),\"failures\":$fails,\"seconds\":$secs,\"last_exit\":$(jstr "$(cat $sysd/last_exit 2>/dev/null || echo n/a)"),\"kernel_warnings_total\":$(kwarn)}"
[ $fails = 0 ]
