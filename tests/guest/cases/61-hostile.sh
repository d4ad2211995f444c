#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Hostile input, table-driven (tests/guest/data/hostile.tsv): every row is
# one raw write to the control file, with the result (OK or an errno) it
# must give and a one-line reason to read back; then the index checks
# clean, nothing is left allocated and the kernel log stays quiet.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

table=$KVS_REPO/tests/guest/data/hostile.tsv

kvs_load arena_size=256M
dmesg_mark
b=$(ctl alloc 64K top)
kc reset
a=$(ctl alloc 16K)
long300=$(printf 'a%.0s' $(seq 300))
long5000=$(printf "$long300%.0s" $(seq 17))

# rawc PAYLOAD: one write of the %b-expanded PAYLOAD on the shared
# descriptor; sets KC_OUT and KC_RC like kc.  bash's printf flushes its
# output at every newline (and every 4 KiB): a payload with a newline
# before its end, or a long one, goes through dd, whose one write() is
# the whole payload.
rawc() {
	local body=${1%\\n}
	ctl_open
	if [[ $body == *\\n* || ${#body} -gt 1000 ]]; then
		# shellcheck disable=SC2059 # the payload is a format on purpose
		printf -- "$1" >/tmp/kvs-raw
		dd if=/tmp/kvs-raw bs=1M count=1 status=none 1>&"$KVS_FD" 2>/dev/null
	else
		# shellcheck disable=SC2059 # the payload is a format on purpose
		printf -- "$1" 1>&"$KVS_FD" 2>/dev/null
	fi
	kc_result
}

rows=0 bad=0
while IFS=$'\t' read -r want desc payload; do
	case $want in '' | \#*) continue ;; esac
	# Placeholders; arithmetic ones first (@A+N).
	while [[ $payload =~ @A\+([0-9]+) ]]; do
		payload=${payload/"@A+${BASH_REMATCH[1]}"/$(hex $((a + BASH_REMATCH[1])))}
	done
	payload=${payload//@A/$a}
	payload=${payload//@B/$b}
	payload=${payload//@LONG5000/$long5000}
	payload=${payload//@LONG300/$long300}
	payload=${payload//%/%%}
	rawc "$payload"
	rows=$((rows + 1))
	if [ "$want" = OK ]; then
		wrc=0
	else
		wrc=${KVS_ERRNO[$want]}
	fi
	reason=${KC_OUT#error: *: }
	if [ "$KC_RC" = "$wrc" ] && [ -n "$reason" ] && [ "$reason" = "${reason%$'\n'*}" ]; then
		tap_ok "$desc: $want ($KC_OUT)"
	else
		bad=$((bad + 1))
		tap_not_ok "$desc" "payload: $payload" "want $want ($wrc), got $KC_RC: $KC_OUT"
	fi
done <"$table"

if [ "$rows" -ge 90 ]; then
	tap_ok "the table has $rows rows ($bad failed)"
else
	tap_not_ok "the table has $rows rows" "expected at least 90: is $table complete?"
fi
kc inject off
check_ok "after the hostile rows"
ctl free all >/dev/null
if [ "$(kvs_stat live_areas)" = 0 ] && [ "$(kvs_stat largest_free_hole)" = $((256 << 20)) ]; then
	tap_ok "free all leaves the whole arena free"
else
	tap_not_ok "free all leaves the whole arena free" "$(cat "$KVS_DIR/stats")"
fi
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK")
log_quiet "the kernel log stayed quiet" "$log"
kvs_unload
