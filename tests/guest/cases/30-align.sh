#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every power-of-two alignment from 4 KiB to 1 GiB, on a fragmented arena.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=4G
# Fragment the bottom so that alignment has to skip occupied space.
ctl alloc 4K >/dev/null
ctl alloc 20K >/dev/null

bad=""
for shift in $(seq 12 30); do
	align=$((1 << shift))
	addr=$(ctl alloc 4K align=$align) || { bad="$bad $align:failed"; continue; }
	if [ $(( addr & (align - 1) )) -ne 0 ]; then
		bad="$bad $align:$addr"
	fi
	ctl free "$addr" >/dev/null || bad="$bad $align:free"
done
if [ -z "$bad" ]; then
	tap_ok "alloc 4K with align=4K..1G: every address aligned and freed"
else
	tap_not_ok "alloc 4K with align=4K..1G" "failures:$bad"
fi

# Kept live at once: each aligned area is placed above the previous ones.
bad=""
for shift in 13 16 21 25 30; do
	align=$((1 << shift))
	addr=$(ctl alloc 8K align=$align top) || { bad="$bad top:$align:failed"; continue; }
	[ $(( addr & (align - 1) )) -eq 0 ] || bad="$bad top:$align:$addr"
done
if [ -z "$bad" ]; then
	tap_ok "top-down aligned areas, all kept live"
else
	tap_not_ok "top-down aligned areas" "failures:$bad"
fi
check_ok "after aligned allocations"
expect_errno "align=3 is not a power of two" "$EINVAL" alloc 4K align=3
expect_errno "align=8G exceeds a 4G arena" "$ERANGE" alloc 4K align=8G
ctl free all >/dev/null
addr=$(ctl alloc 2G align=1G)
if [ -n "$addr" ] && [ $(( addr & ((1 << 30) - 1) )) -eq 0 ]; then
	tap_ok "alloc 2G align=1G in a 4G arena ($addr)"
else
	tap_not_ok "alloc 2G align=1G in a 4G arena" "got '$addr'"
fi
check_ok "after large aligned allocations"
kvs_unload
