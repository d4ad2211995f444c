#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of a harness VM, after the initramfs has switch_root'ed into the overlay root.
# Not for running by hand: tests/vm/run.sh boots it.
#
# Prepares a normal-looking system (proc, sys, dev, debugfs, tracefs, /tmp, the booted
# kernel's modules at /lib/modules/$(uname -r)), runs the command from
# /kvs-out/guest.cmd in $KVS_REPO with the environment from /kvs-out/guest.env, sends
# its stdout+stderr to /kvs-out/out.log (not to the console, so test output never
# interleaves with printk), saves dmesg to /kvs-out/dmesg.log, writes the exit status
# to /kvs-out/rc, and powers off.
#
# No `set -e`: PID 1 must reach the power-off whatever fails (exiting would panic the
# kernel). A failure before the command runs leaves no rc file, and the host reports it.
set -uo pipefail

OUT=/kvs-out
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

say() { echo "kvs-guest: $*"; }

power_off() {
	sync
	poweroff -f 2>/dev/null
	echo o >/proc/sysrq-trigger
	# Wait for it with builtins only: the power-off may already have shut
	# the 9p root down, an exec then fails (EIO), and PID 1 must never exit.
	while :; do
		read -r -t 60 _ </dev/console || :
	done
}

# Is DIR a mount point in this guest? Not `mountpoint`: a directory of the root share
# that is a mount point on the host has its own st_dev here too (multidevs=remap).
# Builtins only: every exec costs ~0.1 s here (TCG, libraries read over 9p).
is_mounted() {
	local mnt
	[[ -r /proc/self/mounts ]] || return 1
	while read -r _ mnt _; do
		[[ $mnt == "$1" ]] && return 0
	done </proc/self/mounts
	return 1
}

# mount_once TYPE DIR [OPTIONS]: mount unless something is already mounted there.
mount_once() {
	local type=$1 dir=$2 opts=${3:-}
	[[ -d $dir ]] || mkdir -p "$dir"
	is_mounted "$dir" && return 0
	mount -t "$type" ${opts:+-o "$opts"} "$type" "$dir" || say "mount $type on $dir failed"
}

mount_system() {
	# /proc first (is_mounted needs it). The initramfs hands it over; if it did not,
	# /proc here is the host's, seen through the share, where "self" is not us.
	local pid=
	{ read -r pid _ </proc/self/stat; } 2>/dev/null
	[[ $pid == "$BASHPID" ]] || mount -t proc proc /proc
	mount_once sysfs /sys
	mount_once devtmpfs /dev
	# What udev would add: bash process substitution needs /dev/fd.
	[[ -e /dev/fd ]] || ln -s /proc/self/fd /dev/fd
	local i n=0
	for i in stdin stdout stderr; do
		[[ -e /dev/$i ]] || ln -s "/proc/self/fd/$n" "/dev/$i"
		n=$((n + 1))
	done
	mount_once devpts /dev/pts gid=5,mode=620
	mount_once tmpfs /dev/shm mode=1777
	mount_once tmpfs /run mode=0755
	# A fresh /tmp, but keep the host's reachable: the repository under
	# test may live there (CI clones anywhere); see mount_repo.
	mkdir -p /run/kvs-hosttmp
	mount --rbind /tmp /run/kvs-hosttmp || say "cannot keep the host's /tmp"
	mount_once tmpfs /tmp mode=1777
	mount_once debugfs /sys/kernel/debug
	mount_once tracefs /sys/kernel/tracing
	# bpftrace and perf look here; the host's mounts leak in through 9p otherwise.
	mount_once cgroup2 /sys/fs/cgroup
	mount_once bpf /sys/fs/bpf mode=0700
}

# The booted kernel is not the host's: show its modules at the standard place (the
# overlay lets us mount over whatever the host has there).
mount_modules() {
	local kver dir
	read -r kver </proc/sys/kernel/osrelease
	dir="/lib/modules/$kver"
	is_mounted "$dir" && return 0 # already a share (foreign-arch roots)
	if [[ -d ${KVS_MODDIR:-} ]]; then
		mkdir -p "$dir"
		mount --bind "$KVS_MODDIR" "$dir" || say "bind mount of $KVS_MODDIR failed"
	else
		say "no modules directory for $kver (KVS_MODDIR=${KVS_MODDIR:-unset})"
	fi
}

# A repository under /tmp was hidden by the guest's own /tmp: show it again.
mount_repo() {
	local rel
	[[ ${KVS_REPO:-} == /tmp/* ]] || return 0
	rel=${KVS_REPO#/tmp/}
	mkdir -p "$KVS_REPO"
	mount --rbind "/run/kvs-hosttmp/$rel" "$KVS_REPO" || say "cannot show $KVS_REPO"
}

# The project's scripts on PATH, once the repository is in view.
repo_path() {
	if [[ -n ${KVS_REPO:-} && -d $KVS_REPO/debugfs-scripts ]]; then
		PATH="$PATH:$KVS_REPO/debugfs-scripts"
	fi
}

setup_env() {
	# shellcheck disable=SC1091 # written by tests/vm/run.sh
	. "$OUT/guest.env"
	export HOME=/root LANG=C.UTF-8 TERM=dumb USER=root LOGNAME=root
	export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	hostname kvashim-vm 2>/dev/null
	ip link set lo up 2>/dev/null
	# bpftrace maps are charged to memlock on older kernels.
	ulimit -l unlimited 2>/dev/null
	return 0
}

run_command() {
	local cmd rc
	cmd=$(<"$OUT/guest.cmd")
	cd "${KVS_REPO:-/}" || say "cannot cd to $KVS_REPO"
	# Not the command itself: its text must not reach the console that is scanned.
	say "running the guest command"
	# A subshell, so that `exit N` in the command ends only the command.
	(eval "$cmd") >"$OUT/out.log" 2>&1 </dev/null
	rc=$?
	say "command exited with $rc"
	dmesg >"$OUT/dmesg.log" 2>&1
	# rc last: its presence tells the host that the guest finished.
	echo "$rc" >"$OUT/rc.tmp" && mv "$OUT/rc.tmp" "$OUT/rc"
}

main() {
	mount_system
	setup_env
	mount_repo
	repo_path
	mount_modules
	run_command
	power_off
}

main "$@"
