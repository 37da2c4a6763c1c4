#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Check the kernel series the way a maintainer would: checkpatch on every
# patch, and every patch builds (bisectability), with the memcg_ext config;
# see below for what is built after each patch. Prints PASS/FAIL lines. The result is cached by the
# hash of the series and the config, so an unchanged series is not rebuilt.
set -uo pipefail
. "$(dirname "$0")/common.sh"
. "$(dirname "$0")/tools-src.sh"

mapfile -t patches < <(ls "$REPO"/kernel/patches/[0-9][0-9][0-9][0-9]-*.patch | grep -v /0000-)
[ ${#patches[@]} -gt 0 ] || die "no patches in kernel/patches"
frags=("$REPO/kernel/config/memcg_ext.config" "$REPO/kernel/config/series.config")
key=$(cat "$0" "${frags[@]}" "${patches[@]}" | sha256sum | cut -c1-16)
stamp=$CACHE/series-check/$key.results
if [ -f "$stamp" ]; then
	sed 's/$/ (cached)/' "$stamp"
	grep -q '^FAIL' "$stamp" && exit 1
	exit 0
fi

src=$CACHE/src/series
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rm -rf "$src" && mkdir -p "$src"
tar -C "$src" --strip-components=1 -xf "$KSRC_TARBALL"
export CCACHE_BASEDIR=$CACHE/src CCACHE_NOHASHDIR=1
kmake() { make -C "$src" -s -j"$JOBS" CC="ccache gcc" HOSTCC="ccache gcc" "$@"; }

for p in "${patches[@]}"; do
	name=$(basename "$p" .patch)
	if perl "$src/scripts/checkpatch.pl" --quiet --no-tree --strict "$p" >"$out.cp" 2>&1; then
		echo "PASS series:checkpatch/$name"
	else
		echo "FAIL series:checkpatch/$name $(grep -m1 -E '^(ERROR|WARNING|CHECK)' "$out.cp")"
		cat "$out.cp" >&2
	fi
done | tee -a "$out"

# Every patch must build. The last one is built whole (bzImage); for the
# ones before it, the objects of every C file the patch touches are built
# after a full prepare of the tree, which catches what a patch breaks in
# the files it changes without rebuilding the whole kernel per patch
# (most patches touch headers every object includes). A header change
# that breaks a file the patch does not touch is only caught at the last
# patch.
last=${patches[${#patches[@]}-1]}
for p in "${patches[@]}"; do
	name=$(basename "$p" .patch)
	if ! patch -d "$src" -p1 -s --no-backup-if-mismatch -F0 <"$p"; then
		echo "FAIL series:build/$name does not apply" | tee -a "$out"
		break
	fi
	# Re-merge every time: series.config options appear with the patch
	# that adds them.
	kmake tinyconfig >/dev/null &&
		(cd "$src" && scripts/kconfig/merge_config.sh -m .config "${frags[@]}" >/dev/null 2>&1) &&
		kmake olddefconfig >/dev/null || { echo "FAIL series:build/$name config" | tee -a "$out"; continue; }
	if [ "$p" = "$last" ]; then
		targets=(bzImage)
	else
		mapfile -t targets < <(sed -n 's|^+++ b/\(.*\)\.c$|\1.o|p' "$p" | sort -u)
		targets=(prepare "${targets[@]}")
	fi
	log "series: building ${targets[*]} with $name applied"
	if kmake "${targets[@]}" >"$out.build" 2>&1 && ! grep -q 'warning:' "$out.build"; then
		echo "PASS series:build/$name" | tee -a "$out"
	else
		echo "FAIL series:build/$name $(grep -m1 -E 'error|warning' "$out.build")" | tee -a "$out"
		tail -20 "$out.build" >&2
	fi
done

rm -rf "$src"
grep -q '^FAIL' "$out" && exit 1
mkdir -p "$(dirname "$stamp")"
cp "$out" "$stamp"
