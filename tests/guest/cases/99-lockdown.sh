#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel lockdown (what Secure Boot turns on): debugfs refuses to open
# writable files, so `control` cannot be used; the scripts must say so.
# Lockdown cannot be lifted once raised, so this case runs last: the
# module is loaded first (lockdown would refuse an unsigned module), then
# the guest is locked down at run time.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

LD=/sys/kernel/security/lockdown
[ -e "$LD" ] || mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
if [ ! -w "$LD" ]; then
	for t in "lockdown raised at run time" "control refused under lockdown, kvashim-ctl says why" \
		"kvashim-bench stops with the same reason" "stats still readable" \
		"unload under lockdown"; do
		tap_skip "$t" "this kernel has no lockdown LSM ($LD)"
	done
	exit 0
fi

kvs_load
ctl alloc 4K >/dev/null
ctl_close
if echo integrity >"$LD" && grep -q '\[integrity\]' "$LD"; then
	tap_ok "lockdown raised at run time ($(cat "$LD"))"
else
	tap_not_ok "lockdown raised at run time" "$(cat "$LD")"
fi

out=$("$KVS_CTL" alloc 4K 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$out" | grep -q 'lockdown is active' &&
   echo "$out" | grep -q 'debugfs refuses writes'; then
	tap_ok "control refused under lockdown, kvashim-ctl says why (exit $rc: $out)"
else
	tap_not_ok "control refused under lockdown, kvashim-ctl says why" "exit $rc" "$out"
fi

out=$("$KVS_REPO/debugfs-scripts/kvashim-bench" -q -o /tmp/kvs-bench-ld 2>&1)
rc=$?
if [ "$rc" != 0 ] && echo "$out" | grep -q 'lockdown is active'; then
	tap_ok "kvashim-bench stops with the same reason (exit $rc)"
else
	tap_not_ok "kvashim-bench stops with the same reason" "exit $rc" "$out"
fi

# Read-only files stay readable (debugfs allows 0444/0400 files opened
# for reading under lockdown).
if [ "$("$KVS_CTL" stats | awk '$1 == "live_areas" { print $2 }')" = 1 ]; then
	tap_ok "stats still readable (1 live area)"
else
	tap_not_ok "stats still readable" "$("$KVS_CTL" stats 2>&1)"
fi

ok_if "unload under lockdown" kvs_unload
