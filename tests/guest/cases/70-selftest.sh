#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The in-kernel self tests: unit cases on every backend and the seeded
# differential test, each KTAP line counted as one case here.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

SEED=${KVS_SEED:-$(( $(date +%s) % 1000000 ))}
OPS=${KVS_DIFF_OPS:-100000}

kvs_load arena_size=64M
start=$(date +%s)
kc selftest seed="$SEED" ops="$OPS"
rc=$KC_RC
took=$(( $(date +%s) - start ))
echo "# selftest seed=$SEED ops=$OPS: $KC_OUT (${took}s)"
report=$(cat "$KVS_DIR/selftest")
n=0
while IFS= read -r line; do
	case "$line" in
	"ok "*)
		n=$((n + 1))
		tap_ok "${line#ok [0-9]* }" ;;
	"not ok "*)
		n=$((n + 1))
		tap_not_ok "${line#not ok [0-9]* }" ;;
	"# "*)
		echo "$line" ;;
	esac
done <<<"$report"
plan=$(echo "$report" | sed -n 's/^1\.\.\([0-9]*\)$/\1/p')
if [ "$n" -gt 0 ] && [ "$n" = "$plan" ] && { [ "$rc" = 0 ] || [ "$rc" = "$EUCLEAN" ]; }; then
	tap_ok "the report holds all $plan planned results"
else
	tap_not_ok "the report holds all planned results" "plan '$plan', seen $n, rc $rc" "$report"
fi
if [ "$(kvs_stat live_areas)" = 0 ]; then
	tap_ok "self tests left the live arena untouched"
else
	tap_not_ok "self tests left the live arena untouched" "$(kvs_stat live_areas)"
fi
kvs_unload
