#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Allocation and free round trips on the default backend: first fit from
# the bottom, guard pages, top-down, stats and areas agree.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=1G
base=$(arena_base)
end=$(arena_end)

a1=$(ctl alloc 12K)
if [ $((a1)) -eq "$base" ]; then
	tap_ok "first area starts at the arena base ($a1)"
else
	tap_not_ok "first area starts at the arena base" "got $a1 base $(hex "$base")"
fi
a2=$(ctl alloc 1)
if [ $((a2)) -eq $((base + 16384)) ]; then
	tap_ok "next area follows the 12K area and its guard page ($a2)"
else
	tap_not_ok "next area follows the 12K area and its guard page" "got $a2"
fi
if [ "$(kvs_stat live_areas)" = 2 ] && [ "$(kvs_stat bytes_in_use)" = $((12288 + 4096)) ]; then
	tap_ok "stats: 2 live areas, 16384 bytes (1 byte rounds up to a page)"
else
	tap_not_ok "stats: 2 live areas, 16384 bytes" "$(cat "$KVS_DIR/stats")"
fi
if [ "$(wc -l <"$KVS_DIR/areas")" = 2 ] && grep -q "^$a1-$(hex $((a1 + 16384))) *16384 maple guard$" "$KVS_DIR/areas"; then
	tap_ok "areas lists both, with guard pages"
else
	tap_not_ok "areas lists both, with guard pages" "$(cat "$KVS_DIR/areas")"
fi
found=$(ctl find "$(hex $((a1 + 5000)))")
if [ "$found" = "$a1-$(hex $((a1 + 16384))) 12288" ]; then
	tap_ok "find of an interior address returns its area ($found)"
else
	tap_not_ok "find of an interior address returns its area" "$found"
fi
ok_if "free the first area" ctl free "$a1"
a3=$(ctl alloc 8K)
if [ "$a3" = "$a1" ]; then
	tap_ok "the freed hole is reused first-fit ($a3)"
else
	tap_not_ok "the freed hole is reused first-fit" "got $a3 want $a1"
fi
top=$(ctl alloc 4K top)
if [ $((top)) -eq $((end - 8192)) ]; then
	tap_ok "top-down area ends a guard page below the arena end ($top)"
else
	tap_not_ok "top-down area ends a guard page below the arena end" "got $top end $(hex "$end")"
fi
big=$(ctl alloc 256M)
if [ -n "$big" ] && [ $((big)) -eq $((base + 24576)) ]; then
	tap_ok "a 256M area fills the next gap ($big)"
else
	tap_not_ok "a 256M area fills the next gap" "got $big"
fi
check_ok "after mixed allocations"
for a in "$a2" "$a3" "$top" "$big"; do
	ctl free "$a" >/dev/null || tap_not_ok "free $a"
done
if [ "$(kvs_stat live_areas)" = 0 ] && [ "$(kvs_stat bytes_in_use)" = 0 ] &&
   [ "$(kvs_stat largest_free_hole)" = $((1 << 30)) ] && [ ! -s "$KVS_DIR/areas" ]; then
	tap_ok "all freed: no live areas, the hole is the whole arena"
else
	tap_not_ok "all freed" "$(cat "$KVS_DIR/stats")"
fi
check_ok "after freeing everything"

# Many round trips, then free all.
for i in $(seq 1 200); do
	ctl alloc $((i % 7 + 1))K >/dev/null || break
done
n=$(kvs_stat live_areas)
out=$(ctl free all)
if [ "$n" = 200 ] && [ "$out" = "freed 200" ] && [ "$(kvs_stat live_areas)" = 0 ]; then
	tap_ok "200 allocations, then free all frees 200"
else
	tap_not_ok "200 allocations, then free all" "live $n, $out"
fi
if [ "$(kvs_stat allocs)" = 205 ] && [ "$(kvs_stat frees)" = 205 ]; then
	tap_ok "counters: 205 allocs, 205 frees"
else
	tap_not_ok "counters: 205 allocs, 205 frees" "$(grep -E '^(allocs|frees) ' "$KVS_DIR/stats")"
fi
kvs_unload
