# SPDX-License-Identifier: GPL-2.0
# Helpers of the agent_* VM tests (sourced). Each test runs the agent with
# its own policy; everything it writes stays under $AG, which goes back to
# the host as artifacts.
# The artifacts directory itself: what is there goes back to the host even
# when the test times out.
AG=$MEMCG_EXT_ARTIFACTS
CGR=/sys/fs/cgroup
mkdir -p "$AG"
agent_pid=
load_pids=
test_cgroups=

finish() {
	[ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	agent_pid=
	for p in $load_pids; do kill -KILL "$p" 2>/dev/null; done
	load_pids=
	for cg in $test_cgroups; do
		[ -d "$CGR/$cg" ] || continue
		echo 1 >"$CGR/$cg/cgroup.kill" 2>/dev/null
	done
	sleep 0.5
	for cg in $test_cgroups; do
		# children first
		find "$CGR/$cg" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null; done
	done
}
fail() {
	echo "FAIL: $*"
	echo "$*" >"$MEMCG_EXT_REASON"
	finish
	exit 1
}
say() { echo "$MEMCG_EXT_TEST: $*"; }

# agent section of a policy with every path under $AG
agent_section() { # INTERVAL [extra lines]
	cat <<EOT
agent:
  socket: $AG/agent.sock
  control_socket: $AG/ctl.sock
  metrics_listen: 127.0.0.1:9317
  event_log: $AG/events.jsonl
  state_file: $AG/state.json
  pressure_dir: $AG/pressure
  interval: $1
EOT
}

start_agent() { # POLICY [ARGS...]
	local pol=$1 i=0
	shift
	memcg_ext_agent -c "$pol" "$@" >>"$AG/agent.log" 2>&1 &
	agent_pid=$!
	until [ -S "$AG/ctl.sock" ] || [ $i -ge 100 ]; do
		kill -0 $agent_pid 2>/dev/null || fail "agent exited at start: $(tail -5 "$AG/agent.log")"
		sleep 0.1; i=$((i + 1))
	done
	[ -S "$AG/ctl.sock" ] || fail "no control socket after 10 s"
}

stop_agent() {
	kill -TERM "$agent_pid"
	wait "$agent_pid" || fail "agent exited with status $? on SIGTERM"
	agent_pid=
	rm -f "$AG/ctl.sock"
}

mkcg() { # NAME: a fresh cgroup
	rmdir "$CGR/$1" 2>/dev/null
	mkdir -p "$CGR/$1" || fail "cannot create $CGR/$1"
	test_cgroups="$test_cgroups ${1%%/*}"
}

# run_in CG LOGNAME CMD...: start CMD inside cgroup CG, output in $AG/LOGNAME.log
run_in() {
	local cg=$1 name=$2
	shift 2
	sh -c "echo \$\$ >$CGR/$cg/cgroup.procs && exec \"\$@\"" sh "$@" >"$AG/$name.log" 2>&1 &
	load_pids="$load_pids $!"
	last_pid=$!
}

ctl() {
	memcg_extctl -s "$AG/ctl.sock" "$@" && return 0
	# Say where a stuck agent is.
	[ -n "$agent_pid" ] && echo "agent: $(cat /proc/$agent_pid/wchan 2>/dev/null)" \
		"$(grep State /proc/$agent_pid/status)" && cat /proc/$agent_pid/stack 2>/dev/null
	return 1
}

host_used() { awk '/^MemTotal:/ {t=$2} /^MemAvailable:/ {a=$2} END {print (t-a)*1024}' /proc/meminfo; }

# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 5))
	shift
	while [ $n -gt 0 ]; do
		"$@" && return 0
		sleep 0.2; n=$((n - 1))
	done
	return 1
}
