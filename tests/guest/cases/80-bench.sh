#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A short benchmark run: every workload completes on every backend and on
# the kernel's allocator, the results are well formed, and the index
# operation counts (machine-independent) are what the designs predict.
# Performance targets are judged by "make bench", not here.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

TARGETS="$KVS_BACKENDS maple+pcpu kernel"
WORKLOADS="fix_size_alloc full_fit_alloc long_busy_list_alloc random_size_alloc
fix_align_alloc random_size_align_alloc align_shift_alloc seed_test1_3page xcpu_storm
fix_16page_alloc fix_100page_alloc"
ncpu=$(nproc)

kvs_load
start=$(date +%s)
if kc bench loops=100 busy=300 reps=2 budget_ms=20000; then
	tap_ok "bench of 11 workloads x 6 targets x 1..$ncpu threads ($(( $(date +%s) - start ))s)"
else
	tap_not_ok "bench of 11 workloads x 6 targets x 1..$ncpu threads" "$KC_OUT"
fi
res=$(cat "$KVS_DIR/results")
awk '{ print "# " $0 }' <<<"$res"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# One awk pass (process start-up is slow under TCG): for each workload,
# the (target/threads) cells that are missing or malformed.
problems() {
	echo "$res" | awk -v wls="$WORKLOADS" -v tgts="$TARGETS" -v ncpu="$ncpu" '
	function f(k,   i, kv) {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) return kv[2] }
		return ""
	}
	{
		key = f("workload") " " f("target") " " f("threads")
		if (f("skipped") == 1) { cell[key] = "skipped"; next }
		ok = f("reps") == 2 && f("iters") >= 100 * f("threads") && f("avg_ns") > 0 &&
		     f("fails") == 0 && f("capped") == 0 && f("check_failed") == 0 &&
		     f("chunks_left") == 0
		cell[key] = ok ? "ok" : $0
	}
	END {
		nw = split(wls, w, /[ \n]+/); nt = split(tgts, t, " ")
		for (i = 1; i <= nw; i++) {
			if (w[i] == "") continue
			bad = ""
			for (j = 1; j <= nt; j++)
				for (n = 1; n <= ncpu; n++) {
					c = cell[w[i] " " t[j] " " n]
					nokernel = w[i] ~ /^(fix_align|random_size_align|align_shift|xcpu_storm)/
					if (c == "ok" || (c == "skipped" && t[j] == "kernel" && nokernel))
						continue
					bad = bad " " t[j] "/" n ":" (c == "" ? "missing" : c)
				}
			print w[i] "\t" bad
		}
	}'
}

while IFS=$'\t' read -r wl bad; do
	if [ -z "$bad" ]; then
		tap_ok "$wl: well-formed, checked, no chunk left, every target and thread count"
	else
		tap_not_ok "$wl: well-formed results" "$bad"
	fi
done < <(problems)

# One fix_size iteration is one alloc and one free.  maple-rfc: a gap
# search and a store, then the free's lookup (its claim of the area), the
# unlink's walk to the same object and an erase.  maple: the freed area
# stays a tombstone at the window's start, so the alloc needs no gap
# search and takes the tombstone's slot without a store; the free's claim
# is its one tree operation (the area points to its slot, and nothing
# lies below the arena's start to look up).  maple-dual adds to maple-rfc
# the free tree's walk and clip on alloc, and on free a walk for the upper
# neighbour (the area sits at the arena base: there is no lower one) and a
# merged store.
ops() { echo "$res" | grep "^workload=fix_size_alloc target=$1 threads=1 " | field idx_ops; }
m=$(ops maple) r=$(ops maple-rfc) d=$(ops maple-dual)
if [ "$m" = 1.00 ] && [ "$r" = 5.00 ] && [ "$d" = 9.00 ]; then
	tap_ok "index operations per alloc+free: maple $m, maple-rfc $r, maple-dual $d"
else
	tap_not_ok "index operations per alloc+free: maple 1.00, maple-rfc 5.00, maple-dual 9.00" "maple '$m' maple-rfc '$r' maple-dual '$d'"
fi
walked=$(echo "$res" | grep "^workload=long_busy_list_alloc target=list threads=1 " | field list_walked)
if [ "${walked%.*}" -ge 300 ]; then
	tap_ok "list walks the busy list: $walked nodes per iteration with 300 busy"
else
	tap_not_ok "list walks the busy list" "$walked"
fi

# Each point of the sweep has a time budget; a debug kernel (KASAN,
# lockdep) under TCG is some 20x slower and asks for more (test-debug.sh).
kc bench scaling loops=50 budget_ms="${KVS_BENCH_BUDGET_MS:-1000}"
rc=$KC_RC
res=$(cat "$KVS_DIR/results")
awk '{ print "# " $0 }' <<<"$res"
bad=""
for t in $TARGETS; do
	echo "$res" | grep -q "^workload=scaling target=$t threads=1 live=1000 " || bad="$bad $t"
done
if [ "$rc" = 0 ] && [ -z "$bad" ]; then
	tap_ok "scaling sweep: every target measured at 10^3 live areas at least"
else
	tap_not_ok "scaling sweep" "rc $rc, missing:$bad" "$KC_OUT"
fi
expect_errno "bench with an unknown workload" "$EINVAL" bench workload=nosuch
expect_errno "bench with more threads than CPUs" "$ERANGE" bench threads=$((ncpu + 1))
check_ok "live arena after the bench"
kvs_unload
