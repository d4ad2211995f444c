#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# debug-kernel.sh: build (once, cached) a small amd64 debug kernel from Debian's
# linux-source-6.1 with KASAN, lockdep, DEBUG_ATOMIC_SLEEP, kmemleak, DEBUG_VM and
# DEBUG_LIST, and lay it out as a kernel directory the VM scripts understand
# ($KVS_CACHE/kernels/<kver>-amd64 with kvs-kernel.env). Prints the kernel release.
set -euo pipefail

KVS_CACHE=${KVS_CACHE:-/var/cache/kvashim}
prog=${0##*/}
top=$KVS_CACHE/debug
src=$top/linux
stamp=$top/built.stamp
# Bump when the option list changes, so the cache is rebuilt.
cfg_version=1

die() { echo "$prog: $*" >&2; exit 1; }
log() { echo "$prog: $*" >&2; }

# Options on top of tinyconfig: boot under TCG with the harness's 9p root, what the
# module needs (kprobes, kallsyms, debugfs, CPU hotplug), and the checkers.
OPTS_Y=(64BIT SMP PRINTK PRINTK_TIME BUG TTY SERIAL_8250 SERIAL_8250_CONSOLE
	BLK_DEV_INITRD RD_GZIP BINFMT_ELF BINFMT_SCRIPT PROC_FS PROC_SYSCTL SYSFS DEVTMPFS
	DEVTMPFS_MOUNT TMPFS IKCONFIG IKCONFIG_PROC ACPI PCI PCI_MSI VIRTIO_MENU VIRTIO
	VIRTIO_PCI NET UNIX INET NET_9P NET_9P_VIRTIO NETWORK_FILESYSTEMS 9P_FS OVERLAY_FS
	MODULES MODULE_UNLOAD FUTEX EPOLL SIGNALFD TIMERFD EVENTFD SHMEM MULTIUSER
	FILE_LOCKING POSIX_TIMERS FHANDLE AIO ADVISE_SYSCALLS MEMBARRIER SYSVIPC
	HIGH_RES_TIMERS HOTPLUG_CPU SLUB SLUB_DEBUG UNWINDER_ORC
	KPROBES KALLSYMS KALLSYMS_ALL DEBUG_FS DEBUG_FS_ALLOW_ALL DEBUG_KERNEL
	FTRACE EVENT_TRACING TRACEPOINTS MAGIC_SYSRQ
	KASAN KASAN_GENERIC KASAN_INLINE KASAN_VMALLOC PROVE_LOCKING DEBUG_ATOMIC_SLEEP
	DEBUG_KMEMLEAK DEBUG_VM DEBUG_LIST)
OPTS_N=(SLOB SLUB_TINY CC_OPTIMIZE_FOR_SIZE DEBUG_KMEMLEAK_AUTO_SCAN
	DEBUG_KMEMLEAK_DEFAULT_OFF MODULE_SIG DEBUG_INFO_BTF)

configure() {
	local o
	make -C "$src" -s tinyconfig
	for o in "${OPTS_Y[@]}"; do "$src/scripts/config" --file "$src/.config" -e "$o"; done
	for o in "${OPTS_N[@]}"; do "$src/scripts/config" --file "$src/.config" -d "$o"; done
	"$src/scripts/config" --file "$src/.config" --set-val LOG_BUF_SHIFT 23
	"$src/scripts/config" --file "$src/.config" --set-val DEBUG_KMEMLEAK_MEM_POOL_SIZE 32000
	"$src/scripts/config" --file "$src/.config" --set-str LOCALVERSION -kvsdebug
	make -C "$src" -s olddefconfig
	local miss=()
	for o in "${OPTS_Y[@]}"; do
		case $o in SLOB | VIRTIO_MENU | NETWORK_FILESYSTEMS) continue ;; esac
		grep -q "^CONFIG_$o=y" "$src/.config" || miss+=("$o")
	done
	((${#miss[@]} == 0)) || log "warning: not set after olddefconfig: ${miss[*]}"
}

build() {
	apt-get install -y -q linux-source-6.1 bc bison flex libelf-dev libssl-dev >&2
	mkdir -p "$top"
	if [[ ! -f $src/Makefile ]]; then
		log "unpacking /usr/src/linux-source-6.1.tar.xz"
		rm -rf "$src" "$top/linux-source-6.1"
		tar -C "$top" -xf /usr/src/linux-source-6.1.tar.xz
		mv "$top/linux-source-6.1" "$src"
	fi
	configure
	log "building (nice, -j$(nproc)); log in $top/build.log"
	nice -n 10 make -C "$src" -j"$(nproc)" bzImage modules >"$top/build.log" 2>&1 ||
		{ tail -n 30 "$top/build.log" >&2; die "kernel build failed"; }
	local kver dir
	kver=$(make -C "$src" -s kernelrelease)
	dir=$KVS_CACHE/kernels/$kver-amd64
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$src/arch/x86/boot/bzImage" "$dir/vmlinuz"
	make -C "$src" -s INSTALL_MOD_PATH="$dir" modules_install >&2
	ln -sfn "$src" "$dir/lib/modules/$kver/build"
	cat >"$dir/kvs-kernel.env" <<EOT
# Written by tests/debug-kernel.sh; sourced by tests/test-debug.sh.
KVS_SERIES=debug
KVS_ARCH=amd64
KVS_KVER=$kver
KVS_KERNEL_DIR=$dir
KVS_VMLINUZ=$dir/vmlinuz
KVS_MODDIR=$dir/lib/modules/$kver
KVS_HEADERS=$src
KVS_SUITE=bookworm
KVS_ROOT=
EOT
	echo "$cfg_version $kver" >"$stamp"
}

[[ $(id -u) == 0 ]] || die "must run as root"
if [[ ! -f $stamp || $(cut -d' ' -f1 "$stamp") != "$cfg_version" ]]; then
	build
fi
cut -d' ' -f2 "$stamp"
