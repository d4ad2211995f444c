#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The fragmentation view: on every backend, areas placed at known offsets
# (vstart=/vend= windows) give the exact holes by order, hole count and
# largest hole in the holes file; free + used is the arena; a freed
# populated area (lazy) and a per-CPU chunk count as used until the purge
# or the give-back; the chunks file lists the chunk; kvashim-occupancy
# computes the same free bytes, holes and largest hole from areas and
# chunks, and draws its PNG where gnuplot is installed.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

OCC=$KVS_REPO/debugfs-scripts/kvashim-occupancy
TMP=$(mktemp -d /tmp/kvs-holes.XXXXXX)
K=1024 M=$((1024 * 1024))
PG=4096 SIZE=$((64 * M))

# holes_read: the holes file into HL[NAME]; NZ = the non-zero orders as
# "K:COUNT ..."; NO = how many order lines, SUM = their counts' sum.
declare -A HL
holes_read() {
	local k v
	HL=() NZ='' NO=0 SUM=0
	while read -r k v; do
		HL[$k]=$v
		case $k in
		order_*)
			[ "$k" = "order_$NO" ] || NO=-1000
			NO=$((NO + 1)) SUM=$((SUM + v))
			[ "$v" = 0 ] || NZ+="${k#order_}:$v " ;;
		esac
	done <"$KVS_DIR/holes"
	NZ=${NZ% }
}

# expect DESC NONZERO HOLES LARGEST_PAGES FREE_PAGES [LAZY_BYTES [CHUNK_BYTES]]
expect() {
	local desc=$1 why=
	holes_read
	[ "$NZ" = "$2" ] || why+=" orders '$NZ' want '$2'"
	[ "$NO" = 15 ] || why+=" $NO order lines, want 0..14"
	[ "${HL[holes]}" = "$3" ] && [ "$SUM" = "$3" ] || why+=" holes ${HL[holes]} (orders sum $SUM) want $3"
	[ "${HL[largest_hole]}" = $(($4 * PG)) ] || why+=" largest ${HL[largest_hole]} want $(($4 * PG))"
	[ "${HL[free_bytes]}" = $(($5 * PG)) ] || why+=" free ${HL[free_bytes]} want $(($5 * PG))"
	[ $((HL[free_bytes] + HL[used_bytes])) = "$SIZE" ] && [ "${HL[arena_bytes]}" = "$SIZE" ] ||
		why+=" free ${HL[free_bytes]} + used ${HL[used_bytes]} != $SIZE"
	[ "${HL[lazy_bytes]}" = "${6:-0}" ] || why+=" lazy ${HL[lazy_bytes]} want ${6:-0}"
	[ "${HL[chunk_bytes]}" = "${7:-0}" ] || why+=" chunk ${HL[chunk_bytes]} want ${7:-0}"
	if [ -z "$why" ]; then
		tap_ok "$desc: $3 holes ($NZ), largest ${HL[largest_hole]}, free ${HL[free_bytes]} + used ${HL[used_bytes]}"
	else
		tap_not_ok "$desc" "$why" "$(cat "$KVS_DIR/holes")" "$(cat "$KVS_DIR/areas")"
	fi
}

# occupancy DESC USED LAZY SPARE: kvashim-occupancy --no-plot agrees with
# the holes file (free bytes, holes, largest, lazy) and with the classes
# this case placed (used, lazy, chunk spare bytes).
occupancy() {
	local desc=$1 rc why=
	declare -A O=()
	"$OCC" --no-plot >"$TMP/occ" 2>"$TMP/occ.err"
	rc=$?
	while read -r k v; do O[$k]=$v; done <"$TMP/occ"
	holes_read
	[ $rc = 0 ] || why+=" exit $rc"
	for k in free_bytes holes largest_hole lazy_bytes; do
		[ "${O[$k]:-}" = "${HL[$k]}" ] || why+=" $k ${O[$k]:-none} vs holes ${HL[$k]}"
	done
	[ "${O[used_bytes]:-}" = "$2" ] || why+=" used ${O[used_bytes]:-} want $2"
	[ "${O[lazy_bytes]:-}" = "$3" ] || why+=" lazy ${O[lazy_bytes]:-} want $3"
	[ "${O[chunk_spare_bytes]:-}" = "$4" ] || why+=" spare ${O[chunk_spare_bytes]:-} want $4"
	if [ -z "$why" ]; then
		tap_ok "$desc: kvashim-occupancy agrees (used $2, lazy $3, chunk spare $4, free ${O[free_bytes]})"
	else
		tap_not_ok "$desc: kvashim-occupancy agrees" "$why" "$(cat "$TMP/occ" "$TMP/occ.err")"
	fi
}

