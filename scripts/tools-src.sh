# SPDX-License-Identifier: GPL-2.0
# Sourced after common.sh: extract the parts of the pristine kernel tarball
# that user-space tools (libbpf, bpftool, cgroup selftests) build from.
# The tree is keyed by the linux-source package version and never modified,
# so it is shared between scripts and survives kernel rebuilds.

# tools_src: print the path of the extracted tree, extracting it if needed.
tools_src() {
	local pkgver dir tmp
	pkgver=$(dpkg-query -W -f='${Version}' "$KSRC_PKG" 2>/dev/null) ||
		die "$KSRC_PKG is not installed (run scripts/deps.sh)"
	dir=$CACHE/tools-src/$pkgver
	if [ ! -f "$dir/.complete" ]; then
		log "extracting tools sources into $dir"
		tmp=$dir.tmp.$$
		rm -rf "$tmp" && mkdir -p "$tmp"
		# What tools/ reaches into outside of itself: uapi and generated
		# headers, kernel/bpf/disasm.c (bpftool), scripts/ (Makefile.include).
		tar -C "$tmp" --strip-components=1 -xJf "$KSRC_TARBALL" \
			linux-source-6.12/Makefile linux-source-6.12/tools \
			linux-source-6.12/include linux-source-6.12/kernel/bpf \
			linux-source-6.12/scripts linux-source-6.12/arch/x86/include \
			linux-source-6.12/arch/x86/entry/syscalls \
			linux-source-6.12/arch/x86/tools >&2
		touch "$tmp/.complete"
		rm -rf "$dir" && mv "$tmp" "$dir"
	fi
	echo "$dir"
}

# tools_src_version: the version key of the tools sources
tools_src_version() {
	dpkg-query -W -f='${Version}' "$KSRC_PKG"
}
