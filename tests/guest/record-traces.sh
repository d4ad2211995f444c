#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Record the real vmalloc traces of tests/data/traces/ in a booted guest
# (docs/REPLAY.md): run inside tests/vm/run.sh, they land in $KVS_OUT.
#
#   tests/vm/run.sh --series 6.1 --arch amd64 --run-dir /tmp/rec \
#     -- bash tests/guest/record-traces.sh
#
# modules: each of MODULES loaded with modprobe (with its dependencies),
# then all removed again, twice.  threads: python3 starting 3 rounds of
# 256 threads that sleep 0.2 s together (a kernel stack each, vmapped:
# CONFIG_VMAP_STACK), plus 64 short-lived processes.
set -u
REPO=${KVS_REPO:-$(cd "$(dirname "$0")/../.." && pwd)}
OUT=${KVS_OUT:-/tmp}
REC=$REPO/debugfs-scripts/kvashim-record

MODULES="btrfs xfs jfs nilfs2 udf isofs vfat msdos ntfs3 hfsplus hfs minix
squashfs f2fs bridge 8021q bonding dummy veth vxlan geneve macvlan ipvlan
tun loop zram brd nbd dm_crypt dm_thin_pool raid456 sctp tipc l2tp_ppp
nfsd cifs"

echo "# $(uname -r) $(nproc) CPUs"
grep -E ' (alloc_vmap_area|free_vmap_area_noflush|free_vmap_area)$' /proc/kallsyms |
	awk '{ print "# kallsyms: " $2 " " $3 }'
[ -d /sys/kernel/tracing/events/vmalloc ] && echo "# tracepoints: /sys/kernel/tracing/events/vmalloc"

# shellcheck disable=SC2086 # the list
modules() {
	local m loaded=()
	for r in 1 2; do
		loaded=()
		for m in $MODULES; do
			[ -d "/sys/module/$m" ] && continue
			modprobe -q "$m" && loaded+=("$m")
		done
		echo "round $r: loaded ${#loaded[@]}: ${loaded[*]}" >&2
		modprobe -r -a -q "${loaded[@]}"
	done
}

threads() {
	python3 - <<'PY'
import threading, time
for r in range(3):
    ts = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(256)]
    for t in ts: t.start()
    for t in ts: t.join()
PY
	for _ in $(seq 64); do /bin/true; done
}

"$REC" -o "$OUT/modules-$(uname -r).trace" \
	-n "modules: $(wc -w <<<"$MODULES") modules by modprobe, loaded then removed, twice (tests/guest/record-traces.sh)" \
	-- bash -c "$(declare -f modules); MODULES='$MODULES'; modules"
echo "modules: rc $?"
"$REC" -o "$OUT/threads-$(uname -r).trace" \
	-n "threads: python3, 3 rounds of 256 threads, plus 64 processes (tests/guest/record-traces.sh)" \
	-- bash -c "$(declare -f threads); threads"
echo "threads: rc $?"
ls -l "$OUT"/*.trace
head -n 3 "$OUT"/*.trace
