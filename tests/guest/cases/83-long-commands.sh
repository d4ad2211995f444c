#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Nobody waits uninterruptibly for a long command.  While a bench runs
# for 60 s, six times the hung-task timeout (lowered to 10 s here; a slow
# guest needs some 30 s for the checks below while the bench still runs):
# results, histograms, selftest, stats, holes and chunks answer at once;
# a read or a write on the bench's own descriptor waits, but can be
# killed, and with O_NONBLOCK says EAGAIN.  The same for the report while a selftest runs.
# Then no task was reported hung, and the bench's result is intact.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

HUNG=/proc/sys/kernel/hung_task_timeout_secs

# took CMD...: run CMD; TOOK_MS is how many milliseconds it took, TOOK_RC
# its status.
took() {
	local t0
	t0=$(date +%s%N)
	"$@" >/dev/null 2>&1
	TOOK_RC=$?
	TOOK_MS=$((($(date +%s%N) - t0) / 1000000))
}

# answers DESC FILE: FILE reads in full within 5 s.
answers() {
	took timeout 5 cat "$KVS_DIR/$2"
	if [ "$TOOK_RC" = 0 ] && [ "$TOOK_MS" -lt 5000 ]; then
		tap_ok "$1: $2 answers at once ($TOOK_MS ms)"
	else
		tap_not_ok "$1: $2 answers at once" "status $TOOK_RC after $TOOK_MS ms"
	fi
}

# killable DESC CMD...: CMD blocks, and timeout's SIGTERM after 2 s ends it.
killable() {
	local desc=$1
	shift
	took timeout 2 "$@"
	if [ "$TOOK_RC" = 124 ] && [ "$TOOK_MS" -lt 6000 ]; then
		tap_ok "$desc: waits, killed after $TOOK_MS ms"
	else
		tap_not_ok "$desc: waits, and can be killed" "status $TOOK_RC after $TOOK_MS ms"
	fi
}

# nonblock FD OP: one read or write ("check") on FD with O_NONBLOCK set on
# it for the call; prints the result or the errno name.
nonblock() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
fd, op = int(sys.argv[1]), sys.argv[2]
os.set_blocking(fd, False)
try:
    if op == "read":
        os.read(fd, 256)
    else:
        os.write(fd, b"check\n")
    print("done")
except OSError as e:
    print(errno.errorcode[e.errno])
finally:
    os.set_blocking(fd, True)
PY
}

# kvs_bench_running: a benchmark kthread exists.
kvs_bench_running() {
	grep -qs '^kvs_bench' /proc/[0-9]*/comm
}

if [ ! -w "$HUNG" ]; then
	tap_skip "long commands" "no $HUNG (CONFIG_DETECT_HUNG_TASK)"
	exit 0
fi
kvs_load arena_size=256M
kc selftest ops=1000
dmesg_mark
hung_was=$(cat "$HUNG")
echo 10 >"$HUNG"

exec {bfd}<>"$KVS_DIR/control"
printf 'bench workload=fix_size_alloc target=maple threads=1 loops=100000000 budget_ms=60000\n' \
	1>&"$bfd" 2>/dev/null &
bench=$!
for _ in $(seq 100); do
	kvs_bench_running && break
	sleep 0.2
done
if kvs_bench_running; then
	tap_ok "a 60 s bench is running"
else
	tap_not_ok "a 60 s bench is running" "no kvs_bench kthread"
fi

answers "during the bench" results
answers "during the bench" histograms
answers "during the bench" selftest
answers "during the bench" stats
answers "during the bench" holes
answers "during the bench" chunks
expect_errno "a second bench meanwhile" "$EBUSY" bench workload=fix_size_alloc target=maple
killable "a read of the bench's descriptor" bash -c "read -r x <&$bfd"
killable "a write on the bench's descriptor" bash -c "printf 'check\n' >&$bfd"
if command -v python3 >/dev/null; then
	r=$(nonblock "$bfd" read) w=$(nonblock "$bfd" write)
	if [ "$r" = EAGAIN ] && [ "$w" = EAGAIN ]; then
		tap_ok "O_NONBLOCK read and write of the bench's descriptor: EAGAIN"
	else
		tap_not_ok "O_NONBLOCK read and write of the bench's descriptor: EAGAIN" \
			"read: $r" "write: $w"
	fi
else
	tap_skip "O_NONBLOCK on the bench's descriptor" "python3 missing in the guest"
fi

# A selftest that would run for hours, killed after the check; the report
# read meanwhile is the last finished one.
exec {sfd}<>"$KVS_DIR/control"
printf 'selftest ops=1000000000\n' 1>&"$sfd" 2>/dev/null &
st=$!
# Killed in 10 s whatever happens, so that a reader stuck behind it ends.
(
	sleep 10
	kill "$st" 2>/dev/null
) &
killer=$!
sleep 2
took timeout 5 grep -q 'kvashim selftest: pass:' "$KVS_DIR/selftest"
if [ "$TOOK_RC" = 0 ] && [ "$TOOK_MS" -lt 5000 ]; then
	tap_ok "during a selftest: the last report answers at once ($TOOK_MS ms)"
else
	tap_not_ok "during a selftest: the last report answers at once" \
		"status $TOOK_RC after $TOOK_MS ms"
fi
kill "$st" "$killer" 2>/dev/null
wait "$st"
exec {sfd}>&-

wait "$bench"
IFS= read -r res <&"$bfd"
exec {bfd}>&-
if [ "$res" = "ok; see results" ] &&
   grep -q '^workload=fix_size_alloc target=maple threads=1 .* capped=1 ' "$KVS_DIR/results"; then
	tap_ok "the bench ran to its budget ($res)"
else
	tap_not_ok "the bench ran to its budget" "$res" "$(cat "$KVS_DIR/results")"
fi
# The detector checks every 10 s: wait for one more round.
sleep 11
echo "$hung_was" >"$HUNG"
log=$(dmesg_since | grep -E 'blocked for more than|hung_task')
log_quiet "no task was reported hung" "$log"
check_ok "after the long commands"
kvs_unload
