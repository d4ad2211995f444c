#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# plot.sh: PNG plots of one benchmark run's CSV files (tests/bench.sh
# writes them and calls this).  Needs gnuplot (Debian: gnuplot-nox).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog PREFIX

Read PREFIX.csv, PREFIX-hist.csv and PREFIX-scaling.csv (if there is one),
as tests/bench.sh writes them (e.g. results/6.1.0-56-amd64-amd64), and write
(the unit is ns, or instructions for an icount run: avg_insn, insn columns):
  PREFIX-hist-fix_size_alloc.png        latency histogram per target, 1 thread
  PREFIX-hist-long_busy_list_alloc.png  the same for the busy-list workload
  PREFIX-hist-fix_size_alloc+pop.png    the same, areas backed by pages (vmalloc)
  PREFIX-scaling.png                    ns per alloc+free against live areas
  PREFIX-ratios-<N>t.png                time per iteration / rbtree's, per
                                        workload, at N threads
EOF
}

# The same colour for a target in every plot; others get gnuplot's own.
colour() {
	case $1 in
	maple) echo '#1f5fbf' ;;
	maple-dual) echo '#6fa8dc' ;;
	rbtree) echo '#e69138' ;;
	list) echo '#7f7f7f' ;;
	kernel | vmalloc) echo '#cc2222' ;;
	*) echo '' ;;
	esac
}

# "lc rgb ..." for a target, or nothing.
lc() {
	local c
	c=$(colour "$1")
	[[ -n $c ]] && echo "lc rgb '$c'"
	return 0
}

# An awk prelude: h["name"] is the column of that name in a CSV with a header.
# shellcheck disable=SC2016 # awk's fields, not the shell's
AWK_CSV='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }'

# Targets in order of first appearance in CSV.
targets_of() {
	awk "$AWK_CSV"' !seen[$h["target"]]++ { print $h["target"] }' "$1"
}

TERM_PNG='set terminal pngcairo size 1100,650 font "DejaVu Sans,11"'

# hist_plot WORKLOAD THREADS: one outline per target of the pooled histogram.
hist_plot() {
	local wl=$1 nr=$2 png=$prefix-hist-$1.png t f floor n=0
	local -a plots=()
	# The fraction of the iterations in each bucket, as a step outline: the
	# buckets are log-linear (8 per power of two), each [ns, next bound).
	for t in "${targets[@]}"; do
		f=$tmp/hist-$wl-$t.dat
		awk -v wl="$wl" -v t="$t" -v nr="$nr" "$AWK_CSV"'
		$h["workload"] == wl && $h["target"] == t && $h["threads"] == nr {
			ns[++n] = $h[u]; c[n] = $h["count"]; tot += $h["count"]
		}
		function width(v,   m) {
			if (v < 8) return 1
			for (m = 0; 2 ^ (m + 1) <= v; m++) ;
			return 2 ^ (m - 3)
		}
		END {
			if (!tot) exit
			printf "# total %d\n", tot
			for (i = 1; i <= n; i++) {
				hi = ns[i] + width(ns[i])
				if (i == 1 || ns[i] > prev) printf "%s 0\n", ns[i]
				printf "%s %.8g\n%s %.8g\n", ns[i], c[i] / tot, hi, c[i] / tot
				if (i == n || ns[i + 1] > hi) printf "%s 0\n", hi
				prev = hi
			}
		}' u="$u" "$hist" >"$f"
		[[ -s $f ]] || continue
		n=$((n + 1))
		local p50 p99 title
		p50=$(field "$wl" "$t" "$nr" "p50_$u")
		p99=$(field "$wl" "$t" "$nr" "p99_$u")
		title="$t (p50 ${p50:-?} $u, p99 ${p99:-?} $u)"
		plots+=("'$f' using 1:(\$2 > 0 ? \$2 : floor) with lines lw 2 $(lc "$t") title '$title'")
	done
	((n)) || { log "no histogram of $wl at $nr thread(s): $png not made"; return 0; }
	# The y axis starts at a fraction below one iteration of the largest run.
	floor=$(awk '/^# total/ { if ($3 > m) m = $3 } END { printf "%.3g", 0.3 / m }' "$tmp"/hist-"$wl"-*.dat)
	gnuplot <<EOF
$TERM_PNG
set output '$png'
floor = $floor
set title "$wl, $nr thread(s): $what of each iteration, pooled over the repetitions ($label)" noenhanced
set xlabel "$uop (log scale; buckets 8 per power of two)"
set ylabel "fraction of the iterations in the bucket (log scale)"
set logscale xy
set yrange [floor:1]
set format y "10^{%T}"
set grid xtics ytics mxtics
set format x "10^{%T}"
set key top right noenhanced box opaque
plot $(join ', ' "${plots[@]}")
EOF
	log "wrote $png"
}

