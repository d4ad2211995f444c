#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Exhaustion: fill a small arena, get ENOMEM, free everything, and the
# largest hole is the whole arena again.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=64M
n=0
while ctl alloc 1M >/dev/null 2>&1; do
	n=$((n + 1))
	[ $n -le 100 ] || break
done
# Each area takes 1M plus a 4K guard page: 63 fit in 64M.
if [ $n -eq 63 ]; then
	tap_ok "64M arena holds 63 areas of 1M+guard"
else
	tap_not_ok "64M arena holds 63 areas of 1M+guard" "got $n"
fi
expect_errno "the full arena refuses 1M" "$ENOMEM" alloc 1M
hole=$(kvs_stat largest_free_hole)
if [ "$hole" = $((64 * 1048576 - 63 * (1048576 + 4096))) ]; then
	tap_ok "largest hole is the tail left over ($hole bytes)"
else
	tap_not_ok "largest hole is the tail left over" "got $hole"
fi
small=0
while ctl alloc 4K >/dev/null 2>&1; do
	small=$((small + 1))
	[ $small -le 200 ] || break
done
# The tail is 193 pages: 96 areas of a page plus a guard, one page left.
if [ "$(kvs_stat largest_free_hole)" = 4096 ] && [ "$small" = 96 ]; then
	tap_ok "the tail takes 96 more 4K areas, leaving one page"
else
	tap_not_ok "the tail fills with 4K areas" "hole $(kvs_stat largest_free_hole), $small areas"
fi
check_ok "full arena"
if [ "$(kvs_stat fail_enomem)" -ge 2 ]; then
	tap_ok "stats count ENOMEM failures ($(kvs_stat fail_enomem))"
else
	tap_not_ok "stats count ENOMEM failures" "$(kvs_stat fail_enomem)"
fi
out=$(ctl free all)
if [ "$out" = "freed $((63 + small))" ] && [ "$(kvs_stat largest_free_hole)" = $((64 << 20)) ]; then
	tap_ok "free all ($out): the hole is the whole arena again"
else
	tap_not_ok "free all: the hole is the whole arena again" "$out" "$(kvs_stat largest_free_hole)"
fi
check_ok "after free all"
expect_errno "an area as large as the arena cannot have its guard page" "$ERANGE" alloc 64M
ok_if "an area of the arena less one guard page fits" ctl alloc 65532K
check_ok "arena holding one maximal area"
kvs_unload
