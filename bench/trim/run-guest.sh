#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# trim benchmark (P4), VM side (busybox sh). Runs as a test-bed test.
#
# For each controller and repeat, in one boot, interleaved (rep 0: none
# senpai agent, rep 1: agent senpai none, ...): a fresh memory cgroup
# (memory.high=max, memory.max=512M, zram swap from /init), mx_hotcold in
# it (hot set HOT MiB touched continuously, cold set COLD MiB written once),
# and once it has written both sets, the controller:
#   none    nothing (the baseline)
#   senpai  bench/trim/senpai.c (the published senpai algorithm), run from
#           the root cgroup on the workload's cgroup
#   agent   memcg_ext_agent with a policy that puts the workload under
#           dynamic protection/trim, its metric from the client protocol
#           (mx_hotcold --agent sends METRIC ops_norm)
#   agent-nometric  the same policy without the metric (refaults and PSI
#           only); a diagnostic row, not in the default list
# mx_hotcold runs DURATION seconds; the last WINDOW seconds are the steady
# state measured: its throughput and the mean of memory.current. Its
# reference process (see workloads/mx_hotcold.c: the same operations on a
# set that never faults, interleaved batch by batch on the same CPU) lives
# in the root cgroup; the throughput compared is ops_norm, the hot-set rate
# over the reference rate, which cancels the noise of the busy host.
#
# Every run prints "@@BENCH {json}" and appends it to
# $MEMCG_EXT_ARTIFACTS/trim.jsonl; first line "type":"meta", last "end".
#
# Parameters (kernel command line trim.NAME=, else $TRIM_NAME, else default):
#   reps=2 duration=80 window=30 hot_mib=16 cold_mib=48
#   controllers=none,senpai,agent settle=3
#   senpai_tick_ms=167 senpai_interval=6 senpai_pressure_us=1667
#   senpai_max_probe=0.03 senpai_max_backoff=1.0 senpai_coeff_probe=10
#   senpai_coeff_backoff=20 senpai_min_mib=4
#   agent_interval_ms=1000 agent_probe_step=2
#
# Senpai in the VM: its published defaults (tick 1 s, interval 6 ticks,
# pressure 10 ms per interval, max_probe 1%, max_backoff 100%, coeff 10/20,
# min_size 100M) are scaled: time by 1/6 (tick 167 ms, so an interval is
# 1 s and the pressure target 1.67 ms per interval -- the same 0.17% stall
# share), max_probe x3 (3% per interval) so that it can reach the working
# set within the run, min_size to 4M (the workload is tens of MiB).
#
# Exit status: 0 all runs valid, 1 a run failed, 4 skip.
set -u

PATH=/opt/memcg_ext/bin:$PATH
art=${MEMCG_EXT_ARTIFACTS:-/tmp}
reasonf=${MEMCG_EXT_REASON:-/dev/null}
out=$art/trim.jsonl
cgroot=/sys/fs/cgroup
fails=0
cpid=

log() { echo "trim: $*" >&2; }
fail() {
	log "FAIL: $*"
	[ $fails = 0 ] && echo "$*" >"$reasonf"
	fails=$((fails + 1))
}
skip() { log "SKIP: $*"; echo "$*" >"$reasonf"; exit 4; }
emit() { echo "@@BENCH $1"; echo "$1" >>"$out"; }
param() {
	v=$(tr ' ' '\n' </proc/cmdline | sed -n "s/^trim\.$1=//p" | tail -n1)
	if [ -z "$v" ]; then
		uc=$(echo "$1" | tr a-z A-Z)
		eval "v=\${TRIM_$uc:-}"
	fi
	echo "${v:-$2}"
}
num() { case $2 in '' | *[!0-9.]*) skip "trim.$1='$2' is not a number" ;; esac; }
jstr() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\000-\037' | sed 's/\\/\\\\/g; s/"/\\"/g')"; }
stat_of() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1/memory.stat"; }

reps=$(param reps 2); num reps "$reps"
duration=$(param duration 80); num duration "$duration"
window=$(param window 30); num window "$window"
hot=$(param hot_mib 16); num hot_mib "$hot"
cold=$(param cold_mib 48); num cold_mib "$cold"
settle=$(param settle 3); num settle "$settle"
controllers=$(param controllers none,senpai,agent | tr , ' ')
s_tick=$(param senpai_tick_ms 167)
s_int=$(param senpai_interval 6)
s_pres=$(param senpai_pressure_us 1667)
s_probe=$(param senpai_max_probe 0.03)
s_back=$(param senpai_max_backoff 1.0)
s_cp=$(param senpai_coeff_probe 10)
s_cb=$(param senpai_coeff_backoff 20)
s_min=$(param senpai_min_mib 4)
a_int=$(param agent_interval_ms 1000)
a_step=$(param agent_probe_step 2)
for v in "$s_tick" "$s_int" "$s_pres" "$s_probe" "$s_back" "$s_cp" "$s_cb" "$s_min" "$a_int" "$a_step"; do
	num senpai/agent "$v"
