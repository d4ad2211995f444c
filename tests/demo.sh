#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh: "make demo".  Boots Debian's kernel under QEMU, loads kvashim
# and walks through it: allocate, inspect, free, self test, fragmentation
# (the holes file and the occupancy picture), statistics.  The guest's
# outputs (out.log, kvashim-occupancy.png) land in the run directory,
# KVS_DEMO_DIR or a new one under $KVS_CACHE/runs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
run=${KVS_DEMO_DIR:-${KVS_CACHE:-/var/cache/kvashim}/runs/demo-$(date +%Y%m%d-%H%M%S)}
rc=0
"$repo/tests/vm/run.sh" --follow --timeout 900 --run-dir "$run" -- \
	"$repo/debugfs-scripts/kvashim-demo" || rc=$?
echo "demo: outputs in $run: out.log$([ -f "$run/kvashim-occupancy.png" ] && echo ", kvashim-occupancy.png")"
exit $rc
