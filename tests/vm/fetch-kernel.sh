#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# fetch-kernel.sh SERIES ARCH: get a Debian kernel of SERIES for ARCH into the cache,
# ready to boot under QEMU and to build an out-of-tree module against.
#
# Resolves the suite's current kernel meta package (linux-image-<arch>) to the exact
# versioned image, downloads it with apt-get download, unpacks it into
#   $KVS_CACHE/kernels/<kver>-<arch>/{vmlinuz,config,System.map,lib/modules/<kver>}
# makes the matching headers available, writes kvs-kernel.env there (sourced by run.sh),
# and prints the kernel release on stdout. Cached: a second call only asks apt-cache.
#
# The host's suite (6.1, bookworm) goes through the host's apt. Other suites (6.12:
# trixie; 7.x: trixie-backports, else sid) go through a private apt configuration
# (lib.sh: kvs_papt), and their headers live in a root of that suite (mkroot.sh, with
# the suite's compiler), where build-module.sh builds and which run.sh boots.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [-h] SERIES ARCH

Download and unpack the current Debian kernel of SERIES for ARCH into
\$KVS_CACHE/kernels/<kver>-<arch>/ (KVS_CACHE=$KVS_CACHE), make its headers
available, and print the kernel release (e.g. 6.1.0-56-amd64) on stdout.

  SERIES  6.1   (bookworm, this host's suite)
          6.12  (trixie)
          7.x   (the newest 7.x of trixie-backports, else of sid)
          any of them with -rt: the PREEMPT_RT flavour (linux-image-rt-<arch>)
  ARCH    amd64 | arm64
6.12 and 7.x also build (once, minutes) a root of their suite with the kernel's
headers and compiler: \$KVS_CACHE/roots/<suite>[-rt]-<arch>/ (tests/vm/mkroot.sh).
EOF
}

# ---- resolving -------------------------------------------------------------------

# Print the versioned image package the suite's meta package (linux-image-FLAVOUR)
# depends on right now.
resolve_image_pkg() {
	local arch=$1 meta="linux-image-$2" dep
	[[ $arch != "$(kvs_host_arch)" ]] && meta="$meta:$arch"
	local info
	# One apt-cache call (each costs ~0.7 s here); refresh the lists only if needed.
	if ! info=$(apt-cache show --no-all-versions "$meta" 2>/dev/null) || [[ -z $info ]]; then
		kvs_apt_update_once
		info=$(apt-cache show --no-all-versions "$meta" 2>/dev/null) ||
			die "apt knows no package $meta (is $arch a dpkg architecture here?)"
	fi
	dep=$(sed -n 's/^Depends: *//p' <<<"$info" | tr ',' '\n' |
		sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n1)
	[[ -n $dep ]] || die "cannot find the versioned image in the Depends of $meta"
	echo "$dep"
}

# Foreign architectures need dpkg to know them before apt can resolve their packages.
ensure_dpkg_arch() {
	local arch=$1
	[[ $arch == "$(kvs_host_arch)" ]] && return 0
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		log "dpkg --add-architecture $arch"
		dpkg --add-architecture "$arch"
		kvs_apt_update_again # the new arch's lists, even if updated before
	fi
}

# ---- unpacking -------------------------------------------------------------------

