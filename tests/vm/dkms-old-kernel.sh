#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dkms-old-kernel.sh: check that DKMS refuses to build kvashim for a kernel without
# the maple tree (< 6.1), with a clear message, against a real Debian 5.10 headers
# package (bullseye, through a private apt configuration; see lib.sh). Runs on the
# host with a private DKMS tree: nothing is added to the host's DKMS state. Prints
# TAP lines (`ok - ...` / `not ok - ...`, or `# SKIP` when no 5.10 headers package
# can be had).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SUITE=bullseye

usage() {
	cat <<EOF
usage: $kvs_prog [-h]

Unpack Debian's newest linux-headers-5.10.*-amd64 ($SUITE) into \$KVS_CACHE and run
\`dkms add\` + \`dkms build -k <5.10 kernel>\` with a private DKMS tree: the build
must be refused, and the output must say that kvashim needs Linux 6.1.
EOF
}

# The newest 5.10 amd64 headers package of the suite, e.g. linux-headers-5.10.0-46-amd64.
newest_headers() {
	kvs_papt "$SUITE" apt-cache search --names-only '^linux-headers-5\.10\.[0-9]+-[0-9]+-amd64$' \
		2>/dev/null | awk '{ print $1 }' | sort -V | tail -n 1
}

# Unpack the headers of KVER (and their -common package) into DIR; print the path of
# the headers directory.
unpack_headers() {
	local kver=$1 dir=$2 abi=${1%-amd64} debs="$KVS_CACHE/debs" p f
	if [[ ! -f $dir/usr/src/linux-headers-$kver/.config ]]; then
		kvs_papt_download "$SUITE" "$debs" "linux-headers-$kver" "linux-headers-$abi-common"
		rm -rf "$dir.tmp"
		mkdir -p "$dir.tmp"
		for p in "linux-headers-$kver" "linux-headers-$abi-common"; do
			f=$(find "$debs" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -n 1)
			[[ -n $f ]] || die "download of $p left no .deb"
			dpkg-deb -x "$f" "$dir.tmp"
		done
		rm -rf "$dir"
		mv "$dir.tmp" "$dir"
	fi
	echo "$dir/usr/src/linux-headers-$kver"
}

main() {
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		usage
		exit 0
	fi
	[[ $(id -u) == 0 ]] || die "must run as root (dkms)"
	local desc="dkms refuses a 5.10 kernel (no maple tree) with a clear message"
	kvs_need_pkgs dkms dpkg-dev
	kvs_papt_init "$SUITE" 2>/dev/null || true
	local pkg kver
	pkg=$(newest_headers)
	if [[ -z $pkg ]]; then
		echo "ok - $desc # SKIP no linux-headers-5.10 package reachable ($SUITE)"
		return 0
	fi
	kver=${pkg#linux-headers-}
	local hdir
	hdir=$(unpack_headers "$kver" "$KVS_CACHE/headers-old/$kver")

	local tmp ver out rc=0
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$tmp'" EXIT
	ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$KVS_REPO/dkms.conf")
	mkdir -p "$tmp/src/kvashim-$ver" "$tmp/tree" "$tmp/install"
	cp -r "$KVS_REPO/dkms.conf" "$KVS_REPO/Kbuild" "$KVS_REPO/Makefile" "$KVS_REPO/kmod" \
		"$tmp/src/kvashim-$ver/"
	local -a trees=(--sourcetree "$tmp/src" --dkmstree "$tmp/tree" --installtree "$tmp/install")
	dkms add -m kvashim -v "$ver" "${trees[@]}" >/dev/null ||
		die "dkms add into a private tree failed"
	out=$(dkms build -m kvashim -v "$ver" -k "$kver" -a x86_64 --kernelsourcedir "$hdir" \
		"${trees[@]}" 2>&1) || rc=$?
	echo "# dkms build -k $kver (headers: $pkg from $SUITE): exit $rc"
	printf '%s\n' "$out" | sed 's/^/#   /'
	if ((rc != 0)) && grep -q 'BUILD_EXCLUSIVE' <<<"$out" &&
		grep -q 'kvashim needs Linux 6.1 or later' <<<"$out" &&
		! find "$tmp/tree" -name '*.ko*' | grep -q .; then
		echo "ok - $desc ($kver)"
	else
		echo "not ok - $desc ($kver)"
		return 1
	fi
}

main "$@"
