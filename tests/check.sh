#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh: the static checks behind "make check".
#   - checkpatch.pl --strict on kmod/ (taken from Debian's linux-source)
#   - sparse (make C=2) and a W=1 build against Debian's kernel headers
#   - shellcheck on every shell script
#   - MODULE_VERSION equals dkms.conf's PACKAGE_VERSION
#   - every errno the module returns has a name in control.c
# Any finding fails the run.  KDIR selects the headers (default: the
# newest /usr/src/linux-headers-*-amd64, installed on demand).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=vm/lib.sh
. "$(dirname "$0")/vm/lib.sh"

failed=0
report() {
	local name=$1 out=$2
	if [[ -z $out ]]; then
		echo "check: $name: clean"
	else
		echo "check: $name: FAILED"
		printf '%s\n' "$out" | sed 's/^/    /'
		failed=1
	fi
}

kdir() {
	if [[ -n ${KDIR:-} ]]; then
		echo "$KDIR"
		return
	fi
	if ! compgen -G '/usr/src/linux-headers-*-amd64' >/dev/null; then
		"$KVS_REPO/tests/vm/fetch-kernel.sh" 6.1 amd64 >/dev/null
	fi
	printf '%s\n' /usr/src/linux-headers-*-amd64 | sort -V | tail -n 1
}

# checkpatch.pl and its data files from the linux-source package.
checkpatch() {
	local dir=$KVS_CACHE/checkpatch tarball
	if [[ ! -x $dir/scripts/checkpatch.pl ]]; then
		kvs_need_pkgs linux-source >&2
		tarball=$(printf '%s\n' /usr/src/linux-source-*.tar.* | sort -V | tail -n 1)
		mkdir -p "$dir"
		tar -xf "$tarball" -C "$dir" --strip-components=1 --wildcards \
			'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch'
	fi
	echo "$dir/scripts/checkpatch.pl"
}

kvs_need_pkgs sparse shellcheck make gcc perl >&2
cd "$KVS_REPO"

cp=$(checkpatch)
# compat.h is the one file allowed to test LINUX_VERSION_CODE; trace.h
# follows the TRACE_EVENT layout of include/trace/events/, whose macro
# arguments checkpatch's alignment checks do not parse.
plain=()
for f in kmod/*.[ch]; do
	case $f in kmod/compat.h|kmod/trace.h) ;; *) plain+=("$f") ;; esac
done
out=$( { perl "$cp" --strict --no-tree --terse -f "${plain[@]}"
	 perl "$cp" --strict --no-tree --terse --ignore LINUX_VERSION_CODE -f kmod/compat.h
	 perl "$cp" --strict --no-tree --terse \
		--ignore PARENTHESIS_ALIGNMENT,OPEN_ENDED_LINE -f kmod/trace.h
       } 2>&1 | grep -E 'ERROR|WARNING|CHECK' || true)
report "checkpatch --strict" "$out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r Kbuild kmod "$work/"
k=$(kdir)
out=$(make -s -C "$k" M="$work" W=1 modules 2>&1 | grep -vE 'Skipping BTF generation' || true)
report "W=1 build against $(basename "$k")" "$out"
make -s -C "$k" M="$work" clean >/dev/null 2>&1
out=$(make -s -C "$k" M="$work" C=2 CHECK=sparse modules 2>&1 |
	grep -E 'warning:|error:' || true)
report "sparse (C=2)" "$out"

mapfile -t scripts < <(git ls-files | while read -r f; do
	head -n 1 "$f" 2>/dev/null | grep -q '^#!.*\(ba\)\{0,1\}sh' && echo "$f"; true
done)
report "shellcheck (${#scripts[@]} scripts)" "$(shellcheck -x -S style "${scripts[@]}" 2>&1 || true)"

# compat.h is the only file that tests the kernel version, and every version test
# there carries a one-line "/* vX.Y: what changed */" on the line before or after.
out=$(grep -rn --include='*.[ch]' -e LINUX_VERSION_CODE -e KERNEL_VERSION kmod/ |
	grep -v '^kmod/compat\.h:' || true)
out+=$(awk '{ l[NR] = $0 }
	END {
		for (i = 1; i <= NR; i++)
			if (l[i] ~ /^#(el)?if.*(LINUX_VERSION_CODE|KERNEL_VERSION)/ &&
			    l[i - 1] !~ /\/\* v[0-9]+\.[0-9]+: / && l[i + 1] !~ /\/\* v[0-9]+\.[0-9]+: /)
				printf "kmod/compat.h:%d: version test without a /* vX.Y: ... */ note\n", i
	}' kmod/compat.h)
report "version tests only in compat.h, each with a vX.Y note" "$out"

# Every errno the module returns has a name in control.c's table, so that
# no reply reads "error: E<number>".  ERESTARTSYS never reaches user space.
out=$(grep -ohE -- '-E[A-Z0-9]+\b' kmod/*.[ch] | sort -u | sed 's/^-//' |
	while read -r e; do
		[[ $e == ERESTARTSYS ]] && continue
		grep -q "{ $e, \"$e\" }" kmod/control.c || echo "kmod/control.c: no name for $e"
	done)
report "every errno has a name in control.c" "$out"

mod=$(sed -n 's/^#define KVS_VERSION "\(.*\)"/\1/p' kmod/main.c)
dkms=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
[[ -n $mod && $mod == "$dkms" ]] && out="" || out="MODULE_VERSION '$mod', dkms.conf '$dkms'"
report "versions" "$out"

exit "$failed"
