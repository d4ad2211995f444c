#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# test-debug.sh: `make test-debug` -- the guest suite on a debug kernel (KASAN,
# lockdep, DEBUG_ATOMIC_SLEEP, kmemleak, DEBUG_VM, DEBUG_LIST), amd64, built once
# from Debian's linux-source-6.1 by tests/debug-kernel.sh and cached. Boots it the
# way tests/vm/run.sh boots a Debian kernel (same initramfs builder, same guest
# init, same run-dir layout), with panic_on_warn so that any KASAN or lockdep
# report ends the run; 99-kmemleak.sh scans for leaks after the other cases. Ends
# with "N passed, N failed[, N skipped]".
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

SPLAT_RE='BUG:|WARNING:|Oops|Call Trace|Kernel panic|KASAN:|UBSAN:|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage'
timeout=${KVS_VM_TIMEOUT:-5400}

[[ $(id -u) == 0 ]] || die "must run as root"
kvs_need_pkgs qemu-system-x86 >&2
kver=$("$KVS_REPO/tests/debug-kernel.sh")
kdir=$KVS_CACHE/kernels/$kver-amd64
[[ -f $kdir/kvs-kernel.env ]] || die "no kernel directory $kdir"
# shellcheck disable=SC1091 # written by debug-kernel.sh
. "$kdir/kvs-kernel.env"

run=$KVS_CACHE/runs/$(date +%Y%m%d-%H%M%S)-$kver-amd64
mkdir -p "$run"
ko=$("$KVS_REPO/tests/vm/build-module.sh" --out "$run/module" "$kdir")
initrd=$("$KVS_REPO/tests/vm/mkinitramfs.sh" "$kdir")
{
	printf 'export %s=%q\n' KVS_KO "/kvs-out/module/${ko##*/}" KVS_KVER "$kver" \
		KVS_ARCH amd64 KVS_SERIES debug KVS_REPO "$KVS_REPO" KVS_MODDIR "$KVS_MODDIR" \
		KVS_OUT /kvs-out KVS_CASE_TIMEOUT "${KVS_CASE_TIMEOUT:-1800}" \
		KVS_BENCH_BUDGET_MS "${KVS_BENCH_BUDGET_MS:-30000}"
	[[ -z ${KVS_CASES:-} ]] || printf 'export KVS_CASES=%q\n' "$KVS_CASES"
} >"$run/guest.env"
echo tests/guest/run-all.sh >"$run/guest.cmd"
printf 'KVS_INIT=%q\n' "$KVS_REPO/tests/guest/init-guest.sh" >"$run/boot.conf"
: >"$run/shares"

# 6G: with KASAN_VMALLOC, get_vm_area() backs the shadow of the whole
# arena, 1 GiB for the default 8 GiB one, until the vmap area is purged.
append="console=ttyS0 panic_on_warn=1 oops=panic panic=-1 softlockup_panic=1"
append+=" log_buf_len=8M pci=noacpi"
log "booting $kver under TCG (KASAN: slow); run dir $run"
t0=$SECONDS
qrc=0
timeout --kill-after=10 "$timeout" qemu-system-x86_64 -accel tcg -bios qboot.rom \
	-nodefaults -no-user-config -nographic -no-reboot -smp 2 -m 6G \
	-kernel "$KVS_VMLINUZ" -initrd "$initrd" -append "$append" \
	-serial "file:$run/console.log" -monitor none \
	-virtfs "local,path=/,mount_tag=kvsroot,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,path=$run,mount_tag=kvsout,security_model=none,multidevs=remap" \
	</dev/null >"$run/qemu.log" 2>&1 || qrc=$?
wall=$((SECONDS - t0))
[[ -f $run/out.log ]] && cat "$run/out.log"

pass=0 fail=0 skip=0
while IFS= read -r line; do
	[[ $line =~ ^(not\ )?ok([[:space:]]|$) ]] || continue
	shopt -s nocasematch
	if [[ $line =~ \#[[:space:]]*SKIP ]]; then
		skip=$((skip + 1))
	elif [[ $line == not\ * ]]; then
		fail=$((fail + 1))
	else
		pass=$((pass + 1))
	fi
	shopt -u nocasematch
done < <(cat "$run/out.log" 2>/dev/null)

why=
if [[ ! -f $run/rc ]]; then
	why="the guest did not finish (QEMU exit $qrc; timeout, panic or a report: see $run/console.log)"
elif grep -v -E 'Command line:|command line parameters' "$run/console.log" | grep -q -E "$SPLAT_RE"; then
	why="the kernel log shows a report (see $run/console.log)"
fi
if [[ -z $why ]]; then
	echo "ok - debug kernel $kver: guest finished, no KASAN/lockdep/kmemleak/WARN report"
	pass=$((pass + 1))
else
	echo "not ok - debug kernel $kver: $why"
	grep -n -E -A30 "$SPLAT_RE" "$run/console.log" | head -n 120 >&2 || true
	fail=$((fail + 1))
fi
echo "debug kernel $kver, VM wall time ${wall}s, run dir $run"
line="$pass passed, $fail failed"
((skip > 0)) && line+=", $skip skipped"
echo "$line"
((fail == 0 && pass > 1))
