#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tracing: the kvashim tracepoints, the bpf/*.bt scripts under bpftrace and
# debugfs-scripts/kvashim-trace (trace-cmd).  Each script is started, a
# workload of known size runs through the control file or the bench, and
# what the script prints must count exactly the operations performed.
# Then the events are switched on and off while a bench runs.
#
# Nothing else may allocate from kvashim meanwhile: every kvs_alloc() and
# kvs_free() fires an event, the bench's and self test's included.
# bpftrace takes seconds to start under TCG (KVS_BT_TIMEOUT, default 120).
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

TRACEFS=/sys/kernel/tracing
BT_TIMEOUT=${KVS_BT_TIMEOUT:-120}
BPF=$KVS_REPO/bpf
TMP=$(mktemp -d /tmp/kvs-trace.XXXXXX)

# alive PID: running, not a zombie.
alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st:0:1}" != Z ]
}

# wait_line FILE GLOB SECONDS PID: until a line of FILE matches GLOB, while
# PID lives.
wait_line() {
	local file=$1 pat=$2 deadline=$((SECONDS + $3)) pid=$4 fd line part=''
	exec {fd}<"$file" || return 1
	while [ $SECONDS -lt $deadline ]; do
		while IFS= read -r -u "$fd" line; do
			line=$part$line part=''
			# shellcheck disable=SC2053 # a glob on purpose
			if [[ $line == $pat ]]; then
				exec {fd}<&-
				return 0
			fi
		done
		part+=$line
		alive "$pid" || break
		nap 0.2
	done
	exec {fd}<&-
	return 1
}

# wait_exit PID SECONDS: reap PID, killing it if it outlives SECONDS; sets
# EXIT_RC.
wait_exit() {
	local pid=$1 deadline=$((SECONDS + $2))
	while alive "$pid" && [ $SECONDS -lt $deadline ]; do
		nap 0.2
	done
	alive "$pid" && kill -KILL "$pid"
	wait "$pid"
	EXIT_RC=$?
}

