#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A seeded concurrency fuzzer.  Each round races one pair of commands that
# touch the same areas, from two or three processes, each with a
# descriptor of its own on the control file, pinned round-robin to the
# CPUs (taskset), for a bounded time:
#
#   free-free            free/free of the same addresses (unpopulated)
#   free-free-populated  alloc populate/free/purge, lazy_max_pages=1,
#                        against re-frees of the same addresses (a double
#                        free racing the purge)
#   free-purge           frees of populated areas against purges
#   freeall-free         free all against frees of populated areas
#   touch-free           touch against free
#   reset-alloc          reset against alloc populate
#   backend-alloc        backend NAME against allocs and frees
#   pcpu-alloc           pcpu on|off against allocs and frees
#   lazymax-free         writes of 0, 1, 2 to the lazy_max_pages parameter
#                        against frees of populated areas
#   inject-alloc         inject SITE percent=P seed=S / inject off against
#                        allocs, frees, purges, free all and pcpu on|off
#
# Every result must be a success or ENOENT, EBUSY, ENOMEM (touch: also
# EINVAL).  After each round, with nothing in flight: check passes, the
# stats' area_objects equal live_areas + lazy_areas, free all and a purge
# leave nothing (no live, lazy or chunk area, no tracking object, the arena
# one hole), and the kernel log has no splat.
#
# Then two scenarios with a fault site armed:
#   chunk-release  a chunk whose release fails (maple or rbnode every=1,
#                  at free all or pcpu off); then pcpu off, check, and a free
#                  of the chunk's base must give clean results, check ok
#   teardown       a site armed at percent=50 (maple, rbnode, area, chunk)
#                  through selftest, bench, reset, backend switches, then
#                  rmmod and insmod; no splat, and area_objects back at 0
#                  after a reset with the site disarmed
#
# Knobs: KVS_RACE_SEED (default random; printed): the seed of every
# command the workers send (which command, sizes, addresses, sites); the
# interleaving is the scheduler's, so a replay repeats the commands, not
# the timing.  Round N's seed is KVS_RACE_SEED * 100 + N.  KVS_RACE_SECS
# (default 60): racing time, shared by the rounds run.  KVS_RACE_PAIRS:
# the rounds and scenarios to run (names as above; default all).  From the
# host: tests/run-tests.sh -- --env KVS_RACE_SEED=N --env KVS_RACE_PAIRS=...
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

SEED=${KVS_RACE_SEED:-$(( ${SRANDOM:-$$} % 100000 ))}
SECS=${KVS_RACE_SECS:-60}
ONLY=${KVS_RACE_PAIRS:-}
PARAM=/sys/module/kvashim/parameters/lazy_max_pages
RDIR=/tmp/kvs-race
NCPU=$(nproc)
TASKSET=
command -v taskset >/dev/null && TASKSET=1
ARENA=$((256 << 20))
# A kernel splat; "chunk ... kept" (a release that could not unlink) is
# the module's own notice, not one.
SPLAT='WARNING|BUG|Oops|general protection|corruption|Call Trace|UBSAN|refcount_t|Wrong slab cache|still has objects|soft lockup|hung task|rcu_.*stall'

read -ra BACKENDS <<<"$KVS_BACKENDS"
SIZES=(4K 8K 16K 64K)
PSIZES=(16K 64K)
LAZY=(1 0 1 2)
SITES=(area maple rbnode chunk page pte)
OKS="0 $ENOENT $EBUSY $ENOMEM"

# name|pcpu (0, 1, s: from the seed)|lazy_max_pages|role|role[|role]
# A role is a list of commands a worker runs in turn (see race_op).
PAIRS=(
	'free-free|s|0|alloc free|refree'
	'free-free-populated|s|1|allocp free purge|refree|refree'
	'free-purge|s|1|allocp allocp free free|purge refree'
	'freeall-free|s|1|allocp free|freeall|alloc free'
	'touch-free|s|0|allocp touch free|touch refree'
	'reset-alloc|s|1|allocp allocp free|reset|alloc free'
	'backend-alloc|s|0|alloc free allocp free|backend freeall backend'
	'pcpu-alloc|1|0|alloc alloc free free|pcpu freeall pcpu|alloc refree'
	'lazymax-free|s|1|allocp free|lazy purge|allocp allocp free free'
	'inject-alloc|1|0|alloc allocp free free purge|inject check|freeall pcpu refree'
)

