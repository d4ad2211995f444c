# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Shared helpers for the host-side VM harness (tests/vm/*.sh, tests/run-tests.sh).
# Sourced, never executed. Everything the harness needs is installed from Debian's
# own apt sources on first use, because CI starts on a fresh Debian 12 machine.

# Without this, bash runs $(...) without errexit, and a failing step inside a function
# whose output is captured would go unnoticed.
shopt -s inherit_errexit

# Where downloaded kernels, built modules, initramfs images and run logs live. Outside
# the repo on purpose: it is large, and it is reused across clones and sessions.
KVS_CACHE=${KVS_CACHE:-/var/cache/kvashim}
export KVS_CACHE

# The repository root, from this file's location (tests/vm/lib.sh).
KVS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export KVS_REPO

kvs_prog=${0##*/}

log() { printf '%s: %s\n' "$kvs_prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$kvs_prog" "$*" >&2; exit 1; }

# Print every argument that is not an installed package (name or name:arch).
kvs_missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s\n' "$p"
	done
}

# apt-get with the options every harness call wants: no prompts, wait for a concurrent
# apt/dpkg instead of failing on its lock, and quiet enough to keep test logs readable.
kvs_apt() {
	DEBIAN_FRONTEND=noninteractive apt-get -q -y \
		-o DPkg::Lock::Timeout=900 -o APT::Sandbox::User=root \
		-o Dpkg::Use-Pty=0 "$@"
}

# apt-get update at most once per process tree: a fresh machine has empty lists, a long
# lived one may have stale lists whose .debs are gone from the mirror.
kvs_apt_update_once() {
	[[ ${KVS_APT_UPDATED:-0} == 1 ]] && return 0
	log "apt-get update"
	kvs_apt update >/dev/null || die "apt-get update failed"
	KVS_APT_UPDATED=1
	export KVS_APT_UPDATED
}

kvs_apt_update_again() {
	KVS_APT_UPDATED=0
	kvs_apt_update_once
}

# Make sure the given packages are installed. Cheap when they are: only dpkg-query runs.
kvs_need_pkgs() {
	local missing
	missing=$(kvs_missing_pkgs "$@")
	[[ -z $missing ]] && return 0
	# shellcheck disable=SC2086 # one package name per word, by construction
	set -- $missing
	log "installing: $*"
	if ! kvs_apt install --no-install-recommends "$@" >/dev/null 2>&1; then
		kvs_apt_update_once
		kvs_apt install --no-install-recommends "$@" >/dev/null ||
			die "apt-get install $* failed"
	fi
}

# The packages listed in tests/vm/guest-packages (what the guest's userland needs).
kvs_guest_pkgs() {
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$KVS_REPO/tests/vm/guest-packages"
}

# apt-get download PKG... into DIR, refreshing the lists once if the mirror has moved on.
kvs_apt_download() {
	local dir=$1
	shift
	mkdir -p "$dir"
	if ! (cd "$dir" && kvs_apt download "$@" >/dev/null 2>&1); then
		kvs_apt_update_once
		(cd "$dir" && kvs_apt download "$@" >/dev/null) ||
			die "apt-get download $* failed"
	fi
}

# A series is a kernel version line (6.1, 6.12, 7.x), optionally with a flavour
# suffix: -rt for Debian's PREEMPT_RT kernels (linux-image-rt-<arch>).
kvs_series_base() { echo "${1%-rt}"; }

# The Debian kernel flavour of SERIES on ARCH: amd64, arm64, rt-amd64, rt-arm64.
kvs_flavour() {
	if [[ $1 == *-rt ]]; then
		echo "rt-$2"
	else
		echo "$2"
	fi
}

# The Debian suite that ships kernel SERIES. 7.x: the newest 7.x kernel of
# trixie-backports (fetch-kernel.sh falls back to sid when backports has none).
kvs_suite_for_series() {
	case $(kvs_series_base "$1") in
	6.1) echo bookworm ;;
	6.12) echo trixie ;;
	7.x) echo trixie-backports ;;
	*) return 1 ;;
	esac
}

