#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-tests.sh: the project's test suite (`make test`). For every (kernel series, arch)
# of the matrix, boot that Debian kernel under QEMU with the freshly built module and run
# tests/guest/run-all.sh there; count the TAP results, add one check per VM ("the guest
# finished and its kernel log is clean"), print a summary table, and end with the line
# `N passed, N failed[, N skipped]`.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [-h] [--kernels "S..."] [--arches "A..."] [--matrix "S/A..."]
       [-- RUN_SH_OPTION...]

Run the guest test suite on every (kernel series, arch) of the matrix.
default matrix: $DEFAULT_MATRIX
  --kernels LIST   kernel series (env KERNELS): 6.1 (bookworm), 6.12 (trixie),
                   7.x (newest 7.x of trixie-backports), and any of them with -rt
                   (the PREEMPT_RT flavour, e.g. 6.12-rt); with --arches, runs
                   KERNELS x ARCHES instead of the default matrix
  --arches LIST    architectures (env ARCHES; default "amd64 arm64" when KERNELS
                   is given, else the default matrix's entries of these arches)
  --matrix LIST    explicit series/arch pairs (env MATRIX), e.g. "6.1/arm64 7.x/amd64"
  -- ...           further options for tests/vm/run.sh (e.g. --smp 1 --console)
Kernels of another suite than this host's build a root of their suite once (minutes).
environment:
  KVS_CASES          subset of tests/guest/cases/ (names or globs), passed to the guest
  KVS_CASE_TIMEOUT   per-case time limit in the guest, seconds (default 1800: DKMS builds
                     the module inside the guest, minutes under TCG)
  KVS_VM_TIMEOUT     time limit of one VM run, seconds (default 5400)
  KVS_DKMS=1         also run DKMS inside each guest (97-dkms: add, build,
                     install, modprobe, remove); off by default: a dkms build
                     takes 5-25 min under TCG
  KVS_DKMS_OLD=0     skip the host-side check that DKMS refuses a 5.10 kernel
  KVS_CACHE          cache of kernels, builds and run logs (default /var/cache/kvashim)
exit status: 0 if every case passed and at least one ran, 1 otherwise.
EOF
}

# What every `make test` runs (`.ci/run`: 32 min on a fresh 2-core machine, 1 Dec 2026,
# kernels and roots downloaded and built; see tests/vm/README.md).
DEFAULT_MATRIX="6.1/amd64 6.1/arm64 7.x/amd64"

kernels=${KERNELS:-}
arches=${ARCHES:-}
matrix=${MATRIX:-}
run_opts=()

# Totals and the summary table's rows.
t_pass=0
t_fail=0
t_skip=0
t_cases=0
rows=()

parse_args() {
	while (($#)); do
		case $1 in
		--kernels) kernels=${2:?}; shift ;;
		--arches) arches=${2:?}; shift ;;
		--matrix) matrix=${2:?}; shift ;;
		-h | --help) usage; exit 0 ;;
		--) shift; run_opts=("$@"); break ;;
		*) echo "$kvs_prog: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
		esac
		shift
	done
}