selected() {
	[ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]
}

# === Workers (each in a subshell of its own) ===

# rk ALLOWED CMD...: one command on the worker's descriptor, tallied by
# result; a result outside ALLOWED (errnos, 0 for success) is bad.
rk() {
	local allowed=" $1 " e
	shift
	kc "$@"
	total=$((total + 1))
	if [ "$KC_RC" = 0 ]; then
		e=ok
	else
		e=${KC_OUT#error: }
		e=${e%%:*}
	fi
	tally[$e]=$((${tally[$e]:-0} + 1))
	if [[ $allowed != *" $KC_RC "* ]]; then
		bad=$((bad + 1))
		((bad > 5)) || printf '%s: %s -> %s\n' "$w" "$*" "$KC_OUT" >>"$RDIR/bad.$w"
	fi
	return "$KC_RC"
}

# race_op OP: one step of a role.  Addresses are shared through one slot
# file per worker, holding its newest area.
race_op() {
	local a v
	case $1 in
	alloc | allocp)
		((${#mine[@]} < 24)) || race_op free
		if [ "$1" = alloc ]; then
			rk "$OKS" alloc "${SIZES[RANDOM % ${#SIZES[@]}]}" || return 0
		else
			rk "$OKS" alloc "${PSIZES[RANDOM % ${#PSIZES[@]}]}" populate || return 0
		fi
		mine+=("$KC_OUT")
		printf '%s\n' "$KC_OUT" >"$RDIR/slot.$w" ;;
	free)
		((${#mine[@]})) || return 0
		a=${mine[-1]}
		unset 'mine[-1]'
		last=$a
		rk "$OKS" free "$a" && return 0
		# Still live (being touched, or no memory): keep it.
		[ "$KC_RC" = "$ENOENT" ] || mine=("$a" "${mine[@]}") ;;
	refree)
		# Another worker's newest area, or this one's last freed.
		if ((RANDOM % 4 == 0)) && [ -n "$last" ]; then
			a=$last
		else
			read -r a <"$RDIR/slot.$((RANDOM % nw))" || a=
		fi
		[ -z "$a" ] || rk "$OKS" free "$a" ;;
	touch)
		read -r a <"$RDIR/slot.$((RANDOM % nw))" || a=
		[ -z "$a" ] || rk "$OKS $EINVAL" touch "$a" ;;
	freeall) rk "$OKS" free all ;;
	purge) rk "$OKS" purge ;;
	reset) rk "$OKS" reset ;;
	check) rk "0 $ENOMEM" check ;;
	backend) rk "$OKS" backend "${BACKENDS[RANDOM % ${#BACKENDS[@]}]}" ;;
	pcpu)
		if ((RANDOM % 2)); then rk "$OKS" pcpu on; else rk "$OKS" pcpu off; fi ;;
	lazy)
		v=${LAZY[RANDOM % ${#LAZY[@]}]}
		total=$((total + 1))
		tally[lazy_max_pages]=$((${tally[lazy_max_pages]:-0} + 1))
		if ! printf '%s\n' "$v" 2>/dev/null >"$PARAM"; then
			bad=$((bad + 1))
			echo "$w: lazy_max_pages=$v refused" >>"$RDIR/bad.$w"
		fi ;;
	inject)
		if ((armed)); then
			rk 0 inject off
			armed=0
		else
			rk 0 inject "${SITES[RANDOM % ${#SITES[@]}]}" \
				percent=$((RANDOM % 5 * 10 + 10)) seed=$RANDOM
			armed=1
		fi ;;
	*) echo "$w: unknown step $1" >>"$RDIR/bad.$w"; bad=$((bad + 1)) ;;
	esac
	return 0
}

