#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Replay (docs/REPLAY.md): a synthetic trace of known shape loads into the
# replay file and replays on every backend and on maple+pcpu with every
# operation, no failure and the expected live areas and largest hole;
# malformed traces are refused with the right errno and a line-numbered
# reason; the committed real traces (tests/data/traces/) replay on every
# target without a failure; and, with bpftrace, a recording of this
# kernel round-trips through kvashim-record and the replay.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

REPLAY=$KVS_DIR/replay
TRACES=$KVS_REPO/tests/data/traces
TMP=$(mktemp -d /tmp/kvs-replay.XXXXXX)
TARGETS="$KVS_BACKENDS maple+pcpu"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# load TEXT: write TEXT (printf format) to replay in one open; RW_ERR is
# the write's error message ("" if it succeeded), RW_STATUS the status.
load() {
	# shellcheck disable=SC2059 # the traces are formats, for \n and \0
	RW_ERR=$( { printf "$1" >"$REPLAY"; } 2>&1)
	RW_STATUS=$(head -n 1 "$REPLAY")
}

# load_file FILE: the same for a file.
load_file() {
	RW_ERR=$( { cat "$1" >"$REPLAY"; } 2>&1)
	RW_STATUS=$(head -n 1 "$REPLAY")
}

# refused DESC TEXT ENAME STRERROR REASON: the load fails with that errno,
# and the status names it with REASON (a glob).
refused() {
	load "$2"
	# shellcheck disable=SC2254 # REASON is a glob
	case "$RW_ERR|$RW_STATUS" in
	*"$4"*"|error: $3: "$5)
		tap_ok "$1 refused: $RW_STATUS" ;;
	*)
		tap_not_ok "$1 refused with $3 ($5)" "write: $RW_ERR" "status: $RW_STATUS" ;;
	esac
}

# results OPS LIVE [HOLE]: every target's line of the last replay says OPS
# operations, no failure, none skipped, LIVE areas live, a clean check
# and, for the backends (not maple+pcpu, which places from its chunks),
# a largest hole of HOLE; RES holds the lines, BAD what is wrong.
results() {
	local t line
	RES=$(tail -n +2 "$REPLAY")
	BAD=''
	for t in $TARGETS; do
		line=$(grep "^target=$t " <<<"$RES")
		if [ -z "$line" ]; then
			BAD+="; no result for $t"
			continue
		fi
		case " $line " in
		*" ops=$1 fails=0 skipped=0 "*" live=$2 "*" check_failed=0 "*) ;;
		*) BAD+="; $line" ;;
		esac
		if [ -n "${3:-}" ] && [ "$t" != maple+pcpu ] &&
		   [ "$(field largest_hole <<<"$line ")" != "$3" ]; then
			BAD+="; $t: largest_hole $(field largest_hole <<<"$line "), want $3"
		fi
	done
	[ "$(wc -l <<<"$RES")" = "$(wc -w <<<"$TARGETS")" ] ||
		BAD+="; $(wc -l <<<"$RES") result lines"
}

dmesg_mark
kvs_load
stats
objs0=${S[area_objects]}
size=$(awk '{ print $2 }' "$KVS_DIR/arena")

load ''
if [ "$RW_STATUS" = "ops 0" ]; then
	tap_ok "no trace loaded at first: $RW_STATUS"
else
	tap_not_ok "no trace loaded at first" "$RW_STATUS"
fi
expect_errno "replay without a trace" "$ENOENT" replay

# --- a synthetic trace of known shape -------------------------------------
#
# Window 0, 32 TiB (the vmalloc space: the widest, so the whole arena),
# window 1, 1 GiB (the modules' space: the top GiB of the arena).  In
# window 0, 100 areas of 8K, 16K, 24K, 32K in turn, align 1 (as
# get_vm_area() asks): 2000K packed from the arena's base, then the even
# ids freed.  In window 1, 20 areas of 20K aligned to 16K, then every
# other one freed.  180 operations, 60 areas live at the end, and on every
# backend the largest hole runs from 2000K to the second area of window 1
# (the first, freed, at window 1's first 16K-aligned address).
{
	echo "kvs-replay 1 kernel=synthetic note=84-replay a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9"
	echo "# a comment"
	echo "window 0 35184372088832"
	echo "window 1 1G"
	for ((i = 0; i < 100; i++)); do
		echo "alloc $i $(((i % 4 + 1) * 8192)) 1 0 0 $i test"
	done
	for ((i = 0; i < 100; i += 2)); do
		echo "free $i"
	done
	echo
	for ((i = 100; i < 120; i++)); do
		echo "alloc $i 20K 16K 1"
	done
	for ((i = 100; i < 120; i += 2)); do
		echo "free $i"
	done
	echo "end 180"
} >"$TMP/synth.trace"
load_file "$TMP/synth.trace"
if [ -z "$RW_ERR" ] && [ "$RW_STATUS" = "ops 180 allocs 120 frees 60 live 60 windows 2 ids 120" ]; then
	tap_ok "synthetic trace loads: $RW_STATUS"