# Unpack the image .debs (from 7.x the image is split: linux-image-*, linux-binary-*,
# linux-modules-*, linux-base-*) into DIR (atomically: into a temp dir first, then
# rename), and generate modules.dep & co, which Debian's packages leave to their postinst.
unpack_image() {
	local kver=$1 dir=$2 tmp deb
	shift 2
	tmp="$dir.tmp.$$"
	rm -rf "$tmp"
	mkdir -p "$tmp/x"
	for deb in "$@"; do
		dpkg-deb -x "$deb" "$tmp/x"
	done
	# The image is under boot/ on 6.1; newer suites put it under usr/lib/modules/<kver>/.
	local img
	for img in "$tmp/x/boot/vmlinuz-$kver" "$tmp/x/usr/lib/modules/$kver/vmlinuz" \
		"$tmp/x/boot/vmlinux-$kver"; do
		[[ -f $img ]] && break
	done
	[[ -f $img ]] || die "no kernel image for $kver in $*"
	mv "$img" "$tmp/vmlinuz"
	local f
	for f in config System.map; do
		if [[ -f $tmp/x/boot/$f-$kver ]]; then
			mv "$tmp/x/boot/$f-$kver" "$tmp/$f"
		elif [[ -f $tmp/x/usr/lib/modules/$kver/$f ]]; then
			cp "$tmp/x/usr/lib/modules/$kver/$f" "$tmp/$f"
		fi
	done
	mkdir -p "$tmp/lib/modules"
	local mods
	for mods in "$tmp/x/lib/modules/$kver" "$tmp/x/usr/lib/modules/$kver"; do
		[[ -d $mods ]] && mv "$mods" "$tmp/lib/modules/$kver" && break
	done
	[[ -d $tmp/lib/modules/$kver ]] || die "no lib/modules/$kver in $*"
	rm -rf "$tmp/x"
	kvs_need_pkgs kmod
	depmod -b "$tmp" "$kver"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# ---- headers ---------------------------------------------------------------------

# The host's own suite and arch: install linux-headers-<kver> (its Makefile includes the
# -common package by absolute /usr/src path, so unpacking elsewhere would not work).
host_headers() {
	local kver=$1
	kvs_need_pkgs "linux-headers-$kver"
	echo "/usr/src/linux-headers-$kver"
}

# A foreign arch of the host's suite: unpack linux-headers-<kver>:<arch> into the cache.
# Its Makefile includes /usr/src/linux-headers-<abi>-common/Makefile (arch-independent,
# the same for every arch of one ABI): installing that package on the host satisfies it.
# Its scripts/ and tools/ links point to ../../lib/linux-kbuild-<series>: re-point them
# at the host's linux-kbuild (host binaries; same kernel version).
foreign_headers() {
	local kver=$1 flavour=$2 series=$3 dir=$4 abi arch=${2#rt-}
	abi=${kver%-"$flavour"}
	kvs_need_pkgs "linux-headers-$abi-common" "linux-kbuild-$series"
	local hdir="$dir/headers/usr/src/linux-headers-$kver"
	if [[ ! -f $hdir/Makefile ]]; then
		local debs="$KVS_CACHE/debs"
		kvs_apt_download "$debs" "linux-headers-$kver:$arch"
		local deb
		deb=$(find "$debs" -maxdepth 1 -name "linux-headers-${kver}_*_$arch.deb" | sort -V | tail -n1)
		[[ -n $deb ]] || die "download of linux-headers-$kver:$arch left no .deb"
		rm -rf "$dir/headers"
		dpkg-deb -x "$deb" "$dir/headers"
	fi
	local l
	for l in scripts tools; do
		ln -sfn "/usr/lib/linux-kbuild-$series/$l" "$hdir/$l"
	done
	echo "$hdir"
}

# ---- other suites (6.12, 7.x) ----------------------------------------------------

# Print "VERSION" of the newest linux-image-FLAVOUR in SUITE's private lists whose
# version matches the series pattern; nothing if there is none.
newest_meta_version() {
	local suite=$1 flavour=$2 pat=$3 v best=''
	while read -r v; do
		# shellcheck disable=SC2053 # $pat is a pattern on purpose
		[[ $v == $pat ]] || continue
		if [[ -z $best ]] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done < <(kvs_papt "$suite" apt-cache show "linux-image-$flavour" 2>/dev/null |
		sed -n 's/^Version: *//p')
	echo "$best"
}

# The packages to download for versioned image PKG of SUITE: PKG itself and those of
# its dependencies that carry the kernel (linux-binary/modules/base-<kver>), one a line.
image_debs_of() {
	local suite=$1 pkg=$2 kver=$3 ver=$4
	echo "$pkg"
	kvs_papt "$suite" apt-cache show "$pkg=$ver" 2>/dev/null | sed -n 's/^Depends: *//p' |
		head -n1 | tr ',|' '\n' | awk -v k="$kver" '
			{ n = $1 }
			n == "linux-binary-" k || n == "linux-modules-" k || n == "linux-base-" k { print n }'
}

# Resolve, download and unpack the kernel of SERIES from a suite that is not the
# host's, build the suite's root with the kernel's headers, print "<kver> <suite>".
# Another arch than the host's goes through its own private apt configuration
# (SUITE/ARCH), which treats that arch as native.
fetch_other_suite() {
	local series=$1 arch=$2 suite=$3 pat meta_ver flavour psuite
	flavour=$(kvs_flavour "$series" "$arch")
	pat=$(kvs_series_pattern "$series")
	psuite="$suite/$arch"
	kvs_papt_init "$psuite"
	meta_ver=$(newest_meta_version "$psuite" "$flavour" "$pat")
	if [[ -z $meta_ver && $suite == *-backports ]]; then
		log "$suite has no linux-image-$flavour $pat; trying sid"
		suite=sid
		psuite="$suite/$arch"
		kvs_papt_init "$psuite"
		meta_ver=$(newest_meta_version "$psuite" "$flavour" "$pat")
	fi
	[[ -n $meta_ver ]] || die "no linux-image-$flavour of version $pat in $suite"

	local dep pkg kver ver
	dep=$(kvs_papt "$psuite" apt-cache show "linux-image-$flavour=$meta_ver" | sed -n 's/^Depends: *//p' |
		head -n1 | tr ',' '\n' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\) *(= *\([^)]*\)).*/\1 \2/p' |
		head -n1)
	[[ -n $dep ]] || die "cannot find the versioned image in the Depends of linux-image-$flavour=$meta_ver ($suite)"
	read -r pkg ver <<<"$dep"
	kver=${pkg#linux-image-}
	local dir="$KVS_CACHE/kernels/$kver-$arch"

	kvs_lock "kernel-$kver-$arch"
	if [[ ! -f $dir/vmlinuz || ! -f $dir/lib/modules/$kver/modules.dep ]]; then
		local -a img_pkgs img_debs=()
		mapfile -t img_pkgs < <(image_debs_of "$psuite" "$pkg" "$kver" "$ver")
		log "downloading ${img_pkgs[*]} ($suite $arch, $ver)"
		local d="$KVS_CACHE/debs" p f
		kvs_papt_download "$psuite" "$d" "${img_pkgs[@]/%/=$ver}"
		for p in "${img_pkgs[@]}"; do
			# apt-get download escapes ':' in versions as %3a; kernel versions have none.
			f="$d/${p}_${ver}_$arch.deb"
			[[ -f $f ]] || die "download of $p=$ver left no $f"
			img_debs+=("$f")
		done
		log "unpacking ${img_debs[*]##*/}"
		unpack_image "$kver" "$dir" "${img_debs[@]}"
	fi
	echo "$kver $suite"
}

fetch_foreign_suite() {
	local series=$1 arch=$2 suite=$3 kver root
	kvs_need_pkgs dpkg-dev kmod
	read -r kver suite < <(fetch_other_suite "$series" "$arch" "$suite")
	[[ -n $kver ]] || die "could not resolve the $series kernel"
	local dir="$KVS_CACHE/kernels/$kver-$arch"
	root=$("$KVS_REPO/tests/vm/mkroot.sh" --suite "$suite" --kver "$kver" "$series" "$arch")
	local hdir="/usr/src/linux-headers-$kver"
	[[ -f $root$hdir/Makefile ]] || die "headers for $kver not found at $root$hdir"
	# A path in the root: the guest (booted on that root) and chroot builds see it there.
	ln -sfn "$hdir" "$dir/lib/modules/$kver/build"
	write_env "$series" "$arch" "$kver" "$dir" "$hdir" "$suite" "$root"
	echo "$kver"
}

# ---- main ------------------------------------------------------------------------

fetch() {
	local series=$1 arch=$2 suite host_suite flavour
	suite=$(kvs_suite_for_series "$series") || die "unknown kernel series '$series'"
	flavour=$(kvs_flavour "$series" "$arch")
	host_suite=$(kvs_host_suite)
	kvs_kernel_arch "$arch" >/dev/null || die "unsupported arch '$arch'"
	if [[ $suite != "$host_suite" ]]; then
		fetch_foreign_suite "$series" "$arch" "$suite"
		return
	fi

	kvs_need_pkgs dpkg-dev kmod
	ensure_dpkg_arch "$arch"
	local pkg kver dir
	pkg=$(resolve_image_pkg "$arch" "$flavour")
	kver=${pkg#linux-image-}
	dir="$KVS_CACHE/kernels/$kver-$arch"

	kvs_lock "kernel-$kver-$arch"
	if [[ ! -f $dir/vmlinuz || ! -f $dir/lib/modules/$kver/modules.dep ]]; then
		log "downloading $pkg ($arch)"
		local debs="$KVS_CACHE/debs" deb
		kvs_apt_download "$debs" "$pkg:$arch"
		deb=$(find "$debs" -maxdepth 1 -name "${pkg}_*_$arch.deb" | sort -V | tail -n1)
		[[ -n $deb ]] || die "download of $pkg left no .deb in $debs"
		log "unpacking $deb"
		unpack_image "$kver" "$dir" "$deb"
	fi

	local hdir
	if [[ $arch == "$(kvs_host_arch)" ]]; then
		hdir=$(host_headers "$kver")
	else
		hdir=$(foreign_headers "$kver" "$flavour" "$(kvs_series_base "$series")" "$dir")
	fi
	[[ -f $hdir/Makefile ]] || die "headers for $kver not found at $hdir"

	# In the guest this directory is bind-mounted over /lib/modules/<kver>; give it the
	# build/source links the headers package gives the host's, so DKMS works there too.
	# A foreign-arch guest boots on a root of its own: its headers, if that root has
	# them (KVS_ARM64_DKMS=1, see run.sh), are at the standard place there.
	if [[ $arch == "$(kvs_host_arch)" ]]; then
		ln -sfn "$hdir" "$dir/lib/modules/$kver/build"
	else
		ln -sfn "/usr/src/linux-headers-$kver" "$dir/lib/modules/$kver/build"
	fi

	write_env "$series" "$arch" "$kver" "$dir" "$hdir" "$suite" ''
	echo "$kver"
}

# KVS_HEADERS is a path in KVS_ROOT when that is set (the suite's root: modules are
# built in a chroot of it, and the guest boots on it), else a path on the host.
write_env() {
	local series=$1 arch=$2 kver=$3 dir=$4 hdir=$5 suite=$6 root=$7
	cat >"$dir/kvs-kernel.env.tmp" <<EOF
# Written by tests/vm/fetch-kernel.sh; sourced by tests/vm/run.sh.
KVS_SERIES=$series
KVS_ARCH=$arch
KVS_KVER=$kver
KVS_KERNEL_DIR=$dir
KVS_VMLINUZ=$dir/vmlinuz
KVS_MODDIR=$dir/lib/modules/$kver
KVS_HEADERS=$hdir
KVS_SUITE=$suite
KVS_ROOT=$root
EOF
	mv "$dir/kvs-kernel.env.tmp" "$dir/kvs-kernel.env"
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
	[[ $(id -u) == 0 ]] || die "must run as root (apt-get, dpkg)"
	fetch "$1" "$2"
}

main "$@"
