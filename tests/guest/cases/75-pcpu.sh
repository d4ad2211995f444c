#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The per-CPU bump overlay: hits, refills, recycling of empty chunks, a
# chunk tail too small for a request, an arena too small for chunks,
# switching it off and on, unload with chunks live.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

stats_line() {
	echo "hits $(kvs_stat pcpu_hits) refills $(kvs_stat pcpu_refills) releases $(kvs_stat pcpu_releases) live $(kvs_stat pcpu_chunks_live) stranded $(kvs_stat pcpu_stranded_bytes)"
}

# Defaults: on, 64M chunks.
kvs_load pcpu=1
if [ "$(kvs_stat pcpu)" = 1 ] && [ "$(kvs_stat pcpu_chunk_size)" = $((64 << 20)) ]; then
	tap_ok "the overlay is on by default with 64 MiB chunks"
else
	tap_not_ok "the overlay is on by default with 64 MiB chunks" "$(grep pcpu "$KVS_DIR/stats")"
fi
a=$(ctl alloc 4K)
if [ "$(kvs_stat pcpu_hits)" = 1 ] && [ "$(kvs_stat pcpu_refills)" = 1 ] &&
   [ "$(kvs_stat pcpu_chunks_live)" = 1 ] && [ $((a)) -eq "$(arena_base)" ]; then
	tap_ok "first eligible alloc: one refill, one hit, at the chunk's start ($a)"
else
	tap_not_ok "first eligible alloc" "$(stats_line)" "$a"
fi
t=$(ctl alloc 4K top)
b=$(ctl alloc 4K align=64K)
if [ "$(kvs_stat pcpu_hits)" = 1 ] && [ $(( b & 0xffff )) -eq 0 ]; then
	tap_ok "top-down and aligned requests bypass the chunk"
else
	tap_not_ok "top-down and aligned requests bypass the chunk" "$(stats_line)" "$t $b"
fi
found=$(ctl find "$(hex $((a + 100)))")
if [ "$found" = "$a-$(hex $((a + 8192))) 4096" ]; then
	tap_ok "find inside a chunk area ($found)"
else
	tap_not_ok "find inside a chunk area" "$found"
fi
expect_errno "free of a chunk address no area starts at" "$ENOENT" free "$(hex $((a + 65536)))"
ok_if "free of a chunk area" ctl free "$a"
expect_errno "double free of a chunk area" "$ENOENT" free "$a"
if [ "$(kvs_stat pcpu_chunks_live)" = 1 ]; then
	tap_ok "an empty chunk stays while it is current"
else
	tap_not_ok "an empty chunk stays while it is current" "$(stats_line)"
fi
check_ok "pcpu with a current chunk"
ctl free all >/dev/null
if [ "$(kvs_stat pcpu_chunks_live)" = 0 ] && [ "$(kvs_stat pcpu_releases)" = 1 ] &&
   [ "$(kvs_stat largest_free_hole)" = $((8 << 30)) ]; then
	tap_ok "free all gives every chunk back: the whole arena is free"
else
	tap_not_ok "free all gives every chunk back" "$(stats_line)"
fi
kvs_unload

# Small chunks: 1 MiB, 104 KiB areas (100K + guard): 9 fit, 88K stranded.
kvs_load pcpu=1 chunk_size=1M arena_size=64M
for _ in $(seq 1 10); do
	ctl alloc 100K >/dev/null || break
done
base=$(arena_base)
last=$(sed -n '$p' "$KVS_DIR/areas")
if [ "$(kvs_stat pcpu_refills)" = 2 ] && [ "$(kvs_stat pcpu_stranded_bytes)" = 90112 ] &&
   [ "${last%%-*}" = "$(hex $((base + 1048576)))" ]; then
	tap_ok "a request past the chunk's tail refills: the 10th area opens the next chunk, 88K stranded"
else
	tap_not_ok "tail exhaustion refills" "$(stats_line)" "$last"
fi
check_ok "two chunks, one retired"
n=0
for _ in $(seq 1 300); do
	ctl alloc 4K >/dev/null && n=$((n + 1))
done
refills=$(kvs_stat pcpu_refills)
ctl free all >/dev/null
if [ "$n" = 300 ] && [ "$(kvs_stat pcpu_chunks_live)" = 0 ] &&
   [ "$(kvs_stat pcpu_releases)" = "$refills" ]; then
	tap_ok "recycling: $refills chunks taken, $refills given back, none live"
else
	tap_not_ok "recycling" "$(stats_line)"
fi
check_ok "after recycling"

# Leave less than a chunk free: eligible requests fall back to the backend.
ctl alloc 63M top >/dev/null
misses=$(kvs_stat pcpu_misses)
x=$(ctl alloc 4K)
if [ -n "$x" ] && [ "$(kvs_stat pcpu_misses)" = $((misses + 1)) ]; then
	tap_ok "no room for a chunk: the request falls back to the backend ($x)"
else
	tap_not_ok "no room for a chunk: fallback" "$(stats_line)" "$x"
fi
check_ok "after the fallback"
ctl free all >/dev/null

# Switching off: refused while chunks hold areas, then done.
ctl alloc 4K >/dev/null
expect_errno "pcpu off while a chunk holds an area" "$EBUSY" pcpu off
ctl free all >/dev/null
if kc pcpu off && [ "$(kvs_stat pcpu)" = 0 ]; then
	tap_ok "pcpu off"
else
	tap_not_ok "pcpu off" "$KC_OUT"
fi
hits=$(kvs_stat pcpu_hits)
ctl alloc 4K >/dev/null
if [ "$(kvs_stat pcpu_hits)" = "$hits" ] && kc pcpu on && [ "$(kvs_stat pcpu)" = 1 ]; then
	tap_ok "with the overlay off requests go to the backend; on again"
else
	tap_not_ok "pcpu off/on" "$(stats_line)"
fi
expect_errno "pcpu with a bad value" "$EINVAL" pcpu maybe

# Cross-CPU storms and racing lookups, on every backend with the overlay.
if kc bench workload=xcpu_storm target=maple+pcpu,maple,maple-dual,rbtree,list threads="$(nproc)" loops=3000 reps=2 budget_ms=60000; then
	res=$(cat "$KVS_DIR/results")
	if [ "$(echo "$res" | grep -c 'check_failed=0 chunks_left=0')" = 5 ] &&
	   ! echo "$res" | grep -q 'fails=[1-9]'; then
		tap_ok "cross-CPU free storm with racing lookups on $(nproc) CPUs: checks pass, no chunk left"
	else
		tap_not_ok "cross-CPU free storm" "$res"
	fi
else
	tap_not_ok "cross-CPU free storm" "$KC_OUT"
fi

# Unload with chunks live.
ctl alloc 4K >/dev/null
ctl alloc 8K >/dev/null
dmesg_mark
ok_if "unload with areas in a live chunk" kvs_unload
if dmesg_since | grep -q "unloaded with 3 live areas"; then
	tap_ok "all three freed at unload"
else
	tap_not_ok "all three freed at unload" "$(dmesg_since)"
fi
