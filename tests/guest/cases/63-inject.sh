#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Fault injection sweep.  For each backend and each allocation site it
# uses, fail the Nth evaluation of the site for N = 1, 2, ... while a fixed
# sequence of operations runs, until a sequence completes without reaching
# the Nth evaluation.  Every operation must succeed or fail with ENOMEM
# (an area whose free failed stays live); afterwards the index checks
# clean, the counters agree with what the test saw, and once everything is
# freed the tracking objects and index nodes are back at their baseline.
# Then every=1 (every evaluation fails) and percent=30 for each pair.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

MAX_N=${KVS_INJECT_MAX_N:-80}

# Reading files with builtins only: a fork costs milliseconds under TCG,
# and the sweep reads the counters a few thousand times.
declare -A S
stats() {
	local k v
	S=()
	while read -r k v; do S[$k]=$v; done <"$KVS_DIR/stats"
}
# nareas: NA = lines in the areas file.
nareas() {
	local -a l
	mapfile -t l <"$KVS_DIR/areas"
	NA=${#l[@]}
}
# inj_hits SITE: H = failures injected at SITE since it was armed.
inj_hits() {
	local site rest
	while read -r site rest; do
		[ "$site" = "$1" ] || continue
		rest=${rest#* hits=}
		H=${rest%% *}
	done <"$KVS_DIR/inject"
}

# Wait for the tracking objects in their RCU grace period.
objects_settle() {
	local i
	for i in {1..50}; do
		stats
		[ "${S[area_objects]}" = "$1" ] && return 0
		sleep 0.05
	done
	return 1
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
	objects_settle 0 || why+=" ${S[area_objects]} tracking objects leaked"
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
for be in maple maple-dual rbtree list; do
	case $be in
	maple | maple-dual) sites="area maple" ;;
	rbtree) sites="area rbnode" ;;
	list) sites="area" ;;
	esac
	# The overlay's refills take the backend's own alloc path, swept with
	# the overlay off: with it on, only its chunk site, on maple.
	pcpus=0
	[ $be = maple ] && pcpus="0 1"
	for pcpu in $pcpus; do
		kvs_load arena_size=256M backend="$be" pcpu="$pcpu" chunk_size=4M
		if [ "$pcpu" = 1 ]; then sites_p=chunk; else sites_p=$sites; fi
		# Baseline: the empty index (with the overlay, its chunks are
		# given back by free all).
		kc free all
		stats
		base_nodes=${S[index_nodes]}
		for site in $sites_p; do
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
