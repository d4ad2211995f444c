#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress, as the kernel's "test_vmalloc.sh stress": every workload on one
# kthread per CPU, 20 repetitions, on every backend and on maple with the
# per-CPU overlay; the index is checked after every repetition (check_failed
# counts failures).  Loop counts are small for TCG: KVS_STRESS_LOOPS and
# KVS_STRESS_REPS raise them.  Afterwards the live arena's overlay is
# stressed the same way from user space on every backend, overlay off and on.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

loops=${KVS_STRESS_LOOPS:-30}
reps=${KVS_STRESS_REPS:-20}
ncpu=$(nproc)

kvs_load
dmesg_mark
t0=$SECONDS
if kc bench target=maple,maple-dual,rbtree,list,maple+pcpu threads="$ncpu" \
	loops="$loops" busy=200 reps="$reps" budget_ms=60000; then
	tap_ok "bench: 11 workloads x 5 targets x $ncpu threads x $reps reps ($((SECONDS - t0)) s)"
else
	tap_not_ok "bench stress" "$KC_OUT"
fi
bad=$(awk '{
	for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["reps"] != '"$reps"' || f["fails"] != 0 || f["check_failed"] != 0 ||
	    f["chunks_left"] != 0 || f["threads"] != '"$ncpu"') print
}' "$KVS_DIR/results")
n=$(wc -l <"$KVS_DIR/results")
if [ "$n" -eq 55 ] && [ -z "$bad" ]; then
	tap_ok "all $n results: $reps reps, no failure, check clean after each"
else
	tap_not_ok "stress results" "$n results" "$bad"
fi
kvs_unload

# The live arena: one writer per CPU, every backend, overlay off and on,
# check after each round.
writer() {
	local fd i a k=()
	exec {fd}<>"$KVS_DIR/control"
	for i in $(seq 1 "$1"); do
		if printf 'alloc %dK\n' $(((i * 7) % 16 + 1)) 1>&"$fd" 2>/dev/null; then
			IFS= read -r a <&"$fd"
			k+=("$a")
		fi
		if [ $((i % 3)) -ne 0 ] && [ ${#k[@]} -gt 0 ]; then
			printf 'free %s\n' "${k[0]}" 1>&"$fd" 2>/dev/null
			k=("${k[@]:1}")
		fi
	done
	exec {fd}>&-
}
for pcpu in 0 1; do
	for be in $KVS_BACKENDS; do
		kvs_load arena_size=1G backend="$be" pcpu=$pcpu chunk_size=4M
		pids=()
		for _ in $(seq "$ncpu"); do
			writer 40 &
			pids+=($!)
		done
		wait "${pids[@]}"
		why=
		kc check || why="check: $KC_OUT"
		[ "$(kvs_stat live_areas)" = "$(wc -l <"$KVS_DIR/areas")" ] || why+=" stats/areas disagree"
		kc free all
		kc check || why+=" check after free all: $KC_OUT"
		[ "$(kvs_stat pcpu_chunks_live)" = 0 ] || why+=" chunks left"
		if [ -z "$why" ]; then
			tap_ok "$be pcpu=$pcpu: $ncpu writers, check clean"
		else
			tap_not_ok "$be pcpu=$pcpu: $ncpu writers" "$why"
		fi
		kvs_unload
	done
done
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK" | grep -v 'bench: ')
log_quiet "no WARN/BUG, the kernel log stayed quiet" "$log"
