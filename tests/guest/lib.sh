# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
#
# Helpers for the in-guest test cases: TAP output, the module, the
# control file.  Sourced by every tests/guest/cases/*.sh.
#
# TAP numbering is shared by all cases of one run through a counter file,
# so the host sees one "ok N - ..." sequence.

KVS_REPO=${KVS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KVS_KO=${KVS_KO:-$KVS_REPO/kvashim.ko}
KVS_DIR=/sys/kernel/debug/kvashim
# shellcheck disable=SC2034 # used by the cases that source this file
KVS_CTL=$KVS_REPO/debugfs-scripts/kvashim-ctl
KVS_TAP_COUNTER=${KVS_TAP_COUNTER:-/tmp/kvs-tap-counter}
KVS_CASE=$(basename "${0%.sh}")

# The backends, in the module's order (kvs_backends[]): maple, then the
# RFC's maple as posted, then the older designs.
# shellcheck disable=SC2034 # used by the cases that source this file
KVS_BACKENDS="maple maple-rfc maple-dual rbtree list"

# errno numbers as kvashim-ctl exits with them
# shellcheck disable=SC2034 # used by the cases that source this file
EINVAL=22 ENOMEM=12 ENOENT=2 EBUSY=16 ERANGE=34 EUCLEAN=117 EAGAIN=11 ENOSPC=28

tap_next() {
	local n=0
	[ -f "$KVS_TAP_COUNTER" ] && n=$(cat "$KVS_TAP_COUNTER")
	n=$((n + 1))
	echo "$n" >"$KVS_TAP_COUNTER"
	echo "$n"
}

# tap_ok DESC / tap_not_ok DESC [DIAG...] / tap_skip DESC REASON
tap_ok() {
	echo "ok $(tap_next) - $KVS_CASE: $1"
}

tap_not_ok() {
	local desc=$1 line
	shift
	echo "not ok $(tap_next) - $KVS_CASE: $desc"
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}

tap_skip() {
	echo "ok $(tap_next) - $KVS_CASE: $1 # SKIP $2"
}

# ok_if DESC CMD...: one case, passed when CMD exits 0.  CMD runs in this
# shell (not a subshell), so it may change the shell's state.
ok_if() {
	local desc=$1 log=/tmp/kvs-ok-if.log
	shift
	if "$@" >"$log" 2>&1; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "command: $*" "$(cat "$log")"
	fi
}

# Commands go through one descriptor of the control file held open by the
# test shell: under TCG, starting a process per command costs seconds.
# The descriptor holds a module reference, so kvs_unload closes it first.
declare -A KVS_ERRNO=([EINVAL]=22 [ENOMEM]=12 [ENOENT]=2 [EBUSY]=16
		      [ERANGE]=34 [EUCLEAN]=117 [EPERM]=1 [EINTR]=4 [EIO]=5
		      [EAGAIN]=11 [EFAULT]=14 [ENOSPC]=28)
KVS_FD=

ctl_open() {
	[ -n "$KVS_FD" ] || exec {KVS_FD}<>"$KVS_DIR/control"
}

ctl_close() {
	[ -z "$KVS_FD" ] || exec {KVS_FD}>&-
	KVS_FD=
}

# kc_result: read the result of the last write into KC_OUT; KC_RC is 0,
# or the errno its "error: ENAME: reason" names (EIO for an unknown name).
kc_result() {
	local name
	IFS= read -r KC_OUT <&"$KVS_FD"
	if [ "${KC_OUT#error: }" = "$KC_OUT" ]; then
		KC_RC=0
	else
		name=${KC_OUT#error: }
		KC_RC=${KVS_ERRNO[${name%%:*}]:-5}
	fi
}

# kc CMD...: run one command; sets KC_OUT (the result line) and KC_RC (0 or
# the errno named in the result, which must agree with the write failing).
kc() {
	local wrote=0
	ctl_open
	printf '%s\n' "$*" 1>&"$KVS_FD" 2>/dev/null && wrote=1
	kc_result
	if [ $wrote = 1 ] && [ "$KC_RC" != 0 ] || [ $wrote = 0 ] && [ "$KC_RC" = 0 ]; then
		KC_OUT="write status and result disagree: $KC_OUT"
		KC_RC=5
	fi
	return "$KC_RC"
}

# churn N SIZES KEEP: on a descriptor of its own, N allocations of 1 to
# SIZES KiB, freeing all but every KEEPth (for writers run in parallel).
churn() {
	local fd i a
	exec {fd}<>"$KVS_DIR/control"
	for i in $(seq 1 "$1"); do
		printf 'alloc %dK\n' $((i % $2 + 1)) 1>&"$fd" 2>/dev/null || continue
		IFS= read -r a <&"$fd"
		[ $((i % $3)) -eq 0 ] || printf 'free %s\n' "$a" 1>&"$fd" 2>/dev/null
	done
	exec {fd}>&-
}

# log_quiet DESC LOG: one TAP result, ok if LOG (kernel log lines) is empty.
log_quiet() {
	if [ -z "$2" ]; then
		tap_ok "$1"
	else
		tap_not_ok "$1" "$2"
	fi
}

# ctl CMD...: kc, printing the result (or the reason, on stderr).
ctl() {
	kc "$@"
	if [ "$KC_RC" = 0 ]; then
		printf '%s\n' "$KC_OUT"
	else
		echo "kvashim-ctl: ${KC_OUT#error: }" >&2
	fi
	return "$KC_RC"
}

# expect_errno DESC ERRNO CMD...: the command must fail with ERRNO and
# leave a one-line reason to read back.
expect_errno() {
	local desc=$1 want=$2
	shift 2
	kc "$@"
	if [ "$KC_RC" -eq "$want" ] && [ -n "${KC_OUT#error: *: }" ]; then
		tap_ok "$desc ($KC_OUT)"
	else
		tap_not_ok "$desc" "command: $*" "want errno $want, got $KC_RC" "$KC_OUT"
	fi
}

# kvs_stat NAME: one value from the stats file.
kvs_stat() {
	awk -v k="$1" '$1 == k { print $2 }' "$KVS_DIR/stats"
}

# stats: the whole stats file into S[NAME], with builtins only (a fork
# costs milliseconds under TCG, and sweeps read the counters thousands of
# times).
declare -A S
stats() {
	local k v
	S=()
	while read -r k v; do S[$k]=$v; done <"$KVS_DIR/stats"
}

# nap SECONDS: a builtin sleep (a read that times out on a FIFO nobody
# writes to): under TCG, starting a process costs up to a second.
KVS_NAP_FD=
nap() {
	local f=/tmp/kvs-nap.$$.$BASHPID
	if [ -z "$KVS_NAP_FD" ]; then
		mkfifo "$f" && exec {KVS_NAP_FD}<>"$f"
		rm -f "$f"
	fi
	read -r -t "$1" -u "$KVS_NAP_FD" _
	return 0
}

# objects_settle N: wait up to 2.5 s for area_objects to be N (tracking
# objects are freed after an RCU grace period); S holds the last read.
objects_settle() {
	local i
	for i in {1..50}; do
		stats
		[ "${S[area_objects]}" = "$1" ] && return 0
		nap 0.05
	done
	return 1
}

# inj_hits SITE: H = failures injected at SITE since it was armed.
# shellcheck disable=SC2034 # H is for the cases that source this file
inj_hits() {
	local site rest
	H=0
	while read -r site rest; do
		[ "$site" = "$1" ] || continue
		rest=${rest#* hits=}
		H=${rest%% *}
	done <"$KVS_DIR/inject"
}

# inj_sites BACKEND PCPU: the fault sites the control commands reach on
# that backend, with the per-CPU overlay off (0) or on (1): a tracking
# object (area), the backend's index (maple or rbnode; the list allocates
# nothing), a chunk (overlay on), a populated area's pages and page
# tables (page, pte).  ksym is only evaluated at load.
inj_sites() {
	local s=area
	case $1 in
	maple | maple-rfc | maple-dual) s+=" maple" ;;
	rbtree) s+=" rbnode" ;;
	esac
	[ "$2" = 1 ] && s+=" chunk"
	echo "$s page pte"
}

# Kernel addresses do not fit a signed 64-bit number: bash arithmetic
# wraps them to negative values, which still add, subtract, mask and
# compare correctly with each other.
arena_base() {
	echo $((0x$(sed 's/^0x\([0-9a-f]*\)-.*/\1/' "$KVS_DIR/arena")))
}

arena_end() {
	echo $((0x$(sed 's/^0x[0-9a-f]*-0x\([0-9a-f]*\) .*/\1/' "$KVS_DIR/arena")))
}

hex() {
	printf '0x%x' "$1"
}

kvs_loaded() {
	[ -d /sys/module/kvashim ]
}

# kvs_load [PARAM=VALUE...]: load the module (kmod's insmod: a failed init
# is not retried, unlike busybox's).  The per-CPU overlay is off unless a
# pcpu= parameter says otherwise: most cases test the backends' placement,
# which the overlay's bump pointer deliberately bypasses.
kvs_load() {
	kvs_loaded && kvs_unload
	case " $* " in
	*" pcpu="*) ;;
	*) set -- "$@" pcpu=0 ;;
	esac
	insmod "$KVS_KO" "$@" && ctl_open
}

kvs_unload() {
	ctl_close
	kvs_loaded || return 0
	rmmod kvashim
}

# check_ok DESC: the index passes its consistency walk.
check_ok() {
	if kc check; then
		tap_ok "$1: check ($KC_OUT)"
	else
		tap_not_ok "$1: check" "$KC_OUT"
	fi
}

# Kernel log since the last dmesg_mark.
dmesg_mark() {
	KVS_DMESG_MARK=$(dmesg | wc -l)
}

dmesg_since() {
	dmesg | tail -n +"$((KVS_DMESG_MARK + 1))"
}

# Kernel log lines of kvashim that are not noise: a load and an unload
# say one line each, and the first load taints the kernel.
# shellcheck disable=SC2034 # used by the cases that source this file
KVS_LOG_OK='arena indexed by|unloaded with [0-9]+ live areas|taints kernel|module verification failed'