# Wall time in ms, from bash's own clock.
now_ms() {
	local t=${EPOCHREALTIME//[!0-9]/}
	echo $((t / 1000))
}

# bt_start NAME: run bpf/NAME.bt in the background, wait until it has
# attached.  bpftrace prints its BEGIN output only once every probe is
# attached (0.17 and later), so the BEGIN "Tracing ..." line is the signal;
# the "Attaching N probes" line comes before the attach in 0.17.
BT_STARTS=''
bt_start() {
	local name=$1 t0
	BT_NAME=$name BT_OUT=$TMP/$name.out BT_ERR=$TMP/$name.err
	: >"$BT_OUT"
	t0=$(now_ms)
	bpftrace "$BPF/$name.bt" >>"$BT_OUT" 2>"$BT_ERR" &
	BT_PID=$!
	if wait_line "$BT_OUT" 'Tracing *Hit Ctrl-C to end.' "$BT_TIMEOUT" "$BT_PID"; then
		BT_MS=$(($(now_ms) - t0))
		BT_STARTS="$BT_STARTS $name=$((BT_MS / 1000)).$((BT_MS % 1000 / 100))s"
		tap_ok "$name.bt attached ($(head -n 1 "$BT_OUT"), ready in $((BT_MS / 1000)).$((BT_MS % 1000 / 100)) s)"
		return 0
	fi
	tap_not_ok "$name.bt attached within ${BT_TIMEOUT}s" "$(cat "$BT_OUT" "$BT_ERR")"
	kill -INT "$BT_PID" 2>/dev/null
	wait_exit "$BT_PID" 30
	return 1
}

# bt_stop: SIGINT (Ctrl-C), wait for the maps, parse them into BT.
# bpftrace 0.17 can miss a SIGINT that lands outside its epoll_wait() (its
# poll loop only leaves on EINTR) and then runs on: the signal is sent
# again every 3 s, as one would press Ctrl-C again, but only until the
# maps start to print; a second SIGINT then would kill it mid-print (the
# stacks of fail.bt take seconds to symbolize on a loaded machine).
bt_stop() {
	local deadline=$((SECONDS + 90)) sent=0 i
	while alive "$BT_PID" && [ $SECONDS -lt $deadline ]; do
		if [ $sent = 0 ] || ! grep -q '^@' "$BT_OUT"; then
			kill -INT "$BT_PID" 2>/dev/null
			sent=$((sent + 1))
		fi
		for ((i = 0; i < 15; i++)); do
			alive "$BT_PID" || break
			nap 0.2
		done
	done
	[ $sent -gt 1 ] && echo "# $BT_NAME.bt: SIGINT sent $sent times"
	wait_exit "$BT_PID" 1
	if [ "$EXIT_RC" = 0 ] && ! grep -qE 'ERROR|WARNING' "$BT_ERR"; then
		tap_ok "$BT_NAME.bt exits cleanly on SIGINT"
	else
		tap_not_ok "$BT_NAME.bt exits cleanly on SIGINT" "exit $EXIT_RC" "$(cat "$BT_ERR")"
	fi
	bt_parse "$BT_OUT"
	sed 's/^/# /' "$BT_OUT"
}

# bt_parse FILE: BT[@map[key]] = the sum of a histogram's bucket counts, or
# the value of a count map; BT[@map[key] BUCKET] = one bucket's count,
# BUCKET as bpftrace prints it ("[4K, 8K)").
declare -A BT
bt_parse() {
	local k v
	BT=()
	while IFS=$'\t' read -r k v; do
		BT[$k]=$v
	done < <(awk '
		{ sub(/[ \t]+$/, "") }
		/^@/ {
			name = ""
			if (match($0, /: -?[0-9]+$/)) {
				print substr($0, 1, RSTART - 1) "\t" substr($0, RSTART + 2)
			} else if ($0 ~ /:$/) {
				name = substr($0, 1, length($0) - 1)
				sum[name] += 0
				if (!(name in seen)) { seen[name] = 1; order[++n] = name }
			}
			next
		}
		/^\[/ && name != "" {
			l = $0
			sub(/ *\|.*/, "", l)
			m = split(l, f, " ")
			b = l
			sub(/ +[0-9]+$/, "", b)
			print name " " b "\t" f[m]
			sum[name] += f[m]
			next
		}
		{ name = "" }
		END { for (i = 1; i <= n; i++) print order[i] "\t" sum[order[i]] }
	' "$1")
}

# expect_maps DESC KEY=VALUE...: each BT[KEY] must equal VALUE (0: absent
# or 0), and no other key of the same maps may appear.
expect_maps() {
	local desc=$1 kv k want got bad='' maps='' m
	shift
	for kv in "$@"; do
		k=${kv%=*} want=${kv##*=}
		got=${BT[$k]:-0}
		[ "$got" = "$want" ] || bad="$bad; $k: want $want, got $got"
		m=${k%%[[ ]*}
		case " $maps " in *" $m "*) ;; *) maps="$maps $m" ;; esac
	done
	for k in "${!BT[@]}"; do
		m=${k%%[[ ]*}
		case " $maps " in *" $m "*) ;; *) continue ;; esac
		[[ $k == *" ["* ]] && continue	# a bucket
		for kv in "$@"; do
			[ "${kv%=*}" = "$k" ] && continue 2
		done
		bad="$bad; unexpected $k=${BT[$k]}"
	done
	if [ -z "$bad" ]; then
		tap_ok "$desc"
	else
		tap_not_ok "$desc" "${bad#; }"
	fi
}

# --- the workloads ---------------------------------------------------------

WL_ERR=''
must() {
	kc "$@" || WL_ERR="$WL_ERR; $* -> $KC_OUT"
}

must_fail() {
	local want=$1
	shift
	kc "$@"
	[ "$KC_RC" = "$want" ] || WL_ERR="$WL_ERR; $* -> $KC_OUT (want errno $want)"
}

# The mixed workload, with the per-CPU overlay off: on each backend 3
# allocations (4K, 12K, 1M at a 2M alignment) and their 3 frees, all on
# the global path; then on maple 4 failed allocations (EINVAL x2, ERANGE,
# ENOMEM), one 6G allocation and its free, 2 failed frees (ENOENT).  So:
#   alloc ok:   maple 4, maple-dual 3, rbtree 3, list 3   (13)
#   alloc fail: maple 4 (EINVAL 2, ERANGE 1, ENOMEM 1)
#   free ok:    maple 4, maple-dual 3, rbtree 3, list 3   (13)
#   free fail:  maple 2 (ENOENT)
# Then, where the module has the overlay ("pcpu on|off"), on maple: the
# overlay on, 5 allocations of 8K and their frees, all on the pcpu path,
# and the overlay off again, which gives every chunk back.  The chunks
# taken and given back are counted by the stats (pcpu_refills,
# pcpu_releases): WL_REFILLS and WL_RELEASES.
WL_PCPU_N=5
workload() {
	local be a1 a2 a3 big i r0 l0
	local -a pa=()
	WL_ERR=''
	[ "$PCPU" = 1 ] && must pcpu off
	for be in maple-dual rbtree list maple; do
		must backend "$be"
		must alloc 4K
		a1=$KC_OUT
		must alloc 12K
		a2=$KC_OUT
		must alloc 1M align=2M
		a3=$KC_OUT
		must free "$a1"
		must free "$a2"
		must free "$a3"
	done
	must_fail "$EINVAL" alloc 0
	must_fail "$EINVAL" alloc 4K align=3K
	must_fail "$ERANGE" alloc 1T
	must alloc 6G
	big=$KC_OUT
	must_fail "$ENOMEM" alloc 6G
	must_fail "$ENOENT" free +4K
	must_fail "$ENOENT" free +7G
	must free "$big"
	WL_REFILLS=0 WL_RELEASES=0
	if [ "$PCPU" = 1 ]; then
		r0=$(kvs_stat pcpu_refills) l0=$(kvs_stat pcpu_releases)
		must pcpu on
		for ((i = 0; i < WL_PCPU_N; i++)); do
			must alloc 8K
			pa+=("$KC_OUT")
		done
		for a1 in "${pa[@]}"; do
			must free "$a1"
		done
		must pcpu off
		WL_REFILLS=$(($(kvs_stat pcpu_refills) - r0))
		WL_RELEASES=$(($(kvs_stat pcpu_releases) - l0))
	fi
	if [ -z "$WL_ERR" ] && [ "$(kvs_stat live_areas)" = 0 ]; then
		tap_ok "workload ran as scripted (4 backends$([ "$PCPU" = 1 ] && echo ", the overlay: $WL_REFILLS chunk(s) taken, $WL_RELEASES given back"))"
	else
		tap_not_ok "workload ran as scripted" "${WL_ERR#; }" "live $(kvs_stat live_areas)"
	fi
}

# The lazy purge, on maple: PURGE_ROUNDS rounds of 4 populated 16K areas
# allocated and freed (lazily: PTEs cleared, range and pages kept, far
# below the purge threshold), then "purge": one purge of 4 areas, 16
# pages and one contiguous 80K span (4 x (16K + a guard page)) a round.
PURGE_ROUNDS=3
purge_workload() {
	local r i x p0
	local -a pa
	WL_ERR=''
	p0=$(kvs_stat purges)
	for ((r = 0; r < PURGE_ROUNDS; r++)); do
		pa=()
		for ((i = 0; i < 4; i++)); do
			must alloc 16K populate
			pa+=("$KC_OUT")
		done
		for x in "${pa[@]}"; do
			must free "$x"
		done
		must purge
		[ "$KC_OUT" = "purged 4" ] || WL_ERR="$WL_ERR; purge -> $KC_OUT"
	done
	WL_PURGES=$(($(kvs_stat purges) - p0))
	if [ -z "$WL_ERR" ] && [ "$WL_PURGES" = "$PURGE_ROUNDS" ]; then
		tap_ok "purge workload: $PURGE_ROUNDS purges of 4 lazy areas each"
	else
		tap_not_ok "purge workload ran as scripted" "${WL_ERR#; }" "purges $WL_PURGES"
	fi
}

BENCH_LOOPS=200
BENCH_ITERS=$((BENCH_LOOPS + BENCH_LOOPS / 10))	# timed + warm-up, 1 thread
bench_small() {
	if kc bench workload=fix_size_alloc target="$1" loops=$BENCH_LOOPS reps=1 threads=1; then
		tap_ok "bench fix_size_alloc target=$1 loops=$BENCH_LOOPS ($BENCH_ITERS alloc+free each)"
	else
		tap_not_ok "bench fix_size_alloc target=$1" "$KC_OUT"
	fi
}

# --- the tracepoints -------------------------------------------------------

kvs_load
dmesg_mark
# The per-CPU overlay, where the module has it: "pcpu off" succeeds.
PCPU=0
kc pcpu off && PCPU=1
echo "# per-CPU overlay: $([ $PCPU = 1 ] && echo present || echo absent)"
bad=''
for ev in kvashim_alloc kvashim_free kvashim_purge kvashim_chunk_refill kvashim_chunk_release; do
	[ -r "$TRACEFS/events/kvashim/$ev/format" ] || bad="$bad $ev"
done
for f in addr size align backend path ret lat_ns; do
	grep -q "field:[a-z0-9 ]* $f;" "$TRACEFS/events/kvashim/kvashim_alloc/format" || bad="$bad alloc.$f"
done
if [ -z "$bad" ]; then
	tap_ok "the five kvashim events are in tracefs with their fields"
else
	tap_not_ok "the kvashim events are in tracefs" "missing:$bad"
fi

# --- bpftrace --------------------------------------------------------------

# Debian splits a kernel's headers in two packages, and /lib/modules/KVER
# has build and source links.  When only build exists (as in this VM),
# bpftrace 0.17 looks for linux/kconfig.h under build and fails; point it
# at the common half, which the build half's Makefile includes (its name
# is not derived from KVER: 6.12's rt flavour has ...-common-rt).
kver=$(uname -r)
common=$(sed -n 's|^include \(/usr/src/[^ ]*\)/Makefile$|\1|p' "/lib/modules/$kver/build/Makefile" 2>/dev/null)
if [ ! -e "/lib/modules/$kver/source" ] && [ -n "$common" ] && [ -d "$common" ] &&
   [ ! -e "/lib/modules/$kver/build/include/linux/kconfig.h" ]; then
	export BPFTRACE_KERNEL_SOURCE=$common
	export BPFTRACE_KERNEL_BUILD=/lib/modules/$kver/build
	echo "# BPFTRACE_KERNEL_SOURCE=$BPFTRACE_KERNEL_SOURCE (no source link in /lib/modules/$kver)"
fi

if ! command -v bpftrace >/dev/null; then
	tap_skip "bpftrace scripts" "bpftrace is not installed"
elif ! grep -q ' __sys_bpf$' /proc/kallsyms; then
	# make test-debug's small kernel: tracing is tested on Debian's.
	tap_skip "bpftrace scripts" "this kernel has no bpf() syscall (CONFIG_BPF_SYSCALL)"
else
	echo "# $(bpftrace --version)"

	# The pcpu keys and buckets exist only with the overlay.
	P=()
	[ "$PCPU" = 1 ] && P=("@alloc_ns[maple, pcpu]=$WL_PCPU_N" "@free_ns[maple, pcpu]=$WL_PCPU_N")
	pcpu_desc=''
	[ "$PCPU" = 1 ] && pcpu_desc=" (+$WL_PCPU_N on the pcpu path)"

	if bt_start alloclat; then
		workload
		bt_stop
		expect_maps "alloclat.bt: @alloc_ns counts the 13 allocations by backend and path$pcpu_desc, @alloc_fail_ns the 4 failures" \
			"@alloc_ns[maple, global]=4" "@alloc_ns[maple-dual, global]=3" \
			"@alloc_ns[rbtree, global]=3" "@alloc_ns[list, global]=3" \
			"@alloc_fail_ns[maple, global]=4" "${P[0]:-@alloc_ns[maple, pcpu]=0}"
	fi

	if bt_start freelat; then
		workload
		bt_stop
		expect_maps "freelat.bt: @free_ns counts the 13 frees by backend and path$pcpu_desc, @free_fail_ns the 2 failures" \
			"@free_ns[maple, global]=4" "@free_ns[maple-dual, global]=3" \
			"@free_ns[rbtree, global]=3" "@free_ns[list, global]=3" \
			"@free_fail_ns[maple, global]=2" "${P[1]:-@free_ns[maple, pcpu]=0}"
	fi

	n8=0
	[ "$PCPU" = 1 ] && n8=$WL_PCPU_N
	if bt_start sizes; then
		workload
		bt_stop
		expect_maps "sizes.bt: sizes and alignments (KiB) per backend, bucket by bucket" \
			"@size_kib[maple]=$((4 + n8))" "@size_kib[maple-dual]=3" \
			"@size_kib[rbtree]=3" "@size_kib[list]=3" \
			"@align_kib[maple]=$((4 + n8))" "@align_kib[maple-dual]=3" \
			"@align_kib[rbtree]=3" "@align_kib[list]=3" \
			"@fail_size_kib[maple]=4" \
			"@size_kib[list] [4, 8)=1" "@size_kib[list] [8, 16)=1" \
			"@size_kib[list] [1K, 2K)=1" "@size_kib[maple] [4M, 8M)=1" \
			"@size_kib[maple] [8, 16)=$((1 + n8))" \
			"@align_kib[list] [4, 8)=2" "@align_kib[list] [2K, 4K)=1" \
			"@align_kib[maple] [4, 8)=$((3 + n8))" \
			"@fail_size_kib[maple] [0]=1" "@fail_size_kib[maple] [4, 8)=1" \
			"@fail_size_kib[maple] [1G, 2G)=1" "@fail_size_kib[maple] [4M, 8M)=1"
	fi

	if bt_start fail; then
		workload
		bt_stop
		expect_maps "fail.bt: @failures by errno: alloc EINVAL 2, ERANGE 1, ENOMEM 1; free ENOENT 2" \
			"@failures[alloc, EINVAL]=2" "@failures[alloc, ERANGE]=1" \
			"@failures[alloc, ENOMEM]=1" "@failures[free, ENOENT]=2"
		n=$(grep -cE '^[0-9]+ +[^ ]+ +(alloc|free) +E[A-Z]+ +-[0-9]+ ' "$BT_OUT")
		stacks=$(grep -c '^@stacks\[' "$BT_OUT")
		if [ "$n" = 6 ] && [ "$stacks" -ge 4 ] && grep -q 'kvs_alloc' "$BT_OUT" &&
		   grep -q 'kvs_free' "$BT_OUT"; then
			tap_ok "fail.bt: one line per failure (6) and kernel stacks through kvs_alloc/kvs_free"
		else
			tap_not_ok "fail.bt: one line per failure and kernel stacks" "lines $n, stacks $stacks"
		fi
	fi

	# Allocations and frees of unpopulated areas fire no purge; the purge
	# workload fires exactly one per round.
	if bt_start purge; then
		workload
		purge_workload
		bt_stop
		expect_maps "purge.bt: @purges $PURGE_ROUNDS, each of 4 areas, 16 pages, an 80K span" \
			"@purges=$PURGE_ROUNDS" "@purge_ns=$PURGE_ROUNDS" \
			"@purge_areas=$PURGE_ROUNDS" "@purge_pages=$PURGE_ROUNDS" \
			"@purge_span_kib=$PURGE_ROUNDS" \
			"@purge_areas [4, 8)=$PURGE_ROUNDS" "@purge_pages [16, 32)=$PURGE_ROUNDS" \
			"@purge_span_kib [64, 128)=$PURGE_ROUNDS"
	fi

	# Chunks: 0 with the overlay off (or absent), else what the stats
	# counted; all given back when the overlay goes off.
	if bt_start chunks; then
		workload
		bt_stop
		expect_maps "chunks.bt: @refills_total $WL_REFILLS, @releases_total $WL_RELEASES (the stats' counts)" \
			"@refills_total=$WL_REFILLS" "@releases_total=$WL_RELEASES" \
			"@chunk_kib=$WL_REFILLS"
		if [ "$PCPU" = 1 ]; then
			if [ "$WL_REFILLS" -ge 1 ] && [ "$WL_RELEASES" = "$WL_REFILLS" ] &&
			   [ "${BT[@chunk_life_us]:-0}" = "$WL_RELEASES" ]; then
				tap_ok "chunks.bt: $WL_REFILLS chunk(s) taken and given back, each lifetime measured"
			else
				tap_not_ok "chunks.bt: chunks taken and given back" "refills $WL_REFILLS releases $WL_RELEASES lifetimes ${BT[@chunk_life_us]:-0}"
			fi
		fi
	fi

	# Both allocators through the same bench workload, each timed by a
	# kprobe pair: kvs_alloc()/kvs_free() on maple's private arena, the
	# kernel's get_vm_area()/free_vm_area().  Other users of get_vm_area()
	# may add to the kernel's side, never subtract.
	if bt_start vs-kernel; then
		bench_small maple,kernel
		bt_stop
		expect_maps "vs-kernel.bt: kvashim's side counts the bench's $BENCH_ITERS allocs and frees" \
			"@kvashim_alloc_ns=$BENCH_ITERS" "@kvashim_free_ns=$BENCH_ITERS"
		ka=${BT[@kernel_alloc_ns]:-0} kf=${BT[@kernel_free_ns]:-0}
		if [ "$ka" -ge $BENCH_ITERS ] && [ "$kf" -ge $BENCH_ITERS ]; then
			tap_ok "vs-kernel.bt: the kernel's side has counts (get_vm_area $ka, free_vm_area $kf)"
		else
			tap_not_ok "vs-kernel.bt: the kernel's side has counts" "get_vm_area $ka, free_vm_area $kf, want >= $BENCH_ITERS"
		fi
	fi
	echo "# bpftrace start-up:$BT_STARTS"
fi

# --- trace-cmd -------------------------------------------------------------

# trace_counts FILE: TC[event] = count, TCF[event] = failed, from the
# summary kvashim-trace prints last.
declare -A TC TCF
trace_counts() {
	local ev n rest
	TC=() TCF=()
	while read -r ev n rest; do
		TC[$ev]=$n
		rest=${rest#(}
		TCF[$ev]=${rest%% *}
	done < <(sed -n '/^kvashim events:$/,$p' "$1" | grep '^  kvashim_')
}

if ! command -v trace-cmd >/dev/null; then
	tap_skip "kvashim-trace (trace-cmd)" "trace-cmd is not installed"
else
	out=$TMP/trace-bench.txt
	if kvashim-trace kvashim-ctl bench workload=fix_size_alloc target=maple loops=$BENCH_LOOPS reps=1 threads=1 >"$out" 2>&1; then
		tap_ok "kvashim-trace around a bench exits 0"
	else
		tap_not_ok "kvashim-trace around a bench exits 0" "$(tail -n 20 "$out")"
	fi
	trace_counts "$out"
	if [ "${TC[kvashim_alloc]:-}" = $BENCH_ITERS ] && [ "${TC[kvashim_free]:-}" = $BENCH_ITERS ] &&
	   [ "${TCF[kvashim_alloc]:-}" = 0 ] && [ "${TC[kvashim_purge]:-}" = 0 ] &&
	   [ "${TC[kvashim_chunk_refill]:-}" = 0 ] && [ "${TC[kvashim_chunk_release]:-}" = 0 ]; then
		tap_ok "kvashim-trace counts the bench: $BENCH_ITERS kvashim_alloc, $BENCH_ITERS kvashim_free, 0 purge and chunk events"
	else
		tap_not_ok "kvashim-trace counts the bench" "$(sed -n '/^kvashim events:$/,$p' "$out")"
	fi
	# lat_ns may read 0: under TCG, on a loaded host, local_clock() can stand
	# still between two calls (see bpf/README-tracing.md).
	n=$(grep -cE 'kvashim_alloc: +addr=0x[0-9a-f]+ size=4096 align=4096 backend=maple path=global ret=0 lat_ns=[0-9]+' "$out")
	if [ "$n" = $BENCH_ITERS ]; then
		tap_ok "kvashim-trace prints every event with readable fields ($n alloc lines)"
	else
		tap_not_ok "kvashim-trace prints every event with readable fields" "$n matching lines" "$(grep -m 3 kvashim_alloc "$out")"
	fi
	sed -n '/^kvashim events:$/,$p' "$out" | sed 's/^/# /'

	# A populated bench: its arena is torn down with every area lazy (far
	# below the threshold), so the teardown purges exactly once.
	out=$TMP/trace-pop.txt
	kvashim-trace kvashim-ctl bench populate workload=fix_size_alloc target=maple loops=$BENCH_LOOPS reps=1 threads=1 >"$out" 2>&1
	rc=$?
	trace_counts "$out"
	n=$(grep -cE 'kvashim_free: +addr=0x[0-9a-f]+ size=4096 align=0 backend=maple path=lazy ret=0' "$out")
	if [ $rc = 0 ] && [ "${TC[kvashim_alloc]:-}" = $BENCH_ITERS ] && [ "${TC[kvashim_free]:-}" = $BENCH_ITERS ] &&
	   [ "${TC[kvashim_purge]:-}" = 1 ] && [ "$n" = $BENCH_ITERS ] &&
	   grep -qE "kvashim_purge: +start=0x[0-9a-f]+ end=0x[0-9a-f]+ areas=$BENCH_ITERS pages=$BENCH_ITERS lat_ns=[0-9]+" "$out"; then
		tap_ok "kvashim-trace around a populated bench: $BENCH_ITERS lazy frees, 1 purge of $BENCH_ITERS areas"
	else
		tap_not_ok "kvashim-trace around a populated bench" "exit $rc, $n lazy free lines" "$(sed -n '/^kvashim events:$/,$p' "$out")" "$(grep -m 2 kvashim_purge "$out")"
	fi

	out=$TMP/trace-fail.txt
	kvashim-trace -q kvashim-ctl alloc 1T >"$out" 2>&1
	rc=$?
	trace_counts "$out"
	if [ $rc = "$ERANGE" ] && [ "${TC[kvashim_alloc]:-}" = 1 ] && [ "${TCF[kvashim_alloc]:-}" = 1 ] &&
	   [ "${TC[kvashim_free]:-}" = 0 ] && ! grep -q 'kvashim_alloc:' "$out"; then
		tap_ok "kvashim-trace -q: the command's exit status (ERANGE), 1 alloc event, 1 failed"
	else
		tap_not_ok "kvashim-trace -q around a failed alloc" "exit $rc" "$(cat "$out")"
	fi
fi

# --- switching the events under a running bench ----------------------------

# Switching an event on or off can patch code: the tracepoint's static
# branch (0 <-> 1 probes), its static call (1 <-> 2 probes: direct call or
# iterator), and, through the comm recorder (record-cmd), the sched_switch
# site in __schedule().  Each patch is text_poke_bp(): an int3, then IPIs
# to every CPU.  Under QEMU TCG with 2 vCPUs that patching crashes the
# guest now and then, whatever the event and wherever the running code is:
# an unhandled int3 in kvs_free() with the kvashim events, RCU stalls in
# text_poke_bp_batch(), a hang with kmem:kmem_cache_alloc switched the
# same way, and on 7.3 a trap one byte into a patched jump in __schedule()
# on the idle CPU with the bench pinned to the other one.  So by default
# two tracefs instances hold the kvashim events on for the whole bench
# (their records off), and the loop switches the top-level instance's
# events: each switch adds or removes a third probe, so the probe array is
# replaced under the running bench (readers under RCU, the old array freed
# after a grace period) and no code is patched.  KVS_TRACE_STRESS=1
# switches the only probe instead, static branch and all, from a shell on
# any CPU, with 2 bench threads: for hardware or KVM.
T_EV=$TRACEFS/events/kvashim/enable
holders=
if [ "${KVS_TRACE_STRESS:-0}" = 1 ]; then
	threads=$(nproc)
else
	threads=1
	taskset -p -c 0 $$ >/dev/null
	read -r record_cmd <"$TRACEFS/options/record-cmd"
	echo 0 >"$TRACEFS/options/record-cmd"
	# An instance made is in $holders, held or not, so that it is removed.
	held=0
	for h in kvs-hold-a kvs-hold-b; do
		mkdir "$TRACEFS/instances/$h" || break
		holders="$holders $h"
		echo 0 >"$TRACEFS/instances/$h/options/record-cmd"
		echo 1 >"$TRACEFS/instances/$h/events/kvashim/enable" && held=$((held + 1))
	done
	[ $held = 2 ] || tap_not_ok "two tracefs instances hold the kvashim events on" "$held held"
fi
targets=maple,maple-dual
[ "$PCPU" = 1 ] && targets=maple,maple+pcpu
t0=$SECONDS
kvashim-ctl bench workload=fix_size_alloc target=$targets loops=100000 reps=2 threads="$threads" >"$TMP/bench.out" 2>&1 &
pid=$!
toggles=0
while alive "$pid"; do
	echo 1 >"$T_EV"
	nap 0.05
	echo 0 >"$T_EV"
	nap 0.05
	toggles=$((toggles + 1))
done
wait "$pid"
rc=$?
echo 0 >"$T_EV"
for h in $holders; do
	echo 0 >"$TRACEFS/instances/$h/events/kvashim/enable"
	rmdir "$TRACEFS/instances/$h"
done
[ -n "${record_cmd:-}" ] && echo "$record_cmd" >"$TRACEFS/options/record-cmd"
echo >"$TRACEFS/trace"
res=$(cat "$KVS_DIR/results")
lines=$(echo "$res" | grep -c " threads=$threads .* fails=0 ")
if [ $rc = 0 ] && [ "$lines" = 2 ] && [ $toggles -ge 3 ]; then
	how="probes attached and detached"
	[ -z "$holders" ] && how="events switched on and off"
	tap_ok "$how $toggles times during a $threads-thread bench of $targets ($((SECONDS - t0)) s): it completes, no failures"
else
	tap_not_ok "events switched on and off during a bench" "exit $rc, toggles $toggles" "$(cat "$TMP/bench.out")" "$res"
fi
splat=$(dmesg_since | grep -E 'BUG:|WARNING:|Oops|Call Trace' || true)
if [ -z "$splat" ]; then
	tap_ok "no splat in the kernel log"
else
	tap_not_ok "no splat in the kernel log" "$splat"
fi

rm -rf "$TMP"
kvs_unload
