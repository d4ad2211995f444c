#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# bench background=layout: a layout written to bench_layout loads, the
# bench places its areas in every backend's arena and lays them down in
# the kernel's (live count = the layout's), a layout wider than the arena has its widest gaps narrowed,
# malformed layouts are refused with the right errno and a reason, and
# nothing is left behind.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

LAYOUT=$KVS_DIR/bench_layout
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# load TEXT: write TEXT (printf format) to bench_layout in one open; LW_ERR
# is the write's error message ("" if it succeeded), LW_STATUS the status.
load() {
	# shellcheck disable=SC2059 # the layouts are formats, for \n and \0
	LW_ERR=$( { printf "$1" >"$LAYOUT"; } 2>&1)
	LW_STATUS=$(cat "$LAYOUT")
}

# refused DESC TEXT ENAME STRERROR: the load fails with that errno, and the
# status names it with a reason.
refused() {
	load "$2"
	case "$LW_ERR|$LW_STATUS" in
	*"$4"*"|error: $3: "?*)
		tap_ok "$1 refused: $LW_STATUS" ;;
	*)
		tap_not_ok "$1 refused with $3" "write: $LW_ERR" "status: $LW_STATUS" ;;
	esac
}

dmesg_mark
kvs_load
stats
objs0=${S[area_objects]}
# The kernel's areas reserved by kvashim: the arena's, before and after.
kvm0=$(grep -c '\[kvashim\]' /proc/vmallocinfo)

load ''
if [ "$LW_STATUS" = "areas 0" ]; then
	tap_ok "no layout loaded at first: $LW_STATUS"
else
	tap_not_ok "no layout loaded at first" "$LW_STATUS"
fi
expect_errno "bench background=layout without a layout" "$ENOENT" \
	bench workload=fix_size_alloc background=layout loops=10

# Three areas (8K, 20K, 12K reservations) with a one-page and a 32K hole,
# comments, blank lines and mixed notations.
load '# a comment\n0 8K\n\n  # another\n12K 0x5000\n0x10000 12288'
if [ -z "$LW_ERR" ] && [ "$LW_STATUS" = "areas 3 span 77824 bytes 40960" ]; then
	tap_ok "small layout loads: $LW_STATUS"
else
	tap_not_ok "small layout loads" "write: $LW_ERR" "status: $LW_STATUS"
fi

