# SPDX-License-Identifier: GPL-2.0
# Shared settings for the memcg_ext build and test scripts. Sourced, not run.

# Where the kernel sources come from, and the version we build against.
KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz
KSRC_PKG=linux-source-6.12
KSRC_VERSION=6.12.117

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Kernel trees live at stable paths outside the checkout so that ccache hits
# across clones (debug info embeds source paths).
CACHE=${MEMCG_EXT_CACHE:-/var/tmp/memcg_ext}
BUILD=$REPO/build
JOBS=${JOBS:-$(nproc)}

CLANG=${CLANG:-clang-19}
LLVM_STRIP=${LLVM_STRIP:-llvm-strip-19}

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
