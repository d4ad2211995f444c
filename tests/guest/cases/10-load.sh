#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Load and unload: the reservation appears in /proc/vmallocinfo while
# loaded and disappears after; bad parameters fail the load cleanly.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

vmallocinfo_has_arena() {
	grep -q 'kvs_reserve.*\[kvashim\]' /proc/vmallocinfo
}

kvs_unload
if vmallocinfo_has_arena; then
	tap_not_ok "no arena in /proc/vmallocinfo before load"
else
	tap_ok "no arena in /proc/vmallocinfo before load"
fi

for round in 1 2; do
	ok_if "load #$round" kvs_load
	ok_if "arena in /proc/vmallocinfo while loaded (#$round)" vmallocinfo_has_arena
	ok_if "unload #$round" kvs_unload
	if vmallocinfo_has_arena; then
		tap_not_ok "arena gone from /proc/vmallocinfo after unload #$round"
	else
		tap_ok "arena gone from /proc/vmallocinfo after unload #$round"
	fi
done

kvs_load arena_size=64M
line=$(grep 'kvs_reserve.*\[kvashim\]' /proc/vmallocinfo)
size=$(echo "$line" | awk '{ print $2 }')
# get_vm_area() adds its own guard page to the reservation.
if [ "$size" = $((64 * 1024 * 1024 + 4096)) ]; then
	tap_ok "arena_size=64M reserves 64 MiB plus a guard page ($line)"
else
	tap_not_ok "arena_size=64M reserves 64 MiB plus a guard page" "$line"
fi
# vmallocinfo may hash its addresses (kptr_restrict): compare sizes.
range=$(cat "$KVS_DIR/arena")
if [ "$(echo "$range" | awk '{ print $2 }')" = $((64 << 20)) ]; then
	tap_ok "debugfs arena file agrees ($range)"
else
	tap_not_ok "debugfs arena file agrees" "$range" "$line"
fi

