#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test VM's initramfs: build/initramfs-<variant>.cpio.gz
#
#   /bin/busybox + applet links     static busybox (busybox-static)
#   /init                           testbed/init
#   /opt/memcg_ext/bin/             build/bin/* (static test and policy binaries),
#                                   + dirs in $MEMCG_EXT_EXTRA_BIN
#   /opt/memcg_ext/kselftests/      build/kselftests/* (static cgroup selftests;
#                                   $MEMCG_EXT_KSELFTESTS_DIR overrides)
#   /tests/                         tests/vm/*
#   /etc/memcg_ext/variant          the variant, default of memcg_ext.kernel=
#   /etc/memcg_ext/policies/        agent/policies/*.yaml (host agent policies)
#
# usage: testbed/mkinitramfs.sh [stock|memcg_ext|debug]
set -euo pipefail
. "$(dirname "$0")/../scripts/common.sh"

variant=${1:-stock}
case $variant in stock|memcg_ext|debug) ;; *) die "unknown variant '$variant'" ;; esac
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "no $busybox (install busybox-static)"
file -L "$busybox" | grep -q 'statically linked' || die "$busybox is not static"

out=$BUILD/initramfs-$variant.cpio.gz
stage=$(mktemp -d "${TMPDIR:-/tmp}/initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin etc/memcg_ext proc sys dev tmp run root \
	opt/memcg_ext/bin opt/memcg_ext/kselftests tests
install -m 0755 "$busybox" bin/busybox
# Applet links, at the paths busybox itself reports.
"$busybox" --list-full | while read -r a; do
	[ -e "$a" ] || ln -s /bin/busybox "$a"
done
install -m 0755 "$REPO/testbed/init" init
echo "$variant" > etc/memcg_ext/variant
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > etc/passwd
printf 'root:x:0:\nnogroup:x:65534:\n' > etc/group
printf '127.0.0.1\tlocalhost\n' > etc/hosts
printf 'passwd: files\ngroup: files\nhosts: files\n' > etc/nsswitch.conf

# Static binaries only: the initramfs has no dynamic loader or libraries.
copy_bins() { # SRC DST
	local f
	[ -d "$1" ] || return 0
	for f in "$1"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		if file -L "$f" | grep -q 'ELF.*dynamically linked'; then
			die "$f is dynamically linked; link it with -static"
		fi
		install -m 0755 "$f" "$2/"
	done
}
copy_bins "$BUILD/bin" opt/memcg_ext/bin
# Extra binaries for local experiments (not used by CI).
for d in ${MEMCG_EXT_EXTRA_BIN:-}; do copy_bins "$d" opt/memcg_ext/bin; done
copy_bins "${MEMCG_EXT_KSELFTESTS_DIR:-$BUILD/kselftests}" opt/memcg_ext/kselftests
# An empty ext4 file system with a journal, for tests that need jbd2
# (busybox mke2fs makes no journal): /opt/memcg_ext/ext4.img, loop-mount it.
# Made by the host's mkfs.ext4 (e2fsprogs), 96 MiB with inodes to spare.
mkfs_ext4=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)
if [ -x "$mkfs_ext4" ]; then
	rm -f opt/memcg_ext/ext4.img
	truncate -s 96M opt/memcg_ext/ext4.img
	"$mkfs_ext4" -q -F -N 20000 -E root_owner=0:0 opt/memcg_ext/ext4.img ||
		die "mkfs.ext4 failed"
fi
# Host agent policies: agent/policies/*.yaml -> /etc/memcg_ext/policies/
if [ -d "$REPO/agent/policies" ]; then
	mkdir -p etc/memcg_ext/policies
	cp "$REPO"/agent/policies/*.yaml etc/memcg_ext/policies/
fi
if [ -d "$REPO/tests/vm" ]; then
	cp -a "$REPO/tests/vm/." tests/
	chmod -R a+rX tests
fi
# Benchmarks: bench/<name>/*.sh -> /bench/<name>/, and bench/<name>/vm-test
# -> /tests/bench_<name> (run with --tests bench_<name>).
for d in "$REPO"/bench/*/; do
	[ -x "${d}vm-test" ] || continue
	n=$(basename "$d")
	mkdir -p "bench/$n"
	for f in "$d"*.sh; do
		if [ -f "$f" ]; then install -m 0755 "$f" "bench/$n/"; fi
	done
	install -m 0755 "${d}vm-test" "tests/bench_$n"
done

mkdir -p "$BUILD"
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$out.tmp.$$"
mv "$out.tmp.$$" "$out"
log "initramfs $variant: $out ($(du -h "$out" | cut -f1))"
