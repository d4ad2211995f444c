#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh: "make bench".  Boots Debian's kernel under QEMU (TCG), loads the
# freshly built kvashim, runs debugfs-scripts/kvashim-bench in the guest
# (every workload on every backend and on the kernel's own allocator, then
# the scaling sweep), and brings the results back into results/: CSV files,
# the raw key=value files, the ratio table, a machine description and PNG
# plots (tests/plot.sh).  Prints the ratio table at the end, and progress
# (steps done of all, elapsed time, ETA) while it runs.
#
# --mode icount: QEMU -icount shift=0,sleep=off,align=off, one vCPU.  The
# guest clock then advances one ns per executed guest instruction, so the
# bench's times are instruction counts, the same from run to run whatever
# the host does; every file says insn, not ns.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

# shellcheck source=vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"

usage() {
	cat <<EOF
usage: $kvs_prog [options]

Run the kvashim benchmark suite in a Debian kernel under QEMU and write
results/<kernel-release>-<arch>{.csv,-scaling.csv,-hist.csv,-trimmed.csv,-table.txt,
-machine.txt,-*.png} plus the raw .txt files.

options:
  --mode M          wall (default): times in ns, 2 vCPUs, the scaling sweep;
                    icount: instructions per operation (QEMU -icount, 1 vCPU,
                    defaults --reps $icount_reps --loops $icount_loops --busy $icount_busy, no scaling
                    sweep); files are named <kernel-release>-<arch>-icount*
  --icount          the same as --mode icount
  --quick           1 repetition, 1000 loops, 2000 busy, no scaling sweep;
                    files are named <kernel-release>-<arch>-quick*
  --populated       only the populated comparison with vmalloc (1, 3, 16 and
                    100 pages); files are named <kernel-release>-<arch>-populated*
  --reps N          repetitions; times are medians over them (default $def_reps)
  --loops N         timed iterations per thread and run (default $def_loops)
  --busy N          live areas of the busy-list workloads (default $def_busy)
  --budget MS       time budget of one run before it is capped (default $def_budget)
  --background N    also run every workload with N live background areas of
                    mixed sizes in the target (results "<workload>@bg"); files
                    are named <kernel-release>-<arch>[-icount]-bgN*
  --layout FILE     also run every workload with the areas of the layout FILE
                    (tests/vmallocinfo-layout.sh: a machine's /proc/vmallocinfo)
                    at their offsets in the target (results "<workload>@layout";
                    the kernel target gets them in order); files are named
                    <kernel-release>-<arch>[-icount]-layout*
  --series S        kernel series (default 6.1)
  --arch A          amd64 | arm64 (default: this host's)
  --smp N           guest CPUs (default 2; icount: always 1)
  --mem M           guest memory (default 4G: 10^6 live areas' metadata)
  --timeout SEC     kill the VM after SEC seconds (default 7200)
  --module-src DIR  build the module from DIR, not the repo's Kbuild + kmod/
  --out DIR         where the files go (default \$KVS_REPO/results)
  --from RUN_DIR    boot nothing: redo the files and plots of a finished run
  -h, --help        this text

The VM run directory (logs, the raw files) is \$KVS_CACHE/runs/<ts>-bench-*.
EOF
}

def_reps=15 def_loops=2000 def_busy=15000 def_budget=60000
# icount: deterministic, so few repetitions; the full single-thread suite
# (66 workload x target steps, 24 populated) then takes ~7 min here on
# amd64, ~12 on arm64 (results/README-results.md).
icount_reps=3 icount_loops=2000 icount_busy=15000

opt_mode=wall
opt_quick=0
opt_populated=0
opt_reps=
opt_loops=
opt_busy=
opt_budget=
opt_background=0
opt_layout=''
opt_series=6.1
opt_arch=
opt_smp=2
opt_mem=4G
opt_timeout=7200
opt_module_src=
opt_out=
opt_from=
opt_in_guest=0
orig_args=("$@")

num() {
	[[ $2 =~ ^[0-9]+$ && $2 -gt 0 ]] || die "$1 wants a positive number, got '$2'"
	echo "$2"
}

parse_args() {
	while (($#)); do
		case $1 in
		--mode) opt_mode=${2:-}; shift ;;
		--icount) opt_mode=icount ;;
		--quick) opt_quick=1 ;;
		--populated) opt_populated=1 ;;
		--reps) opt_reps=$(num "$1" "${2:-}"); shift ;;
		--loops) opt_loops=$(num "$1" "${2:-}"); shift ;;
		--busy) opt_busy=$(num "$1" "${2:-}"); shift ;;
		--budget) opt_budget=$(num "$1" "${2:-}"); shift ;;
		--background) opt_background=$(num "$1" "${2:-}"); shift ;;
		--layout) opt_layout=${2:?}; shift ;;
		--series) opt_series=${2:?}; shift ;;
		--arch) opt_arch=${2:?}; shift ;;
		--smp) opt_smp=$(num "$1" "${2:-}"); shift ;;
		--mem) opt_mem=${2:?}; shift ;;
		--timeout) opt_timeout=$(num "$1" "${2:-}"); shift ;;
		--module-src) opt_module_src=${2:?}; shift ;;
		--out) opt_out=${2:?}; shift ;;
		--from) opt_from=${2:?}; shift ;;
		--in-guest) opt_in_guest=1 ;;
		-h | --help) usage; exit 0 ;;
		*) echo "$kvs_prog: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
		esac
		shift
	done
	case $opt_mode in
	wall) ;;
	icount)
		def_reps=$icount_reps def_loops=$icount_loops def_busy=$icount_busy
		opt_smp=1
		;;
	*) die "--mode wants wall or icount, got '$opt_mode'" ;;
	esac
	# kvashim-bench -q's values, unless given.
	if ((opt_quick)); then
		def_reps=1 def_loops=1000 def_busy=2000
	fi
	opt_reps=${opt_reps:-$def_reps}
	opt_loops=${opt_loops:-$def_loops}
	opt_busy=${opt_busy:-$def_busy}
	opt_budget=${opt_budget:-$def_budget}
	return 0
}

