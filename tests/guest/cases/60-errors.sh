#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad input: each gets its errno and a one-line reason, and the kernel
# log stays quiet.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

kvs_load arena_size=256M
dmesg_mark
a=$(ctl alloc 16K)

expect_errno "unknown command" "$EINVAL" frobnicate
expect_errno "alloc without a size" "$EINVAL" alloc
expect_errno "size 0" "$EINVAL" alloc 0
expect_errno "negative size" "$EINVAL" alloc -4096
expect_errno "non-numeric size" "$EINVAL" alloc lots
expect_errno "unknown suffix" "$EINVAL" alloc 4Q
expect_errno "size overflowing 64 bits" "$ERANGE" alloc 99999999999999999999999
expect_errno "suffix overflowing 64 bits" "$ERANGE" alloc 17179869184G
expect_errno "size beyond the arena" "$ERANGE" alloc 512M
expect_errno "unknown option" "$EINVAL" alloc 4K colour=blue
expect_errno "bad align value" "$EINVAL" alloc 4K align=x
expect_errno "align + size overflow" "$ERANGE" alloc 4K align=0x8000000000000000
expect_errno "free without an address" "$EINVAL" free
expect_errno "free of a non-number" "$EINVAL" free here
expect_errno "free of an unknown address" "$ENOENT" free 0x1000
expect_errno "free of an interior address" "$ENOENT" free "$(hex $((a + 4096)))"
ok_if "free of the area itself" ctl free "$a"
expect_errno "double free" "$ENOENT" free "$a"
expect_errno "find of a free address" "$ENOENT" find "$a"
expect_errno "check with an argument" "$EINVAL" check now
expect_errno "backend without a name" "$EINVAL" backend
expect_errno "unknown backend" "$ENOENT" backend nosuch
expect_errno "too many words" "$EINVAL" alloc 4K top top top top top top top top

# Raw writes the shell front end cannot produce, in one python process:
# each line out is "errno-name<TAB>read-back".
raw_writes() {
	python3 - "$KVS_DIR/control" <<'PY'
import errno, os, sys
cases = [b"alloc 4K\nalloc 4K\n", b"alloc 4K\x00top\n", b"\n",
         b"alloc " + b"0" * 299 + b"4\n"]
fd = os.open(sys.argv[1], os.O_RDWR)
for c in cases:
    try:
        os.write(fd, c)
        res = "OK"
    except OSError as e:
        res = errno.errorcode[e.errno]
    print(res + "\t" + os.read(fd, 512).decode().strip())
PY
}
if command -v python3 >/dev/null; then
	mapfile -t raw < <(raw_writes)
	i=0
	for desc in "two commands in one write" "embedded NUL" \
		    "a write of just a newline" "a write longer than 255 bytes"; do
		line=${raw[$i]:-}
		if [ "${line%%$'\t'*}" = EINVAL ] && [ "${line#*$'\t'}" != "${line#*$'\t'error: EINVAL: }" ]; then
			tap_ok "$desc (${line#*$'\t'})"
		else
			tap_not_ok "$desc" "want EINVAL" "$line"
		fi
		i=$((i + 1))
	done
else
	tap_skip "raw writes" "python3 missing in the guest"
fi

# A writev() is one write, so one command, however many segments: a
# command split across segments runs whole, two lines are refused whole.
# Each line out is "OK <bytes>" or the errno name, a tab, the read-back.
writev_cases() {
	python3 - "$KVS_DIR/control" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for segs in ([b"alloc 4K", b" top\n"], [b"check\n", b"check\n"]):
    try:
        res = "OK %d" % os.writev(fd, segs)
    except OSError as e:
        res = errno.errorcode[e.errno]
    print(res + "\t" + os.read(fd, 512).decode().strip())
PY
}
if command -v python3 >/dev/null; then
	mapfile -t wv < <(writev_cases)
	top=$(hex $(($(arena_end) - 8192)))
	if [ "${wv[0]:-}" = "OK 13"$'\t'"$top" ]; then
		tap_ok "writev of \"alloc 4K\" + \" top\": one command, 13 bytes (${wv[0]#*$'\t'})"
	else
		tap_not_ok "writev of \"alloc 4K\" + \" top\": one command" \
			"want OK 13 and $top" "${wv[0]:-}"
	fi
	kc free "$top"
	line=${wv[1]:-}
	if [ "${line%%$'\t'*}" = EINVAL ] && [ "${line#*$'\t'}" = "error: EINVAL: one command per write" ]; then
		tap_ok "writev of two lines is refused whole (${line#*$'\t'})"
	else
		tap_not_ok "writev of two lines is refused whole" "want EINVAL" "$line"
	fi
else
	tap_skip "writev" "python3 missing in the guest"
fi

# The shell front end: result on stdout, reason on stderr, errno as status.
out=$("$KVS_CTL" alloc 0 2>&1)
rc=$?
if [ $rc -eq "$EINVAL" ] && [ "$out" = "kvashim-ctl: EINVAL: size must be at least one byte" ]; then
	tap_ok "kvashim-ctl alloc 0: exit 22, reason on stderr"
else
	tap_not_ok "kvashim-ctl alloc 0" "rc $rc" "$out"
fi
a=$("$KVS_CTL" alloc 12K) && out=$("$KVS_CTL" free "$a")
if [ "$out" = ok ]; then
	tap_ok "kvashim-ctl alloc 12K / free: $a"
else
	tap_not_ok "kvashim-ctl alloc 12K / free" "$a" "$out"
fi

if [ "$(kvs_stat live_areas)" = 0 ]; then
	tap_ok "no bad command left an area behind"
else
	tap_not_ok "no bad command left an area behind" "$(cat "$KVS_DIR/areas")"
fi
check_ok "after bad input"
log=$(dmesg_since | grep -i kvashim)
log_quiet "bad input left the kernel log quiet" "$log"

# The inject parameter, written at run time: a list with a bad spec after
# a good one arms nothing, and says why in one warning, not an error.
param=/sys/module/kvashim/parameters/inject
for spec in "area:nth=5,nosuch:nth=1|Invalid argument|unknown site" \
	    "area:nth=5,maple:percent=101|Numerical result out of range|percent is at most 100" \
	    "area:nth=5,maple:nth=1:times=1:seed=1:x:y|Invalid argument|more than 5 fields"; do
	IFS='|' read -r val want why <<<"$spec"
	dmesg_mark
	errs=$(dmesg -l err,crit,alert,emerg | grep -c kvashim)
	out=$( (echo "$val" >"$param") 2>&1)
	mode=$(sed -n 's/^area mode=\([a-z]*\) .*/\1/p' "$KVS_DIR/inject")
	log=$(dmesg_since | grep kvashim)
	if [[ $out == *"$want"* ]] && [ "$mode" = off ] &&
	   [ "$(echo "$log" | wc -l)" -eq 1 ] && [[ $log == *"$why"*"nothing armed"* ]] &&
	   [ "$(dmesg -l err,crit,alert,emerg | grep -c kvashim)" = "$errs" ]; then
		tap_ok "inject=$val arms nothing ($log)"
	else
		tap_not_ok "inject=$val arms nothing, one warning" "$out" "area mode=$mode" "$log"
	fi
	kc inject off
done
kvs_unload