# Count the top-level TAP results of FILE: prints "passed failed skipped".
count_tap() {
	local file=$1 p=0 f=0 s=0 line
	if [[ -f $file ]]; then
		while IFS= read -r line || [[ -n $line ]]; do
			[[ $line =~ ^(not\ )?ok([[:space:]]|$) ]] || continue
			shopt -s nocasematch
			if [[ $line =~ \#[[:space:]]*(SKIP|TODO) ]]; then
				s=$((s + 1))
			elif [[ $line == not\ * ]]; then
				f=$((f + 1))
			else
				p=$((p + 1))
			fi
			shopt -u nocasematch
		done <"$file"
	fi
	echo "$p $f $s"
}

# Read KEY from a run's result file.
result_get() {
	[[ -f $1/result ]] || return 0
	sed -n "s/^$2=//p" "$1/result"
}

# One VM run of the suite; adds a row and updates the totals.
run_one() {
	local series=$1 arch=$2 t0=$SECONDS kver run rc=0
	echo "# ==== kernel $series, $arch ===="
	if ! kver=$("$KVS_REPO/tests/vm/fetch-kernel.sh" "$series" "$arch"); then
		add_row "$series" "$arch" 0 1 0 $((SECONDS - t0)) "-"
		echo "not ok - $series/$arch: kernel could not be fetched"
		return
	fi
	run="$KVS_CACHE/runs/$(date +%Y%m%d-%H%M%S)-$kver-$arch"
	local -a env=(--env "KVS_CASE_TIMEOUT=${KVS_CASE_TIMEOUT:-1800}")
	[[ -n ${KVS_CASES:-} ]] && env+=(--env "KVS_CASES=$KVS_CASES")
	env+=(--env "KVS_DKMS=${KVS_DKMS:-0}")
	"$KVS_REPO/tests/vm/run.sh" --series "$series" --arch "$arch" --run-dir "$run" \
		--timeout "${KVS_VM_TIMEOUT:-5400}" --follow "${env[@]}" "${run_opts[@]}" \
		-- tests/guest/run-all.sh || rc=$?

	local p f s
	read -r p f s < <(count_tap "$run/out.log")
	t_cases=$((t_cases + p + f + s))

	# The per-VM check: the guest got to the end, and the kernel said nothing bad.
	local finished clean why=
	finished=$(result_get "$run" finished)
	clean=$(result_get "$run" log_clean)
	if [[ ! -f $run/result ]]; then
		why="the VM did not start (setup failed, exit $rc)"
	elif [[ $finished != yes ]]; then
		why="the guest did not finish (timeout or panic; see $run/console.log)"
	elif [[ $clean != yes ]]; then
		why="the kernel log shows BUG/WARNING/Oops (see $run/console.log)"
	elif ((rc != 0 && f == 0)); then
		why="run-all.sh exited $rc without a failing test"
	fi
	if [[ -z $why ]]; then
		echo "ok - $series/$arch: guest finished, kernel log clean"
		p=$((p + 1))
	else
		echo "not ok - $series/$arch: $why"
		f=$((f + 1))
	fi
	add_row "$series" "$arch" "$p" "$f" "$s" $((SECONDS - t0)) "$run"
}

add_row() {
	rows+=("$(printf '%-8s %-6s %7s %7s %8s %7s  %s' "$@")")
	t_pass=$((t_pass + $3))
	t_fail=$((t_fail + $4))
	t_skip=$((t_skip + $5))
}

summary() {
	echo
	printf '%-8s %-6s %7s %7s %8s %7s  %s\n' kernel arch passed failed skipped wall_s "run dir"
	printf '%s\n' "${rows[@]}"
	if ((t_cases == 0)); then
		echo "$kvs_prog: no test case ran" >&2
	fi
	echo "total wall time: $((SECONDS / 60)) min $((SECONDS % 60)) s"
	local line="$t_pass passed, $t_fail failed"
	((t_skip > 0)) && line+=", $t_skip skipped"
	echo "$line"
}

# The (series, arch) pairs to run, one "series/arch" a line: --matrix as given; else
# KERNELS x ARCHES when KERNELS is set; else the default matrix, filtered by ARCHES.
pairs() {
	local k a p
	if [[ -n $matrix ]]; then
		# shellcheck disable=SC2086 # a word list
		printf '%s\n' $matrix
	elif [[ -n $kernels ]]; then
		for k in $kernels; do
			for a in ${arches:-amd64 arm64}; do
				echo "$k/$a"
			done
		done
	else
		for p in $DEFAULT_MATRIX; do
			[[ -z $arches || " $arches " == *" ${p#*/} "* ]] && echo "$p"
		done
	fi
	return 0
}

# Host-side: DKMS refuses a kernel without the maple tree (tests/vm/dkms-old-kernel.sh,
# against Debian's 5.10 headers). One row of the summary, "5.10 amd64".
run_dkms_old() {
	local t0=$SECONDS out p f s tap
	echo "# ==== dkms.conf against 5.10 headers (host) ===="
	out=$("$KVS_REPO/tests/vm/dkms-old-kernel.sh" 2>&1) ||
		grep -q '^not ok' <<<"$out" || out+=$'\nnot ok - dkms-old-kernel.sh failed to run'
	printf '%s\n' "$out"
	tap=$(mktemp)
	printf '%s\n' "$out" >"$tap"
	read -r p f s < <(count_tap "$tap")
	rm -f "$tap"
	t_cases=$((t_cases + p + f + s))
	add_row 5.10 amd64 "$p" "$f" "$s" $((SECONDS - t0)) "(host: dkms build -k 5.10)"
}

main() {
	parse_args "$@"
	local p
	local -a todo
	mapfile -t todo < <(pairs)
	echo "# matrix: ${todo[*]}"
	for p in "${todo[@]}"; do
		[[ -n $p ]] || continue
		[[ $p == */* ]] || die "matrix entry '$p' is not SERIES/ARCH"
		run_one "${p%/*}" "${p#*/}"
	done
	[[ ${KVS_DKMS_OLD:-1} == 0 ]] || run_dkms_old
	summary
	((t_fail == 0 && t_cases > 0))
}

main "$@"
