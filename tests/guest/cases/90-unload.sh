#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unload with live areas: all freed, one log line, nothing leaked.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=1G
for i in $(seq 1 100); do
	ctl alloc "${i}K" >/dev/null
done
ctl alloc 4K top >/dev/null
dmesg_mark
ok_if "unload with 101 live areas" kvs_unload
log=$(dmesg_since | grep kvashim)
if [ "$log" != "${log%unloaded with 101 live areas; all freed}" ] && [ "$(echo "$log" | wc -l)" -eq 1 ]; then
	tap_ok "one log line says how many were freed"
else
	tap_not_ok "one log line says how many were freed" "$log"
fi
if grep -q kvs_area /proc/slabinfo 2>/dev/null; then
	tap_not_ok "the kvs_area slab is gone" "$(grep kvs_area /proc/slabinfo)"
else
	tap_ok "the kvs_area slab is gone"
fi
ok_if "load again after that" kvs_load
ok_if "and unload" kvs_unload