# at WINDOW_START WINDOW_END ARGS...: alloc inside a window; A = address.
at() {
	kc alloc "${@:3}" vstart="+$1" vend="+$2" && A=$KC_OUT
}

dmesg_mark
kvs_load arena_size=64M pcpu=1 chunk_size=1M
kc pcpu off
if [ "$(getconf PAGESIZE)" != $PG ]; then
	tap_skip "holes at known offsets" "pages of $(getconf PAGESIZE) bytes, the case counts 4K pages"
	kvs_unload
	exit 0
fi
# An empty arena: one hole of 16384 pages, order 14.
expect "empty arena" "14:1" 1 16384 16384

for be in $KVS_BACKENDS; do
	kc free all >/dev/null; kc purge >/dev/null
	if ! kc backend "$be"; then
		tap_not_ok "$be: switch" "$KC_OUT"
		continue
	fi
	# Reservations (guard pages included): [8K,16K) [28K,40K) [1M,2M+4K)
	# [64M-8K,64M); holes of 2, 3, 246 and 15869 pages.
	if ! { at 8K 16K 4K && at 28K 40K 8K && a2=$A && at 1M 3M 1M &&
	       kc alloc 4K top; }; then
		tap_not_ok "$be: four areas at known offsets" "$KC_OUT"
		continue
	fi
	expect "$be: four areas" "1:2 7:1 13:1" 4 15869 16120
	# Freeing the 8K area merges its two neighbouring holes: 6 + 246 pages.
	kc free "$a2"
	expect "$be: a free merges holes" "1:1 7:1 13:1" 3 15869 16123
	# A freed populated area is used until the purge: 64K + guard at +8M.
	if ! { at 8M 9M 64K populate && kc free "$A"; }; then
		tap_not_ok "$be: a populated area, freed" "$KC_OUT"
		continue
	fi
	expect "$be: a lazy area is used" "1:1 7:1 10:1 13:1" 4 14317 16106 69632
	occupancy "$be: lazy" $((M + 20 * K)) 69632 0
	kc purge >/dev/null
	expect "$be: purged, the hole is whole again" "1:1 7:1 13:1" 3 15869 16123
	# The overlay: a 1M chunk at the arena's start serves a 4K area; a
	# windowed request goes to the backend.  The chunk is used, whole.
	kc free all >/dev/null
	kc pcpu on
	if ! { kc alloc 4K && at 4M 5M 4K; }; then
		tap_not_ok "$be: allocations with the overlay on" "$KC_OUT"
		continue
	fi
	expect "$be: a per-CPU chunk is used" "9:1 13:1" 2 15358 16126 0 "$M"
	chunks=$(cat "$KVS_DIR/chunks")
	if [[ $chunks =~ ^0x[0-9a-f]+-0x[0-9a-f]+\ +$M\ cpu=[0-9]+\ bumped=8192\ areas=1\ current$ ]] &&
	   [ "${chunks%%-*}" = "$(hex "$(arena_base)")" ]; then
		tap_ok "$be: chunks lists the chunk ($chunks)"
	else
		tap_not_ok "$be: chunks lists the chunk" "$chunks"
	fi
	occupancy "$be: chunk" $((16 * K)) 0 $((M - 8 * K))
	check_ok "$be: after the pattern"
	kc free all >/dev/null
	expect "$be: free all gives the chunk back" "14:1" 1 16384 16384
	if [ -s "$KVS_DIR/chunks" ]; then
		tap_not_ok "$be: no chunk left" "$(cat "$KVS_DIR/chunks")"
	fi
	kc pcpu off
