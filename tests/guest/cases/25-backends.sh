#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Switching backends: refused while areas are live; the same requests
# land at the same addresses on every backend.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"


# A fixed script of requests: sizes, alignments, windows, top-down, frees.
script() {
	local -a a=()
	a+=("$(ctl alloc 12K)") a+=("$(ctl alloc 1)") a+=("$(ctl alloc 64K align=64K)")
	a+=("$(ctl alloc 4K top)") a+=("$(ctl alloc 2M align=1M top)")
	a+=("$(ctl alloc 8K vstart=+1M vend=+2M)") a+=("$(ctl alloc 8K vstart=+1M vend=+2M top)")
	ctl free "${a[1]}" >/dev/null
	ctl free "${a[3]}" >/dev/null
	a+=("$(ctl alloc 4K)") a+=("$(ctl alloc 3K top)") a+=("$(ctl alloc 20K align=16K)")
	ctl free "${a[0]}" >/dev/null
	a+=("$(ctl alloc 8K)") a+=("$(ctl alloc 16K)")
}

kvs_load arena_size=64M
ref=""
for be in $KVS_BACKENDS; do
	if ! kc backend "$be"; then
		tap_not_ok "switch to $be" "$KC_OUT"
		continue
	fi
	script
	got=$(sed "s/ $be / BE /" "$KVS_DIR/areas")
	if [ -z "$ref" ]; then
		ref=$got
		tap_ok "$be: reference layout of $(echo "$got" | wc -l) areas"
	elif [ "$got" = "$ref" ]; then
		tap_ok "$be: same addresses as maple"
	else
		tap_not_ok "$be: same addresses as maple" "$(diff <(echo "$ref") <(echo "$got"))"
	fi
	if [ "$(kvs_stat backend)" = "$be" ]; then
		tap_ok "$be: stats name the backend"
	else
		tap_not_ok "$be: stats name the backend" "$(kvs_stat backend)"
	fi
	check_ok "$be after the script"
	expect_errno "$be: switching with live areas" "$EBUSY" backend maple
	ctl free all >/dev/null
	if [ "$(kvs_stat largest_free_hole)" = $((64 << 20)) ]; then
		tap_ok "$be: free all restores the whole arena"
	else
		tap_not_ok "$be: free all restores the whole arena" "$(kvs_stat largest_free_hole)"
	fi
done
expect_errno "unknown backend" "$ENOENT" backend btree
kvs_unload

for be in $KVS_BACKENDS; do
	if kvs_load arena_size=64M backend="$be" && [ "$(kvs_stat backend)" = "$be" ]; then
		tap_ok "load with backend=$be"
	else
		tap_not_ok "load with backend=$be"
	fi
done
kvs_unload