if kc bench workload=fix_size_alloc,long_busy_list_alloc,fix_align_alloc \
	background=layout threads=1 loops=100 busy=50 reps=2; then
	res=$(grep '@layout' "$KVS_DIR/results")
	awk '{ print "# " $0 }' <<<"$res"
	bad=$(awk '/skipped=1/ { if ($2 != "target=kernel") print; next }
		!/ background=3 / || !/ layout_gap_cap=0( |$)/ || !/ fails=0 / ||
		!/ check_failed=0 / || !/ chunks_left=0 / || !/ capped=0 / { print }' <<<"$res")
	n=$(grep -c ' background=3 ' <<<"$res")
	# The kernel target: in order, for the two workloads without alignments.
	want=$((3 * $(wc -w <<<"$KVS_BACKENDS maple+pcpu") + 2))
	if [ -z "$bad" ] && [ "$n" = "$want" ]; then
		tap_ok "bench places the layout: background=3 in all $n @layout results (kernel: 2), checked"
	else
		tap_not_ok "bench places the layout" "$n of $want with background=3" "$bad"
	fi
else
	tap_not_ok "bench background=layout" "$KC_OUT"
fi

# Wider than the arena: the 4 TiB gap shrinks to what the arena leaves.
size=$(awk '{ print $2 }' "$KVS_DIR/arena")
load '0 8K\n0x40000000000 8K\n'
if kc bench workload=fix_size_alloc target=maple background=layout threads=1 loops=10; then
	cap=$(grep '^workload=fix_size_alloc@layout ' "$KVS_DIR/results" | field layout_gap_cap)
	if [ "$cap" = $((size - 16384)) ]; then
		tap_ok "a layout wider than the $size-byte arena: its gap narrowed to $cap"
	else
		tap_not_ok "a layout wider than the arena" "layout_gap_cap '$cap', want $((size - 16384))"
	fi
else
	tap_not_ok "a layout wider than the arena" "$KC_OUT"
fi
load "0 $((size + 4096))\n"
expect_errno "a layout whose areas exceed the arena" "$ERANGE" \
	bench workload=fix_size_alloc target=maple background=layout loops=10
load '0 8K\n'
expect_errno "scaling with a layout" "$EINVAL" bench scaling background=layout

EI="Invalid argument" ER="Numerical result out of range" EB="Argument list too long"
refused "overlapping areas" '0 8K\n4K 8K\n' EINVAL "$EI"
refused "unsorted areas" '16K 8K\n0 8K\n' EINVAL "$EI"
refused "a word for a number" '0 8K\nabc 8K\n' EINVAL "$EI"
refused "a size not in pages" '0 5000\n' EINVAL "$EI"
refused "an area below two pages" '0 4K\n' EINVAL "$EI"
refused "three numbers on a line" '0 8K 3\n' EINVAL "$EI"
refused "one number on a line" '8K\n' EINVAL "$EI"
refused "a number too large" '0 99999999999999999999999\n' ERANGE "$ER"
refused "an end past the address space" '0xfffffffffffff000 8K\n' ERANGE "$ER"
refused "a NUL byte" '0 8K\n\0' EINVAL "$EI"
refused "a line over 79 bytes" "0 $(printf '%0100d' 8192)\n" EINVAL "$EI"
# A last line without a newline is read at close: only the status tells.
refused "a bad last line without newline" '0 8K\n16K' EINVAL ""
expect_errno "bench after a failed load: nothing loaded" "$ENOENT" \
	bench workload=fix_size_alloc background=layout loops=10

# One area more than the limit, in one write of ~1 MiB.
LW_ERR=$( { awk 'BEGIN { for (i = 0; i <= 65536; i++) printf "%d 8192\n", i * 8192 }' >"$LAYOUT"; } 2>&1)
LW_STATUS=$(cat "$LAYOUT")
case "$LW_ERR|$LW_STATUS" in
*"$EB"*"|error: E2BIG: "?*) tap_ok "65537 areas refused: $LW_STATUS" ;;
*) tap_not_ok "65537 areas refused with E2BIG" "write: $LW_ERR" "status: $LW_STATUS" ;;
esac
# And the limit itself loads.
awk 'BEGIN { for (i = 0; i < 65536; i++) printf "%d 8192\n", i * 12288 }' >"$LAYOUT"
LW_STATUS=$(cat "$LAYOUT")
if [ "$LW_STATUS" = "areas 65536 span $((65535 * 12288 + 8192)) bytes $((65536 * 8192))" ]; then
	tap_ok "65536 areas load: $LW_STATUS"
else
	tap_not_ok "65536 areas load" "$LW_STATUS"
fi
load ''
if [ "$LW_STATUS" = "areas 0" ]; then
	tap_ok "an empty load clears the layout"
else
	tap_not_ok "an empty load clears the layout" "$LW_STATUS"
fi

check_ok "live arena after the layout benches"
if objects_settle "$objs0"; then
	tap_ok "no tracking object left: area_objects back to $objs0"
else
	tap_not_ok "no tracking object left" "area_objects ${S[area_objects]}, was $objs0"
fi
kvm=$(grep -c '\[kvashim\]' /proc/vmallocinfo)
if [ "$kvm" = "$kvm0" ]; then
	tap_ok "no kernel area left by the kernel target's layout: $kvm in /proc/vmallocinfo, as before"
else
	tap_not_ok "no kernel area left by the kernel target's layout" \
		"$kvm areas of kvashim in /proc/vmallocinfo, $kvm0 before" \
		"$(grep '\[kvashim\]' /proc/vmallocinfo | head -n 5)"
fi
kvs_unload
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' |
	grep -v -E "$KVS_LOG_OK|bench: [a-z0-9_]+(@layout)? on |bench: layout of [0-9]+ areas spans")
log_quiet "no warning in the kernel log" "$log"
