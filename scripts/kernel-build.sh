#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build one test-bed kernel: stock | memcg_ext | debug.
#
#   stock      pristine linux-source-6.12, kernel/config/memcg_ext.config
#   memcg_ext  the series in kernel/patches applied, + series.config
#   debug      memcg_ext + debug.config (lockdep, DEBUG_VM, KASAN)
#
# Outputs are cached under $CACHE/kernels/<hash of source version, series,
# config, this script> so an unchanged series never rebuilds; build/kernels/
# <variant> links to the cached result (bzImage, vmlinux, .config).
set -euo pipefail
. "$(dirname "$0")/common.sh"

variant=${1:?usage: kernel-build.sh stock|memcg_ext|debug}
frags=("$REPO/kernel/config/memcg_ext.config")
patches=()
case $variant in
stock) ;;
memcg_ext) frags+=("$REPO/kernel/config/series.config") ;;
debug) frags+=("$REPO/kernel/config/series.config" "$REPO/kernel/config/debug.config") ;;
*) die "unknown variant '$variant' (stock|memcg_ext|debug)" ;;
esac
if [ "$variant" != stock ]; then
	mapfile -t patches < <(ls "$REPO"/kernel/patches/[0-9][0-9][0-9][0-9]-*.patch 2>/dev/null | grep -v /0000-)
fi

pkgver=$(dpkg-query -W -f='${Version}' "$KSRC_PKG" 2>/dev/null) ||
	die "$KSRC_PKG is not installed (run scripts/deps.sh)"
case $pkgver in "$KSRC_VERSION"-*) ;; *) die "expected $KSRC_PKG $KSRC_VERSION, found $pkgver" ;; esac

key=$( { echo "$pkgver $variant"; cat "$0" "${frags[@]}"; for p in "${patches[@]}"; do
	sed '/^index [0-9a-f]*\.\.[0-9a-f]*/d' "$p"; done; } | sha256sum | cut -c1-16)
out=$CACHE/kernels/$variant-$key
mkdir -p "$BUILD/kernels"
if [ -f "$out/bzImage" ]; then
	ln -sfn "$out" "$BUILD/kernels/$variant"
	log "kernel $variant: cached ($out)"
	exit 0
fi

src=$CACHE/src/$variant
log "kernel $variant: preparing $src"
rm -rf "$src"
mkdir -p "$src"
tar -C "$src" --strip-components=1 -xf "$KSRC_TARBALL"
grep -q "^SUBLEVEL = ${KSRC_VERSION##*.}$" "$src/Makefile" || die "tarball is not $KSRC_VERSION"
for p in "${patches[@]}"; do
	patch -d "$src" -p1 -s --no-backup-if-mismatch -F0 < "$p" || die "patch $(basename "$p") does not apply"
done

kmake() { make -C "$src" -s -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }
export CCACHE_BASEDIR=$CACHE/src CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
kmake tinyconfig >/dev/null
(cd "$src" && KCONFIG_CONFIG=.config scripts/kconfig/merge_config.sh -m .config "${frags[@]}" >/dev/null)
kmake olddefconfig >/dev/null
"$REPO/scripts/kconfig-check.sh" "$src/.config" "${frags[@]}"

log "kernel $variant: building ($JOBS jobs)"
start=$SECONDS
kmake bzImage
log "kernel $variant: built in $((SECONDS - start))s"

tmp=$out.tmp.$$
rm -rf "$tmp" && mkdir -p "$tmp"
cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$src/.config" "$tmp/"
echo "$pkgver" > "$tmp/version"
rm -rf "$out" && mv "$tmp" "$out"
ln -sfn "$out" "$BUILD/kernels/$variant"
