#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-compare.sh: two benchmark runs side by side (tests/bench.sh's CSV
# files), as a Markdown table: each result's mean per iteration in both,
# and the difference.  Made to show that two icount runs agree; works on
# wall-clock runs too (avg_ns).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog A.csv B.csv

Print, for every (workload, target, threads) in both, the mean per
iteration of A and of B (avg_insn, or avg_ns) and (B - A) / A in percent,
then the largest difference and how many results differ by more than 2%.
EOF
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
esac
(($# == 2)) || { usage >&2; exit 2; }
[[ -s $1 && -s $2 ]] || die "$1 and $2 must be CSV files of tests/bench.sh"

awk -F, '
FNR == 1 {
	delete h
	for (i = 1; i <= NF; i++) h[$i] = i
	col = ("avg_insn" in h) ? "avg_insn" : "avg_ns"
	if (FILENAME == ARGV[1]) unit = col
	next
}
$h["skipped"] == 1 || $h[col] == "" { next }
{
	k = $h["workload"] "|" $h["target"] "|" $h["threads"]
	if (FILENAME == ARGV[1]) { a[k] = $h[col]; order[++n] = k }
	else b[k] = $h[col]
}
END {
	printf "| workload | target | thr | A %s | B %s | B - A |\n", unit, unit
	print "| --- | --- | ---: | ---: | ---: | ---: |"
	for (i = 1; i <= n; i++) {
		k = order[i]
		if (!(k in b)) continue
		split(k, f, "|")
		d = a[k] > 0 ? 100 * (b[k] - a[k]) / a[k] : 0
		ad = d < 0 ? -d : d
		if (ad > max) { max = ad; maxk = f[1] " on " f[2] }
		if (ad > 2) over++
		m++
		printf "| %s | %s | %s | %d | %d | %+.2f%% |\n", f[1], f[2], f[3], a[k], b[k], d
	}
	printf "\n%d results in both; largest difference %.2f%% (%s); %d differ by more than 2%%\n",
		m, max, maxk, over
}' "$1" "$2"
