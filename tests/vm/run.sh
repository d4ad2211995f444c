#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run.sh [options] -- GUEST_COMMAND...: boot a real Debian kernel under QEMU (TCG) with
# the freshly built module available, run one command in it, and report.
#
# Steps: fetch-kernel.sh (cached) -> build-module.sh -> mkinitramfs.sh (cached) -> QEMU
# with the root filesystem over 9p (read-only, tmpfs overlay in the guest) and a writable
# 9p share of a per-run directory, where the guest leaves out.log, dmesg.log and rc ->
# print out.log, scan the kernel log for splats, exit with the guest's status.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [options] -- GUEST_COMMAND [ARG...]

Boot the Debian kernel SERIES/ARCH under QEMU and run GUEST_COMMAND in the guest, in
the repo directory, as root. A single GUEST_COMMAND word is a shell command line
(e.g. -- 'insmod \$KVS_KO && rmmod kvashim'); several words are run as they are.

options:
  --series S        kernel series: 6.1 (default), 6.12, 7.x, or one of them with -rt
                    (PREEMPT_RT); 6.12 and 7.x boot on a root of their suite, see
                    tests/vm/mkroot.sh
  --arch A          amd64 | arm64 (default: this host's, amd64)
  --smp N           guest CPUs (default 2)
  --icount          deterministic time: QEMU -icount shift=0,sleep=off,align=off with
                    one vCPU (forced; --smp is ignored); the guest clock then
                    advances one ns per executed guest instruction
  --mem M           guest memory (default 2G)
  --timeout SEC     kill QEMU after SEC seconds (default 1800)
  --append STR      extra kernel command line (repeatable)
  --env NAME=VALUE  export NAME in the guest command's environment (repeatable)
  --module-src DIR  build the module from DIR instead of the repo's Kbuild + kmod/
  --no-module       do not build a module (KVS_KO is left empty)
  --run-dir DIR     keep this run's logs in DIR (default \$KVS_CACHE/runs/<ts>-<kver>-<arch>)
  --follow          stream the guest's output while it runs, instead of at the end
  --console         stream the kernel console to stderr while the guest runs
  -h, --help        this text

guest environment: KVS_KO (the built .ko: a snapshot in /kvs-out/module/), KVS_KVER, KVS_ARCH, KVS_SERIES, KVS_REPO,
KVS_MODDIR, KVS_OUT=/kvs-out, plus --env values.
KVS_ARM64_DKMS=1 (host side): a foreign-arch guest of this host's suite boots on a root
that also has the kernel's headers, gcc and dkms (\$KVS_CACHE/roots/<suite>-<arch>-dkms).
run dir: console.log (serial console), out.log (command stdout+stderr), dmesg.log,
rc (guest command status; absent if the guest did not finish), result (summary),
qemu.log, guest.cmd, guest.env.
exit status: the guest command's status; 3 if the kernel log shows
BUG/WARNING/Oops/...; 4 if the guest did not finish (timeout, panic, boot failure);
1 on a setup error (kernel download, module build, ...); 2 on a usage error.
KVS_CACHE=$KVS_CACHE
EOF
}

# Kernel log lines that fail a run whatever the guest command said.
SPLAT_RE='BUG:|WARNING:|Oops|Call Trace|Kernel panic|KASAN|UBSAN|lockdep|possible circular locking'

# ---- options ---------------------------------------------------------------------

opt_series=6.1
opt_arch=$(kvs_host_arch)
opt_smp=2
opt_icount=0
opt_mem=2G
opt_timeout=1800
opt_append=()
opt_env=()
opt_module_src=
opt_no_module=0
opt_run_dir=
opt_follow=0
opt_console=0
guest_cmd=()

