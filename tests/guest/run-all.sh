#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-all.sh: run the in-guest test cases (tests/guest/cases/*.sh, lexical order) and
# print one TAP stream. Runs inside the VM (tests/vm/run.sh -- tests/guest/run-all.sh);
# runs on any machine where the cases themselves may run, as root.
#
# Each case prints its own TAP lines (ok N - desc / not ok N - desc / # comments) through
# tests/guest/lib.sh. A case that exits non-zero or overruns its time limit gets an
# extra `not ok` line from here, so a crash or a hang is never silent; the next case
# runs regardless.
set -euo pipefail
shopt -s inherit_errexit

usage() {
	cat <<EOF
usage: ${0##*/} [-h]

Run the guest test cases and print TAP (version 13, plan at the end).
environment:
  KVS_CASES          cases to run: space-separated names or globs, matched against
                     the file names in tests/guest/cases/ (".sh" may be left out),
                     e.g. KVS_CASES="10-load 3*"; default: all
  KVS_CASE_TIMEOUT   seconds one case may run (default 600; a case may ask for
                     more with a header line "# kvs-timeout: SECONDS")
exit status: 0 if no test failed, 1 otherwise.
EOF
}

CASES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cases
CASE_TIMEOUT=${KVS_CASE_TIMEOUT:-600}

# Totals over the whole stream, updated by emit.
n_tests=0
n_failed=0
n_skipped=0

# Does case file name NAME match one of the KVS_CASES patterns?
selected() {
	local name=$1 pat
	[[ -z ${KVS_CASES:-} ]] && return 0
	for pat in $KVS_CASES; do
		pat=${pat##*/}
		# shellcheck disable=SC2053 # glob match on purpose
		[[ $name == $pat || $name == $pat.sh ]] && return 0
	done
	return 1
}

# Patterns in KVS_CASES that match no case: a typo must not pass as "nothing failed".
unmatched_patterns() {
	local pat name hit
	for pat in ${KVS_CASES:-}; do
		hit=0
		for name in "$@"; do
			# shellcheck disable=SC2053 # glob match on purpose
			[[ $name == ${pat##*/} || $name == ${pat##*/}.sh ]] && hit=1 && break
		done
		((hit)) || printf '%s\n' "$pat"
	done
}

# Print one line of the stream. A top-level result line (indented ones belong to
# subtests) is counted and renumbered: the stream is numbered 1, 2, ... by this script,
# whatever each case printed, so the lines added here never collide with a case's own.
emit() {
	local line=$1
	if [[ ! $line =~ ^(not\ )?ok([[:space:]]+[0-9]+)?(.*)$ ]]; then
		printf '%s\n' "$line"
		return 0
	fi
	n_tests=$((n_tests + 1))
	local rest=${BASH_REMATCH[3]}
	line="${BASH_REMATCH[1]}ok $n_tests$rest"
	printf '%s\n' "$line"
	shopt -s nocasematch
	if [[ $rest =~ \#[[:space:]]*(SKIP|TODO) ]]; then
		n_skipped=$((n_skipped + 1))
	elif [[ $line == not\ * ]]; then
		n_failed=$((n_failed + 1))
	fi
	shopt -u nocasematch
}

# Our own result line.
result_line() {
	emit "$1 - $2"
}

# Copy a case's output through, counting its result lines.
tap_filter() {
	local line
	while IFS= read -r line || [[ -n $line ]]; do
		emit "$line"
	done
}

# case_timeout FILE: CASE_TIMEOUT, or the case's own longer limit, from a
# line "# kvs-timeout: SECONDS" in its header (DKMS builds in the guest).
case_timeout() {
	local own
	own=$(sed -n 's/^# kvs-timeout: \([0-9][0-9]*\)$/\1/p' "$1" | head -n 1)
	if [[ -n $own ]] && ((own > CASE_TIMEOUT)); then
		echo "$own"
	else
		echo "$CASE_TIMEOUT"
	fi
}

run_case() {
	local file=$1 name=${1##*/} rcfile t0 rc limit
	rcfile=$(mktemp)
	t0=$SECONDS
	limit=$(case_timeout "$file")
	echo "# case $name"
	# The case's status travels through a file: the pipe's reader is this shell.
	{
		rc=0
		timeout --kill-after=10 "$limit" bash "$file" </dev/null 2>&1 || rc=$?
		echo "$rc" >"$rcfile"
	} | tap_filter
	rc=$(<"$rcfile")
	rm -f "$rcfile"
	echo "# case $name: exit $rc, $((SECONDS - t0)) s"
	if ((rc == 124 || rc == 137)); then
		result_line "not ok" "$name timed out after ${limit}s"
	elif ((rc != 0)); then
		result_line "not ok" "$name exited $rc"
	fi
}

main() {
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		usage
		exit 0
	fi
	shopt -s lastpipe # tap_filter must update this shell's counters
	local -a all=() cases=()
	local f pat
	if [[ -d $CASES_DIR ]]; then
		mapfile -t all < <(find "$CASES_DIR" -maxdepth 1 -name '*.sh' -type f -printf '%f\n' | LC_ALL=C sort)
	fi
	for f in "${all[@]}"; do
		selected "$f" && cases+=("$CASES_DIR/$f")
	done

	echo "TAP version 13"
	echo "# kernel $(uname -r) $(uname -m), ${#cases[@]} case file(s)"
	while IFS= read -r pat; do
		result_line "not ok" "KVS_CASES pattern '$pat' matches no case"
	done < <(unmatched_patterns "${all[@]}")
	for f in "${cases[@]}"; do
		run_case "$f"
	done

	if ((n_tests == 0)); then
		echo "1..0 # SKIP no test cases ran"
	else
		echo "1..$n_tests"
	fi
	echo "# Totals: pass:$((n_tests - n_failed - n_skipped)) fail:$n_failed skip:$n_skipped"
	((n_failed == 0))
}

main "$@"
