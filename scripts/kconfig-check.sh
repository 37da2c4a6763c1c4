#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Verify that every option requested by the config fragments survived
# olddefconfig: Kconfig silently drops options whose dependencies are missing.
set -euo pipefail
config=$1; shift
bad=0
while IFS= read -r line; do
	case $line in
	CONFIG_*=n)
		opt=${line%%=*}
		if grep -q "^$opt=" "$config"; then echo "kconfig: $opt should be off" >&2; bad=1; fi ;;
	CONFIG_*=*)
		if ! grep -qx "$line" "$config"; then
			echo "kconfig: wanted $line, got '$(grep "^${line%%=*}=" "$config" || echo unset)'" >&2
			bad=1
		fi ;;
	esac
done < <(cat "$@")
exit $bad