# field WORKLOAD TARGET THREADS COLUMN: one value of PREFIX.csv.
field() {
	awk -v wl="$1" -v t="$2" -v nr="$3" -v col="$4" "$AWK_CSV"'
	$h["workload"] == wl && $h["target"] == t && $h["threads"] == nr { print $h[col]; exit }' "$csv"
}

join() {
	local sep=$1 out=$2
	shift 2
	for x in "$@"; do out+="$sep$x"; done
	printf '%s' "$out"
}

# Two panels: the mean time per alloc+free (what the tables use) and the
# median, which host preemption of the vCPUs (long single iterations) moves
# far less.
scaling_plot() {
	local png=$prefix-scaling.png t f n=0
	local -a mean=() median=()
	[[ -s $scal ]] || { log "no scaling file: $png not made"; return 0; }
	mapfile -t stargets < <(targets_of "$scal")
	for t in "${stargets[@]}"; do
		f=$tmp/scaling-$t.dat
		awk -v t="$t" -v u="$u" "$AWK_CSV"'$h["target"] == t && $h["avg_" u] != "" {
			print $h["live"], $h["avg_" u], $h["p50_" u], $h["capped"]
		}' "$scal" >"$f"
		[[ -s $f ]] || continue
		n=$((n + 1))
		mean+=("'$f' using 1:2 with linespoints lw 2 pt 7 ps 1.2 $(lc "$t") title '$t'")
		median+=("'$f' using 1:(\$3 > 0 ? \$3 : NaN) with linespoints lw 2 pt 7 ps 1.2 $(lc "$t") title '$t'")
	done
	((n)) || return 0
	cat "$tmp"/scaling-*.dat >"$tmp/scaling-all.dat"
	# Circle and label the capped points (column 2: mean, 3: median).
	local c y
	for c in 2 3; do
		y="(\$4 == 1 && \$$c > 0 ? \$$c : NaN)"
		set -- "'$tmp/scaling-all.dat' using 1:$y with points pt 6 ps 3.5 lw 2 lc rgb 'black' title 'capped by the time budget'" \
			"'$tmp/scaling-all.dat' using 1:$y:(sprintf('capped: %d live', \$1)) with labels left offset 2,0 font ',9' notitle"
		if ((c == 2)); then mean+=("$@"); else median+=("$@"); fi
	done
	gnuplot <<EOF
set terminal pngcairo size 1400,650 font "DejaVu Sans,11"
set output '$png'
set multiplot layout 1,2 title "Scaling: one 1-page alloc+free against the live areas, 1 thread ($label)" noenhanced
set xlabel "live areas (log scale)"
set logscale xy
set xrange [500:2000000]
set offsets 0, 0, graph 0.05, graph 0.05
set xtics ("10^3" 1000, "10^4" 10000, "10^5" 100000, "10^6" 1000000)
set format y "10^{%T}"
set grid xtics ytics mytics
set key top left noenhanced box opaque font ",10"
set title "mean $u per alloc+free (as in the tables)"
set ylabel "$u per alloc+free (log scale)"
plot $(join ', ' "${mean[@]}")
set title "median (p50) $u per alloc+free"
plot $(join ', ' "${median[@]}")
unset multiplot
EOF
	log "wrote $png"
}

