#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection sweep.  For each backend, with the per-CPU overlay off
# and on, and each allocation site it reaches (inj_sites in lib.sh), fail
# the Nth evaluation of the site for N = 1, 2, ... while a fixed sequence
# of operations runs, until a sequence completes without reaching the Nth
# evaluation.  The sequence allocates (plain, aligned, top-down, windowed
# and populated areas), frees, purges the lazy list and, with the overlay
# on, switches it off and on again, which gives the chunks back: the site
# stays armed through frees, chunk releases and purges.  Every operation
# must succeed or fail with ENOMEM (an area whose free failed stays live);
# afterwards the index checks clean, the counters agree with what the test
# saw, and once everything is freed and purged the tracking objects and
# index nodes are back at their baseline (purge also has maple turn its
# tombstones back to NULL) and the whole arena is one hole.
# Then every=1 (every evaluation fails) and percent=30 for each pair.
# Teardown with a site armed (reset, backend switch, self test, bench,
# rmmod) is in 64-race.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

MAX_N=${KVS_INJECT_MAX_N:-80}

# Reading files with builtins only (stats, inj_hits in lib.sh): a fork
# costs milliseconds under TCG, and the sweep reads the counters a few
# thousand times.
# nareas: NA = live areas in the areas file (not the lazy ones, freed
# and awaiting the purge).
nareas() {
	local l
	NA=0
	while read -r l; do
		[[ $l == *" lazy" ]] || NA=$((NA + 1))
	done <"$KVS_DIR/areas"
}

# The operation sequence: allocations of every kind, then frees interleaved
# with more allocations.  Sets SEQ_BAD to a description on a wrong result.
live=()
op_alloc() {
	if kc alloc "$@"; then
		live+=("$KC_OUT")
	elif [ "$KC_RC" = "$ENOMEM" ]; then
		SEQ_ENOMEM=$((SEQ_ENOMEM + 1))
	else
		SEQ_BAD="alloc $*: $KC_OUT"
	fi
}
op_free() {
	local i=$1 v=${live[$1]:-}
	[ -n "$v" ] || return 0
	if kc free "$v"; then
		unset "live[$i]"
	elif [ "$KC_RC" != "$ENOMEM" ]; then
		SEQ_BAD="free $v: $KC_OUT"
	elif SEQ_ENOMEM=$((SEQ_ENOMEM + 1)) && ! kc find "$v"; then
		SEQ_BAD="free $v failed with ENOMEM but the area is gone"
	fi
}
sequence() {
	local i
	live=()
	SEQ_BAD=
	SEQ_ENOMEM=0
	stats
	enomem0=${S[fail_enomem]}
	op_alloc 4K
	op_alloc 12K align=64K
	op_alloc 8K top
	op_alloc 16K vstart=+1M vend=+2M
	op_alloc 4K
	op_alloc 2M align=2M
	op_free 1
	op_alloc 4K
	op_free 3
	op_free 0
	op_alloc 20K align=8K
	op_free 2
	op_alloc 4K top
	op_free 4
	op_free 5
	# Populated areas: pages and page tables.
	op_alloc 16K populate
	op_alloc 8K populate
	# Everything goes, the populated areas to the lazy list; the purge
	# gives their ranges back through the backend's unlink, the site
	# still armed.
	for i in "${!live[@]}"; do
		op_free "$i"
	done
	kc purge || SEQ_BAD="purge: $KC_OUT"
	# With the overlay on: off gives every (now empty) chunk back; a
	# release that cannot unlink may refuse with a clean errno.
	if [ "$pcpu" = 1 ]; then
		kc pcpu off
		case $KC_RC in
		0 | "$EBUSY" | "$ENOMEM") ;;
		*) SEQ_BAD="pcpu off: $KC_OUT" ;;
		esac
		kc pcpu on || SEQ_BAD="pcpu on: $KC_OUT"
	fi
}