# ---- in the guest ----------------------------------------------------------------

# Copy the kernel log's new kvashim lines to stdout (the host streams it),
# each with the time since the start and a count of finished runs.
follow_log() {
	local fd=$1 t0=$2 line n=0 t
	while IFS= read -r -u "$fd" line; do
		[[ $line == *kvashim* ]] || continue
		t=$((EPOCHSECONDS - t0))
		[[ $line == *"bench: "*" on "* ]] && n=$((n + 1))
		printf '[%3d:%02d run %3d] %s\n' $((t / 60)) $((t % 60)) "$n" "$line"
	done
}

guest_main() {
	local out=$KVS_OUT/bench t0=$EPOCHSECONDS rc=0
	mkdir -p "$out"
	{
		echo "kernel_release=$(uname -r)"
		echo "kernel_version=$(uname -v)"
		echo "machine=$(uname -m)"
		echo "arch=${KVS_ARCH:-}"
		echo "cpus=$(nproc)"
		echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sort -u | head -n 1)"
		echo "mem_total=$(sed -n 's/^MemTotal:[[:space:]]*//p' /proc/meminfo)"
		echo "options=reps=$opt_reps loops=$opt_loops busy=$opt_busy budget_ms=$opt_budget quick=$opt_quick populated=$opt_populated mode=$opt_mode background=$opt_background layout=${opt_layout:+1}"
	} >"$out/guest.txt"

	insmod "$KVS_KO"
	local dm_fd='' dm_pid='' reader=''
	# Under icount the guest's clock is the instruction count: the kernel
	# log's times and ns figures would mislead; the step lines suffice.
	if [[ $opt_mode == wall ]]; then
		exec {dm_fd}< <(exec dmesg --follow-new --notime 2>&1)
		dm_pid=$!
		follow_log "$dm_fd" "$t0" &
		reader=$!
	fi

	local -a args=(-r "$opt_reps" -l "$opt_loops" -b "$opt_busy" -t "$opt_budget" -o "$out")
	((opt_quick)) && args=(-q "${args[@]}")
	((opt_populated)) && args=(-p "${args[@]}")
	[[ $opt_mode == icount ]] && args=(-i -S "${args[@]}")
	((opt_background)) && args=(-g "$opt_background" "${args[@]}")
	[[ -z $opt_layout ]] || args=(-L "$opt_layout" "${args[@]}")
	# Its own progress lines and errors only: the tables come at the end.
	"$KVS_REPO/debugfs-scripts/kvashim-bench" "${args[@]}" 2>&1 | tee "$out/bench.out" |
		grep --line-buffered -E '^kvashim-(bench|ctl|table)' || rc=${PIPESTATUS[0]}

	if [[ -n $dm_pid ]]; then
		sleep 1 # let the last lines through
		kill "$dm_pid" 2>/dev/null || true
		wait "$reader" 2>/dev/null || true
		exec {dm_fd}<&-
	fi
	if ! rmmod kvashim; then
		((rc)) || rc=1
	fi
	local t=$((EPOCHSECONDS - t0))
	echo "bench.sh: in the guest for $((t / 60))m$((t % 60))s; kvashim-bench exited $rc"
	echo "seconds=$t" >>"$out/guest.txt"
	return "$rc"
}

