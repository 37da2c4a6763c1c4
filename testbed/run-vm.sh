#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot a test-bed kernel in QEMU (TCG), run tests from tests/vm/ in it, and
# report one line per test:
#
#   PASS|FAIL|SKIP <kernel>[/<lru>][+<policy>]:<test> <reason>
#
# plus "FAIL <kernel>:kernel-log <line>" when the kernel log shows an oops,
# BUG, WARNING, lockdep or KASAN report or a panic.  Exits non-zero if
# anything failed.  Everything lands in build/results/<tag>/:
#   console.log       the full serial console
#   results.txt       the lines above
#   <test>/<file>     artifacts the tests wrote to $MEMCG_EXT_ARTIFACTS
#                     (<test>/subtests.tap: kselftest TAP, reported per
#                     subtest as <label>:<test>/<subtest>)
#   vm/dmesg.txt      the kernel log at the end of the run
#
# usage: testbed/run-vm.sh --kernel stock|memcg_ext|debug --tests "t1 t2 ..."
#            [--lru mglru|classic] [--policy NAME] [--timeout SECONDS]
#            [--test-timeout SECONDS] [--mem 2G] [--tag NAME]
#            [--append "EXTRA KERNEL ARGS"] [--verbose]
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"

usage() { sed -n '/^# usage:/,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0" >&2; exit 2; }

kernel='' tests='' lru='' policy='' timeout=600 ttimeout='' mem=2G tag='' extra='' verbose=0
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--tests) tests=$2; shift ;;
	--lru) lru=$2; shift ;;
	--policy) policy=$2; shift ;;
	--timeout) timeout=$2; shift ;;
	--test-timeout) ttimeout=$2; shift ;;
	--mem) mem=$2; shift ;;
	--tag) tag=$2; shift ;;
	--append) extra=$2; shift ;;
	--verbose|-v) verbose=1 ;;
	-h|--help) usage ;;
	*) echo "unknown argument '$1'" >&2; usage ;;
	esac
	shift
done
case $kernel in stock|memcg_ext|debug) ;; *) usage ;; esac
case $lru in ''|mglru|classic) ;; *) die "--lru must be mglru or classic" ;; esac
[ -n "$tests" ] || die "no --tests given"
case $timeout in ''|*[!0-9]*) die "--timeout wants seconds" ;; esac
tests=$(echo "$tests" | tr ', ' '\n\n' | sed '/^$/d')
for t in $tests; do
	case $t in
	bench_*) [ -x "$REPO/bench/${t#bench_}/vm-test" ] || die "no benchmark bench/${t#bench_}/vm-test" ;;
	*) [ -x "$REPO/tests/vm/$t" ] || die "no test tests/vm/$t" ;;
	esac
done

label=$kernel${lru:+/$lru}${policy:+ +$policy}
label=${label// /}
tag=${tag:-$kernel${lru:+-$lru}${policy:+-$policy}}
case $tag in *[!A-Za-z0-9._+-]*|.*) die "bad --tag '$tag'" ;; esac

kdir=$BUILD/kernels/$kernel
[ -f "$kdir/bzImage" ] || die "no $kdir/bzImage: run scripts/kernel-build.sh $kernel"
"$REPO/testbed/mkinitramfs.sh" "$kernel"
initrd=$BUILD/initramfs-$kernel.cpio.gz

res=$BUILD/results/$tag
rm -rf "$res"
mkdir -p "$res"

cmdline="console=ttyS0 panic=-1 memcg_ext.kernel=$kernel"
cmdline+=" memcg_ext.tests=$(echo $tests | tr ' ' ,) memcg_ext.artifacts=ttyS1"
[ -n "$lru" ] && cmdline+=" memcg_ext.lru=$lru"
[ -n "$policy" ] && cmdline+=" memcg_ext.policy=$policy"
[ -n "$ttimeout" ] && cmdline+=" memcg_ext.timeout=$ttimeout"
[ -n "$extra" ] && cmdline+=" $extra"

qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m "$mem"
	-nographic -no-reboot -serial mon:stdio -serial "file:$res/ttyS1.raw"
	-kernel "$kdir/bzImage" -initrd "$initrd" -append "$cmdline")
echo "${qemu[*]}" > "$res/qemu-cmdline.txt"
log "vm $tag: booting $kernel, tests: $(echo $tests)"
start=$SECONDS
set +e
if [ $verbose = 1 ]; then
	timeout -s KILL "$timeout" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' | tee "$res/console.log"
	qrc=${PIPESTATUS[0]}
else
	timeout -s KILL "$timeout" "${qemu[@]}" </dev/null 2>&1 | tr -d '\r' > "$res/console.log"
	qrc=${PIPESTATUS[0]}
