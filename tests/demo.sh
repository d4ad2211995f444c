#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh: "make demo".  Boots Debian's kernel under QEMU, loads kvashim
# and walks through it: allocate, inspect, free, self test, statistics.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
exec "$repo/tests/vm/run.sh" --follow --timeout 900 -- \
	"$repo/debugfs-scripts/kvashim-demo"