else
	tap_not_ok "synthetic trace loads" "write: $RW_ERR" "status: $RW_STATUS"
fi
base=$(arena_base)
align16k() { echo $((($1 + 16383) & ~16383)); }
a100=$(align16k $((base + size - (1 << 30))))
hole=$(($(align16k $((a100 + 20480))) - base - 2000 * 1024))
if kc replay; then
	results 180 60 "$hole"
	awk '{ print "# " $0 }' <<<"$RES"
	if [ -z "$BAD" ] && [[ $KC_OUT == "ok 6 targets, 180 ops each, 0 failures; see replay" ]]; then
		tap_ok "synthetic trace replays on $TARGETS: 180 ops, 0 failures, 60 live, largest hole $hole ($KC_OUT)"
	else
		tap_not_ok "synthetic trace replays on every target" "reply: $KC_OUT" "${BAD#; }"
	fi
else
	tap_not_ok "replay of the synthetic trace" "$KC_OUT"
fi
if kc replay target=rbtree &&
   [[ $KC_OUT == "rbtree ops=180 fails=0 ns_per_op="*" live=60 largest_hole=$hole check_failed=0" ]] &&
   [ "$(tail -n +2 "$REPLAY" | wc -l)" = 1 ]; then
	tap_ok "replay target=rbtree replies with its figures: $KC_OUT"
else
	tap_not_ok "replay target=rbtree replies with its figures" "$KC_OUT" "$(cat "$REPLAY")"
fi
expect_errno "replay target=nosuch" "$EINVAL" replay target=nosuch
expect_errno "replay with an unknown option" "$EINVAL" replay now

# An id used again after its free, and an alloc that cannot be placed: a
# 1G area aligned to 2G in window 1, the top GiB of the arena, which holds
# no 2G-aligned start: counted as a failure, and its free skipped.
load "kvs-replay 1\nwindow 0 4G\nwindow 1 1G\nalloc 7 8K 1 0\nfree 7\nalloc 7 1G 2G 1\nfree 7\nend 4\n"
if [ -z "$RW_ERR" ] && kc replay target=maple &&
   [[ $KC_OUT == "maple ops=4 fails=1 ns_per_op="*" live=0 "* ]] &&
   grep -q '^target=maple ops=4 fails=1 skipped=1 ' "$REPLAY"; then
	tap_ok "an id reused after its free; an alloc that cannot fit fails and its free is skipped: $KC_OUT"
else
	tap_not_ok "an alloc that cannot fit fails, its free skipped" "$RW_ERR" "$KC_OUT" "$(cat "$REPLAY")"
fi

# --- malformed traces ---------------------------------------------------------

EI="Invalid argument" ER="Numerical result out of range" EB="Argument list too long"
H='kvs-replay 1\nwindow 0 1G\n'
refused "a truncated trace (no end line)" "${H}alloc 0 8K 1 0\n" EINVAL "" "truncated: *"
refused "a trace cut inside a line" "${H}alloc 0 8K 1 0\nalloc 1 8" EINVAL "" "line 4: want \"alloc ID*"
refused "a line missing fields" "${H}alloc 0 8K\nend 1\n" EINVAL "$EI" "line 3: want \"alloc ID*"
refused "an unknown op" "${H}alloc 0 8K 1 0\nfrob 0\nend 2\n" EINVAL "$EI" "line 4: unknown op \"frob\""
refused "a free of an unknown id" "${H}alloc 0 8K 1 0\nfree 1\nend 2\n" EINVAL "$EI" "line 4: free of id 1, which is not live"
refused "a double free" "${H}alloc 0 8K 1 0\nfree 0\nfree 0\nend 3\n" EINVAL "$EI" "line 5: free of id 0, *"
refused "a double alloc of an id" "${H}alloc 0 8K 1 0\nalloc 0 8K 1 0\nend 2\n" EINVAL "$EI" "line 4: alloc of id 0, which is live"
refused "a size beyond the arena" "kvs-replay 1\nwindow 0 64T\nalloc 0 $((size + 4096)) 1 0\nend 1\n" \
	ERANGE "$ER" "line 3: size * do not fit window 0's $size bytes*"
