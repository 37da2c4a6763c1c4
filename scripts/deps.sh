#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the build, the test bed and the benchmarks need.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PKGS=(linux-source-6.12 clang-19 llvm-19 lld-19 dwarves libelf-dev zlib1g-dev
      libzstd-dev libcap-dev bc flex bison libssl-dev ccache xz-utils cpio lz4
      busybox-static qemu-system-x86 libjson-c-dev gcc make python3
      libyaml-dev)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
[ "$(id -u)" = 0 ] || SUDO=sudo
${SUDO:-} apt-get update -q
DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -q --no-install-recommends "${missing[@]}"
