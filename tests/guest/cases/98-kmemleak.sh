#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# After the other cases (99-lockdown excepted): on a kernel with kmemleak (the debug kernel of
# `make test-debug`), scan for leaks and fail on any suspected leak whose
# backtrace runs through kvashim.  Skipped elsewhere (Debian's kernels
# have no kmemleak).  kmemleak reports nothing on the first scan of an
# object younger than its minimum age: scan, wait, scan again.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kml=/sys/kernel/debug/kmemleak
if [ ! -w "$kml" ]; then
	tap_skip "kmemleak scan" "this kernel has no kmemleak"
	exit 0
fi
kvs_loaded && kvs_unload
echo scan >"$kml"
sleep 6
echo scan >"$kml"
report=$(cat "$kml")
total=$(grep -c '^unreferenced object' <<<"$report")
ours=$(awk '/^unreferenced object/ { if (hit) n++; hit = 0 } /kvs_|kvashim/ { hit = 1 } END { if (hit) n++; print n + 0 }' <<<"$report")
if [ "$ours" = 0 ]; then
	tap_ok "kmemleak: no leak through kvashim ($total suspects elsewhere in the kernel)"
	[ "$total" = 0 ] || head -n 40 <<<"$report" | sed 's/^/# /'
else
	tap_not_ok "kmemleak: $ours leaks through kvashim" "$report"
fi
