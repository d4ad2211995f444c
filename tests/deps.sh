#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# deps.sh: install what building, checking and testing kvashim need on a
# Debian machine (as root), and fetch the default test kernel.  Every
# other script installs its own needs on first use too; this just does it
# all at once.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=vm/lib.sh
. "$(dirname "$0")/vm/lib.sh"

[[ $(id -u) == 0 ]] || die "run as root: it installs Debian packages"
kvs_need_pkgs gcc make perl python3 sparse shellcheck gnuplot-nox \
	qemu-system-x86 busybox-static cpio gzip xz-utils zstd kmod \
	bpftrace trace-cmd dkms
"$KVS_REPO/tests/vm/fetch-kernel.sh" 6.1 amd64 >/dev/null
log "ready"