done

# The picture, on a mixed arena: used, lazy, a chunk, holes.
kc free all >/dev/null; kc purge >/dev/null; kc backend maple >/dev/null
kc pcpu on
for _ in 1 2 3; do kc alloc 4K >/dev/null; done
at 20M 30M 2M populate && kc free "$A"
at 40M 41M 16K
if command -v gnuplot >/dev/null; then
	"$OCC" --out "$TMP/occ.png" --rows 32 --cols 128 >"$TMP/occ" 2>"$TMP/occ.err"
	rc=$?
	magic=$(head -c 8 "$TMP/occ.png" 2>/dev/null | od -An -tx1 | tr -d ' \n')
	if [ $rc = 0 ] && [ "$magic" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$TMP/occ.png")" -gt 10000 ]; then
		tap_ok "kvashim-occupancy draws a PNG ($(stat -c %s "$TMP/occ.png") bytes)"
	else
		tap_not_ok "kvashim-occupancy draws a PNG" "exit $rc magic $magic" "$(cat "$TMP/occ" "$TMP/occ.err")"
	fi
	[ -z "${KVS_OUT:-}" ] || cp "$TMP/occ.png" "$KVS_OUT/82-holes-occupancy.png"
else
	tap_skip "kvashim-occupancy draws a PNG" "gnuplot is not installed in this guest"
	"$OCC" --out "$TMP/occ.png" >"$TMP/occ" 2>&1
	rc=$?
	if [ $rc = 203 ] && grep -q 'gnuplot-nox' "$TMP/occ"; then
		tap_ok "kvashim-occupancy without gnuplot: exit 203, names the package ($(cat "$TMP/occ"))"
	else
		tap_not_ok "kvashim-occupancy without gnuplot: exit 203" "exit $rc" "$(cat "$TMP/occ")"
	fi
fi
# From saved copies, without the module: the same numbers.
mkdir -p "$TMP/saved"
for f in arena areas chunks holes stats; do cat "$KVS_DIR/$f" >"$TMP/saved/$f"; done
"$OCC" --no-plot >"$TMP/live" 2>&1
kc free all >/dev/null; kc purge >/dev/null
kvs_unload
"$OCC" --no-plot >"$TMP/out" 2>&1
rc=$?
if [ $rc = 201 ]; then
	tap_ok "kvashim-occupancy without the module: exit 201 ($(cat "$TMP/out"))"
else
	tap_not_ok "kvashim-occupancy without the module: exit 201" "exit $rc" "$(cat "$TMP/out")"
fi
"$OCC" --no-plot --from "$TMP/saved" >"$TMP/out" 2>&1
rc=$?
if [ $rc = 0 ] && cmp -s "$TMP/out" "$TMP/live" && grep -q '^lazy_bytes 2101248$' "$TMP/out"; then
	tap_ok "kvashim-occupancy --from saved copies: the live numbers"
else
	tap_not_ok "kvashim-occupancy --from saved copies" "exit $rc" "$(cat "$TMP/out")" "live: $(cat "$TMP/live")"
fi
usage=0
for args in "--rows" "--rows=0" "--cols x" "extra" "--bogus"; do
	# shellcheck disable=SC2086 # split on purpose
	"$OCC" $args >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc = 2 ] && [ ! -s "$TMP/out" ] && [ -s "$TMP/err" ] || usage=$((usage + 1))
done
if [ $usage = 0 ]; then
	tap_ok "kvashim-occupancy usage errors exit 2"
else
	tap_not_ok "kvashim-occupancy usage errors exit 2" "$usage of 5 did not"
fi
log_quiet "no kernel log but load and unload" "$(dmesg_since | grep kvashim | grep -vE "$KVS_LOG_OK")"
rm -rf "$TMP"
