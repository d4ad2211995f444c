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
#
# Kernels of another suite than the host's (6.12: trixie, 7.x: trixie-backports) need
# such a root on the host arch too: --kver KVER adds that kernel's headers (and with
# them the suite's compiler and linux-kbuild) plus gcc, make, libc6-dev and dkms, so
# that build-module.sh builds the module in a chroot of the root and the guest, booted
# on it, runs DKMS and bpftrace as a user of that suite would.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [-h] [--suite SUITE] [--kver KVER] SERIES ARCH

Build the ARCH root of the suite that ships kernel SERIES (6.1 -> bookworm,
6.12 -> trixie, 7.x -> trixie-backports) into \$KVS_CACHE/roots/<suite>-<arch>/
(KVS_CACHE=$KVS_CACHE) and print its path (<suite>-rt-<arch> for an -rt KVER).
  --suite SUITE  use SUITE instead of the series' suite (e.g. sid)
  --kver KVER    also install linux-headers-KVER, gcc, make, libc6-dev and dkms
                 (a root to build the module in and to boot that kernel on)
Packages: tests/vm/guest-packages. Takes minutes the first time (bpftrace pulls LLVM);
a new KVER rebuilds the root.
EOF
}

# apt sources for SUITE on this machine's mirror.
sources_for() {
	local suite=$1 main sec
	if [[ $suite != "$(kvs_host_suite)" ]]; then
		kvs_suite_sources "$suite"
		return
	fi
	main=$(kvs_mirror_uri main)
	sec=$(kvs_mirror_uri security)
	printf '%s\n' "deb $main $suite main" "deb $main $suite-updates main" \
		"deb $sec $suite-security main"
}

build_root() {
	local suite=$1 arch=$2 dir=$3 pkgs=$4 tmp log
	tmp="$dir.tmp.$$"
	log="$dir.log"
	rm -rf "$tmp"
	local -a sources
	mapfile -t sources < <(sources_for "$suite")
	log "building the $suite $arch root (mmdebstrap; minutes); log: $log"
	if ! mmdebstrap --mode=root --variant=minbase --arch="$arch" \
		--include="$pkgs" "${suite%-backports}" "$tmp" "${sources[@]}" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		rm -rf "$tmp"
		die "mmdebstrap failed for $suite $arch; log: $log"
	fi
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# Packages a root that builds modules for kernel KVER needs besides guest-packages.
build_pkgs() {
	printf '%s\n' gcc make libc6-dev dkms "linux-headers-$1"
}

main() {
	local suite='' kver=''
	while (($#)); do
		case $1 in
		-h | --help) usage && exit 0 ;;
		--suite) suite=${2:?--suite needs a suite name}; shift 2 ;;
		--kver) kver=${2:?--kver needs a kernel release}; shift 2 ;;
		--) shift && break ;;
		-*) usage >&2 && exit 2 ;;
		*) break ;;
		esac
	done
	if (($# != 2)); then
		usage >&2
		exit 2
	fi
	[[ $(id -u) == 0 ]] || die "must run as root (mmdebstrap --mode=root)"
	local series=$1 arch=$2 pkgs dir
	if [[ -z $suite ]]; then
		suite=$(kvs_suite_for_series "$series") || die "unknown kernel series '$series'"
	fi
	kvs_kernel_arch "$arch" >/dev/null || die "unsupported arch '$arch'"
	if [[ -n $kver ]]; then
		pkgs=$({ kvs_guest_pkgs; build_pkgs "$kver"; } | paste -sd, -)
	else
		pkgs=$(kvs_guest_pkgs | paste -sd, -)
	fi
	dir="$KVS_CACHE/roots/$suite-$arch"
	# A PREEMPT_RT kernel's headers get a root of their own: the standard flavour's
	# root of the same suite stays as it is.
	[[ $kver == *-rt-"$arch" ]] && dir="$KVS_CACHE/roots/$suite-rt-$arch"
	# This host's suite needs headers in a root only for DKMS in a foreign-arch guest:
	# keep that root apart from the plain one.
	[[ -n $kver && $suite == "$(kvs_host_suite)" ]] && dir="$dir-dkms"

	mkdir -p "$KVS_CACHE/roots"
	kvs_lock "root-$suite-$arch"
	if [[ ! -f $dir/.kvs-root || $(<"$dir/.kvs-root") != "$pkgs" ]]; then
		kvs_need_pkgs mmdebstrap
		kvs_ensure_binfmt "$arch"
		build_root "$suite" "$arch" "$dir" "$pkgs"
		echo "$pkgs" >"$dir/.kvs-root"
	fi
	echo "$dir"
}

main "$@"