# ---- on the host -----------------------------------------------------------------

# Every 30 s, note how many QEMU processes other than this run's are
# running and the load average: the benchmark shares the host with them.
sample_host() {
	local run=$1 n
	while [[ ! -e $run/.stop-sampler ]]; do
		n=$(pgrep -a -f '^qemu-system' | grep -cvF -- "$run" || true)
		echo "$EPOCHSECONDS others=$n load=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run/host-samples.txt"
		for _ in 1 2 3 4 5 6; do
			[[ -e $run/.stop-sampler ]] && break
			sleep 5
		done
	done
}

host_info() {
	local run=$1 rest qemu="qemu-system-x86_64"
	[[ $opt_arch == arm64 ]] && qemu="qemu-system-aarch64"
	{
		echo "host_cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | sort -u | head -n 1)"
		echo "host_cpus=$(nproc)"
		echo "host_kernel=$(uname -r)"
		# shellcheck disable=SC1091 # every Debian system has it
		echo "host_os=$(. /etc/os-release && echo "$PRETTY_NAME")"
		echo "qemu=$("$qemu" --version 2>/dev/null | head -n 1 || echo unknown)"
		if [[ $opt_mode == icount ]]; then
			echo "vm=tcg icount=shift=0,sleep=off,align=off smp=$opt_smp mem=$opt_mem series=$opt_series arch=$opt_arch"
			echo "unit=instructions: every *_insn figure (and the histograms' insn=) counts executed guest instructions"
		else
			echo "vm=tcg smp=$opt_smp mem=$opt_mem series=$opt_series arch=$opt_arch"
		fi
		echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		if [[ -n $opt_module_src ]]; then
			echo "module=built from $opt_module_src"
		else
			rest=$(git -C "$KVS_REPO" status --porcelain -- Kbuild kmod 2>/dev/null | wc -l)
			echo "module=commit $(git -C "$KVS_REPO" rev-parse --short HEAD 2>/dev/null || echo none), $rest uncommitted file(s) in Kbuild kmod/"
		fi
		if [[ -n $opt_layout ]]; then
			echo "layout_file=$opt_layout"
			sed -n -e 's/^# \(from\|made\|kernel\|areas\|kinds\): /layout_\1=/p' -e 's/^# span /layout_span=/p' "$opt_layout"
		fi
		printf 'command=tests/bench.sh'
		((${#orig_args[@]} == 0)) || printf ' %q' "${orig_args[@]}"
		echo
	} >"$run/bench-host.txt"
}

# key=value lines (FILE...) to CSV: the keys in order of first appearance;
# a key a line lacks is an empty field (skipped runs have only their names).
kv2csv() {
	awk '
	{
		for (i = 1; i <= NF; i++) {
			split($i, kv, "=")
			if (!(kv[1] in col)) { col[kv[1]] = ++nc; name[nc] = kv[1] }
		}
		line[NR] = $0
	}
	END {
		for (c = 1; c <= nc; c++) printf "%s%s", name[c], (c < nc ? "," : "\n")
		for (r = 1; r <= NR; r++) {
			delete v
			n = split(line[r], f, " ")
			for (i = 1; i <= n; i++) {
				p = index(f[i], "=")
				v[substr(f[i], 1, p - 1)] = substr(f[i], p + 1)
			}
			for (c = 1; c <= nc; c++) {
				x = (name[c] in v) ? v[name[c]] : (name[c] == "skipped" ? "0" : "")
				printf "%s%s", x, (c < nc ? "," : "\n")
			}
		}
	}' "$@"
}

# From the pooled histograms (CSV), per result: the iterations, the mean of
# the fastest 99% (bucket midpoints) and the bucket holding the median.  The
# mean of all iterations follows the rare multi-millisecond stalls of a
# descheduled vCPU; this one does not.  The unit is the histograms' (ns, or
# insn for an icount run).
trimmed_csv() {
	awk -F, '
	NR == 1 {
		for (i = 1; i <= NF; i++) h[$i] = i
		u = ("insn" in h) ? "insn" : "ns"
		next
	}
	function width(v,   m) {
		if (v < 8) return 1
		for (m = 0; 2 ^ (m + 1) <= v; m++) ;
		return 2 ^ (m - 3)
	}
	{
		k = $h["workload"] "," $h["target"] "," $h["threads"]
		if (!(k in n)) order[++nk] = k
		i = ++n[k]; ns[k, i] = $h[u]; c[k, i] = $h["count"]; tot[k] += $h["count"]
	}
	END {
		printf "workload,target,threads,iterations,trim99_mean_%s,p50_bucket_%s\n", u, u
		for (j = 1; j <= nk; j++) {
			k = order[j]; keep = int(tot[k] * 0.99); seen = 0; sum = 0; p50 = ""
			for (i = 1; i <= n[k] && seen < keep; i++) {
				take = c[k, i] < keep - seen ? c[k, i] : keep - seen
				sum += take * (ns[k, i] + width(ns[k, i]) / 2); seen += take
			}
			s = 0
			for (i = 1; i <= n[k]; i++) { s += c[k, i]; if (s * 2 >= tot[k]) { p50 = ns[k, i]; break } }
			printf "%s,%d,%.0f,%s\n", k, tot[k], seen ? sum / seen : 0, p50
		}
	}' "$1"
}

# Summarise the host samples: how often other VMs shared the machine.
samples_summary() {
	local f=$1
	[[ -s $f ]] || { echo "other_vms=not sampled"; return; }
	awk '{ sub("others=", "", $2); n++; if ($2 > 0) busy++; if ($2 > max) max = $2
	       split($3, l, "="); s += l[2] }
	END { printf "other_vms=another VM (e.g. the test suite) was running in %d of %d samples (every 30 s), at most %d at once; mean 1-min load %.2f\n", busy, n, max, s / n }' "$f"
}

# Turn a finished run directory into the files under the output directory.
publish() {
	local run=$1 dir=$2 b=$1/bench kver arch prefix
	[[ -s $b/results.txt ]] || die "$b/results.txt is missing: the benchmark did not finish (see $run)"
	kver=$(sed -n 's/^kernel_release=//p' "$b/guest.txt")
	arch=$(sed -n 's/^arch=//p' "$b/guest.txt")
	[[ -n $kver && -n $arch ]] || die "$b/guest.txt lacks the kernel release or arch"
	prefix=$kver-$arch
	grep -q '^options=.*mode=icount' "$b/guest.txt" && prefix+=-icount
	grep -q '^options=.*quick=1' "$b/guest.txt" && prefix+=-quick
	grep -q '^options=.*populated=1' "$b/guest.txt" && prefix+=-populated
	local bg
	bg=$(sed -n 's/^options=.* background=\([0-9]*\).*/\1/p' "$b/guest.txt")
	[[ ${bg:-0} == 0 ]] || prefix+=-bg$bg
	grep -q '^options=.* layout=1' "$b/guest.txt" && prefix+=-layout
	mkdir -p "$dir"
	prefix=$dir/$prefix

	kv2csv "$b/results.txt" >"$prefix.csv"
	kv2csv "$b/histograms.txt" >"$prefix-hist.csv"
	trimmed_csv "$prefix-hist.csv" >"$prefix-trimmed.csv"
	cp "$b/results.txt" "$prefix-results.txt"
	cp "$b/histograms.txt" "$prefix-histograms.txt"
	rm -f "$prefix-scaling.csv" "$prefix-scaling.txt"
	if [[ -s $b/scaling.txt ]]; then
		kv2csv "$b/scaling.txt" >"$prefix-scaling.csv"
		cp "$b/scaling.txt" "$prefix-scaling.txt"
		"$KVS_REPO/debugfs-scripts/kvashim-table" "$b/results.txt" "$b/scaling.txt" >"$prefix-table.txt"
	else
		"$KVS_REPO/debugfs-scripts/kvashim-table" "$b/results.txt" >"$prefix-table.txt"
	fi
	[[ -f $run/out.log ]] && cp "$run/out.log" "$prefix-run.log"
	# The raw files come from debugfs, read-only.
	chmod 644 "$prefix"-*.txt "$prefix"-*.log

	{
		echo "# kvashim benchmark: the machine and the run"
		[[ -f $run/bench-host.txt ]] && cat "$run/bench-host.txt"
		local ko
		for ko in "$run"/module/*.ko; do
			[[ -f $ko ]] && echo "module_srcversion=$(modinfo -F srcversion "$ko" 2>/dev/null)"
		done
		sed 's/^/guest_/' "$b/guest.txt"
		[[ -f $run/result ]] && sed -n 's/^wall_seconds=/vm_wall_seconds=/p' "$run/result"
		[[ -f $run/bench-wall ]] && cat "$run/bench-wall"
		samples_summary "$run/host-samples.txt"
		echo "run_dir=$run"
	} >"$prefix-machine.txt"

	"$KVS_REPO/tests/plot.sh" "$prefix" >&2
	echo "$prefix"
}

# mm:ss (or h:mm:ss) of a number of seconds.
hms() {
	local s=$1
	if ((s >= 3600)); then
		printf '%d:%02d:%02d' $((s / 3600)) $((s / 60 % 60)) $((s % 60))
	else
		printf '%d:%02d' $((s / 60)) $((s % 60))
	fi
}

# Pass the VM's output through; turn kvashim-bench's "step K/N" lines into
# progress: steps done, host time since the start of make bench, and an
# estimate of the rest from the pace since the first step (the boot and
# the module build excluded).  Steps differ in cost (the list with 15,000
# busy areas is the slowest), so the ETA is rough.
progress() {
	local t0=$1 line k n now ts='' eta
	while IFS= read -r line; do
		if [[ $line =~ ^kvashim-bench:\ step\ ([0-9]+)/([0-9]+):\ (.*)$ ]]; then
			k=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} now=$EPOCHSECONDS
			[[ -n $ts ]] || ts=$now
			eta="?"
			((k > 0)) && eta=$(hms $(((now - ts) * (n - k) / k)))
			printf 'bench: %d/%d steps (%d%%), elapsed %s, ETA %s: %s\n' "$k" "$n" \
				$((n ? 100 * k / n : 0)) "$(hms $((now - t0)))" "$eta" "${BASH_REMATCH[3]}"
		else
			printf '%s\n' "$line"
		fi
	done
}

host_main() {
	[[ $(id -u) == 0 ]] || die "must run as root"
	opt_arch=${opt_arch:-$(kvs_host_arch)}
	[[ -z $opt_layout || -r $opt_layout ]] || die "--layout: cannot read '$opt_layout'"
	local out=${opt_out:-$KVS_REPO/results} run prefix t0=$EPOCHSECONDS
	kvs_need_pkgs gnuplot-nox

	if [[ -n $opt_from ]]; then
		run=$(cd "$opt_from" && pwd)
		prefix=$(publish "$run" "$out")
		cat "$prefix-table.txt"
		return
	fi

	run="$KVS_CACHE/runs/$(date +%Y%m%d-%H%M%S)-bench-$opt_series-$opt_arch"
	mkdir -p "$run"
	host_info "$run"
	log "run dir: $run"
	log "mode=$opt_mode reps=$opt_reps loops=$opt_loops busy=$opt_busy budget_ms=$opt_budget quick=$opt_quick"

	# Under TCG the guest finds the TSCs "unsynchronized" and marks them
	# unstable; local_clock() then clamps each reading to the last tick +
	# 1 jiffy, and when a tick comes late (a busy host) iterations read as
	# 0 ns and time is lost.  tsc=reliable keeps sched_clock on the raw TSC.
	local sampler rc=0 append=
	[[ $opt_arch == amd64 ]] && append=tsc=reliable
	echo "guest_cmdline_extra=${append:-none}" >>"$run/bench-host.txt"
	sample_host "$run" &
	sampler=$!
	# shellcheck disable=SC2064 # expand now: the run dir and pid are fixed
	trap "touch '$run/.stop-sampler'; kill $sampler 2>/dev/null" EXIT

	local -a guest=("$KVS_REPO/tests/bench.sh" --in-guest --mode "$opt_mode" --reps "$opt_reps"
		--loops "$opt_loops" --busy "$opt_busy" --budget "$opt_budget")
	((opt_background)) && guest+=(--background "$opt_background")
	if [[ -n $opt_layout ]]; then
		# The run directory is the guest's $KVS_OUT, /kvs-out (vm/run.sh).
		cp "$opt_layout" "$run/layout.txt"
		guest+=(--layout /kvs-out/layout.txt)
	fi
	local -a vm=(--series "$opt_series" --arch "$opt_arch" --smp "$opt_smp")
	((opt_quick)) && guest+=(--quick)
	((opt_populated)) && guest+=(--populated)
	[[ $opt_mode == icount ]] && vm+=(--icount)
	"$KVS_REPO/tests/vm/run.sh" "${vm[@]}" --mem "$opt_mem" --timeout "$opt_timeout" --follow \
		--run-dir "$run" ${append:+--append "$append"} \
		${opt_module_src:+--module-src "$opt_module_src"} -- "${guest[@]}" |
		progress "$t0" || rc=${PIPESTATUS[0]}

	touch "$run/.stop-sampler"
	wait "$sampler" 2>/dev/null || true
	trap - EXIT
	rm -f "$run/.stop-sampler"
	local t=$((EPOCHSECONDS - t0))
	printf "bench_wall_seconds=%s\nvm_exit_status=%s\n" "$t" "$rc" >"$run/bench-wall"
	log "the VM run took $((t / 60))m$((t % 60))s (exit $rc)"
	# A kernel splat (exit 3) after the results were written still leaves
	# them worth keeping; the exit status says what happened.
	[[ -s $run/bench/results.txt ]] || die "the benchmark VM failed (exit $rc), no results; logs in $run"

	prefix=$(publish "$run" "$out")
	log "files: $prefix{.csv,-scaling.csv,-hist.csv,-table.txt,-machine.txt,-*.png}"
	cat "$prefix-table.txt"
	((rc == 0)) || log "the benchmark VM failed (exit $rc): the results may be partial; logs in $run"
	return "$rc"
}

parse_args "$@"
if ((opt_in_guest)); then
	guest_main
else
	host_main
fi
