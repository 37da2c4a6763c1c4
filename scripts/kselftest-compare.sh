#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compare the cgroup selftest results of several VM runs, subtest by subtest.
#
# usage: scripts/kselftest-compare.sh STOCK_DIR OTHER_DIR...
#
# Each DIR is a result directory of testbed/run-vm.sh that ran the
# kselftest_cgroup test (build/results/<tag>, holding kselftest_cgroup/
# <binary>.tap).  The first one is the reference run on the stock kernel.
# For every subtest of every binary, one line:
#
#   PASS <binary>:<subtest>                 passes in every run
#   SKIP <binary>:<subtest> <why>           same result in every run, and it
#                                           fails or skips on stock too, for a
#                                           reason in tests/kselftest-known.txt
#                                           (or the test's own skip message);
#                                           a reason "flaky: ..." tolerates
#                                           differing results
#   SKIP <binary>:<subtest> <why>           passes in every run but one where
#                                           tests/kselftest-known.txt expects
#                                           it to fail ("... run=<tag>: why")
#   FAIL <binary>:<subtest> <per-run results>
#                                           results differ between runs, or it
#                                           fails everywhere without a known
#                                           reason, or a run lacks it
#
# Exit status 1 if any line is FAIL.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# -ge 1 ] || { sed -n 's/^# \{0,1\}//; /^usage:/,/^$/p' "$0" >&2; exit 2; }
known=${MEMCG_EXT_KSELFTEST_KNOWN:-$REPO/tests/kselftest-known.txt}
BINS=(test_memcontrol test_kmem test_zswap)

for d in "$@"; do
	[ -d "$d/kselftest_cgroup" ] || die "$d: no kselftest_cgroup/ results"
done

# tap FILE: "<subtest> <pass|fail|skip>" per subtest, in order
tap() {
	[ -f "$1" ] || return 0
	awk '
	/^ok [0-9]+ # SKIP / { sub(/^ok [0-9]+ # SKIP +/, ""); print $1, "skip"; next }
	/^ok [0-9]+ /        { print $3, "pass"; next }
	/^not ok [0-9]+ /    { print $4, "fail"; next }
	' "$1"
}

failed=0
for bin in "${BINS[@]}"; do
	declare -A res=()
	order=()
	i=0
	for d in "$@"; do
		if [ ! -f "$d/kselftest_cgroup/$bin.tap" ]; then
			res[__missing__$i]=1
		fi
		while read -r name st; do
			[ -n "${res[$name,seen]:-}" ] || { order+=("$name"); res[$name,seen]=1; }
			res[$name,$i]=$st
		done < <(tap "$d/kselftest_cgroup/$bin.tap")
		i=$((i + 1))
	done
	for name in "${order[@]}"; do
		all='' same=1 first=${res[$name,0]:-missing} expected=''
		i=0
		for d in "$@"; do
			st=${res[$name,$i]:-missing}
			all+=" $(basename "$d")=$st"
			# A failure the known list expects in this run only (a
			# policy that changes what the subtest asserts).
			if [ "$st" = fail ] && [ $i -gt 0 ]; then
				ewhy=$(awk -v k="$bin:$name" -v r="run=$(basename "$d"):" \
					'$1 == k && $2 == r { $1 = $2 = ""; sub(/^ +/, ""); print; exit }' \
					"$known" 2>/dev/null || true)
				if [ -n "$ewhy" ]; then
					expected+=" $(basename "$d"): $ewhy"
					i=$((i + 1))
					continue
				fi
			fi
			[ "$st" = "$first" ] || same=0
			i=$((i + 1))
		done
		if [ -n "$expected" ] && [ $same = 1 ] && [ "$first" = pass ]; then
			echo "SKIP $bin:$name passes except where expected (${known#$REPO/}):$expected"
			continue
		fi
		why=$(awk -v k="$bin:$name" '$1 == k && $2 !~ /^run=/ { $1 = ""; sub(/^ /, ""); print; exit }' \
			"$known" 2>/dev/null || true)
		case $all in *=missing*) flaky='' ;; *) flaky=${why#flaky: } ;; esac
		if [ "$flaky" = "$why" ]; then flaky=''; fi
		if [ $same = 1 ] && [ "$first" = pass ]; then
			echo "PASS $bin:$name"
		elif [ $same = 1 ] && [ "$first" != missing ] && [ -n "$why" ]; then
			echo "SKIP $bin:$name fails on stock too: $why"
		elif [ -n "$flaky" ]; then
			echo "SKIP $bin:$name known flaky (tests/kselftest-known.txt), results differ:$all: $flaky"
		elif [ $same = 1 ] && [ "$first" = skip ]; then
			echo "SKIP $bin:$name skipped by the test in every run"
		elif [ $same = 1 ] && [ "$first" = fail ]; then
			echo "FAIL $bin:$name fails in every run, no known reason (add it to ${known#$REPO/}):$all"
			failed=1
		else
			echo "FAIL $bin:$name results differ:$all"
			failed=1
		fi
	done
	i=0
	for d in "$@"; do
		if [ -n "${res[__missing__$i]:-}" ]; then
			echo "FAIL $bin:* no TAP output in $d"
			failed=1
		fi
		i=$((i + 1))
	done
	unset res
done
exit $failed
