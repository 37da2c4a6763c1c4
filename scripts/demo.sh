#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: boot the memcg_ext kernel and run tests/vm/demo, showing its
# lines: a workload runs into memory.high/memory.max with the watching
# policy attached, and what the policy saw and decided.
set -euo pipefail
. "$(dirname "$0")/common.sh"

"$REPO/testbed/run-vm.sh" --kernel memcg_ext --tests demo --tag demo >/dev/null 2>&1 || true
log=$BUILD/results/demo/console.log
[ -f "$log" ] || die "the demo VM did not run; see $BUILD/results/demo"
grep -a '^\[demo\] ' "$log" | sed 's/^\[demo\] //'
grep -aq '^PASS .*:demo' "$BUILD/results/demo/results.txt" ||
	die "the demo failed: $(cat "$BUILD/results/demo/results.txt")"
