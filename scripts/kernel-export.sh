#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate kernel/patches/ from a tree made by kernel-tree.sh:
#   scripts/kernel-export.sh [DIR]
# The cover letter's subject and text come from kernel/cover-letter.txt
# (first line: subject; then a blank line and the body).
set -euo pipefail
. "$(dirname "$0")/common.sh"

dir=${1:-$CACHE/dev}
cd "$dir"
git rev-parse -q --verify pristine >/dev/null || die "$dir has no 'pristine' tag"
git config branch.memcg_ext.description "$(cat "$REPO/kernel/cover-letter.txt")"
out=$REPO/kernel/patches
rm -f "$out"/[0-9][0-9][0-9][0-9]-*.patch
git format-patch -q --zero-commit --no-signature --cover-letter \
	--cover-from-description=subject --subject-prefix="RFC PATCH" \
	-o "$out" pristine..memcg_ext
ls "$out"
if [ -x scripts/checkpatch.pl ]; then
	for p in "$out"/[0-9][0-9][0-9][0-9]-*.patch; do
		case $p in */0000-*) continue ;; esac
		scripts/checkpatch.pl --quiet --no-tree --strict "$p" ||
			echo "checkpatch: $(basename "$p") has findings" >&2
	done
fi