done
[ "$window" -lt "$duration" ] || skip "trim.window ($window) must be below trim.duration ($duration)"
wfrom=$((duration - window))

command -v mx_hotcold >/dev/null || skip "no mx_hotcold on PATH (make -C workloads)"
grep -qw memory $cgroot/cgroup.subtree_control || skip "memory controller not enabled in $cgroot"
grep -q '^/dev/zram0 ' /proc/swaps || skip "no zram swap"
for c in $controllers; do
	case $c in
	none) ;;
	senpai) command -v senpai >/dev/null || skip "no senpai on PATH (make -C bench)" ;;
	agent | agent-nometric) ;;	# checked per run: reported as not run when missing
	*) skip "unknown controller '$c'" ;;
	esac
done

# The agent's policy: one workload, the benchmark's cgroup, dynamic
# protection/trim judged by the workload's own metric (agent) or by
# refaults and PSI alone (agent-nometric).
policy=/tmp/trim-policy.yaml
mkpolicy() { # PATTERN METRIC-LINE
	cat <<POL
# SPDX-License-Identifier: GPL-2.0
# trim benchmark: trim the workload to its working set without regressing
# its throughput by more than 1%.
host:
  utilization_ceiling: 95%
workloads:
  - name: hotcold
    cgroup: "$1"
    priority: 100
    thresholds: { t1: 95%, t2: 97%, t3: 99% }
    protection: { mode: dynamic, probe_step: ${a_step}% }
$2
    shedding: { enabled: false }
agent:
  socket: /run/memcg_ext/agent.sock
  control_socket: /run/memcg_ext/ctl.sock
  event_log: /run/memcg_ext/trim-events.jsonl
  interval: ${a_int}ms
POL
}
mkpolicy "trim-agent-[0-9]*" "    metric: { source: client, name: ops_norm, higher_is_better: true, max_regression: 1% }" >$policy
mkpolicy "trim-agent-nometric-*" "" >/tmp/trim-policy-nometric.yaml
mkdir -p /run/memcg_ext

stop_ctl() {
	[ -n "$cpid" ] || return 0
	kill -TERM "$cpid" 2>/dev/null
	i=0
	while kill -0 "$cpid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$cpid" 2>/dev/null && kill -KILL "$cpid" 2>/dev/null
	wait "$cpid" 2>/dev/null
	cpid=
}
cleanup() { stop_ctl; }
trap cleanup EXIT
trap 'exit 1' INT TERM

