#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Set up a git tree of the kernel with the memcg_ext series as commits, for
# editing the series:  scripts/kernel-tree.sh [DIR]   (default $CACHE/dev)
# Edit with ordinary git (commit --fixup, rebase -i), then regenerate the
# patch files with scripts/kernel-export.sh.
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=${1:-$CACHE/dev}
[ -e "$dir" ] && die "$dir exists; remove it or pass another directory"
mkdir -p "$dir"
tar -C "$dir" --strip-components=1 -xf "$KSRC_TARBALL"
cd "$dir"
git init -q -b memcg_ext
git config user.name "${GIT_AUTHOR_NAME:-memcg_ext developers}"
git config user.email "${GIT_AUTHOR_EMAIL:-memcg-ext@users.noreply.example}"
# Build outputs stay out of the history.
cat >> .git/info/exclude <<'EOT'
*.o
*.cmd
EOT
# Debian's source package ignores every top-level entry (/*): drop that
# rule so that new files of the series can be tracked.
sed -i '/^# Debian packaging/,/^!\/debian\/$/d' .gitignore
git add -A >/dev/null
git commit -q -m "Linux $KSRC_VERSION ($KSRC_PKG)"
git tag pristine
shopt -s nullglob
patches=("$REPO"/kernel/patches/[0-9][0-9][0-9][0-9]-*.patch)
for p in "${patches[@]}"; do
	case $p in */0000-*) continue ;; esac
	git am -q --keep-cr "$p" || die "git am $(basename "$p") failed"
done
log "kernel tree ready at $dir (branch memcg_ext, base tag 'pristine')"