# worker W ROLE END NW SEED: ROLE's steps in turn (one in eight skipped,
# by the seed) until END (epoch seconds); tallies to $RDIR/sum.W.
worker() {
	local w=$1 end=$3 nw=$4 op k s='' last='' total=0 bad=0 armed=0
	local -a ops mine=()
	local -A tally=()
	read -ra ops <<<"$2"
	RANDOM=$(($5 * 16 + w))
	[ -z "$TASKSET" ] || taskset -p -c $((w % NCPU)) "$BASHPID" >/dev/null 2>&1
	# The parent's descriptor is shared with it: take one of our own.
	ctl_close
	ctl_open
	while ((EPOCHSECONDS < end)); do
		for op in "${ops[@]}"; do
			((RANDOM % 8)) || continue
			race_op "$op"
		done
	done
	ctl_close
	for k in "${!tally[@]}"; do
		s+=" $k ${tally[$k]}"
	done
	echo "$total $bad$s" >"$RDIR/sum.$w"
}

# === Checks shared by the rounds and scenarios ===

# settled DESC: with nothing in flight and no site armed, check passes and
# the tracking objects are the live plus the lazy areas.
settled() {
	local want
	if kc check; then
		tap_ok "$1: check ($KC_OUT)"
	else
		tap_not_ok "$1: check" "$KC_OUT"
	fi
	stats
	want=$((S[live_areas] + S[lazy_areas]))
	if objects_settle "$want"; then
		tap_ok "$1: area_objects ${S[area_objects]} = live_areas ${S[live_areas]} + lazy_areas ${S[lazy_areas]}"
	else
		tap_not_ok "$1: area_objects = live_areas + lazy_areas" \
			"area_objects ${S[area_objects]}, live_areas ${S[live_areas]}, lazy_areas ${S[lazy_areas]}"
	fi
}

# drained DESC: free all and a purge leave nothing behind.
drained() {
	local why=''
	kc free all
	kc purge
	objects_settle 0 || why+=" area_objects ${S[area_objects]}"
	[ "${S[live_areas]}" = 0 ] || why+=" live_areas ${S[live_areas]}"
	[ "${S[lazy_areas]}" = 0 ] || why+=" lazy_areas ${S[lazy_areas]}"
	[ "${S[pcpu_chunks_live]}" = 0 ] || why+=" pcpu_chunks_live ${S[pcpu_chunks_live]}"
	[ "${S[largest_free_hole]}" = "$ARENA" ] ||
		why+=" largest_free_hole ${S[largest_free_hole]} of $ARENA"
	kc check || why+=" check: $KC_OUT"
	if [ -z "$why" ]; then
		tap_ok "$1: free all and purge leave nothing"
	else
		tap_not_ok "$1: free all and purge leave nothing" "$why"
	fi
}

# quiet DESC: no kernel splat since the last dmesg_mark.
quiet() {
	log_quiet "$1: no kernel splat" "$(dmesg_since | grep -E "$SPLAT")"
}

# === Rounds ===

