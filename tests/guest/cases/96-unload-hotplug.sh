#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# rmmod while a bench runs, a bench killed in the middle, and CPU hotplug
# under the per-CPU overlay.
#
# A bench runs inside a write() to the control file, and an open control
# file holds a reference on the module, so rmmod is refused ("in use")
# until the bench returns; a fatal signal stops the bench (EINTR) and the
# module unloads at once.  Offlining a CPU leaves its current chunk
# without an owner: frees from other CPUs must still find its areas, and
# free all must give it back.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

bench_running() {
	local i
	for i in $(seq 100); do
		pgrep kvs_bench >/dev/null && return 0
		sleep 0.1
	done
	return 1
}

kvs_load arena_size=1G pcpu=1
dmesg_mark
ctl_close
"$KVS_CTL" bench workload=fix_size_alloc,xcpu_storm loops=20000 reps=2 >/dev/null 2>&1 &
bpid=$!
if ! bench_running; then
	tap_not_ok "a bench started" "no kvs_bench thread"
fi
if rmmod kvashim 2>/tmp/kvs-rmmod.err; then
	tap_not_ok "rmmod during a bench is refused" "rmmod succeeded while the bench ran"
else
	if kvs_loaded && grep -q -i 'in use' /tmp/kvs-rmmod.err; then
		tap_ok "rmmod during a bench is refused: $(cat /tmp/kvs-rmmod.err)"
	else
		tap_not_ok "rmmod during a bench is refused" "$(cat /tmp/kvs-rmmod.err)"
	fi
fi
wait "$bpid"
brc=$?
if [ "$brc" = 0 ] && ! grep -q 'check_failed=[1-9]' "$KVS_DIR/results" && ok_if_quiet=$(rmmod kvashim 2>&1); then
	tap_ok "the bench finished and rmmod then succeeded"
else
	tap_not_ok "the bench finished and rmmod then succeeded" "bench rc $brc" "${ok_if_quiet:-}"
fi

kvs_load arena_size=1G pcpu=1
ctl_close
# The writer is this subshell itself (printf is a builtin), so that the
# signal reaches the task blocked in write(): kvashim-ctl would write from
# a child of its own.
(
	exec 3<>"$KVS_DIR/control"
	printf 'bench workload=long_busy_list_alloc,xcpu_storm loops=1000000 busy=2000 reps=5 budget_ms=600000\n' >&3
) >/dev/null 2>&1 &
bpid=$!
bench_running
t0=$SECONDS
kill -KILL "$bpid"
wait "$bpid" 2>/dev/null
# The run's budget is 10 minutes: the threads must stop at their next
# budget check, within seconds.
for _ in $(seq 50); do
	pgrep kvs_bench >/dev/null || break
	sleep 0.1
done
if ! pgrep kvs_bench >/dev/null && rmmod kvashim; then
	tap_ok "a killed bench stops its threads at once and the module unloads ($((SECONDS - t0)) s)"
else
	tap_not_ok "a killed bench stops its threads and the module unloads" "$(pgrep -a kvs_bench)"
fi

# CPU hotplug: the last CPU goes offline while writers use the overlay.
cpu=/sys/devices/system/cpu/cpu$(($(nproc) - 1))/online
if [ "$(nproc)" -lt 2 ] || [ ! -w "$cpu" ]; then
	tap_skip "CPU hotplug under the overlay" "no hot-pluggable second CPU"
else
	kvs_load arena_size=1G pcpu=1 chunk_size=4M
	churn 300 4 4 & w1=$!
	churn 300 4 4 & w2=$!
	sleep 1
	off=0 on=0
	echo 0 >"$cpu" || off=1
	sleep 1
	echo 1 >"$cpu" || on=1
	wait "$w1" "$w2"
	if [ $off = 0 ] && [ $on = 0 ]; then
		tap_ok "CPU ${cpu//[^0-9]/} went offline and online during the writers"
	else
		tap_not_ok "CPU hotplug" "offline $off, online $on"
	fi
	check_ok "after hotplug"
	live=$(kvs_stat live_areas)
	listed=$(wc -l <"$KVS_DIR/areas")
	if [ "$live" = "$listed" ]; then
		tap_ok "stats and areas agree after hotplug ($live live)"
	else
		tap_not_ok "stats and areas agree after hotplug" "$live vs $listed"
	fi
	kc free all
	if [ "$(kvs_stat pcpu_chunks_live)" = 0 ] && [ "$(kvs_stat live_areas)" = 0 ]; then
		tap_ok "free all gives back every chunk, the offlined CPU's included"
	else
		tap_not_ok "free all gives back every chunk" "$(grep pcpu "$KVS_DIR/stats")"
	fi
	check_ok "after free all"
	kvs_unload
fi
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK" | grep -v -E 'bench: |unloaded with')
log_quiet "the kernel log stayed quiet" "$log"