# The versions of linux-image-<flavour> that belong to SERIES, as a shell pattern.
kvs_series_pattern() {
	local base
	base=$(kvs_series_base "$1")
	case $base in
	*.x) echo "${base%.x}.*" ;;
	*) echo "$base.*" ;;
	esac
}

kvs_host_suite() {
	# shellcheck disable=SC1091 # os-release exists on every Debian system
	(. /etc/os-release && echo "${VERSION_CODENAME:-unknown}")
}

kvs_host_arch() { dpkg --print-architecture; }

# Print "URI SUITE" for every deb source this machine's apt configuration names
# (deb822 *.sources and one-line sources.list files).
kvs_apt_sources() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && uris != "")
					for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
				types = uris = ""; nu = ns = 0
			}
			/^[[:space:]]*$/ { flush(); next }
			/^#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "uris:" { $1 = ""; uris = $0; nu = split(uris, u, " ") }
			tolower($1) == "suites:" { $1 = ""; ns = split($0, s, " ") }
			END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		sed -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
	done
}

# The mirror URI this machine uses for its own suite (KIND=main) or for its security
# updates (KIND=security). The project never names a mirror host itself.
kvs_mirror_uri() {
	local kind=$1 want
	want=$(kvs_host_suite)
	[[ $kind == security ]] && want="$want-security"
	kvs_apt_sources | awk -v w="$want" '$2 == w { print $1; exit }' | grep . ||
		die "no apt source for suite $want in /etc/apt (needed to find the mirror)"
}

# ---- a private apt configuration per suite ---------------------------------------
# Suites other than the host's are resolved and downloaded through an apt configuration
# of their own under $KVS_CACHE/apt/<suite>/ (sources list, lists, caches, an empty dpkg
# status), passed with APT_CONFIG: the host's sources, lists, caches and dpkg status are
# never read or written (/etc/apt/apt.conf.d still applies: proxies and the like).
# A SUITE argument may name an architecture as SUITE/ARCH (default: the host's); that
# configuration treats ARCH as native (apt/<suite>-<arch>/).

# The one-line sources of SUITE on this machine's mirror (a backports suite comes with
# the stable suite it builds on; a stable suite with its updates and security updates).
kvs_suite_sources() {
	local suite=$1 main sec base key=/usr/share/keyrings/debian-archive-keyring.gpg
	main=$(kvs_mirror_uri main)
	base=${suite%-backports}
	if [[ $base == sid || $base == unstable ]]; then
		printf 'deb [signed-by=%s] %s %s main\n' "$key" "$main" "$base"
		return
	fi
	sec=$(kvs_mirror_uri security)
	printf 'deb [signed-by=%s] %s %s main\n' "$key" "$main" "$base" "$key" "$main" "$base-updates" \
		"$key" "$sec" "$base-security"
	[[ $suite != "$base" ]] && printf 'deb [signed-by=%s] %s %s main\n' "$key" "$main" "$suite"
	return 0
}