refused "a size beyond its window's part of the arena" "kvs-replay 1\nwindow 0 64T\nwindow 1 1G\nalloc 0 2G 1 1\nend 1\n" \
	ERANGE "$ER" "line 4: size * do not fit window 1's 1073741824 bytes*"
refused "a size not in pages" "${H}alloc 0 5000 1 0\nend 1\n" EINVAL "$EI" "line 3: size 0x1388 is not a positive multiple*"
refused "an alignment not a power of two" "${H}alloc 0 8K 3K 0\nend 1\n" EINVAL "$EI" "line 3: align 0xc00 *"
refused "an undeclared window" "${H}alloc 0 8K 1 1\nend 1\n" EINVAL "$EI" "line 3: window 1 is not declared*"
refused "a window after an operation" "${H}alloc 0 8K 1 0\nwindow 1 1G\nend 1\n" EINVAL "$EI" "line 4: a window after*"
refused "windows out of order" "kvs-replay 1\nwindow 1 1G\n" EINVAL "$EI" "line 2: window 1 where window 0 comes next"
refused "a ninth window" "kvs-replay 1\n$(for i in 0 1 2 3 4 5 6 7 8; do printf 'window %d 1G\\n' $i; done)" \
	E2BIG "$EB" "line 10: more than 8 windows"
refused "a word for a number" "${H}alloc x 8K 1 0\nend 1\n" EINVAL "$EI" "line 3: id \"x\" is not a number"
refused "an id out of range" "${H}alloc 1048576 8K 1 0\nend 1\n" ERANGE "$ER" "line 3: id 1048576 is out of range*"
refused "an end count that disagrees" "${H}alloc 0 8K 1 0\nend 2\n" EINVAL "$EI" "line 4: end says 2 operations, the trace has 1"
refused "text after the end" "${H}end 0\nfree 0\n" EINVAL "$EI" "line 4: text after the end line"
refused "no header" "window 0 1G\nend 0\n" EINVAL "$EI" "line 1: want the header*"
refused "another version" "kvs-replay 2\nend 0\n" EINVAL "$EI" "line 1: trace version \"2\"*"
refused "a NUL byte" "${H}\0" EINVAL "$EI" "line 3 contains a NUL byte"
refused "a line over 255 bytes" "${H}alloc 0 $(printf '%0260d' 8192) 1 0\n" EINVAL "$EI" "line 3 is longer than 255 bytes"
expect_errno "replay after a failed load: nothing loaded" "$ENOENT" replay

# One operation more than the limit (2^20), in one write of ~9 MiB.
RW_ERR=$( { awk 'BEGIN { print "kvs-replay 1\nwindow 0 1G"
	for (i = 0; i <= 524288; i++) printf "alloc 0 4K 1 0\nfree 0\n" }' >"$REPLAY"; } 2>&1)
RW_STATUS=$(head -n 1 "$REPLAY")
case "$RW_ERR|$RW_STATUS" in
*"$EB"*"|error: E2BIG: line 1048579: more than 1048576 operations") tap_ok "1048577 operations refused: $RW_STATUS" ;;
*) tap_not_ok "1048577 operations refused with E2BIG" "write: $RW_ERR" "status: $RW_STATUS" ;;
esac
load ''
if [ "$RW_STATUS" = "ops 0" ]; then
	tap_ok "an empty load clears the trace"
else
	tap_not_ok "an empty load clears the trace" "$RW_STATUS"
fi

# --- the committed real traces ------------------------------------------------

