#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The command-line contract of the shell tools (docs/TOOLS.md): -h/--help
# on stdout with exit 0, usage errors exit 2, kvashim-ctl's help lists the
# whole grammar and every debugfs file, its exit status is the errno the
# module names under any locale, and "not root" and "not loaded" have
# codes of their own; kvashim-bench touches nothing before the module
# answers; a result is read back on the descriptor that wrote it.
# shellcheck source=tests/guest/lib.sh
. "$(dirname "$0")/../lib.sh"

BIN=$KVS_REPO/debugfs-scripts
TOOLS="kvashim-ctl kvashim-bench kvashim-trace kvashim-table kvashim-demo kvashim-record kvashim-occupancy"
TMP=$(mktemp -d /tmp/kvs-cli.XXXXXX)
EX_NOTROOT=200 EX_NOTLOADED=201

# --- help and usage errors (no module needed) --------------------------------

for t in $TOOLS; do
	for h in -h --help; do
		"$BIN/$t" "$h" >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ $rc = 0 ] && [ ! -s "$TMP/err" ] && head -n 1 "$TMP/out" | grep -q "^usage: $t"; then
			tap_ok "$t $h: usage on stdout, exit 0 ($(wc -l <"$TMP/out") lines)"
		else
			tap_not_ok "$t $h: usage on stdout, exit 0" "exit $rc" "$(head -n 3 "$TMP/out")" "$(cat "$TMP/err")"
		fi
	done
done

# usage_error DESC TOOL ARGS...: exit 2, a message on stderr, nothing on stdout.
usage_error() {
	local desc=$1 tool=$2 rc
	shift 2
	"$BIN/$tool" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc = 2 ] && [ -s "$TMP/err" ] && [ ! -s "$TMP/out" ]; then
		tap_ok "$desc: exit 2 ($(head -n 1 "$TMP/err"))"
	else
		tap_not_ok "$desc: exit 2 with a message on stderr" "exit $rc" "$(cat "$TMP/out" "$TMP/err")"
	fi
}
usage_error "kvashim-ctl without a command" kvashim-ctl
usage_error "kvashim-ctl --bogus" kvashim-ctl --bogus
usage_error "kvashim-ctl show of no file" kvashim-ctl show nosuch
usage_error "kvashim-bench --bogus" kvashim-bench --bogus
usage_error "kvashim-bench --reps without a number" kvashim-bench --reps=many
usage_error "kvashim-bench -r without a value" kvashim-bench -r
usage_error "kvashim-bench with an argument" kvashim-bench now
usage_error "kvashim-trace without a command" kvashim-trace -s
usage_error "kvashim-trace --bogus" kvashim-trace --bogus true
usage_error "kvashim-table without a file" kvashim-table
usage_error "kvashim-table --bogus" kvashim-table --bogus
usage_error "kvashim-demo with an argument" kvashim-demo now
usage_error "kvashim-record without a command" kvashim-record
usage_error "kvashim-record --duration and a command" kvashim-record -d 1 true
usage_error "kvashim-record --bogus" kvashim-record --bogus true
usage_error "kvashim-occupancy --bogus" kvashim-occupancy --bogus
usage_error "kvashim-occupancy --rows without a number" kvashim-occupancy --rows=many

# kvashim-ctl's help names every command of control.c's table and every file.
help=$("$BIN/kvashim-ctl" --help)
mapfile -t cmds < <(sed -n 's/^[[:space:]]*{ "\([a-z]*\)", kvs_cmd_.*/\1/p' "$KVS_REPO/kmod/control.c")
missing=
for c in "${cmds[@]}"; do
	grep -qE "^  $c( |$)" <<<"$help" || missing+=" $c"