# ratio_plot THREADS: bars of each target's time / rbtree's, per workload,
# drawn from 1 (rbtree) up (slower) or down (faster).
ratio_plot() {
	local nr=$1 png=$prefix-ratios-${1}t.png f=$tmp/ratios-$1.dat i
	local -a others=() plots=()
	for i in "${targets[@]}"; do
		[[ $i == rbtree ]] || others+=("$i")
	done
	# Per workload: the ratio of each target, then whether it was capped.
	awk -v nr="$nr" -v u="$u" -v tl="${others[*]}" "$AWK_CSV"'
	$h["threads"] == nr {
		w = $h["workload"]
		if (!(w in seen)) { seen[w] = 1; wl[++nw] = w }
		v[w, $h["target"]] = $h["skipped"] == 1 ? "" : $h["avg_" u]
		cap[w, $h["target"]] = $h["capped"] == 1
	}
	END {
		nt = split(tl, t, " ")
		for (i = 1; i <= nw; i++) {
			rb = v[wl[i], "rbtree"]
			line = wl[i]
			for (j = 1; j <= nt; j++) {
				x = v[wl[i], t[j]]
				line = line " " (rb > 0 && x != "" ? sprintf("%.3f", x / rb) : "?")
			}
			for (j = 1; j <= nt; j++)
				line = line " " (cap[wl[i], t[j]] || cap[wl[i], "rbtree"] ? 1 : 0)
			print line
		}
	}' "$csv" >"$f"
	[[ -s $f ]] || return 0
	local nt=${#others[@]} col ccol x lab
	# Bar i of a cluster sits at cluster + (i - (nt - 1) / 2) / (nt + 1).
	for ((i = 0; i < nt; i++)); do
		col=$((i + 2)) ccol=$((i + 2 + nt))
		x="(\$0 + ($i - ($nt - 1) / 2.0) / ($nt + 1.0))"
		lab="(sprintf('%.2f%s', \$$col, \$$ccol > 0 ? '*' : ''))"
		plots+=("'$f' using $x:$col:($x - bw):($x + bw):(\$$col < 1 ? \$$col : 1):(\$$col < 1 ? 1 : \$$col) with boxxyerror fs solid 0.85 border rgb 'black' $(lc "${others[i]}") title '${others[i]}'")
		plots+=("'$f' using $x:(\$$col >= 1 ? \$$col * 1.06 : NaN):$lab with labels rotate by 90 left font ',8' notitle")
		plots+=("'$f' using $x:(\$$col < 1 ? \$$col / 1.06 : NaN):$lab with labels rotate by 90 right font ',8' notitle")
	done
	plots+=("'$f' using 0:(NaN):xtic(1) notitle")
	plots+=("1 with lines dt 2 lw 2 lc rgb '$(colour rbtree)' title 'rbtree = 1'")
	gnuplot <<EOF
$TERM_PNG
set output '$png'
bw = 0.5 / ($nt + 1.0)
set title "${What} per iteration relative to rbtree (the mainline design), $nr thread(s): below 1 is faster ($label)" noenhanced
set ylabel "avg $uop / rbtree's (log scale)"
set datafile missing "?"
set logscale y
set format y "%g"
set xrange [-0.6:*]
set autoscale yfix
set offsets 0, 0.6, graph 0.12, graph 0.1
set ytics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500, "1000" 1000, "2000" 2000, "5000" 5000)
set xtics rotate by -25 noenhanced nomirror
set grid ytics
set key outside right top noenhanced box width 1
set bmargin 7
set label 1 "* capped by the time budget" at graph 1, graph -0.2 right font ',9'
plot $(join ', ' "${plots[@]}")
EOF
	log "wrote $png"
}

main() {
	case ${1:-} in
	-h | --help) usage; exit 0 ;;
	'' | -*) usage >&2; exit 2 ;;
	esac
	prefix=$1
	csv=$prefix.csv hist=$prefix-hist.csv scal=$prefix-scaling.csv
	[[ -s $csv && -s $hist ]] || die "$csv and $hist are needed"
	command -v gnuplot >/dev/null || kvs_need_pkgs gnuplot-nox
	label=${prefix##*/}
	tmp=$(mktemp -d)
	# shellcheck disable=SC2064 # the directory is fixed now
	trap "rm -rf '$tmp'" EXIT
	mapfile -t targets < <(targets_of "$csv")
	# An icount run counts instructions (avg_insn, insn), not ns.
	u=ns what=time What=Time uop="ns per iteration"
	if head -n 1 "$csv" | grep -q '\(^\|,\)avg_insn\(,\|$\)'; then
		u=insn what=instructions What=Instructions uop="insn/op (op: one timed iteration)"
	fi

	hist_plot fix_size_alloc 1
	hist_plot long_busy_list_alloc 1
	hist_plot fix_size_alloc+pop 1
	scaling_plot
	local nr
	local -a nrs
	mapfile -t nrs < <(awk "$AWK_CSV"' !seen[$h["threads"]]++ { print $h["threads"] }' "$csv")
	for nr in "${nrs[@]}"; do
		ratio_plot "$nr"
	done
}

main "$@"
