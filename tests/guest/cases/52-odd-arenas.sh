#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Exhaustion and odd arenas, on every backend: a one-page arena, an arena
# that is not a multiple of a large alignment, and a full arena emptied in
# random order, after which the largest hole is the whole arena again.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

dmesg_mark
for be in $KVS_BACKENDS; do
	# One page: with a guard page nothing fits; without, exactly one area.
	kvs_load arena_size=4K backend="$be"
	expect_errno "$be: one-page arena, 4K + guard" "$ERANGE" alloc 4K
	kvs_unload
	kvs_load arena_size=4K backend="$be" guard=0
	a=$(ctl alloc 4K)
	kc alloc 4K
	r=$KC_RC
	kc free "$a"
	f=$KC_RC
	kc check
	c=$KC_RC
	if [ -n "$a" ] && [ "$r" = "$ENOMEM" ] && [ "$f" = 0 ] && [ "$c" = 0 ] &&
	   [ "$(kvs_stat largest_free_hole)" = 4096 ]; then
		tap_ok "$be: one-page arena without guard holds one area, then none, then one again"
	else
		tap_not_ok "$be: one-page arena without guard" "a=$a second=$r free=$f check=$c" \
			"hole $(kvs_stat largest_free_hole)"
	fi
	kvs_unload

	# 3M + 12K: not a multiple of 2M, base of unknown 2M alignment.
	size=$(((3 << 20) + (12 << 10)))
	kvs_load arena_size=$size backend="$be"
	base=$(arena_base)
	end=$(arena_end)
	addrs=() why=
	for dir in "" top; do
		while kc alloc 1M align=2M $dir; do
			v=$((KC_OUT))
			(((v & ((2 << 20) - 1)) == 0)) || why+=" $KC_OUT not 2M-aligned"
			((v >= base && v + (1 << 20) + 4096 <= end)) || why+=" $KC_OUT outside"
			addrs+=("$KC_OUT")
		done
		[ "$KC_RC" = "$ENOMEM" ] || why+=" align=2M $dir ended with $KC_OUT"
	done
	n2m=${#addrs[@]}
	while kc alloc 4K; do addrs+=("$KC_OUT"); done
	[ "$KC_RC" = "$ENOMEM" ] || why+=" 4K fill ended with $KC_OUT"
	kc check || why+=" check full: $KC_OUT"
	for v in $(printf '%s\n' "${addrs[@]}" | shuf); do
		kc free "$v" || why+=" free $v: $KC_OUT"
	done
	kc check || why+=" check empty: $KC_OUT"
	[ "$(kvs_stat largest_free_hole)" = "$size" ] || why+=" hole $(kvs_stat largest_free_hole)"
	if [ -z "$why" ] && [ "$n2m" -ge 1 ]; then
		tap_ok "$be: 3M+12K arena: $n2m 2M-aligned areas, ${#addrs[@]} in all, freed in random order, hole restored"
	else
		tap_not_ok "$be: 3M+12K arena" "$n2m aligned, ${#addrs[@]} in all" "$why"
	fi
	kvs_unload

	# Full 1M arena (128 areas of a page + guard), emptied in random order
	# with a check every 16 frees.
	kvs_load arena_size=1M backend="$be"
	addrs=() why=
	while kc alloc 4K; do addrs+=("$KC_OUT"); done
	[ ${#addrs[@]} = 128 ] || why+=" ${#addrs[@]} areas, not 128"
	[ "$(kvs_stat largest_free_hole)" = 0 ] || why+=" full arena has a hole of $(kvs_stat largest_free_hole)"
	i=0
	for v in $(printf '%s\n' "${addrs[@]}" | shuf); do
		kc free "$v" || why+=" free $v: $KC_OUT"
		i=$((i + 1))
		if [ $((i % 16)) = 0 ]; then
			kc check || why+=" check after $i frees: $KC_OUT"
		fi
	done
	[ "$(kvs_stat largest_free_hole)" = $((1 << 20)) ] || why+=" hole $(kvs_stat largest_free_hole)"
	if [ -z "$why" ]; then
		tap_ok "$be: full 1M arena emptied in random order, checked every 16 frees, hole restored"
	else
		tap_not_ok "$be: full 1M arena emptied in random order" "$why"
	fi
	kvs_unload
done
# The overlay on a tiny arena: its chunk is clamped, requests still work.
kvs_load arena_size=64K pcpu=1
why=
for i in 1 2 3 4; do kc alloc 4K || why+=" alloc $i: $KC_OUT"; done
kc check || why+=" check: $KC_OUT"
kc free all
kc check || why+=" check after free all: $KC_OUT"
if [ -z "$why" ] && [ "$(kvs_stat pcpu_chunks_live)" = 0 ]; then
	tap_ok "overlay on a 64K arena: 4 areas, free all, no chunk left"
else
	tap_not_ok "overlay on a 64K arena" "$why" "$(grep pcpu "$KVS_DIR/stats")"
fi
kvs_unload
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK" | grep -v 'unloaded with')
log_quiet "the kernel log stayed quiet" "$log"
