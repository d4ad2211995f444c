#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Last of all, since it cannot be undone: raise the kernel's lockdown to
# "integrity" (what Secure Boot gives), under which debugfs refuses to open
# writable files.  kvashim-ctl must say that lockdown is the reason; the
# read-only files stay readable.  Skipped where the lockdown LSM is absent.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

sec=/sys/kernel/security
[ -e "$sec/lockdown" ] || mount -t securityfs securityfs "$sec" 2>/dev/null
if [ ! -w "$sec/lockdown" ] || ! grep -q integrity "$sec/lockdown"; then
	tap_skip "writes refused under lockdown are reported as such" "no lockdown LSM in this kernel"
	exit 0
fi
kvs_load arena_size=64M
ctl_close
if ! echo integrity >"$sec/lockdown"; then
	tap_skip "writes refused under lockdown are reported as such" "cannot raise lockdown"
	exit 0
fi
out=$("$KVS_CTL" alloc 4K 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"lockdown is active"* ]]; then
	tap_ok "under lockdown kvashim-ctl alloc fails and says why: $out"
else
	tap_not_ok "under lockdown kvashim-ctl alloc fails and says why" "rc $rc" "$out"
fi
if "$KVS_CTL" stats | grep -q '^live_areas 0$'; then
	tap_ok "under lockdown the read-only stats file stays readable"
else
	tap_not_ok "under lockdown the read-only stats file stays readable"
fi
ok_if "unload under lockdown" kvs_unload
