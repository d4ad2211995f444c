#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Windows: [vstart, vend) bounds the whole reservation, guard included.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=256M
base=$(arena_base)
end=$(arena_end)
M=$((1 << 20))

addr=$(ctl alloc 64K vstart=+1M vend=+2M)
if [ $((addr)) -eq $((base + M)) ]; then
	tap_ok "window +1M..+2M: lowest fit at its start ($addr)"
else
	tap_not_ok "window +1M..+2M: lowest fit at its start" "got $addr"
fi
addr=$(ctl alloc 64K vstart=+1M vend=+2M top)
if [ $((addr)) -eq $((base + 2 * M - 65536 - 4096)) ]; then
	tap_ok "window +1M..+2M top-down: highest fit below its end ($addr)"
else
	tap_not_ok "window +1M..+2M top-down" "got $addr"
fi
ctl free all >/dev/null
addr=$(ctl alloc 4K vstart="$(hex "$base")" vend=+8K)
if [ $((addr)) -eq "$base" ]; then
	tap_ok "window touching the arena start ($addr)"
else
	tap_not_ok "window touching the arena start" "got $addr"
fi
addr=$(ctl alloc 4K vstart="$(hex $((end - 8192)))" vend="$(hex "$end")")
if [ $((addr)) -eq $((end - 8192)) ]; then
	tap_ok "window touching the arena end ($addr)"
else
	tap_not_ok "window touching the arena end" "got $addr"
fi
expect_errno "a full 8K window refuses a second area" "$ENOMEM" alloc 4K vstart="$(hex $((end - 8192)))" vend="$(hex "$end")"
expect_errno "window too small for area plus guard" "$ERANGE" alloc 8K vstart=+1M vend="$(hex $((base + M + 8192)))"
expect_errno "inverted window" "$EINVAL" alloc 4K vstart=+2M vend=+1M
expect_errno "empty window" "$EINVAL" alloc 4K vstart=+2M vend=+2M
expect_errno "window below the arena" "$ERANGE" alloc 4K vstart="$(hex $((base - 8192)))" vend=+8K
expect_errno "window past the arena" "$ERANGE" alloc 4K vstart=+1M vend=+512M
expect_errno "vstart without vend" "$EINVAL" alloc 4K vstart=+1M

# When size + align - 1 exceeds the window only one aligned start can
# exist in it; that candidate is taken if free.
x=$(( (base + 8 * M + 2 * M - 1) & ~(2 * M - 1) ))
addr=$(ctl alloc 2M align=2M vstart="$(hex "$x")" vend="$(hex $((x + 2 * M + 4096)))")
if [ $((addr)) -eq "$x" ]; then
	tap_ok "exact-size aligned window takes its one candidate ($addr)"
else
	tap_not_ok "exact-size aligned window takes its one candidate" "got $addr want $(hex "$x")"
fi
expect_errno "the candidate taken, the same window is full" "$ENOMEM" alloc 2M align=2M vstart="$(hex "$x")" vend="$(hex $((x + 2 * M + 4096)))"
expect_errno "no 2M-aligned start fits a 2M window off alignment" "$ERANGE" alloc 2M align=2M vstart="$(hex $((x + 4096)))" vend="$(hex $((x + 4 * M)))"
check_ok "after window allocations"
kvs_unload