parse_args() {
	while (($#)); do
		case $1 in
		--series) opt_series=${2:?}; shift ;;
		--arch) opt_arch=${2:?}; shift ;;
		--smp) opt_smp=${2:?}; shift ;;
		--icount) opt_icount=1 ;;
		--mem) opt_mem=${2:?}; shift ;;
		--timeout) opt_timeout=${2:?}; shift ;;
		--append) opt_append+=("${2:?}"); shift ;;
		--env) opt_env+=("${2:?}"); shift ;;
		--module-src) opt_module_src=${2:?}; shift ;;
		--no-module) opt_no_module=1 ;;
		--run-dir) opt_run_dir=${2:?}; shift ;;
		--follow) opt_follow=1 ;;
		--console) opt_console=1 ;;
		-h | --help) usage; exit 0 ;;
		--) shift; guest_cmd=("$@"); break ;;
		*) echo "$kvs_prog: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
		esac
		shift
	done
	if ((${#guest_cmd[@]} == 0)); then
		echo "$kvs_prog: no guest command (put it after --)" >&2
		usage >&2
		exit 2
	fi
	[[ $opt_timeout =~ ^[0-9]+$ ]] || die "--timeout wants seconds, got '$opt_timeout'"
	# Under -icount the vCPUs share one host thread, round-robin, and a
	# second vCPU hangs the boot at "Booting SMP configuration" (see
	# tests/vm/README.md): one vCPU, whatever --smp says.
	if ((opt_icount)); then
		[[ $opt_smp == 1 ]] || log "--icount: one vCPU (--smp $opt_smp ignored)"
		opt_smp=1
	fi
	local e
	for e in "${opt_env[@]}"; do
		[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$e'"
	done
}

# ---- per-arch machine description ------------------------------------------------

# The directory exported as the guest's root. The host's own root serves the host
# arch; another arch needs a root of its own (prepared by mkroot.sh), and so does a
# kernel of another suite (KVS_ROOT, prepared by fetch-kernel.sh through mkroot.sh).
guest_root() {
	local arch=$1
	if [[ -n ${KVS_ROOT:-} ]]; then
		[[ -x $KVS_ROOT/bin/bash ]] || die "the root $KVS_ROOT is missing or incomplete"
		echo "$KVS_ROOT"
	elif [[ $arch == "$(kvs_host_arch)" ]]; then
		echo /
	else
		# KVS_ARM64_DKMS=1: a root with the kernel's headers, gcc and dkms (slower
		# to build), so that the DKMS case runs in this guest too.
		local -a dev=()
		[[ ${KVS_ARM64_DKMS:-0} == 1 ]] && dev=(--kver "$KVS_KVER")
		"$KVS_REPO/tests/vm/mkroot.sh" "${dev[@]}" "$opt_series" "$arch"
	fi
}

qemu_pkg() {
	case $1 in
	amd64) echo qemu-system-x86 ;;
	arm64) echo qemu-system-arm ;;
	esac
}

# Print the QEMU binary and machine options for ARCH, one word per line.
qemu_machine() {
	case $1 in
	# qboot instead of SeaBIOS: ~1.5 s less firmware time under TCG.
	amd64) printf '%s\n' qemu-system-x86_64 -accel tcg -bios qboot.rom ;;
	arm64) printf '%s\n' qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a53 ;;
	esac
}

console_dev() {
	case $1 in
	amd64) echo ttyS0 ;;
	arm64) echo ttyAMA0 ;;
	esac
}

# ---- run directory ---------------------------------------------------------------

make_run_dir() {
	local kver=$1 arch=$2 dir
	if [[ -n $opt_run_dir ]]; then
		mkdir -p "$opt_run_dir"
		(cd "$opt_run_dir" && pwd)
		return
	fi
	dir="$KVS_CACHE/runs/$(date +%Y%m%d-%H%M%S)-$kver-$arch"
	local n=1 try=$dir
	until mkdir -p "$KVS_CACHE/runs" && mkdir "$try" 2>/dev/null; do
		try="$dir.$n"
		n=$((n + 1))
	done
	echo "$try"
}

