#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the kernel's cgroup memory selftests (test_memcontrol, test_kmem,
# test_zswap) as static binaries for the test VM, into build/kselftests/.
# The memcg_ext series does not touch tools/testing/selftests/cgroup, so the
# pristine tarball's copy is the source for every kernel variant.
# Cached under $CACHE/kselftests/<source version>-<script hash>.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/tools-src.sh"

TESTS=(test_memcontrol test_kmem test_zswap)

pkgver=$(tools_src_version) || die "$KSRC_PKG is not installed (run scripts/deps.sh)"
key=$( { echo "$pkgver"; cat "$0" "$(dirname "$0")/tools-src.sh"; } | sha256sum | cut -c1-12)
out=$CACHE/kselftests/$pkgver-$key

link() {
	mkdir -p "$BUILD"
	ln -sfn "$out" "$BUILD/kselftests"
}

if [ -f "$out/.complete" ]; then
	link
	log "kselftests: cached ($out)"
	exit 0
fi

src=$(tools_src)
sdir=$src/tools/testing/selftests
export CCACHE_BASEDIR=$CACHE CCACHE_NOHASHDIR=1
tmp=$out.tmp.$$
rm -rf "$tmp" && mkdir -p "$tmp/obj"
start=$SECONDS

# Same flags as the selftests' lib.mk (-D_GNU_SOURCE, -Wall -pthread), with
# the system uapi headers (nothing newer is needed by these three), linked
# statically for the busybox initramfs.  No -O: like lib.mk, build at -O0.
# The tests touch malloc()ed buffers they never read and free; an optimizing
# compiler deletes those stores (and the allocation), so alloc_anon() never
# allocates and the OOM tests "fail".
cflags=(-g -Wall -D_GNU_SOURCE= -pthread
	-I"$sdir" -I"$sdir/cgroup")
ccache gcc "${cflags[@]}" -c "$sdir/cgroup/cgroup_util.c" -o "$tmp/obj/cgroup_util.o"
# The tests fork (cg_run) and the children exit(): with stdout fully
# buffered, as it is into a file or pipe, each child flushes a copy of the
# parent's pending TAP lines.  Line-buffer stdout before main() runs.
cat > "$tmp/obj/linebuf.c" <<'EOC'
// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>

__attribute__((constructor)) static void linebuf(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}
EOC
gcc -O2 -Wall -c "$tmp/obj/linebuf.c" -o "$tmp/obj/linebuf.o"
for t in "${TESTS[@]}"; do
	log "kselftests: building $t"
	ccache gcc "${cflags[@]}" -c "$sdir/cgroup/$t.c" -o "$tmp/obj/$t.o"
	# getaddrinfo("localhost") in test_memcontrol works statically with
	# the /etc/hosts of the initramfs (glibc's files backend is built in).
	gcc -static -pthread -o "$tmp/$t" "$tmp/obj/$t.o" "$tmp/obj/cgroup_util.o" \
		"$tmp/obj/linebuf.o"
done
rm -rf "$tmp/obj"
touch "$tmp/.complete"
rm -rf "$out" && mv "$tmp" "$out"
link
log "kselftests: built in $((SECONDS - start))s ($out)"
