#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stress: one writer per CPU doing random allocations (sizes, alignments,
# windows, top-down) and frees for KVS_STRESS_SECONDS (default 30), while
# `check` runs every second.  Every check must pass, the counters must
# add up, and the kernel log must stay quiet.  With and without the
# per-CPU overlay.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

SECS=${KVS_STRESS_SECONDS:-30}
CPUS=$(nproc)

# writer N END OUT: random ops on its own descriptor until time END; the
# number of operations and of unexpected errors go to file OUT.
writer() {
	local n=$1 end=$2 out=$3 fd a r ops=0 bad=0 cmd
	local -a live=()
	RANDOM=$((n * 7919 + $$))
	exec {fd}<>"$KVS_DIR/control"
	while ((SECONDS < end)); do
		r=$((RANDOM % 10))
		if ((r < 6 || ${#live[@]} == 0)); then
			case $((RANDOM % 4)) in
			0) cmd="alloc $((RANDOM % 64 + 1))K" ;;
			1) cmd="alloc $((RANDOM % 16 + 1))K align=$((4 << (RANDOM % 6)))K" ;;
			2) cmd="alloc $((RANDOM % 8 + 1))K top" ;;
			3) cmd="alloc $((RANDOM % 32 + 1))K vstart=+$((n * 64))M vend=+$((n * 64 + 64))M" ;;
			esac
		else
			r=$((RANDOM % ${#live[@]}))
			cmd="free ${live[r]}"
			live[r]=${live[-1]}
			unset 'live[-1]'
		fi
		printf '%s\n' "$cmd" 1>&"$fd" 2>/dev/null
		IFS= read -r a <&"$fd"
		ops=$((ops + 1))
		case $a in
		0x*) live+=("$a") ;;
		ok*) ;;
		"error: ENOMEM"*) ;; # a full window is an answer, not a fault
		*) bad=$((bad + 1)); echo "# writer $n: $cmd -> $a" ;;
		esac
	done
	exec {fd}>&-
	echo "$ops $bad" >"$out"
}

for pcpu in 1 0; do
	kvs_load pcpu=$pcpu arena_size=1G
	dmesg_mark
	end=$((SECONDS + SECS))
	pids=()
	for n in $(seq 0 $((CPUS - 1))); do
		writer "$n" "$end" "/tmp/kvs-stress.$n" &
		pids+=($!)
	done
	checks=0
	failed=()
	while ((SECONDS < end)); do
		sleep 1
		if kc check; then
			checks=$((checks + 1))
		else
			failed+=("$KC_OUT")
		fi
	done
	wait "${pids[@]}"
	ops=0
	bad=0
	for n in $(seq 0 $((CPUS - 1))); do
		read -r o b <"/tmp/kvs-stress.$n"
		ops=$((ops + o))
		bad=$((bad + b))
	done
	desc="pcpu=$pcpu: $CPUS writers, ${SECS}s, $ops random ops"
	if ((${#failed[@]} == 0 && checks > 0 && bad == 0 && ops > 0)); then
		tap_ok "$desc, $checks checks passed"
	else
		tap_not_ok "$desc, check every second" "checks passed $checks, unexpected errors $bad" "${failed[@]}"
	fi
	check_ok "pcpu=$pcpu: after the stress run"
	allocs=$(kvs_stat allocs)
	frees=$(kvs_stat frees)
	nlive=$(kvs_stat live_areas)
	if [ "$((allocs - frees))" = "$nlive" ] && [ "$nlive" = "$(wc -l <"$KVS_DIR/areas")" ]; then
		tap_ok "pcpu=$pcpu: allocs - frees = live = listed ($allocs - $frees = $nlive)"
	else
		tap_not_ok "pcpu=$pcpu: allocs - frees = live = listed" "$allocs - $frees, live $nlive"
	fi
	kc free all
	if [ "$(kvs_stat live_areas)" = 0 ] && kc check; then
		tap_ok "pcpu=$pcpu: free all leaves an empty, consistent arena"
	else
		tap_not_ok "pcpu=$pcpu: free all leaves an empty, consistent arena" "$KC_OUT" "$(cat "$KVS_DIR/stats")"
	fi
	log=$(dmesg_since | grep -iE 'kvashim|BUG|WARNING')
	log_quiet "pcpu=$pcpu: the kernel log stayed quiet" "$log"
	kvs_unload
done