# Files the guest reads from its /kvs-out share.
write_guest_files() {
	local run=$1 ko=$2 root=$3
	{
		printf 'export %s=%q\n' KVS_KO "$ko" KVS_KVER "$KVS_KVER" KVS_ARCH "$KVS_ARCH" \
			KVS_SERIES "$KVS_SERIES" KVS_REPO "$KVS_REPO" KVS_MODDIR "$KVS_MODDIR" \
			KVS_OUT /kvs-out
		local e
		for e in "${opt_env[@]}"; do
			printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
		done
	} >"$run/guest.env"
	if ((${#guest_cmd[@]} == 1)); then
		printf '%s\n' "${guest_cmd[0]}" >"$run/guest.cmd"
	else
		printf '%q ' "${guest_cmd[@]}" >"$run/guest.cmd"
		echo >>"$run/guest.cmd"
	fi
	printf 'KVS_INIT=%q\n' "$KVS_REPO/tests/guest/init-guest.sh" >"$run/boot.conf"
	# A root other than the host's cannot see the repo or the kernel's modules: share
	# them at the same paths, writable in the guest through an overlay (as on the host
	# root), never on the host.
	: >"$run/shares"
	if [[ $root != / ]]; then
		local i=0 d
		for d in "$KVS_REPO" "$KVS_MODDIR"; do
			[[ $d == *' '* ]] && die "paths with spaces cannot be shared: $d"
			printf 'kvs%d ov %s\n' "$i" "$d" >>"$run/shares"
			i=$((i + 1))
		done
	fi
	rm -f "$run/rc" "$run/out.log" "$run/dmesg.log" "$run/console.log" "$run/result"
}

# ---- QEMU ------------------------------------------------------------------------

# Build the QEMU command line into the array named by $1.
qemu_cmdline() {
	local -n _cmd=$1
	local run=$2 root=$3 initrd=$4
	local append
	append="console=$(console_dev "$KVS_ARCH") panic_on_warn=1 oops=panic panic=-1"
	append+=" softlockup_panic=1 log_buf_len=8M"
	# x86 checks at boot that the timer interrupt arrives within a few ticks; on a
	# busy host TCG misses that and the kernel panics ("IO-APIC + timer doesn't work").
	[[ $KVS_ARCH == amd64 ]] && append+=" no_timer_check"
	# The clocksource watchdog compares the TSC with the HPET; under TCG on a busy
	# host they drift apart and the watchdog marks the TSC unstable.  On 7.3 the
	# guest then died at once, without a line on the console (twice in 95-concurrency,
	# at that message, in CI and here; not seen with tsc=reliable).  Under TCG both
	# clocks come from the host's, so the TSC is trusted, as the bench does.
	[[ $KVS_ARCH == amd64 ]] && append+=" tsc=reliable"
	append+=" ${opt_append[*]}"
	mapfile -t _cmd < <(qemu_machine "$KVS_ARCH")
	# shift=0: 2^0 ns of guest time per instruction; sleep=off: an idle
	# vCPU does not wait for the host's clock (virtual time jumps to the
	# next timer); align=off: no throttling to the host's pace.
	((opt_icount)) && _cmd+=(-icount "shift=0,sleep=off,align=off")
	_cmd+=(-nodefaults -no-user-config -nographic -no-reboot
		-smp "$opt_smp" -m "$opt_mem"
		-kernel "$KVS_VMLINUZ" -initrd "$initrd" -append "$append"
		-serial "file:$run/console.log" -monitor none
		-virtfs "local,path=$root,mount_tag=kvsroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$run,mount_tag=kvsout,security_model=none,multidevs=remap")
	local tag mode path
	while read -r tag mode path; do
		local ro=
		[[ $mode == ro ]] && ro=,readonly=on
		_cmd+=(-virtfs "local,path=$path,mount_tag=$tag,security_model=none$ro,multidevs=remap")
	done <"$run/shares"
}

# Print the part of FILE past byte offset OFF; echo the new offset on fd 3.
print_new() {
	local file=$1 off=$2 size
	size=$(stat -c %s "$file" 2>/dev/null || echo 0)
	((size < off)) && off=0 # the guest truncated it
	if ((size > off)); then
		tail -c +"$((off + 1))" "$file" | head -c "$((size - off))"
	fi
	echo "$size" >&3
}

# Boot, wait for QEMU (streaming logs if asked), return QEMU's (or timeout's) status.
boot() {
	local run=$1
	shift
	printf '%q ' "$@" >"$run/qemu.cmd"
	timeout --kill-after=10 "$opt_timeout" "$@" </dev/null >"$run/qemu.log" 2>&1 &
	local qpid=$! out_off=0 con_off=0
	# Do not leave QEMU running if we are interrupted.
	trap 'kill "$qpid" 2>/dev/null' INT TERM EXIT
	while kill -0 "$qpid" 2>/dev/null; do
		if ((opt_follow)); then
			{ print_new "$run/out.log" "$out_off" 3>"$run/.off"; } && out_off=$(<"$run/.off")
		fi
		if ((opt_console)); then
			{ print_new "$run/console.log" "$con_off" 3>"$run/.off" >&2; } && con_off=$(<"$run/.off")
		fi
		sleep 0.5
	done
	local rc=0
	wait "$qpid" || rc=$?
	trap - INT TERM EXIT
	((opt_follow)) && print_new "$run/out.log" "$out_off" 3>/dev/null
	((opt_console)) && print_new "$run/console.log" "$con_off" 3>/dev/null >&2
	rm -f "$run/.off"
	return "$rc"
}

# ---- verdict ---------------------------------------------------------------------

# Print splat lines with context from the kernel logs; succeed if there were any. The
# echoed kernel command line is not a splat, whatever --append put in it.
scan_logs() {
	local run=$1 f hit=1
	for f in "$run/console.log" "$run/dmesg.log"; do
		[[ -f $f ]] || continue
		if grep -v -E 'Command line:|command line parameters' "$f" | grep -q -E "$SPLAT_RE"; then
			echo "---- ${f##*/}: kernel reported a problem ----" >&2
			grep -n -E -B3 -A25 "$SPLAT_RE" "$f" | head -n 200 >&2
			hit=0
			break # dmesg.log repeats console.log: one report is enough
		fi
	done
	return "$hit"
}

main() {
	parse_args "$@"
	[[ $(id -u) == 0 ]] || die "must run as root"
	kvs_kernel_arch "$opt_arch" >/dev/null || die "unsupported arch '$opt_arch'"

	local kver kdir
	kver=$("$KVS_REPO/tests/vm/fetch-kernel.sh" "$opt_series" "$opt_arch")
	kdir="$KVS_CACHE/kernels/$kver-$opt_arch"
	local KVS_SERIES KVS_KVER KVS_ARCH KVS_VMLINUZ KVS_MODDIR KVS_ROOT=''
	# shellcheck disable=SC1091 # generated by fetch-kernel.sh
	. "$kdir/kvs-kernel.env"

	kvs_need_pkgs "$(qemu_pkg "$KVS_ARCH")"
	# The host's root is the guest's userland on the host arch (unless the kernel
	# comes with a root of its suite); dkms too, for the DKMS case (the headers are
	# there already: fetch-kernel.sh installed them).
	# shellcheck disable=SC2046 # one package per word
	[[ $KVS_ARCH == "$(kvs_host_arch)" && -z $KVS_ROOT ]] && kvs_need_pkgs $(kvs_guest_pkgs) dkms
	local run ko='' initrd root
	run=$(make_run_dir "$KVS_KVER" "$KVS_ARCH")
	if ((!opt_no_module)); then
		# The guest loads a snapshot in the run dir: the build dir is shared by every
		# run for this kernel, and a concurrent run may rebuild it under our feet.
		ko=$("$KVS_REPO/tests/vm/build-module.sh" ${opt_module_src:+--module-src "$opt_module_src"} \
			--out "$run/module" "$kdir")
		ko="/kvs-out/module/${ko##*/}"
	fi
	initrd=$("$KVS_REPO/tests/vm/mkinitramfs.sh" "$kdir")
	root=$(guest_root "$KVS_ARCH")
	write_guest_files "$run" "$ko" "$root"

	local -a qemu
	qemu_cmdline qemu "$run" "$root" "$initrd"
	local mode=TCG
	((opt_icount)) && mode="TCG -icount (1 vCPU, guest time = instructions)"
	log "booting $KVS_KVER ($KVS_ARCH) under $mode; run dir: $run"
	local t0 qrc=0 wall
	t0=${EPOCHREALTIME/[.,]/}
	boot "$run" "${qemu[@]}" || qrc=$?
	wall=$(((${EPOCHREALTIME/[.,]/} - t0) / 100000))
	wall="$((wall / 10)).$((wall % 10))"

	if ((!opt_follow)) && [[ -f $run/out.log ]]; then
		cat "$run/out.log"
	fi
	verdict "$run" "$qrc" "$wall"
}

# Decide, record (run/result) and exit.
verdict() {
	local run=$1 qrc=$2 wall=$3 finished=no clean=yes guest_rc='' status timed_out=no
	((qrc == 124 || qrc == 137)) && timed_out=yes
	if [[ -f $run/rc ]]; then
		finished=yes
		guest_rc=$(<"$run/rc")
	fi
	scan_logs "$run" && clean=no
	cat >"$run/result" <<EOF
kver=$KVS_KVER
arch=$KVS_ARCH
series=$KVS_SERIES
finished=$finished
guest_rc=$guest_rc
log_clean=$clean
timed_out=$timed_out
qemu_rc=$qrc
icount=$opt_icount
wall_seconds=$wall
EOF
	log "VM wall time ${wall}s; logs: $run"
	if [[ $finished == no ]]; then
		if [[ $timed_out == yes ]]; then
			log "FAIL: guest did not finish within ${opt_timeout}s (QEMU killed)"
		else
			log "FAIL: guest did not finish (no rc file; QEMU exit $qrc): see console.log"
			# The splat, if any, is shown above; otherwise the end of the console.
			[[ $clean == yes ]] && tail -n 30 "$run/console.log" >&2 2>/dev/null
			[[ -s $run/qemu.log ]] && sed 's/^/qemu: /' "$run/qemu.log" >&2
		fi
		status=4
	elif [[ $clean == no ]]; then
		log "FAIL: the kernel log shows BUG/WARNING/Oops/... (guest command exited $guest_rc)"
		status=3
	else
		status=$guest_rc
		((status == 0)) || log "guest command exited $status"
	fi
	exit "$status"
}

main "$@"