# round N SPEC BUDGET
round() {
	local idx=$1 budget=$3 rs be pc lz name nw w end limit pid hung='' \
		t b rest total=0 bad=0 counts='' diag=()
	local -a f roles pids=()
	local t0=$SECONDS
	IFS='|' read -ra f <<<"$2"
	name=${f[0]} pc=${f[1]} lz=${f[2]}
	roles=("${f[@]:3}")
	nw=${#roles[@]}
	rs=$((SEED * 100 + idx))
	RANDOM=$rs
	be=${BACKENDS[RANDOM % ${#BACKENDS[@]}]}
	[ "$pc" != s ] || pc=$((RANDOM % 2))
	local desc="round $idx $name seed $rs ($be, pcpu $pc, lazy_max_pages $lz)"
	echo "# $desc: ${budget}s; replay: KVS_RACE_SEED=$SEED KVS_RACE_PAIRS=$name"
	for ((w = 0; w < nw; w++)); do
		echo "#   worker $w (cpu $((w % NCPU))): ${roles[w]}"
	done
	if ! kvs_load arena_size=256M chunk_size=4M backend="$be" pcpu="$pc" \
			lazy_max_pages="$lz"; then
		tap_not_ok "$desc: load"
		return
	fi
	rm -rf "$RDIR"
	mkdir -p "$RDIR"
	for ((w = 0; w < nw; w++)); do
		: >"$RDIR/slot.$w"
	done
	dmesg_mark
	end=$((EPOCHSECONDS + budget))
	for ((w = 0; w < nw; w++)); do
		worker "$w" "${roles[w]}" "$end" "$nw" "$rs" &
		pids+=($!)
	done
	# A command stuck in the kernel must not hang the case.
	limit=$((end + 120))
	for pid in "${pids[@]}"; do
		while kill -0 "$pid" 2>/dev/null && ((EPOCHSECONDS < limit)); do
			nap 0.25
		done
		if kill -0 "$pid" 2>/dev/null; then
			hung+=" $pid"
		else
			wait "$pid"
		fi
	done
	if [ -n "$hung" ]; then
		for pid in $hung; do
			diag+=("worker $pid stuck in:" "$(cat "/proc/$pid/stack" 2>/dev/null)")
		done
		tap_not_ok "$desc: every worker finished" "${diag[@]}"
		exit 1
	fi
	for ((w = 0; w < nw; w++)); do
		if read -r t b rest <"$RDIR/sum.$w"; then
			total=$((total + t))
			bad=$((bad + b))
			counts+=" [w$w:$rest]"
		else
			bad=$((bad + 1))
			diag+=("worker $w left no tally")
		fi
		[ ! -s "$RDIR/bad.$w" ] || diag+=("$(cat "$RDIR/bad.$w")")
	done
	if ((bad == 0 && total > 0)); then
		tap_ok "$desc: $total commands from $nw descriptors, each result expected:$counts"
	else
		tap_not_ok "$desc: $total commands from $nw descriptors, each result expected" \
			"$bad unexpected:$counts" "${diag[@]}"
	fi
	kc inject off
	settled "round $idx $name"
	drained "round $idx $name"
	quiet "round $idx $name"
	kvs_unload
	echo "# round $idx $name: $((SECONDS - t0)) s"
}

# === chunk-release: a chunk given back while the backend cannot unlink ===

# chunk_release BACKEND SITE VIA (free all | pcpu off)
chunk_release() {
	local be=$1 site=$2 via=$3 base nb r_via r_off desc why='' t0=$SECONDS
	desc="chunk release failing ($site every=1 at $via, $be)"
	kvs_load arena_size=256M chunk_size=4M backend="$be" pcpu=1 || {
		tap_not_ok "$desc: load"
		return
	}
	dmesg_mark
	# The first eligible area opens a chunk at the arena's base; a
	# populated area right after it stays indexed (lazy) through free
	# all, so no free block touches the chunk: rbtree needs a new node
	# to give it back.
	kc alloc 4K
	base=$KC_OUT
	kc alloc 4K vstart=+4M vend=+8M populate
	nb=$KC_OUT
	if [ "$via" = "pcpu off" ]; then
		kc free "$base"
		kc free "$nb"
		kc inject "$site" every=1
		kc pcpu off
	else
		kc inject "$site" every=1
		kc free all
	fi
	r_via=$KC_OUT
	inj_hits "$site"
	kc inject off
	kc pcpu off
	r_off=$KC_OUT
	kc check || why+=" check: $KC_OUT"
	kc free "$base"
	case $KC_RC in
	"$ENOENT" | "$EBUSY" | "$ENOMEM" | "$EINVAL") ;;
	*) why+=" free of the chunk's base $base: $KC_OUT" ;;
	esac
	if [ -z "$why" ]; then
		tap_ok "$desc: $via ($r_via), $H faults, pcpu off ($r_off), check ok, free of the base: $KC_OUT"
	else
		tap_not_ok "$desc: pcpu off, check and a free of the chunk's base are clean" \
			"$via: $r_via; pcpu off: $r_off;$why"
	fi
	drained "$desc"
	quiet "$desc"
	kvs_unload
	echo "# $desc: $((SECONDS - t0)) s"
}

# === teardown: a site armed through selftest, bench, reset, backend
# switches, rmmod and insmod ===

# some_areas: chunk areas, a top-down area, populated areas, one lazy.
some_areas() {
	local p
	kc alloc 4K
	kc alloc 8K
	kc alloc 8K top
	kc alloc 16K populate
	kc alloc 16K populate
	p=$KC_OUT
	kc free "$p"
}

# teardown SITE BACKEND
teardown() {
	local site=$1 be=$2 ts=$((SEED % 10000 + 1)) desc out=() bad='' r t0=$SECONDS
	desc="$site percent=50 armed ($be, pcpu on)"
	kvs_load arena_size=256M chunk_size=4M backend="$be" pcpu=1 || {
		tap_not_ok "$desc: load"
		return
	}
	dmesg_mark
	some_areas
	kc inject "$site" percent=50 seed="$ts"
	for r in "selftest ops=2000 seed=$ts" \
		 "bench workload=fix_size_alloc loops=200 reps=1 threads=1" \
		 reset "backend rbtree" "backend maple" "backend $be"; do
		# shellcheck disable=SC2086 # the command's words
		kc $r
		out+=("$r: $KC_OUT")
		# Any errno the control file names is clean; EIO is not.
		[ "$KC_RC" != 5 ] || bad+=" $r"
	done
	inj_hits "$site"
	kc inject off
	if [ -z "$bad" ]; then
		tap_ok "$desc: selftest, bench, reset, backend switches: $H faults, each a clean result"
	else
		tap_not_ok "$desc: selftest, bench, reset, backend switches" "unclean:$bad" "${out[@]}"
	fi
	settled "$desc"
	kc reset
	kc purge
	if objects_settle 0; then
		tap_ok "$desc: area_objects 0 after a reset"
	else
		tap_not_ok "$desc: area_objects 0 after a reset" \
			"area_objects ${S[area_objects]}, live_areas ${S[live_areas]}, lazy_areas ${S[lazy_areas]}"
	fi
	# Unload with live, populated and lazy areas and the site armed.
	some_areas
	kc inject "$site" percent=50 seed="$ts"
	if kvs_unload && kvs_load arena_size=256M; then
		tap_ok "$desc: rmmod with the site armed and areas live, insmod again"
	else
		tap_not_ok "$desc: rmmod with the site armed and areas live, insmod again"
	fi
	quiet "$desc"
	kvs_unload
	echo "# $desc: $((SECONDS - t0)) s"
}

# === Main ===

echo "# race seed $SEED, ${SECS}s of races; KVS_RACE_SEED=$SEED replays the commands, KVS_RACE_PAIRS=NAME... selects"
[ -n "$TASKSET" ] || echo "# no taskset: workers are not pinned"

n=0
for spec in "${PAIRS[@]}"; do
	selected "${spec%%|*}" && n=$((n + 1))
done
if ((n)); then
	budget=$((SECS / n))
	((budget >= 2)) || budget=2
	idx=0
	for spec in "${PAIRS[@]}"; do
		idx=$((idx + 1))
		selected "${spec%%|*}" || continue
		round "$idx" "$spec" "$budget"
	done
fi

if selected chunk-release; then
	for via in "pcpu off" "free all"; do
		chunk_release maple maple "$via"
		chunk_release maple-dual maple "$via"
		chunk_release rbtree rbnode "$via"
	done
fi

if selected teardown; then
	teardown maple maple
	teardown rbnode rbtree
	teardown area list
	teardown chunk maple-dual
fi
rm -rf "$RDIR"
kvs_unload
echo "# 64-race: $SECONDS s in all"