# run_one CONTROLLER REP
run_one() {
	ctl=$1 rep=$2
	cg=$cgroot/trim-$ctl-$rep
	wl=/tmp/trim-$ctl-$rep.log
	cl=/tmp/trim-$ctl-$rep.ctl.log
	status=ok note=
	rmdir "$cg" 2>/dev/null
	mkdir "$cg" || { fail "cannot create $cg"; return; }
	echo max >"$cg/memory.high"
	echo 512M >"$cg/memory.max"
	agentflag=
	if [ "$ctl" = agent ] || [ "$ctl" = agent-nometric ]; then
		if ! command -v memcg_ext_agent >/dev/null; then
			emit "{\"type\":\"run\",\"controller\":\"$ctl\",\"rep\":$rep,\"status\":\"not_run\",\"note\":\"no memcg_ext_agent on PATH\"}"
			rmdir "$cg"
			return
		fi
		agentflag="--agent"
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	sh -c "echo \$\$ >$cg/cgroup.procs && exec mx_hotcold --hot ${hot}M --cold ${cold}M \
		--duration $duration --window-from $wfrom --ref-cgroup $cgroot $agentflag" >"$wl" 2>&1 </dev/null &
	wpid=$!
	i=0
	until grep -q ' ready ' "$wl" || ! kill -0 $wpid 2>/dev/null || [ $i -ge 1200 ]; do
		sleep 0.1; i=$((i + 1))
	done
	grep -q ' ready ' "$wl" || { fail "$ctl rep $rep: mx_hotcold did not get ready: $(tail -n 3 "$wl")"; kill $wpid 2>/dev/null; wait $wpid; rmdir "$cg"; return; }
	case $ctl in
	senpai)
		senpai --cgroup "$cg" --tick-ms "$s_tick" --interval "$s_int" --pressure-us "$s_pres" \
			--max-probe "$s_probe" --max-backoff "$s_back" --coeff-probe "$s_cp" \
			--coeff-backoff "$s_cb" --min-size "${s_min}M" --quiet >"$cl" 2>&1 </dev/null &
		cpid=$! ;;
	agent | agent-nometric)
		pol=$policy
		[ "$ctl" = agent-nometric ] && pol=/tmp/trim-policy-nometric.yaml
		# a fresh agent each run: no state adopted from the previous one
		rm -f /run/memcg_ext/agent.sock /run/memcg_ext/ctl.sock /run/memcg_ext/trim-events.jsonl \
			/run/memcg_ext/state.json
		memcg_ext_agent -c "$pol" >"$cl" 2>&1 </dev/null &
		cpid=$! ;;
	esac
	wait $wpid
	wrc=$?
	if [ -n "$cpid" ] && ! kill -0 "$cpid" 2>/dev/null; then
		status=failed note="the controller died: $(tail -n 2 "$cl" | tr '\n' ' ')"
		fail "$ctl rep $rep: $note"
	fi
	stop_ctl
	[ $wrc = 0 ] || { status=failed; note="mx_hotcold exit $wrc"; fail "$ctl rep $rep: mx_hotcold exited with $wrc: $(tail -n 3 "$wl")"; }
	sum=$(grep ' summary ' "$wl" | tail -n1)
	[ -n "$sum" ] || { status=failed; note="no summary"; fail "$ctl rep $rep: no summary from mx_hotcold"; }
	kv() { echo "$sum" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	wops=$(kv window_ops_per_s); wnorm=$(kv window_ops_norm); wmem=$(kv window_mem_current); wswap=$(kv window_swap_current)
	series=$(awk '/ t=/ { for (i = 2; i <= NF; i++) { split($i, a, "="); v[a[1]] = a[2] }
		printf "%s[%s,%s,%s,%s,%s,\"%s\"]", sep, v["t"], v["ops_per_s"], v["ops_norm"], v["mem_current"], v["swap_current"], v["mem_high"]; sep = "," }' "$wl")
	adj=0
	[ -f "$cl" ] && adj=$(grep -c 'adjust=\|"reclaim\|probe' "$cl")
	emit "{\"type\":\"run\",\"controller\":\"$ctl\",\"rep\":$rep,\"status\":\"$status\",\"note\":$(jstr "$note"),\"t_start\":$t0,\"window_ops_per_s\":${wops:-null},\"window_ops_norm\":${wnorm:-null},\"window_mem_current\":${wmem:-null},\"window_swap_current\":${wswap:-null},\"memory_high_end\":$(jstr "$(cat $cg/memory.high)"),\"memory_low_end\":$(jstr "$(cat $cg/memory.low)"),\"workingset_refault_anon\":$(stat_of "$cg" workingset_refault_anon),\"pgmajfault\":$(stat_of "$cg" pgmajfault),\"pgscan\":$(stat_of "$cg" pgscan),\"pgsteal\":$(stat_of "$cg" pgsteal),\"controller_log_lines\":$adj,\"series_cols\":[\"t\",\"ops_per_s\",\"ops_norm\",\"mem_current\",\"swap_current\",\"mem_high\"],\"series\":[$series]}"
	mkdir -p "$art/logs"
	cp "$wl" "$art/logs/"
	[ -f "$cl" ] && cp "$cl" "$art/logs/"
	[ -f /run/memcg_ext/trim-events.jsonl ] && mv /run/memcg_ext/trim-events.jsonl "$art/logs/$ctl-events-$rep.jsonl"
	rmdir "$cg" 2>/dev/null || { sleep 1; rmdir "$cg" 2>/dev/null; } || log "cannot remove $cg"
	sleep "$settle"
}

: >"$out"
emit "{\"type\":\"meta\",\"uname\":$(jstr "$(uname -r)"),\"kernel\":$(jstr "${MEMCG_EXT_KERNEL:-}"),\"cpus\":$(nproc),\"lru\":$(jstr "${MEMCG_EXT_LRU:-}"),\"reps\":$reps,\"duration\":$duration,\"window\":$window,\"hot_mib\":$hot,\"cold_mib\":$cold,\"controllers\":$(jstr "$controllers"),\"senpai\":{\"tick_ms\":$s_tick,\"interval\":$s_int,\"pressure_us\":$s_pres,\"max_probe\":$s_probe,\"max_backoff\":$s_back,\"coeff_probe\":$s_cp,\"coeff_backoff\":$s_cb,\"min_size_mib\":$s_min},\"agent\":{\"interval_ms\":$a_int,\"probe_step_pct\":$a_step,\"present\":$(command -v memcg_ext_agent >/dev/null && echo true || echo false)},\"swap\":$(jstr "$(grep zram0 /proc/swaps | tr -s ' \t' ' ')")}"
log "$(uname -r): $reps reps of '$controllers', hot ${hot}M cold ${cold}M, ${duration}s runs, last ${window}s measured"
start=$(cut -d. -f1 /proc/uptime)
rep=0
while [ $rep -lt "$reps" ]; do
	order=$controllers
	[ $((rep % 2)) = 1 ] && order=$(echo $controllers | tr ' ' '\n' | sed -n '1!G;h;$p')
	for c in $order; do
		log "rep $rep: $c"
		run_one "$c" "$rep"
	done
	rep=$((rep + 1))
	log "rep $rep/$reps done ($(($(cut -d. -f1 /proc/uptime) - start))s)"
done
emit "{\"type\":\"end\",\"ok\":$([ $fails = 0 ] && echo true || echo false),\"failures\":$fails,\"seconds\":$(($(cut -d. -f1 /proc/uptime) - start))}"
cp $policy "$art/agent-policy.yaml"
cp /tmp/trim-policy-nometric.yaml "$art/agent-nometric-policy.yaml"
[ $fails = 0 ]