kvs_papt_dir() {
	local suite=${1%/*} arch=${1#*/}
	if [[ $1 != */* || $arch == "$(kvs_host_arch)" ]]; then
		echo "$KVS_CACHE/apt/$suite"
	else
		echo "$KVS_CACHE/apt/$suite-$arch"
	fi
}

# kvs_papt_init SUITE [FORCE]: write (or keep) SUITE's private configuration and refresh
# its lists when they are missing, older than KVS_APT_MAX_AGE seconds (default 6 h), or
# when FORCE is 1 (a download failed: the mirror has moved on).
kvs_papt_init() {
	local suite=${1%/*} force=${2:-0} d src arch
	d=$(kvs_papt_dir "$1")
	arch=$(kvs_host_arch)
	[[ $1 == */* ]] && arch=${1#*/}
	mkdir -p "$d/lists/partial" "$d/archives/partial" "$d/cache" "$d/state"
	[[ -f $d/state/status ]] || : >"$d/state/status"
	src=$(kvs_suite_sources "$suite")
	if [[ ! -f $d/sources.list || $(<"$d/sources.list") != "$src" ]]; then
		echo "$src" >"$d/sources.list"
		force=1
	fi
	cat >"$d/apt.conf.tmp" <<EOF
// Written by tests/vm/lib.sh: apt for $suite, apart from the host's apt state.
Dir::Etc::sourcelist "$d/sources.list";
Dir::Etc::sourceparts "/nonexistent";
Dir::Etc::preferences "/nonexistent";
Dir::Etc::preferencesparts "/nonexistent";
Dir::State "$d/state";
Dir::State::Lists "$d/lists";
Dir::State::status "$d/state/status";
Dir::Cache "$d/cache";
Dir::Cache::archives "$d/archives";
APT::Architecture "$arch";
APT::Architectures { "$arch"; };
Acquire::Languages "none";
APT::Sandbox::User "root";
EOF
	mv "$d/apt.conf.tmp" "$d/apt.conf"
	local stamp="$d/lists/.kvs-updated" max=${KVS_APT_MAX_AGE:-21600}
	if ((force)) || [[ ! -f $stamp ]] || (($(date +%s) - $(stat -c %Y "$stamp") > max)); then
		log "apt-get update ($suite $arch; private lists in $d)"
		kvs_quiet kvs_papt "$1" apt-get -q -y update ||
			die "apt-get update of $suite failed (configuration: $d/apt.conf)"
		touch "$stamp"
	fi
}

# kvs_papt SUITE COMMAND...: run an apt command with SUITE's private configuration
# (kvs_papt_init SUITE first).
kvs_papt() {
	local suite=$1
	shift
	APT_CONFIG="$(kvs_papt_dir "$suite")/apt.conf" DEBIAN_FRONTEND=noninteractive "$@"
}

# kvs_papt_download SUITE DIR PKG...: apt-get download into DIR with SUITE's private
# configuration, refreshing its lists once if the mirror has moved on.
kvs_papt_download() {
	local suite=$1 dir=$2
	shift 2
	mkdir -p "$dir"
	if ! (cd "$dir" && kvs_quiet kvs_papt "$suite" apt-get -q -y download "$@"); then
		kvs_papt_init "$suite" 1
		(cd "$dir" && kvs_quiet kvs_papt "$suite" apt-get -q -y download "$@") ||
			die "apt-get download $* ($suite) failed"
	fi
}

# Make this machine able to run ARCH's programs (a foreign root's maintainer scripts,
# a build in a chroot of it): qemu-user-static, binfmt_misc mounted, the interpreter
# registered (a fresh container may have neither).
kvs_ensure_binfmt() {
	local arch=$1 qarch
	[[ $arch == "$(kvs_host_arch)" ]] && return 0
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

# Debian architecture -> QEMU/kernel names.
kvs_kernel_arch() {
	case $1 in
	amd64) echo x86_64 ;;
	arm64) echo arm64 ;;
	*) return 1 ;;
	esac
}

# Take an exclusive lock on a cache file for the rest of the calling (sub)shell, so two
# runs that share the cache do not extract or build into the same directory at once.
kvs_lock() {
	local name=$1 fd
	mkdir -p "$KVS_CACHE/locks"
	exec {fd}>"$KVS_CACHE/locks/$name.lock"
	flock "$fd"
}

# Run a command, printing its output only if it fails (keeps success paths quiet).
kvs_quiet() {
	local out rc=0
	out=$(mktemp)
	"$@" >"$out" 2>&1 || rc=$?
	if ((rc != 0)); then
		cat "$out" >&2
	fi
	rm -f "$out"
	return "$rc"
}
