#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: boot the memcg_ext kernel and run tests/vm/demo, showing its
# lines: a workload runs into memory.high/memory.max with the watching
# policy attached, and what the policy saw and decided. Then
# tests/vm/agent_demo: the host agent runs agent/policies/default.yaml on
# three workloads, shown by `memcg_extctl status` over time.
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$REPO/testbed/run-vm.sh" --kernel memcg_ext --tests "demo agent_demo" --tag demo >/dev/null 2>&1 || true
log=$BUILD/results/demo/console.log
[ -f "$log" ] || die "the demo VM did not run; see $BUILD/results/demo"
for t in demo agent_demo; do
	echo "==== $t"
	grep -a "^\[$t\] " "$log" | sed "s/^\[$t\] //"
done
for t in demo agent_demo; do
	grep -aq "^PASS .*:$t " "$BUILD/results/demo/results.txt" ||
		die "the $t demo failed: $(cat "$BUILD/results/demo/results.txt")"
done
echo "demo: PASS"
