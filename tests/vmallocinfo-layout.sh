#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# vmallocinfo-layout.sh: turn this machine's /proc/vmallocinfo into a
# layout for "bench background=layout" (kvashim's bench_layout file): one
# "OFFSET SIZE" line per area, in bytes (hex), OFFSET from the lowest area
# kept, SIZE the whole reservation as vmallocinfo gives it (guard page
# included).  tests/bench.sh --layout FILE loads it in the guest.
#
# Kept: every area within VmallocTotal (/proc/meminfo) of the lowest one:
# the vmalloc range, with its vmalloc, vmap and ioremap areas and the ones
# freed and awaiting the lazy purge ("unpurged vm_area": their range is
# not free yet either).  Dropped: what lies beyond, on x86_64 the module
# and BPF mappings in the kernel-text range, which vmallocinfo lists too.
# The header of the output says how many of each kind were kept.
#
# The addresses must be real: with kernel.kptr_restrict=0 the kernel
# prints them hashed, so the script sets it to 1 for the one read (root
# only) and puts it back.
set -euo pipefail

prog=${0##*/}
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

usage() {
	cat <<EOF
usage: $prog [-o FILE] [--input FILE] [--total BYTES] [--all]

  -o FILE        write the layout there (default: standard output)
  --input FILE   read a saved copy of /proc/vmallocinfo (with real
                 addresses) instead of this machine's
  --total BYTES  the vmalloc range's size (default: VmallocTotal of
                 this machine's /proc/meminfo)
  --all          keep every area, the vmalloc range's or not
  -h, --help     this text
EOF
}

out=- input='' total='' all=0
while (($#)); do
	case $1 in
	-o) out=${2:?}; shift ;;
	--input) input=${2:?}; shift ;;
	--total) total=${2:?}; shift ;;
	--all) all=1 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
if [[ -n $input ]]; then
	cp "$input" "$raw"
	source_desc="$input"
else
	[[ $(id -u) == 0 ]] || die "must run as root: /proc/vmallocinfo is root-only"
	kptr=$(cat /proc/sys/kernel/kptr_restrict)
	if [[ $kptr == 0 ]]; then
		echo 1 >/proc/sys/kernel/kptr_restrict
		cat /proc/vmallocinfo >"$raw" || true
		echo "$kptr" >/proc/sys/kernel/kptr_restrict
	else
		cat /proc/vmallocinfo >"$raw"
	fi
	source_desc="/proc/vmallocinfo of $(hostname)"
fi
[[ -s $raw ]] || die "no areas read"
if [[ -z $total ]]; then
	total=$(($(sed -n 's/^VmallocTotal:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/meminfo) * 1024))
fi

# "0xSTART-0xEND SIZE rest": sorted by start (fixed-width hex sorts as text).
mapfile -t lines < <(awk '$1 ~ /^0x[0-9a-f]+-0x[0-9a-f]+$/ { print }' "$raw" | sort)
((${#lines[@]})) || die "no area lines in the input"

body=() kept=0 dropped=0 overlap=0 bytes=0 gaps=0
declare -A kinds=()
first='' prev_end=''
for l in "${lines[@]}"; do
	read -r range size rest <<<"$l"
	start=${range%-*} end=${range#*-}
	(((end) - (start) == size)) ||
		die "'$range' is not $size bytes long: hashed addresses? (kernel.kptr_restrict)"
	[[ -n $first ]] || first=$start
	off=$((start - first))
	if ((!all && (off < 0 || off >= total))); then
		dropped=$((dropped + 1))
		continue
	fi
	if [[ -n $prev_end ]] && ((start - prev_end < 0)); then
		overlap=$((overlap + 1))
		continue
	fi
	case " $rest " in
	*" unpurged vm_area "*) k=unpurged ;;
	*" ioremap "*) k=ioremap ;;
	*" vmalloc "*) k=vmalloc ;;
	*" vmap "*) k=vmap ;;
	*" vm_map_ram "*) k=vm_map_ram ;;
	*) k=other ;;
	esac
	kinds[$k]=$((${kinds[$k]:-0} + 1))
	[[ -z $prev_end ]] || gaps=$((gaps + start - prev_end))
	printf -v row '%#x %#x' "$off" "$size"
	body+=("$row")
	kept=$((kept + 1))
	bytes=$((bytes + size))
	prev_end=$end
done
((kept)) || die "no area kept"
span=$((prev_end - first))
kind_list=
for k in vmalloc vmap ioremap vm_map_ram unpurged other; do
	[[ -z ${kinds[$k]:-} ]] || kind_list+=" $k ${kinds[$k]},"
done

emit() {
	echo "# kvashim bench layout (bench_layout, \"bench background=layout\")"
	echo "# from: $source_desc"
	echo "# made: $(date -u +%Y-%m-%dT%H:%M:%SZ) by tests/vmallocinfo-layout.sh$( ((all)) && echo ' --all')"
	echo "# kernel: $(uname -r) $(uname -m)"
	echo "# areas: $kept kept of ${#lines[@]}; $dropped dropped beyond VmallocTotal ($total bytes) of the lowest; $overlap overlapping dropped"
	echo "# kinds:${kind_list%,}  (unpurged: freed, awaiting the lazy purge)"
	echo "# span $span bytes: areas $bytes, gaps $gaps"
	echo "# OFFSET SIZE, bytes: OFFSET from the lowest area kept, SIZE with the guard page"
	printf '%s\n' "${body[@]}"
}
if [[ $out == - ]]; then
	emit
else
	emit >"$out"
fi