done
if [ ${#cmds[@]} -ge 12 ] && [ -z "$missing" ]; then
	tap_ok "kvashim-ctl --help lists the ${#cmds[@]} commands of control.c: ${cmds[*]}"
else
	tap_not_ok "kvashim-ctl --help lists every command of control.c" "commands: ${cmds[*]}" "missing:$missing"
fi

# --- not loaded ----------------------------------------------------------------

kvs_loaded && kvs_unload
"$BIN/kvashim-ctl" stats >"$TMP/out" 2>&1
rc=$?
if [ $rc = $EX_NOTLOADED ] && grep -q 'loaded' "$TMP/out"; then
	tap_ok "kvashim-ctl without the module: exit $EX_NOTLOADED ($(cat "$TMP/out"))"
else
	tap_not_ok "kvashim-ctl without the module: exit $EX_NOTLOADED" "exit $rc" "$(cat "$TMP/out")"
fi
mkdir -p "$TMP/bench"
echo keep >"$TMP/bench/results.txt"
"$BIN/kvashim-bench" --quick --out "$TMP/bench" >"$TMP/out" 2>&1
rc=$?
if [ $rc = $EX_NOTLOADED ] && [ "$(cat "$TMP/bench/results.txt")" = keep ] &&
   [ ! -e "$TMP/bench/histograms.txt" ]; then
	tap_ok "kvashim-bench without the module: exit $EX_NOTLOADED, previous results kept"
else
	tap_not_ok "kvashim-bench without the module: exit $EX_NOTLOADED, previous results kept" \
		"exit $rc" "$(cat "$TMP/out")" "$(ls -l "$TMP/bench")"
fi

# --- loaded --------------------------------------------------------------------

kvs_load arena_size=256M

files=$(cd "$KVS_DIR" && echo *)
missing=
for f in $files; do
	grep -qE "^  $f " <<<"$help" || missing+=" $f"
done
if [ -z "$missing" ]; then
	tap_ok "kvashim-ctl --help lists every file of $KVS_DIR: $files"
else
	tap_not_ok "kvashim-ctl --help lists every file of $KVS_DIR" "files: $files" "missing:$missing"
fi

ok_if "kvashim-ctl --probe with the module: exit 0" "$BIN/kvashim-ctl" --probe
ok_if "kvashim-ctl show arena and arena agree" \
	cmp <("$BIN/kvashim-ctl" show arena) <("$BIN/kvashim-ctl" arena)
ok_if "kvashim-ctl show holes and holes agree" \
	cmp <("$BIN/kvashim-ctl" show holes) <("$BIN/kvashim-ctl" holes)

# Not root: an unprivileged user cannot reach debugfs.
if command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/kvashim-ctl" alloc 4K >"$TMP/out" 2>&1
	rc=$?
	if [ $rc = $EX_NOTROOT ] && grep -q 'root' "$TMP/out"; then
		tap_ok "kvashim-ctl as nobody: exit $EX_NOTROOT ($(cat "$TMP/out"))"
	else
		tap_not_ok "kvashim-ctl as nobody: exit $EX_NOTROOT" "exit $rc" "$(cat "$TMP/out")"
	fi
else
	tap_skip "kvashim-ctl as nobody" "setpriv is not installed"
fi

# The exit status is the errno the module names: for each command, the
# status equals the number of the name in the reply on stderr.
# errno_cases [ENV...]: run the commands (under env ENV...), one case.
errno_cases() {
	local bad='' spec cmd want rc name
	for spec in "alloc 0|22" "free 0x1000|2" "alloc 1T|34" "backend nosuch|2" \
		    "pcpu maybe|22" "frobnicate|22"; do
		cmd=${spec%|*} want=${spec#*|}
		# shellcheck disable=SC2086 # the command's words
		env "$@" "$BIN/kvashim-ctl" $cmd >"$TMP/out" 2>"$TMP/err"
		rc=$?
		name=$(sed -n 's/^kvashim-ctl: \(E[A-Z0-9]*\): .*/\1/p' "$TMP/err")
		if [ $rc != "$want" ] || [ "${KVS_ERRNO[$name]:-none}" != "$rc" ] || [ -s "$TMP/out" ]; then
			bad+="$cmd: exit $rc, want $want, reply '$(cat "$TMP/err")'; "
		fi
	done
	echo "$bad"
}
bad=$(errno_cases LC_ALL=C)
if [ -z "$bad" ]; then
	tap_ok "kvashim-ctl exits with the errno its reply names (6 commands)"
else
	tap_not_ok "kvashim-ctl exits with the errno its reply names" "$bad"
fi

# The same under a locale whose error messages are not English: one that
# is installed, else fr_FR built here with localedef (ISO-8859-1: fast).
loc='' locpath=''
for l in $(locale -a 2>/dev/null); do
	case $l in C | C.* | POSIX | en_* | *.utf8 | *.UTF-8) ;; *) loc=$l; break ;; esac
done
if [ -z "$loc" ] && command -v localedef >/dev/null &&
   [ -e /usr/share/i18n/locales/fr_FR ] && [ -e /usr/share/locale/fr/LC_MESSAGES/libc.mo ]; then
	locpath=$TMP/locale
	mkdir -p "$locpath"
	localedef -i fr_FR -f ISO-8859-1 "$locpath/fr_FR.ISO-8859-1" >/dev/null 2>&1 &&
		loc=fr_FR.ISO-8859-1
fi
if [ -z "$loc" ]; then
	tap_skip "kvashim-ctl's errno under a non-English locale" "no such locale here, and none can be built"
else
	# The locale must really translate what bash prints for a failed write.
	msg=$(env LOCPATH="$locpath" LC_ALL="$loc" bash -c 'echo x >/dev/full' 2>&1)
	if [[ $msg == *"No space left"* ]]; then
		tap_skip "kvashim-ctl's errno under $loc" "$loc prints English errors ($msg)"
	else
		bad=$(errno_cases LOCPATH="$locpath" LC_ALL="$loc")
		if [ -z "$bad" ]; then
			tap_ok "kvashim-ctl's errno under $loc, where bash says '$(iconv -f ISO-8859-1 -t UTF-8 <<<"${msg##*: }" 2>/dev/null)'"
		else
			tap_not_ok "kvashim-ctl's errno under $loc" "$bad"
		fi
	fi
fi

# The help's recipe for reading a result yourself works, and the habit it
# warns about does not.
out=$(exec 3<>"$KVS_DIR/control" && echo alloc 4K >&3 && cat <&3 && echo free all >&3 && cat <&3)
if [[ $out =~ ^0x[0-9a-f]+$'\n'[a-z] ]]; then
	tap_ok "a result is read back on the descriptor that wrote it ($(tr '\n' ' ' <<<"$out"))"
else
	tap_not_ok "a result is read back on the descriptor that wrote it" "$out"
fi
echo check >"$KVS_DIR/control"
out=$(cat "$KVS_DIR/control")
if [ -z "$out" ]; then
	tap_ok "echo CMD > control; cat control reads nothing (a new open, an empty result), as the help says"
else
	tap_not_ok "echo CMD > control; cat control reads nothing" "$out"
fi

check_ok "after the tools"
kvs_unload
rm -rf "$TMP"