# verify DESC: after a sequence with injection off again.
verify() {
	local desc=$1 n got why=''
	stats
	got=$((S[fail_enomem] - enomem0))
	[ "$got" = "$SEQ_ENOMEM" ] || why+=" fail_enomem grew by $got, the test saw $SEQ_ENOMEM ENOMEM"
	kc check || why+=" check: $KC_OUT"
	n=${#live[@]}
	[ "${S[live_areas]}" = "$n" ] || why+=" live_areas ${S[live_areas]}, the test holds $n"
	nareas
	[ "$NA" = "$n" ] || why+=" areas lists $NA"
	kc free all
	kc purge
	objects_settle 0 || why+=" ${S[area_objects]} tracking objects leaked"
	[ "${S[lazy_areas]:-0}" = 0 ] || why+=" ${S[lazy_areas]} lazy areas left after the purge"
	[ "${S[pcpu_chunks_live]}" = 0 ] || why+=" ${S[pcpu_chunks_live]} chunks left"
	[ "${S[live_areas]}" = 0 ] || why+=" free all left ${S[live_areas]}"
	[ "${S[index_nodes]}" = "$base_nodes" ] ||
		why+=" index_nodes ${S[index_nodes]}, baseline $base_nodes"
	[ "${S[largest_free_hole]}" = "$arena" ] || why+=" largest hole ${S[largest_free_hole]}"
	kc check || why+=" check after free all: $KC_OUT"
	[ -z "$SEQ_BAD" ] || why+=" $SEQ_BAD"
	if [ -n "$why" ]; then
		tap_not_ok "$desc" "$why"
		return 1
	fi
	return 0
}

arena=$((256 << 20))
total=0
dmesg_mark
for be in $KVS_BACKENDS; do
	for pcpu in 0 1; do
		kvs_load arena_size=256M backend="$be" pcpu="$pcpu" chunk_size=4M
		# Baseline: the empty index (with the overlay, its chunks are
		# given back by free all).
		kc free all
		stats
		base_nodes=${S[index_nodes]}
		for site in $(inj_sites "$be" "$pcpu"); do
			n=1 hits=0 fails=0 ok=1
			while [ $n -le "$MAX_N" ]; do
				kc inject "$site" nth=$n
				sequence
				inj_hits "$site"
				h=$H
				kc inject off
				fails=$((fails + SEQ_ENOMEM))
				verify "$be pcpu=$pcpu $site nth=$n" || { ok=0; break; }
				[ "$h" = 0 ] && break
				hits=$((hits + h))
				n=$((n + 1))
			done
			total=$((total + hits))
			if [ $ok = 1 ] && [ $n -le "$MAX_N" ] && [ $hits -gt 0 ]; then
				tap_ok "$be pcpu=$pcpu $site: nth=1..$((n - 1)) swept, $hits faults, $fails ENOMEM, no leak"
			elif [ $ok = 1 ]; then
				tap_not_ok "$be pcpu=$pcpu $site: sweep" "$hits faults injected up to nth=$n (max $MAX_N)"
			fi
			for mode in every=1 "percent=30 seed=7"; do
				# shellcheck disable=SC2086 # two words on purpose
				kc inject "$site" $mode
				sequence
				inj_hits "$site"
				h=$H
				kc inject off
				total=$((total + h))
				verify "$be pcpu=$pcpu $site $mode" &&
					tap_ok "$be pcpu=$pcpu $site $mode: $h faults, clean"
			done
		done
		kvs_unload
	done
done
echo "# faults injected in all: $total"

# The module parameter arms a site at load and reads back; unload with a
# site armed leaves nothing behind.
kvs_load arena_size=256M inject=area:every=2:times=3
kc alloc 4K
r1=$KC_RC
kc alloc 4K
r2=$KC_RC
if [ "$r1" = 0 ] && [ "$r2" = "$ENOMEM" ] && grep -q '^area mode=every n=2 times=3 .* hits=1 ' "$KVS_DIR/inject" &&
   [ "$(cat /sys/module/kvashim/parameters/inject)" = "armed: area" ]; then
	tap_ok "inject= parameter: area every=2 times=3 fails the 2nd allocation"
else
	tap_not_ok "inject= parameter" "$r1 $r2" "$(cat "$KVS_DIR/inject")"
fi
echo off >/sys/module/kvashim/parameters/inject
if [ "$(cat /sys/module/kvashim/parameters/inject)" = "armed: none" ]; then
	tap_ok "writing off to the parameter disarms"
else
	tap_not_ok "writing off to the parameter disarms" "$(cat /sys/module/kvashim/parameters/inject)"
fi
kvs_unload
if ! insmod "$KVS_KO" inject=nosuch:nth=1 2>/dev/null; then
	tap_ok "an unknown site in inject= refuses the load"
else
	tap_not_ok "an unknown site in inject= refuses the load"
	kvs_unload
fi

log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK" | grep -v -E 'inject=: unknown site|invalid for parameter .inject')
log_quiet "the kernel log stayed quiet" "$log"
