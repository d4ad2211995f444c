#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh: `make soak DURATION=SECONDS` -- boot Debian 6.1 on each arch of
# ARCHES (default "amd64 arm64") and run tests/guest/soak.sh there for
# DURATION seconds (default 600): random operations on every CPU, "check"
# every second, a summary at the end. Not part of `make test`.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-600}
arches=${ARCHES:-amd64 arm64}
series=${KERNELS:-6.1}
rc=0
[[ $duration =~ ^[0-9]+$ ]] || { echo "soak.sh: DURATION wants seconds, got '$duration'" >&2; exit 2; }
for arch in $arches; do
	echo "# ==== soak: kernel $series, $arch, ${duration}s ===="
	"$repo/tests/vm/run.sh" --series "$series" --arch "$arch" --follow \
		--timeout $((duration * 2 + 300)) --env "KVS_SOAK_SECONDS=$duration" \
		-- tests/guest/soak.sh || rc=1
done
exit "$rc"
