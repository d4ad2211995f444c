#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# DKMS on the running kernel, as a user installs kvashim (README): dkms
# add of the source tree, build, install, modprobe, a smoke workload
# through debugfs, modprobe -r, dkms remove.  Needs dkms and the running
# kernel's headers in the guest's root (the harness provides both on the
# amd64 kernels); without them every step is reported as SKIP.
# Opt-in (KVS_DKMS=1): a dkms build takes 5-25 min under TCG, and 24 min
# on a loaded 2-core host (7.3), hence its own time limit:
# kvs-timeout: 3600
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

KVER=$(uname -r)
VER=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KVS_REPO/dkms.conf")
STEPS="add build install modprobe smoke modprobe-r remove"
LOG=/tmp/kvs-dkms.log

skip_all() {
	local s
	for s in $STEPS; do
		tap_skip "dkms $s" "$1"
	done
	exit 0
}

[ "${KVS_DKMS:-0}" = 1 ] || skip_all "opt-in: KVS_DKMS=1 make test (a dkms build takes 5-25 min under TCG)"
command -v dkms >/dev/null || skip_all "no dkms in this guest's root"
[ -f "/lib/modules/$KVER/build/Makefile" ] ||
	skip_all "no headers for $KVER in this guest's root (/lib/modules/$KVER/build)"

kvs_unload

# step NAME CMD...: one timed TAP case; on failure, the command's output
# and DKMS's make.log.  Later steps need the earlier ones: after a failure
# they are reported as failed too, without running.
broken=
step() {
	local name=$1 t0=$SECONDS
	shift
	if [ -n "$broken" ]; then
		tap_not_ok "dkms $name" "not run: dkms $broken failed"
		return 1
	fi
	if "$@" >"$LOG" 2>&1; then
		tap_ok "dkms $name ($((SECONDS - t0)) s)"
		return 0
	fi
	broken=$name
	local mk=/var/lib/dkms/kvashim/$VER/build/make.log
	tap_not_ok "dkms $name ($((SECONDS - t0)) s)" "command: $*" "$(tail -n 30 "$LOG")" \
		"$( [ -f "$mk" ] && tail -n 30 "$mk")"
	return 1
}

# What `dkms add .` in a checkout adds: the tree with dkms.conf, Kbuild,
# the Makefile and kmod/ (a copy: the repository is read-only here).
SRC=/tmp/kvashim-dkms-src
rm -rf "$SRC"
mkdir -p "$SRC"
cp -r "$KVS_REPO/dkms.conf" "$KVS_REPO/Kbuild" "$KVS_REPO/Makefile" "$KVS_REPO/kmod" "$SRC/"
rm -f "$SRC"/kmod/*.o "$SRC"/kmod/.*.cmd

added() {
	dkms add "$SRC" && dkms status -m kvashim -v "$VER" | grep -q 'added'
}

installed() {
	dkms install -m kvashim -v "$VER" -k "$KVER" &&
	dkms status -m kvashim -v "$VER" -k "$KVER" | grep -q 'installed' &&
	modinfo -n kvashim | grep -q "/lib/modules/$KVER/.*dkms.*/kvashim\.ko"
}

# The module modprobe loaded is the one DKMS built, at the right version.
loaded() {
	local file
	modprobe kvashim arena_size=256M || return 1
	file=$(modinfo -n kvashim)
	echo "loaded: $file"
	[ "$(cat /sys/module/kvashim/version)" = "$VER" ] &&
	[ "$(cat /sys/module/kvashim/srcversion)" = "$(modinfo -F srcversion kvashim)" ]
}

smoke() {
	local a b c
	a=$("$KVS_CTL" alloc 12K) && b=$("$KVS_CTL" alloc 2M align=2M) &&
		c=$("$KVS_CTL" alloc 4K top) || return 1
	echo "areas: $a $b $c"
	[ $((b & (2 * 1024 * 1024 - 1))) = 0 ] || { echo "2M area not aligned: $b"; return 1; }
	"$KVS_CTL" free "$b" && "$KVS_CTL" check || return 1
	[ "$("$KVS_CTL" stats | awk '$1 == "live_areas" { print $2 }')" = 2 ] || return 1
	"$KVS_CTL" free all && "$KVS_CTL" selftest ops=2000 || return 1
	[ "$("$KVS_CTL" stats | awk '$1 == "live_areas" { print $2 }')" = 0 ]
}

unloaded() {
	modprobe -r kvashim && [ ! -d /sys/module/kvashim ]
}

removed() {
	dkms remove -m kvashim -v "$VER" --all &&
	[ -z "$(dkms status -m kvashim)" ] && ! modinfo -n kvashim 2>/dev/null
}

step add added
step build dkms build -m kvashim -v "$VER" -k "$KVER"
step install installed
step modprobe loaded
step smoke smoke
step modprobe-r unloaded
# Leave nothing behind whatever failed: the later cases load $KVS_KO.
broken=
step remove removed
modprobe -r kvashim 2>/dev/null
true
