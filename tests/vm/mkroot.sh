#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mkroot.sh SERIES ARCH: build (or reuse) a Debian root filesystem of the suite that
# ships kernel SERIES, for ARCH, and print its directory.
#
# A guest of a foreign arch cannot run the host's binaries, so it boots on a root of its
# own, exported over 9p like the host's root is for a native guest. Built with
# mmdebstrap (foreign maintainer scripts run through qemu-user-static + binfmt_misc),
# with the packages of tests/vm/guest-packages, from the mirror of this machine's own
# apt configuration. Cached in $KVS_CACHE/roots/<suite>-<arch>/, rebuilt only when the
# package list changes.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [-h] SERIES ARCH

Build the ARCH root of the suite that ships kernel SERIES (6.1 -> bookworm) into
\$KVS_CACHE/roots/<suite>-<arch>/ (KVS_CACHE=$KVS_CACHE) and print its path.
Packages: tests/vm/guest-packages. Takes minutes the first time (bpftrace pulls LLVM).
EOF
}

# qemu-user for foreign maintainer scripts: binfmt_misc must be mounted and the
# interpreter registered (a fresh container may have neither).
ensure_binfmt() {
	local arch=$1 qarch
	case $arch in
	arm64) qarch=aarch64 ;;
	*) die "no qemu-user name known for $arch" ;;
	esac
	kvs_need_pkgs qemu-user-static binfmt-support arch-test
	if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
			die "cannot mount binfmt_misc (needed to run $arch programs)"
	fi
	[[ -e /proc/sys/fs/binfmt_misc/qemu-$qarch ]] || update-binfmts --enable "qemu-$qarch"
	arch-test "$arch" >/dev/null || die "this machine cannot run $arch programs (arch-test)"
}

# apt sources for SUITE on this machine's mirror.
sources_for() {
	local suite=$1 main sec
	main=$(kvs_mirror_uri main)
	sec=$(kvs_mirror_uri security)
	printf '%s\n' "deb $main $suite main" "deb $main $suite-updates main" \
		"deb $sec $suite-security main"
}

build_root() {
	local suite=$1 arch=$2 dir=$3 pkgs=$4 tmp log
	tmp="$dir.tmp.$$"
	log="$KVS_CACHE/roots/$suite-$arch.log"
	rm -rf "$tmp"
	local -a sources
	mapfile -t sources < <(sources_for "$suite")
	log "building the $suite $arch root (mmdebstrap; minutes); log: $log"
	if ! mmdebstrap --mode=root --variant=minbase --arch="$arch" \
		--include="$pkgs" "$suite" "$tmp" "${sources[@]}" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$tmp"
		die "mmdebstrap failed for $suite $arch; log: $log"
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

main() {
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		usage
		exit 0
	fi
	if (($# != 2)); then
		usage >&2
		exit 2
	fi
	[[ $(id -u) == 0 ]] || die "must run as root (mmdebstrap --mode=root)"
	local series=$1 arch=$2 suite pkgs dir
	suite=$(kvs_suite_for_series "$series") || die "unknown kernel series '$series'"
	pkgs=$(kvs_guest_pkgs | paste -sd, -)
	dir="$KVS_CACHE/roots/$suite-$arch"

	mkdir -p "$KVS_CACHE/roots"
	kvs_lock "root-$suite-$arch"
	if [[ ! -f $dir/.kvs-root || $(<"$dir/.kvs-root") != "$pkgs" ]]; then
		kvs_need_pkgs mmdebstrap
		ensure_binfmt "$arch"
		build_root "$suite" "$arch" "$dir" "$pkgs"
		echo "$pkgs" >"$dir/.kvs-root"
	fi
	echo "$dir"
}

main "$@"