# Root only, the least each file needs: control, bench_layout and replay
# (written to) 0600, everything else 0400.
modes=$(stat -c '%n %a %U' "$KVS_DIR"/* | sed "s|$KVS_DIR/||" | sort | tr '\n' ' ')
if [ "$modes" = "areas 400 root arena 400 root bench_layout 600 root chunks 400 root control 600 root histograms 400 root holes 400 root inject 400 root replay 600 root results 400 root selftest 400 root stats 400 root " ]; then
	tap_ok "debugfs file modes ($modes)"
else
	tap_not_ok "debugfs file modes" "$modes"
fi
kvs_unload

ver=$(modinfo -F version "$KVS_KO")
dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KVS_REPO/dkms.conf")
if [ -n "$ver" ] && [ "$ver" = "$dkms" ]; then
	tap_ok "MODULE_VERSION $ver equals dkms.conf's"
else
	tap_not_ok "MODULE_VERSION equals dkms.conf's" "module '$ver' dkms '$dkms'"
fi

# refused DESC ERROR LOG PARAM...: the load fails with insmod's ERROR text,
# one kvashim line matching LOG, at warning level (no error, no WARN),
# and leaves no module and no arena behind.
refused() {
	local desc=$1 want=$2 why=$3 out log errs
	shift 3
	dmesg_mark
	errs=$(dmesg -l err,crit,alert,emerg | grep -c kvashim)
	if out=$(insmod "$KVS_KO" "$@" 2>&1); then
		tap_not_ok "$desc" "it loaded"
		kvs_unload
		return
	fi
	log=$(dmesg_since | grep kvashim)
	if [[ $out == *"$want"* ]] && [ "$(echo "$log" | wc -l)" -eq 1 ] &&
	   echo "$log" | grep -q -E "$why" &&
	   [ "$(dmesg -l err,crit,alert,emerg | grep -c kvashim)" = "$errs" ] &&
	   ! kvs_loaded && ! vmallocinfo_has_arena; then
		tap_ok "$desc (${out##*: }: ${log#*kvashim: })"
	else
		tap_not_ok "$desc" "$out" "$log"
	fi
}

# Sizes the machine cannot have.  More than the architecture's vmalloc
# space is out of range; all of it cannot be reserved (others use some).
# A 1T chunk's slot array (one pointer per page, 2 GiB) would make
# kvcalloc() WARN: chunks stop at 1G.
vtotal_kb=$(awk '$1 == "VmallocTotal:" { print $2 }' /proc/meminfo)
refused "arena_size=1P is refused with ERANGE and one warning" \
	"Numerical result out of range" "exceeds the vmalloc space" arena_size=1P
refused "arena_size of the whole vmalloc space is refused with ENOMEM and one warning" \
	"Cannot allocate memory" "cannot reserve" arena_size=$((vtotal_kb - 4))K
refused "arena_size=8T chunk_size=1T is refused with ERANGE and one warning" \
	"Numerical result out of range" "chunk_size [0-9]+ exceeds" arena_size=8T chunk_size=1T

# The largest chunk works: 1G, its slot array 2 MiB.  Not under
# KASAN_VMALLOC (the debug kernel), which backs every reservation with
# shadow pages at get_vm_area(): 1 TiB of them for an 8 TiB arena, and the
# kernel reports its own allocation failure.
if zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_KASAN_VMALLOC=y'; then
	tap_skip "arena_size=8T chunk_size=1G loads and serves from a 1G chunk" \
		"KASAN_VMALLOC would need 1 TiB of shadow for the arena"
elif kvs_load arena_size=8T chunk_size=1G pcpu=1 && a=$(ctl alloc 4K) &&
   [ "$(kvs_stat pcpu_chunk_size)" = $((1 << 30)) ] && ctl free "$a" >/dev/null &&
   kc check; then
	tap_ok "arena_size=8T chunk_size=1G loads and serves from a 1G chunk"
else
	tap_not_ok "arena_size=8T chunk_size=1G loads and serves from a 1G chunk" \
		"$KC_OUT" "$(grep pcpu "$KVS_DIR/stats" 2>&1)"
fi
kvs_unload

for bad in "backend=nosuch" "arena_size=12Q" "arena_size=0"; do
	if out=$(insmod "$KVS_KO" "$bad" 2>&1); then
		tap_not_ok "$bad is refused" "it loaded"
		kvs_unload
	elif ! kvs_loaded; then
		tap_ok "$bad is refused (${out##*: })"
	else
		tap_not_ok "$bad is refused" "$out"
	fi
done

# Symbols that cannot be resolved: the ksym injection site fails the Nth
# step of the resolution (the kprobe on kallsyms_lookup_name, then each
# lookup) for N = 1, 2, ... until a load gets through.  Every refusal is
# ENOENT with one log line naming the step, and leaves no kprobe, no arena
# and no module behind.
KPROBE_LIST=/sys/kernel/debug/kprobes/list
# An unreadable list counts as a kprobe left behind, so the check can fail.
kprobe_left() {
	[ -r "$KPROBE_LIST" ] || return 0
	grep -q kallsyms_lookup_name "$KPROBE_LIST"
}
refused=0
loaded_at=0
for n in 1 2 3 4 5 6 7 8; do
	dmesg_mark
	if out=$(insmod "$KVS_KO" inject=ksym:nth=$n 2>&1); then
		loaded_at=$n
		break
	fi
	log=$(dmesg_since | grep kvashim)
	# insmod words ENOENT as "Unknown symbol in module".
	if echo "$out" | grep -q -E "Unknown symbol in module|No such file or directory" &&
	   [ "$(echo "$log" | wc -l)" -eq 1 ] &&
	   echo "$log" | grep -q "cannot resolve kernel symbol.*injected" &&
	   ! kvs_loaded && ! vmallocinfo_has_arena && ! kprobe_left; then
		refused=$((refused + 1))
	else
		tap_not_ok "ksym fault $n: refused with ENOENT, one line, nothing left" "$out" "$log" \
			"$(ls -l "$KPROBE_LIST" 2>&1; grep kallsyms_lookup_name "$KPROBE_LIST" 2>&1)"
		break
	fi
done
# The load that got through made n-1 evaluations and failed none of them.
calls=$(sed -n 's/^ksym .* calls=\([0-9]*\) hits=0 .*/\1/p' "$KVS_DIR/inject" 2>/dev/null)
if [ "$loaded_at" -ge 3 ] && [ "$refused" -eq $((loaded_at - 1)) ] &&
   [ "$calls" = "$((loaded_at - 1))" ]; then
	tap_ok "each of the $refused symbol-resolution steps refused the load (ENOENT, one line, no kprobe left)"
else
	tap_not_ok "each symbol-resolution step refuses the load" \
		"refused $refused, loaded at nth=$loaded_at, ksym calls '$calls'"
fi
kvs_unload
