#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# soak.sh [SECONDS]: random operations on the live arena from one writer per
# CPU, with "check" every second, for SECONDS (default KVS_SOAK_SECONDS or
# 600). The operations: allocations (some page-backed, some aligned, at the
# top or in a window), frees, finds, touches of page-backed areas, purges;
# 1% of the module's own allocations fail at every site (fault injection),
# the lazy threshold is small so that purges run all the time, and the
# usage files are read while the writers run. The time is split into eight
# segments: each backend with the per-CPU overlay off, then on. Prints a
# summary (operations, failures by errno, faults injected, purges, slowest
# round trip, checks) and exits non-zero if a check failed, a result was
# unexpected or the kernel log is not clean. Run in the guest by
# tests/soak.sh (`make soak`).
set -u
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/lib.sh"

total=${1:-${KVS_SOAK_SECONDS:-600}}
seed=${KVS_SOAK_SEED:-$$}
seg=$((total / 8))
((seg >= 2)) || seg=2
ncpu=$(nproc)
work=/tmp/kvs-soak
rm -rf "$work"
mkdir -p "$work"
echo "# soak: ${total}s in 8 segments of ${seg}s, $ncpu writers, seed $seed"

# writer TAG N SECONDS: random alloc/free/find; writes its operation count,
# errno counts, slowest round trip and unexpected results to $work/w.TAG-N.
writer() {
	local id=$1-$2 until=$((SECONDS + $3)) fd out t0 dt max=0 ops=0 bad=0 e
	local -a held=()
	local -A errs=()
	RANDOM=$((seed + segno * 131 + $2 * 7919))
	exec {fd}<>"$KVS_DIR/control"
	while ((SECONDS < until)); do
		local r=$((RANDOM % 100)) cmd h
		if ((r < 45 || ${#held[@]} == 0)); then
			cmd="alloc $((RANDOM % 64 + 1))K"
			((RANDOM % 4 == 0)) && cmd+=" align=$((4 << (RANDOM % 10)))K"
			((RANDOM % 5 == 0)) && cmd+=" top"
			((RANDOM % 6 == 0)) && cmd+=" vstart=+$((RANDOM % 512))M vend=+$((512 + RANDOM % 512))M"
			((RANDOM % 5 == 0)) && cmd+=" populate"
		elif ((r < 88)); then
			local i=$((RANDOM % ${#held[@]}))
			cmd="free ${held[$i]% *}"
			held[i]=${held[-1]}
			unset 'held[-1]'
		elif ((r < 94)); then
			# touch a page-backed area of ours, else look one up
			h=${held[$((RANDOM % ${#held[@]}))]}
			if [[ $h == *" populate" ]]; then
				cmd="touch ${h% *}"
			else
				cmd="find ${h% *}"
			fi
		elif ((r < 99)); then
			cmd="find +$((RANDOM % 1024))M"
		else
			cmd=purge
		fi
		t0=${EPOCHREALTIME/./}
		printf '%s\n' "$cmd" 1>&"$fd" 2>/dev/null
		IFS= read -r out <&"$fd"
		dt=$((${EPOCHREALTIME/./} - t0))
		((dt > max)) && max=$dt
		ops=$((ops + 1))
		case $out in
		"error: "*)
			e=${out#error: }
			e=${e%%:*}
			errs[$e]=$((${errs[$e]:-0} + 1))
			# Expected: ENOMEM (full), ENOENT (find of a hole), ERANGE
			# (an aligned area larger than its window).
			case $e in ENOMEM | ENOENT | ERANGE) ;; *) bad=$((bad + 1)); echo "# $cmd: $out" ;; esac
			;;
		0x*)
			if [[ $cmd == *" populate" ]]; then
				held+=("$out populate")
			elif [[ $cmd == alloc* ]]; then
				held+=("$out")
			fi
			;;
		esac
	done
	exec {fd}>&-
	{
		echo "ops $ops"
		echo "max_us $max"
		echo "bad $bad"
		for e in "${!errs[@]}"; do echo "err_$e ${errs[$e]}"; done
	} >"$work/w.$id"
}

# arm_faults BACKEND PCPU: fail 1% of the allocations at every site the
# segment reaches (seeded: a failing soak replays with KVS_SOAK_SEED).
arm_faults() {
	local site
	case $1 in
	maple | maple-rfc | maple-dual) site=maple ;;
	rbtree) site=rbnode ;;
	list) site= ;;
	esac
	[ "$2" = on ] && site+=" chunk"
	for site in area page pte $site; do
		kc inject "$site" percent=1 seed=$((seed + segno)) ||
			{ echo "# inject $site: $KC_OUT"; check_fail=$((check_fail + 1)); }
	done
}

# faults_injected: the failures injected at all sites since the load.
faults_injected() {
	sed -n 's/.* total_hits=\([0-9]*\).*/\1/p' "$KVS_DIR/inject" |
		awk '{ n += $1 } END { print n + 0 }'
}

# soak_check WHERE: one check while faults are injected.  ENOMEM is not a
# violation: maple-dual could not rebuild its stale free tree (a legal
# state) for want of memory, after checking its occupied tree clean.
soak_check() {
	checks=$((checks + 1))
	kc check && return
	if [ "$KC_RC" = "$ENOMEM" ]; then
		check_nomem=$((check_nomem + 1))
	else
		check_fail=$((check_fail + 1))
		echo "# check ($1): $KC_OUT"
	fi
}

checks=0 check_fail=0 check_nomem=0 segno=0
dmesg_mark
kvs_load arena_size=1G pcpu=1 chunk_size=16M || exit 1
# A small lazy threshold, so that purges run from the work item and from
# the allocating writers many times a second.
echo 256 >/sys/module/kvashim/parameters/lazy_max_pages
kc pcpu off
for pcpu in off on; do
	kc pcpu "$pcpu"
	for be in $KVS_BACKENDS; do
		segno=$((segno + 1))
		kc backend "$be" || { echo "# backend $be: $KC_OUT"; check_fail=$((check_fail + 1)); }
		arm_faults "$be" "$pcpu"
		pids=()
		for id in $(seq "$ncpu"); do
			writer "$be-$pcpu" "$id" "$seg" &
			pids+=($!)
		done
		end=$((SECONDS + seg))
		while ((SECONDS < end)); do
			sleep 1
			soak_check "$be, pcpu $pcpu"
			# usage walks and listings race the writers and the purges
			cat "$KVS_DIR/arena" "$KVS_DIR/areas" "$KVS_DIR/stats" >/dev/null
		done
		wait "${pids[@]}"
		kc inject off
		kc free all >/dev/null
		checks=$((checks + 1))
		# Faults are off now: this check must pass whole.
		kc check || { check_fail=$((check_fail + 1)); echo "# check after free all: $KC_OUT"; }
		echo "# segment $be pcpu $pcpu: $(cat "$work/w.$be-$pcpu-"* | awk '$1 == "ops" { n += $2 } END { print n }') ops"
	done
done
faults=$(faults_injected)
purges=$(kvs_stat purges)
kvs_unload
cat "$work"/w.* | awk -v checks="$checks" -v cf="$check_fail" -v faults="$faults" -v purges="$purges" -v nomem="$check_nomem" '
	$1 == "ops" { ops += $2; next }
	$1 == "max_us" { if ($2 > max) max = $2; next }
	$1 == "bad" { bad += $2; next }
	{ err[$1] += $2 }
	END {
		printf "soak: %d ops, %d checks (%d failed, %d cut short by an injected ENOMEM), %d unexpected results, slowest round trip %d us\n", ops, checks, cf, nomem, bad, max
		printf "soak: %d faults injected, %d purges\n", faults, purges
		printf "soak: failures by errno:"
		for (e in err) printf " %s=%d", substr(e, 5), err[e]
		printf "\n"
		exit (cf || bad) ? 1 : 0
	}'
rc=$?
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK" | grep -v 'unloaded with')
if [ -n "$log" ]; then
	echo "soak: kernel log:"
	echo "$log"
	rc=1
else
	echo "soak: kernel log clean"
fi
exit "$rc"
