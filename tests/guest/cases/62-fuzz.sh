#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A small seeded fuzzer: random writes into the control file for a fixed
# time budget (KVS_FUZZ_SECONDS, default 20), half of them mutated commands
# of the grammar, half random bytes.  Every write must give a result line
# (OK or "error: ENAME: reason"); afterwards the index checks clean, the
# counters and the areas file agree, and the kernel log is quiet.  The seed
# is printed; KVS_FUZZ_SEED=N replays a run (same writes, in order).
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

seed=${KVS_FUZZ_SEED:-$(( $(date +%s) % 32768 ))}
budget=${KVS_FUZZ_SECONDS:-20}
echo "# fuzz seed $seed, budget ${budget}s (KVS_FUZZ_SEED=$seed replays it)"
RANDOM=$seed

# Words of the grammar; bench and selftest are left out (they run long on
# purpose), and so is "inject" with a mode (its effect is tested elsewhere).
words=(alloc free find check reset backend pcpu inject off all top maple
       maple-dual maple-rfc rbtree list on 4K 1 0 -1 12K 2M 1G 1T 0x1000 +0 +4K +1M
       +255M +256M +1T align=4K align=3 align=2M align=0 vstart=+0 vend=+1M
       vstart=+1M vend=+0 18446744073709551615 99999999999999999999999
       K '=' '==' 0x '' $'\t')
# bytes N: append N random bytes, as \xNN escapes, to P (no subshell: a
# fork costs milliseconds under TCG).
bytes() {
	local i b
	for ((i = 0; i < $1; i++)); do
		printf -v b '\\x%02x' $((RANDOM % 256))
		P+=$b
	done
}
# gen: a new payload in P (a printf format).
gen() {
	local n i w
	P=''
	if ((RANDOM % 2)); then
		n=$((RANDOM % 5 + 1))
		for ((i = 0; i < n; i++)); do
			w=${words[RANDOM % ${#words[@]}]}
			P+=${w//%/%%}
			((RANDOM % 8 == 0)) && bytes 1
			P+=' '
		done
		((RANDOM % 4 == 0)) && bytes $((RANDOM % 4))
		P+='\n'
	else
		bytes $((RANDOM % 40 + 1))
	fi
}

kvs_load arena_size=256M pcpu=1 chunk_size=4M
dmesg_mark
ctl_open
ops=0 noreply=0 ok=0
declare -A errs=()
end=$((SECONDS + budget))
while ((SECONDS < end)); do
	gen
	# One write: bash flushes at a newline, and gen puts one only at the
	# end; a random \x0a inside becomes a second write, itself a command.
	# shellcheck disable=SC2059 # the payload is a format on purpose
	printf -- "$P" 1>&"$KVS_FD" 2>/dev/null
	if IFS= read -r -t 5 out <&"$KVS_FD" && [ -n "$out" ]; then
		case $out in
		"error: "*)
			e=${out#error: }
			e=${e%%:*}
			errs[$e]=$((${errs[$e]:-0} + 1)) ;;
		*) ok=$((ok + 1)) ;;
		esac
	else
		noreply=$((noreply + 1))
		echo "# no result line after: $P"
	fi
	ops=$((ops + 1))
done
summary="$ops writes: $ok OK"
for e in "${!errs[@]}"; do
	summary+=", ${errs[$e]} $e"
done
echo "# fuzz: $summary"
if ((ops > 50 && noreply == 0)); then
	tap_ok "seed $seed: $summary, each with a result line"
else
	tap_not_ok "seed $seed: every write gives a result line" "$summary; $noreply without"
fi
kc inject off
check_ok "seed $seed: after the fuzz"
live=$(kvs_stat live_areas)
listed=$(wc -l <"$KVS_DIR/areas")
if [ "$live" = "$listed" ]; then
	tap_ok "seed $seed: stats and areas agree ($live live)"
else
	tap_not_ok "seed $seed: stats and areas agree" "live $live, listed $listed"
fi
ctl free all >/dev/null
check_ok "seed $seed: after free all"
log=$(dmesg_since | grep -i -E 'kvashim|BUG|WARNING|Call Trace' | grep -v -E "$KVS_LOG_OK")
log_quiet "seed $seed: the kernel log stayed quiet" "$log"
kvs_unload