n=0
for f in "$TRACES"/*.trace; do
	[ -e "$f" ] || continue
	n=$((n + 1))
	name=$(basename "$f")
	head=$(head -n 1 "$f")
	ops=$(field ops <<<"$head ") live=$(field live <<<"$head ")
	load_file "$f"
	if [ -n "$RW_ERR" ] || [[ $RW_STATUS != "ops $ops allocs "*" live $live "* ]]; then
		tap_not_ok "$name loads" "write: $RW_ERR" "status: $RW_STATUS" "header: $head"
		continue
	fi
	if kc replay; then
		results "$ops" "$live"
		awk -v n="$name" '{ print "# " n ": " $0 }' <<<"$RES"
		if [ -z "$BAD" ]; then
			tap_ok "$name ($ops ops, $live live at the end) replays on every target with 0 failures"
		else
			tap_not_ok "$name replays on every target with 0 failures" "${BAD#; }"
		fi
	else
		tap_not_ok "replay of $name" "$KC_OUT"
	fi
done
if [ "$n" -ge 1 ]; then
	tap_ok "$n committed real traces replayed"
else
	tap_not_ok "committed real traces in $TRACES" "none found"
fi

# --- record and replay: a round trip ----------------------------------------

# 32 threads alive together (5 s: under TCG, starting them takes seconds):
# each needs a kernel stack, vmapped (THREAD_SIZE, 16K) and aligned to
# THREAD_ALIGN: THREAD_SIZE on x86_64, twice it on arm64 (so that an
# overflow is caught by one check of the stack pointer), of which each
# CPU caches two.
THREADS=32
case $(uname -m) in
aarch64) STACK_ALIGN=32768 ;;
*) STACK_ALIGN=16384 ;;
esac
if ! command -v bpftrace >/dev/null; then
	tap_skip "record -> replay round trip" "bpftrace is not installed"
elif ! grep -q ' __sys_bpf$' /proc/kallsyms; then
	tap_skip "record -> replay round trip" "this kernel has no bpf() syscall (CONFIG_BPF_SYSCALL)"
elif grep -qs '^# CONFIG_VMAP_STACK is not set' "/boot/config-$(uname -r)" \
	"/lib/modules/$(uname -r)/build/.config"; then
	tap_skip "record -> replay round trip" "no CONFIG_VMAP_STACK: threads do not allocate vmap areas"
else
	"$KVS_REPO/debugfs-scripts/kvashim-record" -o "$TMP/rt.trace" -n "84-replay round trip" -- \
		python3 -c "import threading, time
ts = [threading.Thread(target=time.sleep, args=(5,)) for _ in range($THREADS)]
[t.start() for t in ts]
[t.join() for t in ts]" >"$TMP/rec.out" 2>&1
	rc=$?
	head=$(head -n 1 "$TMP/rt.trace" 2>/dev/null)
	ops=$(field ops <<<"$head ") live=$(field live <<<"$head ")
	stacks=$(awk -v a=$STACK_ALIGN '$1 == "alloc" && $4 == a { n++ } END { print n + 0 }' "$TMP/rt.trace" 2>/dev/null)
	echo "# $head"
	want=$((THREADS - 2 * $(nproc)))
	if [ $rc = 0 ] && [ "${ops:-0}" -gt 0 ] && [ "$stacks" -ge "$want" ] &&
	   ! grep -qE '0x[0-9a-f]{8}|ffff[0-9a-f]{8}' "$TMP/rt.trace"; then
		tap_ok "kvashim-record: $ops ops, $stacks stack-aligned allocs (at least $want), no address"
	else
		tap_not_ok "kvashim-record records the threads' stacks" "exit $rc, stacks $stacks (want $want)" \
			"$head" "$(cat "$TMP/rec.out")"
	fi
	load_file "$TMP/rt.trace"
	if [ -z "$RW_ERR" ] && [[ $RW_STATUS == "ops $ops allocs "*" live $live "* ]] && kc replay; then
		results "$ops" "$live"
		awk '{ print "# round trip: " $0 }' <<<"$RES"
		if [ -z "$BAD" ]; then
			tap_ok "the recording replays on every target: $ops ops, $live live at the end, 0 failures"
		else
			tap_not_ok "the recording replays on every target" "${BAD#; }"
		fi
	else
		tap_not_ok "the recording loads and replays" "write: $RW_ERR" "status: $RW_STATUS" "$KC_OUT"
	fi
fi

load ''
check_ok "live arena after the replays"
if objects_settle "$objs0"; then
	tap_ok "no tracking object left: area_objects back to $objs0"
else
	tap_not_ok "no tracking object left" "area_objects ${S[area_objects]}, was $objs0"
fi
kvs_unload
# Case-sensitive: "debugfs" holds "bug" (7.x's tracefs automount notice).
log=$(dmesg_since | grep -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK")
log_quiet "no warning in the kernel log" "$log"
rm -rf "$TMP"
