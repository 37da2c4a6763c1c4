#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build libbpf (static) and bpftool from the kernel tarball's tools/, since
# Debian's libbpf is too old for 6.12 features.  Output:
#   build/tools/lib/libbpf.a
#   build/tools/include/bpf/*.h
#   build/tools/bin/bpftool
# Cached under $CACHE/tools/<source version>-<script hash>: a rebuild with
# unchanged sources is a no-op.
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/tools-src.sh"

pkgver=$(tools_src_version) || die "$KSRC_PKG is not installed (run scripts/deps.sh)"
key=$( { echo "$pkgver"; cat "$0" "$(dirname "$0")/tools-src.sh"; } | sha256sum | cut -c1-12)
out=$CACHE/tools/$pkgver-$key

link() {
	mkdir -p "$BUILD"
	ln -sfn "$out" "$BUILD/tools"
}

if [ -x "$out/bin/bpftool" ] && [ -f "$out/lib/libbpf.a" ]; then
	link
	log "tools: cached ($out)"
	exit 0
fi

src=$(tools_src)
export CCACHE_BASEDIR=$CACHE CCACHE_NOHASHDIR=1
tmp=$out.tmp.$$
obj=$tmp/obj
rm -rf "$tmp" && mkdir -p "$obj/libbpf" "$obj/bpftool"
start=$SECONDS

log "tools: building libbpf"
# The static archive only (the shared library would double the build),
# then the public headers, bpf_helper_defs.h included.
make -C "$src/tools/lib/bpf" -s -j"$JOBS" CC="ccache gcc" \
	OUTPUT="$obj/libbpf/" "$obj/libbpf/libbpf.a" >/dev/null
make -C "$src/tools/lib/bpf" -s CC="ccache gcc" OUTPUT="$obj/libbpf/" \
	DESTDIR="$tmp" prefix= install_headers >/dev/null
install -D -m 0644 "$obj/libbpf/libbpf.a" "$tmp/lib/libbpf.a"

# bpftool: the LLVM disassembler would be picked up from the system's
# llvm-config (LLVM 14), which does not match clang-19; bfd is not needed
# either.  Forcing the feature results off keeps the build deterministic.
# CLANG is used for bpftool's own BPF skeletons (pids, profiler).
log "tools: building bpftool"
make -C "$src/tools/bpf/bpftool" -s -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" \
	CLANG="$CLANG" LLVM_STRIP="$LLVM_STRIP" \
	feature-llvm=0 feature-libbfd=0 feature-libbfd-liberty=0 \
	feature-libbfd-liberty-z=0 feature-disassembler-four-args=0 \
	feature-disassembler-init-styled=0 \
	OUTPUT="$obj/bpftool/" >/dev/null
install -D -m 0755 "$obj/bpftool/bpftool" "$tmp/bin/bpftool"
"$tmp/bin/bpftool" version >/dev/null || die "built bpftool does not run"

rm -rf "$obj"
rm -rf "$out" && mv "$tmp" "$out"
link
log "tools: built in $((SECONDS - start))s ($out)"