fi
set -e
elapsed=$((SECONDS - start))
log "vm $tag: qemu exited with $qrc after ${elapsed}s"

# Artifacts: "@@FILE test/path", base64, "@@END" on the artifact port (or on
# the console, when a test bed without the second port produced them).
extract() {
	awk -v dir="$res" '
	/^@@FILE / {
		name = $2
		if (name ~ /(^|\/)\.\.(\/|$)/ || name ~ /^\//) { name = ""; next }
		out = dir "/" name ".b64"; n = split(name, parts, "/")
		path = dir; for (i = 1; i < n; i++) { path = path "/" parts[i]; system("mkdir -p \"" path "\"") }
		printf "" > out
		next
	}
	/^@@END/ { if (out != "") close(out); out = ""; next }
	out != "" { print > out }
	' "$1"
}
tr -d '\r' < "$res/ttyS1.raw" > "$res/artifacts.raw" 2>/dev/null || : > "$res/artifacts.raw"
rm -f "$res/ttyS1.raw"
extract "$res/artifacts.raw"
grep -q '^@@FILE ' "$res/console.log" && extract "$res/console.log"
find "$res" -name '*.b64' | while read -r f; do
	base64 -d "$f" > "${f%.b64}" 2>/dev/null || echo "warning: corrupt artifact ${f#$res/}" >&2
	rm -f "$f"
done

# Results: from the artifact port (clean lines), else from the console.
src=$res/artifacts.raw
grep -q '^@@RESULT ' "$src" || src=$res/console.log
: > "$res/results.txt"
report() { echo "$*" | tee -a "$res/results.txt"; }
failed=0
declare -A seen=()
while read -r _ name st reason; do
	case $st in PASS|SKIP) ;; *) st=FAIL; failed=1 ;; esac
	seen[$name]=1
	report "$st $label:$name $reason"
done < <(grep -a '^@@RESULT ' "$src")
# A test that saves its kselftest TAP output as the artifact subtests.tap
# gets one line per subtest as well: "<label>:<test>/<subtest>".
for t in $tests; do
	tap=$res/$t/subtests.tap
	[ -f "$tap" ] || continue
	while read -r st sub reason; do
		[ "$st" = FAIL ] && failed=1
		report "$st $label:$t/$sub${reason:+ $reason}"
	done < <(awk '
		/^ok [0-9]+ .*# SKIP/ { n = $3; sub(/^global\./, "", n); r = $0;
			sub(/.*# SKIP */, "", r); print "SKIP", n, r; next }
		/^ok [0-9]+ /     { n = $3; sub(/^global\./, "", n); print "PASS", n; next }
		/^not ok [0-9]+ / { n = $4; sub(/^global\./, "", n); print "FAIL", n; next }
	' "$tap")
done
done_seen=0
grep -aq '^@@DONE' "$src" "$res/console.log" && done_seen=1
if [ $qrc = 137 ]; then
	why="no result: VM killed after ${timeout}s timeout"
elif [ $done_seen = 0 ]; then
	why="no result: VM stopped before the end (qemu status $qrc)"
else
	why="no result"
fi
for t in $tests; do
	if [ -z "${seen[$t]:-}" ]; then
		report "FAIL $label:$t $why"
		failed=1
	fi
done
if [ $done_seen = 0 ] && [ $qrc != 137 ]; then
	report "FAIL $label:vm $why"
	failed=1
elif [ $qrc = 137 ]; then
	report "FAIL $label:vm timeout after ${timeout}s"
	failed=1
fi

# Kernel log: the console minus the tests' own (prefixed) output and the
# protocol lines, plus the dmesg the VM saved at the end.
pattern='Oops|BUG:|WARNING:|possible circular locking|INFO: possible recursive locking'
pattern+='|inconsistent lock state|suspicious RCU usage|BUG: KASAN|Kernel panic'
# "Call Trace:" alone is not a failure: every OOM kill report has one, and
# the warnings and bugs that carry one are matched by their first line.
pattern+='|general protection fault|INFO: task .* blocked for more than'
pattern+='|watchdog: BUG: soft lockup|rcu: INFO: rcu_.* detected stalls'
testnames=$(printf '%s\n' $tests policy | sed 's/[].[^$*\\/]/\\&/g' | paste -sd'|')
bad=$( { grep -avE "^(\[($testnames)\] |@@)" "$res/console.log";
	[ -f "$res/vm/dmesg.txt" ] && cat "$res/vm/dmesg.txt"; } |
	grep -aE "$pattern" | head -n1 || true)
if [ -n "$bad" ]; then
	report "FAIL $kernel:kernel-log $bad"
	failed=1
fi
log "vm $tag: results in ${res#$REPO/}/ (${elapsed}s)"
exit $failed
