#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Concurrency through the control file: several writers at once, and a
# bench running while free all, reset, backend and check arrive.  The
# index must check clean afterwards and the log must stay quiet.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"


for pcpu in 0 1; do
	kvs_load pcpu=$pcpu arena_size=1G
	dmesg_mark
	pids=()
	for _ in 1 2 3; do
		churn 150 5 3 &
		pids+=($!)
	done
	# Meanwhile: checks, areas listings, a free all.
	for i in 1 2 3; do
		kc check >/dev/null
		cat "$KVS_DIR/areas" "$KVS_DIR/stats" >/dev/null
	done
	kc free all
	wait "${pids[@]}"
	check_ok "pcpu=$pcpu: three writers, checks and a free all at once"
	live=$(kvs_stat live_areas)
	listed=$(wc -l <"$KVS_DIR/areas")
	if [ "$live" = "$listed" ]; then
		tap_ok "pcpu=$pcpu: stats and areas agree ($live live)"
	else
		tap_not_ok "pcpu=$pcpu: stats and areas agree" "live $live, listed $listed"
	fi

	# A bench in the background (its own descriptor: commands on one
	# descriptor are serialised) while the live arena is reset and switched.
	"$KVS_CTL" bench workload=xcpu_storm,fix_size_alloc threads="$(nproc)" \
		loops=50000 reps=3 >/dev/null &
	bpid=$!
	# Running once its kthreads exist; it holds the bench lock till the end.
	until pgrep kvs_bench >/dev/null || ! kill -0 "$bpid" 2>/dev/null; do
		sleep 0.1
	done
	ctl alloc 8K >/dev/null
	kc reset
	kc backend rbtree
	r1=$KC_RC
	kc check
	r2=$KC_RC
	kc backend maple
	expect_errno "pcpu=$pcpu: a second bench while one runs" "$EBUSY" bench workload=fix_size_alloc loops=10
	wait "$bpid"
	if [ "$r1" = 0 ] && [ "$r2" = 0 ] && [ "$(kvs_stat live_areas)" = 0 ] &&
	   ! grep -q 'check_failed=[1-9]' "$KVS_DIR/results"; then
		tap_ok "pcpu=$pcpu: reset, backend switch and check during a bench"
	else
		tap_not_ok "pcpu=$pcpu: reset, backend switch and check during a bench" "rc $r1 $r2" "$(cat "$KVS_DIR/results")"
	fi
	check_ok "pcpu=$pcpu: after the bench"
	log=$(dmesg_since | grep -i kvashim | grep -v 'bench: ')
	log_quiet "pcpu=$pcpu: the kernel log stayed quiet" "$log"
	kvs_unload
done

# Walks of the index while it empties and refills: one writer allocates
# and frees a lone area (the tree flips between one entry and none)
# while the stats (a usage walk) and areas (next by next) are read.
# From v6.5 a maple-tree walk under RCU alone oopses when a concurrent
# erase empties the tree; kvashim's walks take the tree lock.  The
# writer is churn with one size and nothing kept: alloc 1K, free, again.
for be in maple maple-dual; do
	kvs_load backend=$be pcpu=0 arena_size=64M
	dmesg_mark
	churn 1500 1 1501 &
	fpid=$!
	walks=0
	while kill -0 "$fpid" 2>/dev/null; do
		mapfile -t _ <"$KVS_DIR/stats"
		mapfile -t _ <"$KVS_DIR/areas"
		walks=$((walks + 1))
	done
	wait "$fpid"
	check_ok "$be: $walks stats and areas walks while the index emptied 1500 times"
	log=$(dmesg_since | grep -iE 'kvashim|BUG|Oops|WARNING')
	log_quiet "$be: the kernel log stayed quiet" "$log"
	kvs_unload
done
