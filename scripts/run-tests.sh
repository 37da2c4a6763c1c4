#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The test command (make test): host unit tests, the series check, then the
# VM tests on each kernel, then the comparison of the kernel's own cgroup
# selftests across stock / memcg_ext / memcg_ext with a policy. Every check
# prints one "PASS|FAIL|SKIP <where>:<what> <reason>" line; the last line is
# "N passed, N failed, N skipped". Exits non-zero if anything failed.
#
# MEMCG_EXT_VM_RUNS limits the VM runs to those named (e.g. "stock memcg_ext").
set -uo pipefail
. "$(dirname "$0")/common.sh"

res=$BUILD/results
mkdir -p "$res"
lines=$res/all-results.txt
: >"$lines"

# step NAME CMD...: run, show its output, keep its result lines.
step() {
	local name=$1; shift
	log "== $name"
	local rc
	"$@" 2>&1 | tee "$res/step-$name.log" | sed 's/^/  /'
	rc=${PIPESTATUS[0]}
	grep -E '^(PASS|FAIL|SKIP) ' "$res/step-$name.log" >>"$lines"
	# A step that failed without saying what failed still counts.
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$res/step-$name.log"; then
		echo "FAIL $name: exited with an error, see $res/step-$name.log" >>"$lines"
	fi
}

want() { [ -z "${MEMCG_EXT_VM_RUNS:-}" ] || [[ " $MEMCG_EXT_VM_RUNS " == *" $1 "* ]]; }

vm() { # TAG ARGS...: one boot of the test VM
	local tag=$1; shift
	want "$tag" || return 0
	step "vm-$tag" "$REPO/testbed/run-vm.sh" --tag "$tag" "$@"
}

step unit make -s -C "$REPO/tests" unit
step agent-unit make -s -C "$REPO/agent" unit
step client-unit make -s -C "$REPO/client" unit
step series "$REPO/scripts/series-check.sh"

vm stock --kernel stock --tests "boot kselftest_cgroup"
vm stock-agent --kernel stock --tests "agent_shed agent_scenario agent_protect agent_dryrun agent_restart agent_reload client_workloads" --timeout 900
vm memcg_ext --kernel memcg_ext --tests "boot core watch bg bgreclaim prio kselftest_cgroup"
vm memcg_ext-passthrough --kernel memcg_ext --policy passthrough --tests "kselftest_cgroup"
# With background reclaim and watermarks on every limited cgroup.
vm memcg_ext-bgreclaim --kernel memcg_ext --policy bgreclaim --tests "kselftest_cgroup"
# With thread classes, lock awareness and deferral on every cgroup.
vm memcg_ext-prio --kernel memcg_ext --policy prio --tests "kselftest_cgroup"
vm memcg_ext-classic --kernel memcg_ext --lru classic --tests "boot core watch"
vm debug --kernel debug --tests "boot core watch bg prio" --timeout 1800
# The selftests under lockdep and KASAN with a policy attached: their
# results are compared on the non-debug kernels; here the kernel log counts.
vm debug-passthrough --kernel debug --policy passthrough --tests "kselftest_cgroup" --timeout 1500

if want stock && want memcg_ext && want memcg_ext-passthrough &&
   want memcg_ext-bgreclaim && want memcg_ext-prio; then
	step kselftest-compare "$REPO/scripts/kselftest-compare.sh" \
		"$res/stock" "$res/memcg_ext" "$res/memcg_ext-passthrough" \
		"$res/memcg_ext-bgreclaim" "$res/memcg_ext-prio"
fi

p=$(grep -c '^PASS ' "$lines")
f=$(grep -c '^FAIL ' "$lines")
s=$(grep -c '^SKIP ' "$lines")
if [ "$f" != 0 ]; then
	echo
	echo "failed:"
	grep '^FAIL ' "$lines" | sed 's/^/  /'
fi
echo
echo "$p passed, $f failed, $s skipped"
[ "$f" = 0 ]
